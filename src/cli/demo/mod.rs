//! `amtspost demo`: the seed procedure end to end in simulated time, on a
//! fresh SQLite file with mail written to a folder. The scenario
//! (`scenario`, data in `workflows/data/demo.json`) drives the same [`App`]
//! as every other door, so it lives with the command line, not in the core.
//!
//! [`App`]: crate::app::App

pub mod scenario;

use std::path::PathBuf;

use anyhow::Result;

use super::Ctx;
use scenario::DemoOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the database, the PDFs and the mails (recreated)
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// Use this database instead of a fresh SQLite file (it must be empty)
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Print only the summary
    #[arg(long)]
    quiet: bool,
}

pub(super) async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    let summary = scenario::run(DemoOptions {
        out: args.out,
        database_url: args.database_url,
        progress: !args.quiet && !ctx.json,
        ..DemoOptions::new(Default::default())
    })
    .await?;
    ctx.print(&summary, || summary.table());
    Ok(())
}
