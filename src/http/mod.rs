//! The HTTP door: the JSON API under `/api/v1` and the German web UI for
//! the office, on the same [`App`] as every other door.
//!
//! - `auth`: who is asking (session cookie or bearer token) and the CSRF rule;
//! - `access`: what a user may see and in which role they act;
//! - `extract`: the caller's capacity and the visible case, settled once per
//!   request before a handler runs;
//! - `service`: what a request does the same from every door (steps, lists,
//!   assignment, absences, PDFs); `view`: what every page shares (templates,
//!   German formatting, forms, the error page);
//! - `api`: the JSON API, `schema`: its own JSON types for stored rows,
//!   `openapi`: its OpenAPI 3.1 document;
//! - `web`: the office's pages (minijinja, htmx), `intake`: opening a case
//!   from the web, `circular`: the
//!   Rundschreiben composer, `portal`: the municipalities' pages and the
//!   upload API, `assets`: files served from the binary;
//! - `error`: RFC 9457 problem details; `german`: the wording users read;
//!   `routes`: the route table the router is built from.
//!
//! The doors (`api`, `web`, `portal`, `circular`) depend on `extract`,
//! `service` and `view`, never on each other.

mod access;
mod api;
mod assets;
mod auth;
mod circular;
mod error;
mod extract;
mod german;
mod intake;
mod legal;
mod openapi;
mod portal;
mod routes;
mod schema;
mod service;
mod view;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

pub use error::Problem;
pub use openapi::ApiDoc;
pub use routes::Route;

use routes::{Routes, get, post};

use crate::app::App;
use crate::identity::Identity;

/// The client's address as the server saw it (for the login limit).
pub type ClientAddr = SocketAddr;

/// What every handler can reach.
#[derive(Clone)]
pub struct HttpState {
    pub(crate) app: App,
    pub(crate) identity: Identity,
    pages: Arc<view::Pages>,
    /// Circular previews for the composer's iframe.
    previews: Arc<circular::Previews>,
    /// Mark cookies `Secure` (the server is reached over https).
    secure_cookies: bool,
    /// Reports of barriers per address and hour.
    report_throttle: Arc<legal::ReportThrottle>,
}

/// Why the HTTP server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("the web page templates are broken: {0}")]
    Pages(String),
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// The routes: those behind the login check and those open before it
/// (health checks), each with its table.
fn doors() -> (Routes, Routes) {
    let api = Routes::new()
        .route(
            "/session",
            post(api::login).delete(api::logout).get(api::whoami),
        )
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/workflows", get(api::workflows))
        .route("/workflows/{id}", get(api::workflow))
        .route("/workflows/{id}/graph", get(api::workflow_graph))
        .route("/cases", get(api::list_cases).post(api::open_case))
        .route("/cases/assign", post(api::assign))
        .route("/absences", get(api::absences).post(api::add_absence_api))
        .route("/cases/{file_number}", get(api::show_case))
        .route("/cases/{file_number}/history", get(api::history))
        .route("/cases/{file_number}/deadlines", get(api::deadlines))
        .route("/cases/{file_number}/documents", get(api::case_documents))
        .route("/cases/{file_number}/fire/{transition}", post(api::fire))
        .route(
            "/cases/{file_number}/preview/{transition}",
            post(api::preview),
        )
        .route("/documents/{sha256}", get(api::document))
        .route("/outbox", get(api::outbox))
        .route("/outbox/{id}/retry", post(api::outbox_retry))
        .route("/audit/verify", get(api::audit))
        .route("/deadlines/compute", get(api::compute_deadline))
        .merge(portal::api_routes())
        .map(|r| {
            r.fallback(|| async { Problem::not_found("Diese Adresse gibt es in der API nicht.") })
                .layer(axum::middleware::map_response(error::as_problem))
        });
    let behind_login = Routes::new()
        .nest("/api/v1", api)
        .merge(web::routes())
        .merge(intake::routes())
        .merge(circular::routes())
        .merge(portal::routes())
        .merge(legal::routes())
        .merge(assets::routes());
    let open = Routes::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    (behind_login, open)
}

