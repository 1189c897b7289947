//! Replaying a case's journal under the workflow version it runs on: what
//! the case row, its deadlines, letters and uploads must be if nothing but
//! the engine wrote them. `audit verify` compares the replay with the stored
//! rows, `case import` with the Akte's `akte.json`, so that a row changed
//! behind the engine's back (an `UPDATE cases SET data = …`, a forged
//! `akte.json` with a consistent manifest) is found: the journal's hash
//! chain protects the events, the replay carries that protection to what the
//! events produced.
//!
//! Pure: the caller reads the events and the definition. One pass over the
//! events, no rendering: a letter's bytes are the ones its `letter_issued`
//! event hashed. A deadline's end is recomputed with the deadline
//! calculator from the workflow's definition of it and the case data as the
//! replay has them at its `deadline_set` event, on the event's day (the
//! engine sets it with the same function, [`DeadlineDef::end`]); an end the
//! journal records otherwise (a journal forged with a consistent hash chain,
//! a calculator that changed since) is refused, naming the deadline. The
//! reasoning kept is the journaled one.
//!
//! [`DeadlineDef::end`]: crate::workflow::DeadlineDef::end

use chrono::DateTime;
use serde_json::{Map, Value};

use super::{Event, EventKind};
use crate::deadline::Region;
use crate::workflow::Definition;

/// What the journal says the case is.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub file_number: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub state: String,
    pub data: Map<String, Value>,
    pub parties: Value,
    /// One per write: the open, each fire, each appended step.
    pub version: i64,
    pub last_seq: i64,
    pub head_hash: String,
    pub opened_at: String,
    pub updated_at: String,
    pub deadlines: Vec<ReplayedDeadline>,
    pub documents: Vec<ReplayedDocument>,
    pub uploads: Vec<ReplayedUpload>,
    /// Letters provided in the portal, as provided, retrieved, ended.
    pub provisions: Vec<ReplayedProvision>,
    /// Circulars delivered to members, with their read receipts.
    pub deliveries: Vec<ReplayedDelivery>,
    /// The mail each step queued: (kind, recipient, when).
    pub mail: Vec<(String, String, String)>,
}

/// A letter provided for retrieval in the portal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayedProvision {
    pub sha256: String,
    pub template: String,
    pub party: String,
    pub notified_on: String,
    pub provided_at: String,
    pub status: String,
    pub retrieved_at: Option<String>,
    pub retrieved_by: Option<String>,
    pub ended_at: Option<String>,
}

/// A circular delivered to a member.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayedDelivery {
    pub party: String,
    pub queued_at: String,
    pub read_at: Option<String>,
    pub read_by: Option<String>,
}

/// A deadline as its events set and closed it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedDeadline {
    pub name: String,
    pub title: String,
    pub due_date: String,
    pub status: String,
    pub set_at: String,
    pub closed_at: Option<String>,
    pub legal_basis: Option<String>,
    pub explanation: Value,
    /// Reminders sent for it: (step, recipient), as journaled.
    pub reminders_sent: Vec<(String, String)>,
}

/// An issued letter as its `letter_issued` event recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedDocument {
    pub template: String,
    pub template_hash: String,
    pub data_hash: String,
    pub sha256: String,
    pub pages: i64,
    /// The recipient party's name.
    pub recipient: String,
    pub letter_date: String,
    pub created_at: String,
    /// The number allocated before it in the same step (e.g. the notice number).
    pub reference: Option<String>,
}

/// An upload as its `upload_received` event recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedUpload {
    pub sha256: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub uploaded_by: String,
    pub party: String,
    pub uploaded_at: String,
}

/// An event the workflow version cannot have produced, or one that lacks
/// what the replay needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Ereignis {seq} ({what}): {reason}")]
pub struct ReplayError {
    pub seq: i64,
    pub what: String,
    pub reason: String,
}

