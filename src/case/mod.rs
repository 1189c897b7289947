//! Cases (Vorgänge): one procedure instance with its file number, data,
//! parties and state, moved on by events that the [`Engine`] checks against
//! the workflow, applies with their effects and records in the journal, all
//! in one transaction.
//!
//! - `engine`: the services a command needs and what commands share;
//! - `command`: open, fire (the write side);
//! - `effects`: the one interpreter of a transition's effects;
//! - `query`: the read model ([`CaseDetail`] and friends);
//! - `recent`: the rows this process fired last, the next fire's start;
//! - `steps`: what a person may do on a case now, and why not;
//! - `links`: fields and account figures taken from linked cases;
//! - `controlling`: the programme's controlling report over the grants;
//! - `export`: files for other systems (`[exports.*]`, payout orders);
//! - `error`: [`CaseError`], sorted by whose move it is.
//!
//! The reminder pass lives in [`crate::reminders`].

mod command;
mod controlling;
mod effects;
pub(crate) mod engine;
mod error;
mod export;
mod links;
mod portal;
mod query;
mod recent;
mod steps;
mod types;

pub use engine::Engine;
pub use error::{CaseError, ErrorKind, Fault};
pub use export::ExportTable;
pub use portal::{Application, RETRIEVAL_DAYS, UploadOutcome, retrievable_until};
pub use steps::{acting_roles, actor_for, role_refusal, visible_to};
pub use types::{
    Actor, AuditReport, BrokenLinkView, CaseDetail, CaseDifferenceView, CaseView, DeadlineView,
    EmailAddress, FireRequest, OpenRequest, PartyRef, PreviewLetter, WorkItemView,
};
