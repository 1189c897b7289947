//! The reminder pass (`remind run`, the 07:00 job of `serve`): reminders before open deadlines, expiry and escalation
//! after them, and the transition a workflow fires on expiry.
//!
//! Every reminder step is recorded under a unique key (deadline, step,
//! recipient) in the same transaction as its mail, so running the pass twice,
//! or in two processes at once, sends each reminder exactly once. A pass that
//! finds several steps due (the service was down) sends the latest one and
//! records the earlier ones as passed over.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use crate::case::engine::{Engine, MailOut, address_key, append, event};
use crate::case::{Actor, CaseError, FireRequest};
use crate::deadline::{self, Offset};
use crate::domain::ReminderStatus;
use crate::journal::{EventKind, NewEvent};
use crate::store::DueDeadline;
use crate::workflow::DeadlineDef;

/// What one pass did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemindReport {
    pub today: String,
    pub dry_run: bool,
    /// Reminder mails queued: (file number, deadline, step, recipient).
    pub reminders: Vec<ReminderLine>,
    /// Earlier steps recorded without a mail because a later one was due.
    pub passed_over: usize,
    /// Deadlines that expired in this pass.
    pub expired: Vec<ReminderLine>,
    /// Transitions fired on expiry, and refusals.
    pub fired: Vec<String>,
    /// Letters provided for retrieval that were not retrieved within ten
    /// days and go by post instead (§ 41 Abs. 2a Satz 4 VwVfG NRW).
    pub provisions_ended: usize,
    /// Retrievals and ended provisions whose step a crash had left out, now fired.
    pub provisions_completed: usize,
    /// Cases opened for a linked case (`[links.*.start]`), e.g. a proof of
    /// use once the grant's period has ended.
    pub opened: Vec<OpenedLine>,
    /// Recipients that could not be resolved to an address.
    pub warnings: Vec<String>,
}

/// A case the pass opened (or, dry or refused, did not) for a linked case.
#[derive(Debug, Clone, Serialize)]
pub struct OpenedLine {
    pub workflow: String,
    /// The linked case it is opened for.
    pub linked: String,
    /// The new case's file number; none in a dry run or when refused.
    pub file_number: Option<String>,
    /// Why it could not be opened.
    pub error: Option<String>,
}

impl std::fmt::Display for OpenedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file_number, &self.error) {
            (Some(n), _) => write!(f, "{n} für {}", self.linked),
            (None, Some(e)) => write!(
                f,
                "{} für {} nicht angelegt: {e}",
                self.workflow, self.linked
            ),
            (None, None) => write!(f, "({} für {})", self.workflow, self.linked),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReminderLine {
    pub file_number: String,
    pub deadline: String,
    pub due_date: String,
    pub step: String,
    pub recipient: String,
}

/// A journal event of the reminder pass, by the system actor.
fn system_event(kind: EventKind, payload: serde_json::Value) -> NewEvent {
    event(&Actor::system(), kind, payload)
}

impl Engine {
    /// Runs one reminder pass for today (the clock's date in Berlin).
    pub async fn remind(&self, dry_run: bool) -> Result<RemindReport, CaseError> {
        let today = self.clock().today();
        let mut report = RemindReport {
            today: today.to_string(),
            dry_run,
            ..RemindReport::default()
        };
        let horizon = self.reminder_horizon_days();
        let until = today + chrono::Duration::days(horizon);
        let due = self
            .store()
            .open_deadlines_until(&until.to_string())
            .await?;
        for d in due {
            let def = self
                .catalog()
                .version(self.store(), &d.workflow_id, d.workflow_version)
                .await?;
            let Some(ddef) = def.deadlines.get(&d.deadline.name) else {
                continue;
            };
            let Ok(end) = NaiveDate::parse_from_str(&d.deadline.due_date, "%Y-%m-%d") else {
                continue;
            };
            if end < today {
                self.expire(&d, ddef, &def, end, today, dry_run, &mut report)
                    .await?;
            } else {
                self.remind_one(&d, ddef, &def.title, end, today, dry_run, &mut report)
                    .await?;
            }
        }
        if !dry_run {
            report.provisions_completed = self.complete_provisions().await?;
            report.provisions_ended = self.end_provisions().await?;
        }
        self.start_linked(today, dry_run, &mut report).await?;
        Ok(report)
    }

