//! The municipality's side of a case: uploads (which may fire the step the
//! workflow declares for them), the first retrieval of a letter provided
//! in the portal (§ 41 Abs. 2a VwVfG NRW) and the end of a provision left
//! unretrieved, consent to that kind of notification, and circulars read.

use chrono::Days;
use serde_json::{Map, Value, json};

use super::engine::{Engine, append, event};
use super::{Actor, CaseError, FireRequest};
use crate::domain::TransitionName;
use crate::journal::{self, EventKind};
use crate::store::{ConsentRow, DeliveryRow, NewUpload, ProvisionRow, UploadRow};

/// Days after the notification mail within which a provided letter must
/// be retrieved (§ 41 Abs. 2a Satz 4 VwVfG NRW).
pub const RETRIEVAL_DAYS: u64 = 10;
/// The last day a letter provided after a notification on `notified_on`
/// can be retrieved; the provision ends the day after.
pub fn retrievable_until(notified_on: chrono::NaiveDate) -> chrono::NaiveDate {
    notified_on
        .checked_add_days(Days::new(RETRIEVAL_DAYS))
        .unwrap_or(notified_on)
}

/// How far back the reminder pass looks for a retrieval or an end of
/// provision whose step a crash left out (longer than a server is down).
const SETTLED_LOOKBACK_DAYS: i64 = 31;

/// An application on a workflow's form (`[forms.NAME]`).
#[derive(Debug, Clone)]
pub struct Application {
    pub workflow: String,
    pub form: String,
    /// The values entered; fields not on the form are dropped.
    pub data: Map<String, Value>,
    /// The applicant.
    pub party: crate::domain::PartyRef,
    /// Who entered it: the municipality online, a clerk for one on paper.
    pub actor: Actor,
    /// The day it arrived (Eingang).
    pub received: chrono::NaiveDate,
}

/// What an upload did.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    pub upload: UploadRow,
    /// The step the upload fired, if the case's state has one.
    pub fired: Option<String>,
    /// Why that step was refused, if it was (the upload is kept).
    pub refused: Option<String>,
}

impl Engine {
    /// Opens a case from an online application (`[forms.NAME]` of the
    /// workflow) by the municipality itself, arriving today.
    pub async fn apply_online(
        &self,
        workflow: &str,
        form: &str,
        data: Map<String, Value>,
        party: crate::domain::PartyRef,
        user: &str,
    ) -> Result<super::CaseView, CaseError> {
        let role = self
            .catalog()
            .current(workflow)?
            .forms
            .get(form)
            .map(|f| f.party.clone())
            .unwrap_or_default();
        self.apply_form(Application {
            workflow: workflow.to_string(),
            form: form.to_string(),
            data,
            party,
            actor: Actor::new(user, role),
            received: self.clock().today(),
        })
        .await
    }

    /// Opens a case on one of the workflow's forms: only the form's fields
    /// are taken, the municipality is the form's party (and fills
    /// `party_field`), `received` fills the form's day of arrival; then the
    /// engine checks it like any other case, and the form's `then` step, if
    /// any, follows at once. The portal's online application and the
    /// office's entry of one that came on paper both come here.
    pub async fn apply_form(&self, a: Application) -> Result<super::CaseView, CaseError> {
        let def = self.catalog().current(&a.workflow)?;
        let f = def.forms.get(&a.form).cloned().ok_or_else(|| {
            CaseError::invalid(
                "form",
                format!(
                    "Das Verfahren „{}“ hat kein Antragsformular „{}“.",
                    def.title, a.form
                ),
            )
        })?;
        let mut data: Map<String, Value> = a
            .data
            .into_iter()
            .filter(|(k, _)| f.fields.contains(k))
            .collect();
        if let Some(pf) = &f.party_field {
            data.insert(pf.clone(), Value::String(a.party.name.clone()));
        }
        if let Some(r) = &f.received {
            data.insert(r.clone(), Value::String(a.received.to_string()));
        }
        let view = self
            .open(super::OpenRequest {
                workflow: a.workflow,
                data,
                parties: [(f.party.clone(), a.party)].into_iter().collect(),
                actor: a.actor,
            })
            .await?;
        let Some(then) = f.then else {
            return Ok(view);
        };
        self.fire(FireRequest {
            file_number: view.file_number.clone(),
            transition: TransitionName::new(then),
            actor: Actor::system(),
            payload: Map::new(),
            expected_version: None,
        })
        .await
    }

