//! amtspost: a document-workflow engine for approval correspondence in public
//! administration.
//!
//! # Layout
//!
//! - [`app`]: the composition root: [`app::App`] builds every service once,
//!   for the CLI, the demo, the tests and the benchmarks, and runs the
//!   long-lived parts until stopped.
//! - [`domain`]: validated values shared by workflows, cases and the store
//!   (file numbers, state names, e-mail addresses, statuses).
//! - [`workflow`]: procedures declared in `workflows/*.toml`, their validation
//!   and the state machine (pure).
//! - [`catalog`]: reads workflow files and keeps every published version.
//! - [`case`]: cases (Vorgänge) and the [`case::Engine`] that opens them and
//!   fires transitions with their effects, atomically.
//! - [`document`]: issued PDFs, stored content-addressed in the database.
//! - [`journal`]: the append-only, hash-chained event log, and its replay
//!   into what a case must be (pure).
//! - [`akte`]: one case's file as amtspost's own ZIP (export, verified import).
//! - [`xdomea`]: one case as an xdomea 3.0.0 message (Abgabe 0401,
//!   Aussonderung 0503) for other authorities and the archive (pure).
//! - [`numbering`]: file-number and register patterns (pure).
//! - [`deadline`]: legal deadline arithmetic and public holidays (pure).
//! - [`account`]: a grant's account: approved, called, paid per budget line (pure).
//! - [`controlling`]: the Förderprogrammcontrolling report: CSV, JSON, HTML with an SVG chart (pure).
//! - [`feedback`]: reports of barriers from the accessibility statement, queued as mail.
//! - [`interest`]: interest under § 49a Abs. 3 VwVfG on the Basiszinssatz table (pure).
//! - [`letter`]: Typst templates rendered in-process to PDF/A in DIN 5008 layout.
//! - [`municipalities`]: the Kreise and kreisfreie Städte of `workflows/data/kommunen.json`.
//! - [`mail`]: mail transports (SMTP or `.eml` files), mail templates, retry backoff.
//! - [`reminders`]: the reminder pass: reminders, expiry, escalation.
//! - [`outbox`]: the courier that sends queued mail with retries.
//! - [`scheduler`]: cron jobs of `amtspost serve`.
//! - [`identity`]: users, passwords, API tokens and login sessions.
//! - [`http`]: the HTTP API (`/api/v1`) and the German web UI of `amtspost serve`.
//! - [`store`]: all SQL, for SQLite and PostgreSQL.
//! - [`config`]: `amtspost.toml` and `AMTSPOST_*` overrides.
//! - [`clock`]: the only reader of the system time.
//! - [`assets`]: workflows and templates shipped inside the binary.
//! - [`cli`]: the `amtspost` command line; `main.rs` only calls [`cli::main`].
//!   The demo scenario (`amtspost demo`) is one of its doors, not part of the core.

pub mod account;
pub mod akte;
pub mod app;
pub mod assets;
pub mod case;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod controlling;
pub mod deadline;
pub mod document;
pub mod domain;
pub mod feedback;
pub mod http;
pub mod identity;
pub mod interest;
pub mod journal;
pub mod letter;
pub mod mail;
pub mod money;
pub mod municipalities;
pub mod numbering;
pub mod outbox;
pub mod reminders;
pub mod scheduler;
pub mod seal;
pub mod store;
pub mod upload;
pub mod workflow;
pub mod xdomea;
