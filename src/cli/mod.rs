//! The `amtspost` command line. Each subcommand lives in a module of the same
//! name; this one parses arguments, builds the context and reports errors.
//!
//! Exit codes: 0 success; 1 refused or failed (the message says why);
//! 2 bad usage; 3 the case was changed by someone else (reload and retry).

mod audit;
mod backup;
mod case;
mod config;
mod deadline;
pub mod demo;
mod document;
mod export;
mod init;
mod interest;
mod letter;
mod outbox;
mod remind;
mod report;
mod serve;
pub mod simulate;
mod user;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::app::{App, AppError, AppOptions};
use crate::case::CaseError;
use crate::catalog::{Catalog, CatalogError};
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::letter::LetterEngine;
use crate::workflow::Diagnostic;

/// amtspost: approval correspondence as declared workflows, with letters,
/// deadlines and an audit journal.
#[derive(Debug, Parser)]
#[command(name = "amtspost", version, propagate_version = true)]
pub struct Cli {
    /// Config file [default: ./amtspost.toml if present]
    #[arg(long, global = true, env = "AMTSPOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    /// Act as if it were this time (RFC 3339, or a date meaning 09:00 Berlin time): for simulations and tests
    #[arg(long, global = true, env = "AMTSPOST_NOW", value_name = "DATETIME")]
    now: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the seed procedure end to end in simulated time (19.03.2012-31.08.2014)
    Demo(demo::Args),
    /// Simulate a funding year of a whole Dezernat (applications, notices, calls for funds, proofs of use, recovery, circulars)
    ///
    /// Plays, in simulated time from the application round in autumn of the
    /// year before to October of the year after, what the demo plays for a
    /// dozen applications: for every application of `--applications`, spread
    /// over the first `--municipalities` of kommunen.json. Every letter is
    /// rendered and every mail written (to DIR/mail); prints counts by state,
    /// the money by status, letters, mails, deadlines met and missed, and
    /// where the time went. The same --seed gives the same year.
    ///
    /// Example: amtspost simulate --year 2013 --out out/sim --applications 200
    Simulate(simulate::Args),
    /// Create amtspost.toml, workflows/ and the database in the current folder
    Init(init::Args),
    /// Check the configuration: rates by year, their sources, unconfirmed figures
    #[command(subcommand)]
    Config(config::Command),
    /// Check, list, show and draw workflow definitions
    #[command(subcommand)]
    Workflow(workflow::Command),
    /// Open cases, fire transitions, show and list cases
    #[command(subcommand)]
    Case(case::Command),
    /// Verify the journal's hash chains
    #[command(subcommand)]
    Audit(audit::Command),
    /// Copy the SQLite database to a file while it is in use (for PostgreSQL: pg_dump, see the README)
    Backup(backup::Args),
    /// Compute legal deadlines and list public holidays
    #[command(subcommand)]
    Deadline(deadline::Command),
    /// Zinsen nach § 49a Abs. 3 VwVfG NRW berechnen: je Zeitraum des Basiszinssatzes und insgesamt
    ///
    /// Prozentpunkte (--points, Vorgabe 5) über dem Basiszinssatz (§ 247 BGB)
    /// jährlich, aufgeteilt an jedem Wechsel des Basiszinssatzes (1. Januar,
    /// 1. Juli). Erster und letzter Tag zählen mit; Zinsen je Zeitraum =
    /// Betrag × Zinssatz × Tage / 365 (auch im Schaltjahr), kaufmännisch auf
    /// den Cent gerundet; die Summe ist die Summe der gerundeten Zeiträume.
    /// Der Basiszinssatz kommt aus workflows/data/basiszinssatz.json (Quelle:
    /// Deutsche Bundesbank; eingebaut, wenn der Ordner die Datei nicht hat).
    ///
    /// Beispiel: amtspost interest --amount 10000.00 --from 2013-01-01 --to 2013-12-31 --json
    Interest(interest::Args),
    /// Preview letters from templates
    #[command(subcommand)]
    Letter(letter::Command),
    /// Reports over the cases, e.g. the Förderprogrammcontrolling of a year
    #[command(subcommand)]
    Report(report::Command),
    /// Write a file for another system from the cases of one day (e.g. payout orders for the treasury)
    ///
    /// Example: amtspost export auszahlungsanordnung --date 2013-02-01 -o kasse.csv
    Export(export::Args),
    /// Check issued documents against their hashes
    #[command(subcommand)]
    Document(document::Command),
    /// Run the reminder pass (reminders, expiry, escalation) and send the mail
    #[command(subcommand)]
    Remind(remind::Command),
    /// Queued, sent and failed mail
    #[command(subcommand)]
    Outbox(outbox::Command),
    /// Run the HTTP server (API and web UI) and the scheduled jobs until stopped
    Serve(serve::Args),
    /// Users of the web UI and the API: add, list, disable, tokens
    #[command(subcommand)]
    User(user::Command),
}

