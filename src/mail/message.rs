//! The transport-independent mail and its MIME form.

use std::fmt;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};

use super::error::MailError;

/// One mail as the outbox hands it to [`Mailer::send`](super::Mailer::send).
#[derive(Clone, Debug, Default)]
pub struct OutgoingMail {
    /// Message-ID without `<>`, e.g. `K-2012-0001.4.reminder@amtspost.example.org`.
    /// Must look like `local@domain` using only letters, digits and
    /// `. _ % + = -` (it is also the file name of the folder transport).
    /// Stable per mail, so a repeated send overwrites instead of duplicating.
    pub message_id: String,
    /// Recipients, each `user@host` or `Name <user@host>`.
    pub to: Vec<String>,
    /// Subject line (any Unicode).
    pub subject: String,
    /// Plain-text body (any Unicode).
    pub text: String,
    /// Files attached after the text.
    pub attachments: Vec<Attachment>,
    /// `Date:` header; the current time when `None`. Pass the time the mail
    /// was queued to make the message reproducible.
    pub date: Option<DateTime<Utc>>,
}

/// A file attached to an [`OutgoingMail`].
#[derive(Clone, Default)]
pub struct Attachment {
    /// File name shown to the recipient, e.g. `Bescheid.pdf`.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The file content.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Attachment {
    /// Shows the size instead of the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Checks the Message-ID: `local@domain`, no `<>`, no white space, only
/// characters that are safe in a file name on every platform.
pub(super) fn check_message_id(id: &str) -> Result<(), MailError> {
    let bad = |reason| {
        Err(MailError::InvalidMessageId {
            message_id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.starts_with('<') || id.ends_with('>') {
        return bad("it must be given without <>");
    }
    let Some((local, domain)) = id.split_once('@') else {
        return bad("it has no @");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return bad("it must have exactly one @ with text on both sides");
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '=' | '-');
    if !local.chars().all(allowed) || !domain.chars().all(allowed) {
        return bad("only letters, digits and . _ % + = - are allowed");
    }
    if id.starts_with('.') || id.len() > 200 {
        return bad("it must not start with a dot or exceed 200 characters");
    }
    Ok(())
}

/// Builds the MIME message: `text/plain; charset=utf-8`, followed by the
/// attachments as `multipart/mixed` when there are any.
pub(super) fn build_message(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, MailError> {
    check_message_id(&mail.message_id)?;
    let id = || mail.message_id.clone();
    if mail.to.is_empty() {
        return Err(MailError::NoRecipient { message_id: id() });
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}>", mail.message_id)))
        .date(mail.date.map_or_else(SystemTime::now, SystemTime::from))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    for to in &mail.to {
        let mailbox: Mailbox = to.trim().parse().map_err(|e| MailError::InvalidAddress {
            message_id: id(),
            address: to.clone(),
            reason: format!("{e}"),
        })?;
        builder = builder.to(mailbox);
    }
    let text = SinglePart::plain(mail.text.clone());
    let built = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &mail.attachments {
            let content_type =
                ContentType::parse(&a.content_type).map_err(|_| MailError::InvalidAttachment {
                    message_id: id(),
                    filename: a.filename.clone(),
                    content_type: a.content_type.clone(),
                })?;
            parts = parts.singlepart(
                MimeAttachment::new(a.filename.clone()).body(a.bytes.clone(), content_type),
            );
        }
        builder.multipart(parts)
    };
    built.map_err(|e| MailError::Build {
        message_id: id(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> OutgoingMail {
        OutgoingMail {
            message_id: "K-2012-0001.4.reminder@amtspost.example.org".into(),
            to: vec!["Erika Müller <erika@example.org>".into()],
            subject: "Frist läuft ab".into(),
            text: "Grüße".into(),
            date: Some("2012-03-12T08:00:00Z".parse().unwrap()),
            ..OutgoingMail::default()
        }
    }

    fn from() -> Mailbox {
        "amtspost <amtspost@example.org>".parse().unwrap()
    }

    #[test]
    fn the_message_id_and_date_headers_are_taken_from_the_mail() {
        let raw = String::from_utf8(build_message(&from(), &mail()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Message-ID: <K-2012-0001.4.reminder@amtspost.example.org>\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("Date: Mon, 12 Mar 2012 08:00:00 +0000\r\n"),
            "{raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated\r\n"), "{raw}");
    }

    #[test]
    fn message_ids_that_would_be_unsafe_file_names_are_refused() {
        for bad in [
            "", "<a@b>", "ab", "a@b@c", "../x@y", "a b@c", "a/b@c", "@b", ".a@b",
        ] {
            let err = check_message_id(bad).unwrap_err();
            assert!(err.is_permanent(), "{bad}: {err}");
        }
        check_message_id("K-2012-0001.4.reminder@amtspost.example.org").unwrap();
    }

    #[test]
    fn an_invalid_recipient_is_named_in_a_permanent_error() {
        let mut m = mail();
        m.to.push("kein-at-zeichen".into());
        let err = build_message(&from(), &m).unwrap_err();
        assert!(err.is_permanent());
        assert!(err.to_string().contains("\"kein-at-zeichen\""), "{err}");
    }

    #[test]
    fn a_mail_without_recipients_is_refused() {
        let mut m = mail();
        m.to.clear();
        assert!(matches!(
            build_message(&from(), &m),
            Err(MailError::NoRecipient { .. })
        ));
    }

    #[test]
    fn an_attachment_with_a_bad_content_type_is_refused() {
        let mut m = mail();
        m.attachments.push(Attachment {
            filename: "a.pdf".into(),
            content_type: "kein typ".into(),
            bytes: vec![1],
        });
        let err = build_message(&from(), &m).unwrap_err();
        assert!(matches!(err, MailError::InvalidAttachment { .. }), "{err}");
    }
}
