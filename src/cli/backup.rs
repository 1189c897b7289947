//! `amtspost backup`: a consistent copy of the SQLite database, taken while
//! servers and commands go on using it (`VACUUM INTO`). PostgreSQL is
//! backed up with its own tools (`pg_dump`), as the README shows.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to write (must not exist); restore by pointing database_url at it
    file: PathBuf,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    if args.file.exists() {
        bail!("{} exists already; name a new file", args.file.display());
    }
    let app = ctx.app().await?;
    let result = app.backup_to(&args.file).await;
    app.close().await;
    result?;
    let bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    ctx.print(
        &serde_json::json!({"file": args.file, "bytes": bytes}),
        || {
            format!(
                "database copied to {} ({bytes} bytes); restore: database_url = \"sqlite://{}\"\n",
                args.file.display(),
                args.file.display()
            )
        },
    );
    Ok(())
}
