//! The SQL behind the Akte (`case export`, `case import`): one case's rows
//! read in one snapshot, and written back in one transaction under the
//! case's own id (the journal's hashes cover it).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError, get, q};
use crate::akte::{
    CaseFile, CaseRecord, DeadlineRecord, DefinitionRecord, DeliveryRecord, DocumentRecord,
    History, MailRecord, ProvisionRecord, ReminderRecord, UploadRecord,
};

fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> StoreError + '_ {
    move |e| StoreError::Corrupt {
        what: what.into(),
        detail: e.to_string(),
    }
}

fn case_record(r: &AnyRow) -> Result<CaseRecord, StoreError> {
    let data: String = get(r, "data")?;
    let parties: String = get(r, "parties")?;
    Ok(CaseRecord {
        id: get(r, "id")?,
        file_number: get(r, "file_number")?,
        workflow_id: get(r, "workflow_id")?,
        workflow_version: get(r, "workflow_version")?,
        state: get(r, "state")?,
        data: serde_json::from_str(&data).map_err(corrupt("case data"))?,
        parties: serde_json::from_str(&parties).map_err(corrupt("case parties"))?,
        version: get(r, "version")?,
        last_seq: get(r, "last_seq")?,
        head_hash: get(r, "head_hash")?,
        opened_at: get(r, "opened_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

impl Store {
    /// A case's complete file, read in one snapshot; `None` if there is no
    /// case with this file number.
    pub async fn case_file(&self, file_number: &str) -> Result<Option<CaseFile>, StoreError> {
        self.case_file_with(file_number, true).await
    }

    /// A case's rows without the bytes of its letters and uploads: what
    /// `audit verify` compares with the journal's replay.
    pub async fn case_rows(&self, file_number: &str) -> Result<Option<CaseFile>, StoreError> {
        self.case_file_with(file_number, false).await
    }

    async fn case_file_with(
        &self,
        file_number: &str,
        with_bytes: bool,
    ) -> Result<Option<CaseFile>, StoreError> {
        let what = "reading a case for its export";
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(q(what))?;
        }
        let Some(row) = sqlx::query(
            "SELECT id, file_number, workflow_id, workflow_version, state, data, parties, version,
                    last_seq, head_hash, opened_at, updated_at FROM cases WHERE file_number = $1",
        )
        .bind(file_number)
        .fetch_optional(&mut *tx)
        .await
        .map_err(q(what))?
        else {
            return Ok(None);
        };
        let case = case_record(&row)?;
        let d = sqlx::query(
            "SELECT workflow_id, version, content_hash, source, path, registered_at
             FROM workflow_definitions WHERE workflow_id = $1 AND version = $2",
        )
        .bind(&case.workflow_id)
        .bind(case.workflow_version)
        .fetch_one(&mut *tx)
        .await
        .map_err(q(what))?;
        let definition = DefinitionRecord {
            workflow_id: get(&d, "workflow_id")?,
            version: get(&d, "version")?,
            content_hash: get(&d, "content_hash")?,
            path: get(&d, "path")?,
            registered_at: get(&d, "registered_at")?,
            source: get(&d, "source")?,
        };
        let journal = sqlx::query(
            "SELECT case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash
             FROM journal WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(super::rows::event_from_row)
        .collect::<Result<Vec<_>, _>>()?;

        let mut deadlines = Vec::new();
        let rows = sqlx::query(
            "SELECT id, name, title, due_date, status, set_at, closed_at, legal_basis, explanation
             FROM deadlines WHERE case_id = $1 ORDER BY id",
        )
        .bind(case.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?;
        for r in &rows {
            let id: i64 = get(r, "id")?;
            let reminders = sqlx::query(
                "SELECT step, recipient, due_date, status, created_at FROM reminders
                 WHERE deadline_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(q(what))?
            .iter()
            .map(|r| {
                Ok(ReminderRecord {
                    step: get(r, "step")?,
                    recipient: get(r, "recipient")?,
                    due_date: get(r, "due_date")?,
                    status: get(r, "status")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
            let explanation: String = get(r, "explanation")?;
            deadlines.push(DeadlineRecord {
                name: get(r, "name")?,
                title: get(r, "title")?,
                due_date: get(r, "due_date")?,
                status: get(r, "status")?,
                set_at: get(r, "set_at")?,
                closed_at: get(r, "closed_at")?,
                legal_basis: get(r, "legal_basis")?,
                explanation: serde_json::from_str(&explanation)
                    .map_err(corrupt("deadline explanation"))?,
                reminders,
            });
        }

        let documents = sqlx::query(
            "SELECT template, template_hash, data_hash, sha256, size_bytes, pages, recipient,
                    letter_date, created_at, reference FROM documents WHERE case_id = $1 ORDER BY id",
        )
        .bind(case.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(|r| {
            Ok(DocumentRecord {
                template: get(r, "template")?,
                template_hash: get(r, "template_hash")?,
                data_hash: get(r, "data_hash")?,
                sha256: get(r, "sha256")?,
                size_bytes: get(r, "size_bytes")?,
                pages: get(r, "pages")?,
                recipient: get(r, "recipient")?,
                letter_date: get(r, "letter_date")?,
                created_at: get(r, "created_at")?,
                reference: get(r, "reference")?,
                file: String::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let uploads = sqlx::query(
            "SELECT sha256, file_name, size_bytes, pages, uploaded_by, party, uploaded_at
             FROM uploads WHERE case_id = $1 ORDER BY id",
        )
        .bind(case.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(|r| {
            Ok(UploadRecord {
                sha256: get(r, "sha256")?,
                file_name: get(r, "file_name")?,
                size_bytes: get(r, "size_bytes")?,
                pages: get(r, "pages")?,
                uploaded_by: get(r, "uploaded_by")?,
                party: get(r, "party")?,
                uploaded_at: get(r, "uploaded_at")?,
                file: String::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let history = history_of(&mut tx, case.id).await?;
        let mut blobs = BTreeMap::new();
        let shas = documents
            .iter()
            .map(|d| d.sha256.clone())
            .chain(uploads.iter().map(|u| u.sha256.clone()));
        for sha in shas.filter(|_| with_bytes) {
            if blobs.contains_key(&sha) {
                continue;
            }
            if let Some(r) = sqlx::query("SELECT bytes FROM document_blobs WHERE sha256 = $1")
                .bind(&sha)
                .fetch_optional(&mut *tx)
                .await
                .map_err(q(what))?
            {
                let bytes: Vec<u8> = r.try_get("bytes").map_err(q(what))?;
                blobs.insert(sha, bytes);
            }
        }
        tx.commit().await.map_err(q(what))?;
        Ok(Some(CaseFile {
            case,
            definition,
            journal,
            deadlines,
            documents,
            uploads,
            history: Some(history),
            blobs,
        }))
    }

    /// The cases last changed before `before` (RFC 3339 or a date), with
    /// their workflow version and state, oldest first: the candidates of an
    /// export of closed cases.
    pub async fn cases_changed_before(
        &self,
        before: &str,
    ) -> Result<Vec<(String, String, i64, String)>, StoreError> {
        sqlx::query(
            "SELECT file_number, workflow_id, workflow_version, state FROM cases
             WHERE updated_at < $1 ORDER BY updated_at, id",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing cases to export"))?
        .iter()
        .map(|r| {
            Ok((
                get(r, "file_number")?,
                get(r, "workflow_id")?,
                get(r, "workflow_version")?,
                get(r, "state")?,
            ))
        })
        .collect()
    }

    /// Writes a verified case file in one transaction, under the case's own
    /// id, with its workflow version if this database lacks it. Refuses a
    /// file number or id already in use and a workflow version stored here
    /// with other content; raises the registers given in `numbers`
    /// (register, year, last number) so new numbers follow the imported ones.
    pub async fn import_case_file(
        &self,
        f: &CaseFile,
        numbers: &[(String, i32, i64)],
    ) -> Result<(), StoreError> {
        let what = "importing a case";
        let mut tx = self.begin().await?;
        let c = &f.case;
        let taken =
            sqlx::query("SELECT id, file_number FROM cases WHERE id = $1 OR file_number = $2")
                .bind(c.id)
                .bind(&c.file_number)
                .fetch_optional(&mut *tx.tx)
                .await
                .map_err(q(what))?;
        if let Some(r) = taken {
            let number: String = get(&r, "file_number")?;
            return Err(if number == c.file_number {
                StoreError::Duplicate {
                    what: format!("a case with the file number {number}"),
                }
            } else {
                StoreError::CaseIdTaken {
                    id: c.id,
                    file_number: number,
                }
            });
        }
        let d = &f.definition;
        let stored = sqlx::query(
            "SELECT content_hash FROM workflow_definitions WHERE workflow_id = $1 AND version = $2",
        )
        .bind(&d.workflow_id)
        .bind(d.version)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(q(what))?;
        match stored {
            Some(r) => {
                let hash: String = get(&r, "content_hash")?;
                if hash != d.content_hash {
                    return Err(StoreError::DefinitionDiffers {
                        workflow: d.workflow_id.clone(),
                        version: d.version,
                    });
                }
            }
            None => {
                sqlx::query(
                    "INSERT INTO workflow_definitions (workflow_id, version, content_hash, source, path, registered_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&d.workflow_id)
                .bind(d.version)
                .bind(&d.content_hash)
                .bind(&d.source)
                .bind(&d.path)
                .bind(&d.registered_at)
                .execute(&mut *tx.tx)
                .await
                .map_err(q(what))?;
            }
        }
        let insert_case = match self.backend {
            Backend::Postgres => {
                "INSERT INTO cases (id, file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
                 OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            }
            Backend::Sqlite => {
                "INSERT INTO cases (id, file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            }
        };
        sqlx::query(insert_case)
            .bind(c.id)
            .bind(&c.file_number)
            .bind(&c.workflow_id)
            .bind(c.workflow_version)
            .bind(&c.state)
            .bind(serde_json::to_string(&c.data).expect("case data serialises"))
            .bind(c.parties.to_string())
            .bind(c.version)
            .bind(c.last_seq)
            .bind(&c.head_hash)
            .bind(&c.opened_at)
            .bind(&c.updated_at)
            .execute(&mut *tx.tx)
            .await
            .map_err(|e| super::constraint_error(e, what))?;
        if self.backend == Backend::Postgres {
            // The identity goes on after the highest id, imported or not.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT MAX(id) FROM cases))",
            )
            .execute(&mut *tx.tx)
            .await
            .map_err(q(what))?;
        }
        for e in &f.journal {
            sqlx::query(
                "INSERT INTO journal (case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(e.case_id)
            .bind(e.seq)
            .bind(&e.recorded_at)
            .bind(&e.actor)
            .bind(&e.role)
            .bind(e.kind.as_str())
            .bind(e.transition.as_deref())
            .bind(e.payload.to_string())
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx.tx)
            .await
            .map_err(q(what))?;
        }
        for dl in &f.deadlines {
            let id: i64 = sqlx::query(
                "INSERT INTO deadlines (case_id, name, title, due_date, status, set_at, closed_at, legal_basis, explanation)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(c.id)
            .bind(&dl.name)
            .bind(&dl.title)
            .bind(&dl.due_date)
            .bind(&dl.status)
            .bind(&dl.set_at)
            .bind(dl.closed_at.as_deref())
            .bind(dl.legal_basis.as_deref())
            .bind(dl.explanation.to_string())
            .fetch_one(&mut *tx.tx)
            .await
            .and_then(|r| r.try_get("id"))
            .map_err(q(what))?;
            for r in &dl.reminders {
                sqlx::query(
                    "INSERT INTO reminders (deadline_id, step, recipient, due_date, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(&r.step)
                .bind(&r.recipient)
                .bind(&r.due_date)
                .bind(&r.status)
                .bind(&r.created_at)
                .execute(&mut *tx.tx)
                .await
                .map_err(q(what))?;
            }
        }
        for (sha, bytes) in &f.blobs {
            tx.put_bytes(sha, bytes).await?;
        }
        for doc in &f.documents {
            sqlx::query(
                "INSERT INTO documents (case_id, template, template_hash, data_hash, sha256, size_bytes, pages, recipient, letter_date, created_at, reference)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(c.id)
            .bind(&doc.template)
            .bind(&doc.template_hash)
            .bind(&doc.data_hash)
            .bind(&doc.sha256)
            .bind(doc.size_bytes)
            .bind(doc.pages)
            .bind(&doc.recipient)
            .bind(&doc.letter_date)
            .bind(&doc.created_at)
            .bind(doc.reference.as_deref())
            .execute(&mut *tx.tx)
            .await
            .map_err(q(what))?;
        }
        for u in &f.uploads {
            sqlx::query(
                "INSERT INTO uploads (case_id, sha256, file_name, size_bytes, pages, uploaded_by, party, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.id)
            .bind(&u.sha256)
            .bind(&u.file_name)
            .bind(u.size_bytes)
            .bind(u.pages)
            .bind(&u.uploaded_by)
            .bind(&u.party)
            .bind(&u.uploaded_at)
            .execute(&mut *tx.tx)
            .await
            .map_err(q(what))?;
        }
        if let Some(h) = &f.history {
            write_history(&mut tx, c.id, h).await?;
        }
        for (register, year, last) in numbers {
            tx.raise_sequence(register, *year, *last).await?;
        }
        tx.commit().await
    }
}

/// The outbox's mail of a case and the portal's provisions and deliveries,
/// in the order they were written.
async fn history_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: i64,
) -> Result<History, StoreError> {
    let what = "reading a case's mail and portal history";
    let mail = sqlx::query(
        "SELECT message_id, kind, recipients, subject, body, attachments, status, attempts,
                last_error, created_at, sent_at FROM outbox WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(q(what))?
    .iter()
    .map(|r| {
        let recipients: String = get(r, "recipients")?;
        let attachments: String = get(r, "attachments")?;
        Ok(MailRecord {
            message_id: get(r, "message_id")?,
            kind: get(r, "kind")?,
            recipients: serde_json::from_str(&recipients).map_err(corrupt("mail recipients"))?,
            subject: get(r, "subject")?,
            body: get(r, "body")?,
            attachments: serde_json::from_str(&attachments).map_err(corrupt("mail attachments"))?,
            status: get(r, "status")?,
            attempts: get(r, "attempts")?,
            last_error: get(r, "last_error")?,
            created_at: get(r, "created_at")?,
            sent_at: get(r, "sent_at")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let provisions = sqlx::query(
        "SELECT sha256, template, party, notified_on, provided_at, status, retrieved_at,
                retrieved_by, ended_at FROM provisions WHERE case_id = $1 ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(q(what))?
    .iter()
    .map(|r| {
        Ok(ProvisionRecord {
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
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let deliveries = sqlx::query(
        "SELECT party, queued_at, read_at, read_by FROM deliveries WHERE case_id = $1
         ORDER BY queued_at, party",
    )
    .bind(case_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(q(what))?
    .iter()
    .map(|r| {
        Ok(DeliveryRecord {
            party: get(r, "party")?,
            queued_at: get(r, "queued_at")?,
            read_at: get(r, "read_at")?,
            read_by: get(r, "read_by")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(History {
        mail,
        provisions,
        deliveries,
    })
}

/// Writes an imported case's mail, provisions and deliveries. Mail not
/// delivered at the source is kept as failed: the new installation must
/// not send a letter the old one may still send.
async fn write_history(tx: &mut super::Tx, case_id: i64, h: &History) -> Result<(), StoreError> {
    let what = "importing a case's mail and portal history";
    for m in &h.mail {
        let (status, last_error) = match m.status.as_str() {
            "sent" | "failed" => (m.status.clone(), m.last_error.clone()),
            other => (
                "failed".to_string(),
                Some(format!(
                    "aus einer Akte übernommen, beim Export „{other}“: hier nicht versandt"
                )),
            ),
        };
        sqlx::query(
            "INSERT INTO outbox (message_id, case_id, kind, recipients, subject, body, attachments,
                                 status, attempts, next_attempt_at, last_error, created_at, sent_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&m.message_id)
        .bind(case_id)
        .bind(&m.kind)
        .bind(serde_json::to_string(&m.recipients).expect("recipients serialise"))
        .bind(&m.subject)
        .bind(&m.body)
        .bind(m.attachments.to_string())
        .bind(status)
        .bind(m.attempts)
        .bind(&m.created_at)
        .bind(last_error)
        .bind(&m.created_at)
        .bind(m.sent_at.as_deref())
        .execute(&mut *tx.tx)
        .await
        .map_err(|e| super::constraint_error(e, what))?;
    }
    for p in &h.provisions {
        sqlx::query(
            "INSERT INTO provisions (case_id, sha256, template, party, notified_on, provided_at,
                                     status, retrieved_at, retrieved_by, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(case_id)
        .bind(&p.sha256)
        .bind(&p.template)
        .bind(&p.party)
        .bind(&p.notified_on)
        .bind(&p.provided_at)
        .bind(&p.status)
        .bind(p.retrieved_at.as_deref())
        .bind(p.retrieved_by.as_deref())
        .bind(p.ended_at.as_deref())
        .execute(&mut *tx.tx)
        .await
        .map_err(q(what))?;
    }
    for d in &h.deliveries {
        sqlx::query(
            "INSERT INTO deliveries (case_id, party, queued_at, read_at, read_by)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case_id)
        .bind(&d.party)
        .bind(&d.queued_at)
        .bind(d.read_at.as_deref())
        .bind(d.read_by.as_deref())
        .execute(&mut *tx.tx)
        .await
        .map_err(q(what))?;
    }
    Ok(())
}
