//! `amtspost document`: check issued documents against their hashes and
//! their seals, check a sealed PDF from outside, and write documents out as
//! files.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every stored PDF against the SHA-256 recorded for it, and every
    /// seal (unchanged, covering the document, chained to [seal]
    /// trust_anchors, time-stamp); with --file, check one PDF from anywhere
    /// and print a German report
    Verify {
        /// Check this PDF file instead of the stored documents
        #[arg(long, value_name = "PDF")]
        file: Option<PathBuf>,
        /// Trust this root certificate (PEM or DER) besides [seal] trust_anchors
        #[arg(long, value_name = "CERT")]
        trust: Vec<PathBuf>,
    },
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
    if let Command::Verify {
        file: Some(file),
        trust,
    } = &cmd
    {
        return verify_file(ctx, file, trust).await;
    }
    let app = ctx.app().await?;
    match cmd {
        Command::Verify { trust, .. } => {
            let anchors = anchors(ctx, &trust)?;
            let report = app.documents().verify(&anchors).await?;
            app.close().await;
            ctx.print(&report, || {
                let mut s = format!(
                    "checked {} document(s), {} sealed\n",
                    report.documents, report.sealed
                );
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

/// The configured trust anchors and those given on the command line.
fn anchors(ctx: &Ctx, extra: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    let mut paths = ctx.config.seal.trust_anchors.clone();
    paths.extend(extra.iter().cloned());
    Ok(crate::seal::load_certificates(&paths)?)
}

/// `document verify --file`: one PDF, a German report; fails unless every
/// seal is valid (an unsealed file fails too: there is nothing to trust).
async fn verify_file(ctx: &Ctx, file: &std::path::Path, trust: &[PathBuf]) -> Result<()> {
    let anchors = anchors(ctx, trust)?;
    let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
    let reports =
        tokio::task::spawn_blocking(move || crate::seal::verify::verify_pdf(&bytes, &anchors))
            .await?;
    let name = file.display().to_string();
    ctx.print(&reports, || {
        crate::seal::verify::german_report(&name, &reports)
    });
    if reports.is_empty() {
        bail!("{name} trägt kein Siegel");
    }
    if !reports.iter().all(crate::seal::verify::SealReport::valid) {
        bail!("{name}: mindestens ein Siegel ist ungültig");
    }
    Ok(())
}
