//! What a request does that is the same from every door: the JSON API,
//! the office's pages, the portal and the circular composer call these,
//! not each other. Each helper answers a [`Problem`] (German, with the
//! field), which the API sends as problem+json and a page shows at its form.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::HttpState;
use super::access;
use super::auth::{Caller, SESSION_COOKIE};
use super::error::Problem;
use crate::case::{CaseDetail, CaseError, CaseView, FireRequest, WorkItemView};
use crate::domain::{FileNumber, TransitionName};
use crate::store::{DocumentRow, WorkQuery};
use crate::workflow::Definition;

// ---- session ----

/// The session cookie: HttpOnly, SameSite=Strict, Secure behind TLS.
pub(super) fn session_cookie(state: &HttpState, id: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .build()
}

// ---- the cases one may see ----

/// The one answer for a case the caller may not see and for one that does
/// not exist, so that a 404 tells nothing about other municipalities.
fn not_visible(file_number: &str) -> Problem {
    CaseError::NotFound(FileNumber::new(file_number)).into()
}

/// Loads a case the caller may see, with the workflow version it runs on;
/// 404 otherwise. The extractor [`super::extract::VisibleCase`] calls this
/// once per request; handlers take the extractor.
pub(super) async fn visible_case(
    state: &HttpState,
    c: &Caller,
    file_number: &str,
) -> Result<(CaseView, Arc<Definition>), Problem> {
    let view = state.app.engine().show(file_number).await?;
    if !access::sees(&c.user, &view) {
        return Err(not_visible(file_number));
    }
    let def = state
        .app
        .engine()
        .definition(&view.workflow, view.workflow_version)
        .await?;
    Ok((view, def))
}

/// The whole case from one snapshot (deadlines, journal, documents), for a
/// page that shows it all; 404 as [`visible_case`].
pub(super) async fn visible_detail(
    state: &HttpState,
    c: &Caller,
    file_number: &str,
) -> Result<(CaseDetail, Arc<Definition>), Problem> {
    let detail = state.app.engine().detail(file_number).await?;
    if !access::sees(&c.user, &detail.case) {
        return Err(not_visible(file_number));
    }
    let def = state
        .app
        .engine()
        .definition(&detail.case.workflow, detail.case.workflow_version)
        .await?;
    Ok((detail, def))
}

/// The documents of a visible case the caller may see: a municipality
/// only those addressed to it (a document's recipient is the party's name).
pub(super) fn documents_for(c: &Caller, docs: Vec<DocumentRow>) -> Vec<DocumentRow> {
    match (&c.user.party, c.user.is_municipality()) {
        (Some(party), true) => docs.into_iter().filter(|d| &d.recipient == party).collect(),
        (None, true) => Vec::new(),
        _ => docs,
    }
}

/// What a page shows of a document's seal: who sealed, when (the
/// time-stamp's time if there is one), and whether it is valid now; `None`
/// for an unsealed document (or one that cannot be read: the page still
/// lists it).
pub(super) async fn seal_view(state: &HttpState, sha256: &str) -> Option<minijinja::Value> {
    let reports = state.app.seals(sha256).await.ok()?;
    let r = reports.first()?;
    let when = r
        .timestamp
        .as_deref()
        .or(r.signed_at.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Berlin)
                .format("%d.%m.%Y %H:%M Uhr")
                .to_string()
        });
    Some(minijinja::context! {
        signer => r.signer.clone().unwrap_or_else(|| "(unbekannt)".into()),
        organization => r.organization.clone(),
        when => when,
        level => r.level.clone(),
        valid => r.valid(),
        problems => r.problems.clone(),
    })
}

// ---- lists ----

