//! SQL for deadlines coming due, reminders and the mail outbox.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;

use super::rows::status;
use super::{Backend, DeadlineRow, Store, StoreError, Tx, get, q};
use crate::domain::{
    AttachmentRef, CaseId, DeadlineStatus, FileNumber, MailStatus, PartyRef, ReminderStatus,
    StateName,
};

/// An open deadline with what the reminder pass needs of its case.
#[derive(Debug, Clone)]
pub struct DueDeadline {
    pub deadline: DeadlineRow,
    pub file_number: FileNumber,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub state: StateName,
    pub parties: BTreeMap<String, PartyRef>,
}

/// A mail in the outbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailRow {
    pub id: i64,
    pub message_id: String,
    pub case_id: Option<CaseId>,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Stored documents to attach, by content hash.
    pub attachments: Vec<AttachmentRef>,
    pub status: MailStatus,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

macro_rules! mail_columns {
    () => {
        "id, message_id, case_id, kind, recipients, subject, body, attachments, status, attempts, next_attempt_at, last_error, created_at, sent_at"
    };
}

impl MailRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        let recipients: String = get(r, "recipients")?;
        let attachments: String = get(r, "attachments")?;
        let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt {
            what: what.into(),
            detail: e.to_string(),
        };
        Ok(Self {
            id: get(r, "id")?,
            message_id: get(r, "message_id")?,
            case_id: get::<Option<i64>>(r, "case_id")?.map(CaseId),
            kind: get(r, "kind")?,
            recipients: serde_json::from_str(&recipients)
                .map_err(|e| corrupt("mail recipients", e))?,
            subject: get(r, "subject")?,
            body: get(r, "body")?,
            attachments: serde_json::from_str(&attachments)
                .map_err(|e| corrupt("mail attachments", e))?,
            status: status(r, "status")?,
            attempts: get(r, "attempts")?,
            next_attempt_at: get(r, "next_attempt_at")?,
            last_error: get(r, "last_error")?,
            created_at: get(r, "created_at")?,
            sent_at: get(r, "sent_at")?,
        })
    }
}

/// What `enqueue_mail` writes.
pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub case_id: Option<CaseId>,
    pub kind: &'a str,
    pub recipients: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    pub attachments: &'a [AttachmentRef],
    pub at: &'a str,
}

impl Store {
    /// Open deadlines ending on or before `until` (YYYY-MM-DD), with their
    /// case; `explanation` is left out (null).
    pub async fn open_deadlines_until(&self, until: &str) -> Result<Vec<DueDeadline>, StoreError> {
        let rows = sqlx::query(
            // The pass never reads the stored explanation; skipping it keeps
            // a morning with thousands of due deadlines cheap.
            "SELECT d.id, d.case_id, d.name, d.title, d.due_date, d.status, d.set_at, d.closed_at, d.legal_basis, 'null' AS explanation,
                    c.file_number, c.workflow_id, c.workflow_version, c.state, c.parties
             FROM deadlines d JOIN cases c ON c.id = d.case_id
             WHERE d.status = 'open' AND d.due_date <= $1
             ORDER BY d.due_date, d.id",
        )
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(q("finding deadlines coming due"))?;
        rows.iter()
            .map(|r| {
                let parties: String = get(r, "parties")?;
                Ok(DueDeadline {
                    deadline: DeadlineRow::from_row(r)?,
                    file_number: FileNumber::new(get::<String>(r, "file_number")?),
                    workflow_id: get(r, "workflow_id")?,
                    workflow_version: get(r, "workflow_version")?,
                    state: StateName::new(get::<String>(r, "state")?),
                    parties: serde_json::from_str(&parties).map_err(|e| StoreError::Corrupt {
                        what: "case parties".into(),
                        detail: e.to_string(),
                    })?,
                })
            })
            .collect()
    }

