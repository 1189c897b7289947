//! The web UI for the office: server-rendered German pages (minijinja
//! templates under `templates/web/`, embedded in the binary) with htmx for
//! partial updates. Dates read 19.03.2012, times are Europe/Berlin, amounts
//! 175.000,00 EUR; numbers are typed with a decimal comma.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Berlin;
use minijinja::{Environment, Value as Jv, context};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::access;
use super::api::{self, CaseListParams, FireBody};
use super::auth::{LOGIN_CSRF_COOKIE, WebCaller};
use super::error::Problem;
use super::{ClientAddr, HttpState};
use crate::assets::TEMPLATES;
use crate::case::CaseDetail;
use crate::identity::IdentityError;
use crate::journal::EventKind;
use crate::workflow::{Definition, FieldKind};

/// The page templates, parsed once.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn load() -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        let dir = TEMPLATES.get_dir("web").expect("templates/web is embedded");
        for file in dir.files() {
            let path = file.path();
            if path.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("template names are UTF-8")
                .to_string();
            let source = file
                .contents_utf8()
                .expect("templates are UTF-8")
                .to_string();
            env.add_template_owned(name, source)?;
        }
        env.add_filter("datum", datum);
        env.add_filter("zeit", zeit);
        env.add_filter("zahl", zahl);
        Ok(Pages { env })
    }

    pub(super) fn render(&self, name: &str, ctx: Jv) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><html lang=\"de\"><title>Fehler</title><p>Die Seite konnte nicht angezeigt werden. Die Ursache ist protokolliert.</p></html>".to_string()),
                )
                    .into_response()
            }
        }
    }
}

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/arbeitskorb") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/arbeitskorb", get(arbeitskorb))
        .route("/arbeitskorb/anzahl", get(badge))
        .route("/faelle/{file_number}", get(fallseite))
        .route("/faelle/{file_number}/schritte/{transition}", post(fire))
        .route("/faelle/{file_number}/vorschau/{transition}", post(preview))
        .route("/arbeitskorb/zuweisen", post(zuweisen))
        .route("/vertretung", get(vertretung).post(vertretung_eintragen))
        .route("/fristen", get(fristen))
        .route("/postausgang", get(postausgang))
        .route("/postausgang/{id}/erneut", post(retry))
}

/// Shows a problem (404, 403, 422 …) that a page handler answered as a
/// German error page when a browser asked for HTML; API clients and tests
/// that do not ask for HTML keep the problem+json.
pub(super) async fn problem_page(
    State(state): State<HttpState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let resp = next.run(req).await;
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !wants_html || !is_problem {
        return resp;
    }
    let status = resp.status();
    let Ok(bytes) = axum::body::to_bytes(resp.into_body(), 1 << 20).await else {
        return (status, "Fehler").into_response();
    };
    let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let page = state.pages.render(
        "fehler.html",
        context! {
            title => problem.get("title").and_then(|v| v.as_str()).unwrap_or("Fehler"),
            detail => problem.get("detail").and_then(|v| v.as_str()),
            status => status.as_u16(),
        },
    );
    (status, page).into_response()
}

// ---- formatting (German) ----

/// 2012-03-19 → 19.03.2012 (other text passes through).
fn datum(v: String) -> String {
    NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .map(|d| d.format("%d.%m.%Y").to_string())
        .unwrap_or(v)
}

/// An RFC 3339 UTC time → 19.03.2012, 09:00 Uhr (Europe/Berlin).
fn zeit(v: String) -> String {
    DateTime::parse_from_rfc3339(&v)
        .map(|t| {
            t.with_timezone(&Berlin)
                .format("%d.%m.%Y, %H:%M Uhr")
                .to_string()
        })
        .unwrap_or(v)
}

/// 2.5 → 2,5 (whole numbers without decimals).
fn zahl(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        german_number(v, 0)
    } else {
        let s = format!("{v}");
        s.replace('.', ",")
    }
}

fn german_number(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s.clone(), None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

// ---- login ----

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

/// Only local paths, so the login cannot redirect elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/arbeitskorb".to_string(),
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("the operating system provides random numbers");
    hex::encode(b)
}

