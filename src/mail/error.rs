//! The one error type of the mail module.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while configuring, rendering or sending a
/// mail. [`MailError::is_permanent`] tells the outbox whether another attempt
/// can succeed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The `[mail]` section cannot be used, e.g. an unparsable `from`
    /// address, a zero timeout or a password without a user name.
    #[error("mail configuration ([mail] in amtspost.toml): {0}")]
    Config(String),

    /// A recipient is not a valid e-mail address. Permanent.
    #[error("mail {message_id}: recipient {address:?} is not a valid e-mail address ({reason})")]
    InvalidAddress {
        /// Message-ID of the mail (without `<>`).
        message_id: String,
        /// The address exactly as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },

    /// The mail has no recipient at all. Permanent.
    #[error("mail {message_id} has no recipient")]
    NoRecipient {
        /// Message-ID of the mail (without `<>`).
        message_id: String,
    },

    /// The Message-ID cannot be used (it is both the header and the file
    /// name of the folder transport). Permanent.
    #[error(
        "invalid Message-ID {message_id:?}: {reason} (expected e.g. K-2012-0001.4.reminder@amtspost.example.org, without <>)"
    )]
    InvalidMessageId {
        /// The Message-ID as given.
        message_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An attachment has a content type that is not a valid MIME type.
    /// Permanent.
    #[error(
        "mail {message_id}: attachment {filename:?} has an invalid content type {content_type:?}"
    )]
    InvalidAttachment {
        /// Message-ID of the mail (without `<>`).
        message_id: String,
        /// File name of the attachment.
        filename: String,
        /// The content type as given.
        content_type: String,
    },

    /// The message could not be assembled for another reason. Permanent.
    #[error("mail {message_id} could not be assembled: {detail}")]
    Build {
        /// Message-ID of the mail (without `<>`).
        message_id: String,
        /// What the message builder reported.
        detail: String,
    },

    /// The SMTP server could not be reached, or the connection broke off.
    /// Transient.
    #[error(
        "cannot reach mail server {server}: {detail} (check smtp_host/smtp_port in [mail] and that the server is running)"
    )]
    Connection {
        /// `host:port`.
        server: String,
        /// The underlying network error.
        detail: String,
    },

    /// The SMTP server did not answer in time. Transient.
    #[error("mail server {server} did not answer within {secs} s (timeout_secs in [mail])")]
    Timeout {
        /// `host:port`.
        server: String,
        /// The time waited, in seconds.
        secs: u64,
    },

    /// The TLS handshake (or STARTTLS) with the SMTP server failed.
    /// Transient, since it is fixed on the server or in the configuration,
    /// not in the mail.
    #[error(
        "TLS with mail server {server} failed: {detail} (check tls in [mail] and the server certificate)"
    )]
    Tls {
        /// `host:port`.
        server: String,
        /// What the TLS layer reported.
        detail: String,
    },

    /// The SMTP server refused the login (codes 530, 534, 535, 538).
    /// Transient, since it is fixed in the configuration, not in the mail.
    #[error(
        "mail server {server} refused the login of user {username:?}: {code} {text} (check username/password in [mail])"
    )]
    Auth {
        /// `host:port`.
        server: String,
        /// The configured user name.
        username: String,
        /// SMTP reply code.
        code: u16,
        /// SMTP reply text.
        text: String,
    },

    /// The SMTP server answered with an error code: 5xx is permanent
    /// (e.g. 550 unknown recipient), 4xx transient (e.g. 450 mailbox busy).
    #[error("mail server {server} {} mail {message_id} to {recipients}: {code} {text}", rejection(*.code))]
    Rejected {
        /// `host:port`.
        server: String,
        /// Message-ID of the mail (without `<>`).
        message_id: String,
        /// The envelope recipients, comma-separated.
        recipients: String,
        /// SMTP reply code, e.g. 550.
        code: u16,
        /// SMTP reply text (usually names the refused address).
        text: String,
    },

    /// The SMTP server answered something the client did not understand or
    /// lacks a required feature. Transient.
    #[error("unexpected answer from mail server {server}: {detail}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// What went wrong.
        detail: String,
    },

    /// The folder transport could not write the `.eml` file (missing
    /// permission, disk full, ...). Transient.
    #[error("cannot write mail file {}: {source} (check folder in [mail])", path.display())]
    Write {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// A mail template does not exist, does not parse, lacks its
    /// `Subject:` line or uses a variable the context does not provide.
    /// Permanent.
    #[error("mail template {template}{}: {detail}", line_suffix(*.line))]
    Template {
        /// Template file (path, or `templates/mail/<name>` when embedded).
        template: String,
        /// 1-based line in the template file, where known.
        line: Option<usize>,
        /// What is wrong.
        detail: String,
    },

    /// The template folder could not be read. Permanent.
    #[error("cannot read mail templates from {}: {source}", dir.display())]
    TemplateDir {
        /// The folder (or file in it) that could not be read.
        dir: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

fn rejection(code: u16) -> &'static str {
    if code >= 500 {
        "permanently rejected"
    } else {
        "temporarily refused"
    }
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

impl MailError {
    /// `true` when sending the same mail again cannot succeed (bad address,
    /// 5xx answer, broken template); `false` for problems that may go away
    /// (server down, timeout, 4xx answer, TLS/login/configuration trouble,
    /// disk full).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::InvalidAddress { .. }
            | Self::NoRecipient { .. }
            | Self::InvalidMessageId { .. }
            | Self::InvalidAttachment { .. }
            | Self::Build { .. }
            | Self::Template { .. }
            | Self::TemplateDir { .. } => true,
            Self::Rejected { code, .. } => *code >= 500,
            Self::Config(_)
            | Self::Connection { .. }
            | Self::Timeout { .. }
            | Self::Tls { .. }
            | Self::Auth { .. }
            | Self::Protocol { .. }
            | Self::Write { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_permanent_only_for_5xx_codes() {
        let rejected = |code| MailError::Rejected {
            server: "mx:25".into(),
            message_id: "a@b".into(),
            recipients: "x@y.org".into(),
            code,
            text: "no".into(),
        };
        assert!(rejected(550).is_permanent());
        assert!(!rejected(450).is_permanent());
        assert!(rejected(550).to_string().contains("permanently rejected"));
        assert!(rejected(450).to_string().contains("temporarily refused"));
    }

    #[test]
    fn template_errors_name_file_and_line() {
        let err = MailError::Template {
            template: "templates/mail/reminder.txt".into(),
            line: Some(4),
            detail: "undefined value `deadline`".into(),
        };
        assert_eq!(
            err.to_string(),
            "mail template templates/mail/reminder.txt, line 4: undefined value `deadline`"
        );
    }
}
