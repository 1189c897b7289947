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
    Cancel {
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
    /// The enclosures issued with it, in the order its „Anlagen“ line lists them.
    pub enclosures: Vec<EnclosureJob>,
    /// The case's largest value, blamed when the letter runs over its
    /// budget (pages, seconds).
    pub blame: Option<String>,
}

/// An enclosure to render with its letter: the enclosure's name (the
/// document's name in the case), its template and complete data.
pub(super) struct EnclosureJob {
    pub name: String,
    pub template: String,
    pub data: Value,
}

/// A letter's PDF and its enclosures', rendered together.
pub(super) struct RenderedLetter {
    pub letter: Rendered,
    pub enclosures: Vec<Rendered>,
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
            Effect::CancelDeadline { deadline } => Step::Cancel {
                name: deadline.clone(),
            },
            Effect::Letter {
                template,
                to,
                data: expr,
                electronic,
                when,
                enclosures,
            } => {
                if let Some(when) = when
                    && !self.holds(cx, state, template, when)?
                {
                    return Ok(Step::Waiting);
                }
                let mut job = self.letter_job(cx, state, template, to, expr.as_ref())?;
                job.electronic = *electronic;
                self.enclose(cx, state, &mut job, enclosures)?;
                if let Some(r) = &cx.def.retrieval
                    && r.letters.contains(template)
                    && r.in_force(cx.today)
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
        rendered: Option<RenderedLetter>,
    ) -> Result<Vec<NewEvent>, CaseError> {
        let actor = cx.actor;
        Ok([match step {
            Step::Number { .. } | Step::Set { .. } => {
                return Ok(pure_event(cx, &step).into_iter().collect());
            }
            Step::Waiting => return Ok(Vec::new()),
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
                    return Ok(Vec::new());
                }
                event(
                    actor,
                    EventKind::DeadlineMet,
                    json!({"deadline": name, "on": cx.today.to_string()}),
                )
            }
            Step::Cancel { name } => {
                if tx
                    .close_deadline(cx.case.id, &name, DeadlineStatus::Cancelled, cx.at)
                    .await?
                    == 0
                {
                    return Ok(Vec::new());
                }
                event(
                    actor,
                    EventKind::DeadlineCancelled,
                    json!({"deadline": name, "on": cx.today.to_string()}),
                )
            }
            Step::Letter(job) => {
                let rendered = rendered.expect("a letter step is applied with its PDF");
                return self.issue(tx, cx, job, rendered).await;
            }
            Step::Distribute(job) => {
                return Ok(self.distribute(tx, cx, job).await?.into_iter().collect());
            }
        }]
        .into_iter()
        .collect())
    }

    /// Stores a letter and its enclosures, sends or provides it, and
    /// journals each document (one `letter_issued` event per document; an
    /// enclosure's names the letter it goes with).
    async fn issue(
        &self,
        tx: &mut Tx,
        cx: &EffectContext<'_>,
        job: LetterJob,
        rendered: RenderedLetter,
    ) -> Result<Vec<NewEvent>, CaseError> {
        let row_of = |template: &str, data: &Value, r: &Rendered| DocumentRow {
            id: 0,
            case_id: cx.case.id,
            template: template.to_string(),
            template_hash: r.template_hash.clone(),
            data_hash: hex::encode(sha2::Sha256::digest(data.to_string().as_bytes())),
            sha256: r.sha256.clone(),
            size_bytes: r.pdf.len() as i64,
            pages: r.pages as i64,
            recipient: job.party.name.clone(),
            letter_date: cx.today.to_string(),
            created_at: cx.at.to_string(),
            reference: job.reference.clone(),
        };
        let row = row_of(&job.template, &job.data, &rendered.letter);
        tx.insert_document(&NewDocument {
            row: &row,
            pdf: &rendered.letter.pdf,
        })
        .await?;
        let mut rows = Vec::with_capacity(job.enclosures.len());
        for (e, r) in job.enclosures.iter().zip(&rendered.enclosures) {
            let erow = row_of(&e.name, &e.data, r);
            tx.insert_document(&NewDocument {
                row: &erow,
                pdf: &r.pdf,
            })
            .await?;
            rows.push(erow);
        }
        if job.retrieval {
            self.provide(tx, cx, &job, &row).await?;
        } else {
            self.queue_letter_mail(tx, cx, &job, &row, &rows).await?;
        }
        let mut events = vec![event(
            cx.actor,
            EventKind::LetterIssued,
            json!({
                "template": job.template,
                "template_hash": row.template_hash,
                "data_hash": row.data_hash,
                "sha256": row.sha256,
                "pages": row.pages,
                "recipient": job.to,
                "channel": job.channel(),
                "enclosures": rows.iter().map(|r| &r.template).collect::<Vec<_>>(),
            }),
        )];
        for (e, r) in job.enclosures.iter().zip(&rows) {
            events.push(event(
                cx.actor,
                EventKind::LetterIssued,
                json!({
                    "template": e.name,
                    "typst": e.template,
                    "template_hash": r.template_hash,
                    "data_hash": r.data_hash,
                    "sha256": r.sha256,
                    "pages": r.pages,
                    "recipient": job.to,
                    "enclosure_of": row.sha256,
                }),
            ));
        }
        Ok(events)
    }

    /// Adds the letter's enclosures whose condition holds: each gets the
    /// letter's sender and recipient, its fixed content, its case data and
    /// a label („Anlage 2 zu: Zuwendungsbescheid Nr. … vom …“); the letter
    /// lists their titles as its „Anlagen“, so the two cannot disagree.
    fn enclose(
        &self,
        cx: &EffectContext<'_>,
        state: &EffectState,
        job: &mut LetterJob,
        names: &[String],
    ) -> Result<(), CaseError> {
        if names.is_empty() {
            return Ok(());
        }
        let vars = self.vars(
            cx,
            state,
            serde_json::to_value(&job.party).expect("party serialises"),
        );
        let mut titles = Vec::new();
        for name in names {
            let e = &cx.def.enclosures[name];
            let fault = |reason: String| {
                CaseError::Internal(Fault::LetterData {
                    template: name.clone(),
                    reason,
                })
            };
            if let Some(when) = &e.when {
                match when.eval_any(&vars).map_err(|f| fault(f.0))? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    other => {
                        return Err(fault(format!(
                            "its condition `when` gave {other}, not true or false"
                        )));
                    }
                }
            }
            let mut data =
                self.default_letter_data(&job.party, &cx.case.file_number, &cx.def.title);
            merge(&mut data, Value::Object(e.content.clone()));
            if let Some(expr) = &e.data {
                merge(&mut data, expr.eval(&vars).map_err(|f| fault(f.0))?);
            }
            if data.get("label").is_none_or(Value::is_null) {
                let of = crate::letter::title_of(&job.template);
                let number = job
                    .reference
                    .as_ref()
                    .map(|r| format!(" Nr. {r}"))
                    .unwrap_or_default();
                data["label"] = Value::from(format!(
                    "Anlage {} zu: {of}{number} vom {}",
                    titles.len() + 1,
                    cx.today.format("%d.%m.%Y")
                ));
            }
            titles.push(Value::from(e.title.clone()));
            job.enclosures.push(EnclosureJob {
                name: name.clone(),
                template: e.template.clone(),
                data,
            });
        }
        job.data["attachments"] = Value::Array(titles);
        Ok(())
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

    /// Renders a letter to be issued, with its enclosures, and seals the
    /// letter if its template is sealed: the stored PDF and its hash are the
    /// sealed ones. A signing service or TSA that is down fails the
    /// transition before anything is written.
    pub(super) async fn render_sealed(
        &self,
        cx: &EffectContext<'_>,
        job: &LetterJob,
    ) -> Result<RenderedLetter, CaseError> {
        let mut rendered = self.render(cx, job).await?;
        if let Some(sealer) = self.sealer()
            && sealer.applies_to(&job.template)
        {
            let unsealed = std::mem::take(&mut rendered.letter.pdf);
            let pdf = sealer.seal(unsealed, self.clock().now()).await?;
            rendered.letter.sha256 = hex::encode(sha2::Sha256::digest(&pdf));
            rendered.letter.pdf = pdf;
        }
        Ok(rendered)
    }

    /// Renders a letter and its enclosures off the async executor.
    pub(super) async fn render(
        &self,
        cx: &EffectContext<'_>,
        job: &LetterJob,
    ) -> Result<RenderedLetter, CaseError> {
        let blame = job.blame.as_deref();
        let letter = self.render_one(cx, &job.template, &job.data, blame);
        let enclosures = futures_util::future::join_all(
            job.enclosures
                .iter()
                .map(|e| self.render_one(cx, &e.template, &e.data, blame)),
        );
        let (letter, enclosures) = futures_util::future::join(letter, enclosures).await;
        Ok(RenderedLetter {
            letter: letter?,
            enclosures: enclosures.into_iter().collect::<Result<_, _>>()?,
        })
    }

    /// Renders one PDF off the async executor.
    async fn render_one(
        &self,
        cx: &EffectContext<'_>,
        template: &str,
        data: &Value,
        blame: Option<&str>,
    ) -> Result<Rendered, CaseError> {
        let letters = self.letters().clone();
        let title = format!("{} {}", cx.def.title, cx.case.file_number);
        let author = self.config().office.name.clone();
        let template = template.to_string();
        let data = data.clone();
        let date = cx.today;
        let limits = self.config().limits;
        // The value to blame when the letter runs over its budget.
        let too_large = |what: String| {
            let field = blame.unwrap_or("data").to_string();
            CaseError::Refused(crate::workflow::WorkflowError::TooLarge {
                title: cx.def.field_title(&field),
                field,
                what,
            })
        };
        let slot = self.render_slot().await;
        let (tpl, letter_data) = (template.clone(), data.clone());
        // The slot stays taken until Typst is done, also after a timeout,
        // so runaway renders cannot pile up.
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            letters.render(&RenderRequest {
                template: &tpl,
                data: &letter_data,
                date,
                title: &title,
                author: &author,
            })
        });
        let rendered = tokio::time::timeout(
            std::time::Duration::from_millis(limits.letter_millis.max(1)),
            task,
        )
        .await
        .map_err(|_| {
            let ms = limits.letter_millis.max(1);
            let within = if ms.is_multiple_of(1000) {
                format!("{} s", ms / 1000)
            } else {
                format!("{ms} ms")
            };
            too_large(format!(
                "das Schreiben „{template}“ ließ sich nicht innerhalb von {within} erstellen"
            ))
        })?
        .map_err(|e| CaseError::Internal(Fault::RenderTask(e.to_string())))?
        .map_err(CaseError::from)?;
        if rendered.pages > limits.letter_pages {
            return Err(too_large(format!(
                "das Schreiben „{template}“ hätte {} Seiten, erlaubt sind höchstens {}",
                rendered.pages, limits.letter_pages
            )));
        }
        Ok(rendered)
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
            enclosures: Vec::new(),
            blame: largest_field(&state.data),
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
        let until = super::portal::retrievable_until(cx.today);
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
        enclosures: &[DocumentRow],
    ) -> Result<(), CaseError> {
        let Some(email) = &job.party.email else {
            return Ok(());
        };
        let file = safe_name(&cx.case.file_number);
        let filename = format!("{}-{file}.pdf", job.template);
        let mut attachments = vec![AttachmentRef::pdf(filename.clone(), &row.sha256)];
        attachments.extend(
            enclosures
                .iter()
                .map(|d| AttachmentRef::pdf(format!("{}-{file}.pdf", d.template), &d.sha256)),
        );
        let (subject, body) = self.render_mail(
            "letter",
            &json!({
                "office": self.config().office.name,
                "case": {"file_number": cx.case.file_number},
                "letter": {
                    "subject": cx.def.title,
                    "date": row.letter_date,
                    "electronic_notification": job.electronic,
                    // How the letter is served when not by plain post, as
                    // the workflow's letter data says (e.g. gegen Empfangsbekenntnis).
                    "delivery": job.data.get("delivery"),
                },
                "attachments": attachments.iter().map(|a| &a.filename).collect::<Vec<_>>(),
                // How the letter is notified when not by plain post, as
                // the workflow's letter data says (e.g. gegen Empfangsbekenntnis).
            }),
        )?;
        let mail = MailOut {
            kind: "letter",
            key: format!("{}.{}", cx.case.id, &row.sha256[..16]),
            case_id: cx.case.id,
            to: email.as_str(),
            subject,
            body,
            attachments,
        };
        self.queue_mail(tx, mail, cx.at).await?;
        Ok(())
    }
}

/// The field of the case whose value is the largest (as JSON): the one to
/// blame when a letter runs over its budget, since the letter shows it.
fn largest_field(data: &Map<String, Value>) -> Option<String> {
    data.iter()
        .max_by_key(|(_, v)| v.to_string().len())
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod budget_tests {
    use super::largest_field;
    use serde_json::json;

    #[test]
    fn the_largest_value_is_blamed_lists_as_a_whole() {
        let data = json!({"kommune": "Kreis Unna", "bearbeiter_name": "Anna Becker ".repeat(50)});
        assert_eq!(
            largest_field(data.as_object().unwrap()).as_deref(),
            Some("bearbeiter_name")
        );
        let data = json!({"betreff": "x".repeat(100), "fehlende_unterlagen": ["y".repeat(60), "z".repeat(60)]});
        assert_eq!(
            largest_field(data.as_object().unwrap()).as_deref(),
            Some("fehlende_unterlagen")
        );
        assert_eq!(largest_field(&serde_json::Map::new()), None);
    }
}
