//! The pages every German authority's web offer must have, linked from
//! every page's footer and reachable without login: Impressum (§ 5 DDG,
//! § 18 MStV), Datenschutzerklärung (Art. 13 DSGVO) and Erklärung zur
//! Barrierefreiheit (§ 10b BGG NRW) with its form for reporting barriers.
//! Their text is the office's: `templates/web/rechtliches/*.html`, which
//! `<templates_dir>/web/rechtliches/` overrides (see `view::Pages::load`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;

use super::routes::{Routes, get};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use minijinja::{Value as Jv, context};
use serde::Deserialize;

use super::HttpState;
use super::auth::{ApiCaller, ClientIp};
use super::error::Problem;
use super::view;
use crate::feedback::{FeedbackError, Report};

pub fn routes() -> Routes {
    Routes::new()
        .route("/impressum", get(impressum))
        .route("/datenschutz", get(datenschutz))
        .route("/barrierefreiheit", get(barrierefreiheit).post(report))
}

/// Reports one address may send in an hour: enough for a person, too few
/// to flood the office's mailbox.
const REPORTS_PER_HOUR: usize = 5;

/// When each address last sent reports (this instance only).
#[derive(Default)]
pub struct ReportThrottle {
    sent: Mutex<HashMap<IpAddr, Vec<DateTime<Utc>>>>,
}

impl ReportThrottle {
    /// Counts a report from `ip` at `now`, unless the address has used up
    /// its reports of the last hour.
    fn admit(&self, ip: IpAddr, now: DateTime<Utc>) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let hour_ago = now - Duration::hours(1);
        sent.retain(|_, times| {
            times.retain(|t| *t > hour_ago);
            !times.is_empty()
        });
        let times = sent.entry(ip).or_default();
        if times.len() >= REPORTS_PER_HOUR {
            return false;
        }
        times.push(now);
        true
    }
}

async fn impressum(State(state): State<HttpState>, caller: Option<ApiCaller>) -> Response {
    page(
        &state,
        caller,
        "impressum",
        "Impressum",
        context! {},
        StatusCode::OK,
    )
}

async fn datenschutz(State(state): State<HttpState>, caller: Option<ApiCaller>) -> Response {
    page(
        &state,
        caller,
        "datenschutz",
        "Datenschutzerklärung",
        context! {},
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct Sent {
    gesendet: Option<String>,
}

async fn barrierefreiheit(
    State(state): State<HttpState>,
    caller: Option<ApiCaller>,
    Query(q): Query<Sent>,
) -> Response {
    statement(
        &state,
        caller,
        q.gesendet.is_some(),
        &Report::default(),
        &[],
        StatusCode::OK,
    )
}

async fn report(
    State(state): State<HttpState>,
    caller: Option<ApiCaller>,
    ClientIp(ip): ClientIp,
    Form(report): Form<Report>,
) -> Response {
    let refuse = |problems: &[(&'static str, String)], status| {
        statement(&state, caller.clone(), false, &report, problems, status)
    };
    // Checked before the throttle, so a mistake costs no report of the hour.
    let problems = report.problems(&state.app.config().limits);
    if !problems.is_empty() {
        return refuse(&problems, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !state.report_throttle.admit(ip, state.app.clock().now()) {
        let to = crate::feedback::recipient(state.app.config());
        let message = format!(
            "Von Ihrem Anschluss sind in der letzten Stunde schon {REPORTS_PER_HOUR} Meldungen eingegangen. Bitte schreiben Sie uns per E-Mail an {to}."
        );
        return refuse(&[("nachricht", message)], StatusCode::TOO_MANY_REQUESTS);
    }
    match state.app.report_barrier(&report).await {
        Ok(()) => Redirect::to("/barrierefreiheit?gesendet=1#rueckmeldung-titel").into_response(),
        Err(FeedbackError::Invalid(problems)) => {
            refuse(&problems, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(FeedbackError::Store(e)) => Problem::from(e).into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// The accessibility statement with its form: after a report (`sent`), or
/// with the mistakes of one at their fields.
fn statement(
    state: &HttpState,
    caller: Option<ApiCaller>,
    sent: bool,
    entered: &Report,
    problems: &[(&'static str, String)],
    status: StatusCode,
) -> Response {
    let limits = &state.app.config().limits;
    let error_of: BTreeMap<&str, &str> = problems.iter().map(|(f, m)| (*f, m.as_str())).collect();
    let errors: Vec<Jv> = problems
        .iter()
        .map(|(f, m)| context! { field => f, message => m })
        .collect();
    let ctx = context! {
        feedback => true,
        sent => sent,
        errors => errors,
        error_of => error_of,
        entered => context! {
            nachricht => entered.nachricht,
            seite => entered.seite,
            kontakt => entered.kontakt,
        },
        limit_text => limits.text_bytes,
        limit_line => limits.line_bytes,
    };
    page(
        state,
        caller,
        "barrierefreiheit",
        "Erklärung zur Barrierefreiheit",
        ctx,
        status,
    )
}

/// One of the three pages, in the frame of the person logged in (or of
/// nobody), with the office's data for the text.
fn page(
    state: &HttpState,
    caller: Option<ApiCaller>,
    name: &str,
    title: &str,
    ctx: Jv,
    status: StatusCode,
) -> Response {
    let config = state.app.config();
    let base = match &caller {
        Some(ApiCaller(c)) => view::base_context(c, name, &config.web),
        None => context! { active => name, csrf => "" },
    };
    let page = context! {
        title => title,
        inhalt => format!("rechtliches/{name}.html"),
        office => config.office.clone(),
        web => config.web.clone(),
        feedback_to => crate::feedback::recipient(config),
    };
    let html = state
        .pages
        .render("rechtliches.html", context! { ..base, ..page, ..ctx });
    (status, html).into_response()
}