    /// Opens the cases workflows start by themselves (`[links.*.start]`):
    /// one for each linked case in a named state whose date field has
    /// passed and that no case of the workflow names yet. Checking that
    /// last on every pass makes the opening safe to repeat: a pass that
    /// stopped half way opens the rest the next morning, never a second.
    async fn start_linked(
        &self,
        today: NaiveDate,
        dry_run: bool,
        report: &mut RemindReport,
    ) -> Result<(), CaseError> {
        let starts: Vec<_> = self
            .catalog()
            .definitions()
            .flat_map(|(_, def)| {
                def.links.iter().filter_map(|link| {
                    let start = link.start.clone()?;
                    Some((def.id.clone(), link.clone(), start))
                })
            })
            .collect();
        for (workflow, link, start) in starts {
            let candidates = self
                .store()
                .cases_with_date_before(&link.workflow, &start.after, &today.to_string())
                .await?;
            if candidates.is_empty() {
                continue;
            }
            let taken = self
                .store()
                .linked_file_numbers(&workflow, &link.field)
                .await?;
            for there in candidates {
                if taken.contains(there.file_number.as_str())
                    || !start.states.iter().any(|s| s == there.state.as_str())
                {
                    continue;
                }
                let line = OpenedLine {
                    workflow: workflow.clone(),
                    linked: there.file_number.to_string(),
                    file_number: None,
                    error: None,
                };
                if dry_run {
                    report.opened.push(line);
                    continue;
                }
                let mut data = serde_json::Map::new();
                data.insert(link.field.clone(), json!(there.file_number.as_str()));
                for (here, field) in &link.same {
                    if let Some(v) = there.data.get(field) {
                        data.insert(here.clone(), v.clone());
                    }
                }
                let parties = start
                    .parties
                    .iter()
                    .filter_map(|(here, role)| {
                        Some((here.clone(), there.parties.get(role)?.clone()))
                    })
                    .collect();
                let opened = self
                    .open(crate::case::OpenRequest {
                        workflow: workflow.clone(),
                        data,
                        parties,
                        actor: Actor::system(),
                    })
                    .await;
                report.opened.push(match opened {
                    Ok(view) => OpenedLine {
                        file_number: Some(view.file_number.to_string()),
                        ..line
                    },
                    Err(e) => OpenedLine {
                        error: Some(e.to_string()),
                        ..line
                    },
                });
            }
        }
        Ok(())
    }

    /// How far ahead reminders reach: the longest offset in any workflow,
    /// with working days counted generously (weekends and holidays).
    fn reminder_horizon_days(&self) -> i64 {
        let mut max = 0i64;
        for (_, def) in self.catalog().definitions() {
            for d in def.deadlines.values() {
                for o in &d.reminders {
                    let days = if o.working {
                        i64::from(o.days) * 2 + 14
                    } else {
                        i64::from(o.days)
                    };
                    max = max.max(days);
                }
            }
        }
        max.max(1)
    }

