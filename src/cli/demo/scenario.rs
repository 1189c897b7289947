//! The demo: the procedure of the seed circular end to end, in simulated time
//! from 19.03.2012 to 31.08.2014, on a fresh database with mail written to a
//! folder. Circular 172/12 to all members of the Landkreistag; a dozen
//! applications for Kommunale Integrationszentren (complete, incomplete and
//! answered after a Nachforderung, one that never answers, one without an
//! Integrationskonzept) with reviews, four-eyes approvals and notices; the
//! RAA transition with reminders before 31.07.2013 and escalations after it;
//! for Kreis Unna the money after the notice (waiver, calls for funds,
//! payouts) and in 2014 its proof of use, the Prüfmitteilung, the hearing,
//! the revocation and the repayment with interest. `amtspost simulate`
//! plays a generated scenario of the same shape at the scale of a Dezernat.
//!
//! Who applies when, and what each profile of application leads to on
//! which day, is data (`workflows/data/demo.json`), as are the
//! municipalities and the sender identities; this module only plays the
//! clerks' part, through the same [`App`] the CLI uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::app::{App, AppError, AppOptions};
use crate::case::{Actor, CaseError, Engine, FireRequest, OpenRequest, PartyRef};
use crate::clock::ManualClock;
use crate::config::{Config, Office};
use crate::deadline::{Region, is_working_day};
use crate::document::DocumentError;
use crate::mail::{MailConfig, Transport};
use crate::outbox::{Courier, OutboxError};
use crate::store::{Stats, StoreError};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The output folder could not be prepared.
    #[error("demo output {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shipped data file is missing or malformed.
    #[error("demo data {file}: {reason}")]
    Data { file: String, reason: String },
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Documents(#[from] DocumentError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The throwaway test seal could not be made.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// A step the scenario expects to succeed was refused.
    #[error("{date} {what}: {source}")]
    Step {
        date: NaiveDate,
        what: String,
        #[source]
        source: CaseError,
    },
}

/// Where the demo writes and which database it uses.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub out: PathBuf,
    /// Default: `sqlite://<out>/amtspost.db`, recreated.
    pub database_url: Option<String>,
    /// Print progress lines while running.
    pub progress: bool,
    /// The scenario to play instead of `workflows/data/demo.json` (as
    /// `amtspost simulate` generates one, in the same shape).
    pub scenario: Option<Value>,
    /// Where the mail goes instead of the folder `<out>/mail` (the
    /// simulation's benchmark delivers to a local SMTP server).
    pub mail: Option<MailConfig>,
}

impl DemoOptions {
    /// The demo of demo.json, writing to `out`.
    pub fn new(out: PathBuf) -> DemoOptions {
        DemoOptions {
            out,
            database_url: None,
            progress: false,
            scenario: None,
            mail: None,
        }
    }
}

/// One line of what happened.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub date: NaiveDate,
    pub case: String,
    pub text: String,
}

/// The outcome, for the summary table and for tests.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub stats: Stats,
    pub log: Vec<LogLine>,
    /// File number → applicant or subject, for reading the log.
    pub cases: BTreeMap<String, String>,
    pub documents_dir: PathBuf,
    pub mail_dir: PathBuf,
    pub database_url: String,
    /// The root certificate of the demo's throwaway test seal (every notice
    /// is sealed with it), for `pdfsig` and `document verify --trust`.
    pub seal_root: PathBuf,
    pub seconds: f64,
    /// Where the time went: (part, seconds).
    pub timings: Vec<(String, f64)>,
    /// The grants' money of each funding year that has any (controlling
    /// totals: approved, paid, proven, repaid).
    pub money: Vec<(i32, crate::controlling::Totals)>,
}

impl DemoSummary {
    pub fn letters(&self) -> i64 {
        self.stats.documents.iter().map(|(_, n)| n).sum()
    }

    pub fn mails_sent(&self) -> i64 {
        self.stats
            .mail
            .iter()
            .filter(|(_, s, _)| s == "sent")
            .map(|(_, _, n)| n)
            .sum()
    }

    /// The summary table printed at the end of `amtspost demo`.
    pub fn table(&self) -> String {
        let mut s = String::from("\nCases by workflow and state\n");
        for (w, st, n) in &self.stats.cases {
            s.push_str(&format!("  {w:<20} {st:<28} {n:>4}\n"));
        }
        s.push_str("Letters (PDF/A)\n");
        for (t, n) in &self.stats.documents {
            s.push_str(&format!("  {t:<49} {n:>4}\n"));
        }
        s.push_str("Mails\n");
        for (k, st, n) in &self.stats.mail {
            s.push_str(&format!("  {k:<20} {st:<28} {n:>4}\n"));
        }
        s.push_str("Deadlines\n");
        for (d, st, n) in &self.stats.deadlines {
            let label = match st.as_str() {
                "met" => "met",
                "expired" => "missed (expired)",
                "elapsed" => "ran out (notice final)",
                "open" => "still running",
                other => other,
            };
            s.push_str(&format!("  {d:<20} {label:<28} {n:>4}\n"));
        }
        if !self.money.is_empty() {
            s.push_str("Money of the grants (EUR), by funding year\n");
            s.push_str(&format!(
                "  {:<6} {:>16} {:>16} {:>16} {:>16}\n",
                "year", "approved", "paid", "proven", "to repay"
            ));
            for (year, t) in &self.money {
                s.push_str(&format!(
                    "  {year:<6} {:>16} {:>16} {:>16} {:>16}\n",
                    t.approved.german(),
                    t.paid.german(),
                    t.proven.german(),
                    t.repaid.german()
                ));
            }
        }
        s.push_str("Time\n");
        for (part, secs) in &self.timings {
            s.push_str(&format!("  {part:<49} {secs:>6.1} s\n"));
        }
        s.push_str(&format!(
            "\n{} letters, {} mails sent, in {:.1} s\nPDFs:  {}\nMails: {}\nDatabase: {}\n",
            self.letters(),
            self.mails_sent(),
            self.seconds,
            self.documents_dir.display(),
            self.mail_dir.display(),
            self.database_url
        ));
        s.push_str(&format!(
            "Siegel: „{}“, Wurzelzertifikat {}\n  prüfen: amtspost document verify --file <PDF> --trust {}\n  oder:   certutil -N -d sql:nss --empty-password && certutil -A -d sql:nss -n testsiegel -t C,, -i {} && pdfsig -nssdir sql:nss <PDF>\n",
            crate::seal::testpki::TEST_SEAL_NAME,
            self.seal_root.display(),
            self.seal_root.display(),
            self.seal_root.display(),
        ));
        s
    }
}

