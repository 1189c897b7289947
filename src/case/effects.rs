//! The effect interpreter: one place that knows what each effect of a
//! transition (`number`, `set`, `deadline`, `meet`, `letter`, `distribute`)
//! means.
//!
//! [`Engine::resolve`] turns an effect into a [`Step`] with every value
//! computed, advancing an [`EffectState`] (the data and the open deadlines
//! as the following effects see them). It is pure apart from reading the
//! configuration. [`Engine::apply`] writes a step in the transaction and
//! says what to journal. `fire` uses both twice over the same effects list:
//! the effects up to the first `number` are resolved before the write
//! transaction (so their letters render in parallel, outside SQLite's single
//! writer); the rest are resolved inside it, one by one, as numbers are
//! allocated. The same two functions serve both passes, so they cannot
//! disagree.

use serde_json::{Map, Value, json};
use sha2::Digest;

use super::engine::{Engine, MailOut, address_key, event, merge, safe_name};
use super::{Actor, CaseError, Fault};
use crate::domain::{AttachmentRef, DeadlineStatus, PartyRef};
use crate::journal::{EventKind, NewEvent};
use crate::letter::{RenderRequest, Rendered};
use crate::store::{CaseRow, DocumentRow, NewDeadline, NewDocument, Tx};
use crate::workflow::{DataExpr, Definition, Effect};

/// What the effects of one transition see and change as they run in order.
pub(super) struct EffectState {
    /// Case data with the payload and the effects so far applied.
    pub data: Map<String, Value>,
    /// Due dates of the case's open deadlines, by name, for letter data.
    pub deadlines: Map<String, Value>,
    /// The last number allocated in this transition (a letter issued after
    /// it carries it as its reference, e.g. the notice number).
    pub reference: Option<String>,
}

/// The fixed inputs of one transition's effects.
pub(super) struct EffectContext<'a> {
    pub def: &'a Definition,
    pub case: &'a CaseRow,
    pub actor: &'a Actor,
    pub today: chrono::NaiveDate,
    /// Journal timestamp of the transaction.
    pub at: &'a str,
    /// Parties (by name) that consented to notification by retrieval.
    pub consents: &'a std::collections::BTreeSet<String>,
}

/// One effect with every value computed, ready to be written.
pub(super) enum Step {
    Number {
        register: String,
        field: String,
        number: String,
    },
    Set {
        field: String,
        value: Value,
        expr: String,
    },
    Deadline {
        name: String,
        due: chrono::NaiveDate,
        explanation: Value,
    },
    Meet {
        name: String,
    },
    /// Nothing to do now: a deadline that runs from a posting day
    /// (Ab-Vermerk) or an Empfangsbekenntnis not recorded yet (it starts
    /// once one is entered), or a letter whose `when` does not hold.
    Waiting,
    Letter(LetterJob),
    Distribute(Distribution),
}

/// A distribution to send: the letter template whose latest document goes
/// out (with the documents issued with it), to whom, and the mail's context.
pub(super) struct Distribution {
    pub template: String,
    pub recipients: Vec<PartyRef>,
    pub context: Value,
}

/// A letter to render and issue: template, recipient and complete data.
pub(super) struct LetterJob {
    pub template: String,
    /// The party role it goes to, e.g. `applicant`.
    pub to: String,
    pub party: PartyRef,
    pub data: Value,
    pub reference: Option<String>,
    /// Notified electronically by design (the mail is the notification).
    pub electronic: bool,
    /// Provided in the portal for retrieval (§ 41 Abs. 2a VwVfG NRW): the
    /// mail only says where to find it.
    pub retrieval: bool,
}

impl LetterJob {
    /// How the letter is notified and what its mail is, for the journal:
    /// by post with the mail only "vorab zur Information", or electronically.
    fn channel(&self) -> Value {
        let mail = self.party.email.is_some();
        if self.retrieval {
            json!({"notification": "Abruf im Portal (§ 41 Abs. 2a VwVfG NRW)", "mail": if mail { "Benachrichtigung über die Bereitstellung" } else { "keine" }})
        } else if self.electronic {
            json!({"notification": "elektronisch", "mail": if mail { "Bekanntgabe" } else { "keine" }})
        } else {
            json!({"notification": "Post", "mail": if mail { "vorab zur Information" } else { "keine" }})
        }
    }
}

