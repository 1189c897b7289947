//! The journal: every change to a case is an append-only event, chained by
//! SHA-256 so that an edited or deleted row is detected by `audit verify`.
//!
//! The hash of an event covers a canonical encoding of all its columns and
//! the previous event's hash. Canonical means: a JSON array in fixed order,
//! object keys sorted, no whitespace, times as RFC 3339 UTC with
//! microseconds. Pure: the store reads and writes the rows.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod replay;

/// The hash a chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of change an event records; stored and hashed as the
/// snake_case name (`fired`, `letter_issued`), so journals written before
/// the kind was typed verify unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Fired,
    NumberAllocated,
    DeadlineSet,
    DeadlineMet,
    DeadlineExpired,
    LetterIssued,
    ReminderQueued,
    MailQueued,
    FieldSet,
    /// The case was assigned to a person (Arbeitskorb).
    Assigned,
    /// A municipality uploaded a document (portal).
    UploadReceived,
    /// A letter provided for retrieval was retrieved for the first time.
    DocumentRetrieved,
    /// A provision ended unretrieved; the letter goes by post.
    ProvisionEnded,
    /// A member read a circular in the portal (read receipt).
    CircularRead,
    /// A running deadline was lifted because it no longer applies.
    DeadlineCancelled,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::Opened,
        EventKind::Fired,
        EventKind::NumberAllocated,
        EventKind::DeadlineSet,
        EventKind::DeadlineMet,
        EventKind::DeadlineExpired,
        EventKind::LetterIssued,
        EventKind::ReminderQueued,
        EventKind::MailQueued,
        EventKind::FieldSet,
        EventKind::Assigned,
        EventKind::UploadReceived,
        EventKind::DocumentRetrieved,
        EventKind::ProvisionEnded,
        EventKind::CircularRead,
        EventKind::DeadlineCancelled,
    ];

    /// The kind a stored name stands for, if amtspost writes it.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Fired => "fired",
            EventKind::NumberAllocated => "number_allocated",
            EventKind::DeadlineSet => "deadline_set",
            EventKind::DeadlineMet => "deadline_met",
            EventKind::DeadlineExpired => "deadline_expired",
            EventKind::LetterIssued => "letter_issued",
            EventKind::ReminderQueued => "reminder_queued",
            EventKind::MailQueued => "mail_queued",
            EventKind::FieldSet => "field_set",
            EventKind::Assigned => "assigned",
            EventKind::UploadReceived => "upload_received",
            EventKind::DocumentRetrieved => "document_retrieved",
            EventKind::ProvisionEnded => "provision_ended",
            EventKind::CircularRead => "circular_read",
            EventKind::DeadlineCancelled => "deadline_cancelled",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A journal row as stored.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub case_id: i64,
    pub seq: i64,
    pub recorded_at: String,
    pub actor: String,
    pub role: String,
    pub kind: EventKind,
    /// The transition's name for `fired` events.
    pub transition: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// An event before it is chained.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub actor: String,
    pub role: String,
    pub kind: EventKind,
    pub transition: Option<String>,
    pub payload: Value,
}

/// Formats a time the way the journal stores and hashes it.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Chains new events onto a case's head: assigns sequence numbers and hashes.
pub fn chain(
    case_id: i64,
    last_seq: i64,
    head: &str,
    at: DateTime<Utc>,
    events: Vec<NewEvent>,
) -> Vec<Event> {
    let recorded_at = timestamp(at);
    let mut prev = head.to_string();
    let mut seq = last_seq;
    events
        .into_iter()
        .map(|e| {
            seq += 1;
            let mut ev = Event {
                case_id,
                seq,
                recorded_at: recorded_at.clone(),
                actor: e.actor,
                role: e.role,
                kind: e.kind,
                transition: e.transition,
                payload: e.payload,
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            ev.hash = hash_of(&ev);
            prev = ev.hash.clone();
            ev
        })
        .collect()
}

/// The hash an event should carry, from its columns and `prev_hash`.
pub fn hash_of(e: &Event) -> String {
    let canonical = Value::Array(vec![
        Value::from(e.case_id),
        Value::from(e.seq),
        Value::from(e.recorded_at.as_str()),
        Value::from(e.actor.as_str()),
        Value::from(e.role.as_str()),
        Value::from(e.kind.as_str()),
        e.transition.as_deref().map_or(Value::Null, Value::from),
        sorted(&e.payload),
        Value::from(e.prev_hash.as_str()),
    ]);
    let mut bytes = Vec::new();
    write_canonical(&canonical, &mut bytes);
    hex::encode(Sha256::digest(&bytes))
}

/// Recursively sorts object keys, whatever map order serde_json was built with.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    // serde_json writes compact JSON; keys are already sorted by `sorted`.
    serde_json::to_writer(out, v).expect("writing JSON to memory cannot fail");
}

