//! The composition root: [`App::build`] wires the store, the workflow
//! catalogue, the letter engine, the mail templates, the documents, the case
//! engine and the mail courier from a configuration and a clock, once. The
//! CLI, the demo, the tests and the benchmarks all go through it; nothing
//! else constructs an engine.
//!
//! [`App::run_until_stopped`] runs the long-lived parts (the reminder job
//! and the courier) under one cancellation token: when shutdown comes, or
//! one part fails, every part stops, and a failure names its part.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::akte::{AkteError, CaseFile};
use crate::case::{CaseError, Engine};
use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;
use crate::config::Config;
use crate::document::{DocumentError, Documents};
use crate::identity::Identity;
use crate::letter::{LetterEngine, LetterError};
use crate::mail::{MailError, MailTemplates};
use crate::municipalities::{Directory, DirectoryError};
use crate::outbox::{Courier, OutboxError};
use crate::store::{Stats, Store, StoreError};

/// Why the application could not start, or a long-lived part stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The letter templates folder is unusable.
    #[error(transparent)]
    Letters(#[from] LetterError),
    /// The mail templates folder is unusable.
    #[error(transparent)]
    MailTemplates(MailError),
    /// The workflow files have problems (each with file:line:column).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mail configuration is unusable.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Stored documents could not be imported.
    #[error(transparent)]
    Documents(#[from] DocumentError),
    /// The `[seal]` configuration is unusable (key file, password, service).
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// `workflows/data/kommunen.json` is unreadable.
    #[error(transparent)]
    Municipalities(#[from] DirectoryError),
    /// Publishing workflow versions failed.
    #[error(transparent)]
    Case(#[from] CaseError),
    /// A long-lived part stopped with an error; the others were stopped too.
    #[error("{part} stopped: {source}")]
    Part {
        part: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Choices a door makes when it builds the application.
#[derive(Default)]
pub struct AppOptions {
    /// Publish every workflow version at start-up (servers, `init`, the
    /// demo). Without it, a workflow's version is published when the first
    /// case is opened on it, and read-only commands write nothing.
    pub publish: bool,
    /// A letter engine to use instead of the configured templates (tests
    /// and benchmarks with templates of their own).
    pub letters: Option<Arc<LetterEngine>>,
    /// A sealer to use instead of the configured `[seal]` (the demo's
    /// throwaway test seal).
    pub sealer: Option<Arc<crate::seal::Sealer>>,
}

/// The application: every service, built once.
#[derive(Clone)]
pub struct App {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    store: Store,
    engine: Arc<Engine>,
    courier: Arc<Courier>,
    documents: Documents,
    identity: Identity,
    municipalities: Arc<Directory>,
    /// The roots seals are checked against (`[seal] trust_anchors`, DER).
    seal_anchors: Arc<Vec<Vec<u8>>>,
}

impl App {
    /// Builds the application from the configuration, publishing nothing.
    pub async fn build(config: Arc<Config>, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        Self::build_with(config, clock, AppOptions::default()).await
    }

    /// Builds the application with the door's choices.
    pub async fn build_with(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        options: AppOptions,
    ) -> Result<App, AppError> {
        let letters = match options.letters {
            Some(l) => l,
            None => letter_engine(&config)?,
        };
        let catalog = Arc::new(catalog(&config, &letters)?);
        let mail_templates = Arc::new(mail_templates(&config)?);
        let store = Store::connect(&config.database_url).await?;
        let documents = Documents::new(store.clone());
        // A database from before documents moved into it: bring the PDFs in.
        if config.documents_dir.is_dir() {
            documents.import_files(&config.documents_dir).await?;
        }
        let sealer = match options.sealer {
            Some(s) => Some(s),
            None => crate::seal::Sealer::from_config(&config.seal)?.map(Arc::new),
        };
        let engine = Arc::new(Engine::new(
            store.clone(),
            catalog,
            clock.clone(),
            config.clone(),
            letters,
            mail_templates,
            sealer,
        ));
        let courier = Arc::new(Courier::new(
            store.clone(),
            &config.mail,
            documents.clone(),
            clock.clone(),
        )?);
        let identity = Identity::new(store.clone(), clock.clone(), config.web.clone());
        let municipalities = Arc::new(Directory::load(&config.workflows_dir)?);
        let seal_anchors = Arc::new(crate::seal::load_certificates(&config.seal.trust_anchors)?);
        let app = App {
            config,
            clock,
            store,
            engine,
            courier,
            documents,
            identity,
            municipalities,
            seal_anchors,
        };
        if options.publish {
            app.publish().await?;
        }
        Ok(app)
    }

    /// Records every current workflow version in the store.
    pub async fn publish(&self) -> Result<(), CaseError> {
        self.engine.publish_all().await
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn courier(&self) -> &Arc<Courier> {
        &self.courier
    }

    /// A courier over the same outbox and documents that sends through
    /// another mail configuration (e.g. a test's SMTP server).
    pub fn courier_for(&self, mail: &crate::mail::MailConfig) -> Result<Courier, OutboxError> {
        Courier::new(
            self.store.clone(),
            mail,
            self.documents.clone(),
            self.clock.clone(),
        )
    }

    /// The municipalities of `workflows/data/kommunen.json`.
    pub fn municipalities(&self) -> &Directory {
        &self.municipalities
    }

    /// Users, tokens and sessions.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Every role a workflow declares, plus `admin` and `municipality`:
    /// the roles a user can be given.
    pub fn known_roles(&self) -> Vec<String> {
        let mut roles: BTreeSet<String> = [
            crate::identity::ADMIN,
            crate::identity::MUNICIPALITY,
            crate::identity::LEAD,
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for (_, def) in self.catalog().definitions() {
            roles.extend(
                def.roles
                    .keys()
                    .filter(|r| r.as_str() != crate::workflow::SYSTEM)
                    .cloned(),
            );
        }
        roles.into_iter().collect()
    }

    /// True if the database answers (for `/readyz`).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Queues a report of a barrier for the office (see [`crate::feedback`]).
    pub async fn report_barrier(
        &self,
        report: &crate::feedback::Report,
    ) -> Result<(), crate::feedback::FeedbackError> {
        crate::feedback::queue(
            &self.store,
            &self.engine,
            &self.config,
            self.clock.as_ref(),
            report,
        )
        .await
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The seals of a stored document, each checked against the configured
    /// trust anchors now (for the Fallseite and the portal); none if unsealed.
    pub async fn seals(
        &self,
        sha256: &str,
    ) -> Result<Vec<crate::seal::verify::SealReport>, DocumentError> {
        let bytes = self.documents.bytes(sha256).await?;
        let anchors = self.seal_anchors.clone();
        tokio::task::spawn_blocking(move || crate::seal::verify::verify_pdf(&bytes, &anchors))
            .await
            .map_err(|e| DocumentError::Seal(e.to_string()))
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn catalog(&self) -> &Catalog {
        self.engine.catalog()
    }

    pub fn letters(&self) -> &Arc<LetterEngine> {
        self.engine.letters()
    }

    /// Counts for an overview (cases by state, mail by status, documents).
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.store.stats().await
    }

    /// A scheduled pass's last scheduled time and how often it ran (on
    /// any instance), e.g. `"reminders"`.
    pub async fn pass_record(&self, pass: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.store.pass_record(pass).await
    }

    /// The Akte of a case: a zip archive with its data, journal, deadlines,
    /// letters, uploads, workflow version and a manifest of hashes.
    pub async fn export_case(&self, file_number: &str) -> Result<Vec<u8>, AkteError> {
        let file = self
            .store
            .case_file(file_number)
            .await?
            .ok_or_else(|| AkteError::NotFound(file_number.into()))?;
        crate::akte::write(&file, &crate::journal::timestamp(self.clock.now()))
    }

    /// A case as an xdomea message (0401 to another authority, 0503 to
    /// the archive), from this office to `recipient`.
    pub async fn export_xdomea(
        &self,
        file_number: &str,
        message: crate::xdomea::Message,
        recipient: &str,
    ) -> Result<crate::xdomea::Package, crate::xdomea::XdomeaError> {
        let file = self
            .store
            .case_file(file_number)
            .await?
            .ok_or_else(|| crate::xdomea::XdomeaError::NotFound(file_number.into()))?;
        let def = self
            .catalog()
            .version(
                &self.store,
                &file.case.workflow_id,
                file.case.workflow_version,
            )
            .await?;
        let header = crate::xdomea::Header {
            sender: self.config.office.name.clone(),
            recipient: recipient.into(),
            created_at: crate::journal::timestamp(self.clock.now()),
        };
        crate::xdomea::package(&file, &def, message, &header)
    }

    /// The file numbers of the cases closed (in a final state) and last
    /// changed before `before` (a date: its start in UTC).
    pub async fn closed_cases_before(
        &self,
        before: chrono::NaiveDate,
    ) -> Result<Vec<String>, crate::xdomea::XdomeaError> {
        let mut out = Vec::new();
        for (number, workflow, version, state) in
            self.store.cases_changed_before(&before.to_string()).await?
        {
            let def = self
                .catalog()
                .version(&self.store, &workflow, version)
                .await?;
            if def.state(&state).is_some_and(|s| s.is_final) {
                out.push(number);
            }
        }
        Ok(out)
    }

    /// Verifies an Akte (`name` is its file name, for the messages) and
    /// stores the case: all of it, or, when anything is broken or refused,
    /// nothing. Registers move on past the imported numbers.
    pub async fn import_case(&self, bytes: &[u8], name: &str) -> Result<CaseFile, AkteError> {
        let file = crate::akte::read(bytes, name)?;
        let def = self
            .catalog()
            .parse(&file.definition.path, &file.definition.source)
            .map_err(|e| AkteError::Broken {
                file: name.into(),
                item: "verfahren.toml".into(),
                reason: format!("the enclosed workflow version does not load here: {e}"),
            })?;
        crate::akte::verify_replay(&file, &def, self.config.region, name)?;
        let numbers = self.imported_numbers(&file);
        self.store.import_case_file(&file, &numbers).await?;
        Ok(file)
    }

    /// The register values an imported case used (its file number, and the
    /// numbers its journal allocated), where the workflow is known here.
    fn imported_numbers(&self, file: &CaseFile) -> Vec<(String, i32, i64)> {
        use chrono::Datelike;
        let Ok(def) = self.catalog().current(&file.case.workflow_id) else {
            return Vec::new();
        };
        let years = |at: &str| -> Vec<i32> {
            chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| {
                    let y = t.with_timezone(&chrono_tz::Europe::Berlin).year();
                    vec![y, y - 1, y + 1]
                })
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        let mut push =
            |pattern: &crate::numbering::NumberPattern, register: &str, at: &str, number: &str| {
                if let Some((year, seq)) = years(at)
                    .into_iter()
                    .find_map(|y| pattern.seq_of(register, y, number).map(|s| (y, s)))
                {
                    out.push((register.to_string(), year, seq));
                }
            };
        push(
            &self.config.case_number_pattern,
            &def.register,
            &file.case.opened_at,
            &file.case.file_number,
        );
        for e in file
            .journal
            .iter()
            .filter(|e| e.kind == crate::journal::EventKind::NumberAllocated)
        {
            let (Some(register), Some(number)) =
                (e.payload["register"].as_str(), e.payload["number"].as_str())
            else {
                continue;
            };
            let pattern = match self.config.registers.get(register) {
                Some(p) => p,
                None => match def.registers.get(register) {
                    Some(r) => &r.pattern,
                    None => continue,
                },
            };
            push(pattern, register, &e.recorded_at, number);
        }
        out
    }

    /// A consistent copy of the SQLite database in `file`, taken while it
    /// is in use; PostgreSQL is refused with the way to back it up.
    pub async fn backup_to(&self, file: &std::path::Path) -> Result<(), StoreError> {
        self.store.backup_to(file).await
    }

    /// Closes the database connections, waiting for those in use.
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Runs the reminder job and the courier on their schedules until
    /// `shutdown` resolves or one of them fails; the job in hand is finished
    /// first. The error names the part that failed.
    pub async fn run_until_stopped(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AppError> {
        self.run_with_http(None, shutdown).await
    }

    /// [`App::run_until_stopped`] with the HTTP server on `listener` as a
    /// third part (`amtspost serve`).
    pub async fn run_with_http(
        &self,
        listener: Option<tokio::net::TcpListener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AppError> {
        // SQLite: one server per database file (held until this returns).
        let _server_lock = self.store.server_lock()?;
        let stop = CancellationToken::new();
        let mut parts = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();

        if let Some(listener) = listener {
            let (app, token) = (self.clone(), stop.clone());
            let h = parts.spawn(async move {
                let r = crate::http::serve(app, listener, token)
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
                ("http", r)
            });
            names.insert(h.id(), "http");
        }

        let (engine, courier) = (self.engine.clone(), self.courier.clone());
        let (expr, clock, token) = (
            self.config.scheduler.reminders.clone(),
            self.clock.clone(),
            stop.clone(),
        );
        let h = parts.spawn(async move {
            let stopping = token.clone();
            let job = |at| {
                let (engine, courier, stopping) =
                    (engine.clone(), courier.clone(), stopping.clone());
                async move { reminder_pass(&engine, &courier, at, &stopping).await }
            };
            let r = crate::scheduler::run_cron("reminders", &expr, clock, token, true, job).await;
            ("reminders", r.map_err(boxed))
        });
        names.insert(h.id(), "reminders");

        let courier = self.courier.clone();
        let (expr, clock, token) = (
            self.config.scheduler.deliver.clone(),
            self.clock.clone(),
            stop.clone(),
        );
        let h = parts.spawn(async move {
            let stopping = token.clone();
            let job = |_| {
                let (courier, stopping) = (courier.clone(), stopping.clone());
                async move { delivery_job(&courier, &stopping).await }
            };
            // Catching up means: a server that starts sends what is due at
            // once (mail left by a crash), not at the next tick.
            let r = crate::scheduler::run_cron("deliver", &expr, clock, token, true, job).await;
            ("courier", r.map_err(boxed))
        });
        names.insert(h.id(), "courier");

        // On PostgreSQL, mail queued by any instance wakes this courier at
        // once; the schedule above still sends retries whose time has come.
        let (courier, store, token) = (self.courier.clone(), self.store.clone(), stop.clone());
        let h = parts.spawn(async move {
            let r = wake_on_queued_mail(&courier, &store, token).await;
            ("mail listener", r.map_err(boxed))
        });
        names.insert(h.id(), "mail listener");

        tokio::pin!(shutdown);
        let mut failure: Option<AppError> = None;
        loop {
            tokio::select! {
                _ = &mut shutdown, if !stop.is_cancelled() => stop.cancel(),
                done = parts.join_next_with_id() => {
                    let Some(done) = done else { break };
                    let (part, result): (&'static str, Result<(), BoxError>) = match done {
                        Ok((_, r)) => r,
                        // A part that panicked: name it all the same.
                        Err(e) => (names.get(&e.id()).copied().unwrap_or("a part"), Err(boxed(e))),
                    };
                    if let Err(source) = result
                        && failure.is_none()
                    {
                        failure = Some(AppError::Part { part, source });
                    }
                    // One part ending (failed or not) ends the others.
                    stop.cancel();
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> BoxError {
    Box::new(e)
}

/// The 07:00 job: the reminder pass, then the mail it queued goes out.
/// The reminder pass for its scheduled time `at`, on one instance at a
/// time: skipped while another instance holds it, and when the time was
/// already done (by another instance, or before a restart).
async fn reminder_pass(
    engine: &Engine,
    courier: &Courier,
    at: chrono::DateTime<chrono::Utc>,
    stop: &CancellationToken,
) {
    const PASS: &str = "reminders";
    let store = engine.store();
    let lock = match store.try_pass_lock(PASS).await {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::info!("another instance runs the reminder pass");
            return;
        }
        Err(e) => {
            eprintln!("error: reminder pass: {e}");
            return;
        }
    };
    let at = crate::journal::timestamp(at);
    match store.last_pass(PASS).await {
        Ok(Some(done)) if done >= at => {}
        Ok(_) => {
            reminder_job(engine, courier, stop).await;
            if let Err(e) = store.record_pass(PASS, &at).await {
                eprintln!("error: reminder pass: {e}");
            }
        }
        Err(e) => eprintln!("error: reminder pass: {e}"),
    }
    if let Err(e) = lock.release().await {
        eprintln!("error: reminder pass: {e}");
    }
}

/// Sends queued mail as soon as PostgreSQL announces it, until `stop`.
async fn wake_on_queued_mail(
    courier: &Courier,
    store: &Store,
    stop: CancellationToken,
) -> Result<(), crate::store::StoreError> {
    let Some(mut listener) = store.outbox_listener().await? else {
        // SQLite: one server, nothing to listen for; this part just waits.
        stop.cancelled().await;
        return Ok(());
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            n = listener.recv() => {
                if let Err(e) = n {
                    // The connection dropped: PgListener reconnects on the next recv.
                    tracing::warn!(error = %e, "mail listener");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                delivery_job(courier, &stop).await;
            }
        }
    }
}

async fn reminder_job(engine: &Engine, courier: &Courier, stop: &CancellationToken) {
    match engine.remind(false).await {
        Ok(r) => eprintln!(
            "reminders: {} queued, {} expired, {} passed over",
            r.reminders.len(),
            r.expired.len(),
            r.passed_over
        ),
        Err(e) => eprintln!("error: reminder pass: {e}"),
    }
    delivery_job(courier, stop).await;
}

/// The courier's job: send what is due, until the server stops.
async fn delivery_job(courier: &Courier, stop: &CancellationToken) {
    match courier.deliver_due_until(stop).await {
        Ok(r) if r.sent + r.failed + r.retrying + r.released > 0 => eprintln!(
            "mail: {} sent, {} to retry, {} failed, {} given back to the queue",
            r.sent, r.retrying, r.failed, r.released
        ),
        Ok(_) => {}
        Err(e) => eprintln!("error: mail delivery: {e}"),
    }
}

/// The letter templates: the configured folder if it exists, else the
/// built-in ones.
pub fn letter_engine(config: &Config) -> Result<Arc<LetterEngine>, LetterError> {
    Ok(Arc::new(if config.templates_dir.is_dir() {
        LetterEngine::from_dir(&config.templates_dir)?
    } else {
        LetterEngine::embedded()
    }))
}

/// The workflows of the configured folder, validated against the letter
/// templates; the built-in ones in a folder without `workflows/`.
pub fn catalog(config: &Config, letters: &LetterEngine) -> Result<Catalog, CatalogError> {
    let templates: BTreeSet<String> = letters.templates().into_iter().collect();
    let dir = &config.workflows_dir;
    if dir.exists() {
        Catalog::load(std::slice::from_ref(dir), templates)
    } else {
        Catalog::embedded(templates)
    }
}

/// The mail templates: the built-in ones, with those of
/// `<templates_dir>/mail` replacing them by name.
fn mail_templates(config: &Config) -> Result<MailTemplates, AppError> {
    let dir = config.templates_dir.join("mail");
    if dir.is_dir() {
        MailTemplates::from_dir(&dir).map_err(AppError::MailTemplates)
    } else {
        Ok(MailTemplates::embedded())
    }
}
