//! The JSON API under `/api/v1`: the CLI's operations for programs, with
//! the caller's identity instead of `--role`. Every handler is annotated for
//! the OpenAPI document ([`super::openapi`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::HttpState;
use super::access;
use super::auth::{ApiCaller, ClientIp, SESSION_COOKIE, Via};
use super::error::Problem;
use super::extract::{Staff, VisibleCase};
use super::schema::{self, Absence, Document, Mail};
use super::service;
use super::service::{AbsenceRequest, CaseListParams, FireBody};
use crate::case::{AuditReport, CaseView, DeadlineView, OpenRequest, PartyRef};
use crate::deadline::{self, DeadlineSpec, Period};
use crate::journal::Event;
use crate::workflow::{GraphFormat, render_graph};

// ---- session ----

/// Logging in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
}

/// The logged-in user and the token state-changing form posts must carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub user: String,
    pub display_name: String,
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// Send as `X-CSRF-Token` (or the form field `csrf`) with form posts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/session", tag = "Sitzung",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Angemeldet; setzt das Sitzungs-Cookie", body = SessionInfo),
        (status = 401, description = "Falscher Benutzername oder falsches Passwort", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Zu viele Fehlversuche", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<HttpState>,
    ClientIp(addr): ClientIp,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> Result<(CookieJar, Json<SessionInfo>), Problem> {
    let s = state
        .identity
        .login(&req.user, &req.password, &addr.to_string())
        .await?;
    // A new login in the same client ends the session it had.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state.identity.logout(old.value()).await?;
    }
    let info = SessionInfo {
        user: s.user.name.clone(),
        display_name: s.user.display_name.clone(),
        roles: s.user.roles.clone(),
        party: s.user.party.clone(),
        csrf_token: Some(s.csrf_token),
    };
    Ok((jar.add(service::session_cookie(&state, s.id)), Json(info)))
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "Sitzung",
    responses((status = 204, description = "Sitzung beendet (auch serverseitig)"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(state): State<HttpState>,
    jar: CookieJar,
    ApiCaller(caller): ApiCaller,
) -> Result<(CookieJar, StatusCode), Problem> {
    if let Via::Session { id, .. } = &caller.via {
        state.identity.logout(id).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

#[utoipa::path(get, path = "/api/v1/session", tag = "Sitzung",
    responses(
        (status = 200, description = "Wer angemeldet ist", body = SessionInfo),
        (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn whoami(ApiCaller(c): ApiCaller) -> Json<SessionInfo> {
    Json(SessionInfo {
        csrf_token: match &c.via {
            Via::Session { csrf_token, .. } => Some(csrf_token.clone()),
            Via::Token => None,
        },
        user: c.user.name,
        display_name: c.user.display_name,
        roles: c.user.roles,
        party: c.user.party,
    })
}

// ---- workflows ----

/// A workflow in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowSummary {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub description: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = "Verfahren",
    responses((status = 200, description = "Die Verfahren", body = Vec<WorkflowSummary>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json")))]
pub async fn workflows(
    State(state): State<HttpState>,
    _c: ApiCaller,
) -> Json<Vec<WorkflowSummary>> {
    Json(
        state
            .app
            .catalog()
            .definitions()
            .map(|(_, d)| WorkflowSummary {
                id: d.id.clone(),
                version: d.version,
                title: d.title.clone(),
                description: d.description.clone(),
            })
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "Verfahren",
    params(("id" = String, Path, description = "Verfahrens-ID, z. B. ki-foerderantrag")),
    responses((status = 200, description = "Die Definition: Rollen, Beteiligte, Felder, Stände, Schritte, Fristen", body = Object),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Unbekanntes Verfahren", body = Problem, content_type = "application/problem+json")))]
pub async fn workflow(
    State(state): State<HttpState>,
    _c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let def = state
        .app
        .catalog()
        .current(&id)
        .map_err(|_| Problem::not_found(format!("Es gibt kein Verfahren „{id}“.")))?;
    Ok(Json(
        serde_json::to_value(&*def).map_err(|e| Problem::internal(&e))?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GraphParams {
    /// `mermaid` (default) or `dot`
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/graph", tag = "Verfahren",
    params(("id" = String, Path, description = "Verfahrens-ID"), GraphParams),
    responses((status = 200, description = "Der Zustandsgraph als Mermaid oder DOT", body = String, content_type = "text/plain"),
              (status = 400, description = "Unbekanntes Format", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Unbekanntes Verfahren", body = Problem, content_type = "application/problem+json")))]
pub async fn workflow_graph(
    State(state): State<HttpState>,
    _c: ApiCaller,
    Path(id): Path<String>,
    Query(p): Query<GraphParams>,
) -> Result<Response, Problem> {
    let def = state
        .app
        .catalog()
        .current(&id)
        .map_err(|_| Problem::not_found(format!("Es gibt kein Verfahren „{id}“.")))?;
    let format = match p.format.as_deref().unwrap_or("mermaid") {
        "mermaid" => GraphFormat::Mermaid,
        "dot" => GraphFormat::Dot,
        other => {
            return Err(Problem::bad_request(format!(
                "Unbekanntes Format „{other}“; möglich sind mermaid und dot."
            ))
            .field("format"));
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        render_graph(&def, format),
    )
        .into_response())
}

// ---- cases ----

/// A case in the list, with its nearest open deadline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListItem {
    #[serde(flatten)]
    pub case: CaseView,
    /// The nearest open deadline's end (YYYY-MM-DD)
    pub next_due: Option<String>,
}

/// One page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseListItem>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "Vorgänge",
    params(CaseListParams),
    responses((status = 200, description = "Eine Seite Vorgänge, nächste Frist zuerst", body = CasePage),
              (status = 400, description = "Ungültiger Filter", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json")))]
pub async fn list_cases(
    State(state): State<HttpState>,
    ApiCaller(c): ApiCaller,
    Query(p): Query<CaseListParams>,
) -> Result<Json<CasePage>, Problem> {
    let (items, next) = service::page(&state, &c, &p).await?;
    Ok(Json(CasePage {
        items: items
            .into_iter()
            .map(|i| CaseListItem {
                case: i.case,
                next_due: i.next_due,
            })
            .collect(),
        next,
    }))
}

/// Opening a case.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenCaseRequest {
    /// Workflow id, e.g. `ki-foerderantrag`
    pub workflow: String,
    /// Field values
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// Parties by role, e.g. `{"applicant": {"name": "Kreis Unna", "email": "…"}}`
    #[serde(default)]
    pub parties: BTreeMap<String, PartyRef>,
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "Vorgänge",
    request_body = OpenCaseRequest,
    responses((status = 201, description = "Vorgang angelegt", body = CaseView),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Keine Rolle dieses Verfahrens", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Ungültige oder fehlende Angaben", body = Problem, content_type = "application/problem+json")))]
pub async fn open_case(
    State(state): State<HttpState>,
    ApiCaller(c): ApiCaller,
    Json(req): Json<OpenCaseRequest>,
) -> Result<(StatusCode, Json<CaseView>), Problem> {
    let def = state.app.catalog().current(&req.workflow).map_err(|_| {
        Problem::invalid(
            "workflow",
            format!("Es gibt kein Verfahren „{}“.", req.workflow),
        )
    })?;
    let role = access::opening_role(&c.user, &def).ok_or_else(|| {
        Problem::forbidden(format!(
            "Sie haben keine Rolle im Verfahren „{}“, mit der Sie Vorgänge anlegen dürfen.",
            def.title
        ))
    })?;
    let view = state
        .app
        .engine()
        .open(OpenRequest {
            workflow: req.workflow,
            data: req.data,
            parties: req.parties,
            actor: crate::case::Actor::new(c.user.name.clone(), role),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A case as the API shows it to one caller: the case and the steps from
/// its state with whether the caller may take them now (the workflow's
/// answer, [`crate::workflow::Definition::options`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseResponse {
    #[serde(flatten)]
    pub case: CaseView,
    /// Every step from the current state, for the caller: `allowed`, the
    /// German `reason` when not, and the fields it takes.
    pub steps: Vec<crate::workflow::StepOption>,
}

#[utoipa::path(get, path = "/api/v1/cases/{file_number}", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen, z. B. KI-2012-0001")),
    responses((status = 200, description = "Der Vorgang mit den Schritten, die die aufrufende Person jetzt ausführen kann (oder warum nicht)", body = CaseResponse),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json")))]
pub async fn show_case(
    State(state): State<HttpState>,
    vc: VisibleCase,
) -> Result<Json<CaseResponse>, Problem> {
    let steps = state.app.engine().steps(&vc.case, &vc.caller.user).await?;
    Ok(Json(CaseResponse {
        case: vc.case,
        steps,
    }))
}

#[utoipa::path(get, path = "/api/v1/cases/{file_number}/history", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen")),
    responses((status = 200, description = "Das Journal, ältestes Ereignis zuerst, jedes mit Person und Rolle", body = Vec<Event>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json")))]
pub async fn history(
    State(state): State<HttpState>,
    vc: VisibleCase,
) -> Result<Json<Vec<Event>>, Problem> {
    Ok(Json(
        state
            .app
            .engine()
            .history(vc.case.file_number.as_str())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/cases/{file_number}/deadlines", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen")),
    responses((status = 200, description = "Die Fristen mit verbleibenden Tagen und Berechnung", body = Vec<DeadlineView>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json")))]
pub async fn deadlines(
    State(state): State<HttpState>,
    vc: VisibleCase,
) -> Result<Json<Vec<DeadlineView>>, Problem> {
    Ok(Json(
        state
            .app
            .engine()
            .deadlines(vc.case.file_number.as_str())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/cases/{file_number}/documents", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen")),
    responses((status = 200, description = "Die erlassenen Schreiben, jedes mit seinem SHA-256", body = Vec<Document>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json")))]
pub async fn case_documents(
    State(state): State<HttpState>,
    vc: VisibleCase,
) -> Result<Json<Vec<Document>>, Problem> {
    let docs = state
        .app
        .engine()
        .case_documents(vc.case.file_number.as_str())
        .await?;
    Ok(Json(schema::all(service::documents_for(&vc.caller, docs))))
}

#[utoipa::path(post, path = "/api/v1/cases/{file_number}/fire/{transition}", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen"),
           ("transition" = String, Path, description = "Schritt, z. B. eingang_bestaetigen")),
    request_body = FireBody,
    responses((status = 200, description = "Der Vorgang nach dem Schritt", body = CaseView),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Ihre Rolle darf diesen Schritt nicht ausführen", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein solcher (sichtbarer) Vorgang", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Der Vorgang wurde zwischenzeitlich geändert", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Schritt abgelehnt (Voraussetzung, Vier-Augen-Prinzip, Pflichtfeld) mit Feld und Meldung", body = Problem, content_type = "application/problem+json")))]
pub async fn fire(
    State(state): State<HttpState>,
    vc: VisibleCase,
    Path((_, transition)): Path<(String, String)>,
    Json(body): Json<FireBody>,
) -> Result<Json<CaseView>, Problem> {
    let req =
        service::fire_request(&state, &vc.caller, &vc.case, &vc.def, &transition, body).await?;
    Ok(Json(state.app.engine().fire(req).await?))
}

#[utoipa::path(post, path = "/api/v1/cases/{file_number}/preview/{transition}", tag = "Vorgänge",
    params(("file_number" = String, Path, description = "Aktenzeichen"),
           ("transition" = String, Path, description = "Schritt, dessen Schreiben gezeigt wird")),
    request_body = FireBody,
    responses((status = 200, description = "Das erste Schreiben, das der Schritt erlassen würde (nicht gespeichert)", content_type = "application/pdf"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Ihre Rolle darf diesen Schritt nicht ausführen", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein Vorgang oder der Schritt erlässt kein Schreiben", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Der Vorgang wurde zwischenzeitlich geändert", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Schritt wäre abgelehnt", body = Problem, content_type = "application/problem+json")))]
pub async fn preview(
    State(state): State<HttpState>,
    vc: VisibleCase,
    Path((_, transition)): Path<(String, String)>,
    Json(body): Json<FireBody>,
) -> Result<Response, Problem> {
    let req =
        service::fire_request(&state, &vc.caller, &vc.case, &vc.def, &transition, body).await?;
    let letters = state.app.engine().preview(req).await?;
    let Some(first) = letters.into_iter().next() else {
        return Err(Problem::not_found(format!(
            "Der Schritt „{transition}“ erlässt kein Schreiben."
        )));
    };
    Ok(service::pdf_response(
        first.pdf,
        &format!("vorschau_{}.pdf", first.template),
    ))
}

#[utoipa::path(get, path = "/api/v1/documents/{sha256}", tag = "Schreiben",
    params(("sha256" = String, Path, description = "SHA-256 des PDF (64 Hex-Zeichen)")),
    responses((status = 200, description = "Das PDF/A", content_type = "application/pdf"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Kein (sichtbares) Schreiben mit diesem Hash", body = Problem, content_type = "application/problem+json")))]
pub async fn document(
    State(state): State<HttpState>,
    ApiCaller(c): ApiCaller,
    Path(sha256): Path<String>,
) -> Result<Response, Problem> {
    let not_found =
        || Problem::not_found("Es gibt kein Schreiben mit diesem Hash, das Sie sehen dürfen.");
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let owners = state.app.documents().owners(&sha256).await?;
    // The case is read once per owner; a letter to the municipality keeps
    // it for recording the retrieval below.
    let mut allowed = None;
    for (file_number, row) in owners {
        if !c.user.is_municipality() {
            allowed = Some((file_number, row, None));
            break;
        }
        if let Ok((view, _)) = service::visible_case(&state, &c, file_number.as_str()).await {
            let docs = state
                .app
                .engine()
                .case_documents(file_number.as_str())
                .await?;
            if service::documents_for(&c, docs)
                .iter()
                .any(|d| d.sha256 == sha256)
            {
                allowed = Some((file_number, row, Some(view)));
                break;
            }
        }
        // A circular and its enclosures, for the members it went to.
        if let Some(party) = &c.user.party
            && state
                .app
                .engine()
                .read_receipts(file_number.as_str())
                .await?
                .iter()
                .any(|d| &d.party == party)
        {
            allowed = Some((file_number, row, None));
            break;
        }
    }
    let Some((file_number, row, view)) = allowed else {
        return Err(not_found());
    };
    // A municipality's first download of a letter provided for retrieval
    // is its notification (§ 41 Abs. 2a VwVfG NRW): recorded before the
    // bytes leave, so that the record and the retrieval agree.
    if let (true, Some(party), Some(view)) = (c.user.is_municipality(), &c.user.party, &view)
        && let Some(actor) = access::actor_for(&c.user, view)
    {
        state
            .app
            .engine()
            .retrieve(file_number.as_str(), &sha256, &actor, party)
            .await?;
    }
    let bytes = state.app.documents().bytes(&sha256).await?;
    let name = crate::document::export_path(&file_number, &row);
    let name = name
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("schreiben.pdf");
    Ok(service::pdf_response(bytes, name))
}

// ---- outbox, audit, deadlines ----

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxParams {
    /// Only mail that could not be delivered
    pub failed: Option<bool>,
    /// At most this many (1–1000, default 100)
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/outbox", tag = "Postausgang",
    params(OutboxParams),
    responses((status = 200, description = "Mails im Postausgang, mit SMTP-Fehler", body = Vec<Mail>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nur für die Behörde", body = Problem, content_type = "application/problem+json")))]
pub async fn outbox(
    State(state): State<HttpState>,
    _staff: Staff,
    Query(p): Query<OutboxParams>,
) -> Result<Json<Vec<Mail>>, Problem> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            Problem::bad_request("`limit` muss zwischen 1 und 1000 liegen.").field("limit"),
        );
    }
    Ok(Json(schema::all(
        state
            .app
            .courier()
            .list(p.failed.unwrap_or(false), limit)
            .await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "Postausgang",
    params(("id" = i64, Path, description = "Nummer der Mail")),
    responses((status = 204, description = "Erneut eingereiht"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nur für die Behörde", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Die Mail ist nicht fehlgeschlagen", body = Problem, content_type = "application/problem+json")))]
pub async fn outbox_retry(
    State(state): State<HttpState>,
    _staff: Staff,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    service::retry_mail(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "Prüfung",
    responses((status = 200, description = "Alle Hash-Ketten nachgerechnet", body = AuditReport),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nur für die Behörde", body = Problem, content_type = "application/problem+json")))]
pub async fn audit(
    State(state): State<HttpState>,
    _staff: Staff,
) -> Result<Json<AuditReport>, Problem> {
    Ok(Json(state.app.engine().audit(None).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ComputeParams {
    /// Event day, or the posting day with `by_post` (YYYY-MM-DD)
    pub from: String,
    /// Length, e.g. `4W`, `1M`, `14D`
    pub period: String,
    /// Sent by ordinary post: counts from the fictitious notification day
    pub by_post: Option<bool>,
    /// A court deadline (§ 57 VwGO, § 222 ZPO)
    pub court: Option<bool>,
}

/// A computed deadline with its German reasoning.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComputedDeadline {
    /// The last day (YYYY-MM-DD)
    pub end: String,
    /// The reasoning, step by step, in German
    pub explanation: String,
    #[schema(value_type = Object)]
    pub detail: Value,
}

#[utoipa::path(get, path = "/api/v1/deadlines/compute", tag = "Fristen",
    params(ComputeParams),
    responses((status = 200, description = "Fristende mit Begründung", body = ComputedDeadline),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Ungültige Angaben", body = Problem, content_type = "application/problem+json")))]
pub async fn compute_deadline(
    State(state): State<HttpState>,
    _c: ApiCaller,
    Query(p): Query<ComputeParams>,
) -> Result<Json<ComputedDeadline>, Problem> {
    let event = chrono::NaiveDate::parse_from_str(&p.from, "%Y-%m-%d")
        .map_err(|_| Problem::invalid("from", "Kein Datum; bitte JJJJ-MM-TT angeben."))?;
    let period: Period = p
        .period
        .parse()
        .map_err(|_| Problem::invalid("period", "Keine Fristlänge; z. B. 4W, 1M oder 14D."))?;
    let basis = if p.court == Some(true) {
        deadline::Basis::Court
    } else {
        deadline::Basis::Authority
    };
    let computed = deadline::compute_as(
        &DeadlineSpec {
            event,
            period,
            region: state.app.config().region,
            by_post: p.by_post.unwrap_or(false),
            moves: true,
        },
        basis,
    )
    .map_err(|e| Problem::invalid("from", e.to_string()))?;
    Ok(Json(ComputedDeadline {
        end: computed.end.to_string(),
        explanation: computed.to_string(),
        detail: serde_json::to_value(&computed).map_err(|e| Problem::internal(&e))?,
    }))
}

// ---- Arbeitskorb: assignment and absences ----

/// Reassigning cases.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    /// Aktenzeichen of the cases
    pub file_numbers: Vec<String>,
    /// The user who becomes responsible
    pub user: String,
}

/// How many cases were assigned.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    pub assigned: usize,
}

#[utoipa::path(post, path = "/api/v1/cases/assign", tag = "Vorgänge",
    request_body = AssignRequest,
    responses((status = 200, description = "Zugewiesen (im Journal jedes Vorgangs vermerkt)", body = Assigned),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nur für die Leitung", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Ein Vorgang existiert nicht", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Unbekannte Person oder keine Vorgänge", body = Problem, content_type = "application/problem+json")))]
pub async fn assign(
    State(state): State<HttpState>,
    ApiCaller(c): ApiCaller,
    Json(req): Json<AssignRequest>,
) -> Result<Json<Assigned>, Problem> {
    let assigned = service::assign_cases(&state, &c, &req.file_numbers, &req.user).await?;
    Ok(Json(Assigned { assigned }))
}

#[utoipa::path(get, path = "/api/v1/absences", tag = "Vorgänge",
    responses((status = 200, description = "Laufende und künftige Abwesenheiten, an denen ich beteiligt bin", body = Vec<Absence>),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json")))]
pub async fn absences(
    State(state): State<HttpState>,
    ApiCaller(c): ApiCaller,
) -> Result<Json<Vec<Absence>>, Problem> {
    Ok(Json(schema::all(
        state.identity.absences(&c.user.name).await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/absences", tag = "Vorgänge",
    request_body = AbsenceRequest,
    responses((status = 201, description = "Abwesenheit und Vertretung eingetragen"),
              (status = 401, description = "Nicht angemeldet", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Nicht berechtigt", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Ungültige Angaben", body = Problem, content_type = "application/problem+json")))]
pub async fn add_absence_api(
    State(state): State<HttpState>,
    staff: Staff,
    Json(req): Json<AbsenceRequest>,
) -> Result<StatusCode, Problem> {
    service::add_absence(&state, &staff, &req).await?;
    Ok(StatusCode::CREATED)
}
