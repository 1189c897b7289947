//! Commands that change cases: open, fire. Each is one write transaction
//! holding the state change, its effects and its journal events.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde_json::{Map, Value, json};

use super::effects::{EffectContext, EffectState, Step, pure_event};
use super::engine::{Engine, Write, append, event, record};
use super::{Actor, CaseError, CaseView, FireRequest, OpenRequest, PreviewLetter};
use crate::domain::{DeadlineStatus, FileNumber, StateName};
use crate::journal::{self, EventKind, NewEvent};
use crate::store::{CaseRow, NewCase};
use crate::workflow::{Definition, Effect, FireInput, Plan};

impl Engine {
    /// Opens a case on the current version of a workflow.
    pub async fn open(&self, req: OpenRequest) -> Result<CaseView, CaseError> {
        let def = self.catalog().current(&req.workflow)?;
        let mut req = req;
        def.check_limits(&req.data, &self.config().limits)?;
        req.data = self.with_links(&def, None, &Map::new(), req.data).await?;
        def.apply_lookups(&mut req.data)?;
        def.check_open(&mut req.data, req.parties.keys().map(String::as_str))?;
        def.check_open_guards(
            &req.data,
            &req.actor.name,
            &req.actor.role,
            self.clock().today(),
            &def.rates(self.rates()),
        )?;
        self.ensure_published(&def).await?;
        let now = self.clock().now();
        let at = journal::timestamp(now);
        let year = self.clock().today().year();

        let mut tx = self.store().begin().await?;
        let seq = tx.next_number(&def.register, year).await?;
        let file_number = FileNumber::new(self.config().case_number_pattern.format(
            &def.register,
            year,
            seq,
        ));
        let state = StateName::new(def.initial_state().name.clone());
        let id = tx
            .insert_case(&NewCase {
                file_number: &file_number,
                workflow_id: &def.id,
                workflow_version: def.version,
                state: &state,
                data: &req.data,
                parties: &req.parties,
                at: &at,
            })
            .await?;
        let opened = NewEvent {
            transition: None,
            ..event(
                &req.actor,
                EventKind::Opened,
                json!({
                    "file_number": file_number,
                    "workflow": def.id,
                    "workflow_version": def.version,
                    "state": state,
                    "data": req.data,
                    "parties": req.parties,
                }),
            )
        };
        let case = CaseRow {
            id,
            file_number,
            workflow_id: def.id.clone(),
            workflow_version: def.version,
            state: state.clone(),
            data: req.data,
            parties: req.parties,
            version: 0,
            last_seq: 0,
            head_hash: journal::GENESIS.into(),
            opened_at: at.clone(),
            updated_at: at,
        };
        let (last_seq, head_hash) = record(
            Write::In(&mut tx),
            &case,
            0,
            &state,
            &case.data,
            vec![opened],
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(self.view_of(
            &def,
            CaseRow {
                version: 1,
                last_seq,
                head_hash,
                ..case
            },
        ))
    }

    /// Fires a transition: checks it against the workflow, applies its
    /// effects and records it, or changes nothing and says why.
    ///
    /// A case fired here before starts from the row that fire wrote instead
    /// of being read again. If that row was stale (another instance or
    /// command moved the case on), the write fails on its version check,
    /// or the checks refuse the step for the old state; either way nothing
    /// was written, and the fire is tried once more on the case as the
    /// database has it, so a clerk never gets an answer from an old row.
    /// A fault (database, template) is not tried again: a failed commit may
    /// still have been written.
    pub async fn fire(&self, req: FireRequest) -> Result<CaseView, CaseError> {
        if let Some(cached) = self.recent.get(&req.file_number)
            && req.expected_version.is_none_or(|v| v == cached.version)
        {
            let version = cached.version;
            match self.fire_on(CaseRow::clone(&cached), &req).await {
                Ok(view) => return Ok(view),
                Err(e) => {
                    let untouched_since = self.recent.forget_if_at(&req.file_number, version);
                    if !untouched_since || matches!(e, CaseError::Internal(_)) {
                        return Err(e);
                    }
                }
            }
        }
        let case = self.load(&req.file_number).await?;
        self.fire_on(case, &req).await
    }

    async fn fire_on(&self, case: CaseRow, req: &FireRequest) -> Result<CaseView, CaseError> {
        if let Some(expected) = req.expected_version
            && expected != case.version
        {
            return Err(CaseError::Conflict {
                file_number: case.file_number,
                expected,
                actual: Some(case.version),
            });
        }
        let expected_version = req.expected_version.unwrap_or(case.version);
        let def = self.definition_of(&case).await?;
        // One instant for the journal's time and the day deadlines run
        // from: the replay recomputes them from the event's time.
        let now = self.clock().now();
        let today = crate::clock::berlin_date(now);
        let (plan, taken) = self.plan(&def, &case, req, today).await?;

        let at = journal::timestamp(now);
        let consents = self.consents_of(&def, &case).await?;
        let cx = EffectContext {
            def: &def,
            case: &case,
            actor: &req.actor,
            today,
            at: &at,
            consents: &consents,
        };
        let has_letters = plan
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Letter { .. }));
        let mut state = EffectState {
            data: plan.data,
            deadlines: if has_letters {
                self.open_deadline_dates(&case).await?
            } else {
                Map::new()
            },
            reference: None,
        };

