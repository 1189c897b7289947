//! Errors as RFC 9457 problem details (`application/problem+json`): the
//! status says whose move it is, `title` and `detail` are German and name
//! the field or rule, and a server fault shows no internals (it is logged).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::german;
use crate::case::{CaseError, ErrorKind};
use crate::identity::IdentityError;

/// A problem detail. Extension members carry the field, the rule and a hint
/// as data, so that a client (and the web UI) can show them at the field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The input field the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The workflow rule that refused (`guard`, `four_eyes`, `role`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What the user can do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Seconds to wait (429).
    #[serde(skip)]
    pub retry_after: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, title: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://amtspost.example/probleme/{}", status.as_u16()),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            field: None,
            rule: None,
            hint: None,
            retry_after: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized() -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "Anmeldung erforderlich")
            .detail("Bitte melden Sie sich an (Sitzung oder Authorization: Bearer TOKEN).")
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "Keine Berechtigung").detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "Nicht gefunden").detail(detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "Ungültige Anfrage").detail(detail)
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Ungültige Eingabe")
            .detail(detail)
            .field(field)
    }

    /// A server fault: logged with its cause, shown without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "request failed");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Interner Fehler").detail(
            "Der Vorgang konnte wegen eines Fehlers des Servers nicht ausgeführt werden; es wurde nichts geändert. Die Ursache ist protokolliert.",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = self.retry_after;
        let mut resp = (status, axum::Json(&self)).into_response();
        // For the page layer, which shows a browser the problem as a page.
        resp.extensions_mut().insert(self.clone());
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<CaseError> for Problem {
    fn from(e: CaseError) -> Problem {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Refused | ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => return Problem::internal(&e),
        };
        let title = match e.kind() {
            ErrorKind::NotFound => "Nicht gefunden",
            ErrorKind::Forbidden => "Keine Berechtigung",
            ErrorKind::Refused => "Schritt abgelehnt",
            ErrorKind::Invalid => "Ungültige Eingabe",
            ErrorKind::Conflict => "Zwischenzeitlich geändert",
            ErrorKind::Unavailable => "Vorübergehend nicht möglich",
            ErrorKind::Internal => unreachable!(),
        };
        Problem {
            detail: Some(german::case_error(&e)),
            field: e.field().map(str::to_string),
            rule: e.rule().map(str::to_string),
            hint: german::case_hint(&e),
            ..Problem::new(status, title)
        }
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Problem {
        match e {
            IdentityError::BadCredentials => {
                Problem::new(StatusCode::UNAUTHORIZED, "Anmeldung fehlgeschlagen")
                    .detail(e.to_string())
            }
            IdentityError::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "Zu viele Versuche")
                    .detail(e.to_string())
            },
            IdentityError::NoSuchUser(_) => Problem::not_found("Diese Person ist nicht bekannt."),
            IdentityError::Absence { field, message } => Problem::invalid(field, message),
            e => Problem::internal(&e),
        }
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        Problem::internal(&e)
    }
}

impl From<crate::outbox::OutboxError> for Problem {
    fn from(e: crate::outbox::OutboxError) -> Problem {
        Problem::internal(&e)
    }
}

impl From<crate::document::DocumentError> for Problem {
    fn from(e: crate::document::DocumentError) -> Problem {
        Problem::internal(&e)
    }
}

/// Gives axum's own refusals of a request (rejections of a malformed
/// query, path or body, which answer in English plain text) the form of
/// every other error: a German problem detail with the same status (which
/// `view::problem_page` shows a browser as a page).
pub async fn as_problem(resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if status == StatusCode::NOT_FOUND && body.is_empty() {
        return Problem::not_found("Diese Adresse gibt es nicht.").into_response();
    }
    let title = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Falscher Inhaltstyp",
        StatusCode::METHOD_NOT_ALLOWED => "Methode nicht erlaubt",
        StatusCode::PAYLOAD_TOO_LARGE => "Inhalt zu groß",
        StatusCode::UNPROCESSABLE_ENTITY => "Ungültige Eingabe",
        _ => "Ungültige Anfrage",
    };
    // axum's text is English: keep what it names (field, position), in German.
    let mut p = Problem::new(status, title);
    if !body.is_empty() {
        p = p.detail(super::german::rejection(&body));
    }
    p.into_response()
}