/// The journal event of a step that writes nothing but the journal: a
/// number (allocated in the transaction already) or a computed field (part
/// of the case data). `None` for every other step.
pub(super) fn pure_event(cx: &EffectContext<'_>, step: &Step) -> Option<NewEvent> {
    Some(match step {
        Step::Number {
            register,
            field,
            number,
        } => event(
            cx.actor,
            EventKind::NumberAllocated,
            json!({"register": register, "field": field, "number": number}),
        ),
        Step::Set { field, value, expr } => event(
            cx.actor,
            EventKind::FieldSet,
            json!({"field": field, "value": value, "expr": expr}),
        ),
        _ => return None,
    })
}

impl Engine {
    /// Resolves one effect against `state` and advances it. `number` is the
    /// number allocated for a `number` effect; the caller allocates it in
    /// its transaction (a `number` effect is never resolved without one).
    pub(super) fn resolve(
        &self,
        cx: &EffectContext<'_>,
        effect: &Effect,
        state: &mut EffectState,
        number: Option<String>,
    ) -> Result<Step, CaseError> {
        Ok(match effect {
            Effect::Allocate { register, field } => {
                let number = number.expect("a number effect is resolved with its number");
                state
                    .data
                    .insert(field.clone(), Value::String(number.clone()));
                state.reference = Some(number.clone());
                Step::Number {
                    register: register.clone(),
                    field: field.clone(),
                    number,
                }
            }
            Effect::Set { field, value } => {
                let v = self.compute_field(cx, state, field, value)?;
                state.data.insert(field.clone(), v.clone());
                Step::Set {
                    field: field.clone(),
                    value: v,
                    expr: value.expr.clone(),
                }
            }
            Effect::SetDeadline { deadline } => {
                let Some((due, explanation)) = self.compute_deadline(
                    &cx.def.deadlines[deadline],
                    cx.def.retrieval.as_ref(),
                    cx.today,
                    &state.data,
                )?
                else {
                    return Ok(Step::Waiting);
                };
                state
                    .deadlines
                    .insert(deadline.clone(), Value::String(due.to_string()));
                Step::Deadline {
                    name: deadline.clone(),
                    due,
                    explanation,
                }
            }
            Effect::MeetDeadline { deadline } => Step::Meet {
                name: deadline.clone(),
            },
            Effect::Letter {
                template,
                to,
                data: expr,
                electronic,
                when,
            } => {
                if let Some(when) = when
                    && !self.holds(cx, state, template, when)?
                {
                    return Ok(Step::Waiting);
                }
                let mut job = self.letter_job(cx, state, template, to, expr.as_ref())?;
                job.electronic = *electronic;
                if let Some(r) = &cx.def.retrieval
                    && r.letters.contains(template)
                    && cx.consents.contains(&job.party.name)
                {
                    job.retrieval = true;
                    state
                        .data
                        .insert(r.provided.clone(), Value::String(cx.today.to_string()));
                }
                Step::Letter(job)
            }
            Effect::Distribute {
                template,
                recipients,
                data,
                ..
            } => {
                let context = match data {
                    Some(expr) => expr.eval(&self.vars(cx, state, Value::Null)).map_err(|f| {
                        CaseError::Internal(Fault::LetterData {
                            template: template.clone(),
                            reason: format!("its mail data: {}", f.0),
                        })
                    })?,
                    None => json!({}),
                };
                Step::Distribute(Distribution {
                    template: template.clone(),
                    recipients: recipients.clone(),
                    context,
                })
            }
        })
    }