    /// Stores a municipality's upload with its journal event, then fires
    /// the upload step of the case's state (e.g. `unterlagen_nachgereicht`,
    /// which meets the Nachreichungsfrist). A refused file stores nothing.
    pub async fn upload(
        &self,
        file_number: &str,
        actor: &Actor,
        party: &str,
        file_name: &str,
        bytes: &[u8],
        limit: u64,
    ) -> Result<UploadOutcome, CaseError> {
        let case = self.load(file_number).await?;
        let def = self.definition_of(&case).await?;
        if def.state(&case.state).is_some_and(|s| s.is_final) {
            return Err(CaseError::invalid(
                "file",
                format!(
                    "Der Vorgang {} ist abgeschlossen; Unterlagen können nicht mehr hochgeladen werden. Bitte wenden Sie sich an die Sachbearbeitung.",
                    case.file_number
                ),
            ));
        }
        let checked = crate::upload::check(file_name, bytes, limit)
            .map_err(|e| CaseError::invalid("file", e.to_string()))?;
        let now = self.clock().now();
        let at = journal::timestamp(now);
        let mut tx = self.store().begin().await?;
        let id = tx
            .insert_upload(&NewUpload {
                case_id: case.id,
                sha256: &checked.sha256,
                file_name: &checked.file_name,
                bytes,
                pages: checked.pages,
                uploaded_by: &actor.name,
                party,
                at: &at,
            })
            .await?;
        append(
            &mut tx,
            &case,
            vec![event(
                actor,
                EventKind::UploadReceived,
                json!({
                    "upload": id,
                    "file_name": checked.file_name,
                    "sha256": checked.sha256,
                    "pages": checked.pages,
                    "size_bytes": bytes.len(),
                    "party": party,
                }),
            )],
            now,
        )
        .await?;
        tx.commit().await?;
        let upload = UploadRow {
            id,
            case_id: case.id.0,
            sha256: checked.sha256,
            file_name: checked.file_name,
            size_bytes: bytes.len() as i64,
            pages: checked.pages,
            uploaded_by: actor.name.clone(),
            party: party.to_string(),
            uploaded_at: at,
        };
        let step = def
            .transitions_from(&case.state)
            .find(|t| t.upload && t.roles.contains(&actor.role))
            .map(|t| t.name.clone());
        let Some(step) = step else {
            return Ok(UploadOutcome {
                upload,
                fired: None,
                refused: None,
            });
        };
        let fired = self
            .fire(FireRequest {
                file_number: case.file_number.clone(),
                transition: TransitionName::new(step.clone()),
                actor: actor.clone(),
                payload: Map::new(),
                expected_version: None,
            })
            .await;
        Ok(match fired {
            Ok(_) => UploadOutcome {
                upload,
                fired: Some(step),
                refused: None,
            },
            Err(e) => {
                tracing::warn!(case = file_number, step, error = %e, "the upload step was refused");
                UploadOutcome {
                    upload,
                    fired: None,
                    refused: Some(e.to_string()),
                }
            }
        })
    }