/// Replays `events` (one case's journal, in order) under `def`; deadlines
/// end by the holidays of `region` (the configured `region`).
pub fn replay(def: &Definition, region: Region, events: &[Event]) -> Result<Replayed, ReplayError> {
    let Some(first) = events.first() else {
        return Err(ReplayError {
            seq: 0,
            what: "journal".into(),
            reason: "das Journal ist leer".into(),
        });
    };
    let fail = |e: &Event, reason: String| ReplayError {
        seq: e.seq,
        what: match &e.transition {
            Some(t) => format!("{} {t}", e.kind),
            None => e.kind.to_string(),
        },
        reason,
    };
    if first.kind != EventKind::Opened {
        return Err(fail(first, "das erste Ereignis ist keine Eröffnung".into()));
    }
    let p = &first.payload;
    let text = |v: &Value, key: &str| v[key].as_str().map(str::to_owned);
    let mut r = Replayed {
        file_number: text(p, "file_number").unwrap_or_default(),
        workflow_id: text(p, "workflow").unwrap_or_default(),
        workflow_version: p["workflow_version"].as_i64().unwrap_or_default(),
        state: text(p, "state").unwrap_or_default(),
        data: p["data"].as_object().cloned().unwrap_or_default(),
        parties: p["parties"].clone(),
        version: 0,
        last_seq: 0,
        head_hash: String::new(),
        opened_at: first.recorded_at.clone(),
        updated_at: first.recorded_at.clone(),
        deadlines: Vec::new(),
        documents: Vec::new(),
        uploads: Vec::new(),
        provisions: Vec::new(),
        deliveries: Vec::new(),
        mail: Vec::new(),
    };
    if (r.workflow_id.as_str(), r.workflow_version) != (def.id.as_str(), def.version) {
        return Err(fail(
            first,
            format!(
                "eröffnet unter {} Version {}, nachgespielt wird {} Version {}",
                r.workflow_id, r.workflow_version, def.id, def.version
            ),
        ));
    }
    let mut reference: Option<String> = None;
    let mut previous: Option<&Event> = None;
    // The running deadline of each name, by position: a journal of many
    // deadlines replays in linear time.
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in events {
        if starts_write(previous, e) {
            r.version += 1;
            reference = None;
        }
        previous = Some(e);
        let p = &e.payload;
        match e.kind {
            EventKind::Opened => {
                if e.seq != first.seq {
                    return Err(fail(e, "eine zweite Eröffnung".into()));
                }
            }
            EventKind::Fired => fire(def, &mut r, e).map_err(|reason| fail(e, reason))?,
            EventKind::FieldSet => {
                let field = text(p, "field").ok_or_else(|| fail(e, "ohne Feld".into()))?;
                r.data.insert(field, p["value"].clone());
            }
            EventKind::NumberAllocated => {
                let field = text(p, "field").ok_or_else(|| fail(e, "ohne Feld".into()))?;
                let number = text(p, "number").ok_or_else(|| fail(e, "ohne Nummer".into()))?;
                r.data.insert(field, Value::String(number.clone()));
                reference = Some(number);
            }
            EventKind::LetterIssued => {
                let to = text(p, "recipient").unwrap_or_default();
                let recipient = r.parties[to.as_str()]["name"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        fail(e, format!("an die Partei `{to}`, die der Fall nicht hat"))
                    })?;
                let letter_date = berlin_date(&e.recorded_at).map_err(|reason| fail(e, reason))?;
                let by_retrieval = p["channel"]["notification"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Abruf"));
                if by_retrieval && let Some(ret) = &def.retrieval {
                    r.data
                        .insert(ret.provided.clone(), Value::String(letter_date.clone()));
                }
                if by_retrieval {
                    r.provisions.push(ReplayedProvision {
                        sha256: text(p, "sha256").unwrap_or_default(),
                        template: text(p, "template").unwrap_or_default(),
                        party: recipient.clone(),
                        notified_on: letter_date.clone(),
                        provided_at: e.recorded_at.clone(),
                        status: "bereitgestellt".into(),
                        retrieved_at: None,
                        retrieved_by: None,
                        ended_at: None,
                    });
                }
                if p["channel"]["mail"].as_str().is_some_and(|m| m != "keine") {
                    let email = r.parties[to.as_str()]["email"].as_str().unwrap_or_default();
                    let kind = if by_retrieval { "provision" } else { "letter" };
                    r.mail
                        .push((kind.into(), email.into(), e.recorded_at.clone()));
                }
                r.documents.push(ReplayedDocument {
                    template: text(p, "template").unwrap_or_default(),
                    template_hash: text(p, "template_hash").unwrap_or_default(),
                    data_hash: text(p, "data_hash").unwrap_or_default(),
                    sha256: text(p, "sha256").unwrap_or_default(),
                    pages: p["pages"].as_i64().unwrap_or_default(),
                    recipient,
                    letter_date,
                    created_at: e.recorded_at.clone(),
                    reference: reference.clone(),
                });
            }
            EventKind::DeadlineSet => {
                let name = text(p, "deadline").unwrap_or_default();
                let d = def.deadlines.get(&name).ok_or_else(|| {
                    fail(e, format!("die Frist `{name}` kennt das Verfahren nicht"))
                })?;
                let due = text(p, "due").unwrap_or_default();
                recompute(def, d, region, &r.data, e, &due).map_err(|reason| fail(e, reason))?;
                close(
                    &mut r.deadlines,
                    &mut open,
                    &name,
                    "superseded",
                    &e.recorded_at,
                );
                open.insert(name.clone(), r.deadlines.len());
                r.deadlines.push(ReplayedDeadline {
                    name,
                    title: d.title.clone(),
                    due_date: due,
                    status: "open".into(),
                    set_at: e.recorded_at.clone(),
                    closed_at: None,
                    legal_basis: d.legal_basis.clone(),
                    explanation: p["explanation"].clone(),
                    reminders_sent: Vec::new(),
                });
            }
            EventKind::DeadlineMet => {
                let name = text(p, "deadline").unwrap_or_default();
                if !close(&mut r.deadlines, &mut open, &name, "met", &e.recorded_at) {
                    return Err(fail(e, format!("die Frist `{name}` läuft nicht")));
                }
            }
            EventKind::DeadlineCancelled => {
                let name = text(p, "deadline").unwrap_or_default();
                if !close(
                    &mut r.deadlines,
                    &mut open,
                    &name,
                    "cancelled",
                    &e.recorded_at,
                ) {
                    return Err(fail(e, format!("die Frist `{name}` läuft nicht")));
                }
            }
            EventKind::DeadlineExpired => {
                let name = text(p, "deadline").unwrap_or_default();
                let status = def
                    .deadlines
                    .get(&name)
                    .map(|d| d.kind.expired_status().to_string())
                    .ok_or_else(|| {
                        fail(e, format!("die Frist `{name}` kennt das Verfahren nicht"))
                    })?;
                // The escalation is recorded with the deadline's reminders
                // (step `expired`), in the same transaction as this event.
                let escalated: Vec<String> = p["escalated_to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|to| to.as_str().unwrap_or_default().to_string())
                    .collect();
                if let Some(running) = open.get(&name).and_then(|&i| r.deadlines.get_mut(i)) {
                    running.reminders_sent.extend(
                        escalated
                            .iter()
                            .map(|to| ("expired".to_string(), to.clone())),
                    );
                }
                if !close(&mut r.deadlines, &mut open, &name, &status, &e.recorded_at) {
                    return Err(fail(e, format!("die Frist `{name}` läuft nicht")));
                }
                for to in escalated {
                    r.mail
                        .push(("escalation".into(), to, e.recorded_at.clone()));
                }
            }
            EventKind::ReminderQueued => {
                let name = text(p, "deadline").unwrap_or_default();
                let running = open
                    .get(&name)
                    .and_then(|&i| r.deadlines.get_mut(i))
                    .ok_or_else(|| fail(e, format!("die Frist `{name}` läuft nicht")))?;
                let to = text(p, "to").unwrap_or_default();
                running
                    .reminders_sent
                    .push((text(p, "step").unwrap_or_default(), to.clone()));
                r.mail.push(("reminder".into(), to, e.recorded_at.clone()));
            }
            EventKind::UploadReceived => r.uploads.push(ReplayedUpload {
                sha256: text(p, "sha256").unwrap_or_default(),
                file_name: text(p, "file_name").unwrap_or_default(),
                size_bytes: p["size_bytes"].as_i64().unwrap_or_default(),
                pages: p["pages"].as_i64().unwrap_or_default(),
                uploaded_by: e.actor.clone(),
                party: text(p, "party").unwrap_or_default(),
                uploaded_at: e.recorded_at.clone(),
            }),
            EventKind::MailQueued => {
                for to in p["recipients"].as_array().into_iter().flatten() {
                    let party = to["name"].as_str().unwrap_or_default();
                    if !r.deliveries.iter().any(|d| d.party == party) {
                        r.deliveries.push(ReplayedDelivery {
                            party: party.into(),
                            queued_at: e.recorded_at.clone(),
                            read_at: None,
                            read_by: None,
                        });
                    }
                    let email = to["email"].as_str().unwrap_or_default();
                    r.mail
                        .push(("distribution".into(), email.into(), e.recorded_at.clone()));
                }
            }
            EventKind::CircularRead => {
                let member = text(p, "member").unwrap_or_default();
                let d = r
                    .deliveries
                    .iter_mut()
                    .find(|d| d.party == member && d.read_at.is_none())
                    .ok_or_else(|| fail(e, format!("an {member} ging kein Rundschreiben")))?;
                d.read_at = Some(e.recorded_at.clone());
                d.read_by = Some(e.actor.clone());
            }
            EventKind::DocumentRetrieved | EventKind::ProvisionEnded => {
                let sha = text(p, "sha256").unwrap_or_default();
                let provision = r
                    .provisions
                    .iter_mut()
                    .find(|x| x.sha256 == sha && x.status == "bereitgestellt")
                    .ok_or_else(|| fail(e, "das Schreiben ist nicht bereitgestellt".into()))?;
                if e.kind == EventKind::DocumentRetrieved {
                    provision.status = "abgerufen".into();
                    provision.retrieved_at = Some(e.recorded_at.clone());
                    provision.retrieved_by = Some(e.actor.clone());
                } else {
                    provision.status = "beendet".into();
                    provision.ended_at = Some(e.recorded_at.clone());
                }
            }
            EventKind::Assigned => {}
        }
    }
    let last = events.last().expect("not empty");
    r.last_seq = last.seq;
    r.head_hash = last.hash.clone();
    r.updated_at = last.recorded_at.clone();
    Ok(r)
}

/// Whether `e` is the first event of a write (the engine writes a case
/// once per open, fire or appended step, each write raising its version;
/// effects' events follow their step's `fired`). Reminders of one deadline
/// queued in one pass are one write.
fn starts_write(previous: Option<&Event>, e: &Event) -> bool {
    match e.kind {
        EventKind::Opened
        | EventKind::Fired
        | EventKind::Assigned
        | EventKind::UploadReceived
        | EventKind::DocumentRetrieved
        | EventKind::ProvisionEnded
        | EventKind::CircularRead
        | EventKind::DeadlineExpired => true,
        EventKind::ReminderQueued => previous.is_none_or(|p| {
            p.kind != EventKind::ReminderQueued
                || p.recorded_at != e.recorded_at
                || p.payload["deadline"] != e.payload["deadline"]
        }),
        EventKind::NumberAllocated
        | EventKind::DeadlineSet
        | EventKind::DeadlineMet
        | EventKind::DeadlineCancelled
        | EventKind::LetterIssued
        | EventKind::MailQueued
        | EventKind::FieldSet => previous.is_none(),
    }
}

/// A `fired` event: the workflow must know the step, allow it from the
/// state the replay has reached, in the actor's role, to the state
/// recorded; its payload (and the fields taken from linked cases) applies
/// as the engine applied it, with the `[lookups]`.
fn fire(def: &Definition, r: &mut Replayed, e: &Event) -> Result<(), String> {
    let name = e.transition.as_deref().unwrap_or_default();
    let t = def
        .transition(name)
        .ok_or_else(|| format!("das Verfahren kennt den Schritt `{name}` nicht"))?;
    let p = &e.payload;
    let from = p["from"].as_str().unwrap_or_default();
    if from != r.state {
        return Err(format!(
            "geht von „{from}“ aus, der Fall stand nach dem Journal in „{}“",
            r.state
        ));
    }
    if !t.from.contains(&r.state) {
        return Err(format!(
            "der Schritt ist aus „{}“ nicht möglich (nur aus {})",
            r.state,
            t.from.join(", ")
        ));
    }
    if !t.roles.contains(&e.role) {
        return Err(format!(
            "die Rolle `{}` darf den Schritt nicht ausführen",
            e.role
        ));
    }
    let to = p["to"].as_str().unwrap_or_default();
    let expected = t.to.as_deref().unwrap_or(&r.state);
    if to != expected {
        return Err(format!(
            "führt nach „{to}“, das Verfahren nach „{expected}“"
        ));
    }
    let empty = Map::new();
    let payload = p["payload"].as_object().unwrap_or(&empty);
    let given = def
        .step_payload(t, &r.state, payload)
        .map_err(|e| format!("die Angaben passen nicht zum Verfahren: {e}"))?;
    for (k, v) in given {
        r.data.insert(k, v);
    }
    if let Some(taken) = p["taken"].as_object() {
        for (k, v) in taken {
            r.data.insert(k.clone(), v.clone());
        }
    }
    def.apply_lookups(&mut r.data)
        .map_err(|e| format!("die Nachschlagetabelle des Verfahrens: {e}"))?;
    r.state = to.to_string();
    Ok(())
}

/// Checks a journaled deadline end against the calculator: `due` must be
/// what [`crate::workflow::DeadlineDef::end`] gives for the deadline set on
/// the event's day (in Berlin) with the case data the replay has reached.
fn recompute(
    def: &Definition,
    d: &crate::workflow::DeadlineDef,
    region: Region,
    data: &Map<String, Value>,
    e: &Event,
    due: &str,
) -> Result<(), String> {
    let day = berlin_date(&e.recorded_at)?;
    let today = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|_| format!("der Tag „{day}“ ist kein Datum"))?;
    let de = |date: &str| {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(|d| d.format("%d.%m.%Y").to_string())
            .unwrap_or_else(|_| format!("„{date}“"))
    };
    let title = format!("„{}“ (`{}`)", d.title, d.name);
    match d.end(def.retrieval.as_ref(), region, today, data) {
        Ok(Some((end, _))) if end.to_string() == due => Ok(()),
        Ok(Some((end, _))) => Err(format!(
            "die Frist {title} endet laut Journal am {}, nach dem Verfahren und den Falldaten am {} (nachgerechnet für eine am {} gesetzte Frist)",
            de(due),
            de(&end.to_string()),
            de(&day)
        )),
        Ok(None) => Err(format!(
            "die Frist {title} setzt das Verfahren hier nicht: der Tag, von dem sie läuft, fehlt in den Falldaten"
        )),
        Err(err) => Err(format!(
            "die Frist {title} lässt sich nicht nachrechnen: {err}"
        )),
    }
}

/// Closes the running deadline `name` (at most one runs per name: setting
/// one supersedes the running one); false if none runs.
fn close(
    deadlines: &mut [ReplayedDeadline],
    open: &mut std::collections::HashMap<String, usize>,
    name: &str,
    status: &str,
    at: &str,
) -> bool {
    match open.remove(name).and_then(|i| deadlines.get_mut(i)) {
        Some(d) => {
            d.status = status.to_string();
            d.closed_at = Some(at.to_string());
            true
        }
        None => false,
    }
}

/// The calendar day in Berlin of a journal time (letters are dated so).
fn berlin_date(recorded_at: &str) -> Result<String, String> {
    DateTime::parse_from_rfc3339(recorded_at)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Berlin)
                .date_naive()
                .to_string()
        })
        .map_err(|_| format!("die Zeit „{recorded_at}“ ist keine RFC-3339-Zeit"))
}
