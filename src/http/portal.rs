//! The municipalities' portal (`/portal`) and the upload API: a
//! municipality user sees its own cases, the letters addressed to it, its
//! deadlines, the circulars sent to it; it applies online, uploads PDFs,
//! retrieves letters provided for retrieval (§ 41 Abs. 2a VwVfG NRW),
//! confirms receipt (Empfangsbekenntnis) and gives or withdraws its
//! consent to notification by retrieval. Anything of another municipality
//! answers 404, as if it did not exist.

use std::collections::BTreeMap;

use super::routes::{Routes, get, post};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use minijinja::{Value as Jv, context};
use serde::Deserialize;

use super::HttpState;
use super::access;
use super::auth::{Caller, WebCaller};
use super::error::Problem;
use super::extract::{Municipality, VisibleCase, VisibleDetail};
use super::schema::{self, Upload};
use super::service::{self, CaseListParams};
use super::view::{
    explanation_lines, fire_form, form_fields, message, parse_form, render_page, step_form_fields,
};
use crate::case::{Actor, CaseDetail, CaseError, CaseView, UploadOutcome};
use crate::domain::DeadlineStatus;
use crate::workflow::Definition;

pub fn routes() -> Routes {
    Routes::new()
        .route("/portal", get(overview))
        .route(
            "/portal/antraege/{workflow}/{form}",
            get(application_form).post(submit_application),
        )
        .route("/portal/faelle/{file_number}", get(case_page))
        .route(
            "/portal/faelle/{file_number}/hochladen",
            // The size limit is checked while the file streams in.
            post(upload_page).streamed_body(),
        )
        .route(
            "/portal/faelle/{file_number}/schritte/{transition}",
            post(fire_step),
        )
        .route("/portal/rundschreiben/{file_number}", get(circular))
        .route(
            "/portal/einwilligung",
            get(consent_page).post(consent_change),
        )
}

/// The upload API routes (nested under `/api/v1`).
pub fn api_routes() -> Routes {
    Routes::new()
        .route(
            "/cases/{file_number}/uploads",
            get(list_uploads).post(upload_api).streamed_body(),
        )
        .route("/cases/{file_number}/uploads/{id}", get(upload_file))
}

fn limit(state: &HttpState) -> u64 {
    state.app.config().web.upload_limit_mb * 1024 * 1024
}

// ---- the upload API ----

