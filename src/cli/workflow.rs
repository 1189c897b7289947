//! `amtspost workflow`: check, list, show and draw workflow definitions.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use crate::catalog::{Catalog, CatalogError};
use crate::workflow::{Definition, GraphFormat, render_graph};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate workflow files; prints every problem as file:line:column
    Check {
        /// Files or folders [default: the configured workflows folder]
        paths: Vec<PathBuf>,
    },
    /// List the workflows in the configured folder
    List,
    /// Show a workflow's fields, roles, states and transitions
    Show {
        /// Workflow id
        id: String,
    },
    /// Print a workflow's state machine as Graphviz DOT or Mermaid
    Graph {
        /// Workflow id
        id: String,
        /// Output language
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    match cmd {
        Command::Check { paths } => {
            let paths = if paths.is_empty() {
                vec![ctx.config.workflows_dir.clone()]
            } else {
                paths
            };
            let templates = ctx.letters()?.templates().into_iter().collect();
            match Catalog::load(&paths, templates) {
                Ok(catalog) => {
                    let defs: Vec<_> = catalog.definitions().collect();
                    // What people would see as an identifier: refused here,
                    // where the author is, though loading accepts it.
                    let untitled: Vec<_> = defs
                        .iter()
                        .flat_map(|(p, d)| crate::workflow::untitled(p, &d.source))
                        .collect();
                    if !untitled.is_empty() {
                        if ctx.json {
                            ctx.print(&json!({"ok": false, "problems": untitled}), String::new);
                        } else {
                            for p in &untitled {
                                eprintln!("{p}");
                            }
                        }
                        bail!("{} problem(s) in workflow files", untitled.len());
                    }
                    let summary: Vec<_> = defs
                        .iter()
                        .map(|(p, d)| json!({"file": p, "id": d.id, "version": d.version}))
                        .collect();
                    ctx.print(&json!({"ok": true, "workflows": summary}), || {
                        let mut s = String::new();
                        for (p, d) in &defs {
                            s.push_str(&format!("ok: {} ({} v{})\n", p.display(), d.id, d.version));
                        }
                        s
                    });
                    Ok(())
                }
                Err(CatalogError::Invalid(problems)) => {
                    if ctx.json {
                        ctx.print(&json!({"ok": false, "problems": problems}), String::new);
                    } else {
                        for p in &problems {
                            eprintln!("{p}");
                        }
                    }
                    bail!("{} problem(s) in workflow files", problems.len())
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::List => {
            let catalog = ctx.catalog()?;
            let defs: Vec<_> = catalog.definitions().map(|(_, d)| d.clone()).collect();
            let rows: Vec<_> = defs
                .iter()
                .map(|d| json!({"id": d.id, "version": d.version, "title": d.title, "hash": d.content_hash}))
                .collect();
            ctx.print(&rows, || {
                defs.iter()
                    .map(|d| format!("{:<28} v{:<3} {}\n", d.id, d.version, d.title))
                    .collect()
            });
            Ok(())
        }
        Command::Show { id } => {
            let def = ctx.catalog()?.current(&id)?;
            ctx.print(&*def, || describe(&def));
            Ok(())
        }
        Command::Graph { id, format } => {
            let def = ctx.catalog()?.current(&id)?;
            print!("{}", render_graph(&def, format));
            Ok(())
        }
    }
}

fn describe(d: &Definition) -> String {
    let mut s = format!("{} v{}: {}\n", d.id, d.version, d.title);
    if let Some(desc) = &d.description {
        s.push_str(&format!("{desc}\n"));
    }
    s.push_str("\nroles:\n");
    for (k, v) in &d.roles {
        s.push_str(&format!("  {k:<16} {v}\n"));
    }
    s.push_str("parties:\n");
    for (k, p) in &d.parties {
        let req = if p.required { " (required)" } else { "" };
        s.push_str(&format!("  {k:<16} {}{req}\n", p.title));
    }
    s.push_str("fields:\n");
    for f in d.fields.values() {
        let req = if f.required { " (required)" } else { "" };
        let kind = serde_json::to_value(&f.kind)
            .ok()
            .and_then(|v| v.get("type").cloned());
        s.push_str(&format!(
            "  {:<24} {:<8} {}{req}\n",
            f.name,
            kind.and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default(),
            f.title.as_deref().unwrap_or("")
        ));
    }
    s.push_str("states:\n");
    for st in &d.states {
        let mark = if st.initial {
            " (initial)"
        } else if st.is_final {
            " (final)"
        } else {
            ""
        };
        s.push_str(&format!("  {}{mark}\n", st.name));
    }
    s.push_str("transitions:\n");
    for t in &d.transitions {
        s.push_str(&format!(
            "  {:<24} {} -> {}  [{}]\n",
            t.name,
            t.from.join("|"),
            t.to.as_deref().unwrap_or("(bleibt)"),
            t.roles.join(", ")
        ));
    }
    s
}