/// The first place a case's chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub case_id: i64,
    pub seq: i64,
    pub reason: String,
}

/// Recomputes a case's chain (events in sequence order) against the head
/// hash the case row carries.
pub fn verify(case_id: i64, events: &[Event], head: &str) -> Result<(), BrokenLink> {
    let mut prev = GENESIS.to_string();
    for (expected_seq, e) in (1..).zip(events) {
        let broken = |reason: String| BrokenLink {
            case_id,
            seq: e.seq,
            reason,
        };
        if e.seq != expected_seq {
            return Err(broken(format!(
                "event {} is missing (found {} next): a row was deleted",
                expected_seq, e.seq
            )));
        }
        if e.prev_hash != prev {
            return Err(broken(
                "its previous-hash does not match the event before it".into(),
            ));
        }
        let recomputed = hash_of(e);
        if recomputed != e.hash {
            return Err(broken(
                "its content does not match its hash: the row was changed after it was written"
                    .into(),
            ));
        }
        prev = e.hash.clone();
    }
    if prev != head {
        let last = events.last().map_or(0, |e| e.seq);
        return Err(BrokenLink {
            case_id,
            seq: last + 1,
            reason:
                "the case's head hash does not match its last event: events after it were deleted"
                    .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events() -> Vec<Event> {
        let at = DateTime::parse_from_rfc3339("2012-03-19T08:00:00Z")
            .unwrap()
            .to_utc();
        let mk = |kind, payload| NewEvent {
            actor: "alice".into(),
            role: "clerk".into(),
            kind,
            transition: None,
            payload,
        };
        chain(
            1,
            0,
            GENESIS,
            at,
            vec![
                mk(
                    EventKind::Opened,
                    json!({"b": 1, "a": [1, {"z": 1, "y": 2}]}),
                ),
                mk(EventKind::Fired, json!({})),
                mk(EventKind::LetterIssued, json!({"sha256": "ab"})),
            ],
        )
    }

    #[test]
    fn a_fresh_chain_verifies() {
        let ev = events();
        assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        verify(1, &ev, &ev[2].hash).unwrap();
    }

    #[test]
    fn a_changed_payload_is_caught_at_its_event() {
        let mut ev = events();
        ev[1].payload = json!({"amount": 1});
        let err = verify(1, &ev, &ev[2].hash.clone()).unwrap_err();
        assert_eq!(err.seq, 2);
        assert!(err.reason.contains("changed"));
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        let mut ev = events();
        ev[1].actor = "mallory".into();
        ev[1].hash = hash_of(&ev[1]);
        let err = verify(1, &ev, &ev[2].hash.clone()).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    #[test]
    fn deleted_events_are_caught() {
        let ev = events();
        let head = ev[2].hash.clone();
        let err = verify(1, &[ev[0].clone(), ev[2].clone()], &head).unwrap_err();
        assert_eq!(err.seq, 3);
        let err = verify(1, &ev[..2], &head).unwrap_err();
        assert_eq!(err.seq, 3);
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let mut a = events()[0].clone();
        let h = a.hash.clone();
        a.payload = serde_json::from_str(r#"{"a":[1,{"y":2,"z":1}],"b":1}"#).unwrap();
        assert_eq!(hash_of(&a), h);
    }
}