    /// Claims up to `limit` mails due at `now` (pending, or claimed by a
    /// worker whose lease ran out) for this worker until `lease_until`, in
    /// one statement. On PostgreSQL the rows are locked with `FOR UPDATE
    /// SKIP LOCKED`, so instances claiming at the same moment take disjoint
    /// batches without waiting on each other. The rows come back claimed,
    /// oldest first, `attempts` counting this one.
    pub async fn claim_due_mail(
        &self,
        now: &str,
        lease_until: &str,
        limit: i64,
    ) -> Result<Vec<MailRow>, StoreError> {
        let _guard = self.write_guard().await;
        let sql = match self.backend {
            Backend::Postgres => concat!(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2
                 WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1
                              ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING ",
                mail_columns!()
            ),
            Backend::Sqlite => concat!(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2
                 WHERE id IN (SELECT id FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1
                              ORDER BY id LIMIT $3)
                 RETURNING ",
                mail_columns!()
            ),
        };
        let rows = sqlx::query(sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("claiming mail"))?;
        let mut out = rows
            .iter()
            .map(MailRow::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    /// A connection that hears when mail is queued on PostgreSQL (by any
    /// instance); `None` on SQLite, whose one server queues it itself.
    pub async fn outbox_listener(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut l = sqlx::postgres::PgListener::connect(&self.url)
            .await
            .map_err(|source| StoreError::Connect {
                url: super::redact(&self.url),
                source,
            })?;
        l.listen(OUTBOX_CHANNEL)
            .await
            .map_err(q("listening for queued mail"))?;
        Ok(Some(l))
    }

    /// Takes a scheduled pass for this instance: `None` if another instance
    /// runs it now. On PostgreSQL a session advisory lock on a connection
    /// held until [`PassLock::release`] (or the process's end); on SQLite,
    /// where one server runs (see the server lock), always granted.
    pub async fn try_pass_lock(&self, pass: &str) -> Result<Option<PassLock>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Some(PassLock { conn: None, key: 0 }));
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(q("taking a connection for a pass lock"))?;
        // Keyed by the pass and the schema: deployments sharing a database
        // in separate schemas do not hold each other's passes.
        let row = sqlx::query(
            "SELECT k, pg_try_advisory_lock(k) AS got
             FROM (SELECT hashtextextended('amtspost.pass.' || $1 || '.' || current_schema(), 0) AS k) AS key",
        )
        .bind(pass)
        .fetch_one(&mut *conn)
        .await
        .map_err(q("taking a pass lock"))?;
        let key: i64 = get(&row, "k")?;
        let got: bool = get(&row, "got")?;
        Ok(got.then_some(PassLock {
            conn: Some(conn),
            key,
        }))
    }

    /// When a scheduled pass last ran (its scheduled time, RFC 3339), if ever.
    pub async fn last_pass(&self, pass: &str) -> Result<Option<String>, StoreError> {
        Ok(self.pass_record(pass).await?.map(|(at, _)| at))
    }

    /// A pass's last scheduled time and how often it ran in all.
    pub async fn pass_record(&self, pass: &str) -> Result<Option<(String, i64)>, StoreError> {
        sqlx::query("SELECT last_run, runs FROM scheduler_runs WHERE pass = $1")
            .bind(pass)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading when a pass last ran"))?
            .map(|r| Ok((get(&r, "last_run")?, get(&r, "runs")?)))
            .transpose()
    }