/// Filters and paging of the case list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
pub struct CaseListParams {
    /// Only cases of this workflow
    pub workflow: Option<String>,
    /// Only cases in this state
    pub state: Option<String>,
    /// Only cases in which this party takes part (e.g. `Kreis Unna`)
    pub party: Option<String>,
    /// Only file numbers containing this text
    pub q: Option<String>,
    /// Only cases with an open deadline ending on or before this date (YYYY-MM-DD)
    pub due_until: Option<String>,
    /// Only cases in which the caller can act now
    pub mine: Option<bool>,
    /// The `next` cursor of the previous page
    pub after: Option<String>,
    /// Page size (1–500, default 50)
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Builds the store query for a caller: a municipality user always sees
/// only their own cases.
async fn work_query(
    state: &HttpState,
    c: &Caller,
    p: &CaseListParams,
) -> Result<WorkQuery, Problem> {
    if let Some(l) = p.limit
        && !(1..=500).contains(&l)
    {
        return Err(Problem::bad_request("`limit` muss zwischen 1 und 500 liegen.").field("limit"));
    }
    let after = match &p.after {
        None => None,
        Some(s) => Some(parse_cursor(s).ok_or_else(|| {
            Problem::bad_request("Der Blätter-Verweis `after` ist ungültig.").field("after")
        })?),
    };
    if let Some(d) = &p.due_until
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(
            Problem::bad_request("`due_until` ist kein Datum (JJJJ-MM-TT).").field("due_until"),
        );
    }
    let party = if c.user.is_municipality() {
        Some(c.user.party.clone().unwrap_or_default())
    } else {
        p.party.clone().filter(|s| !s.is_empty())
    };
    let mine = p.mine == Some(true) && !c.user.is_municipality();
    let actionable = mine.then(|| {
        access::actionable_states(
            &c.user,
            state.app.catalog().definitions().map(|(_, d)| &**d),
        )
    });
    // My Arbeitskorb: my cases, those of whom I stand in for, and unassigned ones.
    let assignees = if mine {
        let mut users = state.identity.stands_in_for(&c.user.name).await?;
        users.push(c.user.name.clone());
        Some(users)
    } else {
        None
    };
    Ok(WorkQuery {
        actionable,
        workflow: p.workflow.clone().filter(|s| !s.is_empty()),
        state: p.state.clone().filter(|s| !s.is_empty()),
        party,
        assignees,
        file_number: p.q.clone().filter(|s| !s.is_empty()),
        due_until: p.due_until.clone().filter(|s| !s.is_empty()),
        after,
        limit: p.limit.unwrap_or(50).clamp(1, 500),
    })
}

/// One page of the cases the caller may see, and the cursor of the next
/// page. The store filters a municipality by its party; the visibility
/// rule is applied once more here so that no door can forget it.
pub(super) async fn page(
    state: &HttpState,
    c: &Caller,
    p: &CaseListParams,
) -> Result<(Vec<WorkItemView>, Option<String>), Problem> {
    let wq = work_query(state, c, p).await?;
    let items = state.app.engine().work_items(&wq).await?;
    // The cursor comes from the store's page, before filtering, so that
    // paging does not skip cases.
    let next = (items.len() as i64 == wq.limit)
        .then(|| items.last().map(|i| cursor(&i.key)))
        .flatten();
    let items = items
        .into_iter()
        .filter(|i| access::sees(&c.user, &i.case))
        .collect();
    Ok((items, next))
}

fn cursor((due, id): &(String, i64)) -> String {
    format!("{due}~{id}")
}

fn parse_cursor(s: &str) -> Option<(String, i64)> {
    let (due, id) = s.split_once('~')?;
    chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").ok()?;
    Some((due.to_string(), id.parse().ok()?))
}

// ---- steps ----

/// Firing a transition.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FireBody {
    /// The case version the caller saw (409 if it changed since)
    pub expected_version: Option<i64>,
    /// Field values the step sets
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

/// Builds the engine request for a caller on a case already loaded (and
/// checked visible) by the extractor: the role comes from the caller's
/// identity, never from the request. The case row is not read again.
pub(super) async fn fire_request(
    state: &HttpState,
    c: &Caller,
    view: &CaseView,
    def: &Definition,
    transition: &str,
    body: FireBody,
) -> Result<FireRequest, Problem> {
    // A step the person's roles do not allow is refused here (403); every
    // other rule, and what the request may give, is the engine's to check
    // when it fires.
    if let Some(reason) = crate::case::role_refusal(def, &c.user, view, transition) {
        return Err(Problem::forbidden(format!(
            "Den Schritt „{}“ dürfen Sie in diesem Vorgang nicht ausführen. {reason}",
            def.transition_title(transition)
        ))
        .field("transition"));
    }
    let mut actor = crate::case::actor_for(&c.user, view, transition, def).ok_or_else(|| {
        Problem::forbidden("Sie haben in diesem Vorgang keine Rolle.".to_string())
    })?;
    // Working an absent colleague's case: the journal names both.
    if let Some(assignee) = state
        .app
        .engine()
        .assignee(view.file_number.as_str())
        .await?
        && assignee != c.user.name
        && state
            .identity
            .stands_in_for(&c.user.name)
            .await?
            .contains(&assignee)
    {
        actor.on_behalf_of = Some(assignee);
    }
    Ok(FireRequest {
        file_number: view.file_number.clone(),
        transition: TransitionName::new(transition),
        actor,
        payload: body.data,
        expected_version: body.expected_version,
    })
}

