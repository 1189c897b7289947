//! `amtspost init`: sets up a working folder with a config file, the shipped
//! workflows and templates, and an empty database.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::Ctx;
use crate::assets::{TEMPLATES, WORKFLOWS};
use crate::config::{Config, DEFAULT_FILE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite files that already exist
    #[arg(long)]
    force: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    let mut written = Vec::new();
    if args.force || !Path::new(DEFAULT_FILE).exists() {
        std::fs::write(DEFAULT_FILE, Config::template())
            .with_context(|| format!("writing {DEFAULT_FILE}"))?;
        written.push(DEFAULT_FILE.to_string());
    }
    for (dir, target) in [
        (&WORKFLOWS, &ctx.config.workflows_dir),
        (&TEMPLATES, &ctx.config.templates_dir),
    ] {
        if target.exists() && !args.force {
            continue;
        }
        std::fs::create_dir_all(target)
            .with_context(|| format!("creating {}", target.display()))?;
        dir.extract(target)
            .with_context(|| format!("writing {}", target.display()))?;
        written.push(format!("{}/", target.display()));
    }
    // Creates the database, applies the migrations and publishes the workflows.
    let app = ctx.app_publishing().await?;
    app.close().await;
    ctx.print(&written, || {
        let mut s = String::new();
        for w in &written {
            s.push_str(&format!("wrote {w}\n"));
        }
        s.push_str(&format!("database ready: {}\n", ctx.config.database_url));
        s
    });
    Ok(())
}
