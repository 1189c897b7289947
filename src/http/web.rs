//! The web UI for the office: server-rendered German pages (minijinja
//! templates under `templates/web/`, embedded in the binary) with htmx for
//! partial updates. Dates read 19.03.2012, times are Europe/Berlin, amounts
//! 175.000,00 EUR; numbers are typed with a decimal comma.

use std::collections::BTreeMap;

use super::routes::{Routes, get, post};
use axum::Form;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::NaiveDate;
use minijinja::{Value as Jv, context};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::access;
use super::auth::{Caller, ClientIp, LOGIN_CSRF_COOKIE, WebCaller};
use super::error::Problem;
use super::extract::{Staff, StaffOrPortal, VisibleCase, VisibleDetail, WebStaff};
use super::service::{self, AbsenceRequest, CaseListParams, FireBody};
use super::view::{
    datum, explanation_lines, fire_form, message, parse_form, render_page, step_form_fields, zahl,
};
use crate::case::CaseDetail;
use crate::identity::IdentityError;
use crate::journal::EventKind;
use crate::workflow::{Definition, FieldKind};

pub fn routes() -> Routes {
    Routes::new()
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
        .route("/controlling", get(controlling))
        .route("/controlling.csv", get(controlling_csv))
        .route("/fristen", get(fristen))
        .route("/postausgang", get(postausgang))
        .route("/postausgang/{id}/erneut", post(retry))
}

// ---- login ----

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

