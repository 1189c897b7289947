//! SQL for deadlines coming due, reminders and the mail outbox.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;

use super::rows::status;
use super::{DeadlineRow, Store, StoreError, Tx, get, q};
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
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MailRow {
    pub id: i64,
    pub message_id: String,
    #[schema(value_type = Option<i64>)]
    pub case_id: Option<CaseId>,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Stored documents to attach, by content hash.
    #[schema(value_type = Vec<Object>)]
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

    /// Mail due for sending at `now`: pending, or claimed by a worker whose lease ran out.
    pub async fn due_mail(&self, now: &str, limit: i64) -> Result<Vec<MailRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            mail_columns!(),
            " FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the outbox"))?;
        rows.iter().map(MailRow::from_row).collect()
    }

    /// Takes a mail for sending; `false` if another worker was quicker.
    pub async fn claim_mail(
        &self,
        id: i64,
        seen_next: &str,
        lease_until: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let n = sqlx::query(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $3
             WHERE id = $1 AND status IN ('pending', 'sending') AND next_attempt_at = $2",
        )
        .bind(id)
        .bind(seen_next)
        .bind(lease_until)
        .execute(&self.pool)
        .await
        .map_err(q("claiming a mail"))?
        .rows_affected();
        Ok(n == 1)
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
        Ok(n == 1)
    }
}
