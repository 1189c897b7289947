//! `[mail]` section of `amtspost.toml` and the retry backoff.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How mails leave amtspost.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Write every mail as `<message-id>.eml` into [`MailConfig::folder`]
    /// (no server needed; the default for an embedded installation).
    #[default]
    Folder,
    /// Deliver through an SMTP server ([`MailConfig::smtp_host`]).
    Smtp,
}

/// Transport security towards the SMTP server.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain text. Only for a relay on the same host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS; fails if the server does not
    /// offer it (usually port 587 or 25).
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
}

/// The `[mail]` section of `amtspost.toml`. Every field has a default, so an
/// empty section (or none) gives the folder transport writing to `out/mail`.
#[derive(Deserialize, Serialize, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `"folder"` (default) or `"smtp"`.
    pub transport: Transport,
    /// Target folder of the folder transport; default `out/mail`.
    pub folder: PathBuf,
    /// SMTP server host name or IP address; default `127.0.0.1`.
    pub smtp_host: String,
    /// SMTP server port; default 25.
    pub smtp_port: u16,
    /// `"none"`, `"starttls"` (default) or `"tls"`.
    pub tls: Tls,
    /// SMTP user name; no authentication when absent.
    pub username: Option<String>,
    /// SMTP password (only used together with `username`).
    pub password: Option<String>,
    /// Sender (`From:`) of every mail; default `amtspost <amtspost@example.org>`.
    pub from: String,
    /// Timeout in seconds for connecting to the SMTP server; the whole SMTP
    /// dialogue of one mail may take six times as long (plus one second per
    /// 64 KiB of message). Default 10.
    pub timeout_secs: u64,
    /// How often the outbox tries a mail before giving up; default 8.
    pub max_attempts: u32,
    /// Delay before the second attempt, doubled for every further attempt;
    /// default 60 seconds.
    pub backoff_base_secs: u64,
    /// Upper bound of the delay between two attempts; default 21600 (6 hours).
    pub backoff_max_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: Transport::Folder,
            folder: PathBuf::from("out/mail"),
            smtp_host: "127.0.0.1".to_owned(),
            smtp_port: 25,
            tls: Tls::Starttls,
            username: None,
            password: None,
            from: "amtspost <amtspost@example.org>".to_owned(),
            timeout_secs: 10,
            max_attempts: 8,
            backoff_base_secs: 60,
            backoff_max_secs: 21_600,
        }
    }
}

impl fmt::Debug for MailConfig {
    /// Like a derived `Debug`, but never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("transport", &self.transport)
            .field("folder", &self.folder)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_secs", &self.backoff_base_secs)
            .field("backoff_max_secs", &self.backoff_max_secs)
            .finish()
    }
}

/// Delay before the next attempt after `attempts` failed attempts:
/// `0` for no failed attempt yet, then `base`, `2·base`, `4·base`, …,
/// never more than `backoff_max_secs`. Pure and monotone in `attempts`
/// (no jitter; a caller that wants jitter adds it).
pub fn backoff(cfg: &MailConfig, attempts: u32) -> Duration {
    if attempts == 0 {
        return Duration::ZERO;
    }
    let factor = 1u64.checked_shl(attempts - 1);
    let secs = factor
        .and_then(|f| cfg.backoff_base_secs.checked_mul(f))
        .unwrap_or(u64::MAX)
        .min(cfg.backoff_max_secs);
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_the_folder_transport_and_documented_values() {
        let cfg = MailConfig::default();
        assert_eq!(cfg.transport, Transport::Folder);
        assert_eq!(cfg.folder, PathBuf::from("out/mail"));
        assert_eq!(cfg.smtp_host, "127.0.0.1");
        assert_eq!(cfg.smtp_port, 25);
        assert_eq!(cfg.tls, Tls::Starttls);
        assert_eq!(cfg.username, None);
        assert_eq!(cfg.from, "amtspost <amtspost@example.org>");
        assert_eq!(cfg.timeout_secs, 10);
        assert_eq!(cfg.max_attempts, 8);
        assert_eq!(cfg.backoff_base_secs, 60);
        assert_eq!(cfg.backoff_max_secs, 21_600);
    }

    #[test]
    fn an_empty_section_deserializes_to_the_defaults() {
        let cfg: MailConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(format!("{cfg:?}"), format!("{:?}", MailConfig::default()));
    }

    #[test]
    fn transport_and_tls_are_spelled_in_lowercase() {
        let cfg: MailConfig = serde_json::from_value(serde_json::json!({
            "transport": "smtp", "tls": "none", "smtp_port": 2525
        }))
        .unwrap();
        assert_eq!(cfg.transport, Transport::Smtp);
        assert_eq!(cfg.tls, Tls::None);
        assert_eq!(cfg.smtp_port, 2525);
        let tls: Tls = serde_json::from_str("\"tls\"").unwrap();
        assert_eq!(tls, Tls::Tls);
        assert_eq!(
            serde_json::to_string(&Tls::Starttls).unwrap(),
            "\"starttls\""
        );
    }

    #[test]
    fn a_misspelt_key_is_rejected() {
        let err = serde_json::from_str::<MailConfig>(r#"{"smtp_hots":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("smtp_hots"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let cfg = MailConfig {
            password: Some("geheim".into()),
            ..MailConfig::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("geheim"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn backoff_starts_at_zero_then_doubles_from_the_base() {
        let cfg = MailConfig::default();
        assert_eq!(backoff(&cfg, 0), Duration::ZERO);
        assert_eq!(backoff(&cfg, 1), Duration::from_secs(60));
        assert_eq!(backoff(&cfg, 2), Duration::from_secs(120));
        assert_eq!(backoff(&cfg, 3), Duration::from_secs(240));
    }

    #[test]
    fn backoff_is_monotone_and_capped_even_for_huge_attempt_counts() {
        let cfg = MailConfig::default();
        let mut last = Duration::ZERO;
        for attempts in (0..200).chain([u32::MAX - 1, u32::MAX]) {
            let d = backoff(&cfg, attempts);
            assert!(d >= last, "backoff({attempts}) = {d:?} < {last:?}");
            assert!(d <= Duration::from_secs(cfg.backoff_max_secs));
            last = d;
        }
        assert_eq!(last, Duration::from_secs(21_600));
    }

    #[test]
    fn backoff_never_exceeds_a_maximum_below_the_base() {
        let cfg = MailConfig {
            backoff_base_secs: 100,
            backoff_max_secs: 30,
            ..MailConfig::default()
        };
        assert_eq!(backoff(&cfg, 1), Duration::from_secs(30));
        assert_eq!(backoff(&cfg, 9), Duration::from_secs(30));
    }
}
