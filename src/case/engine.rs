//! The [`Engine`]: the services a case operation needs (store, catalogue,
//! letters, mail templates, clock, configuration) and the pieces every
//! command shares: loading a case, chaining events, queueing mail.
//!
//! The commands (open, fire) are in `command.rs`, the effect
//! interpreter in `effects.rs`, the read model in `query.rs`. Only
//! [`crate::app::App`] constructs an engine.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use sha2::Digest;

use super::{Actor, CaseError, Fault};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{AttachmentRef, CaseId, EmailAddress, PartyRef};
use crate::journal::{self, EventKind, NewEvent};
use crate::letter::LetterEngine;
use crate::mail::MailTemplates;
use crate::store::{CaseChange, CaseRow, NewMail, Store, StoreError, Tx};
use crate::workflow::{DeadlineDef, Definition};

/// Cases, their workflows and their journal, over one store.
pub struct Engine {
    store: Store,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    letters: Arc<LetterEngine>,
    mail_templates: Arc<MailTemplates>,
    /// `rates` from the configuration as expressions see them, built once.
    rates: crate::workflow::Rates,
    /// Workflow versions known to be in the store, so that opening a case
    /// publishes its version once per process, not on every call.
    published: Mutex<HashSet<(String, i64)>>,
    /// Letter renders (CPU-bound, off the executor) at most one per core:
    /// a burst of transitions queues here instead of holding a rendered
    /// PDF per waiting transition in memory.
    render_slots: Arc<tokio::sync::Semaphore>,
    /// The rows this process's fires wrote, where the next fire starts.
    pub(super) recent: super::recent::RecentCases,
    /// Seals issued letters (none: letters are issued unsealed).
    sealer: Option<Arc<crate::seal::Sealer>>,
}

/// One mail for [`Engine::queue_mail`].
pub(crate) struct MailOut<'a> {
    pub kind: &'a str,
    /// Unique per mail of this kind, e.g. deadline, step and recipient.
    pub key: String,
    pub case_id: CaseId,
    pub to: &'a str,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<AttachmentRef>,
}

impl Engine {
    pub(crate) fn new(
        store: Store,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        letters: Arc<LetterEngine>,
        mail_templates: Arc<MailTemplates>,
        sealer: Option<Arc<crate::seal::Sealer>>,
    ) -> Engine {
        Engine {
            store,
            catalog,
            clock,
            mail_templates,
            rates: crate::workflow::Rates::new(&config.rates),
            config,
            letters,
            published: Mutex::new(HashSet::new()),
            render_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            recent: super::recent::RecentCases::new(),
            sealer,
        }
    }

    /// The sealer of issued letters, if letters are sealed.
    pub fn sealer(&self) -> Option<&Arc<crate::seal::Sealer>> {
        self.sealer.as_ref()
    }

    /// A render slot (see `render_slots`), held while one letter renders.
    pub(crate) async fn render_slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.render_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the render semaphore is never closed")
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn letters(&self) -> &Arc<LetterEngine> {
        &self.letters
    }

    pub(crate) fn rates(&self) -> &crate::workflow::Rates {
        &self.rates
    }

    /// Records every current workflow version in the store (start-up of a
    /// server, `init`, the demo).
    pub(crate) async fn publish_all(&self) -> Result<(), CaseError> {
        let now = journal::timestamp(self.clock.now());
        self.catalog.publish(&self.store, &now).await?;
        let mut published = self.published.lock().expect("published lock");
        for (_, def) in self.catalog.definitions() {
            published.insert((def.id.clone(), def.version));
        }
        Ok(())
    }

    /// Makes sure the version a new case is opened on is in the store.
    pub(crate) async fn ensure_published(&self, def: &Definition) -> Result<(), CaseError> {
        let key = (def.id.clone(), def.version);
        if self
            .published
            .lock()
            .expect("published lock")
            .contains(&key)
        {
            return Ok(());
        }
        let now = journal::timestamp(self.clock.now());
        self.catalog.publish_one(&self.store, &def.id, &now).await?;
        self.published.lock().expect("published lock").insert(key);
        Ok(())
    }

    pub(crate) async fn load(&self, file_number: &str) -> Result<CaseRow, CaseError> {
        self.store
            .case_by_number(file_number)
            .await?
            .ok_or_else(|| CaseError::NotFound(file_number.into()))
    }

    /// The workflow version a case runs on.
    pub(crate) async fn definition_of(&self, case: &CaseRow) -> Result<Arc<Definition>, CaseError> {
        Ok(self
            .catalog
            .version(&self.store, &case.workflow_id, case.workflow_version)
            .await?)
    }

