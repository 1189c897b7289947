//! `amtspost report controlling`: the Förderprogrammcontrolling of a year,
//! one line per grant (CSV, JSON or an HTML page with a chart), to
//! standard output or a file.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};

use super::Ctx;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Förderprogrammcontrolling: per grant of the year approved, paid, proven, repaid, the proof of use's state and the Sachbericht's indicators
    ///
    /// Example: amtspost report controlling --year 2013 --format html -o controlling.html
    Controlling {
        /// The year of the grants (Bewilligungszeitraum)
        #[arg(long)]
        year: i32,
        /// csv (a header line, one line per grant), json, or html (chart and table)
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Write here instead of to standard output
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let Command::Controlling {
        year,
        format,
        output,
    } = cmd;
    let app = ctx.app().await?;
    let report = app.engine().controlling(year).await?;
    let text = match format {
        Format::Csv => report.csv()?,
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            v["totals"] = serde_json::to_value(report.totals())?;
            serde_json::to_string_pretty(&v)? + "\n"
        }
        Format::Html => report.html(),
    };
    match &output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} {year}: {} Zuwendung(en) nach {}",
                report.title,
                report.rows.len(),
                path.display()
            );
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}
