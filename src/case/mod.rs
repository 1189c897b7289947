//! Cases (Vorgänge): one procedure instance with its file number, data,
//! parties and state, moved on by events that the [`Engine`] checks against
//! the workflow, applies with their effects and records in the journal, all
//! in one transaction.

mod engine;
mod remind;
mod types;

pub use engine::{AuditReport, DeadlineView, Engine, FireRequest, OpenRequest};
pub use remind::{RemindReport, ReminderLine};
pub use types::{Actor, CaseView, EmailAddress, PartyRef};

use crate::catalog::CatalogError;
use crate::store::StoreError;
use crate::workflow::WorkflowError;

/// Why a case operation did not happen. Nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No case with this file number.
    #[error("no case with file number `{0}`")]
    NotFound(String),
    /// The workflow refused the event (role, guard, field, four-eyes ...).
    #[error(transparent)]
    Refused(#[from] WorkflowError),
    /// Workflows could not be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Someone else changed the case in between (optimistic concurrency).
    #[error(
        "case {file_number} was changed by someone else (now at version {actual}, expected {expected}); reload it with `case show` and try again"
    )]
    Conflict {
        file_number: String,
        expected: i64,
        actual: i64,
    },
    /// A deadline could not be computed (e.g. outside the supported years).
    #[error("deadline: {0}")]
    Deadline(#[from] crate::deadline::DeadlineError),
    /// A letter could not be rendered; the message names the template file and line.
    #[error("letter: {0}")]
    Letter(#[from] crate::letter::LetterError),
    /// A letter's data expression in the workflow failed.
    #[error("letter `{template}`: {reason}")]
    LetterData { template: String, reason: String },
    /// The document folder could not be written.
    #[error(transparent)]
    Document(#[from] crate::document::DocumentError),
    /// An input value is malformed.
    #[error("{0}")]
    Input(String),
}

impl CaseError {
    /// True for a lost optimistic-concurrency race: retrying after a reload may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            CaseError::Conflict { .. } | CaseError::Store(StoreError::Conflict { .. })
        )
    }
}
