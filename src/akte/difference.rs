//! The first difference between a case file (as stored, or as an Akte
//! carries it) and what its journal replays to. One comparison for both
//! `audit verify` and `case import`, in a fixed order, so that both name
//! the same item for the same change.

use serde_json::{Map, Value};

use super::CaseFile;
use crate::journal::replay::Replayed;

/// One item that is not what the journal gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Difference {
    /// What differs, e.g. `data.foerderbetrag`, `deadline 2 (nachreichung)`.
    pub item: String,
    /// What is stored, and what the journal gives.
    pub reason: String,
}

fn differ(
    item: impl Into<String>,
    stored: impl std::fmt::Display,
    replayed: impl std::fmt::Display,
) -> Difference {
    Difference {
        item: item.into(),
        reason: format!("gespeichert ist {stored}, aus dem Journal folgt {replayed}"),
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "nichts".into(),
        Some(v) => v.to_string(),
    }
}

/// Compares two values field by field, naming the first path that differs.
fn values(path: &str, stored: &Value, replayed: &Value) -> Option<Difference> {
    match (stored, replayed) {
        (Value::Object(a), Value::Object(b)) => objects(path, a, b),
        _ if stored == replayed => None,
        _ => Some(differ(path, stored, replayed)),
    }
}

fn objects(path: &str, a: &Map<String, Value>, b: &Map<String, Value>) -> Option<Difference> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let item = format!("{path}.{k}");
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => {
                if let Some(d) = values(&item, x, y) {
                    return Some(d);
                }
            }
            (x, y) => {
                // An absent field and a null one are the same datum.
                if x.unwrap_or(&Value::Null) != y.unwrap_or(&Value::Null) {
                    return Some(differ(item, show(x), show(y)));
                }
            }
        }
    }
    None
}

/// The first item of `file` that is not what `r` (its journal's replay)
/// gives, or `None` when every datum agrees. Documents are compared by
/// their rows (the bytes are checked against the hashes elsewhere).
pub fn first_difference(file: &CaseFile, r: &Replayed) -> Option<Difference> {
    let c = &file.case;
    let scalars: [(&str, String, String); 9] = [
        ("file_number", c.file_number.clone(), r.file_number.clone()),
        ("workflow", c.workflow_id.clone(), r.workflow_id.clone()),
        (
            "workflow_version",
            c.workflow_version.to_string(),
            r.workflow_version.to_string(),
        ),
        ("state", c.state.clone(), r.state.clone()),
        ("version", c.version.to_string(), r.version.to_string()),
        ("last_seq", c.last_seq.to_string(), r.last_seq.to_string()),
        ("head_hash", c.head_hash.clone(), r.head_hash.clone()),
        ("opened_at", c.opened_at.clone(), r.opened_at.clone()),
        ("updated_at", c.updated_at.clone(), r.updated_at.clone()),
    ];
    if let Some(d) = first_pair(&|field: &str| field.to_string(), scalars) {
        return Some(d);
    }
    if let Some(d) = objects("data", &c.data, &r.data) {
        return Some(d);
    }
    if let Some(d) = values("parties", &c.parties, &r.parties) {
        return Some(d);
    }
    if let Some(d) = deadlines(file, r) {
        return Some(d);
    }
    if let Some(d) = documents(file, r) {
        return Some(d);
    }
    if let Some(d) = uploads(file, r) {
        return Some(d);
    }
    file.history.as_ref().and_then(|h| history(h, r))
}

/// The outbox's mail, the provisions and the read receipts. A mail's
/// delivery (status, attempts) is not journaled: compared are its kind,
/// recipient and time.
fn history(h: &super::History, r: &Replayed) -> Option<Difference> {
    for (i, (s, x)) in h.provisions.iter().zip(&r.provisions).enumerate() {
        let item = |field: &str| format!("provision {} ({}).{field}", i + 1, x.template);
        let pairs = [
            ("sha256", s.sha256.clone(), x.sha256.clone()),
            ("template", s.template.clone(), x.template.clone()),
            ("party", s.party.clone(), x.party.clone()),
            ("notified_on", s.notified_on.clone(), x.notified_on.clone()),
            ("provided_at", s.provided_at.clone(), x.provided_at.clone()),
            ("status", s.status.clone(), x.status.clone()),
            (
                "retrieved_at",
                format!("{:?}", s.retrieved_at),
                format!("{:?}", x.retrieved_at),
            ),
            (
                "retrieved_by",
                format!("{:?}", s.retrieved_by),
                format!("{:?}", x.retrieved_by),
            ),
            (
                "ended_at",
                format!("{:?}", s.ended_at),
                format!("{:?}", x.ended_at),
            ),
        ];
        if let Some(d) = first_pair(&item, pairs) {
            return Some(d);
        }
    }
    if let Some(d) = count("provisions", h.provisions.len(), r.provisions.len()) {
        return Some(d);
    }
    let mut stored: Vec<_> = h.deliveries.iter().collect();
    stored.sort_by(|a, b| a.party.cmp(&b.party));
    let mut replayed: Vec<_> = r.deliveries.iter().collect();
    replayed.sort_by(|a, b| a.party.cmp(&b.party));
    for (s, x) in stored.iter().zip(&replayed) {
        let item = |field: &str| format!("delivery ({}).{field}", x.party);
        let pairs = [
            ("party", s.party.clone(), x.party.clone()),
            ("queued_at", s.queued_at.clone(), x.queued_at.clone()),
            (
                "read_at",
                format!("{:?}", s.read_at),
                format!("{:?}", x.read_at),
            ),
            (
                "read_by",
                format!("{:?}", s.read_by),
                format!("{:?}", x.read_by),
            ),
        ];
        if let Some(d) = first_pair(&item, pairs) {
            return Some(d);
        }
    }
    if let Some(d) = count("deliveries", stored.len(), replayed.len()) {
        return Some(d);
    }
    let mut mail: Vec<(String, String, String)> = h
        .mail
        .iter()
        .flat_map(|m| {
            m.recipients
                .iter()
                .map(|to| (m.kind.clone(), to.clone(), m.created_at.clone()))
        })
        .collect();
    let mut journaled = r.mail.clone();
    mail.sort();
    journaled.sort();
    if let Some((s, x)) = mail.iter().zip(&journaled).find(|(s, x)| s != x) {
        return Some(differ(
            format!("mail ({} an {})", s.0, s.1),
            format!("{} an {} am {}", s.0, s.1, s.2),
            format!("{} an {} am {}", x.0, x.1, x.2),
        ));
    }
    count("mail", mail.len(), journaled.len())
}