/// A PDF answered inline under a file name (letters, uploads, previews).
pub(super) fn pdf_response(pdf: Vec<u8>, filename: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    (headers, pdf).into_response()
}

/// A PDF people upload, answered as a download (`attachment`), never shown
/// inline: its name in RFC 6266/5987 form (`filename*=UTF-8''…`) with an
/// ASCII fallback.
pub(super) fn pdf_download(pdf: Vec<u8>, filename: &str) -> Response {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
        .replace('*', "%2A");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    (headers, pdf).into_response()
}

// ---- outbox ----

/// Queues a failed mail again; 409 for one that did not fail (the API and
/// the Postausgang page alike).
pub(super) async fn retry_mail(state: &HttpState, id: i64) -> Result<(), Problem> {
    match state.app.courier().retry(id).await {
        Ok(()) => Ok(()),
        Err(crate::outbox::OutboxError::NotFailed(_)) => {
            Err(
                Problem::new(StatusCode::CONFLICT, "Nicht fehlgeschlagen").detail(format!(
                    "Die Mail {id} ist nicht fehlgeschlagen oder existiert nicht."
                )),
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Arbeitskorb: assignment and absences ----

/// Assigns cases to a person (office leads only); shared by the API and
/// the Arbeitskorb.
pub(super) async fn assign_cases(
    state: &HttpState,
    c: &Caller,
    file_numbers: &[String],
    user: &str,
) -> Result<usize, Problem> {
    if !access::is_lead(&c.user) {
        return Err(Problem::forbidden(
            "Nur die Leitung kann Vorgänge zuweisen.",
        ));
    }
    let target = state
        .identity
        .user(user)
        .await
        .map_err(|_| Problem::invalid("user", format!("Es gibt keine Person „{user}“.")))?;
    if target.disabled || target.is_municipality() {
        return Err(Problem::invalid(
            "user",
            "Vorgänge können nur aktiven Beschäftigten der Behörde zugewiesen werden.",
        ));
    }
    if file_numbers.is_empty() {
        return Err(Problem::invalid(
            "file_numbers",
            "Bitte mindestens einen Vorgang auswählen.",
        ));
    }
    let numbers: Vec<FileNumber> = file_numbers.iter().map(FileNumber::new).collect();
    let by = crate::case::Actor::new(c.user.name.clone(), crate::identity::LEAD);
    Ok(state
        .app
        .engine()
        .assign(&numbers, user, &target.roles, &by)
        .await?)
}

/// Recording an absence.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AbsenceRequest {
    /// Who is away (default: the caller; others only for the office lead)
    pub absent: Option<String>,
    /// Who works the Arbeitskorb meanwhile
    pub substitute: String,
    /// First day (YYYY-MM-DD)
    pub from: String,
    /// Last day, inclusive (YYYY-MM-DD)
    pub until: String,
}

/// Records an absence; shared by the API and the Vertretung page. Taking
/// an [`super::extract::Staff`] means only office staff get here.
pub(super) async fn add_absence(
    state: &HttpState,
    staff: &super::extract::Staff,
    req: &AbsenceRequest,
) -> Result<(), Problem> {
    let c = &staff.0;
    let absent = req
        .absent
        .clone()
        .filter(|a| !a.is_empty())
        .unwrap_or(c.user.name.clone());
    if absent != c.user.name && !access::is_lead(&c.user) {
        return Err(Problem::forbidden(
            "Abwesenheiten anderer trägt die Leitung ein.",
        ));
    }
    let date = |field: &'static str, s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Problem::invalid(field, "Bitte ein Datum angeben (TT.MM.JJJJ)."))
    };
    let (from, until) = (date("from", &req.from)?, date("until", &req.until)?);
    state
        .identity
        .add_absence(&absent, &req.substitute, from, until)
        .await?;
    Ok(())
}
