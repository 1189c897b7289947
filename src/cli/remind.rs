//! `amtspost remind`: one reminder pass (reminders, expiry, escalation), then
//! delivery of the queued mail.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one reminder pass now (use the global --now to run it for another day)
    Run {
        /// Show what would be sent; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let Command::Run { dry_run } = cmd;
    let app = ctx.app().await?;
    let report = app.engine().remind(dry_run).await?;
    let delivery = if dry_run {
        None
    } else {
        Some(app.courier().deliver_due().await?)
    };
    ctx.print(&json!({"reminders": report, "delivery": delivery}), || {
        let mut s = format!(
            "reminder pass for {}{}\n",
            report.today,
            if dry_run { " (dry run)" } else { "" }
        );
        for r in &report.reminders {
            s.push_str(&format!(
                "  remind  {} {} (ends {}, step {}) -> {}\n",
                r.file_number, r.deadline, r.due_date, r.step, r.recipient
            ));
        }
        for r in &report.expired {
            s.push_str(&format!(
                "  expired {} {} (ended {}) -> {}\n",
                r.file_number, r.deadline, r.due_date, r.recipient
            ));
        }
        for f in &report.fired {
            s.push_str(&format!("  fired   {f}\n"));
        }
        for o in &report.opened {
            s.push_str(&format!("  opened  {o}\n"));
        }
        for w in &report.warnings {
            s.push_str(&format!("  warning {w}\n"));
        }
        if report.passed_over > 0 {
            s.push_str(&format!(
                "  {} earlier reminder step(s) passed over (a later one was due)\n",
                report.passed_over
            ));
        }
        if let Some(d) = &delivery {
            s.push_str(&format!(
                "mail: {} sent, {} to retry, {} failed\n",
                d.sent, d.retrying, d.failed
            ));
            for e in &d.errors {
                s.push_str(&format!("  {e}\n"));
            }
        }
        s
    });
    app.close().await;
    Ok(())
}