/// What every subcommand gets.
pub(crate) struct Ctx {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub json: bool,
}

impl Ctx {
    /// The application, publishing nothing (read-only commands write nothing).
    pub async fn app(&self) -> Result<App> {
        Ok(App::build(self.config.clone(), self.clock.clone()).await?)
    }

    /// The application with every workflow version published (commands
    /// that start a server or set up a database).
    pub async fn app_publishing(&self) -> Result<App> {
        Ok(App::build_with(
            self.config.clone(),
            self.clock.clone(),
            AppOptions {
                publish: true,
                ..AppOptions::default()
            },
        )
        .await?)
    }

    /// Workflows from the configured folder, validated, without a database.
    pub fn catalog(&self) -> Result<Catalog> {
        Ok(crate::app::catalog(&self.config, &*self.letters()?)?)
    }

    /// The letter templates, without a database.
    pub fn letters(&self) -> Result<Arc<LetterEngine>> {
        Ok(crate::app::letter_engine(&self.config)?)
    }

    /// Prints JSON or, unless `--json`, the text.
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).expect("output serialises")
            );
        } else {
            print!("{}", text());
        }
    }
}

fn parse_now(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    let local = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(9, 0, 0).expect("valid time")
    } else {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
            .with_context(|| {
                format!(
                    "--now `{s}`: write 2012-03-19, 2012-03-19T08:30:00 (Berlin time) or RFC 3339"
                )
            })?
    };
    Berlin
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
        .with_context(|| format!("--now `{s}` does not exist in Berlin time"))
}

async fn run(cli: Cli) -> Result<()> {
    let config = Arc::new(Config::load(cli.config.as_deref())?);
    let clock: Arc<dyn Clock> = match &cli.now {
        Some(s) => Arc::new(ManualClock::new(parse_now(s)?)),
        None => Arc::new(SystemClock),
    };
    let ctx = Ctx {
        config,
        clock,
        json: cli.json,
    };
    match cli.command {
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Simulate(args) => simulate::run(&ctx, args).await,
        Command::Export(args) => export::run(&ctx, args).await,
        Command::Report(cmd) => report::run(&ctx, cmd).await,
        Command::Init(args) => init::run(&ctx, args).await,
        Command::Config(cmd) => config::run(&ctx, cmd).await,
        Command::Workflow(cmd) => workflow::run(&ctx, cmd).await,
        Command::Case(cmd) => case::run(&ctx, cmd).await,
        Command::Audit(cmd) => audit::run(&ctx, cmd).await,
        Command::Backup(args) => backup::run(&ctx, args).await,
        Command::Deadline(cmd) => deadline::run(&ctx, cmd).await,
        Command::Interest(args) => interest::run(&ctx, args).await,
        Command::Letter(cmd) => letter::run(&ctx, cmd).await,
        Command::Document(cmd) => document::run(&ctx, cmd).await,
        Command::Remind(cmd) => remind::run(&ctx, cmd).await,
        Command::Outbox(cmd) => outbox::run(&ctx, cmd).await,
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::User(cmd) => user::run(&ctx, cmd).await,
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            if e.downcast_ref::<CaseError>()
                .is_some_and(CaseError::is_conflict)
            {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The diagnostics of a workflow-definition error anywhere in the chain.
fn diagnostics(e: &anyhow::Error) -> Option<&[Diagnostic]> {
    fn from_catalog(c: &CatalogError) -> Option<&[Diagnostic]> {
        match c {
            CatalogError::Invalid(d) => Some(d.as_slice()),
            _ => None,
        }
    }
    e.chain().find_map(|cause| {
        if let Some(c) = cause.downcast_ref::<CatalogError>() {
            from_catalog(c)
        } else if let Some(AppError::Catalog(c)) = cause.downcast_ref::<AppError>() {
            from_catalog(c)
        } else if let Some(w) = cause.downcast_ref::<crate::workflow::WorkflowError>() {
            w.diagnostics()
        } else {
            None
        }
    })
}

/// Prints an error: definition problems one per line as
/// `file:line:column: error: …` with their hints; anything else as
/// `error: …`, the hint of a refusal as `  hint: …`, then the causes.
fn report(e: &anyhow::Error) {
    if let Some(diags) = diagnostics(e) {
        for d in diags {
            eprintln!("{d}");
        }
        return;
    }
    for line in e.to_string().lines() {
        eprintln!("error: {line}");
    }
    if let Some(hint) = e.downcast_ref::<CaseError>().and_then(CaseError::hint)
        && !e.to_string().contains(&hint)
    {
        eprintln!("  hint: {hint}");
    }
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
