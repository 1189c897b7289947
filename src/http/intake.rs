//! The office opens a case from the web: an application that came on
//! paper or by mail is entered on the same form (`[forms.NAME]` of its
//! workflow) a municipality fills in online, with the applicant chosen
//! from the municipalities' register and the day it arrived. Which
//! workflows a person may open is the workflow's answer (a role of it that
//! is no party's), as for the API's `POST /api/v1/cases`.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use minijinja::{Value as Jv, context};
use serde::Deserialize;

use super::HttpState;
use super::access;
use super::auth::Caller;
use super::error::Problem;
use super::extract::{Staff, StaffOrPortal, WebStaff};
use super::routes::{Routes, get};
use super::view::{form_fields, message, parse_form, render_page};
use crate::case::{Actor, Application};

pub fn routes() -> Routes {
    Routes::new().route("/faelle/neu", get(choose)).route(
        "/faelle/neu/{workflow}/{form}",
        get(form_page).post(open_case),
    )
}

/// The forms this person may open cases on: (workflow, form, titles).
fn openable(state: &HttpState, c: &Caller) -> Vec<Jv> {
    state
        .app
        .catalog()
        .definitions()
        .filter(|(_, d)| access::opening_role(&c.user, d).is_some())
        .flat_map(|(_, d)| {
            d.forms.values().map(|f| {
                context! {
                    workflow => d.id.clone(),
                    workflow_title => d.title.clone(),
                    form => f.name.clone(),
                    title => f.title.clone(),
                    description => f.description.clone(),
                }
            })
        })
        .collect()
}

/// „Vorgang anlegen“: the forms to choose from.
async fn choose(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
) -> Response {
    let forms = openable(&state, &c);
    render_page(
        &state,
        &c,
        "neu",
        "neu.html",
        context! { forms => forms },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct FormPath {
    workflow: String,
    form: String,
}

/// What was entered, to show again after a refusal.
#[derive(Default)]
struct Entered {
    values: BTreeMap<String, String>,
    applicant: String,
    received: String,
}

/// The form, empty or as entered with the refusal at its field.
fn page(
    state: &HttpState,
    c: &Caller,
    p: &FormPath,
    entered: Entered,
    error: Option<(Option<String>, String)>,
    status: StatusCode,
) -> Response {
    let Ok(def) = state.app.catalog().current(&p.workflow) else {
        return Problem::not_found("Dieses Formular gibt es nicht.").into_response();
    };
    let Some(form) = def.forms.get(&p.form) else {
        return Problem::not_found("Dieses Formular gibt es nicht.").into_response();
    };
    if access::opening_role(&c.user, &def).is_none() {
        return Problem::forbidden(format!(
            "Sie haben keine Rolle im Verfahren „{}“, mit der Sie Vorgänge anlegen dürfen.",
            def.title
        ))
        .into_response();
    }
    let names: Vec<(String, bool)> = form
        .fields
        .iter()
        .map(|n| (n.clone(), def.fields.get(n).is_some_and(|f| f.required)))
        .collect();
    let fields = form_fields(&def, &names, &serde_json::Map::new(), &entered.values);
    let applicants: Vec<String> = state
        .app
        .municipalities()
        .all()
        .iter()
        .map(|m| m.name.clone())
        .collect();
    let received = if entered.received.is_empty() {
        state.app.engine().clock().today().to_string()
    } else {
        entered.received
    };
    render_page(
        state,
        c,
        "neu",
        "neu_formular.html",
        context! {
            workflow => def.id.clone(),
            workflow_title => def.title.clone(),
            form => context! { name => form.name.clone(), title => form.title.clone(), description => form.description.clone() },
            party_title => def.parties.get(&form.party).map(|p| p.title.clone()).unwrap_or_else(|| form.party.clone()),
            applicants => applicants,
            applicant => entered.applicant,
            has_received => form.received.is_some(),
            received => received,
            fields => fields,
            error => error.as_ref().map(|e| e.1.clone()),
            error_field => error.and_then(|e| e.0),
        },
        status,
    )
}

async fn form_page(
    State(state): State<HttpState>,
    StaffOrPortal(Staff(c)): StaffOrPortal,
    Path(p): Path<FormPath>,
) -> Response {
    page(&state, &c, &p, Entered::default(), None, StatusCode::OK)
}

/// Opens the case and shows its Fallseite; a refusal shows the form again
/// with the message at its field.
async fn open_case(
    State(state): State<HttpState>,
    WebStaff(Staff(c)): WebStaff,
    Path(p): Path<FormPath>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let Ok(def) = state.app.catalog().current(&p.workflow) else {
        return Problem::not_found("Dieses Formular gibt es nicht.").into_response();
    };
    let Some(role) = access::opening_role(&c.user, &def) else {
        return page(&state, &c, &p, Entered::default(), None, StatusCode::OK);
    };
    let entered = Entered {
        values: form
            .iter()
            .filter(|(k, _)| def.fields.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        applicant: form.get("antragsteller").cloned().unwrap_or_default(),
        received: form.get("eingang").cloned().unwrap_or_default(),
    };
    let refuse = |entered: Entered, field: &str, text: String| {
        page(
            &state,
            &c,
            &p,
            entered,
            Some((Some(field.to_string()), text)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let party = match state.app.municipalities().get(&entered.applicant) {
        Some(m) => match m.party() {
            Ok(party) => party,
            Err(e) => return Problem::internal(&e).into_response(),
        },
        None => {
            return refuse(
                entered,
                "antragsteller",
                "Bitte wählen Sie den Antragsteller aus der Liste.".into(),
            );
        }
    };
    let today = state.app.engine().clock().today();
    let received = match NaiveDate::parse_from_str(entered.received.trim(), "%Y-%m-%d") {
        Ok(d) if d <= today => d,
        Ok(_) => {
            return refuse(
                entered,
                "eingang",
                "Der Eingang kann nicht in der Zukunft liegen.".into(),
            );
        }
        Err(_) => {
            return refuse(
                entered,
                "eingang",
                "Bitte geben Sie den Tag des Eingangs als Datum an.".into(),
            );
        }
    };
    let data = match parse_form(&def, &form) {
        Ok(d) => d,
        Err((field, text)) => return refuse(entered, &field, text),
    };
    match state
        .app
        .engine()
        .apply_form(Application {
            workflow: p.workflow.clone(),
            form: p.form.clone(),
            data,
            party,
            actor: Actor::new(c.user.name.clone(), role),
            received,
        })
        .await
    {
        Ok(view) => {
            Redirect::to(&format!("/faelle/{}?erledigt=angelegt", view.file_number)).into_response()
        }
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status() == StatusCode::INTERNAL_SERVER_ERROR {
                return problem.into_response();
            }
            let field = problem.field.clone().unwrap_or_default();
            refuse(entered, &field, message(&problem))
        }
    }
}
