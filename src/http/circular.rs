//! Rundschreiben in the browser: compose a circular with a live PDF
//! preview while typing, submit it for release, release by a second person
//! (on the Fallseite, under the four-eyes rule), send it to the members (the
//! workflow's `verteilen` step does the sending) and follow its distribution
//! per member (sent, failed, retried).
//!
//! The preview is the letter the release would issue, rendered by the same
//! engine with the number still to be allocated shown as such; nothing is written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::routes::{Routes, get, post};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Value as Jv, context};
use serde_json::{Map, Value};

use super::HttpState;
use super::auth::{Caller, WebCaller};
use super::error::Problem;
use super::extract::{Staff, StaffOrPortal, VisibleCase};
use super::service::{self, CaseListParams, FireBody};
use super::view::render_page;
use crate::case::{Actor, CaseView, OpenRequest, PartyRef};
use crate::workflow::Definition;

/// The workflow of circulars and its steps.
const WORKFLOW: &str = "rundschreiben";
const SUBMIT: &str = "vorlegen";
const RELEASE: &str = "freigeben";
const DISTRIBUTE: &str = "verteilen";
/// The party the circular is addressed to.
const MEMBERS: &str = "mitglieder";

/// Recent previews, kept in memory for the iframe that shows them.
#[derive(Default)]
pub struct Previews {
    items: Mutex<VecDeque<(String, String, Vec<u8>)>>,
}

impl Previews {
    /// Keeps at most this many (they are a few hundred kB each).
    const KEEP: usize = 32;

    fn put(&self, user: &str, pdf: Vec<u8>) -> String {
        let mut b = [0u8; 16];
        getrandom::getrandom(&mut b).expect("the operating system provides random numbers");
        let id = hex::encode(b);
        let mut items = self.items.lock().expect("previews lock");
        items.push_back((id.clone(), user.to_string(), pdf));
        while items.len() > Self::KEEP {
            items.pop_front();
        }
        id
    }

    fn get(&self, user: &str, id: &str) -> Option<Vec<u8>> {
        let items = self.items.lock().expect("previews lock");
        items
            .iter()
            .find(|(i, u, _)| i == id && u == user)
            .map(|(_, _, pdf)| pdf.clone())
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .route("/rundschreiben", get(list).post(create))
        .route("/rundschreiben/vorschau/{id}", get(preview_pdf))
        .route("/rundschreiben/{file_number}", get(composer))
        .route("/rundschreiben/{file_number}/vorschau", post(preview))
        .route("/rundschreiben/{file_number}/vorlegen", post(submit))
        .route("/rundschreiben/{file_number}/versenden", post(send))
}

/// The circular's fields a person types, from the form: paragraphs are
/// separated by an empty line, enclosures one per line.
fn circular_data(form: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut data = Map::new();
    for key in [
        "betreff",
        "aktenzeichen",
        "zusammenfassung",
        "anlagen_hinweis",
        "kontakt_name",
        "kontakt_telefon",
        "kontakt_email",
        "unterzeichner",
        "zeichnungsvermerk",
    ] {
        if let Some(v) = form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            data.insert(key.into(), Value::String(v.to_string()));
        }
    }
    if let Some(text) = form.get("text") {
        let paragraphs: Vec<Value> = text
            .replace("\r\n", "\n")
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .map(Value::String)
            .collect();
        data.insert("text".into(), Value::Array(paragraphs));
    }
    if let Some(a) = form.get("anlagen") {
        let lines: Vec<Value> = a
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Value::String(l.to_string()))
            .collect();
        data.insert("anlagen".into(), Value::Array(lines));
    }
    data
}

fn is_author(c: &Caller) -> bool {
    c.user.has_role("referent")
}

