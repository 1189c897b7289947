//! `amtspost export`: a file for another system from the cases of one day,
//! as a workflow's `[exports.*]` declares it (e.g. the payout orders for
//! the state treasury). CSV: UTF-8, semicolon, a header line.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args as ClapArgs;

use super::Ctx;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The export's name, e.g. auszahlungsanordnung (`[exports.*]` of a workflow)
    pub name: String,
    /// The day whose cases are exported (JJJJ-MM-TT), e.g. the day the payouts were ordered
    #[arg(long)]
    pub date: NaiveDate,
    /// Write the file here instead of to standard output
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    let app = ctx.app().await?;
    let table = app.engine().export(&args.name, args.date).await?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    w.write_record(&table.columns)?;
    for row in &table.rows {
        w.write_record(row)?;
    }
    let bytes = w.into_inner().context("writing the CSV")?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{}: {} Zeile(n) vom {} nach {}",
                table.title,
                table.rows.len(),
                args.date.format("%d.%m.%Y"),
                path.display()
            );
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}