    /// Addresses of the parties and roles named in a deadline's `remind` or `escalate`.
    fn addresses(
        &self,
        names: &[String],
        parties: &std::collections::BTreeMap<String, crate::domain::PartyRef>,
        report: &mut RemindReport,
        file_number: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for name in names {
            match self.address_of(name, parties) {
                Some(a) => out.push(a),
                None => report.warnings.push(format!(
                    "{file_number}: no mail address for `{name}` (give the party an email, or set role_addresses.{name})"
                )),
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn remind_one(
        &self,
        d: &DueDeadline,
        ddef: &DeadlineDef,
        title: &str,
        end: NaiveDate,
        today: NaiveDate,
        dry_run: bool,
        report: &mut RemindReport,
    ) -> Result<(), CaseError> {
        let region = self.config().region;
        let mut due_steps: Vec<(Offset, NaiveDate)> = ddef
            .reminders
            .iter()
            .map(|o| (*o, deadline::reminder_date(end, *o, region)))
            .filter(|(_, date)| *date <= today)
            .collect();
        if due_steps.is_empty() {
            return Ok(());
        }
        due_steps.sort_by_key(|(_, date)| *date);
        let latest = due_steps.last().expect("not empty").0;
        let recipients = self.addresses(&ddef.remind, &d.parties, report, &d.file_number);
        if recipients.is_empty() {
            return Ok(());
        }
        let days_left = deadline::days_left(today, end);
        let (subject, body) = self.render_mail(
            "reminder",
            &json!({
                "office": self.config().office.name,
                "case": {"file_number": d.file_number, "title": title},
                "deadline": {"title": d.deadline.title, "end": d.deadline.due_date},
                "days_left": days_left,
                "legal_basis": ddef.legal_basis.clone().unwrap_or_default(),
                "action": ddef.action,
            }),
        )?;
        let line = |step: &Offset, r: &str| ReminderLine {
            file_number: d.file_number.to_string(),
            deadline: d.deadline.name.clone(),
            due_date: d.deadline.due_date.clone(),
            step: step.to_string(),
            recipient: r.to_string(),
        };
        if dry_run {
            for r in &recipients {
                report.reminders.push(line(&latest, r));
            }
            return Ok(());
        }
        let now = self.clock().now();
        let at = crate::journal::timestamp(now);
        let mut tx = self.store().begin().await?;
        let mut queued = Vec::new();
        for (step, date) in &due_steps {
            let is_latest = *step == latest;
            for r in &recipients {
                let status = if is_latest {
                    ReminderStatus::Sent
                } else {
                    ReminderStatus::PassedOver
                };
                let new = tx
                    .record_reminder(
                        d.deadline.id,
                        &step.to_string(),
                        r,
                        &date.to_string(),
                        status,
                        &at,
                    )
                    .await?;
                if !new {
                    continue;
                }
                if !is_latest {
                    report.passed_over += 1;
                    continue;
                }
                let mail = MailOut {
                    kind: "reminder",
                    key: format!("{}.{step}.{}", d.deadline.id, address_key(r)),
                    case_id: d.deadline.case_id,
                    to: r,
                    subject: subject.clone(),
                    body: body.clone(),
                    attachments: Vec::new(),
                };
                self.queue_mail(&mut tx, mail, &at).await?;
                queued.push(line(step, r));
            }
        }
        if queued.is_empty() {
            // Everything was recorded before, by this or another process.
            return Ok(());
        }
        let case = self.load(&d.file_number).await?;
        let events = queued
            .iter()
            .map(|q| {
                system_event(
                    EventKind::ReminderQueued,
                    json!({"deadline": q.deadline, "due": q.due_date, "step": q.step, "to": q.recipient, "days_left": days_left}),
                )
            })
            .collect();
        append(&mut tx, &case, events, now).await?;
        tx.commit().await?;
        report.reminders.extend(queued);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn expire(
        &self,
        d: &DueDeadline,
        ddef: &DeadlineDef,
        def: &crate::workflow::Definition,
        end: NaiveDate,
        today: NaiveDate,
        dry_run: bool,
        report: &mut RemindReport,
    ) -> Result<(), CaseError> {
        let line = |r: &str| ReminderLine {
            file_number: d.file_number.to_string(),
            deadline: d.deadline.name.clone(),
            due_date: d.deadline.due_date.clone(),
            step: "expired".into(),
            recipient: r.to_string(),
        };
        let recipients = self.addresses(&ddef.escalate, &d.parties, report, &d.file_number);
        let line = |r: &str| ReminderLine {
            step: ddef.kind.expired_status().to_string(),
            ..line(r)
        };
        if dry_run {
            report.expired.push(line(&recipients.join(", ")));
            return Ok(());
        }
        let now = self.clock().now();
        let at = crate::journal::timestamp(now);
        let case = self.load(&d.file_number).await?;
        let mut tx = self.store().begin().await?;
        if !tx
            .expire_deadline(d.deadline.id, ddef.kind.expired_status(), &at)
            .await?
        {
            return Ok(()); // another process expired it
        }
        let overdue = -deadline::days_left(today, end);
        let title = &def.title;
        // The person the case is assigned to, by name; the roles' titles
        // where nobody is (never a role id).
        let roles: Vec<String> = ddef
            .escalate
            .iter()
            .map(|r| def.roles.get(r).cloned().unwrap_or_else(|| r.clone()))
            .collect();
        let responsible = match self.store().assignee(d.file_number.as_str()).await? {
            Some(user) => match self.store().user_by_name(&user).await? {
                Some(u) => u.display_name,
                None => user,
            },
            None => format!("noch niemand zugewiesen ({})", roles.join(", ")),
        };
        let (subject, body) = self.render_mail(
            "escalation",
            &json!({
                "office": self.config().office.name,
                "case": {"file_number": d.file_number, "title": title, "responsible": responsible},
                "deadline": {"title": d.deadline.title, "end": d.deadline.due_date},
                "days_overdue": overdue,
                "legal_basis": ddef.legal_basis.clone().unwrap_or_default(),
            }),
        )?;
        for r in &recipients {
            tx.record_reminder(
                d.deadline.id,
                "expired",
                r,
                &d.deadline.due_date,
                ReminderStatus::Sent,
                &at,
            )
            .await?;
            let mail = MailOut {
                kind: "escalation",
                key: format!("{}.{}", d.deadline.id, address_key(r)),
                case_id: d.deadline.case_id,
                to: r,
                subject: subject.clone(),
                body: body.clone(),
                attachments: Vec::new(),
            };
            self.queue_mail(&mut tx, mail, &at).await?;
        }
        let events = vec![system_event(
            EventKind::DeadlineExpired,
            json!({"deadline": d.deadline.name, "due": d.deadline.due_date, "escalated_to": recipients}),
        )];
        append(&mut tx, &case, events, now).await?;
        tx.commit().await?;
        report.expired.push(line(&recipients.join(", ")));

        if let Some(transition) = &ddef.on_expiry {
            let result = self
                .fire(FireRequest {
                    file_number: d.file_number.clone(),
                    transition: transition.into(),
                    actor: Actor::system(),
                    payload: Default::default(),
                    expected_version: None,
                })
                .await;
            report.fired.push(match result {
                Ok(view) => format!("{}: {transition} -> {}", d.file_number, view.state),
                Err(e) => format!("{}: {transition} not fired: {e}", d.file_number),
            });
        }
        Ok(())
    }
}