        // Pass 1, before the write transaction: the effects up to the first
        // number allocation, with their letters rendered in parallel.
        let split = plan
            .effects
            .iter()
            .position(|e| matches!(e, Effect::Allocate { .. }))
            .unwrap_or(plan.effects.len());
        let mut resolved = Vec::with_capacity(split);
        for effect in &plan.effects[..split] {
            resolved.push(self.resolve(&cx, effect, &mut state, None)?);
        }
        let mut rendered = Vec::with_capacity(resolved.len());
        {
            let renders = resolved.iter().map(|step| async {
                match step {
                    Step::Letter(job) => self.render_sealed(&cx, job).await.map(Some),
                    _ => Ok(None),
                }
            });
            for r in futures_util::future::join_all(renders).await {
                rendered.push(r?);
            }
        }

        let mut events = vec![NewEvent {
            transition: Some(plan.transition.name.clone()),
            ..event(
                &req.actor,
                EventKind::Fired,
                fired_payload(&case.state, plan.to, &req.payload, &taken),
            )
        }];
        // A transition whose effects only compute fields writes nothing but
        // the case and its journal, no transaction of its own (on SQLite the
        // store commits it together with other clerks' waiting changes).
        if split == plan.effects.len() && resolved.iter().all(|s| matches!(s, Step::Set { .. })) {
            events.extend(resolved.iter().filter_map(|step| pure_event(&cx, step)));
            let (last_seq, head_hash) = record(
                Write::Alone(self.store()),
                &case,
                expected_version,
                plan.to,
                &state.data,
                events,
                now,
            )
            .await?;
            return Ok(self.fired(
                &def,
                CaseRow {
                    state: StateName::new(plan.to),
                    data: state.data,
                    version: expected_version + 1,
                    last_seq,
                    head_hash,
                    updated_at: at,
                    ..case
                },
            ));
        }

        // Pass 2, in the transaction: write pass 1's steps, then resolve,
        // render and write the rest one by one as numbers are allocated.
        let mut tx = self.store().begin().await?;
        for (step, pdf) in resolved.into_iter().zip(rendered) {
            events.extend(self.apply(&mut tx, &cx, step, pdf).await?);
        }
        for effect in &plan.effects[split..] {
            let number = match effect {
                Effect::Allocate { register, .. } => {
                    Some(self.allocate(&mut tx, &def, register, today.year()).await?)
                }
                _ => None,
            };
            let step = self.resolve(&cx, effect, &mut state, number)?;
            let pdf = match &step {
                Step::Letter(job) => Some(self.render_sealed(&cx, job).await?),
                _ => None,
            };
            events.extend(self.apply(&mut tx, &cx, step, pdf).await?);
        }
        let (last_seq, head_hash) = record(
            Write::In(&mut tx),
            &case,
            expected_version,
            plan.to,
            &state.data,
            events,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(self.fired(
            &def,
            CaseRow {
                state: StateName::new(plan.to),
                data: state.data,
                version: expected_version + 1,
                last_seq,
                head_hash,
                updated_at: at,
                ..case
            },
        ))
    }