/// Only local paths, so the login cannot redirect elsewhere.
/// Where to go after the login: only a path on this server. A browser
/// drops tabs and line breaks from a URL and reads `\\` as `/`, so any
/// control character, whitespace or backslash is refused, and so is `//`
/// (another host); anything else goes to `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
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
    ClientIp(addr): ClientIp,
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
        .login(&form.user, &form.password, &addr.to_string())
        .await
    {
        Ok(s) => {
            // Logging in as someone else on a shared desk ends the
            // session that was open in this browser.
            if let Some(old) = jar.get(super::auth::SESSION_COOKIE)
                && let Err(e) = state.identity.logout(old.value()).await
            {
                return Problem::from(e).into_response();
            }
            let jar = jar
                .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
                .add(service::session_cookie(&state, s.id));
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

/// The Arbeitskorb; a municipality's start page is its portal.
async fn arbeitskorb(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
    RawQuery(raw): RawQuery,
    Query(p): Query<CaseListParams>,
) -> Response {
    // After an assignment (post/redirect/get): the saved filter, and how
    // many cases were assigned.
    if let Some(n) = raw
        .as_deref()
        .and_then(|r| r.strip_prefix("zugewiesen="))
        .and_then(|n| n.parse::<usize>().ok())
    {
        return arbeitskorb_page(&state, &c, None, p, Some(Outcome::Assigned(n))).await;
    }
    arbeitskorb_page(&state, &c, raw.as_deref(), p, None).await
}

/// What an assignment came to, shown above the Arbeitskorb it was made
/// from.
enum Outcome {
    Assigned(usize),
    /// Refused: the form field at fault and why.
    Refused {
        field: String,
        message: String,
    },
}

/// The Arbeitskorb with the filter of `raw` (or the saved one), and, after
/// a refused assignment, its message at the top (422).
async fn arbeitskorb_page(
    state: &HttpState,
    c: &Caller,
    raw: Option<&str>,
    mut p: CaseListParams,
    outcome: Option<Outcome>,
) -> Response {
    let state = state.clone();
    // Coming back without a filter: the one this person used last.
    // Filtering (not paging on): remember it.
    if raw.unwrap_or("").is_empty() {
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
    // A lead oversees the Dezernat: all its cases by default; everyone
    // else sees first what they can act on.
    let lead = access::is_lead(&c.user);
    p.mine = Some(p.mine.unwrap_or(!lead));
    let (items, next) = match service::page(&state, c, &p).await {
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let rows: Vec<Jv> = items
        .iter()
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
    let staff = if lead {
        office_staff(&state).await
    } else {
        Vec::new()
    };
    let stands_in_for = state
        .identity
        .stands_in_for(&c.user.name)
        .await
        .unwrap_or_default();
    let (status, assigned, refused) = match outcome {
        Some(Outcome::Refused { field, message }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(context! {
                anchor => if field == "file_numbers" { "z-vorgaenge" } else { "z-user" },
                message => message,
            }),
        ),
        Some(Outcome::Assigned(n)) => (StatusCode::OK, Some(n), None),
        None => (StatusCode::OK, None, None),
    };
    render_page(
        &state,
        c,
        "arbeitskorb",
        "arbeitskorb.html",
        context! {
                refused => refused,
                assigned => assigned,
                lead => lead,
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
        },
        status,
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
    let n = service::page(&state, &c, &p)
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
        // Only who can take a step of some workflow: the engine refuses
        // assigning a case to anyone who cannot act in its workflow.
        .filter(|u| {
            state
                .app
                .catalog()
                .definitions()
                .any(|(_, d)| d.can_act(u.roles.iter().map(String::as_str)))
        })
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
    match service::assign_cases(&state, &c, &form.case, &form.user).await {
        Ok(n) => Redirect::to(&format!("/arbeitskorb?zugewiesen={n}")).into_response(),
        // Back to the Arbeitskorb, with what went wrong at the top.
        Err(p) if p.status == 422 && access::is_lead(&c.user) => {
            let refusal = Outcome::Refused {
                field: p.field.clone().unwrap_or_default(),
                message: p.detail.clone().unwrap_or(p.title.clone()),
            };
            arbeitskorb_page(&state, &c, None, CaseListParams::default(), Some(refusal)).await
        }
        Err(p) => p.into_response(),
    }
}

/// `?jahr=2013`: the year of the grants; default the current year.
#[derive(serde::Deserialize)]
struct YearQuery {
    jahr: Option<i32>,
}

/// The Förderprogrammcontrolling of a year: chart and table.
async fn controlling(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
    axum::extract::Query(q): axum::extract::Query<YearQuery>,
) -> Response {
    use chrono::Datelike;
    let year = q
        .jahr
        .unwrap_or_else(|| state.app.engine().clock().today().year());
    let report = match state.app.engine().controlling(year).await {
        Ok(r) => r,
        Err(e) => return Problem::from(e).into_response(),
    };
    render_page(
        &state,
        &c,
        "controlling",
        "controlling.html",
        context! {
            title => report.title.clone(),
            year => year,
            count => report.rows.len(),
            svg => report.svg(),
            table => report.table_html(),
        },
        StatusCode::OK,
    )
}

/// The same as CSV, for a spreadsheet.
async fn controlling_csv(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(_c)): StaffOrPortal,
    axum::extract::Query(q): axum::extract::Query<YearQuery>,
) -> Response {
    use chrono::Datelike;
    let year = q
        .jahr
        .unwrap_or_else(|| state.app.engine().clock().today().year());
    match state.app.engine().controlling(year).await {
        Ok(r) => match r.csv() {
            Ok(csv) => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"controlling-{year}.csv\""),
                    ),
                ],
                csv,
            )
                .into_response(),
            Err(e) => Problem::internal(&e).into_response(),
        },
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn vertretung(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
) -> Response {
    vertretung_page(&state, &c, None, StatusCode::OK).await
}

async fn vertretung_page(
    state: &HttpState,
    c: &Caller,
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
    render_page(
        state,
        c,
        "vertretung",
        "vertretung.html",
        context! {
            absences => Jv::from_serialize(&absences),
            staff => staff,
            lead => access::is_lead(&c.user),
            error_field => error.as_ref().map(|e| e.0.clone()),
            error => error.map(|e| e.1),
        },
        status,
    )
}

async fn vertretung_eintragen(
    State(state): State<HttpState>,
    WebStaff(staff): WebStaff,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let req = AbsenceRequest {
        absent: form.get("absent").cloned(),
        substitute: form.get("substitute").cloned().unwrap_or_default(),
        from: form.get("from").cloned().unwrap_or_default(),
        until: form.get("until").cloned().unwrap_or_default(),
    };
    match service::add_absence(&state, &staff, &req).await {
        Ok(()) => Redirect::to("/vertretung").into_response(),
        Err(p) if p.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let field = p.field.clone().unwrap_or_default();
            vertretung_page(
                &state,
                &staff.0,
                Some((field, message(&p))),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(p) => p.into_response(),
    }
}

/// A refusal shown on the Fallseite: at its field, or above the form.
struct Refusal {
    transition: String,
    field: Option<String>,
    message: String,
    entered: BTreeMap<String, String>,
}

/// The Fallseite; a municipality user who may see the case is sent to
/// its portal page.
#[derive(Deserialize)]
struct Done {
    /// The step just taken (after a post/redirect/get).
    erledigt: Option<String>,
}

async fn fallseite(
    State(state): State<HttpState>,
    vd: VisibleDetail,
    Query(done): Query<Done>,
) -> Response {
    if !access::is_office(&vd.caller.user) {
        let to = format!("/portal/faelle/{}", vd.detail.case.file_number);
        return Redirect::to(&to).into_response();
    }
    let done = done.erledigt.and_then(|t| {
        if t == "angelegt" {
            Some("Vorgang anlegen".to_string())
        } else {
            vd.def.transition(&t).map(|_| vd.def.transition_title(&t))
        }
    });
    case_page(
        &state,
        &vd.caller,
        &vd.detail,
        &vd.def,
        None,
        done,
        StatusCode::OK,
    )
    .await
}

/// The Fallseite again after a refused step, with the refusal at its form:
/// from a fresh snapshot.
async fn case_page_refused(
    state: &HttpState,
    c: &Caller,
    file_number: &str,
    refusal: Refusal,
    status: StatusCode,
) -> Response {
    match service::visible_detail(state, c, file_number).await {
        Ok((detail, def)) => case_page(state, c, &detail, &def, Some(refusal), None, status).await,
        Err(p) => p.into_response(),
    }
}

/// The Fallseite from one snapshot: the case, its deadlines, journal and
/// documents.
async fn case_page(
    state: &HttpState,
    c: &Caller,
    detail: &CaseDetail,
    def: &Definition,
    refusal: Option<Refusal>,
    done: Option<String>,
    status: StatusCode,
) -> Response {
    let file_number = detail.case.file_number.as_str();
    // The summary at the top of a refused step's page links to the field
    // (or the step's form) where the message stands (WCAG 3.3.1).
    let refused = refusal.as_ref().map(|r| {
        context! {
            title => def.transition_title(&r.transition),
            message => r.message.clone(),
            anchor => match &r.field {
                Some(f) => format!("{}-{f}", r.transition),
                None => format!("h-{}", r.transition),
            },
        }
    });
    let docs = service::documents_for(c, detail.documents.clone());
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
            context! {
                name => o.transition.clone(),
                title => o.title.clone(),
                fields => step_form_fields(def, o, &detail.case.data, &entered),
                blocked => o.reason.clone(),
                letter => o.letter,
                ends_case => o.ends_case,
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
    let mut seals = Vec::with_capacity(docs.len());
    for d in &docs {
        seals.push(service::seal_view(state, &d.sha256).await);
    }
    let documents: Vec<Jv> = docs
        .iter()
        .zip(seals)
        .map(|(d, seal)| {
            context! {
                template => def.document_title(&d.template),
                date => d.letter_date.clone(),
                sha256 => d.sha256.clone(),
                seal => seal,
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
    render_page(
        state,
        c,
        "arbeitskorb",
        "fall.html",
        context! {
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
                account => super::view::account_view(detail.account.as_ref()),
                uploads => Jv::from_serialize(&uploads),
                provisions => Jv::from_serialize(&provisions),
                refused => refused,
                done => done,
        },
        status,
    )
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
        EventKind::DeadlineCancelled => "Frist aufgehoben",
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
        S::Cancelled => "aufgehoben",
    }
}

async fn fire(
    State(state): State<HttpState>,
    vc: VisibleCase<WebCaller>,
    Path((file_number, transition)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let c = &vc.caller;
    let entered: BTreeMap<String, String> = form
        .iter()
        .filter(|(k, _)| vc.def.fields.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let result = fire_form(&state, c, &vc.case, &vc.def, &transition, &form).await;
    match result {
        // Post/redirect/get, and the page says what happened.
        Ok(_) => {
            Redirect::to(&format!("/faelle/{file_number}?erledigt={transition}")).into_response()
        }
        Err(p) if p.status().is_server_error() => p.into_response(),
        Err(p) => {
            let refusal = Refusal {
                transition: transition.clone(),
                field: p.field.clone(),
                message: message(&p),
                entered,
            };
            case_page_refused(&state, c, &file_number, refusal, p.status()).await
        }
    }
}

async fn preview(
    State(state): State<HttpState>,
    vc: VisibleCase<WebCaller>,
    Path((_, transition)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let data = match parse_form(&vc.def, &form) {
        Ok(d) => d,
        Err((field, message)) => return Problem::invalid(field, message).into_response(),
    };
    let body = FireBody {
        expected_version: None,
        data,
    };
    let req = match service::fire_request(&state, &vc.caller, &vc.case, &vc.def, &transition, body)
        .await
    {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    match state.app.engine().preview(req).await {
        Ok(letters) => match letters.into_iter().next() {
            Some(l) => service::pdf_response(l.pdf, &format!("vorschau_{}.pdf", l.template)),
            None => Problem::not_found("Dieser Schritt erlässt kein Schreiben.").into_response(),
        },
        Err(e) => Problem::from(e).into_response(),
    }
}

// ---- Fristen, Postausgang ----

async fn fristen(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
    Query(mut p): Query<CaseListParams>,
) -> Response {
    p.mine = Some(false);
    p.due_until = p.due_until.or(Some("9999-12-30".into()));
    let (items, next) = match service::page(&state, &c, &p).await {
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let mut rows = Vec::new();
    for i in &items {
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
    render_page(
        &state,
        &c,
        "fristen",
        "fristen.html",
        context! { rows => Jv::from_serialize(&rows), next => next },
        StatusCode::OK,
    )
}

async fn postausgang(State(state): State<HttpState>, WebStaff(Staff(c)): WebStaff) -> Response {
    let mails = match state.app.courier().list(true, 200).await {
        Ok(m) => m,
        Err(e) => return Problem::from(e).into_response(),
    };
    render_page(
        &state,
        &c,
        "postausgang",
        "postausgang.html",
        context! { mails => Jv::from_serialize(&mails) },
        StatusCode::OK,
    )
}

async fn retry(State(state): State<HttpState>, _staff: WebStaff, Path(id): Path<i64>) -> Response {
    match service::retry_mail(&state, id).await {
        Ok(()) => Redirect::to("/postausgang").into_response(),
        Err(p) => p.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_redirects_only_to_local_paths() {
        assert_eq!(
            safe_next(Some("/faelle/KI-2012-0001")),
            "/faelle/KI-2012-0001"
        );
        // SECURITY-REVIEW D4: the tab that Chromium drops made `/\t/evil`
        // a link to another host.
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\t/evil.example/phish",
            "/\n/evil.example",
            "/\\evil.example",
            "/ /evil.example",
            "\u{0}/x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