    /// Records that a pass ran for its scheduled time `at`.
    pub async fn record_pass(&self, pass: &str, at: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO scheduler_runs (pass, last_run, runs) VALUES ($1, $2, 1)
             ON CONFLICT (pass) DO UPDATE SET last_run = excluded.last_run,
                 runs = scheduler_runs.runs + 1",
        )
        .bind(pass)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(q("recording a pass"))?;
        Ok(())
    }

    /// Gives claimed mail that was not begun back to the queue, due at
    /// `now`, with the claim's attempt taken back (a courier shutting down).
    /// Only rows still claimed are touched.
    pub async fn release_mail(&self, ids: &[i64], now: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await.map_err(q("releasing mail"))?;
        for id in ids {
            sqlx::query(
                "UPDATE outbox SET status = 'pending', attempts = attempts - 1, next_attempt_at = $2
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(q("releasing mail"))?;
        }
        tx.commit().await.map_err(q("releasing mail"))?;
        Ok(())
    }

    /// Records the outcome of a send attempt.
    pub async fn finish_mail(
        &self,
        id: i64,
        status: MailStatus,
        next_attempt_at: &str,
        error: Option<&str>,
        sent_at: Option<&str>,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "UPDATE outbox SET status = $2, next_attempt_at = $3, last_error = $4, sent_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(next_attempt_at)
        .bind(error)
        .bind(sent_at)
        .execute(&self.pool)
        .await
        .map_err(q("recording a send attempt"))?;
        Ok(())
    }

    /// The outbox, newest first; only failed mail if asked.
    pub async fn list_mail(
        &self,
        failed_only: bool,
        limit: i64,
    ) -> Result<Vec<MailRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            mail_columns!(),
            " FROM outbox WHERE ($1 = 0 OR status = 'failed') ORDER BY id DESC LIMIT $2"
        ))
        .bind(i64::from(failed_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing the outbox"))?;
        rows.iter().map(MailRow::from_row).collect()
    }

    /// The mail of one case, oldest first (e.g. a circular's distribution).
    pub async fn mail_of_case(&self, case_id: CaseId) -> Result<Vec<MailRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            mail_columns!(),
            " FROM outbox WHERE case_id = $1 ORDER BY id"
        ))
        .bind(case_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing a case's mail"))?;
        rows.iter().map(MailRow::from_row).collect()
    }

    /// Puts a failed mail back in the queue with a fresh count of attempts.
    pub async fn requeue_mail(&self, id: i64, now: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let n = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(q("re-queueing a mail"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// How many mails are in each status.
    pub async fn mail_counts(&self) -> Result<Vec<(MailStatus, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await
                .map_err(q("counting the outbox"))?;
        rows.iter()
            .map(|r| Ok((status(r, "status")?, get(r, "n")?)))
            .collect()
    }
}

impl Tx {
    /// Records a reminder step; `false` if it was recorded before (by this
    /// or another process), in which case nothing must be sent.
    pub async fn record_reminder(
        &mut self,
        deadline_id: i64,
        step: &str,
        recipient: &str,
        due_date: &str,
        status: ReminderStatus,
        at: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO reminders (deadline_id, step, recipient, due_date, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (deadline_id, step, recipient) DO NOTHING",
        )
        .bind(deadline_id)
        .bind(step)
        .bind(recipient)
        .bind(due_date)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("recording a reminder"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Closes an open deadline whose end has passed (`expired` or
    /// `elapsed`); `false` if it was not open any more.
    pub async fn expire_deadline(
        &mut self,
        id: i64,
        status: DeadlineStatus,
        at: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE deadlines SET status = $3, closed_at = $2 WHERE id = $1 AND status = 'open'",
        )
        .bind(id)
        .bind(at)
        .bind(status.as_str())
        .execute(&mut *self.tx)
        .await
        .map_err(q("expiring a deadline"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Queues a mail; a mail with the same Message-ID is queued only once.
    pub async fn enqueue_mail(&mut self, m: &NewMail<'_>) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO outbox (message_id, case_id, kind, recipients, subject, body, attachments, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(m.message_id)
        .bind(m.case_id.map(|c| c.0))
        .bind(m.kind)
        .bind(serde_json::to_string(m.recipients).expect("recipients serialise"))
        .bind(m.subject)
        .bind(m.body)
        .bind(serde_json::to_string(m.attachments).expect("attachments serialise"))
        .bind(m.at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("queueing a mail"))?
        .rows_affected();
        // Wakes the couriers of every instance once this commits.
        if n == 1 && self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(OUTBOX_CHANNEL)
                .execute(&mut *self.tx)
                .await
                .map_err(q("announcing a queued mail"))?;
        }
        Ok(n == 1)
    }
}

/// The PostgreSQL channel queued mail is announced on.
const OUTBOX_CHANNEL: &str = "amtspost_outbox";

/// A scheduled pass held by this instance (see [`Store::try_pass_lock`]).
pub struct PassLock {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    key: i64,
}

impl PassLock {
    /// Lets the next instance take the pass.
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some(mut conn) = self.conn.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *conn)
                .await
                .map_err(q("releasing a pass lock"))?;
        }
        Ok(())
    }
}

impl Drop for PassLock {
    /// Not released (a panic, an error): the connection is closed instead
    /// of going back to the pool, which ends its session and its lock.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