    /// Writes a resolved step in the transaction; `rendered` is the letter
    /// of a [`Step::Letter`]. Returns the journal event, if the step made one.
    pub(super) async fn apply(
        &self,
        tx: &mut Tx,
        cx: &EffectContext<'_>,
        step: Step,
        rendered: Option<Rendered>,
    ) -> Result<Option<NewEvent>, CaseError> {
        let actor = cx.actor;
        Ok(Some(match step {
            Step::Number { .. } | Step::Set { .. } => {
                return Ok(pure_event(cx, &step));
            }
            Step::Waiting => return Ok(None),
            Step::Deadline {
                name,
                due,
                explanation,
            } => {
                let d = &cx.def.deadlines[&name];
                tx.insert_deadline(&NewDeadline {
                    case_id: cx.case.id,
                    name: &name,
                    title: &d.title,
                    due_date: &due.to_string(),
                    at: cx.at,
                    legal_basis: d.legal_basis.as_deref(),
                    explanation: &explanation,
                })
                .await?;
                event(
                    actor,
                    EventKind::DeadlineSet,
                    json!({"deadline": name, "due": due.to_string(), "explanation": explanation}),
                )
            }
            Step::Meet { name } => {
                if tx
                    .close_deadline(cx.case.id, &name, DeadlineStatus::Met, cx.at)
                    .await?
                    == 0
                {
                    return Ok(None);
                }
                event(
                    actor,
                    EventKind::DeadlineMet,
                    json!({"deadline": name, "on": cx.today.to_string()}),
                )
            }
            Step::Letter(job) => {
                let rendered = rendered.expect("a letter step is applied with its PDF");
                let row = DocumentRow {
                    id: 0,
                    case_id: cx.case.id,
                    template: job.template.clone(),
                    template_hash: rendered.template_hash.clone(),
                    data_hash: hex::encode(sha2::Sha256::digest(job.data.to_string().as_bytes())),
                    sha256: rendered.sha256.clone(),
                    size_bytes: rendered.pdf.len() as i64,
                    pages: rendered.pages as i64,
                    recipient: job.party.name.clone(),
                    letter_date: cx.today.to_string(),
                    created_at: cx.at.to_string(),
                    reference: job.reference.clone(),
                };
                tx.insert_document(&NewDocument {
                    row: &row,
                    pdf: &rendered.pdf,
                })
                .await?;
                if job.retrieval {
                    self.provide(tx, cx, &job, &row).await?;
                } else {
                    self.queue_letter_mail(tx, cx, &job, &row).await?;
                }
                event(
                    actor,
                    EventKind::LetterIssued,
                    json!({
                        "template": job.template,
                        "template_hash": row.template_hash,
                        "data_hash": row.data_hash,
                        "sha256": row.sha256,
                        "pages": row.pages,
                        "recipient": job.to,
                        "channel": job.channel(),
                    }),
                )
            }
            Step::Distribute(job) => return self.distribute(tx, cx, job).await,
        }))
    }

    /// Sends the case's latest letter from the job's template to each
    /// recipient, one mail each, with the documents issued with it (in the
    /// same transition: its enclosures, e.g. Anlage 1), and records each
    /// delivery for the portal. A mail's Message-ID is made from the case,
    /// the template and the address, so nothing goes out twice. Without
    /// such a letter the transition is refused.
    async fn distribute(
        &self,
        tx: &mut Tx,
        cx: &EffectContext<'_>,
        job: Distribution,
    ) -> Result<Option<NewEvent>, CaseError> {
        let case = cx.case;
        let template = job.template.as_str();
        let all = tx.documents_of(case.id).await?;
        let doc = all
            .iter()
            .rev()
            .find(|d| d.template == template)
            .ok_or_else(|| {
                CaseError::invalid(
                    "template",
                    format!(
                        "case {} has no `{template}` letter to distribute",
                        case.file_number
                    ),
                )
            })?;
        let with_it: Vec<_> = std::iter::once(doc)
            .chain(
                all.iter()
                    .filter(|d| d.id != doc.id && d.created_at == doc.created_at),
            )
            .collect();
        let attachments: Vec<AttachmentRef> = with_it
            .iter()
            .map(|d| {
                AttachmentRef::pdf(
                    format!("{}-{}.pdf", d.template, safe_name(&case.file_number)),
                    &d.sha256,
                )
            })
            .collect();
        let office = job
            .context
            .get("office")
            .cloned()
            .unwrap_or_else(|| Value::from(self.config().office.name.clone()));
        let mut sent_to = Vec::new();
        for r in &job.recipients {
            let Some(email) = &r.email else {
                return Err(CaseError::invalid(
                    "recipients",
                    format!("{} has no mail address", r.name),
                ));
            };
            let mut ctx = job.context.clone();
            merge(
                &mut ctx,
                json!({"member": {"name": r.name}, "office": office}),
            );
            let (subject, body) = self.render_mail("circular", &ctx)?;
            let mail = MailOut {
                kind: "distribution",
                key: format!("{}.{template}.{}", case.id, address_key(email.as_str())),
                case_id: case.id,
                to: email.as_str(),
                subject,
                body,
                attachments: attachments.clone(),
            };
            if self.queue_mail(tx, mail, cx.at).await? {
                sent_to.push(json!({"name": r.name, "email": email}));
            }
            tx.insert_delivery(case.id, &r.name, cx.at).await?;
        }
        if sent_to.is_empty() {
            return Ok(None);
        }
        Ok(Some(event(
            cx.actor,
            EventKind::MailQueued,
            json!({
                "distribution": template,
                "document": doc.sha256,
                "enclosures": with_it[1..].iter().map(|d| &d.sha256).collect::<Vec<_>>(),
                "recipients": sent_to,
            }),
        )))
    }

