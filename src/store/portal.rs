//! The SQL behind the municipalities' portal: uploads, consent to
//! notification by retrieval, letters provided for retrieval, and
//! circulars delivered to members with their read receipts.

use sqlx::any::AnyRow;

use super::{Store, StoreError, Tx, get, q};
use crate::domain::CaseId;

/// A PDF a municipality uploaded to a case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadRow {
    pub id: i64,
    #[serde(skip)]
    pub case_id: i64,
    /// SHA-256 of the file (it is stored under this hash).
    pub sha256: String,
    /// The file name as uploaded (checked: no path, no control characters).
    pub file_name: String,
    pub size_bytes: i64,
    pub pages: i64,
    /// The user who uploaded it.
    pub uploaded_by: String,
    /// The municipality it came from.
    pub party: String,
    /// When (RFC 3339, UTC).
    pub uploaded_at: String,
}

impl UploadRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(UploadRow {
            id: get(r, "id")?,
            case_id: get(r, "case_id")?,
            sha256: get(r, "sha256")?,
            file_name: get(r, "file_name")?,
            size_bytes: get(r, "size_bytes")?,
            pages: get(r, "pages")?,
            uploaded_by: get(r, "uploaded_by")?,
            party: get(r, "party")?,
            uploaded_at: get(r, "uploaded_at")?,
        })
    }
}

/// A new upload, written with its bytes.
pub struct NewUpload<'a> {
    pub case_id: CaseId,
    pub sha256: &'a str,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
    pub pages: i64,
    pub uploaded_by: &'a str,
    pub party: &'a str,
    pub at: &'a str,
}

/// A municipality's consent to notification by retrieval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentRow {
    pub id: i64,
    pub party: String,
    pub given_by: String,
    pub given_at: String,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<String>,
}

impl ConsentRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(ConsentRow {
            id: get(r, "id")?,
            party: get(r, "party")?,
            given_by: get(r, "given_by")?,
            given_at: get(r, "given_at")?,
            withdrawn_by: get(r, "withdrawn_by")?,
            withdrawn_at: get(r, "withdrawn_at")?,
        })
    }
}

/// A letter provided in the portal for retrieval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProvisionRow {
    pub id: i64,
    pub case_id: i64,
    pub file_number: String,
    pub sha256: String,
    pub template: String,
    pub party: String,
    /// The day the notification mail was queued (Europe/Berlin).
    pub notified_on: String,
    pub provided_at: String,
    /// `bereitgestellt`, `abgerufen` or `beendet`.
    pub status: String,
    pub retrieved_at: Option<String>,
    pub retrieved_by: Option<String>,
    pub ended_at: Option<String>,
}

impl ProvisionRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(ProvisionRow {
            id: get(r, "id")?,
            case_id: get(r, "case_id")?,
            file_number: get(r, "file_number")?,
            sha256: get(r, "sha256")?,
            template: get(r, "template")?,
            party: get(r, "party")?,
            notified_on: get(r, "notified_on")?,
            provided_at: get(r, "provided_at")?,
            status: get(r, "status")?,
            retrieved_at: get(r, "retrieved_at")?,
            retrieved_by: get(r, "retrieved_by")?,
            ended_at: get(r, "ended_at")?,
        })
    }
}

/// A circular sent to a member, with its read receipt.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRow {
    pub case_id: i64,
    pub file_number: String,
    pub party: String,
    pub queued_at: String,
    pub read_at: Option<String>,
    pub read_by: Option<String>,
}

impl DeliveryRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(DeliveryRow {
            case_id: get(r, "case_id")?,
            file_number: get(r, "file_number")?,
            party: get(r, "party")?,
            queued_at: get(r, "queued_at")?,
            read_at: get(r, "read_at")?,
            read_by: get(r, "read_by")?,
        })
    }
}

/// A provision query: its columns with the case's file number, then `$rest`.
macro_rules! provisions_where {
    ($rest:literal) => {
        concat!(
            "SELECT p.id, p.case_id, c.file_number, p.sha256, p.template, p.party, p.notified_on, p.provided_at, p.status, p.retrieved_at, p.retrieved_by, p.ended_at
             FROM provisions p JOIN cases c ON c.id = p.case_id ",
            $rest
        )
    };
}