/// The first of `(field, stored, replayed)` that differs, named by `item`.
fn first_pair<const N: usize>(
    item: &dyn Fn(&str) -> String,
    pairs: [(&str, String, String); N],
) -> Option<Difference> {
    pairs
        .into_iter()
        .find(|(_, a, b)| a != b)
        .map(|(field, a, b)| differ(item(field), a, b))
}

fn count(what: &str, stored: usize, replayed: usize) -> Option<Difference> {
    (stored != replayed)
        .then(|| differ(what, format!("{stored} Stück"), format!("{replayed} Stück")))
}

fn deadlines(file: &CaseFile, r: &Replayed) -> Option<Difference> {
    for (i, (s, x)) in file.deadlines.iter().zip(&r.deadlines).enumerate() {
        let item = |field: &str| format!("deadline {} ({}).{field}", i + 1, x.name);
        let pairs = [
            ("name", s.name.clone(), x.name.clone()),
            ("title", s.title.clone(), x.title.clone()),
            ("due_date", s.due_date.clone(), x.due_date.clone()),
            ("status", s.status.clone(), x.status.clone()),
            ("set_at", s.set_at.clone(), x.set_at.clone()),
            (
                "closed_at",
                format!("{:?}", s.closed_at),
                format!("{:?}", x.closed_at),
            ),
            (
                "legal_basis",
                format!("{:?}", s.legal_basis),
                format!("{:?}", x.legal_basis),
            ),
        ];
        if let Some(d) = first_pair(&item, pairs) {
            return Some(d);
        }
        if let Some(d) = values(&item("explanation"), &s.explanation, &x.explanation) {
            return Some(d);
        }
        let mut sent: Vec<(String, String)> = s
            .reminders
            .iter()
            .filter(|m| m.status == "sent")
            .map(|m| (m.step.clone(), m.recipient.clone()))
            .collect();
        let mut journaled = x.reminders_sent.clone();
        sent.sort();
        journaled.sort();
        if sent != journaled {
            return Some(differ(
                item("reminders"),
                format!("{sent:?}"),
                format!("{journaled:?}"),
            ));
        }
    }
    count("deadlines", file.deadlines.len(), r.deadlines.len())
}

fn documents(file: &CaseFile, r: &Replayed) -> Option<Difference> {
    for (i, (s, x)) in file.documents.iter().zip(&r.documents).enumerate() {
        let item = |field: &str| format!("document {} ({}).{field}", i + 1, x.template);
        let pairs = [
            ("template", s.template.clone(), x.template.clone()),
            (
                "template_hash",
                s.template_hash.clone(),
                x.template_hash.clone(),
            ),
            ("data_hash", s.data_hash.clone(), x.data_hash.clone()),
            ("sha256", s.sha256.clone(), x.sha256.clone()),
            ("pages", s.pages.to_string(), x.pages.to_string()),
            ("recipient", s.recipient.clone(), x.recipient.clone()),
            ("letter_date", s.letter_date.clone(), x.letter_date.clone()),
            ("created_at", s.created_at.clone(), x.created_at.clone()),
            (
                "reference",
                format!("{:?}", s.reference),
                format!("{:?}", x.reference),
            ),
        ];
        if let Some(d) = first_pair(&item, pairs) {
            return Some(d);
        }
    }
    count("documents", file.documents.len(), r.documents.len())
}

fn uploads(file: &CaseFile, r: &Replayed) -> Option<Difference> {
    for (i, (s, x)) in file.uploads.iter().zip(&r.uploads).enumerate() {
        let item = |field: &str| format!("upload {} ({}).{field}", i + 1, x.file_name);
        let pairs = [
            ("sha256", s.sha256.clone(), x.sha256.clone()),
            ("file_name", s.file_name.clone(), x.file_name.clone()),
            (
                "size_bytes",
                s.size_bytes.to_string(),
                x.size_bytes.to_string(),
            ),
            ("pages", s.pages.to_string(), x.pages.to_string()),
            ("uploaded_by", s.uploaded_by.clone(), x.uploaded_by.clone()),
            ("party", s.party.clone(), x.party.clone()),
            ("uploaded_at", s.uploaded_at.clone(), x.uploaded_at.clone()),
        ];
        if let Some(d) = first_pair(&item, pairs) {
            return Some(d);
        }
    }
    count("uploads", file.uploads.len(), r.uploads.len())
}
