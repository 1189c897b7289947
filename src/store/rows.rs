//! Row types the store reads and writes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sqlx::any::AnyRow;

use super::{StoreError, get};
use crate::domain::PartyRef;
use crate::domain::{CaseId, DeadlineStatus, FileNumber, StateName};
use crate::journal::{Event, EventKind};

/// A stored workflow version.
#[derive(Debug, Clone)]
pub struct DefinitionRow {
    pub workflow_id: String,
    pub version: i64,
    pub content_hash: String,
    pub source: String,
    pub path: String,
}

impl DefinitionRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            workflow_id: get(r, "workflow_id")?,
            version: get(r, "version")?,
            content_hash: get(r, "content_hash")?,
            source: get(r, "source")?,
            path: get(r, "path")?,
        })
    }
}

/// A case as stored.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: CaseId,
    pub file_number: FileNumber,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub state: StateName,
    pub data: Map<String, Value>,
    /// Who letters go to, by party role (e.g. `applicant`).
    pub parties: BTreeMap<String, PartyRef>,
    /// Bumped by every change: the optimistic-concurrency token.
    pub version: i64,
    pub last_seq: i64,
    pub head_hash: String,
    pub opened_at: String,
    pub updated_at: String,
}

impl CaseRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        let data: String = get(r, "data")?;
        let parties: String = get(r, "parties")?;
        Ok(Self {
            id: CaseId(get(r, "id")?),
            file_number: FileNumber::new(get::<String>(r, "file_number")?),
            workflow_id: get(r, "workflow_id")?,
            workflow_version: get(r, "workflow_version")?,
            state: StateName::new(get::<String>(r, "state")?),
            data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt {
                what: "case data".into(),
                detail: e.to_string(),
            })?,
            parties: serde_json::from_str(&parties).map_err(|e| StoreError::Corrupt {
                what: "case parties".into(),
                detail: e.to_string(),
            })?,
            version: get(r, "version")?,
            last_seq: get(r, "last_seq")?,
            head_hash: get(r, "head_hash")?,
            opened_at: get(r, "opened_at")?,
            updated_at: get(r, "updated_at")?,
        })
    }
}

/// What `insert_case` writes.
pub struct NewCase<'a> {
    pub file_number: &'a str,
    pub workflow_id: &'a str,
    pub workflow_version: i64,
    pub state: &'a str,
    pub data: &'a Map<String, Value>,
    pub parties: &'a BTreeMap<String, PartyRef>,
    pub at: &'a str,
}

/// Which cases `list_cases` returns.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    pub workflow: Option<String>,
    pub state: Option<String>,
    pub limit: i64,
}

impl Default for CaseFilter {
    fn default() -> Self {
        Self {
            workflow: None,
            state: None,
            limit: 1000,
        }
    }
}

/// Reads a status column into its enum.
pub(super) fn status<T: std::str::FromStr<Err = crate::domain::UnknownStatus>>(
    r: &AnyRow,
    col: &str,
) -> Result<T, StoreError> {
    get::<String>(r, col)?
        .parse()
        .map_err(|e: crate::domain::UnknownStatus| StoreError::Corrupt {
            what: format!("column `{col}`"),
            detail: e.to_string(),
        })
}

pub(super) fn event_from_row(r: &AnyRow) -> Result<Event, StoreError> {
    let payload: String = get(r, "payload")?;
    Ok(Event {
        case_id: get(r, "case_id")?,
        seq: get(r, "seq")?,
        recorded_at: get(r, "recorded_at")?,
        actor: get(r, "actor")?,
        role: get(r, "role")?,
        kind: {
            let name: String = get(r, "kind")?;
            EventKind::parse(&name).ok_or_else(|| StoreError::Corrupt {
                what: "event kind".into(),
                detail: format!("`{name}` is no kind of event amtspost records"),
            })?
        },
        transition: get(r, "transition")?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
            what: "event payload".into(),
            detail: e.to_string(),
        })?,
        prev_hash: get(r, "prev_hash")?,
        hash: get(r, "hash")?,
    })
}

/// A deadline as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadlineRow {
    pub id: i64,
    pub case_id: CaseId,
    pub name: String,
    pub title: String,
    pub due_date: String,
    pub status: DeadlineStatus,
    pub set_at: String,
    pub closed_at: Option<String>,
    pub legal_basis: Option<String>,
    pub explanation: Value,
}

impl DeadlineRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        let explanation: String = get(r, "explanation")?;
        Ok(Self {
            id: get(r, "id")?,
            case_id: CaseId(get(r, "case_id")?),
            name: get(r, "name")?,
            title: get(r, "title")?,
            due_date: get(r, "due_date")?,
            status: status(r, "status")?,
            set_at: get(r, "set_at")?,
            closed_at: get(r, "closed_at")?,
            legal_basis: get(r, "legal_basis")?,
            explanation: serde_json::from_str(&explanation).map_err(|e| StoreError::Corrupt {
                what: "deadline explanation".into(),
                detail: e.to_string(),
            })?,
        })
    }
}

/// What `insert_deadline` writes.
pub struct NewDeadline<'a> {
    pub case_id: CaseId,
    pub name: &'a str,
    pub title: &'a str,
    pub due_date: &'a str,
    pub at: &'a str,
    pub legal_basis: Option<&'a str>,
    pub explanation: &'a Value,
}

/// An issued document as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentRow {
    pub id: i64,
    pub case_id: CaseId,
    pub template: String,
    pub template_hash: String,
    pub data_hash: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub recipient: String,
    pub letter_date: String,
    pub created_at: String,
    /// The number allocated in the same transition (e.g. the notice number).
    pub reference: Option<String>,
}

/// A document to record, with its bytes (stored once per content hash).
pub struct NewDocument<'a> {
    pub row: &'a DocumentRow,
    pub pdf: &'a [u8],
}

impl DocumentRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: get(r, "id")?,
            case_id: CaseId(get(r, "case_id")?),
            template: get(r, "template")?,
            template_hash: get(r, "template_hash")?,
            data_hash: get(r, "data_hash")?,
            sha256: get(r, "sha256")?,
            size_bytes: get(r, "size_bytes")?,
            pages: get(r, "pages")?,
            recipient: get(r, "recipient")?,
            letter_date: get(r, "letter_date")?,
            created_at: get(r, "created_at")?,
            reference: get(r, "reference")?,
        })
    }
}