    /// The view of a case a fire just wrote, keeping the row for the next fire.
    fn fired(&self, def: &Definition, row: CaseRow) -> CaseView {
        self.recent.put(row.clone());
        self.view_of(def, row)
    }

    /// The letters a transition would issue, rendered without firing it:
    /// the same checks and the same effect interpreter as [`Engine::fire`],
    /// but nothing is written and no number is taken (a number the
    /// transition would allocate prints as "(Nummer wird bei Erlass vergeben)").
    pub async fn preview(&self, req: FireRequest) -> Result<Vec<PreviewLetter>, CaseError> {
        let case = self.load(&req.file_number).await?;
        let def = self.definition_of(&case).await?;
        self.preview_on(case, &def, req).await
    }

    /// The letters a later step would issue from a draft (e.g. a circular
    /// being written, whose release comes after its submission): rendered
    /// as if the case stood where that step starts, in the step's first
    /// role, with the data given. For previews while composing only;
    /// nothing is written, and firing the step later checks everything.
    pub async fn draft_preview(
        &self,
        file_number: &FileNumber,
        transition: &str,
        payload: Map<String, Value>,
    ) -> Result<Vec<PreviewLetter>, CaseError> {
        let mut case = self.load(file_number).await?;
        let def = self.definition_of(&case).await?;
        let t = def.transition(transition).ok_or_else(|| {
            CaseError::invalid(
                "transition",
                format!("workflow `{}` has no step `{transition}`", def.id),
            )
        })?;
        let (Some(from), Some(role)) = (t.from.first(), t.roles.first()) else {
            return Ok(Vec::new());
        };
        case.state = StateName::new(from.clone());
        // The draft is what earlier steps will have saved: it stands in the
        // case's data (typed like any data, computed fields refused), and
        // the previewed step itself takes nothing.
        def.check_limits(&payload, &self.config().limits)?;
        case.data.extend(def.given_data(&payload)?);
        let req = FireRequest {
            file_number: file_number.clone(),
            transition: t.name.as_str().into(),
            actor: Actor::new("Vorschau", role.clone()),
            payload: Map::new(),
            expected_version: None,
        };
        self.preview_on(case, &def, req).await
    }

