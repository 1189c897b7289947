//! `amtspost outbox`: queued, sent and failed mail.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::Ctx;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List mail in the outbox, newest first
    List {
        /// Only mail that failed for good
        #[arg(long)]
        failed: bool,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Put a failed mail back in the queue and try to send it now
    Retry {
        /// Mail id (from `outbox list --failed`)
        id: i64,
    },
    /// Send all mail that is due now
    Send,
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let app = ctx.app().await?;
    let courier = app.courier();
    match cmd {
        Command::List { failed, limit } => {
            let rows = courier.list(failed, limit).await?;
            ctx.print(&rows, || {
                rows.iter()
                    .map(|m| {
                        format!(
                            "{:>5}  {:<8} {:<10} attempts {}  {}  {}{}\n",
                            m.id,
                            m.status,
                            m.kind,
                            m.attempts,
                            m.recipients.join(", "),
                            m.subject,
                            m.last_error
                                .as_deref()
                                .map(|e| format!("\n       last error: {e}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect()
            });
        }
        Command::Retry { id } => {
            courier.retry(id).await?;
            let report = courier.deliver_due().await?;
            ctx.print(&json!({"requeued": id, "delivery": report}), || {
                format!(
                    "mail {id} re-queued; {} sent, {} to retry, {} failed\n",
                    report.sent, report.retrying, report.failed
                )
            });
        }
        Command::Send => {
            let report = courier.deliver_due().await?;
            ctx.print(&report, || {
                let mut s = format!(
                    "{} sent, {} to retry, {} failed\n",
                    report.sent, report.retrying, report.failed
                );
                for e in &report.errors {
                    s.push_str(&format!("  {e}\n"));
                }
                s
            });
        }
    }
    app.close().await;
    Ok(())
}