/// The clerk's steps the scenario schedules.
#[derive(Debug, Clone)]
enum Step {
    /// The n-th circular of `rundschreiben` (one object or a list).
    Circular(usize),
    RaaStart(String),
    RaaDone(String, NaiveDate),
    Ki(usize, KiStep),
    /// After the notice (`mittelabrufe`, one group or a list of groups, each
    /// for one grant): the waiver of appeal, each call for funds, its
    /// payout and the confirmation of its use, by (group, call).
    Waiver(usize),
    Call(usize, usize),
    Payout(usize, usize),
    Spent(usize, usize),
    /// The proof of use of a grant (`verwendungsnachweise`), by entry.
    Vn(usize, VnStep),
}

/// The steps of a proof of use, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VnStep {
    Request,
    Submit,
    Check,
    Hear,
    Propose,
    Revoke,
    Repaid,
}

/// The entries of a scenario key that is one object or a list of them.
fn entries(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KiStep {
    Open,
    Request,
    Answer,
    Propose,
    Approve,
    TryPropose,
    LastReminder,
    Hear,
    ProposeRejection,
    Reject,
    /// The Klagefrist ran out: the clerk records that the notice is final.
    Final,
}

impl KiStep {
    /// A step as demo.json's profiles name it (`schritte`).
    fn named(name: &str) -> Option<KiStep> {
        Some(match name {
            "nachfordern" => KiStep::Request,
            "unterlagen_eingegangen" => KiStep::Answer,
            "bewilligung_vorschlagen" => KiStep::Propose,
            "bewilligen" => KiStep::Approve,
            "bewilligung_vorschlagen_versuchen" => KiStep::TryPropose,
            "letzte_erinnerung" => KiStep::LastReminder,
            "anhoeren" => KiStep::Hear,
            "ablehnung_vorschlagen" => KiStep::ProposeRejection,
            "ablehnen" => KiStep::Reject,
            "bestandskraft_vermerken" => KiStep::Final,
            _ => return None,
        })
    }
}

struct Demo {
    engine: Arc<Engine>,
    courier: Arc<Courier>,
    clock: Arc<ManualClock>,
    scenario: Value,
    kommunen: Vec<Value>,
    circular: Value,
    log: Vec<LogLine>,
    progress: bool,
    /// Scenario index / municipality → file number.
    ki_cases: BTreeMap<usize, String>,
    raa_cases: BTreeMap<String, String>,
    /// (`mittelabrufe` group, call) → file number.
    calls: BTreeMap<(usize, usize), String>,
    /// `verwendungsnachweise` entry → file number.
    proofs: BTreeMap<usize, String>,
    names: BTreeMap<String, String>,
}

fn data_file(dir: &Path, name: &str) -> Result<Value, DemoError> {
    let path = dir.join("data").join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| DemoError::Data {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| DemoError::Data {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn date(v: &Value, file: &str) -> Result<NaiveDate, DemoError> {
    v.as_str()
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or_else(|| DemoError::Data {
            file: file.into(),
            reason: format!("{v} is not a date YYYY-MM-DD"),
        })
}

/// A time on a Berlin calendar day.
fn berlin(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    Berlin
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).expect("valid hour"))
        .earliest()
        .expect("07:00 and 09:00 exist every day")
        .to_utc()
}

/// The same day, or the next working day in NRW.
fn working(mut day: NaiveDate) -> NaiveDate {
    while !is_working_day(day, Region::NW) {
        day = day.succ_opt().expect("in range");
    }
    day
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Runs the whole scenario and returns what it produced.
pub async fn run(opts: DemoOptions) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let documents_dir = opts.out.join("documents");
    let mail_dir = opts.out.join("mail");
    let workflows_dir = opts.out.join("workflows");
    for d in [&documents_dir, &mail_dir, &workflows_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(io(d))?;
        }
    }
    let database_url = match &opts.database_url {
        Some(url) => url.clone(),
        None => {
            for suffix in ["", "-wal", "-shm"] {
                let f = opts.out.join(format!("amtspost.db{suffix}"));
                if f.exists() {
                    std::fs::remove_file(&f).map_err(io(&f))?;
                }
            }
            format!("sqlite://{}", opts.out.join("amtspost.db").display())
        }
    };
    std::fs::create_dir_all(&workflows_dir).map_err(io(&workflows_dir))?;
    crate::assets::WORKFLOWS
        .extract(&workflows_dir)
        .map_err(io(&workflows_dir))?;

    let absender = data_file(&workflows_dir, "absender.json")?;
    let office = |key: &str| -> Result<Office, DemoError> {
        serde_json::from_value(absender["absender"][key].clone()).map_err(|e| DemoError::Data {
            file: "absender.json".into(),
            reason: format!("{key}: {e}"),
        })
    };
    let config = Arc::new(Config {
        database_url: database_url.clone(),
        workflows_dir: workflows_dir.clone(),
        templates_dir: opts.out.join("no-custom-templates"),
        documents_dir: documents_dir.clone(),
        office: office("bezirksregierung_arnsberg_dezernat_36")?,
        role_addresses: [
            (
                "clerk".to_string(),
                "dezernat36@bra.example.org".to_string(),
            ),
            (
                "referent".to_string(),
                "geschaeftsstelle@lkt-nrw.example.org".to_string(),
            ),
        ]
        .into(),
        mail: opts.mail.clone().unwrap_or_else(|| MailConfig {
            transport: Transport::Folder,
            folder: mail_dir.clone(),
            from: "Bezirksregierung Arnsberg <amtspost@bra.example.org>".into(),
            ..MailConfig::default()
        }),
        ..Config::default()
    });
    let scenario = match opts.scenario {
        Some(s) => s,
        None => data_file(&workflows_dir, "demo.json")?,
    };
    let start = date(&scenario["start"], "demo.json")?;
    let end = date(&scenario["ende"], "demo.json")?;
    let clock = Arc::new(ManualClock::new(berlin(start, 7)));
    // No seal is configured for the demo: a throwaway test CA seals every
    // notice, so a newcomer sees (and can check) what sealed letters are.
    let pki = crate::seal::testpki::TestPki::generate(&config.office.name)?;
    let sealer = crate::seal::Sealer::with_signer(
        Arc::new(pki.signer()?),
        &crate::seal::SealConfig::default(),
    )?;
    let app = App::build_with(
        config.clone(),
        clock.clone(),
        AppOptions {
            publish: true,
            sealer: Some(Arc::new(sealer)),
            ..AppOptions::default()
        },
    )
    .await?;
    let (engine, courier) = (app.engine().clone(), app.courier().clone());
    let kommunen_file = data_file(&workflows_dir, "kommunen.json")?;
    let mut kommunen: Vec<Value> = kommunen_file["kommunen"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    kommunen.extend(
        kommunen_file["weitere_antragsteller"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );

    let mut demo = Demo {
        engine,
        courier,
        clock,
        scenario,
        kommunen,
        circular: data_file(&workflows_dir, "rundschreiben-172-12.json")?,
        log: Vec::new(),
        progress: opts.progress,
        ki_cases: BTreeMap::new(),
        raa_cases: BTreeMap::new(),
        calls: BTreeMap::new(),
        proofs: BTreeMap::new(),
        names: BTreeMap::new(),
    };
    let agenda = demo.agenda()?;

    let mut day = start;
    let mut month = 0;
    let mut timings = Timings::default();
    timings.add("Vorbereitung (Datenbank, Verfahren, Testsiegel)", started);
    while day <= end {
        if demo.progress && day.month() != month {
            month = day.month();
            eprintln!("── {} ──", day.format("%m/%Y"));
        }
        if is_working_day(day, Region::NW) {
            demo.clock.set(berlin(day, 7));
            let t = Instant::now();
            demo.reminder_pass(day).await?;
            timings.add("Fristenlauf (Erinnerungen, Fristablauf)", t);
        }
        if let Some(steps) = agenda.get(&day) {
            demo.clock.set(berlin(day, 9));
            let t = Instant::now();
            for step in steps {
                demo.step(day, step).await?;
            }
            timings.add("Schritte mit Briefen (Typst, Siegel, Journal)", t);
        }
        demo.clock.set(berlin(day, 17));
        let t = Instant::now();
        demo.courier.deliver_due().await?;
        timings.add("Mailversand", t);
        day = day.succ_opt().expect("in range");
    }

    // The letters as a person finds them: one folder per file number.
    let t = Instant::now();
    app.documents().export(&documents_dir, None).await?;
    timings.add("PDFs in Ordner schreiben", t);
    let seal_root = opts.out.join("testsiegel-wurzel-ca.pem");
    std::fs::write(&seal_root, &pki.root_pem).map_err(io(&seal_root))?;
    let t = Instant::now();
    let stats = app.stats().await?;
    let mut money = Vec::new();
    for year in start.year()..=end.year() {
        let report = demo
            .engine
            .controlling(year)
            .await
            .map_err(failed(end, "controlling"))?;
        if !report.rows.is_empty() {
            money.push((year, report.totals()));
        }
    }
    timings.add("Zählen", t);
    app.close().await;
    Ok(DemoSummary {
        stats,
        log: demo.log,
        cases: demo.names,
        documents_dir,
        mail_dir,
        database_url,
        seal_root,
        seconds: started.elapsed().as_secs_f64(),
        timings: timings.0,
        money,
    })
}

/// Seconds spent per part of the run, in the order first seen.
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    fn add(&mut self, part: &str, since: Instant) {
        let s = since.elapsed().as_secs_f64();
        match self.0.iter_mut().find(|(p, _)| p == part) {
            Some((_, total)) => *total += s,
            None => self.0.push((part.to_string(), s)),
        }
    }
}

impl Demo {
    fn note(&mut self, day: NaiveDate, case: &str, text: impl Into<String>) {
        let text = text.into();
        if self.progress {
            let who = self.names.get(case).cloned().unwrap_or_default();
            eprintln!(
                "{}  {:<16} {:<24} {}",
                day.format("%d.%m.%Y"),
                case,
                who,
                text
            );
        }
        self.log.push(LogLine {
            date: day,
            case: case.to_string(),
            text,
        });
    }

    fn kommune(&self, name: &str) -> Result<Value, DemoError> {
        self.kommunen
            .iter()
            .find(|k| k["name"] == name)
            .cloned()
            .ok_or_else(|| DemoError::Data {
                file: "kommunen.json".into(),
                reason: format!("`{name}` (named in demo.json) is not listed"),
            })
    }

    fn person(&self, key: &str) -> String {
        self.scenario["personen"][key]
            .as_str()
            .unwrap_or(key)
            .to_string()
    }

    /// A profile of demo.json: its steps, what its applications lack, its
    /// reason for a rejection.
    fn profile(&self, name: Option<&str>) -> Result<&Value, DemoError> {
        name.and_then(|n| self.scenario["profile"].get(n))
            .ok_or_else(|| DemoError::Data {
                file: "demo.json".into(),
                reason: format!("unknown profile {name:?}"),
            })
    }

    /// Every scheduled step, by day.
    fn agenda(&self) -> Result<BTreeMap<NaiveDate, Vec<Step>>, DemoError> {
        let mut agenda: BTreeMap<NaiveDate, Vec<Step>> = BTreeMap::new();
        let mut at =
            |day: NaiveDate, step: Step| agenda.entry(working(day)).or_default().push(step);
        for (i, c) in entries(&self.scenario["rundschreiben"]).iter().enumerate() {
            at(date(&c["datum"], "demo.json")?, Step::Circular(i));
        }
        let days = |d: NaiveDate, n: i64| d + chrono::Duration::days(n);
        for (i, a) in self.scenario["antraege"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let e = date(&a["eingang"], "demo.json")?;
            at(e, Step::Ki(i, KiStep::Open));
            let profile = self.profile(a["profil"].as_str())?;
            for s in profile["schritte"].as_array().into_iter().flatten() {
                let step = s["schritt"].as_str().and_then(KiStep::named);
                let (Some(offset), Some(step)) = (s["tag"].as_i64(), step) else {
                    return Err(DemoError::Data {
                        file: "demo.json".into(),
                        reason: format!(
                            "{s} is not a step {{\"tag\": <days after receipt>, \"schritt\": <step>}}"
                        ),
                    });
                };
                at(days(e, offset), Step::Ki(i, step));
            }
        }
        for (g, funds) in entries(&self.scenario["mittelabrufe"]).iter().enumerate() {
            if !funds["rechtsbehelfsverzicht"].is_null() {
                at(
                    date(&funds["rechtsbehelfsverzicht"], "demo.json")?,
                    Step::Waiver(g),
                );
            }
            for (j, c) in funds["abrufe"].as_array().into_iter().flatten().enumerate() {
                at(date(&c["eingang"], "demo.json")?, Step::Call(g, j));
                at(date(&c["auszahlung"], "demo.json")?, Step::Payout(g, j));
                if !c["verwendet_am"].is_null() {
                    at(date(&c["bestaetigt"], "demo.json")?, Step::Spent(g, j));
                }
            }
        }
        for (v, p) in entries(&self.scenario["verwendungsnachweise"])
            .iter()
            .enumerate()
        {
            for (key, step) in [
                ("angefordert", VnStep::Request),
                ("eingereicht", VnStep::Submit),
                ("geprueft", VnStep::Check),
                ("anhoerung", VnStep::Hear),
                ("widerruf_vorgeschlagen", VnStep::Propose),
                ("widerrufen", VnStep::Revoke),
                ("erstattet", VnStep::Repaid),
            ] {
                if !p[key].is_null() {
                    at(date(&p[key], "demo.json")?, Step::Vn(v, step));
                }
            }
        }
        let raa = &self.scenario["raa_umwandlung"];
        if raa.is_null() {
            return Ok(agenda);
        }
        let begun = date(&raa["eingeleitet"], "demo.json")?;
        for (name, done) in raa["abschluss"].as_object().into_iter().flatten() {
            at(begun, Step::RaaStart(name.clone()));
            if !done.is_null() {
                let d = date(done, "demo.json")?;
                at(d, Step::RaaDone(name.clone(), d));
            }
        }
        Ok(agenda)
    }

    async fn reminder_pass(&mut self, day: NaiveDate) -> Result<(), DemoError> {
        let report = self
            .engine
            .remind(false)
            .await
            .map_err(failed(day, "reminder pass"))?;
        for r in &report.reminders {
            self.note(
                day,
                &r.file_number,
                format!(
                    "reminder ({}) before {} to {}",
                    r.step, r.due_date, r.recipient
                ),
            );
        }
        for r in &report.expired {
            let text = if r.step == "elapsed" && r.deadline == "klagefrist" {
                format!(
                    "`{}` ended on {}: the notice is final",
                    r.deadline, r.due_date
                )
            } else if r.step == "elapsed" {
                format!("`{}` ended on {}", r.deadline, r.due_date)
            } else {
                format!(
                    "deadline `{}` of {} missed, escalated to {}",
                    r.deadline, r.due_date, r.recipient
                )
            };
            self.note(day, &r.file_number, text);
        }
        for o in &report.opened {
            let Some(case) = &o.file_number else {
                self.note(day, &o.linked, o.to_string());
                continue;
            };
            if let Some(who) = self.names.get(&o.linked).cloned() {
                self.names.insert(case.clone(), who);
            }
            self.note(
                day,
                case,
                format!(
                    "opened by amtspost for {}: the Bewilligungszeitraum has ended",
                    o.linked
                ),
            );
        }
        for f in &report.fired {
            let case = f.split(':').next().unwrap_or_default().to_string();
            self.note(
                day,
                &case,
                format!(
                    "on expiry: {}",
                    f.split_once(": ").map_or(f.as_str(), |x| x.1)
                ),
            );
        }
        Ok(())
    }

    async fn fire(
        &mut self,
        day: NaiveDate,
        case: &str,
        transition: &str,
        who: &str,
        role: &str,
        payload: Value,
    ) -> Result<(), DemoError> {
        self.engine
            .fire(request(case, transition, who, role, payload))
            .await
            .map_err(failed(day, format!("{case} {transition}")))?;
        Ok(())
    }

    async fn open(
        &mut self,
        day: NaiveDate,
        workflow: &str,
        data: Value,
        party: (&str, PartyRef),
        actor: Actor,
    ) -> Result<String, DemoError> {
        let label = party.1.name.clone();
        let case = self
            .engine
            .open(OpenRequest {
                workflow: workflow.into(),
                data: obj(data),
                parties: [(party.0.to_string(), party.1)].into(),
                actor,
            })
            .await
            .map_err(failed(day, format!("opening {workflow}")))?;
        self.names.insert(case.file_number.to_string(), label);
        Ok(case.file_number.to_string())
    }

    /// Fires a step the scenario expects to be refused (four-eyes rule,
    /// guards) and notes the refusal; the case stays where it was.
    async fn attempt(
        &mut self,
        day: NaiveDate,
        case: &str,
        transition: &str,
        who: &str,
        role: &str,
        payload: Value,
    ) {
        let result = self
            .engine
            .fire(request(case, transition, who, role, payload))
            .await;
        match result {
            Err(e) => self.note(day, case, format!("refused: {e}")),
            Ok(_) => self.note(
                day,
                case,
                format!("{transition} went through, although the scenario expected a refusal"),
            ),
        }
    }

    /// A case field as it stands now.
    async fn field(&self, day: NaiveDate, case: &str, name: &str) -> Result<Value, DemoError> {
        let view = self
            .engine
            .show(case)
            .await
            .map_err(failed(day, case.to_string()))?;
        Ok(view.data.get(name).cloned().unwrap_or(Value::Null))
    }

    async fn step(&mut self, day: NaiveDate, step: &Step) -> Result<(), DemoError> {
        match step {
            Step::Circular(i) => self.circular(day, *i).await,
            Step::RaaStart(name) => {
                let k = self.kommune(name)?;
                let n = self
                    .open(
                        day,
                        "raa-umwandlung",
                        json!({"kommune": name}),
                        ("kommune", party_of(&k)?),
                        Actor::new(self.person("sachbearbeitung"), "clerk"),
                    )
                    .await?;
                self.fire(
                    day,
                    &n,
                    "umwandlung_einleiten",
                    &self.person("sachbearbeitung"),
                    "clerk",
                    // Old-form funding ends before KI funding starts.
                    json!({"raa_foerderung_bis": self.scenario["raa_umwandlung"]["foerderung_alter_form_bis"]}),
                )
                .await?;
                self.note(day, &n, "RAA transition opened; deadline 31.07.2013");
                self.raa_cases.insert(name.clone(), n);
                Ok(())
            }
            Step::RaaDone(name, done) => {
                let n = self.raa_cases.get(name).cloned().unwrap_or_default();
                // The KI case of the same municipality.
                let ki = self.scenario["antraege"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .position(|a| a["kommune"] == name.as_str())
                    .and_then(|i| self.ki_cases.get(&i).cloned());
                self.fire(
                    day,
                    &n,
                    "umwandlung_abschliessen",
                    &self.person("kommune"),
                    "kommune",
                    json!({"umwandlung_datum": done.to_string(), "ki_aktenzeichen": ki}),
                )
                .await?;
                self.note(day, &n, "RAA integrated into the KI");
                Ok(())
            }
            Step::Ki(i, s) => self.ki(day, *i, *s).await,
            Step::Waiver(_) | Step::Call(..) | Step::Payout(..) | Step::Spent(..) => {
                self.funds(day, step).await
            }
            Step::Vn(v, s) => self.proof(day, *v, *s).await,
        }
    }

    /// The KI case a group of `mittelabrufe` or a proof of use is about:
    /// the application it names by index (`antrag`), or the first one of
    /// the municipality it names (`kommune`).
    fn grant_of(&self, entry: &Value) -> Result<(String, String), DemoError> {
        let antraege = self.scenario["antraege"].as_array();
        let index = match entry["antrag"].as_u64() {
            Some(i) => Some(i as usize),
            None => antraege
                .into_iter()
                .flatten()
                .position(|a| a["kommune"] == entry["kommune"]),
        };
        let found = index.and_then(|i| {
            let name = antraege?.get(i)?["kommune"].as_str()?.to_string();
            Some((self.ki_cases.get(&i)?.clone(), name))
        });
        found.ok_or_else(|| DemoError::Data {
            file: "demo.json".into(),
            reason: format!("{entry}: names no KI case opened before it"),
        })
    }

    /// The life of the money after the notice, for each group of
    /// `mittelabrufe`: the municipality may waive its right to sue (the
    /// notice is final at once), calls funds in the portal's form, the
    /// clerk checks and another person orders the payout
    /// (Auszahlungsmitteilung), and the municipality confirms the use, or
    /// does not and the call is flagged for interest after two months.
    async fn funds(&mut self, day: NaiveDate, step: &Step) -> Result<(), DemoError> {
        let g = match step {
            Step::Waiver(g) | Step::Call(g, _) | Step::Payout(g, _) | Step::Spent(g, _) => *g,
            _ => return Ok(()),
        };
        let f = entries(&self.scenario["mittelabrufe"])[g].clone();
        let (ki, name) = self.grant_of(&f)?;
        let clerk = self.person("sachbearbeitung");
        let approver = self.person("zeichnung");
        let kommune = self.person("kommune");
        let call_of = |j: usize| f["abrufe"][j].clone();
        match step {
            Step::Waiver(_) => {
                self.fire(
                    day,
                    &ki,
                    "rechtsbehelfsverzicht_erklaeren",
                    &kommune,
                    "applicant",
                    json!({"rechtsbehelfsverzicht_am": day.to_string()}),
                )
                .await?;
                self.note(
                    day,
                    &ki,
                    "waiver of appeal: the notice is final, the Klagefrist lifted",
                );
            }
            Step::Call(_, j) => {
                let c = call_of(*j);
                let k = self.kommune(&name)?;
                let mut data = json!({
                    "kommune": name,
                    "ki_aktenzeichen": ki,
                    "abruf_eingang": day.to_string(),
                    "benoetigt_am": c["benoetigt_am"],
                    "erklaerung_zwei_monate": true,
                    "iban": f["iban"],
                });
                for line in ["paedagogik", "verwaltung", "assistenz"] {
                    data[format!("betrag_{line}")] = match c["anteil"].as_array() {
                        // The k-th of n equal parts of what was approved for
                        // the line; the last part takes the cents left over.
                        Some(part) => {
                            let approved =
                                self.field(day, &ki, &format!("bewilligt_{line}")).await?;
                            json!(share(&approved, part)?)
                        }
                        None => c[line].clone(),
                    };
                }
                let n = self
                    .open(
                        day,
                        "mittelabruf",
                        data,
                        ("kommune", party_of(&k)?),
                        Actor::new(kommune.clone(), "kommune"),
                    )
                    .await?;
                self.fire(day, &n, "pruefen", &clerk, "clerk", json!({"pruefvermerk": "Sachlich und rechnerisch richtig; im Rahmen der Bewilligung."}))
                    .await?;
                self.note(day, &n, "call for funds received and checked");
                self.calls.insert((g, *j), n);
            }
            Step::Payout(_, j) => {
                let n = self.calls.get(&(g, *j)).cloned().unwrap_or_default();
                let name_of = self.person("zeichnung_name");
                if f["vier_augen_versuch"] != false {
                    self.attempt(
                        day,
                        &n,
                        "auszahlung_anordnen",
                        &clerk,
                        "approver",
                        json!({"anordnung_name": "Anna Becker"}),
                    )
                    .await;
                }
                self.fire(
                    day,
                    &n,
                    "auszahlung_anordnen",
                    &approver,
                    "approver",
                    json!({"anordnung_name": name_of}),
                )
                .await?;
                let paid = self.field(day, &n, "betrag_gesamt").await?;
                self.note(
                    day,
                    &n,
                    format!(
                        "payout of {} EUR ordered, Auszahlungsmitteilung issued",
                        paid.as_str().unwrap_or_default()
                    ),
                );
            }
            Step::Spent(_, j) => {
                let n = self.calls.get(&(g, *j)).cloned().unwrap_or_default();
                let c = call_of(*j);
                self.fire(
                    day,
                    &n,
                    "verwendung_bestaetigen",
                    &kommune,
                    "kommune",
                    json!({"verwendet_am": c["verwendet_am"]}),
                )
                .await?;
                self.note(day, &n, "use of the funds confirmed");
            }
            _ => {}
        }
        Ok(())
    }

    /// A proof of use (`verwendungsnachweise`): requested after the
    /// Bewilligungszeitraum, submitted in the portal (in time or late, all
    /// spent or less), checked with the workflow's checklist; when less was
    /// spent than paid, the hearing, the revocation under four eyes and the
    /// repayment with interest.
    async fn proof(&mut self, day: NaiveDate, v: usize, step: VnStep) -> Result<(), DemoError> {
        let p = entries(&self.scenario["verwendungsnachweise"])[v].clone();
        let (ki, name) = self.grant_of(&p)?;
        let clerk = self.person("sachbearbeitung");
        let approver = self.person("zeichnung");
        let kommune = self.person("kommune");
        let case = self.proofs.get(&v).cloned().unwrap_or_default();
        // Less spent than approved on the Verwaltungsfachkraft's line.
        let short = p["minder_verwaltung"].as_str().map(str::to_string);
        match step {
            VnStep::Request => {
                // amtspost opened it the morning after the Bewilligungszeitraum
                // ([links.ki.start]); opened here only for a scenario that
                // asks before then.
                let opened = self
                    .engine
                    .store()
                    .linked_cases("verwendungsnachweis", "ki_aktenzeichen", &ki)
                    .await
                    .map_err(|e| failed(day, ki.clone())(e.into()))?;
                let n = match opened.first() {
                    Some(case) => {
                        let n = case.file_number.to_string();
                        self.names.insert(n.clone(), name.clone());
                        n
                    }
                    None => {
                        let k = self.kommune(&name)?;
                        self.open(
                            day,
                            "verwendungsnachweis",
                            json!({"kommune": name, "ki_aktenzeichen": ki}),
                            ("kommune", party_of(&k)?),
                            Actor::new(clerk.clone(), "clerk"),
                        )
                        .await?
                    }
                };
                self.fire(day, &n, "anfordern", &clerk, "clerk", json!({}))
                    .await?;
                self.note(day, &n, "proof of use requested");
                self.proofs.insert(v, n);
            }
            VnStep::Submit => {
                let mut data = Map::new();
                for line in ["paedagogik", "verwaltung", "assistenz"] {
                    let approved = self.field(day, &ki, &format!("bewilligt_{line}")).await?;
                    let mut spent = money_of(&approved)?;
                    if line == "verwaltung" {
                        if let Some(less) = &short {
                            spent -= money_of(&json!(less))?;
                        }
                    }
                    data.insert(format!("ist_{line}"), json!(format!("{spent:.2}")));
                }
                for (key, value) in p["sachbericht"].as_object().into_iter().flatten() {
                    data.insert(key.clone(), value.clone());
                }
                self.fire(
                    day,
                    &case,
                    "einreichen",
                    &kommune,
                    "kommune",
                    Value::Object(data),
                )
                .await?;
                self.note(day, &case, "proof of use submitted");
            }
            VnStep::Check => {
                let vermerk = match &short {
                    Some(less) => format!(
                        "Stelle der Verwaltungsfachkraft zeitweise unbesetzt; Minderausgaben {less} EUR."
                    ),
                    None => "Ohne Beanstandung: Ausgaben wie bewilligt nachgewiesen, Stellen besetzt, Zweck erreicht.".into(),
                };
                self.fire(
                    day,
                    &case,
                    "pruefen",
                    &clerk,
                    "clerk",
                    json!({
                        "pruefung_fristgerecht": p["verspaetet"] != true,
                        "pruefung_rechnerisch": true,
                        "pruefung_stellen": short.is_none(),
                        "pruefung_zweck": true,
                        "pruefvermerk": vermerk,
                    }),
                )
                .await?;
                let owed = self.field(day, &case, "erstattungsbetrag").await?;
                self.note(
                    day,
                    &case,
                    format!(
                        "proof of use checked, Prüfmitteilung sent (to repay: {} EUR)",
                        owed.as_str().unwrap_or("0.00")
                    ),
                );
                if short.is_none() {
                    self.fire(day, &case, "abschliessen", &clerk, "clerk", json!({}))
                        .await?;
                }
            }
            VnStep::Hear => {
                self.fire(day, &case, "anhoeren", &clerk, "clerk", json!({}))
                    .await?;
                self.note(day, &case, "heard before the revocation (§ 28 VwVfG NRW)");
            }
            VnStep::Propose => {
                let reasons = format!(
                    "Die Stelle der Verwaltungsfachkraft war im Bewilligungszeitraum zeitweise nicht besetzt; in Höhe der Minderausgaben von {} EUR ist die Zuwendung nicht für den Zuwendungszweck verwendet worden.",
                    short.as_deref().unwrap_or("0.00")
                );
                self.fire(
                    day,
                    &case,
                    "widerruf_vorschlagen",
                    &clerk,
                    "clerk",
                    json!({"unwirksam_ab": p["unwirksam_ab"], "widerruf_gruende": reasons}),
                )
                .await?;
                self.note(day, &case, "revocation proposed");
            }
            VnStep::Revoke => {
                let signer = self.person("zeichnung_name");
                self.fire(
                    day,
                    &case,
                    "widerrufen",
                    &approver,
                    "approver",
                    json!({"zeichnung_name": signer}),
                )
                .await?;
                let interest = self.field(day, &case, "zinsen_bis_bescheid").await?;
                self.note(
                    day,
                    &case,
                    format!(
                        "Widerrufs- und Erstattungsbescheid issued (interest to date {} EUR)",
                        interest.as_str().unwrap_or("?")
                    ),
                );
            }
            VnStep::Repaid => {
                self.fire(
                    day,
                    &case,
                    "erstattung_eingegangen",
                    &clerk,
                    "clerk",
                    json!({"erstattet_am": p["erstattet_am"]}),
                )
                .await?;
                let interest = self.field(day, &case, "zinsen").await?;
                self.note(
                    day,
                    &case,
                    format!(
                        "repayment received, interest § 49a Abs. 3: {} EUR",
                        interest.as_str().unwrap_or("?")
                    ),
                );
            }
        }
        Ok(())
    }

    /// The i-th circular of `rundschreiben`: its data is the 172/12 file's
    /// with the entry's `daten` over it (subject, summary, enclosures).
    async fn circular(&mut self, day: NaiveDate, i: usize) -> Result<(), DemoError> {
        let rs = entries(&self.scenario["rundschreiben"])[i].clone();
        let referent = rs["referent"].as_str().unwrap_or("referent").to_string();
        let leitung = rs["leitung"].as_str().unwrap_or("leitung").to_string();
        // The Landkreistag numbered 171 circulars in 2012 before amtspost.
        if let Some(before) = rs["nummer_vorher"].as_i64() {
            self.engine
                .continue_numbering("rundschreiben", day.year(), before)
                .await
                .map_err(failed(day, "circular numbering"))?;
        }
        let members: Vec<Value> = self
            .kommunen
            .iter()
            .filter(|k| k["lkt_mitglied"] == true)
            .cloned()
            .collect();
        let party: PartyRef = "Mitglieder des Landkreistages Nordrhein-Westfalen"
            .parse()
            .map_err(|e: crate::domain::InvalidParty| failed(day, "circular")(e.into()))?;
        let mut data = self.circular.clone();
        for (key, value) in rs["daten"].as_object().into_iter().flatten() {
            data[key] = value.clone();
        }
        data["verteiler"] = json!(format!(
            "Mitglieder ({} Kreise und StädteRegion)",
            members.len()
        ));
        let n = self
            .open(
                day,
                "rundschreiben",
                data,
                ("mitglieder", party),
                Actor::new(&referent, "referent"),
            )
            .await?;
        self.fire(day, &n, "vorlegen", &referent, "referent", json!({}))
            .await?;
        // The author may not release it herself (four eyes).
        if rs["vier_augen_versuch"] != false {
            self.attempt(day, &n, "freigeben", &referent, "leitung", json!({}))
                .await;
        }
        self.fire(day, &n, "freigeben", &leitung, "leitung", json!({}))
            .await?;
        let number = self.field(day, &n, "rundschreiben_nr").await?;
        let number = number.as_str().unwrap_or("?").to_string();
        // The step sends it: one mail per member, by the workflow's effect.
        self.fire(day, &n, "verteilen", &referent, "referent", json!({}))
            .await?;
        let sent = self
            .engine
            .case_mail(&n)
            .await
            .map_err(failed(day, format!("{n} distribution")))?
            .iter()
            .filter(|m| m.kind == "distribution")
            .count();
        self.note(
            day,
            &n,
            format!("circular {number} released and sent to {sent} members"),
        );
        Ok(())
    }

    /// A complete application of a municipality, as its Kreistag or Rat passed it.
    fn application(&self, k: &Value, received: NaiveDate) -> Value {
        let art = k["art"].as_str().unwrap_or("Kreis");
        let gremium = match art {
            "Kreis" => "Kreistag",
            "StädteRegion" => "Städteregionstag",
            _ => "Rat",
        };
        // Kind, genitive, RAA flag and court the engine takes from
        // kommunen.json ([lookups.kommune] of the workflow).
        let mut a = json!({
            "kommune": k["name"],
            "antrag_datum": (received - chrono::Duration::days(2)).to_string(),
            "antrag_eingang": received.to_string(),
            "antrag_anlagen": ["Antragsvordruck mit Stellenplan", "Integrationskonzept"],
            "bearbeiter_name": "Anna Becker",
            "bearbeiter_zimmer": "B 204",
            "bearbeiter_telefon": "02931 82-2364",
            "bearbeiter_email": "dezernat36@bra.example.org",
            "konzept_beschluss_datum": "2012-06-26",
            "konzept_gremium": gremium,
            "konzept_abstimmung_gemeinden": art != "kreisfreie Stadt",
            "konzept_themen": ["Integration durch Bildung", "Integration als kommunale Querschnittsaufgabe"],
            "stellen_lehrkraefte": 2,
            "stellen_paedagogik": 2,
            "stellen_verwaltung": 1,
            "stellen_assistenz": 0.5,
            "leitung_profession": "sozialpädagogische Fachkraft",
            "stellvertretung_profession": "Lehrkraft",
            "kooperationspartner": ["untere Schulaufsicht", "Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände",
                if art == "kreisfreie Stadt" { "Integrationsrat" } else { "Integrationsausschuss" }],
        });
        // Further application data (demo.json).
        for (key, value) in self.scenario["antragsdaten"]
            .as_object()
            .into_iter()
            .flatten()
        {
            a[key] = value.clone();
        }
        a
    }

    async fn ki(&mut self, day: NaiveDate, i: usize, step: KiStep) -> Result<(), DemoError> {
        let a = self.scenario["antraege"][i].clone();
        let name = a["kommune"].as_str().unwrap_or_default().to_string();
        let profile = self.profile(a["profil"].as_str())?.clone();
        // What the profile's applications lack (until a Nachforderung is answered).
        let missing = profile["fehlend"].as_object().cloned().unwrap_or_default();
        let k = self.kommune(&name)?;
        let clerk = self.person("sachbearbeitung");
        let approver = self.person("zeichnung");
        let case = self.ki_cases.get(&i).cloned().unwrap_or_default();
        // The Bewilligungszeitraum: the application's, the scenario's, or 2013.
        let proposal = [
            &a["bewilligungszeitraum"],
            &self.scenario["bewilligungszeitraum"],
        ]
        .into_iter()
        .find(|p| p.is_object())
        .cloned()
        .unwrap_or_else(|| {
            json!({
                "bewilligungszeitraum_von": "2013-01-01",
                "bewilligungszeitraum_bis": "2013-12-31",
                "verwendungsnachweis_bis": "2014-06-30",
            })
        });
        match step {
            KiStep::Open => {
                let mut data = self.application(&k, day);
                for (key, value) in &missing {
                    data[key] = value.clone();
                }
                // A municipality with an RAA names its transition case.
                if let Some(raa) = self.raa_cases.get(&name) {
                    data["raa_aktenzeichen"] = json!(raa);
                }
                let n = self
                    .open(
                        day,
                        "ki-foerderantrag",
                        data,
                        ("applicant", party_of(&k)?),
                        Actor::new(self.person("eingang"), "clerk"),
                    )
                    .await?;
                self.fire(day, &n, "eingang_bestaetigen", &clerk, "clerk", json!({}))
                    .await?;
                self.note(day, &n, "application received, acknowledgement sent");
                self.ki_cases.insert(i, n);
            }
            KiStep::Request => {
                self.fire(day, &case, "nachfordern", &clerk, "clerk", json!({"fehlende_unterlagen": [
                    "Darstellung beider Schwerpunktthemen im Integrationskonzept",
                    "Nachweis der Beteiligung von unterer Schulaufsicht, Wohlfahrtsverbänden und Integrationsrat/-ausschuss",
                ]})).await?;
                let due = self
                    .engine
                    .deadlines(&case)
                    .await
                    .map_err(failed(day, case.clone()))?;
                let due = due.first().map(|d| d.due_date.clone()).unwrap_or_default();
                self.note(day, &case, format!("documents requested, deadline {due}"));
            }
            KiStep::Answer => {
                let complete = self.application(&k, day);
                let sent: Map<String, Value> = missing
                    .keys()
                    .map(|key| (key.clone(), complete[key].clone()))
                    .collect();
                self.fire(
                    day,
                    &case,
                    "unterlagen_eingegangen",
                    &clerk,
                    "clerk",
                    Value::Object(sent),
                )
                .await?;
                self.note(day, &case, "missing documents received in time");
            }
            KiStep::Propose => {
                self.fire(
                    day,
                    &case,
                    "bewilligung_vorschlagen",
                    &clerk,
                    "clerk",
                    proposal,
                )
                .await?;
                self.note(day, &case, "approval proposed");
            }
            KiStep::Approve => {
                // The proposer may not sign (four eyes); the head of unit does.
                if a["vier_augen_versuch"] == true {
                    let payload = json!({"zeichnung_name": "Anna Becker"});
                    self.attempt(day, &case, "bewilligen", &clerk, "approver", payload)
                        .await;
                }
                let signer = self.person("zeichnung_name");
                self.fire(
                    day,
                    &case,
                    "bewilligen",
                    &approver,
                    "approver",
                    json!({"zeichnung_name": signer}),
                )
                .await?;
                let nr = self.field(day, &case, "bescheid_nr").await?;
                let amount = self.field(day, &case, "foerderbetrag").await?;
                let text = format!(
                    "Zuwendungsbescheid {} issued ({:.2} EUR)",
                    nr.as_str().unwrap_or("?"),
                    amount.as_f64().unwrap_or(0.0)
                );
                self.note(day, &case, text);
            }
            KiStep::TryPropose => {
                self.attempt(
                    day,
                    &case,
                    "bewilligung_vorschlagen",
                    &clerk,
                    "clerk",
                    proposal,
                )
                .await;
            }
            KiStep::Final => {
                self.fire(
                    day,
                    &case,
                    "bestandskraft_vermerken",
                    &clerk,
                    "clerk",
                    json!({"bestandskraft_am": day.to_string(), "vermerk": "Keine Klage eingegangen."}),
                )
                .await?;
                self.note(
                    day,
                    &case,
                    "notice final: no action brought within the Klagefrist",
                );
            }
            KiStep::LastReminder => {
                self.fire(day, &case, "letzte_erinnerung", &clerk, "clerk", json!({}))
                    .await?;
                self.note(
                    day,
                    &case,
                    "last reminder sent before a decision on the file",
                );
            }
            KiStep::Hear => {
                let reasons = profile_text(&profile, &a, "anhoerungsgruende")?;
                self.fire(
                    day,
                    &case,
                    "anhoeren",
                    &clerk,
                    "clerk",
                    json!({"anhoerung_gruende": reasons}),
                )
                .await?;
                self.note(
                    day,
                    &case,
                    "heard before the intended rejection (§ 28 VwVfG NRW)",
                );
            }
            KiStep::ProposeRejection => {
                let reason = profile_text(&profile, &a, "ablehnungsgruende")?;
                let mut payload = json!({"ablehnungsgruende": reason});
                if let Some(facts) = profile["ablehnung_sachverhalt"].as_str() {
                    payload["ablehnung_sachverhalt"] = json!(facts);
                }
                self.fire(
                    day,
                    &case,
                    "ablehnung_vorschlagen",
                    &clerk,
                    "clerk",
                    payload,
                )
                .await?;
                self.note(day, &case, "rejection proposed");
            }
            KiStep::Reject => {
                let signer = self.person("zeichnung_name");
                self.fire(
                    day,
                    &case,
                    "ablehnen",
                    &approver,
                    "approver",
                    json!({"zeichnung_name": signer}),
                )
                .await?;
                self.note(day, &case, "Ablehnungsbescheid issued");
                // Without a KI there is nothing to convert: the RAA's
                // transition deadline is lifted (no more reminders).
                if let Some(raa) = self.raa_cases.get(&name).cloned() {
                    let vermerk = format!(
                        "KI-Antrag {case} abgelehnt; keine Umwandlung in ein Kommunales Integrationszentrum."
                    );
                    self.fire(
                        day,
                        &raa,
                        "umwandlung_entfaellt",
                        &clerk,
                        "clerk",
                        json!({"vermerk": vermerk}),
                    )
                    .await?;
                    self.note(
                        day,
                        &raa,
                        "RAA transition cancelled: the KI application was refused",
                    );
                }
            }
        }
        Ok(())
    }
}

/// A text a profile of demo.json must give for one of its steps.
fn profile_text<'a>(profile: &'a Value, a: &Value, key: &str) -> Result<&'a str, DemoError> {
    profile[key].as_str().ok_or_else(|| DemoError::Data {
        file: "demo.json".into(),
        reason: format!("profile {} has a step that needs `{key}`", a["profil"]),
    })
}

/// An amount of a case field or a scenario entry, exactly.
fn money_of(v: &Value) -> Result<rust_decimal::Decimal, DemoError> {
    crate::money::Money::from_json(v)
        .map(|m| m.decimal())
        .map_err(|e| DemoError::Data {
            file: "demo.json".into(),
            reason: format!("{v} is not an amount: {e}"),
        })
}

/// The k-th of n equal parts of an approved amount, cut to the cent; the
/// n-th part takes what is left, so the parts add up to the amount exactly.
fn share(approved: &Value, part: &[Value]) -> Result<String, DemoError> {
    let total = money_of(approved)?;
    let (Some(k), Some(n)) = (
        part.first().and_then(Value::as_u64),
        part.get(1).and_then(Value::as_u64),
    ) else {
        return Err(DemoError::Data {
            file: "demo.json".into(),
            reason: format!("anteil {part:?} is not [k, n]"),
        });
    };
    let n = n.max(1);
    let each = (total / rust_decimal::Decimal::from(n))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    let amount = if k >= n {
        total - each * rust_decimal::Decimal::from(n - 1)
    } else {
        each
    };
    Ok(format!("{amount:.2}"))
}

/// Turns a refused scenario step into a demo error naming the day and step.
fn failed(date: NaiveDate, what: impl Into<String>) -> impl FnOnce(CaseError) -> DemoError {
    let what = what.into();
    move |source| DemoError::Step { date, what, source }
}

fn party_of(k: &Value) -> Result<PartyRef, DemoError> {
    serde_json::from_value(json!({"name": k["name"], "email": k["email"], "address": k["address"]}))
        .map_err(|e| DemoError::Data {
            file: "kommunen.json".into(),
            reason: format!("{}: {e}", k["name"]),
        })
}

/// The request a scenario step fires.
fn request(case: &str, transition: &str, who: &str, role: &str, payload: Value) -> FireRequest {
    FireRequest {
        file_number: case.into(),
        transition: transition.into(),
        actor: Actor::new(who, role),
        payload: obj(payload),
        expected_version: None,
    }
}
