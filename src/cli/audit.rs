//! `amtspost audit`: checks that no journal event was changed or removed,
//! and that every case is what its journal replays to.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recompute the hash chains of all cases (or one), replay each journal and compare it with the stored case; name the first broken link or differing item
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
        for d in &report.differs {
            s.push_str(&format!(
                "DIFFERS {}: {}: {}\n",
                d.file_number, d.difference.item, d.difference.reason
            ));
        }
        if report.broken.is_empty() {
            s.push_str("all hash chains intact\n");
        }
        if report.differs.is_empty() {
            s.push_str("every case is what its journal replays to\n");
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
    if let Some(first) = report.differs.first() {
        bail!(
            "{} case(s) differ from their journal; first: {}: {}",
            report.differs.len(),
            first.file_number,
            first.difference.item
        );
    }
    Ok(())
}
