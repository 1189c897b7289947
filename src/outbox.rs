//! The outbox courier: sends queued mail, retries transient failures with
//! exponential backoff, and marks a mail failed after the configured number
//! of attempts (shown by `outbox list --failed`, re-queued by `outbox retry`).
//!
//! Mail rows are written in the transaction that causes them; the courier
//! claims each row before sending so two workers never send the same row.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::document::{DocumentError, Documents};
use crate::domain::MailStatus;
use crate::journal::timestamp;
use crate::mail::{Attachment, MailConfig, MailError, Mailer, OutgoingMail, backoff};
use crate::store::{MailRow, Store, StoreError};

/// Why the courier could not do its work (as opposed to one mail failing).
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mail configuration is unusable.
    #[error("mail configuration: {0}")]
    Config(#[from] MailError),
    /// An attachment is missing from the database.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// `outbox retry` named a mail that is not failed.
    #[error("mail {0} is not in the failed state; `outbox list --failed` shows those")]
    NotFailed(i64),
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Claimed, not begun, and given back to the queue (a shutdown).
    pub released: usize,
    /// One line per problem: mail id, Message-ID, error.
    pub errors: Vec<String>,
}

/// How many mails are on their way at once. SMTP round trips, not CPU,
/// bound delivery, so a few connections in parallel multiply throughput.
const IN_FLIGHT: usize = 8;
/// Mails claimed at once: a few rounds of [`IN_FLIGHT`], so that other
/// instances find work too and a lease never outlasts its batch.
const CLAIM_BATCH: i64 = (IN_FLIGHT * 4) as i64;

/// What happened to one mail.
enum Outcome {
    Sent,
    Retrying(String),
    Failed(String),
}

/// Sends what the outbox holds.
#[derive(Clone)]
pub struct Courier {
    store: Store,
    mailer: Mailer,
    documents: Documents,
    config: MailConfig,
    clock: Arc<dyn Clock>,
}

impl Courier {
    pub fn new(
        store: Store,
        config: &MailConfig,
        documents: Documents,
        clock: Arc<dyn Clock>,
    ) -> Result<Courier, OutboxError> {
        Ok(Courier {
            mailer: Mailer::new(config)?,
            config: config.clone(),
            store,
            documents,
            clock,
        })
    }

    /// Sends every mail that is due now, up to [`IN_FLIGHT`] at a time.
    /// Each batch is claimed in one statement under a lease (see
    /// [`Store::claim_due_mail`]): mail claimed by an instance that died is
    /// claimed again once its lease has run out.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, OutboxError> {
        self.deliver_due_until(&CancellationToken::new()).await
    }

    /// [`Courier::deliver_due`] until `stop` (a server shutting down): then
    /// no further batch is claimed and no further mail begun; the sends
    /// under way are finished and recorded, and the mail claimed but not
    /// begun goes back to the queue at once, its attempt uncounted, rather
    /// than waiting for its lease to run out.
    pub async fn deliver_due_until(
        &self,
        stop: &CancellationToken,
    ) -> Result<DeliveryReport, OutboxError> {
        let mut report = DeliveryReport::default();
        while !stop.is_cancelled() {
            let now = self.clock.now();
            let lease = timestamp(now + chrono::Duration::seconds(self.lease_secs()));
            let batch = self
                .store
                .claim_due_mail(&timestamp(now), &lease, CLAIM_BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            let mut tasks = tokio::task::JoinSet::new();
            let mut unbegun = Vec::new();
            let mut rows = batch.into_iter();
            'batch: for row in rows.by_ref() {
                while tasks.len() >= IN_FLIGHT {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => {
                            unbegun.push(row.id);
                            break 'batch;
                        }
                        Some(done) = tasks.join_next() => tally(&mut report, done)?,
                    }
                }
                if stop.is_cancelled() {
                    unbegun.push(row.id);
                    break;
                }
                let courier = self.clone();
                tasks.spawn(async move {
                    let outcome = courier.deliver_one(&row).await;
                    (row.id, row.message_id, outcome)
                });
            }
            unbegun.extend(rows.map(|r| r.id));
            while let Some(done) = tasks.join_next().await {
                tally(&mut report, done)?;
            }
            if !unbegun.is_empty() {
                self.store
                    .release_mail(&unbegun, &timestamp(self.clock.now()))
                    .await?;
                report.released += unbegun.len();
            }
        }
        Ok(report)
    }

    /// A claimed mail is another worker's for this long (longer than any send may take).
    fn lease_secs(&self) -> i64 {
        (self.config.timeout_secs as i64).saturating_mul(10).max(60)
    }

    async fn deliver_one(&self, row: &MailRow) -> Result<Outcome, OutboxError> {
        let mut attachments = Vec::new();
        for a in &row.attachments {
            attachments.push(Attachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                bytes: self.documents.bytes(&a.sha256).await?,
            });
        }
        let mail = OutgoingMail {
            message_id: row.message_id.clone(),
            to: row.recipients.clone(),
            subject: row.subject.clone(),
            text: row.body.clone(),
            attachments,
            date: chrono::DateTime::parse_from_rfc3339(&row.created_at)
                .ok()
                .map(|t| t.to_utc()),
        };
        // The claim counted this attempt.
        let attempts = row.attempts as u32;
        let result = self.mailer.send(&mail).await;
        let now = self.clock.now();
        Ok(match result {
            Ok(()) => {
                self.store
                    .finish_mail(
                        row.id,
                        MailStatus::Sent,
                        &timestamp(now),
                        None,
                        Some(&timestamp(now)),
                    )
                    .await?;
                Outcome::Sent
            }
            Err(e) => {
                let message = e.to_string();
                if e.is_permanent() || attempts >= self.config.max_attempts {
                    self.store
                        .finish_mail(
                            row.id,
                            MailStatus::Failed,
                            &timestamp(now),
                            Some(&message),
                            None,
                        )
                        .await?;
                    Outcome::Failed(message)
                } else {
                    let wait = backoff(&self.config, attempts);
                    let next = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6));
                    self.store
                        .finish_mail(
                            row.id,
                            MailStatus::Pending,
                            &timestamp(next),
                            Some(&message),
                            None,
                        )
                        .await?;
                    Outcome::Retrying(message)
                }
            }
        })
    }

    /// The outbox, newest first; only failed mail if asked.
    pub async fn list(&self, failed_only: bool, limit: i64) -> Result<Vec<MailRow>, OutboxError> {
        Ok(self.store.list_mail(failed_only, limit).await?)
    }

    /// Puts a failed mail back in the queue.
    pub async fn retry(&self, id: i64) -> Result<(), OutboxError> {
        if self
            .store
            .requeue_mail(id, &timestamp(self.clock.now()))
            .await?
        {
            Ok(())
        } else {
            Err(OutboxError::NotFailed(id))
        }
    }
}

type Done = Result<(i64, String, Result<Outcome, OutboxError>), tokio::task::JoinError>;

/// Adds one finished send to the report.
fn tally(report: &mut DeliveryReport, done: Done) -> Result<(), OutboxError> {
    let (id, message_id, outcome) = done.expect("a delivery task does not panic");
    match outcome? {
        Outcome::Sent => report.sent += 1,
        Outcome::Retrying(e) => {
            report.retrying += 1;
            report.errors.push(format!("mail {id} <{message_id}>: {e}"));
        }
        Outcome::Failed(e) => {
            report.failed += 1;
            report.errors.push(format!("mail {id} <{message_id}>: {e}"));
        }
    }
    Ok(())
}
