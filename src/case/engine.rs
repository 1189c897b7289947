//! The engine: opens cases and fires transitions, each as one transaction
//! holding the state change, its effects and its journal events.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Datelike;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Actor, CaseError, CaseView, PartyRef};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::journal::{self, BrokenLink, Event, EventKind, NewEvent};
use crate::store::{CaseFilter, CaseRow, NewCase, Store};
use crate::workflow::{Definition, Effect, FireInput};

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
    pub file_number: String,
    pub transition: String,
    pub actor: Actor,
    pub payload: Map<String, Value>,
    /// The case version the actor saw; `None` takes the version read now.
    pub expected_version: Option<i64>,
}

/// Result of `audit verify`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub cases: usize,
    pub events: usize,
    pub broken: Vec<BrokenLinkView>,
}

/// A broken link with the case's file number.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenLinkView {
    pub file_number: String,
    #[serde(flatten)]
    pub link: BrokenLink,
}

/// Cases, their workflows and their journal, over one store.
pub struct Engine {
    store: Store,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
}

impl Engine {
    pub fn new(
        store: Store,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
    ) -> Engine {
        Engine {
            store,
            catalog,
            clock,
            config,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Opens a case on the current version of a workflow.
    pub async fn open(&self, req: OpenRequest) -> Result<CaseView, CaseError> {
        let def = self.catalog.current(&req.workflow)?;
        def.check_open(&req.data, req.parties.keys().map(String::as_str))?;
        let now = self.clock.now();
        let at = journal::timestamp(now);
        let year = self.clock.today().year();
        let parties = serde_json::to_value(&req.parties).expect("parties serialise");

        let mut tx = self.store.begin().await?;
        let seq = tx.next_number(&def.register, year).await?;
        let file_number = self
            .config
            .case_number_pattern
            .format(&def.register, year, seq);
        let state = &def.initial_state().name;
        let id = tx
            .insert_case(&NewCase {
                file_number: &file_number,
                workflow_id: &def.id,
                workflow_version: def.version,
                state,
                data: &req.data,
                parties: &parties,
                at: &at,
            })
            .await?;
        let events = journal::chain(
            id,
            0,
            journal::GENESIS,
            now,
            vec![NewEvent {
                actor: req.actor.name.clone(),
                role: req.actor.role.clone(),
                kind: EventKind::Opened,
                transition: None,
                payload: json!({
                    "file_number": file_number,
                    "workflow": def.id,
                    "workflow_version": def.version,
                    "state": state,
                    "data": req.data,
                    "parties": parties,
                }),
            }],
        );
        tx.append_events(&events).await?;
        let head = &events.last().expect("one event").hash;
        tx.update_case(id, &file_number, 0, state, &req.data, 1, head, &at)
            .await?;
        tx.commit().await?;
        self.show(&file_number).await
    }

    /// Fires a transition: checks it against the workflow, applies its
    /// effects and records it, or changes nothing and says why.
    pub async fn fire(&self, req: FireRequest) -> Result<CaseView, CaseError> {
        let case = self.load(&req.file_number).await?;
        if let Some(expected) = req.expected_version
            && expected != case.version
        {
            return Err(CaseError::Conflict {
                file_number: case.file_number,
                expected,
                actual: case.version,
            });
        }
        let expected_version = req.expected_version.unwrap_or(case.version);
        let def = self
            .catalog
            .version(&self.store, &case.workflow_id, case.workflow_version)
            .await?;
        let four_eyes = def
            .transition(&req.transition)
            .map(|t| t.four_eyes.clone())
            .unwrap_or_default();
        let prior_actors = if four_eyes.is_empty() {
            BTreeMap::new()
        } else {
            self.store.actors_of(case.id, &four_eyes).await?
        };
        let today = self.clock.today();
        let plan = def.plan(&FireInput {
            state: &case.state,
            transition: &req.transition,
            actor: &req.actor.name,
            role: &req.actor.role,
            data: &case.data,
            payload: &req.payload,
            prior_actors: &prior_actors,
            today,
        })?;

        let now = self.clock.now();
        let at = journal::timestamp(now);
        let mut data = plan.data;
        let mut events = vec![NewEvent {
            actor: req.actor.name.clone(),
            role: req.actor.role.clone(),
            kind: EventKind::Fired,
            transition: Some(plan.transition.name.clone()),
            payload: json!({
                "from": case.state,
                "to": plan.to,
                "payload": req.payload,
            }),
        }];

        let mut tx = self.store.begin().await?;
        for effect in plan.effects {
            match effect {
                Effect::Allocate { register, field } => {
                    let number = self.allocate(&mut tx, &def, register, today.year()).await?;
                    data.insert(field.clone(), Value::String(number.clone()));
                    events.push(self.effect_event(
                        &req.actor,
                        EventKind::NumberAllocated,
                        json!({"register": register, "field": field, "number": number}),
                    ));
                }
                Effect::Letter { .. }
                | Effect::SetDeadline { .. }
                | Effect::MeetDeadline { .. } => {
                    // Executed by the letter and deadline services once wired in.
                }
            }
        }
        let chained = journal::chain(case.id, case.last_seq, &case.head_hash, now, events);
        let last = chained.last().expect("at least the fired event");
        tx.update_case(
            case.id,
            &case.file_number,
            expected_version,
            plan.to,
            &data,
            last.seq,
            &last.hash,
            &at,
        )
        .await?;
        tx.append_events(&chained).await?;
        tx.commit().await?;
        Ok(self.view_of(
            &def,
            CaseRow {
                state: plan.to.to_string(),
                data,
                version: expected_version + 1,
                last_seq: last.seq,
                head_hash: last.hash.clone(),
                updated_at: at,
                ..case
            },
        ))
    }

    fn effect_event(&self, actor: &Actor, kind: EventKind, payload: Value) -> NewEvent {
        NewEvent {
            actor: actor.name.clone(),
            role: actor.role.clone(),
            kind,
            transition: None,
            payload,
        }
    }

    async fn allocate(
        &self,
        tx: &mut crate::store::Tx,
        def: &Definition,
        register: &str,
        year: i32,
    ) -> Result<String, CaseError> {
        let pattern = self
            .config
            .registers
            .get(register)
            .unwrap_or(&def.registers[register].pattern);
        let seq = tx.next_number(register, year).await?;
        Ok(pattern.format(register, year, seq))
    }

    async fn load(&self, file_number: &str) -> Result<CaseRow, CaseError> {
        self.store
            .case_by_number(file_number)
            .await?
            .ok_or_else(|| CaseError::NotFound(file_number.to_string()))
    }

    async fn view(&self, case: CaseRow) -> Result<CaseView, CaseError> {
        let def = self
            .catalog
            .version(&self.store, &case.workflow_id, case.workflow_version)
            .await?;
        Ok(self.view_of(&def, case))
    }

    fn view_of(&self, def: &Definition, case: CaseRow) -> CaseView {
        let state = def.state(&case.state);
        CaseView {
            available: def.available(&case.state),
            workflow_title: def.title.clone(),
            state_title: state.and_then(|s| s.title.clone()),
            closed: state.is_some_and(|s| s.is_final),
            file_number: case.file_number,
            workflow: case.workflow_id,
            workflow_version: case.workflow_version,
            state: case.state,
            version: case.version,
            data: case.data,
            parties: case.parties,
            opened_at: case.opened_at,
            updated_at: case.updated_at,
        }
    }

    /// A case as it stands now.
    pub async fn show(&self, file_number: &str) -> Result<CaseView, CaseError> {
        let case = self.load(file_number).await?;
        self.view(case).await
    }

    /// A case's journal, oldest first.
    pub async fn history(&self, file_number: &str) -> Result<Vec<Event>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store.events(case.id).await?)
    }

    pub async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseView>, CaseError> {
        let mut out = Vec::new();
        for case in self.store.list_cases(filter).await? {
            out.push(self.view(case).await?);
        }
        Ok(out)
    }

    /// Recomputes the hash chains of one case or of all cases.
    pub async fn audit(&self, file_number: Option<&str>) -> Result<AuditReport, CaseError> {
        let heads = match file_number {
            Some(n) => {
                let c = self.load(n).await?;
                vec![(c.id, c.file_number, c.head_hash)]
            }
            None => self.store.case_heads().await?,
        };
        let mut report = AuditReport {
            cases: heads.len(),
            events: 0,
            broken: Vec::new(),
        };
        for (id, number, head) in heads {
            let events = self.store.events(id).await?;
            report.events += events.len();
            if let Err(link) = journal::verify(id, &events, &head) {
                report.broken.push(BrokenLinkView {
                    file_number: number,
                    link,
                });
            }
        }
        Ok(report)
    }
}
