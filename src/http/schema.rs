//! The API's own JSON types for what the store keeps as rows: a letter, a
//! mail, an upload, an absence. The store may rename a column without the
//! API changing; the field names here are the API's contract (they are the
//! names the rows had when the API first answered with them).

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{AttachmentRef, MailStatus};
use crate::store::{DocumentRow, MailRow, SubstitutionRow, UploadRow};

/// An issued letter (PDF/A), found by its SHA-256.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: i64,
    pub case_id: i64,
    pub template: String,
    pub template_hash: String,
    pub data_hash: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub recipient: String,
    pub letter_date: String,
    pub created_at: String,
    /// The number allocated in the same transition (e.g. the notice number).
    pub reference: Option<String>,
}

impl From<DocumentRow> for Document {
    fn from(r: DocumentRow) -> Document {
        Document {
            id: r.id,
            case_id: r.case_id.0,
            template: r.template,
            template_hash: r.template_hash,
            data_hash: r.data_hash,
            sha256: r.sha256,
            size_bytes: r.size_bytes,
            pages: r.pages,
            recipient: r.recipient,
            letter_date: r.letter_date,
            created_at: r.created_at,
            reference: r.reference,
        }
    }
}

/// A file attached to a mail: a stored document, by its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
}

impl From<AttachmentRef> for MailAttachment {
    fn from(a: AttachmentRef) -> MailAttachment {
        MailAttachment {
            filename: a.filename,
            content_type: a.content_type,
            sha256: a.sha256,
        }
    }
}

/// A mail in the outbox, with its delivery state and last SMTP error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mail {
    pub id: i64,
    pub message_id: String,
    pub case_id: Option<i64>,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Stored documents to attach, by content hash.
    pub attachments: Vec<MailAttachment>,
    pub status: MailStatus,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl From<MailRow> for Mail {
    fn from(r: MailRow) -> Mail {
        Mail {
            id: r.id,
            message_id: r.message_id,
            case_id: r.case_id.map(|c| c.0),
            kind: r.kind,
            recipients: r.recipients,
            subject: r.subject,
            body: r.body,
            attachments: r.attachments.into_iter().map(Into::into).collect(),
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

/// A PDF a municipality uploaded to a case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Upload {
    pub id: i64,
    /// SHA-256 of the file (it is stored under this hash).
    pub sha256: String,
    /// The file name as uploaded.
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

impl From<UploadRow> for Upload {
    fn from(r: UploadRow) -> Upload {
        Upload {
            id: r.id,
            sha256: r.sha256,
            file_name: r.file_name,
            size_bytes: r.size_bytes,
            pages: r.pages,
            uploaded_by: r.uploaded_by,
            party: r.party,
            uploaded_at: r.uploaded_at,
        }
    }
}

/// An absence with its substitute.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Absence {
    pub id: i64,
    /// Who is away.
    pub absent: String,
    /// Who works their Arbeitskorb meanwhile.
    pub substitute: String,
    /// First day (YYYY-MM-DD, Europe/Berlin).
    pub from_date: String,
    /// Last day, inclusive.
    pub until_date: String,
}

impl From<SubstitutionRow> for Absence {
    fn from(r: SubstitutionRow) -> Absence {
        Absence {
            id: r.id,
            absent: r.absent,
            substitute: r.substitute,
            from_date: r.from_date,
            until_date: r.until_date,
        }
    }
}

/// Converts a list of rows into the API's type.
pub fn all<R, T: From<R>>(rows: Vec<R>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaseId;
    use serde_json::to_value;

    /// The API's types answer exactly the JSON the store rows answered
    /// when they were the API's types: no client sees the change.
    #[test]
    fn the_api_types_answer_the_json_the_rows_did() {
        let doc = DocumentRow {
            id: 1,
            case_id: CaseId(7),
            template: "eingangsbestaetigung".into(),
            template_hash: "t".into(),
            data_hash: "d".into(),
            sha256: "ab".repeat(32),
            size_bytes: 1234,
            pages: 2,
            recipient: "Kreis Unna".into(),
            letter_date: "2012-03-19".into(),
            created_at: "2012-03-19T08:00:00Z".into(),
            reference: Some("B-2012-0001".into()),
        };
        assert_eq!(
            to_value(&doc).unwrap(),
            to_value(Document::from(doc)).unwrap()
        );
        let mail = MailRow {
            id: 3,
            message_id: "<m@x>".into(),
            case_id: Some(CaseId(7)),
            kind: "distribution".into(),
            recipients: vec!["a@example.org".into()],
            subject: "Betreff".into(),
            body: "Text".into(),
            attachments: vec![AttachmentRef::pdf("a.pdf", "cd".repeat(32))],
            status: MailStatus::Pending,
            attempts: 1,
            next_attempt_at: "2012-03-19T08:00:00Z".into(),
            last_error: Some("550".into()),
            created_at: "2012-03-19T08:00:00Z".into(),
            sent_at: None,
        };
        assert_eq!(
            to_value(&mail).unwrap(),
            to_value(Mail::from(mail)).unwrap()
        );
        let upload = UploadRow {
            id: 4,
            case_id: 7,
            sha256: "ef".repeat(32),
            file_name: "nachweis.pdf".into(),
            size_bytes: 99,
            pages: 1,
            uploaded_by: "unna".into(),
            party: "Kreis Unna".into(),
            uploaded_at: "2012-03-19T08:00:00Z".into(),
        };
        assert_eq!(
            to_value(&upload).unwrap(),
            to_value(Upload::from(upload)).unwrap()
        );
        let absence = SubstitutionRow {
            id: 5,
            absent: "meier".into(),
            substitute: "schulz".into(),
            from_date: "2012-03-19".into(),
            until_date: "2012-03-23".into(),
        };
        assert_eq!(
            to_value(&absence).unwrap(),
            to_value(Absence::from(absence)).unwrap()
        );
    }
}
