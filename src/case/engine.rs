//! The engine: opens cases and fires transitions, each as one transaction
//! holding the state change, its effects and its journal events.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Datelike;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::{Actor, CaseError, CaseView, PartyRef};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::deadline::{self, DeadlineSpec};
use crate::document::DocumentStore;
use crate::journal::{self, BrokenLink, Event, EventKind, NewEvent};
use crate::letter::{LetterEngine, RenderRequest};
use crate::mail::MailTemplates;
use crate::store::DocumentRow;
use crate::store::{CaseFilter, CaseRow, NewCase, NewDeadline, NewMail, Store};
use crate::workflow::{DataExpr, DeadlineDef, Definition, Due, Effect, FireInput};

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

/// What every letter gets without the workflow saying so: sender, recipient,
/// file number and a subject.
fn default_letter_data(config: &Config, party: &Value, file_number: &str, subject: &str) -> Value {
    let o = &config.office;
    let mut lines = vec![party.get("name").cloned().unwrap_or(Value::from(""))];
    if let Some(Value::Array(address)) = party.get("address") {
        lines.extend(address.iter().cloned());
    }
    json!({
        "office": {
            "name": o.name,
            "unit": o.unit,
            "street": o.street,
            "city": format!("{} {}", o.postcode, o.city),
            "phone": o.phone,
            "fax": o.fax,
            "email": o.email,
            "web": o.web,
            "bank": {"name": o.bank, "iban": o.iban, "bic": o.bic},
        },
        "recipient": {"lines": lines},
        "reference": {"ours": file_number},
        "subject": subject,
    })
}

/// Chains events onto a case and moves it on, if nobody else did since
/// `expected_version` was read. Returns the new head (sequence, hash).
pub(crate) async fn record(
    tx: &mut crate::store::Tx,
    case: &CaseRow,
    expected_version: i64,
    state: &str,
    data: &Map<String, Value>,
    events: Vec<NewEvent>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, String), CaseError> {
    let chained = journal::chain(case.id, case.last_seq, &case.head_hash, now, events);
    let last = chained.last().expect("at least one event");
    tx.update_case(
        case.id,
        &case.file_number,
        expected_version,
        state,
        data,
        last.seq,
        &last.hash,
        &journal::timestamp(now),
    )
    .await?;
    tx.append_events(&chained).await?;
    Ok((last.seq, last.hash.clone()))
}

/// A file-number-derived name safe for file names and Message-IDs.
pub(crate) fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One mail for [`Engine::queue_mail`].
pub(crate) struct MailOut<'a> {
    pub kind: &'a str,
    /// Unique per mail of this kind, e.g. deadline, step and recipient.
    pub key: String,
    pub case_id: i64,
    pub to: &'a str,
    pub subject: String,
    pub body: String,
    /// `[{"filename", "content_type", "sha256"}]`, bytes in the document store.
    pub attachments: Value,
}

/// The attachment list for one stored PDF.
fn pdf_attachment(filename: &str, sha256: &str) -> Value {
    json!([{"filename": filename, "content_type": "application/pdf", "sha256": sha256}])
}

/// A short, stable stand-in for a mail address in Message-IDs.
pub(crate) fn address_key(address: &str) -> String {
    hex::encode(sha2::Sha256::digest(address.as_bytes()))[..12].to_string()
}

/// Deep merge: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// A deadline as shown with a case.
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineView {
    pub name: String,
    pub title: String,
    pub due_date: String,
    pub status: String,
    /// Days from today to the end; negative once passed. Only for open deadlines.
    pub days_left: Option<i64>,
    pub legal_basis: Option<String>,
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
    letters: Arc<LetterEngine>,
    documents: DocumentStore,
    mail_templates: Arc<MailTemplates>,
    /// `rates` from the configuration as expressions see them, built once.
    rates: Map<String, Value>,
}