/// The circulars; members read theirs in their portal.
async fn list(State(state): State<HttpState>, StaffOrPortal(Staff(c)): StaffOrPortal) -> Response {
    let p = CaseListParams {
        workflow: Some(WORKFLOW.into()),
        state: None,
        party: None,
        q: None,
        due_until: None,
        mine: Some(false),
        after: None,
        limit: Some(200),
    };
    let items = match service::page(&state, &c, &p).await {
        Ok((items, _)) => items,
        Err(p) => return p.into_response(),
    };
    let rows: Vec<Jv> = items
        .iter()
        .map(|i| {
            context! {
                file_number => i.case.file_number.to_string(),
                betreff => i.case.data.get("betreff").and_then(|v| v.as_str()).unwrap_or("").to_string(),
                nummer => i.case.data.get("rundschreiben_nr").and_then(|v| v.as_str()).map(str::to_string),
                state => i.case.state_title.clone().unwrap_or(i.case.state.to_string()),
            }
        })
        .collect();
    render_page(
        &state,
        &c,
        "rundschreiben",
        "rundschreiben.html",
        context! { rows => rows, author => is_author(&c) },
        StatusCode::OK,
    )
}

async fn create(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !is_author(&c) {
        return Problem::forbidden(
            "Rundschreiben verfassen Referentinnen und Referenten der Geschäftsstelle.",
        )
        .into_response();
    }
    let party: PartyRef = match "Mitglieder des Landkreistages Nordrhein-Westfalen".parse() {
        Ok(p) => p,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let opened = state
        .app
        .engine()
        .open(OpenRequest {
            workflow: WORKFLOW.into(),
            data: circular_data(&form),
            parties: [(MEMBERS.to_string(), party)].into(),
            actor: Actor::new(c.user.name.clone(), "referent"),
        })
        .await;
    match opened {
        Ok(case) => Redirect::to(&format!("/rundschreiben/{}", case.file_number)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn composer(State(state): State<HttpState>, vc: VisibleCase<WebCaller>) -> Response {
    composer_page(&state, &vc.caller, &vc.case, None, StatusCode::OK).await
}

/// The composer of a (visible) circular: the draft's form, or where its
/// distribution stands.
async fn composer_page(
    state: &HttpState,
    c: &Caller,
    case: &CaseView,
    error: Option<Problem>,
    status: StatusCode,
) -> Response {
    if case.workflow != WORKFLOW {
        return Problem::not_found("Das ist kein Rundschreiben.").into_response();
    }
    let file_number = case.file_number.as_str();
    let mails = match state.app.engine().case_mail(file_number).await {
        Ok(m) => m,
        Err(e) => return Problem::from(e).into_response(),
    };
    let members: Vec<Jv> = mails
        .iter()
        .filter(|m| m.kind == "distribution")
        .map(|m| {
            context! {
                id => m.id,
                to => m.recipients.join(", "),
                status => match m.status.as_str() {
                    "sent" => "versandt",
                    "failed" => "fehlgeschlagen",
                    _ if m.attempts > 0 => "wird erneut versucht",
                    _ => "in Warteschlange",
                },
                failed => m.status.as_str() == "failed",
                attempts => m.attempts,
                error => m.last_error.clone(),
            }
        })
        .collect();
    let receipts = state
        .app
        .engine()
        .read_receipts(file_number)
        .await
        .unwrap_or_default();
    let text = |k: &str| {
        case.data
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let list = |k: &str, sep: &str| {
        case.data
            .get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .unwrap_or_default()
    };
    render_page(
        state,
        c,
        "rundschreiben",
        "rundschreiben_entwurf.html",
        context! {
            case => context! {
                file_number => case.file_number.to_string(),
                state => case.state.to_string(),
                state_title => case.state_title.clone().unwrap_or(case.state.to_string()),
                version => case.version,
            },
            editable => case.state == "entwurf" && is_author(c),
            sendable => case.state == "herausgegeben" && members.is_empty(),
            form => context! {
                betreff => text("betreff"), aktenzeichen => text("aktenzeichen"),
                zusammenfassung => text("zusammenfassung"), text => list("text", "\n\n"),
                anlagen => list("anlagen", "\n"), anlagen_hinweis => text("anlagen_hinweis"),
                kontakt_name => text("kontakt_name"), kontakt_telefon => text("kontakt_telefon"),
                kontakt_email => text("kontakt_email"), unterzeichner => text("unterzeichner"),
                zeichnungsvermerk => text("zeichnungsvermerk"),
            },
            members => members,
            receipts => Jv::from_serialize(&receipts),
            error => error.as_ref().and_then(|p| p.detail.clone()),
            error_field => error.and_then(|p| p.field),
        },
        status,
    )
}

/// Renders the circular as the release would issue it, from the form as it
/// stands, and answers the iframe that shows it (htmx swaps it in).
async fn preview(
    State(state): State<HttpState>,
    vc: VisibleCase<WebCaller>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let c = &vc.caller;
    // The letter the release will issue, from the draft as typed.
    let preview = state
        .app
        .engine()
        .draft_preview(&vc.case.file_number, RELEASE, circular_data(&form))
        .await;
    match preview {
        Ok(letters) => match letters.into_iter().next() {
            Some(l) => {
                let id = state.previews.put(&c.user.name, l.pdf);
                Html(format!(
                    "<iframe src=\"/rundschreiben/vorschau/{id}\" title=\"Vorschau des Rundschreibens (PDF)\" width=\"100%\" height=\"800\"></iframe>"
                ))
                .into_response()
            }
            None => Html("<p>Keine Vorschau.</p>".to_string()).into_response(),
        },
        Err(e) => {
            let p = Problem::from(e);
            let status = p.status();
            (
                status,
                Html(format!(
                    "<p class=\"fehler\" role=\"alert\">Vorschau nicht möglich: {}</p>",
                    minijinja::HtmlEscape(&p.detail.unwrap_or(p.title))
                )),
            )
                .into_response()
        }
    }
}

async fn preview_pdf(
    State(state): State<HttpState>,
    WebCaller(c): WebCaller,
    Path(id): Path<String>,
) -> Response {
    match state.previews.get(&c.user.name, &id) {
        Some(pdf) => service::pdf_response(pdf, "vorschau_rundschreiben.pdf"),
        None => Problem::not_found("Diese Vorschau gibt es nicht mehr; bitte neu anzeigen.")
            .into_response(),
    }
}

/// Fires a step of the circular on a case the extractor loaded; the
/// refusal, if any, as a problem.
async fn fire_step(
    state: &HttpState,
    c: &Caller,
    case: &CaseView,
    def: &Definition,
    transition: &str,
    body: FireBody,
) -> Result<(), Problem> {
    let req = service::fire_request(state, c, case, def, transition, body).await?;
    state.app.engine().fire(req).await?;
    Ok(())
}

/// Saves the form and submits the circular for release.
async fn submit(
    State(state): State<HttpState>,
    vc: VisibleCase<WebCaller>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let body = FireBody {
        expected_version: form.get("expected_version").and_then(|v| v.parse().ok()),
        data: circular_data(&form),
    };
    let file_number = vc.case.file_number.as_str();
    match fire_step(&state, &vc.caller, &vc.case, &vc.def, SUBMIT, body).await {
        Ok(()) => Redirect::to(&format!("/rundschreiben/{file_number}")).into_response(),
        Err(p) if p.status() == StatusCode::INTERNAL_SERVER_ERROR => p.into_response(),
        Err(p) => {
            // A refused step changed nothing: the case as loaded is current.
            let status = p.status();
            composer_page(&state, &vc.caller, &vc.case, Some(p), status).await
        }
    }
}

/// Fires the distribution step: the workflow's `distribute` effect sends
/// the circular to every member in the step's own transaction. A second
/// post finds the circular distributed and is refused; nothing goes twice.
async fn send(State(state): State<HttpState>, vc: VisibleCase<WebCaller>) -> Response {
    let body = FireBody {
        expected_version: None,
        data: Map::new(),
    };
    match fire_step(&state, &vc.caller, &vc.case, &vc.def, DISTRIBUTE, body).await {
        Ok(()) => Redirect::to(&format!("/rundschreiben/{}", vc.case.file_number)).into_response(),
        Err(p) => p.into_response(),
    }
}
