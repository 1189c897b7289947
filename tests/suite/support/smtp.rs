//! A real SMTP server for tests: `tests/smtp_sink.py` (aiosmtpd) on
//! 127.0.0.1, started per test, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const INSTALL_HINT: &str = "the SMTP test server needs python3 with the aiosmtpd package: \
     install python3 (e.g. `apt-get install python3 python3-pip`) and then \
     `python3 -m pip install aiosmtpd`";

/// A running `tests/smtp_sink.py`.
pub struct SmtpSink {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The message exactly as transmitted.
    pub raw: Vec<u8>,
    /// Every header as (name, raw value as transmitted, unfolded and trimmed).
    pub headers: Vec<(String, String)>,
    /// Decoded `Subject:`.
    pub subject: String,
    /// `From:` address (without display name).
    pub from: String,
    /// `To:` addresses (without display names).
    pub to: Vec<String>,
    /// `Message-ID:` without `<>`.
    pub message_id: String,
    /// The decoded first text body, line ends normalised to `\n`.
    pub text: String,
    /// Attachments as (decoded file name, decoded bytes).
    pub attachments: Vec<(String, Vec<u8>)>,
    /// SMTP `MAIL FROM`.
    pub envelope_from: String,
    /// SMTP `RCPT TO`s.
    pub envelope_to: Vec<String>,
}

impl Received {
    /// Parses one raw message (and its envelope).
    pub fn parse(raw: Vec<u8>, envelope_from: String, envelope_to: Vec<String>) -> Self {
        let msg = MessageParser::default()
            .parse(&raw)
            .unwrap_or_else(|| panic!("unparsable message: {}", String::from_utf8_lossy(&raw)));
        let first_addr = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|addr| addr.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
        };
        let headers = msg
            .headers_raw()
            .map(|(name, value)| {
                let unfolded = value.replace("\r\n", "").replace('\n', "");
                (name.to_owned(), unfolded.trim().to_owned())
            })
            .collect();
        let attachments = msg
            .attachments()
            .map(|part| {
                let name = part.attachment_name().unwrap_or_default().to_owned();
                (name, part.contents().to_vec())
            })
            .collect();
        Self {
            headers,
            subject: msg.subject().unwrap_or_default().to_owned(),
            from: first_addr(msg.from())
                .into_iter()
                .next()
                .unwrap_or_default(),
            to: first_addr(msg.to()),
            message_id: msg.message_id().unwrap_or_default().to_owned(),
            text: msg
                .body_text(0)
                .map(|t| t.replace("\r\n", "\n"))
                .unwrap_or_default(),
            attachments,
            envelope_from,
            envelope_to,
            raw,
        }
    }

    /// The raw value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl SmtpSink {
    /// Starts a sink that accepts every message.
    pub async fn start() -> Self {
        Self::spawn(None, 0).await
    }

    /// Starts a sink that waits `ms` before storing and again before
    /// answering each message (slow enough to be killed in the middle).
    pub async fn start_slow(ms: u64) -> Self {
        Self::spawn(None, ms).await
    }

    /// Starts a sink that answers every `RCPT TO` with `code` (e.g. 450, 550).
    pub async fn start_failing(code: u16) -> Self {
        Self::spawn(Some(code), 0).await
    }

    async fn spawn(rcpt_code: Option<u16>, delay_ms: u64) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        assert!(
            script.is_file(),
            "SMTP test server {} is missing",
            script.display()
        );
        let dir = tempfile::tempdir().expect("temporary folder for the SMTP sink");
        let log = dir.path().join("sink.log");
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg("--port")
            .arg("0")
            .arg("--dir")
            .arg(dir.path().join("messages"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("SMTP sink log file"))
            .kill_on_drop(true);
        if delay_ms > 0 {
            cmd.arg("--delay-ms").arg(delay_ms.to_string());
        }
        if let Some(code) = rcpt_code {
            cmd.arg("--rcpt-code").arg(code.to_string());
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("python3 was not found: {INSTALL_HINT}")
            }
            Err(e) => panic!("cannot start python3 {}: {e}", script.display()),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let port = match ready {
            Ok(Ok(Some(line))) => line
                .strip_prefix("READY ")
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or_else(|| panic!("SMTP sink printed {line:?} instead of `READY <port>`")),
            Ok(Ok(None)) | Ok(Err(_)) => {
                let _ = child.wait().await;
                let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                if stderr.contains("aiosmtpd") {
                    panic!("{INSTALL_HINT}\n--- smtp_sink.py said:\n{stderr}");
                }
                panic!("SMTP sink exited before it was ready:\n{stderr}");
            }
            Err(_) => {
                let stderr = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("SMTP sink did not print READY within 30 s:\n{stderr}");
            }
        };
        Self { port, dir, child }
    }

    fn messages_dir(&self) -> PathBuf {
        self.dir.path().join("messages")
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Received> {
        let dir = self.messages_dir();
        let mut emls: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        emls.sort();
        emls.into_iter()
            .map(|eml| {
                let raw = std::fs::read(&eml).expect("read received message");
                let meta: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(eml.with_extension("json")).expect("read envelope"),
                )
                .expect("envelope JSON");
                let envelope_from = meta["mail_from"].as_str().unwrap_or_default().to_owned();
                let envelope_to = meta["rcpt_tos"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                Received::parse(raw, envelope_from, envelope_to)
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::Instant::now() >= deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default();
                panic!(
                    "SMTP sink on port {} received {} of {n} messages within {timeout:?}\n{log}",
                    self.port,
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