    async fn preview_on(
        &self,
        case: CaseRow,
        def: &Definition,
        req: FireRequest,
    ) -> Result<Vec<PreviewLetter>, CaseError> {
        let today = self.clock().today();
        let (plan, _) = self.plan(def, &case, &req, today).await?;
        let at = journal::timestamp(self.clock().now());
        let consents = self.consents_of(def, &case).await?;
        let cx = EffectContext {
            def,
            case: &case,
            actor: &req.actor,
            today,
            at: &at,
            consents: &consents,
        };
        let mut state = EffectState {
            data: plan.data,
            deadlines: self.open_deadline_dates(&case).await?,
            reference: None,
        };
        let mut out = Vec::new();
        for effect in plan.effects.iter() {
            let number = matches!(effect, Effect::Allocate { .. })
                .then(|| "(Nummer wird bei Erlass vergeben)".to_string());
            if let Step::Letter(job) = self.resolve(&cx, effect, &mut state, number)? {
                let rendered = self.render(&cx, &job).await?;
                out.push(PreviewLetter {
                    template: job.template,
                    to: job.to.clone(),
                    pdf: rendered.letter.pdf,
                });
                for (e, r) in job.enclosures.into_iter().zip(rendered.enclosures) {
                    out.push(PreviewLetter {
                        template: e.name,
                        to: job.to.clone(),
                        pdf: r.pdf,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Makes `user` responsible for each case (an office lead's
    /// reassignment), journaled on each case. Returns the cases assigned;
    /// an unknown file number is refused before anything changes.
    pub async fn assign(
        &self,
        file_numbers: &[FileNumber],
        user: &str,
        roles: &[String],
        by: &Actor,
    ) -> Result<usize, CaseError> {
        let mut cases = Vec::with_capacity(file_numbers.len());
        for n in file_numbers {
            let case = self.load(n).await?;
            // Only to someone who can take a step of the case's workflow:
            // a case assigned to anyone else would wait for nobody.
            let def = self.definition_of(&case).await?;
            if !def.can_act(roles.iter().map(String::as_str)) {
                return Err(CaseError::NotAssignable {
                    user: user.to_string(),
                    workflow: def.title.clone(),
                    file_number: case.file_number.clone(),
                });
            }
            cases.push(case);
        }
        let now = self.clock().now();
        let at = journal::timestamp(now);
        let mut tx = self.store().begin().await?;
        for case in &cases {
            tx.assign_case(case.id, user, &by.name, &at).await?;
            append(
                &mut tx,
                case,
                vec![event(by, EventKind::Assigned, json!({"user": user}))],
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(cases.len())
    }

    /// Who a case is assigned to.
    pub async fn assignee(&self, file_number: &str) -> Result<Option<String>, CaseError> {
        Ok(self.store().assignee(file_number).await?)
    }

    /// What firing `req` would do: the workflow's checks (role, state,
    /// guards, four-eyes against the case's earlier actors) and the effects,
    /// with the fields taken from linked cases (journaled with the step, so
    /// that a replay of the journal applies them too).
    async fn plan<'d>(
        &self,
        def: &'d Definition,
        case: &CaseRow,
        req: &FireRequest,
        today: chrono::NaiveDate,
    ) -> Result<(Plan<'d>, Map<String, Value>), CaseError> {
        let four_eyes = def
            .transition(&req.transition)
            .map(|t| t.four_eyes.clone())
            .unwrap_or_default();
        let prior_actors = if four_eyes.is_empty() {
            BTreeMap::new()
        } else {
            self.store().actors_of(case.id, &four_eyes).await?
        };
        def.check_limits(&req.payload, &self.config().limits)?;
        // Linked cases' fields (e.g. an RAA case's end of funding) join the
        // event, apart from what the request gives.
        let taken: Map<String, Value> = self
            .with_links(
                def,
                Some(case.file_number.as_str()),
                &case.data,
                req.payload.clone(),
            )
            .await?
            .into_iter()
            .filter(|(k, v)| req.payload.get(k) != Some(v))
            .collect();
        let plan = def.plan(&FireInput {
            state: &case.state,
            transition: &req.transition,
            actor: &req.actor.name,
            role: &req.actor.role,
            data: &case.data,
            payload: &req.payload,
            taken: &taken,
            prior_actors: &prior_actors,
            today,
            rates: def.rates(self.rates()),
        })?;
        Ok((plan, taken))
    }

    /// Continues a register's numbering kept elsewhere before amtspost:
    /// the next number of `year` will be at least `last + 1`.
    pub async fn continue_numbering(
        &self,
        register: &str,
        year: i32,
        last: i64,
    ) -> Result<(), CaseError> {
        let mut tx = self.store().begin().await?;
        tx.raise_sequence(register, year, last).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The case's parties that consented to notification by retrieval
    /// (read only for workflows that offer it).
    async fn consents_of(
        &self,
        def: &Definition,
        case: &CaseRow,
    ) -> Result<std::collections::BTreeSet<String>, CaseError> {
        let mut out = std::collections::BTreeSet::new();
        if def.retrieval.is_none() {
            return Ok(out);
        }
        for p in case.parties.values() {
            if self.store().consent_of(&p.name).await?.is_some() {
                out.insert(p.name.clone());
            }
        }
        Ok(out)
    }

    /// Due dates of a case's open deadlines by name, for letter data.
    async fn open_deadline_dates(&self, case: &CaseRow) -> Result<Map<String, Value>, CaseError> {
        let mut out = Map::new();
        for d in self.store().deadlines_of(case.id).await?.into_iter().rev() {
            if d.status == DeadlineStatus::Open {
                out.insert(d.name, Value::String(d.due_date));
            }
        }
        Ok(out)
    }
}

/// The payload of a `fired` event: where the case went and what the step
/// took, the request's fields and those taken from linked cases (`taken`,
/// only when there are any, so journals of workflows without links stay as
/// they were).
fn fired_payload(
    from: &str,
    to: &str,
    payload: &Map<String, Value>,
    taken: &Map<String, Value>,
) -> Value {
    let mut p = json!({"from": from, "to": to, "payload": payload});
    if !taken.is_empty() {
        p["taken"] = Value::Object(taken.clone());
    }
    p
}