impl Engine {
    pub fn new(
        store: Store,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        letters: Arc<LetterEngine>,
    ) -> Engine {
        Engine {
            documents: DocumentStore::new(&config.documents_dir),
            store,
            catalog,
            clock,
            mail_templates: Arc::new(MailTemplates::embedded()),
            rates: config
                .rates
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(*v)))
                .collect(),
            config,
            letters,
        }
    }

    /// Uses mail templates from a folder instead of the built-in ones.
    pub fn with_mail_templates(mut self, templates: MailTemplates) -> Engine {
        self.mail_templates = Arc::new(templates);
        self
    }

    pub fn documents(&self) -> &DocumentStore {
        &self.documents
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
        let opened = NewEvent {
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
        };
        let case = CaseRow {
            id,
            file_number,
            workflow_id: def.id.clone(),
            workflow_version: def.version,
            state: state.clone(),
            data: req.data,
            parties,
            version: 0,
            last_seq: 0,
            head_hash: journal::GENESIS.into(),
            opened_at: at.clone(),
            updated_at: at,
        };
        let (last_seq, head_hash) =
            record(&mut tx, &case, 0, state, &case.data, vec![opened], now).await?;
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
            rates: &self.rates,
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

        let has_letters = plan
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Letter { .. }));
        let mut deadlines_now = if has_letters {
            self.open_deadlines(case.id).await?
        } else {
            Map::new()
        };
        // Letters that need no number from this transaction are rendered
        // before the write transaction starts, so that SQLite's single
        // writer is not held for a Typst compile and several clerks' letters
        // render in parallel. They see exactly the data and deadlines the
        // in-transaction path would give them.
        let mut prerendered: BTreeMap<usize, DocumentRow> = BTreeMap::new();
        if has_letters {
            let mut deadlines_pre = deadlines_now.clone();
            let mut data_pre = data.clone();
            for (i, effect) in plan.effects.iter().enumerate() {
                match effect {
                    Effect::Allocate { .. } => break,
                    Effect::Set { field, value } => {
                        let v = self.compute_field(
                            &def,
                            &case,
                            &data_pre,
                            &deadlines_pre,
                            field,
                            value,
                            today,
                        )?;
                        data_pre.insert(field.clone(), v);
                    }
                    Effect::SetDeadline { deadline } => {
                        let (due, _) = self.compute_deadline(&def.deadlines[deadline], today)?;
                        deadlines_pre.insert(deadline.clone(), Value::String(due.to_string()));
                    }
                    Effect::MeetDeadline { .. } => {}
                    Effect::Letter {
                        template,
                        to,
                        data: expr,
                    } => {
                        let issued = self
                            .issue_letter(
                                &def,
                                &case,
                                &data_pre,
                                &deadlines_pre,
                                template,
                                to,
                                expr.as_ref(),
                                today,
                                &at,
                            )
                            .await?;
                        prerendered.insert(i, issued);
                    }
                }
            }
        }
        // A letter's PDF is stored under its hash when it is rendered, before
        // the commit, atomically (temp file + rename). If the transaction then
        // fails, the file stays: a concurrent transaction with the same letter
        // may already reference it, and an unreferenced complete file is harmless.
        let mut tx = self.store.begin().await?;
        for (i, effect) in plan.effects.iter().enumerate() {
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
                Effect::Set { field, value } => {
                    let v = self.compute_field(
                        &def,
                        &case,
                        &data,
                        &deadlines_now,
                        field,
                        value,
                        today,
                    )?;
                    data.insert(field.clone(), v.clone());
                    events.push(self.effect_event(
                        &req.actor,
                        EventKind::FieldSet,
                        json!({"field": field, "value": v, "expr": value.expr}),
                    ));
                }
                Effect::SetDeadline { deadline } => {
                    let d = &def.deadlines[deadline];
                    let (due, explanation) = self.compute_deadline(d, today)?;
                    tx.insert_deadline(&NewDeadline {
                        case_id: case.id,
                        name: deadline,
                        title: &d.title,
                        due_date: &due.to_string(),
                        at: &at,
                        legal_basis: d.legal_basis.as_deref(),
                        explanation: &explanation,
                    })
                    .await?;
                    deadlines_now.insert(deadline.clone(), Value::String(due.to_string()));
                    events.push(self.effect_event(
                        &req.actor,
                        EventKind::DeadlineSet,
                        json!({"deadline": deadline, "due": due.to_string(), "explanation": explanation}),
                    ));
                }
                Effect::MeetDeadline { deadline } => {
                    if tx.close_deadline(case.id, deadline, "met", &at).await? > 0 {
                        events.push(self.effect_event(
                            &req.actor,
                            EventKind::DeadlineMet,
                            json!({"deadline": deadline, "on": today.to_string()}),
                        ));
                    }
                }
                Effect::Letter {
                    template,
                    to,
                    data: expr,
                } => {
                    let issued = match prerendered.remove(&i) {
                        Some(issued) => issued,
                        None => {
                            self.issue_letter(
                                &def,
                                &case,
                                &data,
                                &deadlines_now,
                                template,
                                to,
                                expr.as_ref(),
                                today,
                                &at,
                            )
                            .await?
                        }
                    };
                    tx.insert_document(&issued).await?;
                    self.queue_letter_mail(&mut tx, &case, &def, template, to, &issued, &at)
                        .await?;
                    events.push(self.effect_event(
                        &req.actor,
                        EventKind::LetterIssued,
                        json!({
                            "template": template,
                            "template_hash": issued.template_hash,
                            "data_hash": issued.data_hash,
                            "sha256": issued.sha256,
                            "pages": issued.pages,
                            "recipient": to,
                        }),
                    ));
                }
            }
        }
        let (last_seq, last_hash) = record(
            &mut tx,
            &case,
            expected_version,
            plan.to,
            &data,
            events,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(self.view_of(
            &def,
            CaseRow {
                state: plan.to.to_string(),
                data,
                version: expected_version + 1,
                last_seq,
                head_hash: last_hash,
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

    /// Evaluates a `set` effect and checks the result against the field's type.
    #[allow(clippy::too_many_arguments)]
    fn compute_field(
        &self,
        def: &Definition,
        case: &CaseRow,
        data: &Map<String, Value>,
        deadlines_now: &Map<String, Value>,
        field: &str,
        value: &DataExpr,
        today: chrono::NaiveDate,
    ) -> Result<Value, CaseError> {
        let mut vars = Map::new();
        vars.insert("data".into(), Value::Object(def.expression_data(data)));
        vars.insert("file_number".into(), Value::from(case.file_number.as_str()));
        vars.insert("today".into(), Value::from(today.to_string()));
        vars.insert("party".into(), Value::Null);
        vars.insert("deadlines".into(), Value::Object(deadlines_now.clone()));
        vars.insert("rates".into(), Value::Object(self.rates.clone()));
        let v = value
            .eval_any(&vars)
            .map_err(|f| CaseError::Input(format!("computing field `{field}`: {}", f.0)))?;
        if let Some(f) = def.fields.get(field) {
            f.kind.check(&v).map_err(|reason| {
                CaseError::Input(format!(
                    "computing field `{field}` gave a wrong value: {reason}"
                ))
            })?;
        }
        Ok(v)
    }

    /// Names and due dates of a case's open deadlines, for letter data.
    async fn open_deadlines(&self, case_id: i64) -> Result<Map<String, Value>, CaseError> {
        let mut out = Map::new();
        for d in self.store.deadlines_of(case_id).await?.into_iter().rev() {
            if d.status == "open" {
                out.insert(d.name, Value::String(d.due_date));
            }
        }
        Ok(out)
    }

    /// Renders and stores one letter off the async executor and returns its
    /// document record. The office and recipient come from configuration and
    /// the case, the rest from the workflow's data expression.
    #[allow(clippy::too_many_arguments)]
    async fn issue_letter(
        &self,
        def: &Definition,
        case: &CaseRow,
        data: &Map<String, Value>,
        deadlines_now: &Map<String, Value>,
        template: &str,
        to: &str,
        expr: Option<&DataExpr>,
        today: chrono::NaiveDate,
        at: &str,
    ) -> Result<DocumentRow, CaseError> {
        let party = case
            .parties
            .get(to)
            .cloned()
            .ok_or_else(|| CaseError::LetterData {
                template: template.into(),
                reason: format!("it goes to party `{to}`, but the case has no such party"),
            })?;
        let mut letter = default_letter_data(&self.config, &party, &case.file_number, &def.title);
        if let Some(expr) = expr {
            let mut vars = Map::new();
            vars.insert("data".into(), Value::Object(def.expression_data(data)));
            vars.insert("file_number".into(), Value::from(case.file_number.as_str()));
            vars.insert("today".into(), Value::from(today.to_string()));
            vars.insert("party".into(), party.clone());
            vars.insert("deadlines".into(), Value::Object(deadlines_now.clone()));
            vars.insert("rates".into(), Value::Object(self.rates.clone()));
            let extra = expr.eval(&vars).map_err(|f| CaseError::LetterData {
                template: template.into(),
                reason: f.0,
            })?;
            merge(&mut letter, extra);
        }
        let data_hash = hex::encode(sha2::Sha256::digest(letter.to_string().as_bytes()));
        let letters = self.letters.clone();
        let title = format!("{} {}", def.title, case.file_number);
        let author = self.config.office.name.clone();
        let name = template.to_string();
        let documents = self.documents.clone();
        // Rendering and storing the PDF under its hash both happen off the
        // executor, in one hop; nothing is written if rendering fails.
        let rendered = tokio::task::spawn_blocking(move || {
            let rendered = letters.render(&RenderRequest {
                template: &name,
                data: &letter,
                date: today,
                title: &title,
                author: &author,
            })?;
            documents.put(&rendered.sha256, &rendered.pdf)?;
            Ok::<_, CaseError>(rendered)
        })
        .await
        .map_err(|e| CaseError::Input(format!("letter rendering stopped: {e}")))??;
        let recipient = party
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(to)
            .to_string();
        Ok(DocumentRow {
            id: 0,
            case_id: case.id,
            template: template.into(),
            template_hash: rendered.template_hash,
            data_hash,
            sha256: rendered.sha256,
            size_bytes: rendered.pdf.len() as i64,
            pages: rendered.pages as i64,
            recipient,
            letter_date: today.to_string(),
            created_at: at.into(),
        })
    }

    /// Sends an issued letter to the party's mail address as a PDF attachment,
    /// queued in the same transaction as the letter itself.
    #[allow(clippy::too_many_arguments)]
    async fn queue_letter_mail(
        &self,
        tx: &mut crate::store::Tx,
        case: &CaseRow,
        def: &Definition,
        template: &str,
        to: &str,
        issued: &DocumentRow,
        at: &str,
    ) -> Result<(), CaseError> {
        let Some(email) = case
            .parties
            .get(to)
            .and_then(|p| p.get("email"))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let filename = format!("{}-{}.pdf", template, safe_name(&case.file_number));
        let (subject, body) = self.render_mail(
            "letter",
            &json!({
                "office": self.config.office.name,
                "case": {"file_number": case.file_number},
                "letter": {"subject": def.title, "date": issued.letter_date},
                "attachments": [filename],
            }),
        )?;
        let mail = MailOut {
            kind: "letter",
            key: format!("{}.{}", case.id, &issued.sha256[..16]),
            case_id: case.id,
            to: email,
            subject,
            body,
            attachments: pdf_attachment(&filename, &issued.sha256),
        };
        self.queue_mail(tx, mail, at).await?;
        Ok(())
    }

    /// Renders a mail template; a template error names the file and line.
    pub(crate) fn render_mail(
        &self,
        template: &str,
        ctx: &Value,
    ) -> Result<(String, String), CaseError> {
        self.mail_templates
            .render(template, ctx)
            .map_err(|e| CaseError::Input(e.to_string()))
    }

    /// Queues one mail in the caller's transaction. Its Message-ID is made
    /// from `kind` and `key`, so the same key never queues twice (the
    /// outbox's unique Message-ID); returns whether it was queued now.
    pub(crate) async fn queue_mail(
        &self,
        tx: &mut crate::store::Tx,
        mail: MailOut<'_>,
        at: &str,
    ) -> Result<bool, CaseError> {
        let message_id = format!("{}.{}@{}", mail.kind, mail.key, self.mail_domain());
        Ok(tx
            .enqueue_mail(&NewMail {
                message_id: &message_id,
                case_id: Some(mail.case_id),
                kind: mail.kind,
                recipients: &[mail.to.to_string()],
                subject: &mail.subject,
                body: &mail.body,
                attachments: &mail.attachments,
                at,
            })
            .await?)
    }

    /// The domain of the configured sender, for Message-IDs.
    pub(crate) fn mail_domain(&self) -> String {
        let from = &self.config.mail.from;
        let addr = from
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(from);
        addr.rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "amtspost.invalid".into())
    }

    /// Sends a case's latest letter from `template` to each recipient of a
    /// distribution list, one mail each (Message-ID per case and recipient,
    /// so a repeated distribution sends nothing twice), journaled with the
    /// list, in one transaction.
    pub async fn distribute(
        &self,
        file_number: &str,
        template: &str,
        mail_template: &str,
        context: &Value,
        recipients: &[PartyRef],
        actor: &Actor,
    ) -> Result<usize, CaseError> {
        let case = self.load(file_number).await?;
        let doc = self
            .store
            .documents(Some(case.id))
            .await?
            .into_iter()
            .rev()
            .find(|d| d.template == template)
            .ok_or_else(|| {
                CaseError::Input(format!(
                    "case {file_number} has no `{template}` letter to distribute"
                ))
            })?;
        let filename = format!("{}-{}.pdf", template, safe_name(&case.file_number));
        let now = self.clock.now();
        let at = journal::timestamp(now);
        let mut tx = self.store.begin().await?;
        let mut sent_to = Vec::new();
        for r in recipients {
            let Some(email) = &r.email else {
                return Err(CaseError::Input(format!("{} has no mail address", r.name)));
            };
            let mut ctx = context.clone();
            merge(
                &mut ctx,
                json!({"member": {"name": r.name}, "office": context.get("office").cloned().unwrap_or(Value::from(self.config.office.name.clone()))}),
            );
            let (subject, body) = self.render_mail(mail_template, &ctx)?;
            let mail = MailOut {
                kind: "distribution",
                key: format!("{}.{template}.{}", case.id, address_key(email.as_str())),
                case_id: case.id,
                to: email.as_str(),
                subject,
                body,
                attachments: pdf_attachment(&filename, &doc.sha256),
            };
            if self.queue_mail(&mut tx, mail, &at).await? {
                sent_to.push(json!({"name": r.name, "email": email}));
            }
        }
        let count = sent_to.len();
        if count > 0 {
            let events = vec![NewEvent {
                actor: actor.name.clone(),
                role: actor.role.clone(),
                kind: EventKind::MailQueued,
                transition: None,
                payload: json!({"distribution": template, "document": doc.sha256, "recipients": sent_to}),
            }];
            record(
                &mut tx,
                &case,
                case.version,
                &case.state,
                &case.data,
                events,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Documents issued on a case.
    pub async fn case_documents(&self, file_number: &str) -> Result<Vec<DocumentRow>, CaseError> {
        let case = self.load(file_number).await?;
        Ok(self.store.documents(Some(case.id)).await?)
    }

    /// The end of a deadline set today, with its step-by-step reasoning.
    fn compute_deadline(
        &self,
        d: &DeadlineDef,
        today: chrono::NaiveDate,
    ) -> Result<(chrono::NaiveDate, Value), CaseError> {
        Ok(match &d.due {
            Due::Period(period) => {
                let computed = deadline::compute(&DeadlineSpec {
                    event: today,
                    period: *period,
                    region: self.config.region,
                    by_post: d.by_post,
                    moves: d.moves,
                })?;
                let end = computed.end;
                (
                    end,
                    serde_json::to_value(&computed).expect("explanation serialises"),
                )
            }
            Due::Date(date) => (
                *date,
                json!({"end": date.to_string(), "steps": [{
                    "rule": d.legal_basis.clone().unwrap_or_else(|| "fixed date".into()),
                    "text": format!("The workflow names the fixed end date {}.", date.format("%d.%m.%Y")),
                    "date": date.to_string(),
                }]}),
            ),
        })
    }

    /// A case's deadlines with the days left, newest first.
    pub async fn deadlines(&self, file_number: &str) -> Result<Vec<DeadlineView>, CaseError> {
        let case = self.load(file_number).await?;
        let today = self.clock.today();
        Ok(self
            .store
            .deadlines_of(case.id)
            .await?
            .into_iter()
            .map(|d| {
                let due = chrono::NaiveDate::parse_from_str(&d.due_date, "%Y-%m-%d").ok();
                DeadlineView {
                    days_left: due
                        .filter(|_| d.status == "open")
                        .map(|due| deadline::days_left(today, due)),
                    name: d.name,
                    title: d.title,
                    due_date: d.due_date,
                    status: d.status,
                    legal_basis: d.legal_basis,
                }
            })
            .collect())
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

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) async fn load(&self, file_number: &str) -> Result<CaseRow, CaseError> {
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
