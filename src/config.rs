//! Configuration: `amtspost.toml` plus `AMTSPOST_*` environment overrides on
//! top of defaults that work in an empty folder.
//!
//! Top-level keys map to `AMTSPOST_<KEY>` (e.g. `AMTSPOST_DATABASE_URL`);
//! keys in sections use a double underscore (`AMTSPOST_OFFICE__NAME`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::deadline::Region;
use crate::mail::MailConfig;
use crate::numbering::NumberPattern;

/// The file read when no `--config` is given.
pub const DEFAULT_FILE: &str = "amtspost.toml";

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A named config file does not exist.
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    /// A value is malformed or of the wrong type; figment names the key and source.
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

/// Everything amtspost can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://FILE` (embedded default) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Folder with the workflow definitions (`*.toml`).
    pub workflows_dir: PathBuf,
    /// Folder with letter and mail templates; the built-in ones are used if it does not exist.
    pub templates_dir: PathBuf,
    /// Where `document export` writes by default. Issued PDFs live in the
    /// database; a database from before that has its PDFs imported from
    /// here (`<ab>/<sha256>.pdf`) at start-up.
    pub documents_dir: PathBuf,
    /// The German state whose public holidays move deadlines (ISO code, e.g. `NW`).
    pub region: Region,
    /// Pattern of case file numbers; `{register}` is the workflow's register.
    pub case_number_pattern: NumberPattern,
    /// Overrides of register patterns declared in workflow files.
    pub registers: BTreeMap<String, NumberPattern>,
    /// The office's identity, printed on every letter.
    pub office: Office,
    /// Mail addresses of roles (e.g. `clerk = "dezernat36@…"`) for reminders
    /// and escalations addressed to a role rather than a party.
    pub role_addresses: BTreeMap<String, String>,
    /// How mail leaves: `.eml` files in a folder (default) or SMTP.
    pub mail: MailConfig,
    /// When `amtspost serve` runs its jobs.
    pub scheduler: SchedulerConfig,
    /// Rates that workflows compute with (`rates.<name>` in expressions),
    /// e.g. the Festbetrag per funded post of a Kommunales Integrationszentrum.
    pub rates: BTreeMap<String, f64>,
}

/// Schedules of the background jobs in `amtspost serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Cron expression (with seconds) for the reminder pass, in Europe/Berlin
    /// time: by default 07:00 on working days.
    pub reminders: String,
    /// Cron expression for delivering queued mail.
    pub deliver: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            reminders: "0 0 7 * * Mon-Fri".into(),
            deliver: "0 * * * * *".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://amtspost.db".into(),
            workflows_dir: "workflows".into(),
            templates_dir: "templates".into(),
            documents_dir: "out/documents".into(),
            region: Region::NW,
            case_number_pattern: "{register}-{year}-{seq:04}".parse().expect("valid default"),
            registers: BTreeMap::new(),
            office: Office::default(),
            role_addresses: BTreeMap::new(),
            mail: MailConfig::default(),
            scheduler: SchedulerConfig::default(),
            // Placeholder amount (unconfirmed): set the rate of the funding guideline in force.
            rates: [("ki_festbetrag_je_stelle".to_string(), 50_000.0)].into(),
        }
    }
}

/// The sender of letters: letterhead, return address, footer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Office {
    pub name: String,
    pub unit: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub web: String,
    pub bank: String,
    pub iban: String,
    pub bic: String,
    /// Court for suits against notices (Rechtsbehelfsbelehrung).
    pub court: String,
}

impl Default for Office {
    fn default() -> Self {
        Self {
            name: "Bezirksregierung Arnsberg".into(),
            unit: "Dezernat 36 – Kompetenzzentrum für Integration".into(),
            street: "Seibertzstraße 1".into(),
            postcode: "59821".into(),
            city: "Arnsberg".into(),
            phone: "02931 82-0".into(),
            fax: "02931 82-2520".into(),
            email: "poststelle@bra.example.org".into(),
            web: "www.bra.example.org".into(),
            bank: "Landesbank Hessen-Thüringen".into(),
            iban: "DE00 0000 0000 0000 0000 00".into(),
            bic: "HELADEFFXXX".into(),
            court: "Verwaltungsgericht Arnsberg, Jägerstraße 1, 59821 Arnsberg".into(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if `path` is given it must exist; otherwise
    /// `amtspost.toml` is read when present), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) if !p.exists() => return Err(ConfigError::Missing(p.to_path_buf())),
            Some(p) => fig = fig.merge(Toml::file_exact(p)),
            None if Path::new(DEFAULT_FILE).exists() => {
                fig = fig.merge(Toml::file_exact(DEFAULT_FILE))
            }
            None => {}
        }
        fig = fig.merge(
            Env::prefixed("AMTSPOST_")
                .ignore(&["CONFIG", "NOW", "TEST_POSTGRES_URL"])
                .split("__"),
        );
        fig.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    /// The config file `init` writes: every key with its default, commented.
    pub fn template() -> String {
        let body = toml::to_string_pretty(&Config::default()).expect("config serialises");
        format!(
            "# amtspost configuration. Every key can be overridden by an environment\n\
             # variable AMTSPOST_<KEY> (sections: AMTSPOST_OFFICE__NAME and so on).\n\n{body}"
        )
    }
}
