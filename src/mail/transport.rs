//! [`Mailer`]: the folder and SMTP transports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls as LettreTls, TlsParameters};
use lettre::transport::smtp::{self, AsyncSmtpTransport};
use lettre::{AsyncTransport, Tokio1Executor};
use tokio::io::AsyncWriteExt;

use super::config::{MailConfig, Tls, Transport};
use super::error::MailError;
use super::message::{OutgoingMail, build_message};

/// Sends [`OutgoingMail`]s the way `[mail]` says. Built once, cheap to clone,
/// usable from many tasks at once. Every `send` opens its own SMTP
/// connection (no pool), so a broken connection never outlives one mail.
#[derive(Clone, Debug)]
pub struct Mailer {
    from: Mailbox,
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Folder {
        dir: Arc<PathBuf>,
    },
    Smtp {
        transport: Arc<AsyncSmtpTransport<Tokio1Executor>>,
        /// `host:port`, for error messages.
        server: Arc<str>,
        username: Option<Arc<str>>,
        timeout_secs: u64,
    },
}

impl Mailer {
    /// Checks the configuration and prepares the transport. Does not connect
    /// to anything and does not create the folder yet.
    pub fn new(cfg: &MailConfig) -> Result<Self, MailError> {
        let from: Mailbox = cfg.from.trim().parse().map_err(|e| {
            MailError::Config(format!(
                "from = {:?} is not a valid sender address ({e})",
                cfg.from
            ))
        })?;
        let inner = match cfg.transport {
            Transport::Folder => {
                if cfg.folder.as_os_str().is_empty() {
                    return Err(MailError::Config("folder must not be empty".into()));
                }
                Inner::Folder {
                    dir: Arc::new(cfg.folder.clone()),
                }
            }
            Transport::Smtp => smtp_transport(cfg)?,
        };
        Ok(Self { from, inner })
    }

    /// Sends one mail.
    ///
    /// Folder transport: writes `<folder>/<message-id>.eml` atomically
    /// (temporary file, fsync, rename); sending the same Message-ID again
    /// replaces the file, so a retried send never produces a duplicate.
    ///
    /// SMTP transport: delivers to the envelope recipients taken from `to`.
    /// An error tells by [`MailError::is_permanent`] whether to retry.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, mail)?;
        match &self.inner {
            Inner::Folder { dir } => write_eml(dir, &mail.message_id, &message.formatted()).await,
            Inner::Smtp {
                transport,
                server,
                username,
                timeout_secs,
            } => {
                let bytes = message.formatted();
                let envelope = message.envelope();
                // lettre bounds only the connect by the timeout; bound the
                // whole dialogue too, so a stalled server cannot hang the outbox.
                let secs = timeout_secs
                    .saturating_mul(6)
                    .saturating_add(bytes.len() as u64 / 65_536);
                match tokio::time::timeout(
                    Duration::from_secs(secs),
                    transport.send_raw(envelope, &bytes),
                )
                .await
                {
                    Ok(Ok(_response)) => Ok(()),
                    Ok(Err(e)) => Err(smtp_error(
                        e,
                        server,
                        username.as_deref(),
                        *timeout_secs,
                        mail,
                    )),
                    Err(_elapsed) => Err(MailError::Timeout {
                        server: server.to_string(),
                        secs,
                    }),
                }
            }
        }
    }
}

fn smtp_transport(cfg: &MailConfig) -> Result<Inner, MailError> {
    if cfg.smtp_host.trim().is_empty() {
        return Err(MailError::Config("smtp_host must not be empty".into()));
    }
    if cfg.timeout_secs == 0 {
        return Err(MailError::Config("timeout_secs must be at least 1".into()));
    }
    let host = cfg.smtp_host.trim();
    let server = if host.contains(':') {
        format!("[{host}]:{}", cfg.smtp_port)
    } else {
        format!("{host}:{}", cfg.smtp_port)
    };
    let tls_parameters = || {
        TlsParameters::new(host.to_owned()).map_err(|e| {
            MailError::Config(format!("cannot set up TLS for smtp_host {host:?}: {e}"))
        })
    };
    let tls = match cfg.tls {
        Tls::None => LettreTls::None,
        Tls::Starttls => LettreTls::Required(tls_parameters()?),
        Tls::Tls => LettreTls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(cfg.smtp_port)
        .timeout(Some(Duration::from_secs(cfg.timeout_secs)))
        .tls(tls);
    match (&cfg.username, &cfg.password) {
        (Some(user), password) => {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.clone().unwrap_or_default(),
            ));
        }
        (None, Some(_)) => {
            return Err(MailError::Config(
                "password is set but username is not".into(),
            ));
        }
        (None, None) => {}
    }
    Ok(Inner::Smtp {
        transport: Arc::new(builder.build()),
        server: server.into(),
        username: cfg.username.as_deref().map(Arc::from),
        timeout_secs: cfg.timeout_secs,
    })
}

/// Sorts a lettre SMTP error into the [`MailError`] a clerk can act on.
fn smtp_error(
    e: smtp::Error,
    server: &str,
    username: Option<&str>,
    timeout_secs: u64,
    mail: &OutgoingMail,
) -> MailError {
    let server = server.to_owned();
    // lettre's Display is "<kind>: <source>"; the source alone is the useful part.
    let detail = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
    if let Some(code) = e.status() {
        let code = u16::from(code);
        if let (Some(user), 530 | 534 | 535 | 538) = (username, code) {
            return MailError::Auth {
                server,
                username: user.to_owned(),
                code,
                text: detail,
            };
        }
        return MailError::Rejected {
            server,
            message_id: mail.message_id.clone(),
            recipients: mail.to.join(", "),
            code,
            text: detail,
        };
    }
    if e.is_timeout() {
        MailError::Timeout {
            server,
            secs: timeout_secs,
        }
    } else if e.is_tls() {
        MailError::Tls { server, detail }
    } else if e.is_response() || e.is_client() {
        MailError::Protocol { server, detail }
    } else {
        MailError::Connection { server, detail }
    }
}

/// Writes `<dir>/<message_id>.eml` via a temporary file in the same folder
/// and a rename, so readers never see a half-written mail.
async fn write_eml(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), MailError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MailError::Write { path, source }
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(write_err(dir))?;
    let target = dir.join(format!("{message_id}.eml"));
    let tmp = dir.join(format!(
        ".{message_id}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, &target).await
    }
    .await;
    if let Err(source) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(MailError::Write {
            path: target,
            source,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_sender_address_is_a_configuration_error() {
        let cfg = MailConfig {
            from: "amtspost".into(),
            ..MailConfig::default()
        };
        let err = Mailer::new(&cfg).unwrap_err();
        assert!(matches!(err, MailError::Config(_)), "{err}");
        assert!(err.to_string().contains("\"amtspost\""), "{err}");
    }

    #[test]
    fn every_tls_mode_builds_an_smtp_mailer() {
        for tls in [Tls::None, Tls::Starttls, Tls::Tls] {
            let cfg = MailConfig {
                transport: Transport::Smtp,
                tls,
                smtp_host: "mail.example.org".into(),
                username: Some("amt".into()),
                password: Some("geheim".into()),
                ..MailConfig::default()
            };
            Mailer::new(&cfg).unwrap();
        }
    }

    #[test]
    fn a_password_without_user_name_is_a_configuration_error() {
        let cfg = MailConfig {
            transport: Transport::Smtp,
            password: Some("geheim".into()),
            ..MailConfig::default()
        };
        assert!(matches!(Mailer::new(&cfg), Err(MailError::Config(_))));
    }

    #[test]
    fn the_mailer_can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Mailer>();
    }
}
