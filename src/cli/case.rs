//! `amtspost case`: open cases, fire transitions, show and list cases.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::case::{Actor, CaseView, FireRequest, OpenRequest, PartyRef};
use crate::store::CaseFilter;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a case on a workflow; prints its file number
    Open {
        /// Workflow id
        workflow: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        data: DataArgs,
        /// A party: ROLE=NAME, ROLE="NAME <EMAIL>" or ROLE='{"name":..,"email":..,"address":[..]}'
        #[arg(long = "party", value_name = "ROLE=PARTY")]
        parties: Vec<String>,
    },
    /// Fire a transition on a case
    Fire {
        /// File number (Aktenzeichen)
        case: String,
        /// Transition name
        transition: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        data: DataArgs,
        /// Refuse if the case is no longer at this version (optimistic locking)
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
    },
    /// Show a case with its data and history; with --as, the steps that person may take now (or why not)
    Show {
        /// File number (Aktenzeichen)
        case: String,
        /// A user (login name): list every step from the case's state with whether they may take it now, and why not
        #[arg(long = "as", value_name = "USER")]
        as_user: Option<String>,
    },
    /// List the documents issued on a case
    Documents {
        /// File number (Aktenzeichen)
        case: String,
    },
    /// Write a case's Akte (a zip with its data, journal, deadlines, letters, uploads and a manifest of hashes), or an xdomea 3.0.0 message
    Export {
        /// File number (Aktenzeichen); leave it out with --all
        #[arg(required_unless_present = "all")]
        case: Option<String>,
        /// akte: amtspost's own Akte; xdomea: Abgabe.Abgabe.0401 (hand-over to another authority or system); xdomea-archive: Aussonderung.Aussonderung.0503 (a closed case to the archive)
        #[arg(long, value_enum, default_value_t = ExportFormat::Akte)]
        format: ExportFormat,
        /// akte: the zip file to write [default: FILE_NUMBER.zip, slashes as `_`]; xdomea: the folder to write `<ProzessID>_<Nachrichtentyp>.zip` into [default: .]
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Every case closed before --closed-before, one message (one process) each; xdomea formats only
        #[arg(long, requires = "closed_before", conflicts_with = "case")]
        all: bool,
        /// With --all: cases closed and last changed before this day (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        closed_before: Option<chrono::NaiveDate>,
        /// The receiving authority or archive the message names
        #[arg(long, value_name = "NAME")]
        recipient: Option<String>,
    },
    /// Verify an Akte (every hash, the journal's chain) and store its case; a tampered file is refused, nothing stored
    Import {
        /// The zip file written by `case export`
        file: PathBuf,
    },
    /// List cases
    List {
        /// Only cases of this workflow
        #[arg(long)]
        workflow: Option<String>,
        /// Only cases in this state
        #[arg(long)]
        state: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct ActorArgs {
    /// Who acts (user name)
    #[arg(long)]
    actor: String,
    /// The role the actor acts in
    #[arg(long)]
    role: String,
}

#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Case data from a JSON file (an object of field values)
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// One field: KEY=VALUE; VALUE is read as JSON if it is JSON, else as text
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl DataArgs {
    fn collect(&self) -> Result<Map<String, Value>> {
        let mut map = match &self.data {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                match serde_json::from_str(&text)
                    .with_context(|| format!("{} is not valid JSON", path.display()))?
                {
                    Value::Object(m) => m,
                    _ => bail!(
                        "{} must contain a JSON object of field values",
                        path.display()
                    ),
                }
            }
            None => Map::new(),
        };
        for kv in &self.set {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set `{kv}`: write KEY=VALUE"))?;
            let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
            map.insert(k.trim().to_string(), value);
        }
        Ok(map)
    }
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let app = ctx.app().await?;
    let engine = app.engine();
    match cmd {
        Command::Open {
            workflow,
            actor,
            data,
            parties,
        } => {
            let mut map = BTreeMap::new();
            for p in &parties {
                let (role, spec) = p
                    .split_once('=')
                    .with_context(|| format!("--party `{p}`: write ROLE=NAME"))?;
                map.insert(role.trim().to_string(), spec.parse::<PartyRef>()?);
            }
            let case = engine
                .open(OpenRequest {
                    workflow,
                    data: data.collect()?,
                    parties: map,
                    actor: Actor::new(actor.actor, actor.role),
                })
                .await?;
            ctx.print(&case, || {
                format!("opened {} in state {}\n", case.file_number, case.state)
            });
        }
        Command::Fire {
            case,
            transition,
            actor,
            data,
            expect_version,
        } => {
            let view = engine
                .fire(FireRequest {
                    file_number: case.into(),
                    transition: transition.as_str().into(),
                    actor: Actor::new(actor.actor, actor.role),
                    payload: data.collect()?,
                    expected_version: expect_version,
                })
                .await?;
            ctx.print(&view, || {
                format!(
                    "{}: {} -> now in state {} (version {})\n",
                    view.file_number, transition, view.state, view.version
                )
            });
        }
        Command::Export {
            case,
            format,
            output,
            all,
            closed_before,
            recipient,
        } => {
            let message = match format {
                ExportFormat::Akte => None,
                ExportFormat::Xdomea => Some(crate::xdomea::Message::Abgabe),
                ExportFormat::XdomeaArchive => Some(crate::xdomea::Message::Aussonderung),
            };
            let Some(message) = message else {
                if all || recipient.is_some() {
                    bail!("--all and --recipient go with --format xdomea or xdomea-archive");
                }
                let case = case.expect("clap requires a file number without --all");
                export_akte(ctx, &app, &case, output).await?;
                app.close().await;
                return Ok(());
            };
            let dir = output.unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let recipient = recipient.unwrap_or_else(|| match message {
                crate::xdomea::Message::Abgabe => "Übernehmende Stelle".into(),
                crate::xdomea::Message::Aussonderung => "Zuständiges Archiv".into(),
            });
            let cases = match (case, closed_before) {
                (Some(c), _) => vec![c],
                (None, Some(before)) => app.closed_cases_before(before).await?,
                (None, None) => bail!("name a file number, or --all with --closed-before"),
            };
            let mut written = Vec::new();
            for n in &cases {
                let package = app.export_xdomea(n, message, &recipient).await?;
                let path = dir.join(&package.file_name);
                write_new(&path, &package.bytes)?;
                written.push(json!({
                    "file_number": n, "file": path, "process_id": package.process_id.to_string(),
                    "bytes": package.bytes.len(),
                }));
            }
            app.close().await;
            ctx.print(&json!(written), || {
                let mut s: String = written
                    .iter()
                    .map(|w| {
                        format!(
                            "{}: {} written to {}\n",
                            w["file_number"].as_str().unwrap_or_default(),
                            message.element(),
                            w["file"].as_str().unwrap_or_default()
                        )
                    })
                    .collect();
                s.push_str(&format!("{} message(s)\n", written.len()));
                s
            });
            return Ok(());
        }
        Command::Import { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let imported = app.import_case(&bytes, &name).await?;
            let c = &imported.case;
            ctx.print(
                &json!({
                    "file_number": c.file_number, "state": c.state, "events": imported.journal.len(),
                    "documents": imported.documents.len(), "uploads": imported.uploads.len(),
                    "head_hash": c.head_hash,
                }),
                || {
                    format!(
                        "{}: imported in state {} with {} journal events (chain verified, head {}), {} letter(s), {} upload(s)\n",
                        c.file_number,
                        c.state,
                        imported.journal.len(),
                        &c.head_hash[..16],
                        imported.documents.len(),
                        imported.uploads.len()
                    )
                },
            );
        }
        Command::Documents { case } => {
            let docs = engine.case_documents(&case).await?;
            ctx.print(&docs, || {
                docs.iter()
                    .map(|d| {
                        format!(
                            "{}  {:<22} {:<28} {} page(s)  sha256 {}\n",
                            d.letter_date, d.template, d.recipient, d.pages, d.sha256
                        )
                    })
                    .collect()
            });
        }
        Command::Show { case, as_user } => {
            let detail = engine.detail(&case).await?;
            let (view, deadlines, history) = (&detail.case, &detail.deadlines, &detail.history);
            let steps = match &as_user {
                Some(name) => {
                    let user = app.identity().user(name).await?;
                    if !crate::case::visible_to(&user, view) {
                        bail!("{name} darf den Vorgang {case} nicht sehen");
                    }
                    Some(engine.steps(view, &user).await?)
                }
                None => None,
            };
            ctx.print(
                &json!({"case": view, "deadlines": deadlines, "history": history, "documents": detail.documents, "steps": steps}),
                || {
                    let mut s = summary(view);
                    if let (Some(steps), Some(name)) = (&steps, &as_user) {
                        s.push_str(&format!("Schritte für {name}:\n"));
                        for o in steps {
                            let mark = if o.allowed { "erlaubt" } else { "nicht erlaubt" };
                            s.push_str(&format!("  {:<32} {:<14} {}\n", o.transition, mark, o.title));
                            if let Some(r) = &o.reason {
                                s.push_str(&format!("      Grund: {r}\n"));
                            }
                            for f in &o.fields {
                                let req = if f.required { " (Pflicht)" } else { "" };
                                let value = if f.value.is_null() { String::new() } else { format!(" = {}", f.value) };
                                s.push_str(&format!("      {} [{}]{req}{value}\n", f.name, f.kind));
                            }
                        }
                    }
                    if !deadlines.is_empty() {
                        s.push_str("deadlines:\n");
                        for d in deadlines {
                            let left = d
                                .days_left
                                .map(|n| format!(", {n} day(s) left"))
                                .unwrap_or_default();
                            s.push_str(&format!(
                                "  {:<16} {} ({}{left}) {}\n",
                                d.name, d.due_date, d.status, d.title
                            ));
                        }
                    }
                    s.push_str("history:\n");
                    for e in history {
                        let what = match &e.transition {
                            Some(t) => format!("{} {t}", e.kind),
                            None => e.kind.to_string(),
                        };
                        s.push_str(&format!(
                            "  {:>3}  {}  {:<28} {} ({})\n",
                            e.seq, e.recorded_at, what, e.actor, e.role
                        ));
                    }
                    s
                },
            );
        }
        Command::List {
            workflow,
            state,
            limit,
        } => {
            let cases = engine
                .list(&CaseFilter {
                    workflow,
                    state,
                    limit,
                })
                .await?;
            ctx.print(&cases, || {
                cases
                    .iter()
                    .map(|c| {
                        format!(
                            "{:<20} {:<28} {:<24} v{}\n",
                            c.file_number, c.workflow, c.state, c.version
                        )
                    })
                    .collect()
            });
        }
    }
    app.close().await;
    Ok(())
}

