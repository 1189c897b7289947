//! Who is asking: one middleware resolves the caller once per request (a
//! bearer token or the session cookie) and enforces the CSRF rule; handlers
//! take [`ApiCaller`] (401 problem without login) or [`WebCaller`] (redirect
//! to the login page), or an extractor of `super::extract` built on them
//! (office staff, a municipality, a visible case).
//!
//! CSRF: a cross-site page can make a browser send, with its cookies, only
//! "simple" requests: a POST with a form body (urlencoded, multipart,
//! text/plain) or none. Every such POST authenticated by cookie must carry
//! the session's token, as the form field `csrf` or the header
//! `X-CSRF-Token`; without it the answer is 403. Other unsafe requests (a
//! JSON body, DELETE) need a CORS preflight, which this server never grants,
//! and requests with `Authorization: Bearer` carry no ambient credential.
//! The login form, before any session exists, uses a double-submit cookie.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::HttpState;
use super::error::Problem;
use crate::identity::User;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "amtspost_session";
/// The pre-login CSRF cookie's name (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "amtspost_login_csrf";
/// Largest form body the CSRF check reads.
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A login session; forms must carry its CSRF token.
    Session { id: String, csrf_token: String },
    /// `Authorization: Bearer TOKEN`.
    Token,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
}

impl Caller {
    /// The CSRF token to put into forms (empty for token callers).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::Token => "",
        }
    }
}

/// Resolves the caller and checks CSRF; puts `Option<Caller>` into the
/// request's extensions.
pub async fn middleware(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = match resolve(&state, &parts).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let needs_token = parts.method == Method::POST
        && matches!(
            caller,
            Some(Caller {
                via: Via::Session { .. },
                ..
            })
        )
        && is_simple_content_type(&parts);
    let body = if needs_token {
        let expected = caller
            .as_ref()
            .map(|c| c.csrf().to_string())
            .unwrap_or_default();
        match check_csrf(&parts, body, &expected).await {
            Ok(body) => body,
            Err(p) => return p.into_response(),
        }
    } else {
        body
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

async fn resolve(state: &HttpState, parts: &Parts) -> Result<Option<Caller>, Problem> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Problem::unauthorized().detail("Authorization: Bearer TOKEN erwartet.")
            })?;
        let Some(user) = state.identity.by_token(token).await? else {
            return Err(
                Problem::unauthorized().detail("Das API-Token ist ungültig oder widerrufen.")
            );
        };
        return Ok(Some(Caller {
            user,
            via: Via::Token,
        }));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    Ok(state.identity.session(&id).await?.map(|s| Caller {
        user: s.user,
        via: Via::Session {
            id,
            csrf_token: s.csrf_token,
        },
    }))
}

/// True for bodies a cross-site form can send: none, urlencoded,
/// multipart, text/plain.
fn is_simple_content_type(parts: &Parts) -> bool {
    match parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("multipart/form-data")
                || ct.starts_with("text/plain")
        }
    }
}

/// Checks the header or the `csrf` form field against `expected`, giving
/// back the body for the handler.
async fn check_csrf(parts: &Parts, body: Body, expected: &str) -> Result<Body, Problem> {
    let refused = || {
        Problem::forbidden(
            "Das Formular ist abgelaufen oder stammt nicht von dieser Anwendung (CSRF-Token fehlt oder passt nicht). Bitte laden Sie die Seite neu.",
        )
    };
    if let Some(h) = parts.headers.get("x-csrf-token") {
        return if !expected.is_empty() && h.as_bytes() == expected.as_bytes() {
            Ok(body)
        } else {
            Err(refused())
        };
    }
    let urlencoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !urlencoded {
        // Multipart forms carry the token in the query (`?csrf=`).
        let from_query = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned())
        });
        return match from_query {
            Some(t) if !expected.is_empty() && t == expected => Ok(body),
            _ => Err(refused()),
        };
    }
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| Problem::bad_request("Das Formular ist zu groß."))?;
    let ok = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, v)| !expected.is_empty() && v == expected);
    if ok {
        Ok(Body::from(bytes))
    } else {
        Err(refused())
    }
}

/// A logged-in caller of the API: 401 problem otherwise.
pub struct ApiCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.extensions.get::<Option<Caller>>() {
            Some(Some(c)) => Ok(ApiCaller(c.clone())),
            _ => Err(Problem::unauthorized()),
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for ApiCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Option<Caller>>()
            .cloned()
            .flatten()
            .map(ApiCaller))
    }
}

/// A logged-in caller of a web page: a redirect to the login page otherwise.
pub struct WebCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for WebCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Option<Caller>>() {
            Some(Some(c)) => Ok(WebCaller(c.clone())),
            _ => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}