async fn login_form(
    State(state): State<HttpState>,
    jar: CookieJar,
    Query(p): Query<NextParam>,
) -> Response {
    login_page(
        &state,
        jar,
        &safe_next(p.next.as_deref()),
        None,
        "",
        StatusCode::OK,
    )
}

fn login_page(
    state: &HttpState,
    jar: CookieJar,
    next: &str,
    error: Option<String>,
    user: &str,
    status: StatusCode,
) -> Response {
    let token = random_token();
    let cookie = Cookie::build((LOGIN_CSRF_COOKIE, token.clone()))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .build();
    let page = state.pages.render(
        "login.html",
        context! { csrf => token, next => next, error => error, user => user },
    );
    (status, jar.add(cookie), page).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

async fn login(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<ClientAddr>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string());
    if expected.is_none() || expected != form.csrf {
        return Problem::forbidden(
            "Das Anmeldeformular ist abgelaufen (CSRF-Token fehlt oder passt nicht). Bitte laden Sie die Seite neu.",
        )
        .into_response();
    }
    match state
        .identity
        .login(&form.user, &form.password, &addr.ip().to_string())
        .await
    {
        Ok(s) => {
            let jar = jar
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
                .add(api::session_cookie(&state, s.id));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(IdentityError::RateLimited { retry_after }) => {
            let mut r = login_page(
                &state,
                jar,
                &next,
                Some(IdentityError::RateLimited { retry_after }.to_string()),
                &form.user,
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = retry_after.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(IdentityError::BadCredentials) => login_page(
            &state,
            jar,
            &next,
            Some(IdentityError::BadCredentials.to_string()),
            &form.user,
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn logout(
    State(state): State<HttpState>,
    jar: CookieJar,
    WebCaller(c): WebCaller,
) -> Response {
    if let super::auth::Via::Session { id, .. } = &c.via
        && let Err(e) = state.identity.logout(id).await
    {
        return Problem::from(e).into_response();
    }
    (
        jar.remove(Cookie::build(super::auth::SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response()
}

// ---- Arbeitskorb ----

pub(super) fn base_context(c: &super::auth::Caller, active: &str) -> Jv {
    context! {
        me => context! {
            name => c.user.name.clone(),
            display_name => c.user.display_name.clone(),
            roles => c.user.roles.clone(),
            party => c.user.party.clone(),
            office => access::is_office(&c.user),
        },
        csrf => c.csrf().to_string(),
        active => active,
    }
}

/// Days from today to a due date; and whether it is overdue or due within
/// two working days (the Arbeitskorb's marks).
fn urgency(state: &HttpState, due: Option<&str>) -> (Option<i64>, &'static str) {
    let Some(due) = due.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else {
        return (None, "");
    };
    let today = state.app.clock().today();
    let days = crate::deadline::days_left(today, due);
    let region = state.app.config().region;
    let soon = crate::deadline::add_working_days(today, 2, region);
    let mark = if due < today {
        "ueberfaellig"
    } else if due <= soon {
        "bald"
    } else {
        ""
    };
    (Some(days), mark)
}

/// The name under which a person's Arbeitskorb filter is saved.
const FILTER_SETTING: &str = "arbeitskorb.filter";

async fn arbeitskorb(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    RawQuery(raw): RawQuery,
    Query(mut p): Query<CaseListParams>,
) -> Response {
    // A municipality's start page is its portal.
    if !access::is_office(&c.user) {
        return Redirect::to("/portal").into_response();
    }
    // Coming back without a filter: the one this person used last.
    // Filtering (not paging on): remember it.
    if raw.as_deref().unwrap_or("").is_empty() {
        if let Ok(Some(saved)) = state
            .identity
            .preference(&c.user.name, FILTER_SETTING)
            .await
            && let Ok(saved) = serde_json::from_str::<CaseListParams>(&saved)
        {
            p = saved;
        }
    } else if p.after.is_none() {
        let keep = CaseListParams {
            after: None,
            limit: None,
            ..p.clone()
        };
        if let Ok(json) = serde_json::to_string(&keep)
            && let Err(e) = state
                .identity
                .set_preference(&c.user.name, FILTER_SETTING, &json)
                .await
        {
            tracing::warn!(error = %e, "saving the Arbeitskorb filter failed");
        }
    }
    p.mine = Some(p.mine.unwrap_or(true));
    let (items, next) = match api::page(&state, &c, &p).await {
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let rows: Vec<Jv> = items
        .iter()
        .filter(|i| access::sees(&c.user, &i.case))
        .map(|i| {
            let (days, mark) = urgency(&state, i.next_due.as_deref());
            let kommune = i
                .case
                .parties
                .values()
                .next()
                .map(|p| p.name.clone())
                .unwrap_or_default();
            context! {
                file_number => i.case.file_number.to_string(),
                workflow => i.case.workflow_title.clone(),
                state => i.case.state_title.clone().unwrap_or(i.case.state.to_string()),
                kommune => kommune,
                next_due => i.next_due.clone(),
                days => days,
                mark => mark,
            }
        })
        .collect();
    let workflows: Vec<Jv> = state
        .app
        .catalog()
        .definitions()
        .map(|(_, d)| {
            context! {
                id => d.id.clone(),
                title => d.title.clone(),
                states => d.states.iter().map(|s| context!{ name => s.name.clone(), title => s.title.clone().unwrap_or(s.name.clone()) }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let staff = if access::is_lead(&c.user) {
        office_staff(&state).await
    } else {
        Vec::new()
    };
    let stands_in_for = state
        .identity
        .stands_in_for(&c.user.name)
        .await
        .unwrap_or_default();
    let base = base_context(&c, "arbeitskorb");
    state.pages.render(
        "arbeitskorb.html",
        context! {
            ..base,
            ..context! {
                lead => access::is_lead(&c.user),
                staff => staff,
                stands_in_for => stands_in_for,
                rows => rows,
                next => next,
                workflows => workflows,
                filter => context! {
                    workflow => p.workflow.clone().unwrap_or_default(),
                    state => p.state.clone().unwrap_or_default(),
                    party => p.party.clone().unwrap_or_default(),
                    q => p.q.clone().unwrap_or_default(),
                    due_until => p.due_until.clone().unwrap_or_default(),
                    mine => p.mine == Some(true),
                },
            }
        },
    )
}

/// The Arbeitskorb's count for the navigation badge (htmx).
async fn badge(State(state): State<HttpState>, WebCaller(c): WebCaller) -> Response {
    let p = CaseListParams {
        workflow: None,
        state: None,
        party: None,
        q: None,
        due_until: None,
        mine: Some(true),
        after: None,
        limit: Some(100),
    };
    let n = api::page(&state, &c, &p)
        .await
        .map(|(i, _)| i.len())
        .unwrap_or(0);
    let text = if n >= 100 {
        "99+".to_string()
    } else {
        n.to_string()
    };
    Html(text).into_response()
}

/// Enabled office users, for the assignment and substitute choices.
async fn office_staff(state: &HttpState) -> Vec<Jv> {
    state
        .identity
        .users()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|u| !u.disabled && !u.is_municipality())
        .map(|u| context! { name => u.name, display_name => u.display_name })
        .collect()
}

#[derive(Deserialize)]
struct AssignForm {
    user: String,
    #[serde(default)]
    case: Vec<String>,
}

/// The office lead's reassignment of the selected cases.
async fn zuweisen(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    axum_extra::extract::Form(form): axum_extra::extract::Form<AssignForm>,
) -> Response {
    match api::assign_cases(&state, &c, &form.case, &form.user).await {
        Ok(_) => Redirect::to("/arbeitskorb?mine=false").into_response(),
        Err(p) => p.into_response(),
    }
}

async fn vertretung(State(state): State<HttpState>, WebCaller(c): WebCaller) -> Response {
    if !access::is_office(&c.user) {
        return Redirect::to("/portal").into_response();
    }
    vertretung_page(&state, &c, None, StatusCode::OK).await
}

async fn vertretung_page(
    state: &HttpState,
    c: &super::auth::Caller,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let absences = match state.identity.absences(&c.user.name).await {
        Ok(a) => a,
        Err(e) => return Problem::from(e).into_response(),
    };
    let staff: Vec<Jv> = office_staff(state)
        .await
        .into_iter()
        .filter(|u| u.get_attr("name").map(|n| n.to_string()).ok() != Some(c.user.name.clone()))
        .collect();
    let base = base_context(c, "vertretung");
    let page = state.pages.render(
        "vertretung.html",
        context! { ..base, ..context! {
            absences => Jv::from_serialize(&absences),
            staff => staff,
            lead => access::is_lead(&c.user),
            error_field => error.as_ref().map(|e| e.0.clone()),
            error => error.map(|e| e.1),
        } },
    );
    (status, page).into_response()
}

async fn vertretung_eintragen(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !access::is_office(&c.user) {
        return Problem::forbidden("Nur für Beschäftigte der Behörde.").into_response();
    }
    let req = api::AbsenceRequest {
        absent: form.get("absent").cloned(),
        substitute: form.get("substitute").cloned().unwrap_or_default(),
        from: form.get("from").cloned().unwrap_or_default(),
        until: form.get("until").cloned().unwrap_or_default(),
    };
    match api::add_absence(&state, &c, &req).await {
        Ok(()) => Redirect::to("/vertretung").into_response(),
        Err(p) if p.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let field = p.field.clone().unwrap_or_default();
            vertretung_page(
                &state,
                &c,
                Some((field, p.detail.unwrap_or(p.title))),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(p) => p.into_response(),
    }
}

// ---- Fallseite ----

/// A form's fields (the workflow's answer for a step, or an application
/// form's), each with its input kind, title and current value.
/// `fields` are (name, required) pairs in form order.
pub(super) fn form_fields(
    def: &Definition,
    fields: &[(String, bool)],
    data: &Map<String, Value>,
    entered: &BTreeMap<String, String>,
) -> Vec<Jv> {
    fields
        .iter()
        .filter_map(|(name, required)| {
            let f = def.fields.get(name)?;
            let (input, values) = match &f.kind {
                FieldKind::Date => ("date", Vec::new()),
                FieldKind::Integer | FieldKind::Number => ("number", Vec::new()),
                FieldKind::Money => ("money", Vec::new()),
                FieldKind::Boolean => ("boolean", Vec::new()),
                FieldKind::Email => ("email", Vec::new()),
                FieldKind::Text => ("textarea", Vec::new()),
                FieldKind::List => ("list", Vec::new()),
                FieldKind::Enum(v) => ("enum", v.clone()),
                FieldKind::Object => return None,
                FieldKind::String => ("text", Vec::new()),
            };
            let current = entered
                .get(name)
                .cloned()
                .unwrap_or_else(|| form_value(&f.kind, data.get(name)));
            Some(context! {
                name => name.clone(),
                title => def.field_title(name),
                input => input,
                values => values,
                required => *required,
                value => current,
            })
        })
        .collect()
}

/// A stored value as a form shows it, so that the form sent back
/// unchanged gives the same value: amounts as `118.450,00`, numbers with
/// a decimal comma and no grouping (`1000`, `0,5`), yes/no, one list item
/// a line.
fn form_value(kind: &FieldKind, v: Option<&Value>) -> String {
    match v {
        Some(v) if *kind == FieldKind::Money => crate::money::Money::from_json(v)
            .map(crate::money::Money::german)
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string().replace('.', ","),
        Some(Value::Bool(b)) => if *b { "ja" } else { "nein" }.into(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Turns the submitted form into typed field values; errors name the field.
pub(super) fn parse_form(
    def: &Definition,
    form: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, (String, String)> {
    let mut out = Map::new();
    for (name, raw) in form {
        let Some(f) = def.fields.get(name) else {
            continue;
        };
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let v = match &f.kind {
            FieldKind::Integer => raw
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| (name.clone(), "Bitte eine ganze Zahl eingeben.".to_string()))?,
            FieldKind::Number => crate::money::parse_german_number(raw)
                .map(Value::from)
                .map_err(|e| (name.clone(), e.to_string()))?,
            FieldKind::Money => crate::money::Money::parse_german(raw)
                .map(crate::money::Money::to_json)
                .map_err(|e| (name.clone(), e.to_string()))?,
            FieldKind::Boolean => Value::Bool(matches!(raw, "ja" | "true" | "on")),
            FieldKind::Date => {
                let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
                    .map_err(|_| {
                        (
                            name.clone(),
                            "Bitte ein Datum angeben (TT.MM.JJJJ).".to_string(),
                        )
                    })?;
                Value::String(d.format("%Y-%m-%d").to_string())
            }
            FieldKind::List => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect(),
            ),
            _ => Value::String(raw.to_string()),
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// A refusal shown on the Fallseite: at its field, or above the form.
struct Refusal {
    transition: String,
    field: Option<String>,
    message: String,
    entered: BTreeMap<String, String>,
}

async fn fallseite(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Path(file_number): Path<String>,
) -> Response {
    if !access::is_office(&c.user) {
        return match api::visible_case(&state, &c, &file_number).await {
            Ok(_) => Redirect::to(&format!("/portal/faelle/{file_number}")).into_response(),
            Err(p) => p.into_response(),
        };
    }
    case_page(&state, &c, &file_number, None, StatusCode::OK).await
}

async fn case_page(
    state: &HttpState,
    c: &super::auth::Caller,
    file_number: &str,
    refusal: Option<Refusal>,
    status: StatusCode,
) -> Response {
    // One snapshot serves the whole page: the case, whether the caller may
    // see it, its deadlines, journal and documents.
    let detail: CaseDetail = match state.app.engine().detail(file_number).await {
        Ok(d) if access::sees(&c.user, &d.case) => d,
        Ok(_) => {
            return Problem::from(crate::case::CaseError::NotFound(file_number.into()))
                .into_response();
        }
        Err(e) => return Problem::from(e).into_response(),
    };
    let def = match state
        .app
        .engine()
        .definition(&detail.case.workflow, detail.case.workflow_version)
        .await
    {
        Ok(d) => d,
        Err(e) => return Problem::from(e).into_response(),
    };
    let docs = api::documents_for(c, detail.documents.clone());
    // The workflow's answer for this person: steps of their roles, those
    // they may not take now shown disabled with the reason.
    let options = match state.app.engine().steps(&detail.case, &c.user).await {
        Ok(o) => o,
        Err(e) => return Problem::from(e).into_response(),
    };
    let steps: Vec<Jv> = options
        .iter()
        .filter(|o| !matches!(o.rule.as_deref(), Some("role" | "system")))
        .map(|o| {
            let here = refusal.as_ref().filter(|r| r.transition == o.transition);
            let entered = here.map(|r| r.entered.clone()).unwrap_or_default();
            let fields: Vec<(String, bool)> = o
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.required))
                .collect();
            context! {
                name => o.transition.clone(),
                title => o.title.clone(),
                fields => form_fields(&def, &fields, &detail.case.data, &entered),
                blocked => o.reason.clone(),
                letter => o.letter,
                error => here.map(|r| r.message.clone()),
                error_field => here.and_then(|r| r.field.clone()),
            }
        })
        .collect();
    let timeline: Vec<Jv> = detail
        .history
        .iter()
        .rev()
        .map(|e| {
            let what = match e.kind {
                EventKind::Opened => "Vorgang angelegt".to_string(),
                EventKind::Fired => e
                    .transition
                    .as_deref()
                    .map(|t| def.transition_title(t))
                    .unwrap_or_default(),
                other => event_title(other).to_string(),
            };
            context! {
                at => e.recorded_at.clone(),
                on_behalf_of => e.payload.get("on_behalf_of").and_then(|v| v.as_str()).map(str::to_string),
                actor => e.actor.clone(),
                role => def.roles.get(&e.role).cloned().unwrap_or(e.role.clone()),
                what => what,
            }
        })
        .collect();
    let deadlines: Vec<Jv> = detail
        .deadlines
        .iter()
        .map(|d| {
            let (_, mark) = urgency(
                state,
                (d.status == crate::domain::DeadlineStatus::Open).then_some(d.due_date.as_str()),
            );
            let region = state.app.config().region;
            let reminders: Vec<String> = match (
                def.deadlines.get(&d.name),
                NaiveDate::parse_from_str(&d.due_date, "%Y-%m-%d"),
            ) {
                (Some(dd), Ok(due)) => dd
                    .reminders
                    .iter()
                    .map(|o| {
                        let on = crate::deadline::reminder_date(due, *o, region);
                        let unit = if o.working { "Arbeitstage" } else { "Tage" };
                        format!(
                            "{} ({} {unit} vor Fristende)",
                            on.format("%d.%m.%Y"),
                            o.days
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            context! {
                title => d.title.clone(),
                due => d.due_date.clone(),
                days => d.days_left,
                status => deadline_status(d.status),
                mark => mark,
                legal_basis => d.legal_basis.clone(),
                explanation => explanation_lines(&d.explanation),
                reminders => reminders,
            }
        })
        .collect();
    let data: Vec<Jv> = def
        .fields
        .iter()
        .filter_map(|(name, f)| {
            let v = detail.case.data.get(name)?;
            let shown = match (v, &f.kind) {
                (Value::String(s), FieldKind::Date) => datum(s.clone()),
                (v, FieldKind::Money) => crate::money::Money::from_json(v)
                    .map(|m| format!("{} EUR", m.german()))
                    .unwrap_or_default(),
                (Value::Number(n), _) => zahl(n.as_f64().unwrap_or(0.0)),
                (Value::Bool(b), _) => {
                    if *b {
                        "ja".into()
                    } else {
                        "nein".into()
                    }
                }
                (Value::String(s), _) => s.clone(),
                (Value::Array(a), _) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                    .collect::<Vec<_>>()
                    .join("; "),
                (other, _) => other.to_string(),
            };
            Some(context! { title => def.field_title(name), value => shown })
        })
        .collect();
    let documents: Vec<Jv> = docs
        .iter()
        .map(|d| {
            context! {
                template => crate::letter::title_of(&d.template),
                date => d.letter_date.clone(),
                sha256 => d.sha256.clone(),
                recipient => def.parties.get(&d.recipient).map(|p| p.title.clone()).unwrap_or(d.recipient.clone()),
                reference => d.reference.clone(),
                pages => d.pages,
            }
        })
        .collect();
    let parties: Vec<Jv> = detail
        .case
        .parties
        .iter()
        .map(|(role, p)| {
            context! {
                role => def.parties.get(role).map(|x| x.title.clone()).unwrap_or(role.clone()),
                name => p.name.clone(),
                email => p.email.as_ref().map(|e| e.to_string()),
            }
        })
        .collect();
    let assignee = state
        .app
        .engine()
        .assignee(file_number)
        .await
        .ok()
        .flatten();
    let uploads = state
        .app
        .engine()
        .uploads(file_number)
        .await
        .unwrap_or_default();
    let provisions = state
        .app
        .engine()
        .provisions(file_number)
        .await
        .unwrap_or_default();
    let base = base_context(c, "arbeitskorb");
    let page = state.pages.render(
        "fall.html",
        context! {
            ..base,
            ..context! {
                case => context! {
                    file_number => detail.case.file_number.to_string(),
                    workflow => detail.case.workflow_title.clone(),
                    state => detail.case.state_title.clone().unwrap_or(detail.case.state.to_string()),
                    closed => detail.case.closed,
                    version => detail.case.version,
                    opened_at => detail.case.opened_at.clone(),
                    assignee => assignee,
                },
                parties => parties,
                data => data,
                steps => steps,
                timeline => timeline,
                deadlines => deadlines,
                documents => documents,
                uploads => Jv::from_serialize(&uploads),
                provisions => Jv::from_serialize(&provisions),
            }
        },
    );
    (status, page).into_response()
}

fn event_title(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Opened => "Vorgang angelegt",
        EventKind::Fired => "Schritt ausgeführt",
        EventKind::LetterIssued => "Schreiben erlassen",
        EventKind::DeadlineSet => "Frist gesetzt",
        EventKind::DeadlineMet => "Frist gewahrt",
        EventKind::DeadlineExpired => "Frist abgelaufen",
        EventKind::ReminderQueued => "Erinnerung versandt",
        EventKind::NumberAllocated => "Nummer vergeben",
        EventKind::FieldSet => "Wert berechnet",
        EventKind::MailQueued => "Mail eingereiht",
        EventKind::Assigned => "Zugewiesen",
        EventKind::UploadReceived => "Unterlage hochgeladen",
        EventKind::DocumentRetrieved => "Schreiben im Portal abgerufen",
        EventKind::ProvisionEnded => "Bereitstellung beendet (nicht abgerufen)",
        EventKind::CircularRead => "Rundschreiben gelesen",
    }
}

fn deadline_status(s: crate::domain::DeadlineStatus) -> &'static str {
    use crate::domain::DeadlineStatus as S;
    match s {
        S::Open => "läuft",
        S::Met => "gewahrt",
        S::Superseded => "ersetzt",
        S::Expired => "versäumt",
        S::Elapsed => "abgelaufen",
    }
}

/// The explanation's steps as lines of German text.
pub(super) fn explanation_lines(v: &Value) -> Vec<String> {
    match v.get("steps").and_then(|s| s.as_array()) {
        Some(steps) => steps
            .iter()
            .map(|s| {
                let text = s
                    .get("text")
                    .or(s.get("reason"))
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                let rule = s.get("rule").and_then(|t| t.as_str()).unwrap_or("");
                if rule.is_empty() {
                    text.to_string()
                } else {
                    format!("{text} ({rule})")
                }
            })
            .filter(|l| !l.is_empty())
            .collect(),
        None => Vec::new(),
    }
}

async fn fire(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Path((file_number, transition)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let def = match api::visible_definition(&state, &c, &file_number).await {
        Ok((_, d)) => d,
        Err(p) => return p.into_response(),
    };
    let entered: BTreeMap<String, String> = form
        .iter()
        .filter(|(k, _)| def.fields.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let refuse = |field: Option<String>, message: String| Refusal {
        transition: transition.clone(),
        field,
        message,
        entered: entered.clone(),
    };
    let data = match parse_form(&def, &form) {
        Ok(d) => d,
        Err((field, message)) => {
            return case_page(
                &state,
                &c,
                &file_number,
                Some(refuse(Some(field), message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let expected_version = form.get("expected_version").and_then(|v| v.parse().ok());
    let body = FireBody {
        expected_version,
        data,
    };
    let req = match api::fire_request(&state, &c, &file_number, &transition, body).await {
        Ok(r) => r,
        Err(p) => {
            return case_page(
                &state,
                &c,
                &file_number,
                Some(refuse(
                    p.field.clone(),
                    p.detail.clone().unwrap_or(p.title.clone()),
                )),
                p.status(),
            )
            .await;
        }
    };
    match state.app.engine().fire(req).await {
        Ok(_) => Redirect::to(&format!("/faelle/{file_number}")).into_response(),
        Err(e) => {
            let field = e.field().map(str::to_string);
            let p = Problem::from(e);
            if p.status() == StatusCode::INTERNAL_SERVER_ERROR {
                return p.into_response();
            }
            let message = p.detail.clone().unwrap_or(p.title.clone());
            case_page(
                &state,
                &c,
                &file_number,
                Some(refuse(field, message)),
                p.status(),
            )
            .await
        }
    }
}

async fn preview(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Path((file_number, transition)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let def = match api::visible_definition(&state, &c, &file_number).await {
        Ok((_, d)) => d,
        Err(p) => return p.into_response(),
    };
    let data = match parse_form(&def, &form) {
        Ok(d) => d,
        Err((field, message)) => return Problem::invalid(field, message).into_response(),
    };
    let body = FireBody {
        expected_version: None,
        data,
    };
    let req = match api::fire_request(&state, &c, &file_number, &transition, body).await {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    match state.app.engine().preview(req).await {
        Ok(letters) => match letters.into_iter().next() {
            Some(l) => api::pdf_response(l.pdf, &format!("vorschau_{}.pdf", l.template)),
            None => Problem::not_found("Dieser Schritt erlässt kein Schreiben.").into_response(),
        },
        Err(e) => Problem::from(e).into_response(),
    }
}

// ---- Fristen, Postausgang ----

async fn fristen(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Query(mut p): Query<CaseListParams>,
) -> Response {
    if !access::is_office(&c.user) {
        return Redirect::to("/portal").into_response();
    }
    p.mine = Some(false);
    p.due_until = p.due_until.or(Some("9999-12-30".into()));
    let (items, next) = match api::page(&state, &c, &p).await {
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let mut rows = Vec::new();
    for i in items.iter().filter(|i| access::sees(&c.user, &i.case)) {
        let deadlines = state
            .app
            .engine()
            .deadlines(i.case.file_number.as_str())
            .await
            .unwrap_or_default();
        for d in deadlines
            .into_iter()
            .filter(|d| d.status == crate::domain::DeadlineStatus::Open)
        {
            let (_, mark) = urgency(&state, Some(&d.due_date));
            rows.push(json!({
                "file_number": i.case.file_number,
                "title": d.title,
                "due": d.due_date,
                "days": d.days_left,
                "mark": mark,
                "legal_basis": d.legal_basis,
                "explanation": explanation_lines(&d.explanation),
            }));
        }
    }
    rows.sort_by(|a, b| a["due"].as_str().cmp(&b["due"].as_str()));
    let base = base_context(&c, "fristen");
    state.pages.render(
        "fristen.html",
        context! { ..base, ..context! { rows => Jv::from_serialize(&rows), next => next } },
    )
}

async fn postausgang(State(state): State<HttpState>, WebCaller(c): WebCaller) -> Response {
    if !access::is_office(&c.user) {
        return Problem::forbidden("Nur für Beschäftigte der Behörde.").into_response();
    }
    let mails = match state.app.courier().list(true, 200).await {
        Ok(m) => m,
        Err(e) => return Problem::from(e).into_response(),
    };
    let base = base_context(&c, "postausgang");
    state.pages.render(
        "postausgang.html",
        context! { ..base, ..context! { mails => Jv::from_serialize(&mails) } },
    )
}

async fn retry(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Path(id): Path<i64>,
) -> Response {
    if !access::is_office(&c.user) {
        return Problem::forbidden("Nur für Beschäftigte der Behörde.").into_response();
    }
    match api::retry_mail(&state, id).await {
        Ok(()) => Redirect::to("/postausgang").into_response(),
        Err(p) => p.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_numbers_read_the_german_way() {
        assert_eq!(zahl(2.5), "2,5");
        assert_eq!(zahl(1000.0), "1.000");
        assert_eq!(datum("2012-03-19".into()), "19.03.2012");
        assert_eq!(zeit("2012-03-19T08:00:00Z".into()), "19.03.2012, 09:00 Uhr");
    }

    #[test]
    fn a_form_shows_values_so_that_sending_it_back_changes_nothing() {
        use serde_json::json;
        let cases = [
            (FieldKind::Money, json!("118450.00")),
            (FieldKind::Money, json!("54300.50")),
            (FieldKind::Money, json!("21980.00")),
            (FieldKind::Money, json!("0.05")),
            (FieldKind::Number, json!(1000.0)),
            (FieldKind::Number, json!(0.5)),
            (FieldKind::Number, json!(2)),
        ];
        for (kind, v) in cases {
            let shown = form_value(&kind, Some(&v));
            let back = match kind {
                FieldKind::Money => crate::money::Money::parse_german(&shown).unwrap().to_json(),
                _ => json!(crate::money::parse_german_number(&shown).unwrap()),
            };
            let same = match kind {
                FieldKind::Money => back == v,
                _ => back.as_f64() == v.as_f64(),
            };
            assert!(same, "{v} shown as {shown} reads back as {back}");
        }
        assert_eq!(
            form_value(&FieldKind::Money, Some(&json!("118450.00"))),
            "118.450,00"
        );
    }

    #[test]
    fn login_redirects_only_to_local_paths() {
        assert_eq!(
            safe_next(Some("/faelle/KI-2012-0001")),
            "/faelle/KI-2012-0001"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/arbeitskorb");
        assert_eq!(safe_next(Some("https://evil.example")), "/arbeitskorb");
        assert_eq!(safe_next(None), "/arbeitskorb");
    }
}
