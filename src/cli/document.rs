//! `amtspost document`: check issued documents against their hashes and
//! write them out as files.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every stored PDF against the SHA-256 recorded for it
    Verify,
    /// Write issued PDFs as files, one folder per file number
    /// (e.g. KI-2012-0001/2012-10-15_zuwendungsbescheid_36.KI-2012-001.pdf)
    Export {
        /// Folder to write to [default: documents_dir of the configuration]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Only the documents of this case
        #[arg(long, value_name = "FILE_NUMBER")]
        case: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let app = ctx.app().await?;
    match cmd {
        Command::Verify => {
            let report = app.documents().verify().await?;
            app.close().await;
            ctx.print(&report, || {
                let mut s = format!("checked {} document(s)\n", report.documents);
                for p in &report.problems {
                    s.push_str(&format!("PROBLEM {}\n", json!(p)));
                }
                s
            });
            if !report.problems.is_empty() {
                bail!("{} document(s) missing or altered", report.problems.len());
            }
        }
        Command::Export { out, case } => {
            if let Some(n) = &case {
                // A file number that does not exist is an error, not an empty export.
                app.engine().show(n).await?;
            }
            let out = out.unwrap_or_else(|| ctx.config.documents_dir.clone());
            let written = app.documents().export(&out, case.as_deref()).await?;
            app.close().await;
            ctx.print(&written, || {
                let mut s: String = written
                    .iter()
                    .map(|p| format!("{}\n", p.display()))
                    .collect();
                s.push_str(&format!(
                    "wrote {} document(s) to {}\n",
                    written.len(),
                    out.display()
                ));
                s
            });
        }
    }
    Ok(())
}
