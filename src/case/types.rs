//! What goes into the case engine (requests) and what comes out (views).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::domain::{EmailAddress, PartyRef};
use crate::domain::{FileNumber, StateName, TransitionName};
use crate::journal::{BrokenLink, Event};
use crate::store::DocumentRow;

/// Who acts: a person and the role they act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    pub name: String,
    pub role: String,
    /// The absent person this one stands in for (Vertretung); recorded in
    /// every event of the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, role: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            role: role.into(),
            on_behalf_of: None,
        }
    }

    /// The actor of automatic steps (reminder pass, expiry).
    pub fn system() -> Actor {
        Actor::new("amtspost", crate::workflow::SYSTEM)
    }
}

/// Opening a case.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub workflow: String,
    pub data: Map<String, Value>,
    pub parties: BTreeMap<String, PartyRef>,
    pub actor: Actor,
}

/// Firing a transition on a case.
#[derive(Debug, Clone)]
pub struct FireRequest {
    pub file_number: FileNumber,
    pub transition: TransitionName,
    pub actor: Actor,
    pub payload: Map<String, Value>,
    /// The case version the actor saw; `None` takes the version read now.
    pub expected_version: Option<i64>,
}

/// A case as shown to a clerk.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The Aktenzeichen.
    pub file_number: FileNumber,
    /// Workflow id and the version the case runs on.
    pub workflow: String,
    pub workflow_version: i64,
    pub workflow_title: String,
    pub state: StateName,
    pub state_title: Option<String>,
    /// True in a final state.
    pub closed: bool,
    /// The optimistic-concurrency token: send it back as `expected_version`.
    pub version: i64,
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    pub parties: BTreeMap<String, PartyRef>,
    /// UTC, RFC 3339.
    pub opened_at: String,
    pub updated_at: String,
    /// Transitions that leave the current state.
    pub available: Vec<String>,
}

/// A deadline as shown with a case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeadlineView {
    pub name: String,
    pub title: String,
    /// The legal end date (YYYY-MM-DD, a calendar date in Berlin).
    pub due_date: String,
    pub status: crate::domain::DeadlineStatus,
    /// Days from today to the end; negative once passed. Only for open deadlines.
    pub days_left: Option<i64>,
    pub legal_basis: Option<String>,
    /// How the end was computed, step by step.
    #[schema(value_type = Object)]
    pub explanation: Value,
}

/// Everything about one case, read from one snapshot: what a case page or
/// `case show` displays.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: CaseView,
    pub deadlines: Vec<DeadlineView>,
    pub history: Vec<Event>,
    pub documents: Vec<DocumentRow>,
    /// The grant's account (`[account]`), with every case booked on it.
    pub account: Option<crate::account::Account>,
}

/// Result of `audit verify`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditReport {
    pub cases: usize,
    pub events: usize,
    pub broken: Vec<BrokenLinkView>,
    /// Cases whose intact journal replays to other rows than stored.
    pub differs: Vec<CaseDifferenceView>,
}

/// A case whose rows are not what its journal gives: the first item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseDifferenceView {
    pub file_number: FileNumber,
    #[serde(flatten)]
    pub difference: crate::akte::Difference,
}

/// A broken link with the case's file number.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokenLinkView {
    pub file_number: FileNumber,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub link: BrokenLink,
}

/// A letter a transition would issue, rendered for preview (not stored).
#[derive(Debug, Clone)]
pub struct PreviewLetter {
    pub template: String,
    /// The party role it would go to.
    pub to: String,
    pub pdf: Vec<u8>,
}

/// A case in a list, with its nearest open deadline.
#[derive(Debug, Clone)]
pub struct WorkItemView {
    pub case: CaseView,
    /// The nearest open deadline's end (YYYY-MM-DD).
    pub next_due: Option<String>,
    /// Keyset position: pass it back to get the next page.
    pub key: (String, i64),
}
