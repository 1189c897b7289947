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
use crate::money::Money;
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
    /// The web UI and HTTP API of `amtspost serve`.
    pub web: WebConfig,
    /// Rates that workflows compute with (`rates.<name>` in expressions).
    /// Besides the rates set here, every step of [`Config::dated_rates`]
    /// appears as `<name>_<year>` for each year it applies to (see
    /// [`Config::expand_dated_rates`]).
    pub rates: BTreeMap<String, Money>,
    /// Rates that change over time, each step with the year it applies from,
    /// its legal source and whether the figure is confirmed for that year,
    /// e.g. the annual Festbetrag per full-time post of a Kommunales
    /// Integrationszentrum. `amtspost config check` lists them.
    pub dated_rates: BTreeMap<String, Vec<DatedRate>>,
    /// How large a value people may give a field (every door).
    pub limits: crate::workflow::Limits,
    /// Which letters carry the office's electronic seal, at which level,
    /// made with which key (`[seal]`, see `crate::seal`).
    pub seal: crate::seal::SealConfig,
}

/// One step of a rate that changes over time: it applies from `from_year`
/// until the year before the next step's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedRate {
    /// The first (budget) year the amount applies to.
    pub from_year: i32,
    /// The amount (EUR), exact.
    pub amount: Money,
    /// The legal source of the figure (guideline, number, publication).
    pub source: String,
    /// Whether the source confirms the figure for these years; an
    /// unconfirmed step is reported by `amtspost config check`.
    #[serde(default)]
    pub confirmed: bool,
    /// What is known or doubtful about it (German, shown to the clerk).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Dated rates are expanded into `rates` for the years up to this one.
pub const DATED_RATES_UNTIL: i32 = 2050;

/// The HTTP server of `amtspost serve`: where it listens, how long a login
/// lasts and how many failed logins it tolerates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address and port (`--listen` overrides it).
    pub listen: String,
    /// The address users reach the server at (links in mails; `https://…`
    /// also marks the session cookie `Secure`).
    pub public_url: String,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after the login, used or not.
    pub session_absolute_hours: i64,
    /// Pages warn this many seconds before a session ends for lack of use
    /// and offer to extend it (WCAG 2.2.1; at least 20).
    pub session_warning_seconds: i64,
    /// Failed logins of one user name from one client address within
    /// `login_window_minutes` before each further attempt must wait, twice
    /// as long as the one before (30 s, 60 s, … up to the window). Someone
    /// else's failures never hold a person back.
    pub login_max_failures: i64,
    pub login_window_minutes: i64,
    /// Reverse proxies (CIDR ranges, e.g. `"10.0.0.0/8"`) whose
    /// `Forwarded`/`X-Forwarded-For` headers name the client. Empty by
    /// default: the TCP peer is the client, and such headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Largest file a municipality may upload in the portal, in MB.
    pub upload_limit_mb: u64,
    /// A client must send a request's head within this many seconds of
    /// connecting or of the previous answer, else the connection is closed
    /// (so idle connections cannot hold the server's slots).
    pub header_read_timeout_seconds: u64,
    /// Connections served at once; more wait to be accepted. 0: as many as
    /// the process's file limit allows, less a reserve for the database and
    /// documents, at most 1,000.
    pub max_connections: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            session_idle_minutes: 30,
            session_absolute_hours: 10,
            session_warning_seconds: 120,
            login_max_failures: 5,
            login_window_minutes: 15,
            trusted_proxies: Vec::new(),
            upload_limit_mb: 20,
            header_read_timeout_seconds: 10,
            max_connections: 0,
        }
    }
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
            web: WebConfig::default(),
            // Kept for cases opened on version 2 of ki-foerderantrag, which
            // multiplied it by all posts; newer versions use `dated_rates`.
            rates: [("ki_festbetrag_je_stelle".to_string(), eur(50_000))].into(),
            dated_rates: ki_dated_rates(),
            limits: crate::workflow::Limits::default(),
            seal: crate::seal::SealConfig::default(),
        }
        .with_dated_rates()
    }
}

/// Whole euros as an amount.
fn eur(euros: i64) -> Money {
    Money::from_cents(euros * 100).expect("a configured rate is within the limit")
}

