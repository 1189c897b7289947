//! `amtspost document`: check stored documents against their hashes.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use crate::document::FileCheck;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every stored PDF against the SHA-256 recorded for it
    Verify,
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let Command::Verify = cmd;
    let engine = ctx.engine().await?;
    let docs = engine.store().documents(None).await?;
    let mut bad = Vec::new();
    for d in &docs {
        let check = engine.documents().verify(&d.sha256).await;
        if check != FileCheck::Ok {
            bad.push(json!({"document": d.id, "sha256": d.sha256, "check": check}));
        }
    }
    ctx.print(&json!({"documents": docs.len(), "problems": bad}), || {
        let mut s = format!("checked {} document(s)\n", docs.len());
        for b in &bad {
            s.push_str(&format!("PROBLEM {b}\n"));
        }
        s
    });
    if !bad.is_empty() {
        bail!("{} document(s) missing or altered", bad.len());
    }
    Ok(())
}