    /// Renders a letter to be issued and seals it if its template is sealed:
    /// the stored PDF and its hash are the sealed ones. A signing service or
    /// TSA that is down fails the transition before anything is written.
    pub(super) async fn issue(
        &self,
        cx: &EffectContext<'_>,
        job: &LetterJob,
    ) -> Result<Rendered, CaseError> {
        let rendered = self.render(cx, job).await?;
        match self.sealer() {
            Some(sealer) if sealer.applies_to(&job.template) => {
                let pdf = sealer.seal(rendered.pdf, self.clock().now()).await?;
                Ok(Rendered {
                    sha256: hex::encode(sha2::Sha256::digest(&pdf)),
                    pdf,
                    ..rendered
                })
            }
            _ => Ok(rendered),
        }
    }

    /// Renders a letter off the async executor.
    pub(super) async fn render(
        &self,
        cx: &EffectContext<'_>,
        job: &LetterJob,
    ) -> Result<Rendered, CaseError> {
        let letters = self.letters().clone();
        let title = format!("{} {}", cx.def.title, cx.case.file_number);
        let author = self.config().office.name.clone();
        let template = job.template.clone();
        let data = job.data.clone();
        let date = cx.today;
        let slot = self.render_slot().await;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            letters.render(&RenderRequest {
                template: &template,
                data: &data,
                date,
                title: &title,
                author: &author,
            })
        })
        .await
        .map_err(|e| CaseError::Internal(Fault::RenderTask(e.to_string())))?
        .map_err(CaseError::from)
    }

    /// The variables an effect's expressions see, as the effects so far left them.
    fn vars(
        &self,
        cx: &EffectContext<'_>,
        state: &EffectState,
        party: Value,
    ) -> Map<String, Value> {
        cx.def.expression_vars(
            &state.data,
            &cx.case.file_number,
            cx.today,
            party,
            &state.deadlines,
            cx.def.rates(self.rates()),
        )
    }

    /// Whether a letter's `when` condition holds.
    fn holds(
        &self,
        cx: &EffectContext<'_>,
        state: &EffectState,
        template: &str,
        when: &DataExpr,
    ) -> Result<bool, CaseError> {
        let vars = self.vars(cx, state, Value::Null);
        let fault = |reason: String| {
            CaseError::Internal(Fault::LetterData {
                template: template.into(),
                reason: format!("its condition `when`: {reason}"),
            })
        };
        match when.eval_any(&vars).map_err(|f| fault(f.0))? {
            Value::Bool(b) => Ok(b),
            other => Err(fault(format!("gave {other}, not true or false"))),
        }
    }

    /// Evaluates a `set` effect and checks the result against the field's type.
    fn compute_field(
        &self,
        cx: &EffectContext<'_>,
        state: &EffectState,
        field: &str,
        value: &DataExpr,
    ) -> Result<Value, CaseError> {
        let vars = self.vars(cx, state, Value::Null);
        let fault = |reason: String| {
            CaseError::Internal(Fault::Expression {
                field: field.to_string(),
                reason,
            })
        };
        let v = value.eval_any(&vars).map_err(|f| fault(f.0))?;
        match cx.def.fields.get(field) {
            Some(f) => f
                .kind
                .from_expression(v)
                .map_err(|reason| fault(format!("it gave a wrong value: {reason}"))),
            None => Ok(v),
        }
    }

    /// The complete data of a letter: sender, recipient and file number
    /// from configuration and the case, the rest from the workflow's data
    /// expression.
    fn letter_job(
        &self,
        cx: &EffectContext<'_>,
        state: &EffectState,
        template: &str,
        to: &str,
        expr: Option<&DataExpr>,
    ) -> Result<LetterJob, CaseError> {
        let party = cx.case.parties.get(to).cloned().ok_or_else(|| {
            CaseError::Internal(Fault::LetterData {
                template: template.into(),
                reason: format!("it goes to party `{to}`, but the case has no such party"),
            })
        })?;
        let mut data = self.default_letter_data(&party, &cx.case.file_number, &cx.def.title);
        if let Some(expr) = expr {
            let vars = self.vars(
                cx,
                state,
                serde_json::to_value(&party).expect("party serialises"),
            );
            let extra = expr.eval(&vars).map_err(|f| {
                CaseError::Internal(Fault::LetterData {
                    template: template.into(),
                    reason: f.0,
                })
            })?;
            merge(&mut data, extra);
        }
        Ok(LetterJob {
            template: template.into(),
            to: to.into(),
            party,
            data,
            reference: state.reference.clone(),
            electronic: false,
            retrieval: false,
        })
    }

    /// What every letter gets without the workflow saying so: sender,
    /// recipient, file number and a subject.
    fn default_letter_data(&self, party: &PartyRef, file_number: &str, subject: &str) -> Value {
        let mut lines = vec![Value::from(party.name.as_str())];
        lines.extend(party.address.iter().map(|l| Value::from(l.as_str())));
        json!({
            "office": self.config().office.letter_data(),
            "recipient": {"lines": lines},
            "reference": {"ours": file_number},
            "subject": subject,
        })
    }

    /// Provides an issued letter in the portal for retrieval and tells the
    /// party by mail where to find it (no attachment), in the letter's
    /// transaction. Without a mail address the letter cannot be provided.
    async fn provide(
        &self,
        tx: &mut Tx,
        cx: &EffectContext<'_>,
        job: &LetterJob,
        row: &DocumentRow,
    ) -> Result<(), CaseError> {
        tx.insert_provision(
            cx.case.id,
            &row.sha256,
            &job.template,
            &job.party.name,
            &cx.today.to_string(),
            cx.at,
        )
        .await?;
        let Some(email) = &job.party.email else {
            return Ok(());
        };
        let until = cx
            .today
            .checked_add_days(chrono::Days::new(super::RETRIEVAL_DAYS))
            .unwrap_or(cx.today);
        let link = format!(
            "{}/portal/faelle/{}",
            self.config().web.public_url.trim_end_matches('/'),
            cx.case.file_number
        );
        let (subject, body) = self.render_mail(
            "retrieval",
            &json!({
                "office": self.config().office.name,
                "case": {"file_number": cx.case.file_number},
                "letter": {
                    "subject": cx.def.title,
                    "title": crate::letter::title_of(&job.template),
                    "date": row.letter_date,
                    "until": until.to_string(),
                },
                "link": link,
            }),
        )?;
        let mail = MailOut {
            kind: "provision",
            key: format!("{}.{}", cx.case.id, &row.sha256[..16]),
            case_id: cx.case.id,
            to: email.as_str(),
            subject,
            body,
            attachments: Vec::new(),
        };
        self.queue_mail(tx, mail, cx.at).await?;
        Ok(())
    }

    /// Sends an issued letter to the party's mail address as a PDF
    /// attachment, queued in the same transaction as the letter itself.
    async fn queue_letter_mail(
        &self,
        tx: &mut Tx,
        cx: &EffectContext<'_>,
        job: &LetterJob,
        row: &DocumentRow,
    ) -> Result<(), CaseError> {
        let Some(email) = &job.party.email else {
            return Ok(());
        };
        let filename = format!("{}-{}.pdf", job.template, safe_name(&cx.case.file_number));
        let (subject, body) = self.render_mail(
            "letter",
            &json!({
                "office": self.config().office.name,
                "case": {"file_number": cx.case.file_number},
                "letter": {
                    "subject": cx.def.title,
                    "date": row.letter_date,
                    "electronic_notification": job.electronic,
                },
                "attachments": [filename],
            }),
        )?;
        let mail = MailOut {
            kind: "letter",
            key: format!("{}.{}", cx.case.id, &row.sha256[..16]),
            case_id: cx.case.id,
            to: email.as_str(),
            subject,
            body,
            attachments: vec![AttachmentRef::pdf(filename, &row.sha256)],
        };
        self.queue_mail(tx, mail, cx.at).await?;
        Ok(())
    }
}
