//! `amtspost audit`: checks that no journal event was changed or removed.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recompute the hash chains of all cases (or one) and name the first broken link
    Verify {
        /// Only this case (file number)
        case: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let Command::Verify { case } = cmd;
    let app = ctx.app().await?;
    let report = app.engine().audit(case.as_deref()).await?;
    app.close().await;
    ctx.print(&report, || {
        let mut s = format!(
            "checked {} case(s), {} event(s)\n",
            report.cases, report.events
        );
        for b in &report.broken {
            s.push_str(&format!(
                "BROKEN {} at event {}: {}\n",
                b.file_number, b.link.seq, b.link.reason
            ));
        }
        if report.broken.is_empty() {
            s.push_str("all hash chains intact\n");
        }
        s
    });
    if !report.broken.is_empty() {
        bail!(
            "{} case(s) with a broken journal chain; first: {} at event {}",
            report.broken.len(),
            report.broken[0].file_number,
            report.broken[0].link.seq
        );
    }
    Ok(())
}