    /// A case's uploads, oldest first.
    pub async fn uploads(&self, file_number: &str) -> Result<Vec<UploadRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().uploads_of(case.id).await?)
    }

    /// A case's letters provided for retrieval.
    pub async fn provisions(&self, file_number: &str) -> Result<Vec<ProvisionRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().provisions_of(case.id).await?)
    }

    /// A party's letters waiting for retrieval in the portal.
    pub async fn provisions_waiting(&self, party: &str) -> Result<Vec<ProvisionRow>, CaseError> {
        Ok(self.store().provisions_waiting_for(party).await?)
    }

    /// Records the first retrieval of a provided letter by a person of the
    /// party it is addressed to, and fires the workflow's retrieval step,
    /// which sets the retrieval day and recomputes the deadlines that run
    /// from the notification (the day after). Later retrievals change
    /// nothing. Returns whether this was the first.
    pub async fn retrieve(
        &self,
        file_number: &str,
        sha256: &str,
        actor: &Actor,
        party: &str,
    ) -> Result<bool, CaseError> {
        let case = self.load(file_number).await?;
        let def = self.definition_of(&case).await?;
        let Some(retrieval) = def.retrieval.clone() else {
            return Ok(false);
        };
        let provisions = self.store().provisions_of(case.id).await?;
        let Some(p) = provisions
            .iter()
            .find(|p| p.sha256 == sha256 && p.party == party && p.status == "bereitgestellt")
        else {
            return Ok(false);
        };
        let now = self.clock().now();
        let at = journal::timestamp(now);
        let today = self.clock().today();
        let mut tx = self.store().begin().await?;
        if !tx.mark_retrieved(p.id, &actor.name, &at).await? {
            return Ok(false);
        }
        append(
            &mut tx,
            &case,
            vec![event(
                actor,
                EventKind::DocumentRetrieved,
                json!({
                    "sha256": sha256,
                    "template": p.template,
                    "retrieved_on": today.to_string(),
                    "notified_on": today.succ_opt().map(|d| d.to_string()),
                    "rule": "§ 41 Abs. 2a Satz 3 VwVfG NRW: bekannt gegeben am Tag nach dem Abruf",
                }),
            )],
            now,
        )
        .await?;
        tx.commit().await?;
        let payload: Map<String, Value> = [(
            retrieval.retrieved.clone(),
            Value::String(today.to_string()),
        )]
        .into_iter()
        .collect();
        self.fire(FireRequest {
            file_number: case.file_number,
            transition: TransitionName::new(retrieval.on_retrieval),
            actor: Actor::system(),
            payload,
            expected_version: None,
        })
        .await?;
        Ok(true)
    }

    /// Ends every provision not retrieved within ten days after its
    /// notification (§ 41 Abs. 2a Satz 4 VwVfG NRW) and fires the
    /// workflow's step for it: the letter goes by post from today, with
    /// the postal fiction of § 41 Abs. 2. Part of the daily reminder pass.
    pub async fn end_provisions(&self) -> Result<usize, CaseError> {
        let today = self.clock().today();
        let Some(cutoff) = today.checked_sub_days(Days::new(RETRIEVAL_DAYS + 1)) else {
            return Ok(0);
        };
        let mut ended = 0;
        for p in self.store().provisions_ending(&cutoff.to_string()).await? {
            let case = self.load(&p.file_number).await?;
            let def = self.definition_of(&case).await?;
            let Some(retrieval) = def.retrieval.clone() else {
                continue;
            };
            let now = self.clock().now();
            let at = journal::timestamp(now);
            let mut tx = self.store().begin().await?;
            if !tx.end_provision(p.id, &at).await? {
                continue;
            }
            append(
                &mut tx,
                &case,
                vec![event(
                    &Actor::system(),
                    EventKind::ProvisionEnded,
                    json!({
                        "sha256": p.sha256,
                        "template": p.template,
                        "notified_on": p.notified_on,
                        "posted_on": today.to_string(),
                        "rule": "§ 41 Abs. 2a Satz 4 und 5 VwVfG NRW: nicht innerhalb von zehn Tagen abgerufen, Bekanntgabe auf anderem Weg (Post)",
                    }),
                )],
                now,
            )
            .await?;
            tx.commit().await?;
            self.fire(FireRequest {
                file_number: case.file_number,
                transition: TransitionName::new(retrieval.on_expiry),
                actor: Actor::system(),
                payload: Map::new(),
                expected_version: None,
            })
            .await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// Fires the step a retrieval or an ended provision calls for where a
    /// crash came between recording it and firing the step (two
    /// transactions): the reminder pass runs this first, so the Klagefrist
    /// is set at the latest by the next pass. The retrieval day is the one
    /// recorded, not the day of the repair. Returns how many were fired.
    pub async fn complete_provisions(&self) -> Result<usize, CaseError> {
        let since = self.clock().now() - chrono::Duration::days(SETTLED_LOOKBACK_DAYS);
        let mut fired = 0;
        for p in self
            .store()
            .provisions_settled_since(&journal::timestamp(since))
            .await?
        {
            let case = self.load(&p.file_number).await?;
            let def = self.definition_of(&case).await?;
            let Some(retrieval) = def.retrieval.clone() else {
                continue;
            };
            let (recorded_kind, step, payload) = match (p.status.as_str(), &p.retrieved_at) {
                ("abgerufen", Some(at)) => {
                    let day = chrono::DateTime::parse_from_rfc3339(at)
                        .map(|t| t.with_timezone(&chrono_tz::Europe::Berlin).date_naive())
                        .map_err(|e| CaseError::invalid("retrieved_at", e.to_string()))?;
                    let payload: Map<String, Value> =
                        [(retrieval.retrieved.clone(), Value::String(day.to_string()))]
                            .into_iter()
                            .collect();
                    (
                        EventKind::DocumentRetrieved,
                        retrieval.on_retrieval.clone(),
                        payload,
                    )
                }
                ("beendet", _) => (
                    EventKind::ProvisionEnded,
                    retrieval.on_expiry.clone(),
                    Map::new(),
                ),
                _ => continue,
            };
            let history = self.store().events(case.id).await?;
            let Some(recorded) = history.iter().rposition(|e| {
                e.kind == recorded_kind && e.payload["sha256"].as_str() == Some(p.sha256.as_str())
            }) else {
                continue;
            };
            let done = history[recorded + 1..].iter().any(|e| {
                e.kind == EventKind::Fired && e.transition.as_deref() == Some(step.as_str())
            });
            let possible = def
                .transition(&step)
                .is_some_and(|t| t.from.iter().any(|f| f == case.state.as_str()));
            if done || !possible {
                continue;
            }
            tracing::warn!(file_number = %case.file_number, step = %step, "firing the step a crash left out");
            let request = FireRequest {
                file_number: case.file_number.clone(),
                transition: TransitionName::new(step),
                actor: Actor::system(),
                payload,
                expected_version: Some(case.version),
            };
            // Lost to the retrieval's own fire at this moment: nothing to repair.
            match self.fire(request).await {
                Ok(_) => fired += 1,
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(fired)
    }

    /// The consent to notification by retrieval a municipality has in force.
    pub async fn consent(&self, party: &str) -> Result<Option<ConsentRow>, CaseError> {
        Ok(self.store().consent_of(party).await?)
    }

    /// Every consent a municipality gave and withdrew, newest first.
    pub async fn consent_history(&self, party: &str) -> Result<Vec<ConsentRow>, CaseError> {
        Ok(self.store().consents_of(party).await?)
    }

    /// Records a municipality's consent (given by `user`, now).
    pub async fn give_consent(&self, party: &str, user: &str) -> Result<(), CaseError> {
        let at = journal::timestamp(self.clock().now());
        Ok(self.store().give_consent(party, user, &at).await?)
    }

    /// Withdraws it; letters issued later go by post again.
    pub async fn withdraw_consent(&self, party: &str, user: &str) -> Result<bool, CaseError> {
        let at = journal::timestamp(self.clock().now());
        Ok(self.store().withdraw_consent(party, user, &at).await?)
    }

    /// The circulars sent to a member, newest first.
    pub async fn circulars_for(&self, party: &str) -> Result<Vec<DeliveryRow>, CaseError> {
        Ok(self.store().deliveries_to(party).await?)
    }

    /// A circular's deliveries with read receipts (for its author).
    pub async fn read_receipts(&self, file_number: &str) -> Result<Vec<DeliveryRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store().deliveries_of(case.id).await?)
    }

    /// Records that a person of a member read a circular (the first time
    /// only, journaled). Returns whether the circular went to that member.
    pub async fn read_circular(
        &self,
        file_number: &str,
        party: &str,
        actor: &Actor,
    ) -> Result<bool, CaseError> {
        // Members read a circular at the same time: a lost race on the
        // case version is retried with the case as it now stands.
        let mut attempts = 0;
        loop {
            let case = self.load(file_number).await?;
            let deliveries = self.store().deliveries_of(case.id).await?;
            let Some(d) = deliveries.iter().find(|d| d.party == party) else {
                return Ok(false);
            };
            if d.read_at.is_some() {
                return Ok(true);
            }
            let now = self.clock().now();
            let at = journal::timestamp(now);
            let mut tx = self.store().begin().await?;
            if tx.mark_read(case.id, party, &actor.name, &at).await? {
                let appended = append(
                    &mut tx,
                    &case,
                    vec![event(
                        actor,
                        EventKind::CircularRead,
                        json!({"member": party}),
                    )],
                    now,
                )
                .await;
                match appended {
                    Err(CaseError::Conflict { .. }) if attempts < 10 => {
                        attempts += 1;
                        continue;
                    }
                    other => other?,
                }
            }
            tx.commit().await?;
            return Ok(true);
        }
    }
}