impl Store {
    /// A case's uploads, oldest first.
    pub async fn uploads_of(&self, case_id: CaseId) -> Result<Vec<UploadRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, sha256, file_name, size_bytes, pages, uploaded_by, party, uploaded_at
             FROM uploads WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading uploads"))?;
        rows.iter().map(UploadRow::from_row).collect()
    }

    /// The consent a municipality has in force, if any.
    pub async fn consent_of(&self, party: &str) -> Result<Option<ConsentRow>, StoreError> {
        sqlx::query(
            "SELECT id, party, given_by, given_at, withdrawn_by, withdrawn_at FROM consents
             WHERE party = $1 AND withdrawn_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(party)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a consent"))?
        .map(|r| ConsentRow::from_row(&r))
        .transpose()
    }

    /// Every consent a municipality gave, newest first (with withdrawals).
    pub async fn consents_of(&self, party: &str) -> Result<Vec<ConsentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, party, given_by, given_at, withdrawn_by, withdrawn_at FROM consents
             WHERE party = $1 ORDER BY id DESC",
        )
        .bind(party)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading consents"))?;
        rows.iter().map(ConsentRow::from_row).collect()
    }

    /// Records a consent (a no-op if one is in force).
    pub async fn give_consent(&self, party: &str, by: &str, at: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let active =
            sqlx::query("SELECT id FROM consents WHERE party = $1 AND withdrawn_at IS NULL")
                .bind(party)
                .fetch_optional(&mut *tx.tx)
                .await
                .map_err(q("reading a consent"))?;
        if active.is_none() {
            sqlx::query("INSERT INTO consents (party, given_by, given_at) VALUES ($1, $2, $3)")
                .bind(party)
                .bind(by)
                .bind(at)
                .execute(&mut *tx.tx)
                .await
                .map_err(q("recording a consent"))?;
        }
        tx.commit().await
    }

    /// Withdraws the consent in force; returns whether there was one.
    pub async fn withdraw_consent(
        &self,
        party: &str,
        by: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let r = sqlx::query(
            "UPDATE consents SET withdrawn_by = $2, withdrawn_at = $3 WHERE party = $1 AND withdrawn_at IS NULL",
        )
        .bind(party)
        .bind(by)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(q("withdrawing a consent"))?;
        Ok(r.rows_affected() > 0)
    }

    /// A case's letters provided for retrieval.
    pub async fn provisions_of(&self, case_id: CaseId) -> Result<Vec<ProvisionRow>, StoreError> {
        let rows = sqlx::query(provisions_where!("WHERE p.case_id = $1 ORDER BY p.id"))
            .bind(case_id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading provisions"))?;
        rows.iter().map(ProvisionRow::from_row).collect()
    }

    /// A party's letters waiting for retrieval, oldest notification first.
    pub async fn provisions_waiting_for(
        &self,
        party: &str,
    ) -> Result<Vec<ProvisionRow>, StoreError> {
        let rows = sqlx::query(provisions_where!(
            "WHERE p.status = 'bereitgestellt' AND p.party = $1 ORDER BY p.notified_on, p.id"
        ))
        .bind(party)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading provisions"))?;
        rows.iter().map(ProvisionRow::from_row).collect()
    }

    /// Provisions still waiting whose notification went out on or before
    /// `notified_by` (the ten days after it have passed).
    pub async fn provisions_ending(
        &self,
        notified_by: &str,
    ) -> Result<Vec<ProvisionRow>, StoreError> {
        let rows = sqlx::query(provisions_where!(
            "WHERE p.status = 'bereitgestellt' AND p.notified_on <= $1 ORDER BY p.id"
        ))
        .bind(notified_by)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading provisions"))?;
        rows.iter().map(ProvisionRow::from_row).collect()
    }

    /// Provisions retrieved or ended since `since` (RFC 3339), oldest
    /// first: the reminder pass checks that their step was fired.
    pub async fn provisions_settled_since(
        &self,
        since: &str,
    ) -> Result<Vec<ProvisionRow>, StoreError> {
        let rows = sqlx::query(provisions_where!(
            "WHERE (p.status = 'abgerufen' AND p.retrieved_at >= $1)
                OR (p.status = 'beendet' AND p.ended_at >= $1) ORDER BY p.id"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading provisions"))?;
        rows.iter().map(ProvisionRow::from_row).collect()
    }

    /// The circulars delivered to a member, newest first.
    pub async fn deliveries_to(&self, party: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.case_id, c.file_number, d.party, d.queued_at, d.read_at, d.read_by
             FROM deliveries d JOIN cases c ON c.id = d.case_id WHERE d.party = $1
             ORDER BY d.queued_at DESC, d.case_id DESC",
        )
        .bind(party)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading circulars"))?;
        rows.iter().map(DeliveryRow::from_row).collect()
    }

    /// A circular's deliveries with their read receipts, by member name.
    pub async fn deliveries_of(&self, case_id: CaseId) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.case_id, c.file_number, d.party, d.queued_at, d.read_at, d.read_by
             FROM deliveries d JOIN cases c ON c.id = d.case_id WHERE d.case_id = $1
             ORDER BY d.party",
        )
        .bind(case_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading read receipts"))?;
        rows.iter().map(DeliveryRow::from_row).collect()
    }
}

