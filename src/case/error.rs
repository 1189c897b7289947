//! Why a case operation did not happen, sorted by whose move it is: the
//! user's (not found, refused, invalid, conflict) or the server's (a fault).
//! A server maps [`CaseError::kind`] to a status code; the CLI keeps its
//! messages and exit codes.

use crate::catalog::CatalogError;
use crate::domain::{FileNumber, InvalidEmail, InvalidParty};
use crate::store::StoreError;
use crate::workflow::WorkflowError;

/// Why a case operation did not happen. Nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No case with this file number (or none the asker may see).
    #[error("Es gibt keinen Vorgang mit dem Aktenzeichen {0}.")]
    NotFound(FileNumber),
    /// The workflow refused the event (role, guard, four-eyes, required
    /// field ...): [`CaseError::rule`], [`CaseError::field`] and
    /// [`CaseError::hint`] give the details as data.
    #[error(transparent)]
    Refused(#[from] WorkflowError),
    /// An input value is malformed: which field, and why.
    #[error("Die Angabe „{field}“ ist ungültig: {reason}")]
    Invalid { field: String, reason: String },
    /// A case cannot be assigned to someone who has no role that takes a
    /// step of its workflow (the case would wait for nobody).
    #[error(
        "{user} hat im Verfahren „{workflow}“ keine Rolle, mit der Schritte ausgeführt werden können; der Vorgang {file_number} kann ihr oder ihm nicht zugewiesen werden."
    )]
    NotAssignable {
        user: String,
        workflow: String,
        file_number: FileNumber,
    },
    /// Someone else changed the case in between (optimistic concurrency):
    /// either the version the actor saw is stale (`actual` known), or a
    /// concurrent transaction won the race at commit time.
    #[error(
        "Der Vorgang {file_number} wurde inzwischen von jemand anderem geändert ({}erwartet: Stand {expected}). Bitte neu laden (Kommandozeile: case show) und den Schritt wiederholen, wenn er noch passt.",
        .actual.map(|a| format!("jetzt Stand {a}, ")).unwrap_or_default()
    )]
    Conflict {
        file_number: FileNumber,
        expected: i64,
        actual: Option<i64>,
    },
    /// A letter could not be sealed: the signing service, the TSA or a
    /// revocation service is down, or the seal key is unusable. The message
    /// names the service; the step can be fired again later.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// The server's own fault (database, templates, workflow expressions):
    /// logged in full, shown to users without internals.
    #[error(transparent)]
    Internal(#[from] Fault),
}

/// A server-side fault behind [`CaseError::Internal`].
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The database refused or failed.
    #[error(transparent)]
    Store(StoreError),
    /// Workflows could not be loaded.
    #[error(transparent)]
    Catalog(CatalogError),
    /// A deadline could not be computed (e.g. outside the supported years).
    #[error("deadline: {0}")]
    Deadline(#[from] crate::deadline::DeadlineError),
    /// A letter could not be rendered; the message names the template file and line.
    #[error("letter: {0}")]
    Letter(#[from] crate::letter::LetterError),
    /// A letter's data expression in the workflow failed.
    #[error("letter `{template}`: {reason}")]
    LetterData { template: String, reason: String },
    /// A `set` effect's expression failed or gave a value of the wrong type.
    #[error("computing field `{field}`: {reason}")]
    Expression { field: String, reason: String },
    /// A mail template is broken; the message names the file and line.
    #[error(transparent)]
    MailTemplate(crate::mail::MailError),
    /// A render task crashed or was cancelled.
    #[error("letter rendering stopped: {0}")]
    RenderTask(String),
    /// A stored document could not be read.
    #[error(transparent)]
    Document(#[from] crate::document::DocumentError),
}

/// What kind of answer an error deserves (for HTTP status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404
    NotFound,
    /// 403: the actor's role may not do this.
    Forbidden,
    /// 422: the workflow refused (guard, four-eyes, state, required field).
    Refused,
    /// 400/422: malformed input.
    Invalid,
    /// 409: stale version.
    Conflict,
    /// 503: the database is busy or its disk full; nothing was changed.
    Unavailable,
    /// 500
    Internal,
}

impl CaseError {
    /// True for a lost optimistic-concurrency race: retrying after a reload may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, CaseError::Conflict { .. })
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            CaseError::NotFound(_) => ErrorKind::NotFound,
            CaseError::Refused(WorkflowError::WrongRole { .. }) => ErrorKind::Forbidden,
            CaseError::Refused(
                WorkflowError::InvalidField { .. }
                | WorkflowError::UnknownField { .. }
                | WorkflowError::UnknownParty { .. },
            )
            | CaseError::Invalid { .. }
            | CaseError::NotAssignable { .. } => ErrorKind::Invalid,
            CaseError::Refused(WorkflowError::Invalid(_)) => ErrorKind::Internal,
            CaseError::Refused(_) => ErrorKind::Refused,
            CaseError::Conflict { .. } => ErrorKind::Conflict,
            CaseError::Internal(Fault::Store(
                StoreError::Busy { .. } | StoreError::DiskFull { .. },
            )) => ErrorKind::Unavailable,
            CaseError::Seal(e) if e.is_unavailable() => ErrorKind::Unavailable,
            CaseError::Seal(_) => ErrorKind::Internal,
            CaseError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The field a refusal or invalid input is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            CaseError::Invalid { field, .. } => Some(field),
            CaseError::NotAssignable { .. } => Some("user"),
            CaseError::Refused(e) => e.field(),
            _ => None,
        }
    }

    /// The rule that refused, as a stable name (e.g. `guard`, `four_eyes`).
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            CaseError::Refused(e) => Some(e.rule()),
            _ => None,
        }
    }

    /// What the user can do about it, if there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            CaseError::Refused(e) => e.hint(),
            CaseError::Conflict { .. } => {
                Some("Vorgang neu laden und den Schritt wiederholen, wenn er noch passt.".into())
            }
            _ => None,
        }
    }

    /// Input that names a field: `field` and why it was refused.
    pub fn invalid(field: impl Into<String>, reason: impl ToString) -> CaseError {
        CaseError::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<StoreError> for CaseError {
    /// Both ways of losing a race become one [`CaseError::Conflict`].
    fn from(e: StoreError) -> CaseError {
        match e {
            StoreError::Conflict {
                file_number,
                expected,
            } => CaseError::Conflict {
                file_number: FileNumber::new(file_number),
                expected,
                actual: None,
            },
            e => CaseError::Internal(Fault::Store(e)),
        }
    }
}

impl From<CatalogError> for CaseError {
    fn from(e: CatalogError) -> CaseError {
        match e {
            CatalogError::Unknown { .. } => CaseError::invalid("workflow", e),
            CatalogError::Store(s) => s.into(),
            e => CaseError::Internal(Fault::Catalog(e)),
        }
    }
}

impl From<crate::deadline::DeadlineError> for CaseError {
    fn from(e: crate::deadline::DeadlineError) -> CaseError {
        CaseError::Internal(Fault::Deadline(e))
    }
}

impl From<crate::letter::LetterError> for CaseError {
    fn from(e: crate::letter::LetterError) -> CaseError {
        CaseError::Internal(Fault::Letter(e))
    }
}

impl From<InvalidEmail> for CaseError {
    fn from(e: InvalidEmail) -> CaseError {
        CaseError::invalid("email", e)
    }
}

impl From<InvalidParty> for CaseError {
    fn from(e: InvalidParty) -> CaseError {
        CaseError::invalid("parties", e)
    }
}