/// Which file `case export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// amtspost's own Akte (re-importable with `case import`).
    Akte,
    /// xdomea 3.0.0 Abgabe.Abgabe.0401.
    Xdomea,
    /// xdomea 3.0.0 Aussonderung.Aussonderung.0503 (closed cases only).
    XdomeaArchive,
}

/// Writes a file that must not exist yet: beside, then renamed, so that
/// nothing half-written ever stands under its name.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!(
            "{} exists already; name another file with -o, or remove it",
            path.display()
        );
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

/// `case export` of amtspost's own Akte.
async fn export_akte(
    ctx: &Ctx,
    app: &crate::app::App,
    case: &str,
    output: Option<PathBuf>,
) -> Result<()> {
    let bytes = app.export_case(case).await?;
    let path =
        output.unwrap_or_else(|| PathBuf::from(format!("{}.zip", case.replace(['/', '\\'], "_"))));
    write_new(&path, &bytes)?;
    ctx.print(
        &json!({"file_number": case, "file": path, "bytes": bytes.len()}),
        || {
            format!(
                "{case}: Akte written to {} ({} bytes)\n",
                path.display(),
                bytes.len()
            )
        },
    );
    Ok(())
}

fn summary(c: &CaseView) -> String {
    let mut s = format!(
        "{}  {} (v{})\nstate: {}{}{}\nversion: {}\nopened: {}  updated: {}\n",
        c.file_number,
        c.workflow_title,
        c.workflow_version,
        c.state,
        c.state_title
            .as_deref()
            .map(|t| format!(" – {t}"))
            .unwrap_or_default(),
        if c.closed { " (closed)" } else { "" },
        c.version,
        c.opened_at,
        c.updated_at
    );
    if !c.available.is_empty() {
        s.push_str(&format!("next: {}\n", c.available.join(", ")));
    }
    s.push_str("data:\n");
    for (k, v) in &c.data {
        s.push_str(&format!("  {k}: {v}\n"));
    }
    if !c.parties.is_empty() {
        s.push_str("parties:\n");
        for (k, p) in &c.parties {
            s.push_str(&format!("  {k}: {}\n", p.name));
        }
    }
    s
}
