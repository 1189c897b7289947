//! [`Mailer`]: the folder and SMTP transports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::config::{MailConfig, Tls, Transport};
use super::error::MailError;
use super::message::{OutgoingMail, build_message};

/// Sends [`OutgoingMail`]s the way `[mail]` says. Built once, cheap to clone,
/// usable from many tasks at once. SMTP connections are kept open and used
/// for the next mail (a pool of idle ones, as many as were needed at once):
/// a connection that saw any error is dropped, one idle for a while is
/// checked with NOOP before reuse. Plain and STARTTLS connections are opened
/// with `TCP_NODELAY`, so the end of a message is not held back by Nagle's
/// algorithm while the server waits to acknowledge (40 ms a mail otherwise).
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
        smtp: Arc<Smtp>,
        /// `host:port`, for error messages.
        server: Arc<str>,
        username: Option<Arc<str>>,
        timeout_secs: u64,
    },
}

/// How to reach the SMTP server, and the connections kept open to it.
struct Smtp {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Smtp({}:{})", self.host, self.port)
    }
}

enum TlsMode {
    None,
    Starttls(TlsParameters),
    Wrapper(TlsParameters),
}

/// An idle connection older than this is checked with NOOP before reuse
/// (servers close idle connections after a minute or more).
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

impl Smtp {
    /// An open, greeted (and if configured encrypted and authenticated)
    /// connection: an idle one if there is one that still answers.
    async fn connection(&self) -> Result<AsyncSmtpConnection, Failure> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().await.pop() else {
                break;
            };
            if since.elapsed() < CHECK_AFTER_IDLE || conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        self.connect().await
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let mut conn = match &self.tls {
            TlsMode::Wrapper(params) => {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(params.clone()),
                    None,
                )
                .await?
            }
            TlsMode::None | TlsMode::Starttls(_) => {
                let connect = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
                let stream = match tokio::time::timeout(self.timeout, connect).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return Err(smtp_connect_error(e)),
                    Err(_) => {
                        return Err(smtp_connect_error(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "connection timed out",
                        )));
                    }
                };
                stream.set_nodelay(true).map_err(smtp_connect_error)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
        };
        if let TlsMode::Starttls(params) = &self.tls {
            conn.starttls(params.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
    }

    /// Sends on a pooled connection; it goes back to the pool only if
    /// nothing went wrong.
    async fn send(
        &self,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<(), Failure> {
        let mut conn = self.connection().await?;
        match conn.send(envelope, bytes).await {
            Ok(_) if !conn.has_broken() => {
                self.idle.lock().await.push((conn, Instant::now()));
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                conn.abort().await;
                Err(Failure::Smtp(e))
            }
        }
    }
}

/// Why a send failed: in the SMTP dialogue, or connecting before it.
enum Failure {
    Smtp(smtp::Error),
    Connect(std::io::Error),
}

impl From<smtp::Error> for Failure {
    fn from(e: smtp::Error) -> Self {
        Failure::Smtp(e)
    }
}

fn smtp_connect_error(e: std::io::Error) -> Failure {
    Failure::Connect(e)
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
                smtp,
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
                match tokio::time::timeout(Duration::from_secs(secs), smtp.send(&envelope, &bytes))
                    .await
                {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(Failure::Smtp(e))) => Err(smtp_error(
                        e,
                        server,
                        username.as_deref(),
                        *timeout_secs,
                        mail,
                    )),
                    Ok(Err(Failure::Connect(e))) if e.kind() == std::io::ErrorKind::TimedOut => {
                        Err(MailError::Timeout {
                            server: server.to_string(),
                            secs: *timeout_secs,
                        })
                    }
                    Ok(Err(Failure::Connect(e))) => Err(MailError::Connection {
                        server: server.to_string(),
                        detail: e.to_string(),
                    }),
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
        Tls::None => TlsMode::None,
        Tls::Starttls => TlsMode::Starttls(tls_parameters()?),
        Tls::Tls => TlsMode::Wrapper(tls_parameters()?),
    };
    let credentials = match (&cfg.username, &cfg.password) {
        (Some(user), password) => Some(Credentials::new(
            user.clone(),
            password.clone().unwrap_or_default(),
        )),
        (None, Some(_)) => {
            return Err(MailError::Config(
                "password is set but username is not".into(),
            ));
        }
        (None, None) => None,
    };
    Ok(Inner::Smtp {
        smtp: Arc::new(Smtp {
            host: host.to_owned(),
            port: cfg.smtp_port,
            tls,
            credentials,
            hello: ClientId::default(),
            timeout: Duration::from_secs(cfg.timeout_secs),
            idle: Mutex::new(Vec::new()),
        }),
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