/// Every (method, path) the server answers, taken from the routes that
/// build the router (for the tenancy and OpenAPI coverage tests).
pub fn route_table() -> Vec<Route> {
    let (behind_login, open) = doors();
    let mut table = behind_login.into_parts().1;
    table.extend(open.into_parts().1);
    table.sort();
    table
}

/// The whole HTTP application as a tower service (for `serve` and for
/// tests with `oneshot`).
pub fn router(app: App) -> Result<Router, HttpError> {
    let state = HttpState {
        identity: app.identity().clone(),
        secure_cookies: app.config().web.public_url.starts_with("https://"),
        pages: Arc::new(
            view::Pages::load(Some(&app.config().templates_dir.join("web/rechtliches")))
                .map_err(|e| HttpError::Pages(e.to_string()))?,
        ),
        report_throttle: Arc::default(),
        previews: Arc::new(circular::Previews::default()),
        app,
    };
    let (behind_login, open) = doors();
    let router = behind_login
        .into_parts()
        .0
        // An explicit fallback: merging the open doors below would
        // otherwise replace the default one, and with it these layers.
        .fallback(|| async { Problem::not_found("Diese Adresse gibt es nicht.") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::middleware,
        ))
        // Every refusal, the handlers', the CSRF check's and axum's own
        // (English plain text), as a German problem detail; a browser gets
        // it as a German page with a way back, never as JSON.
        .layer(axum::middleware::map_response(error::as_problem))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            view::problem_page,
        ))
        // Health checks answer before (and without) any login.
        .merge(open.into_parts().0)
        // Security headers on every answer (SECURITY-REVIEW D7).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        // One line per request at INFO: method, path, status, latency.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state);
    Ok(router)
}

/// The headers every answer carries: a strict Content-Security-Policy
/// (scripts only from this server, no inline script, no framing by other
/// sites; a PDF may be shown in this server's own pages), no MIME
/// sniffing, the referrer kept to this server, nothing stored by browsers
/// or proxies but the static assets, and HSTS where the server is reached
/// over https.
async fn security_headers(
    State(state): State<HttpState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let asset = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let pdf = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/pdf"));
    let h = resp.headers_mut();
    let csp = if pdf {
        "frame-ancestors 'self'"
    } else {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.secure_cookies {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

#[utoipa::path(get, path = "/healthz", tag = "Betrieb", security(()),
    responses((status = 200, description = "Der Prozess lebt", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "Betrieb", security(()),
    responses((status = 200, description = "Die Datenbank ist erreichbar", body = String, content_type = "text/plain"),
              (status = 503, description = "Die Datenbank ist nicht erreichbar", body = String, content_type = "text/plain")))]
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match state.app.ready().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Datenbank nicht erreichbar",
            )
        }
    }
}

/// Serves the application on `listener` until `stop` is cancelled; requests
/// in flight are finished first.
///
/// Each connection holds one of [`connection_limit`] slots; when all are
/// taken, new connections wait in the listen queue instead of exhausting
/// the file limit (which would also starve the database of files). A
/// client that sends no request head within `header_read_timeout_seconds`
/// of connecting or of its previous answer is disconnected, so idle
/// connections give their slot back.
pub async fn serve(
    app: App,
    listener: TcpListener,
    stop: CancellationToken,
) -> Result<(), HttpError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let web = app.config().web.clone();
    let router = router(app)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(connection_limit(
        web.max_connections,
    )));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(
            web.header_read_timeout_seconds.max(1),
        ));
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of files or similar: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let service = router.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<ClientAddr>(peer));
                req
            },
        );
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Connections served at once: the configured number, or (0) what the
/// process's file limit allows less a reserve of 128 for the database,
/// documents and logs, between 16 and 1,000.
pub fn connection_limit(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let files = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    files.saturating_sub(128).clamp(16, 1000)
}