/// The KI rates per year (`ki_festbetrag_vollzeitstelle`: per full-time
/// Fachkraft or Verwaltungsfachkraft post and year; `ki_festbetrag_halbe_assistenz`:
/// for the half assistant post and year, never pro rata of the full post).
fn ki_dated_rates() -> BTreeMap<String, Vec<DatedRate>> {
    let step = |from_year, amount, source: &str, confirmed, note: &str| DatedRate {
        from_year,
        amount,
        source: source.into(),
        confirmed,
        note: note.into(),
    };
    let rl2012 = "Richtlinien für die Förderung Kommunaler Integrationszentren, Gem. RdErl. MSW/MAIS vom 25.06.2012 (MBl. NRW. 2012 Nr. 19)";
    let unbelegt = "Für 2012 bis 2017 wurde kein ausdrücklicher Betrag gefunden; angesetzt ist der Betrag der Richtlinie vom 27.03.2018 als beste verfügbare Angabe. Vor Produktivbetrieb mit Dezernat 36 abgleichen.";
    let rl2018 = "Richtlinie für die Förderung Kommunaler Integrationszentren vom 27.03.2018 (MBl. NRW. 2018 S. 179), Nr. 5.2 und 5.4.1 (Festbetragsfinanzierung)";
    let rl2020 = "Änderung der Richtlinie vom 30.10.2020 (MBl. NRW. 2020 S. 769): Vollfinanzierung mit Höchstbetrag";
    let ab2021 = "Gilt ab dem Haushaltsjahr 2021 unter der Annahme, dass die Änderung vom 30.10.2020 ab 2021 angewendet wird (Anwendungsbeginn nicht bestätigt).";
    let heute = "Stand der Förderung nach der Internetseite der Bezirksregierung Arnsberg (Spiegel: pufii.de, id 2012): bis zu 57.000 EUR je Fachkraftstelle und 22.500 EUR für die halbe Stelle Verwaltungsassistenz";
    let ab2024 = "Seit wann 57.000 EUR gelten, ist nicht bestätigt; angesetzt ab 2024.";
    [
        (
            "ki_festbetrag_vollzeitstelle".to_string(),
            vec![
                step(2012, eur(50_000), rl2012, false, unbelegt),
                step(2018, eur(50_000), rl2018, true, ""),
                step(2021, eur(55_000), rl2020, false, ab2021),
                step(2024, eur(57_000), heute, false, ab2024),
            ],
        ),
        (
            "ki_festbetrag_halbe_assistenz".to_string(),
            vec![
                step(2012, eur(20_000), rl2012, false, unbelegt),
                step(2018, eur(20_000), rl2018, true, ""),
                step(2021, eur(22_500), rl2020, false, ab2021),
                step(2024, eur(22_500), heute, false, ab2024),
            ],
        ),
    ]
    .into()
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
    /// Where reports of barriers from the accessibility statement's form
    /// go (§ 10b Abs. 2 Nr. 2 BGG NRW); empty: `email`.
    pub accessibility_email: String,
    /// A default court for letters of workflows that name none. The court
    /// for suits against a notice is that of the recipient's seat (§ 52
    /// Nr. 3 Satz 2 VwGO); ki-foerderantrag takes it from
    /// `workflows/data/kommunen.json` and never uses this value.
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
            accessibility_email: String::new(),
            court: "Verwaltungsgericht Arnsberg, Jägerstraße 1, 59821 Arnsberg".into(),
        }
    }
}

impl Office {
    /// The sender as the letter templates read it (`office` in a letter's
    /// data): what every letter of this office prints in its head and foot.
    pub fn letter_data(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "unit": self.unit,
            "street": self.street,
            "city": format!("{} {}", self.postcode, self.city),
            "phone": self.phone,
            "fax": self.fax,
            "email": self.email,
            "web": self.web,
            "bank": {"name": self.bank, "iban": self.iban, "bic": self.bic},
        })
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
        let config: Config = fig
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        Ok(config.with_dated_rates())
    }

    /// The keys `<name>_<year>` that [`Config::dated_rates`] put into `rates`.
    fn dated_rate_keys(&self) -> Vec<String> {
        let names: Vec<&String> = self.dated_rates.keys().collect();
        self.rates
            .keys()
            .filter(|k| {
                k.rsplit_once('_').is_some_and(|(name, year)| {
                    year.len() == 4
                        && year.bytes().all(|b| b.is_ascii_digit())
                        && names.iter().any(|n| *n == name)
                })
            })
            .cloned()
            .collect()
    }

    /// Puts every dated rate into `rates` as `<name>_<year>` for each year
    /// from its first step to [`DATED_RATES_UNTIL`], with the amount of the
    /// step in force that year, so that a workflow picks the rate of the
    /// grant's year: `rates['ki_festbetrag_vollzeitstelle_' + year]`.
    /// Keys derived earlier are recomputed.
    pub fn expand_dated_rates(&mut self) {
        for key in self.dated_rate_keys() {
            self.rates.remove(&key);
        }
        for (name, steps) in &self.dated_rates {
            let mut steps = steps.clone();
            steps.sort_by_key(|s| s.from_year);
            for (i, step) in steps.iter().enumerate() {
                let until = steps
                    .get(i + 1)
                    .map_or(DATED_RATES_UNTIL, |next| next.from_year - 1);
                for year in step.from_year..=until {
                    self.rates.insert(format!("{name}_{year}"), step.amount);
                }
            }
        }
    }

    /// [`Config::expand_dated_rates`], by value.
    pub fn with_dated_rates(mut self) -> Config {
        self.expand_dated_rates();
        self
    }

    /// The step of a dated rate in force in `year`, if any.
    pub fn dated_rate(&self, name: &str, year: i32) -> Option<&DatedRate> {
        self.dated_rates
            .get(name)?
            .iter()
            .filter(|s| s.from_year <= year)
            .max_by_key(|s| s.from_year)
    }

    /// The config file `init` writes: every key with its default, commented.
    pub fn template() -> String {
        let mut config = Config::default();
        for key in config.dated_rate_keys() {
            config.rates.remove(&key);
        }
        let body = toml::to_string_pretty(&config).expect("config serialises");
        format!(
            "# amtspost configuration. Every key can be overridden by an environment\n\
             # variable AMTSPOST_<KEY> (sections: AMTSPOST_OFFICE__NAME and so on).\n\n{body}"
        )
    }
}