    /// The end of a deadline set today, with its step-by-step reasoning;
    /// `None` while a deadline that runs from a posting day (Ab-Vermerk)
    /// has none yet in `data` and no Empfangsbekenntnis date either.
    ///
    /// A deadline runs from the date on the Empfangsbekenntnis once that is
    /// recorded (without the postal fiction), else from the posting day
    /// recorded in its `posted` field, else from today.
    ///
    /// Where the workflow provides the letter for retrieval in the portal
    /// (§ 41 Abs. 2a VwVfG NRW) and the deadline is one that runs from its
    /// notification, the day after the first retrieval is the notification
    /// day; a provision that ended unretrieved is followed by posting, and
    /// the explanation says so.
    /// The reasoning is [`DeadlineDef::end`]'s, with this office's region.
    pub(crate) fn compute_deadline(
        &self,
        d: &DeadlineDef,
        retrieval: Option<&crate::workflow::Retrieval>,
        today: chrono::NaiveDate,
        data: &Map<String, Value>,
    ) -> Result<Option<(chrono::NaiveDate, Value)>, CaseError> {
        Ok(d.end(retrieval, self.config.region, today, data)?)
    }

    /// The next number of a register, inside the caller's transaction.
    pub(crate) async fn allocate(
        &self,
        tx: &mut Tx,
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

    /// The mail templates (built-in, or `<templates_dir>/mail`).
    pub(crate) fn mail_templates(&self) -> &MailTemplates {
        &self.mail_templates
    }

    /// Renders a mail template; a broken template is a server fault that
    /// names the file and line.
    pub(crate) fn render_mail(
        &self,
        template: &str,
        ctx: &Value,
    ) -> Result<(String, String), CaseError> {
        self.mail_templates
            .render(template, ctx)
            .map_err(|e| CaseError::Internal(Fault::MailTemplate(e)))
    }

    /// Queues one mail in the caller's transaction. Its Message-ID is made
    /// from `kind` and `key`, so the same key never queues twice (the
    /// outbox's unique Message-ID); returns whether it was queued now.
    pub(crate) async fn queue_mail(
        &self,
        tx: &mut Tx,
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
        self.config
            .mail
            .from
            .trim()
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "amtspost.invalid".into())
    }

    /// Where mail for a party or role goes: the party's own address, else
    /// the configured address of the role.
    pub(crate) fn address_of(
        &self,
        name: &str,
        parties: &std::collections::BTreeMap<String, PartyRef>,
    ) -> Option<String> {
        parties
            .get(name)
            .and_then(|p| p.email.as_ref())
            .map(EmailAddress::to_string)
            .or_else(|| self.config.role_addresses.get(name).cloned())
    }
}

/// Where [`record`] writes.
pub(crate) enum Write<'a> {
    /// In the caller's transaction, with the effects written there.
    In(&'a mut Tx),
    /// As a write of its own (one statement on PostgreSQL), for a change
    /// whose effects wrote nothing else.
    Alone(&'a Store),
}

/// Chains events onto a case and moves it on, if nobody else did since
/// `expected_version` was read. Returns the new head (sequence, hash).
pub(crate) async fn record(
    write: Write<'_>,
    case: &CaseRow,
    expected_version: i64,
    state: &str,
    data: &Map<String, Value>,
    events: Vec<NewEvent>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, String), CaseError> {
    let chained = journal::chain(case.id.0, case.last_seq, &case.head_hash, now, events);
    let at = journal::timestamp(now);
    let change = CaseChange {
        id: case.id,
        file_number: &case.file_number,
        expected_version,
        state,
        data,
        events: &chained,
        at: &at,
    };
    let written = match write {
        Write::In(tx) => tx.advance_case(&change).await,
        Write::Alone(store) => store.advance_case_alone(&change).await,
    };
    written.map_err(|e| match e {
        StoreError::ConcurrentAppend => CaseError::Conflict {
            file_number: case.file_number.clone(),
            expected: expected_version,
            actual: None,
        },
        e => e.into(),
    })?;
    let last = chained.last().expect("at least one event");
    Ok((last.seq, last.hash.clone()))
}

/// Appends events to a case without changing its state or data (reminders,
/// expiry, distribution): the case's version still moves on, so a clerk
/// who saw the old version reloads before acting.
pub(crate) async fn append(
    tx: &mut Tx,
    case: &CaseRow,
    events: Vec<NewEvent>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CaseError> {
    record(
        Write::In(tx),
        case,
        case.version,
        &case.state,
        &case.data,
        events,
        now,
    )
    .await?;
    Ok(())
}

/// A journal event of an effect or of the system, by `actor`.
pub(crate) fn event(actor: &Actor, kind: EventKind, mut payload: Value) -> NewEvent {
    if let (Some(absent), Some(p)) = (&actor.on_behalf_of, payload.as_object_mut()) {
        p.insert("on_behalf_of".into(), Value::String(absent.clone()));
    }
    NewEvent {
        actor: actor.name.clone(),
        role: actor.role.clone(),
        kind,
        transition: None,
        payload,
    }
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

/// A short, stable stand-in for a mail address in Message-IDs.
pub(crate) fn address_key(address: &str) -> String {
    hex::encode(sha2::Sha256::digest(address.as_bytes()))[..12].to_string()
}

/// Deep merge: objects merge key by key, anything else replaces.
pub(crate) fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}