impl Tx {
    /// Stores an upload's bytes (content-addressed) and its row.
    pub async fn insert_upload(&mut self, u: &NewUpload<'_>) -> Result<i64, StoreError> {
        self.put_bytes(u.sha256, u.bytes).await?;
        let row = sqlx::query(
            "INSERT INTO uploads (case_id, sha256, file_name, size_bytes, pages, uploaded_by, party, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(u.case_id.0)
        .bind(u.sha256)
        .bind(u.file_name)
        .bind(u.bytes.len() as i64)
        .bind(u.pages)
        .bind(u.uploaded_by)
        .bind(u.party)
        .bind(u.at)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(q("storing an upload"))?;
        get(&row, "id")
    }

    /// Records a letter provided for retrieval.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_provision(
        &mut self,
        case_id: CaseId,
        sha256: &str,
        template: &str,
        party: &str,
        notified_on: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provisions (case_id, sha256, template, party, notified_on, provided_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'bereitgestellt')",
        )
        .bind(case_id.0)
        .bind(sha256)
        .bind(template)
        .bind(party)
        .bind(notified_on)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("recording a provision"))?;
        Ok(())
    }

    /// Marks a provision retrieved, once: false if it was retrieved or
    /// ended before (the first retrieval counts).
    pub async fn mark_retrieved(
        &mut self,
        id: i64,
        by: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE provisions SET status = 'abgerufen', retrieved_by = $2, retrieved_at = $3
             WHERE id = $1 AND status = 'bereitgestellt'",
        )
        .bind(id)
        .bind(by)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("recording a retrieval"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Ends a provision that was not retrieved in time; false if it was
    /// retrieved or ended meanwhile.
    pub async fn end_provision(&mut self, id: i64, at: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE provisions SET status = 'beendet', ended_at = $2
             WHERE id = $1 AND status = 'bereitgestellt'",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("ending a provision"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Records that a circular went to a member (once per member).
    pub async fn insert_delivery(
        &mut self,
        case_id: CaseId,
        party: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO deliveries (case_id, party, queued_at) VALUES ($1, $2, $3)
             ON CONFLICT (case_id, party) DO NOTHING",
        )
        .bind(case_id.0)
        .bind(party)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("recording a delivery"))?;
        Ok(())
    }

    /// The first reading of a circular by a member; false if it was read before.
    pub async fn mark_read(
        &mut self,
        case_id: CaseId,
        party: &str,
        by: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE deliveries SET read_at = $3, read_by = $4
             WHERE case_id = $1 AND party = $2 AND read_at IS NULL",
        )
        .bind(case_id.0)
        .bind(party)
        .bind(at)
        .bind(by)
        .execute(&mut *self.tx)
        .await
        .map_err(q("recording a read receipt"))?;
        Ok(r.rows_affected() > 0)
    }
}
