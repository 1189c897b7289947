//! The demo: the procedure of the seed circular end to end, in simulated time
//! from 19.03.2012 to 31.08.2013, on a fresh database with mail written to a
//! folder. Circular 172/12 to all members of the Landkreistag; a dozen
//! applications for Kommunale Integrationszentren (complete, incomplete and
//! answered after a Nachforderung, one that never answers, one without an
//! Integrationskonzept) with reviews, four-eyes approvals and notices; the
//! RAA transition with reminders before 31.07.2013 and escalations after it.
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
    Circular,
    RaaStart(String),
    RaaDone(String, NaiveDate),
    Ki(usize, KiStep),
    /// After the notice (demo.json `mittelabrufe`): the waiver of appeal,
    /// each call for funds, its payout and the confirmation of its use.
    Waiver,
    Call(usize),
    Payout(usize),
    Spent(usize),
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
    /// demo.json `mittelabrufe` index → file number.
    calls: BTreeMap<usize, String>,
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
        mail: MailConfig {
            transport: Transport::Folder,
            folder: mail_dir.clone(),
            from: "Bezirksregierung Arnsberg <amtspost@bra.example.org>".into(),
            ..MailConfig::default()
        },
        ..Config::default()
    });
    let scenario = data_file(&workflows_dir, "demo.json")?;
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
        names: BTreeMap::new(),
    };
    let agenda = demo.agenda()?;

    let mut day = start;
    let mut month = 0;
    while day <= end {
        if demo.progress && day.month() != month {
            month = day.month();
            eprintln!("── {} ──", day.format("%m/%Y"));
        }
        if is_working_day(day, Region::NW) {
            demo.clock.set(berlin(day, 7));
            demo.reminder_pass(day).await?;
        }
        if let Some(steps) = agenda.get(&day) {
            demo.clock.set(berlin(day, 9));
            for step in steps {
                demo.step(day, step).await?;
            }
        }
        demo.clock.set(berlin(day, 17));
        demo.courier.deliver_due().await?;
        day = day.succ_opt().expect("in range");
    }

    // The letters as a person finds them: one folder per file number.
    app.documents().export(&documents_dir, None).await?;
    let seal_root = opts.out.join("testsiegel-wurzel-ca.pem");
    std::fs::write(&seal_root, &pki.root_pem).map_err(io(&seal_root))?;
    let stats = app.stats().await?;
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
    })
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
        at(
            date(&self.scenario["rundschreiben"]["datum"], "demo.json")?,
            Step::Circular,
        );
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
        let funds = &self.scenario["mittelabrufe"];
        if !funds.is_null() {
            at(
                date(&funds["rechtsbehelfsverzicht"], "demo.json")?,
                Step::Waiver,
            );
            for (j, c) in funds["abrufe"].as_array().into_iter().flatten().enumerate() {
                at(date(&c["eingang"], "demo.json")?, Step::Call(j));
                at(date(&c["auszahlung"], "demo.json")?, Step::Payout(j));
                if !c["verwendet_am"].is_null() {
                    at(date(&c["bestaetigt"], "demo.json")?, Step::Spent(j));
                }
            }
        }
        let raa = &self.scenario["raa_umwandlung"];
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
            let text = if r.step == "elapsed" {
                format!(
                    "`{}` ended on {}: the notice is final",
                    r.deadline, r.due_date
                )
            } else {
                format!(
                    "deadline `{}` of {} missed, escalated to {}",
                    r.deadline, r.due_date, r.recipient
                )
            };
            self.note(day, &r.file_number, text);
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
            Step::Circular => self.circular(day).await,
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
            Step::Waiver | Step::Call(_) | Step::Payout(_) | Step::Spent(_) => {
                self.funds(day, step).await
            }
        }
    }

    /// The life of the money after the notice, for the municipality named
    /// in demo.json `mittelabrufe`: it waives its right to sue (the notice
    /// is final at once), calls funds in the portal's form, the clerk checks
    /// and another person orders the payout (Auszahlungsmitteilung), and
    /// the municipality confirms the use, or does not and the call is
    /// flagged for interest after two months.
    async fn funds(&mut self, day: NaiveDate, step: &Step) -> Result<(), DemoError> {
        let f = self.scenario["mittelabrufe"].clone();
        let name = f["kommune"].as_str().unwrap_or_default().to_string();
        let ki = self.scenario["antraege"]
            .as_array()
            .into_iter()
            .flatten()
            .position(|a| a["kommune"] == name.as_str())
            .and_then(|i| self.ki_cases.get(&i).cloned())
            .ok_or_else(|| DemoError::Data {
                file: "demo.json".into(),
                reason: format!("mittelabrufe: no KI case of {name}"),
            })?;
        let clerk = self.person("sachbearbeitung");
        let approver = self.person("zeichnung");
        let kommune = self.person("kommune");
        let call_of = |j: usize| f["abrufe"][j].clone();
        match step {
            Step::Waiver => {
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
            Step::Call(j) => {
                let c = call_of(*j);
                let k = self.kommune(&name)?;
                let n = self
                    .open(
                        day,
                        "mittelabruf",
                        json!({
                            "kommune": name,
                            "ki_aktenzeichen": ki,
                            "abruf_eingang": day.to_string(),
                            "betrag_paedagogik": c["paedagogik"],
                            "betrag_verwaltung": c["verwaltung"],
                            "betrag_assistenz": c["assistenz"],
                            "benoetigt_am": c["benoetigt_am"],
                            "erklaerung_zwei_monate": true,
                            "iban": f["iban"],
                        }),
                        ("kommune", party_of(&k)?),
                        Actor::new(kommune.clone(), "kommune"),
                    )
                    .await?;
                self.fire(day, &n, "pruefen", &clerk, "clerk", json!({"pruefvermerk": "Sachlich und rechnerisch richtig; im Rahmen der Bewilligung."}))
                    .await?;
                self.note(day, &n, "call for funds received and checked");
                self.calls.insert(*j, n);
            }
            Step::Payout(j) => {
                let n = self.calls.get(j).cloned().unwrap_or_default();
                let name_of = self.person("zeichnung_name");
                self.attempt(
                    day,
                    &n,
                    "auszahlung_anordnen",
                    &clerk,
                    "approver",
                    json!({"anordnung_name": "Anna Becker"}),
                )
                .await;
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
            Step::Spent(j) => {
                let n = self.calls.get(j).cloned().unwrap_or_default();
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

    async fn circular(&mut self, day: NaiveDate) -> Result<(), DemoError> {
        let rs = &self.scenario["rundschreiben"];
        let before = rs["nummer_vorher"].as_i64().unwrap_or(0);
        let referent = rs["referent"].as_str().unwrap_or("referent").to_string();
        let leitung = rs["leitung"].as_str().unwrap_or("leitung").to_string();
        // The Landkreistag numbered 171 circulars in 2012 before amtspost.
        self.engine
            .continue_numbering("rundschreiben", day.year(), before)
            .await
            .map_err(failed(day, "circular numbering"))?;
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
        self.attempt(day, &n, "freigeben", &referent, "leitung", json!({}))
            .await;
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
        let proposal = json!({
            "bewilligungszeitraum_von": "2013-01-01",
            "bewilligungszeitraum_bis": "2013-12-31",
            "verwendungsnachweis_bis": "2014-06-30",
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