#[utoipa::path(get, path = "/api/v1/cases/{file_number}/uploads", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen")),
    responses((status = 200, description = "Die hochgeladenen Unterlagen, älteste zuerst", body = Vec<Upload>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json")))]
pub async fn list_uploads(
    State(state): State<HttpState>,
    vc: VisibleCase,
) -> Result<Json<Vec<Upload>>, Problem> {
    let uploads = state
        .app
        .engine()
        .uploads(vc.case.file_number.as_str())
        .await?;
    Ok(Json(schema::all(uploads)))
}

#[utoipa::path(get, path = "/api/v1/cases/{file_number}/uploads/{id}", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen"),
           ("id" = i64, Path, description = "Nummer der Unterlage")),
    responses((status = 200, description = "Die hochgeladene PDF-Datei", content_type = "application/pdf"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang oder keine solche Unterlage", body = Problem, content_type = "application/problem+json")))]
pub async fn upload_file(
    State(state): State<HttpState>,
    vc: VisibleCase,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, Problem> {
    let uploads = state
        .app
        .engine()
        .uploads(vc.case.file_number.as_str())
        .await?;
    let Some(u) = uploads.into_iter().find(|u| u.id == id) else {
        return Err(Problem::not_found(
            "Diese Unterlage gibt es in diesem Vorgang nicht.",
        ));
    };
    let bytes = state.app.documents().bytes(&u.sha256).await?;
    Ok(service::pdf_download(bytes, &u.file_name))
}

/// Reads the multipart field `file`, refusing it once it passes the limit.
async fn read_file(mut mp: Multipart, limit: u64) -> Result<(String, Vec<u8>), Problem> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        Problem::bad_request(format!(
            "Die Anfrage ist kein lesbares Formular (multipart/form-data): {e}"
        ))
    };
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                let e = crate::upload::too_large((bytes.len() + chunk.len()) as u64, limit);
                return Err(Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Datei zu groß")
                    .detail(e.to_string())
                    .field("file"));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err(Problem::invalid(
        "file",
        "Es wurde keine Datei übermittelt. Bitte wählen Sie eine PDF-Datei aus.",
    ))
}

/// Checks that the caller may upload to this (visible) case, stores the
/// file and fires the upload step; refusals keep the municipality's wording.
async fn do_upload(
    state: &HttpState,
    c: &Caller,
    view: &CaseView,
    mp: Multipart,
) -> Result<UploadOutcome, Problem> {
    // The API's answer to office staff (the portal's pages refuse them
    // before, as every portal page does).
    let party = match (&c.user.party, c.user.is_municipality()) {
        (Some(p), true) => p.clone(),
        _ => {
            return Err(Problem::forbidden(
                "Unterlagen laden die Kommunen im Portal hoch; die Behörde erfasst Posteingänge im Vorgang.",
            ));
        }
    };
    let actor = access::actor_for(&c.user, view)
        .ok_or_else(|| Problem::forbidden("Sie haben in diesem Vorgang keine Rolle."))?;
    let (name, bytes) = read_file(mp, limit(state)).await?;
    let actor = Actor::new(c.user.name.clone(), actor.role);
    state
        .app
        .engine()
        .upload(
            view.file_number.as_str(),
            &actor,
            &party,
            &name,
            &bytes,
            limit(state),
        )
        .await
        .map_err(|e| match e {
            CaseError::Invalid { field, reason } => Problem::invalid(field, reason),
            other => other.into(),
        })
}

#[utoipa::path(post, path = "/api/v1/cases/{file_number}/uploads", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen")),
    request_body(content = String, content_type = "multipart/form-data", description = "Feld `file`: eine PDF-Datei (unverschlüsselt, höchstens `upload_limit_mb` MB, Vorgabe 20)"),
    responses((status = 201, description = "Gespeichert; ein Schritt, den das Verfahren für Uploads vorsieht, wurde ausgeführt", body = Upload),
              (status = 400, description = "Kein lesbares Formular", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nur Kommunen laden hoch", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Der Vorgang wurde zwischenzeitlich geändert", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "Datei zu groß", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Keine PDF-Datei, verschlüsselt, leer, unzulässiger Dateiname oder Vorgang abgeschlossen", body = Problem, content_type = "application/problem+json")))]
pub async fn upload_api(
    State(state): State<HttpState>,
    vc: VisibleCase,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Upload>), Problem> {
    let mp = mp.map_err(|e| {
        Problem::bad_request(format!(
            "Erwartet wird ein Formular multipart/form-data mit dem Feld „file“ ({e})."
        ))
    })?;
    let out = do_upload(&state, &vc.caller, &vc.case, mp).await?;
    Ok((StatusCode::CREATED, Json(out.upload.into())))
}

// ---- pages ----

/// What happens when a deadline runs out, in a municipality's words.
fn on_expiry_text(def: &Definition, name: &str) -> Option<String> {
    let d = def.deadlines.get(name)?;
    if let Some(t) = d.on_expiry.as_ref().and_then(|t| def.transition(t)) {
        return Some(format!(
            "Läuft die Frist ungenutzt ab, geht der Vorgang weiter mit: „{}“.",
            t.title.clone().unwrap_or(t.name.clone())
        ));
    }
    if d.court {
        return Some(
            "Nach Ablauf der Frist wird der Bescheid bestandskräftig; eine danach erhobene Klage ist in der Regel unzulässig (Ausnahmen: § 58 Abs. 2 und § 60 VwGO)."
                .into(),
        );
    }
    None
}

async fn overview(
    State(state): State<HttpState>,
    Municipality { caller: c, party }: Municipality,
) -> Response {
    let p = CaseListParams {
        workflow: None,
        state: None,
        party: None,
        q: None,
        due_until: None,
        mine: Some(false),
        after: None,
        limit: Some(200),
    };
    let (items, _) = match service::page(&state, &c, &p).await {
        Ok(page) => page,
        Err(e) => return e.into_response(),
    };
    let mut cases = Vec::new();
    let mut deadlines = Vec::new();
    for i in &items {
        cases.push(context! {
            file_number => i.case.file_number.to_string(),
            workflow => i.case.workflow_title.clone(),
            state => i.case.state_title.clone().unwrap_or(i.case.state.to_string()),
            next_due => i.next_due.clone(),
        });
        if i.next_due.is_none() {
            continue;
        }
        let Ok(def) = state
            .app
            .engine()
            .definition(&i.case.workflow, i.case.workflow_version)
            .await
        else {
            continue;
        };
        for d in state
            .app
            .engine()
            .deadlines(i.case.file_number.as_str())
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d.status == DeadlineStatus::Open)
        {
            deadlines.push(context! {
                file_number => i.case.file_number.to_string(),
                title => d.title.clone(),
                due => d.due_date.clone(),
                days => d.days_left,
                then => on_expiry_text(&def, &d.name),
            });
        }
    }
    // Letters waiting for retrieval, and until when (§ 41 Abs. 2a VwVfG NRW).
    let mut waiting = Vec::new();
    for p in state
        .app
        .engine()
        .provisions_waiting(&party)
        .await
        .unwrap_or_default()
    {
        let Some(i) = items
            .iter()
            .find(|i| i.case.file_number.as_str() == p.file_number)
        else {
            continue;
        };
        let title = match state
            .app
            .engine()
            .definition(&i.case.workflow, i.case.workflow_version)
            .await
        {
            Ok(def) => def.document_title(&p.template),
            Err(_) => continue,
        };
        waiting.push(context! {
            file_number => p.file_number.clone(),
            title => title,
            until => until_of(&p.notified_on),
        });
    }
    let circulars = circular_rows(&state, &party).await;
    let forms: Vec<Jv> = state
        .app
        .catalog()
        .definitions()
        .flat_map(|(_, d)| {
            d.forms.values().map(|f| {
                context! { workflow => d.id.clone(), name => f.name.clone(), title => f.title.clone() }
            }).collect::<Vec<_>>()
        })
        .collect();
    let consent = state.app.engine().consent(&party).await.ok().flatten();
    render_page(
        &state,
        &c,
        "portal",
        "portal.html",
        context! {
            party => party,
            waiting => waiting,
            cases => cases,
            deadlines => deadlines,
            circulars => circulars,
            forms => forms,
            consent => Jv::from_serialize(&consent),
        },
        StatusCode::OK,
    )
}

/// The last day a letter notified on `notified_on` (YYYY-MM-DD) can be
/// retrieved, as YYYY-MM-DD.
fn until_of(notified_on: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(notified_on, "%Y-%m-%d")
        .ok()
        .map(|d| crate::case::retrievable_until(d).to_string())
}

async fn circular_rows(state: &HttpState, party: &str) -> Vec<Jv> {
    let mut out = Vec::new();
    for d in state
        .app
        .engine()
        .circulars_for(party)
        .await
        .unwrap_or_default()
    {
        let Ok(view) = state.app.engine().show(&d.file_number).await else {
            continue;
        };
        out.push(context! {
            file_number => d.file_number.clone(),
            number => view.data.get("rundschreiben_nr").and_then(|v| v.as_str()).map(str::to_string),
            title => view.data.get("betreff").and_then(|v| v.as_str()).map(str::to_string),
            sent => d.queued_at.clone(),
            read => d.read_at.is_some(),
        });
    }
    out
}

#[derive(Deserialize)]
struct FormPath {
    workflow: String,
    form: String,
}

async fn application_form(
    State(state): State<HttpState>,
    m: Municipality,
    Path(p): Path<FormPath>,
) -> Response {
    application_page(&state, &m, &p, BTreeMap::new(), None, StatusCode::OK)
}

fn application_page(
    state: &HttpState,
    m: &Municipality,
    p: &FormPath,
    entered: BTreeMap<String, String>,
    error: Option<(Option<String>, String)>,
    status: StatusCode,
) -> Response {
    let Ok(def) = state.app.catalog().current(&p.workflow) else {
        return Problem::not_found("Dieses Antragsformular gibt es nicht.").into_response();
    };
    let Some(form) = def.forms.get(&p.form) else {
        return Problem::not_found("Dieses Antragsformular gibt es nicht.").into_response();
    };
    let names: Vec<(String, bool)> = form
        .fields
        .iter()
        .map(|n| (n.clone(), def.fields.get(n).is_some_and(|f| f.required)))
        .collect();
    let fields = form_fields(&def, &names, &serde_json::Map::new(), &entered);
    render_page(
        state,
        &m.caller,
        "portal",
        "portal_antrag.html",
        context! {
            party => m.party.clone(),
            workflow => def.id.clone(),
            form => context! { name => form.name.clone(), title => form.title.clone(), description => form.description.clone() },
            fields => fields,
            error => error.as_ref().map(|e| e.1.clone()),
            error_field => error.and_then(|e| e.0),
        },
        status,
    )
}

async fn submit_application(
    State(state): State<HttpState>,
    m: Municipality,
    Path(p): Path<FormPath>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let party_name = &m.party;
    let Ok(def) = state.app.catalog().current(&p.workflow) else {
        return Problem::not_found("Dieses Antragsformular gibt es nicht.").into_response();
    };
    if !def.forms.contains_key(&p.form) {
        return Problem::not_found("Dieses Antragsformular gibt es nicht.").into_response();
    }
    let entered: BTreeMap<String, String> = form
        .iter()
        .filter(|(k, _)| def.fields.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let data = match parse_form(&def, &form) {
        Ok(d) => d,
        Err((field, message)) => {
            return application_page(
                &state,
                &m,
                &p,
                entered,
                Some((Some(field), message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let party = match state
        .app
        .municipalities()
        .get(party_name)
        .map(|m| m.party())
    {
        Some(Ok(p)) => p,
        _ => {
            return Problem::invalid(
                "party",
                format!("„{party_name}“ ist in workflows/data/kommunen.json nicht verzeichnet; bitte wenden Sie sich an die Behörde."),
            )
            .into_response();
        }
    };
    match state
        .app
        .engine()
        .apply_online(&p.workflow, &p.form, data, party, &m.caller.user.name)
        .await
    {
        Ok(view) => Redirect::to(&format!(
            "/portal/faelle/{}?hinweis=eingereicht",
            view.file_number
        ))
        .into_response(),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status() == StatusCode::INTERNAL_SERVER_ERROR {
                return problem.into_response();
            }
            application_page(
                &state,
                &m,
                &p,
                entered,
                Some((problem.field.clone(), message(&problem))),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// A message shown above the case page (after an upload or a step).
#[derive(Deserialize, Default)]
struct Notice {
    hinweis: Option<String>,
}

async fn case_page(
    State(state): State<HttpState>,
    m: Municipality,
    vd: VisibleDetail,
    Query(n): Query<Notice>,
) -> Response {
    let notice = match n.hinweis.as_deref() {
        Some("hochgeladen") => Some("Die Unterlage wurde gespeichert.".to_string()),
        Some("nachgereicht") => Some(
            "Die Unterlage wurde gespeichert; die Nachreichung ist erfasst und die Frist gewahrt."
                .to_string(),
        ),
        Some("erledigt") => Some("Der Schritt wurde ausgeführt.".to_string()),
        Some("eingereicht") => Some(format!(
            "„{}“ ist eingegangen. Aktenzeichen: {}; bitte geben Sie es bei Rückfragen an.",
            vd.detail.case.workflow_title, vd.detail.case.file_number
        )),
        _ => None,
    };
    portal_case(
        &state,
        &m,
        &vd.detail,
        &vd.def,
        notice,
        None,
        StatusCode::OK,
    )
    .await
}

/// An error shown on the case page: at the upload form or at a step.
struct PageError {
    at: String,
    field: Option<String>,
    message: String,
}

/// The case page again after a refused upload or step, with the refusal
/// at its form: from a fresh snapshot.
async fn portal_case_refused(
    state: &HttpState,
    m: &Municipality,
    file_number: &str,
    error: PageError,
    status: StatusCode,
) -> Response {
    match service::visible_detail(state, &m.caller, file_number).await {
        Ok((detail, def)) => portal_case(state, m, &detail, &def, None, Some(error), status).await,
        Err(p) => p.into_response(),
    }
}

/// A municipality's case page from one snapshot: the letters to it, its
/// open deadlines, its uploads and the steps it may take.
async fn portal_case(
    state: &HttpState,
    m: &Municipality,
    detail: &CaseDetail,
    def: &Definition,
    notice: Option<String>,
    error: Option<PageError>,
    status: StatusCode,
) -> Response {
    let c = &m.caller;
    let file_number = detail.case.file_number.as_str();
    let provisions = state
        .app
        .engine()
        .provisions(file_number)
        .await
        .unwrap_or_default();
    let visible = service::documents_for(c, detail.documents.clone());
    let mut seals = Vec::with_capacity(visible.len());
    for d in &visible {
        seals.push(service::seal_view(state, &d.sha256).await);
    }
    let documents: Vec<Jv> = visible
        .into_iter()
        .zip(seals)
        .map(|(d, seal)| {
            let p = provisions.iter().find(|p| p.sha256 == d.sha256);
            context! {
                title => def.document_title(&d.template),
                date => d.letter_date.clone(),
                sha256 => d.sha256.clone(),
                seal => seal,
                reference => d.reference.clone(),
                pages => d.pages,
                provision => p.map(|p| p.status.clone()),
                notified_on => p.map(|p| p.notified_on.clone()),
                until => p.and_then(|p| until_of(&p.notified_on)),
                retrieved_at => p.and_then(|p| p.retrieved_at.clone()),
                retrieved_by => p.and_then(|p| p.retrieved_by.clone()),
            }
        })
        .collect();
    let deadlines: Vec<Jv> = detail
        .deadlines
        .iter()
        .filter(|d| d.status == DeadlineStatus::Open)
        .map(|d| {
            context! {
                title => d.title.clone(),
                due => d.due_date.clone(),
                days => d.days_left,
                legal_basis => d.legal_basis.clone(),
                explanation => explanation_lines(&d.explanation),
                then => on_expiry_text(def, &d.name),
            }
        })
        .collect();
    let uploads = state
        .app
        .engine()
        .uploads(file_number)
        .await
        .unwrap_or_default();
    let closed = def.state(&detail.case.state).is_some_and(|s| s.is_final);
    // The workflow's answer for this municipality: a step whose conditions
    // on the case (not on what it enters) do not hold is not offered, e.g.
    // the Empfangsbekenntnis for a notice not sent against one.
    let options = match state.app.engine().steps(&detail.case, &c.user).await {
        Ok(o) => o,
        Err(e) => return Problem::from(e).into_response(),
    };
    let steps: Vec<Jv> = options
        .iter()
        .filter(|o| o.allowed)
        .filter(|o| def.transition(&o.transition).is_some_and(|t| !t.upload))
        .map(|o| {
            let here = error.as_ref().filter(|e| e.at == o.transition);
            context! {
                name => o.transition.clone(),
                title => o.title.clone(),
                fields => step_form_fields(def, o, &detail.case.data, &BTreeMap::new()),
                ends_case => o.ends_case,
                error => here.map(|e| e.message.clone()),
                error_field => here.and_then(|e| e.field.clone()),
            }
        })
        .collect();
    let upload_step = def
        .transitions_from(&detail.case.state)
        .find(|t| t.upload)
        .map(|t| t.title.clone().unwrap_or(t.name.clone()));
    let upload_error = error
        .as_ref()
        .filter(|e| e.at == "upload")
        .map(|e| e.message.clone());
    render_page(
        state,
        c,
        "portal",
        "portal_fall.html",
        context! {
            party => m.party.clone(),
            case => context! {
                file_number => detail.case.file_number.to_string(),
                workflow => detail.case.workflow_title.clone(),
                state => detail.case.state_title.clone().unwrap_or(detail.case.state.to_string()),
                closed => closed,
                version => detail.case.version,
            },
            notice => notice,
            documents => documents,
            account => super::view::account_view(detail.account.as_ref()),
            deadlines => deadlines,
            uploads => Jv::from_serialize(&uploads),
            steps => steps,
            upload_step => upload_step,
            upload_error => upload_error,
            limit_mb => state.app.config().web.upload_limit_mb,
        },
        status,
    )
}

async fn upload_page(
    State(state): State<HttpState>,
    m: Municipality,
    vc: VisibleCase<WebCaller>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let file_number = vc.case.file_number.as_str();
    let result = match mp {
        Ok(mp) => do_upload(&state, &m.caller, &vc.case, mp).await,
        Err(e) => Err(Problem::bad_request(format!(
            "Das Formular konnte nicht gelesen werden ({e})."
        ))),
    };
    match result {
        Ok(out) => {
            let hint = if out.fired.is_some() {
                "nachgereicht"
            } else {
                "hochgeladen"
            };
            Redirect::to(&format!("/portal/faelle/{file_number}?hinweis={hint}")).into_response()
        }
        Err(p) if p.status() == StatusCode::NOT_FOUND => p.into_response(),
        Err(p) => {
            let error = PageError {
                at: "upload".into(),
                field: Some("file".into()),
                message: message(&p),
            };
            portal_case_refused(&state, &m, file_number, error, p.status()).await
        }
    }
}

async fn fire_step(
    State(state): State<HttpState>,
    m: Municipality,
    vc: VisibleCase<WebCaller>,
    Path((file_number, transition)): Path<(String, String)>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let result = fire_form(&state, &m.caller, &vc.case, &vc.def, &transition, &form).await;
    match result {
        Ok(_) => {
            Redirect::to(&format!("/portal/faelle/{file_number}?hinweis=erledigt")).into_response()
        }
        Err(p) if p.status() == StatusCode::NOT_FOUND || p.status().is_server_error() => {
            p.into_response()
        }
        Err(p) => {
            let error = PageError {
                at: transition.clone(),
                field: p.field.clone(),
                message: message(&p),
            };
            portal_case_refused(&state, &m, &file_number, error, p.status()).await
        }
    }
}

async fn circular(
    State(state): State<HttpState>,
    Municipality { caller: c, party }: Municipality,
    Path(file_number): Path<String>,
) -> Response {
    let not_found = || {
        Problem::not_found("Dieses Rundschreiben gibt es nicht oder es ging nicht an Sie.")
            .into_response()
    };
    let actor = Actor::new(c.user.name.clone(), "municipality");
    match state
        .app
        .engine()
        .read_circular(&file_number, &party, &actor)
        .await
    {
        Ok(true) => {}
        Ok(false) | Err(CaseError::NotFound(_)) => return not_found(),
        Err(e) => return Problem::from(e).into_response(),
    }
    let view = match state.app.engine().show(&file_number).await {
        Ok(v) => v,
        Err(e) => return Problem::from(e).into_response(),
    };
    let documents: Vec<Jv> = state
        .app
        .engine()
        .case_documents(&file_number)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            context! {
                title => crate::letter::title_of(&d.template),
                date => d.letter_date.clone(),
                sha256 => d.sha256.clone(),
                pages => d.pages,
            }
        })
        .collect();
    let text = |k: &str| {
        view.data
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    render_page(
        &state,
        &c,
        "portal",
        "portal_rundschreiben.html",
        context! {
            party => party,
            file_number => file_number,
            number => text("rundschreiben_nr"),
            title => text("betreff"),
            summary => text("zusammenfassung"),
            documents => documents,
        },
        StatusCode::OK,
    )
}

async fn consent_page(
    State(state): State<HttpState>,
    Municipality { caller: c, party }: Municipality,
) -> Response {
    let history = state
        .app
        .engine()
        .consent_history(&party)
        .await
        .unwrap_or_default();
    let consented = history.iter().any(|h| h.withdrawn_at.is_none());
    render_page(
        &state,
        &c,
        "einwilligung",
        "portal_einwilligung.html",
        context! {
            party => party,
            consented => consented,
            history => Jv::from_serialize(&history),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct ConsentForm {
    aktion: String,
}

async fn consent_change(
    State(state): State<HttpState>,
    Municipality { caller: c, party }: Municipality,
    Form(f): Form<ConsentForm>,
) -> Response {
    let engine = state.app.engine();
    let r = match f.aktion.as_str() {
        "erteilen" => engine.give_consent(&party, &c.user.name).await,
        "widerrufen" => engine
            .withdraw_consent(&party, &c.user.name)
            .await
            .map(|_| ()),
        _ => {
            return Problem::invalid("aktion", "Bitte „erteilen“ oder „widerrufen“ wählen.")
                .into_response();
        }
    };
    match r {
        Ok(()) => Redirect::to("/portal/einwilligung").into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
