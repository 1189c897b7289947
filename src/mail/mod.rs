//! Outgoing mail: letters (PDF attachments), deadline reminders, circulars.
//!
//! - [`MailConfig`]: the `[mail]` section of `amtspost.toml`.
//! - [`Mailer`]: sends an [`OutgoingMail`] through the folder transport
//!   (`<message-id>.eml` files) or SMTP.
//! - [`MailTemplates`]: subject and body from `templates/mail/*.txt`.
//! - [`backoff`]: delay before the next attempt of a failed mail.
//! - [`MailError`]: every failure, with [`MailError::is_permanent`] telling
//!   the outbox whether to retry.

mod config;
mod error;
mod message;
mod templates;
mod transport;

pub use self::config::{MailConfig, Tls, Transport, backoff};
pub use self::error::MailError;
pub use self::message::{Attachment, OutgoingMail};
pub use self::templates::MailTemplates;
pub use self::transport::Mailer;
