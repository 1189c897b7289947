//! Reports of barriers (§ 10b Abs. 2 Nr. 2 BGG NRW, § 5 BITV NRW): anyone,
//! logged in or not, tells the office what they could not use or which
//! content they need in another form. A report is queued as a mail to the
//! office's contact for accessibility in one transaction and delivered by
//! the courier like every mail, so it survives a mail server that is down.

use serde_json::json;

use crate::case::Engine;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{NewMail, Store, StoreError};
use crate::workflow::{Limits, forbidden_char};

/// What the form on the accessibility statement sends.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Report {
    /// The barrier, or the content wanted in another form (required).
    #[serde(default)]
    pub nachricht: String,
    /// The page it concerns (optional).
    #[serde(default)]
    pub seite: String,
    /// How to answer: e-mail address or telephone (optional).
    #[serde(default)]
    pub kontakt: String,
}

/// Why a report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    /// The form has mistakes, each at its field (German).
    #[error("{}", .0.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" "))]
    Invalid(Vec<(&'static str, String)>),
    /// The mail template `barrierefreiheit.txt` is broken.
    #[error(transparent)]
    Template(#[from] crate::mail::MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Report {
    /// The form's mistakes, field by field, in the form's order.
    pub fn problems(&self, limits: &Limits) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let fields: [(&'static str, &str, bool, &str); 3] = [
            ("nachricht", &self.nachricht, true, "Ihre Meldung"),
            ("seite", &self.seite, false, "Die Angabe der Seite"),
            ("kontakt", &self.kontakt, false, "Die Kontaktangabe"),
        ];
        for (field, value, multiline, title) in fields {
            let max = if multiline {
                limits.text_bytes
            } else {
                limits.line_bytes
            };
            if field == "nachricht" && value.trim().is_empty() {
                out.push((
                    field,
                    "Bitte beschreiben Sie die Barriere oder den gewünschten Inhalt.".to_string(),
                ));
            } else if value.len() > max {
                out.push((
                    field,
                    format!("{title} ist zu lang (höchstens {max} Zeichen)."),
                ));
            } else if forbidden_char(value, multiline).is_some() {
                out.push((
                    field,
                    format!("{title} enthält ein Steuerzeichen, das nicht erlaubt ist."),
                ));
            }
        }
        out
    }
}

/// Where reports go: `[office] accessibility_email`, else the office's
/// general address.
pub fn recipient(config: &Config) -> String {
    let own = config.office.accessibility_email.trim();
    if own.is_empty() {
        config.office.email.clone()
    } else {
        own.to_string()
    }
}

/// Checks a report and queues it as a mail to [`recipient`].
pub(crate) async fn queue(
    store: &Store,
    engine: &Engine,
    config: &Config,
    clock: &dyn Clock,
    report: &Report,
) -> Result<(), FeedbackError> {
    let problems = report.problems(&config.limits);
    if !problems.is_empty() {
        return Err(FeedbackError::Invalid(problems));
    }
    let now = clock.now();
    let ctx = json!({
        "office": config.office.name,
        "report": {
            "message": report.nachricht.trim(),
            "page": report.seite.trim(),
            "contact": report.kontakt.trim(),
            "at": now.to_rfc3339(),
        },
    });
    let (subject, body) = engine.mail_templates().render("barrierefreiheit", &ctx)?;
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id).expect("the operating system provides random numbers");
    let message_id = format!(
        "barrierefreiheit.{}@{}",
        hex::encode(id),
        engine.mail_domain()
    );
    let mut tx = store.begin().await?;
    tx.enqueue_mail(&NewMail {
        message_id: &message_id,
        case_id: None,
        kind: "barrierefreiheit",
        recipients: &[recipient(config)],
        subject: &subject,
        body: &body,
        attachments: &[],
        at: &now.to_rfc3339(),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}
