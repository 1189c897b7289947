//! `amtspost serve`: runs the scheduled jobs (reminder pass, mail delivery)
//! until Ctrl-C or SIGTERM; the job in hand is finished first.

use std::sync::Arc;

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, _args: Args) -> Result<()> {
    let engine = Arc::new(ctx.engine().await?);
    let courier = Arc::new(ctx.courier(&engine)?);
    eprintln!(
        "amtspost serve: reminders on `{}`, mail delivery on `{}` (Europe/Berlin); Ctrl-C stops",
        ctx.config.scheduler.reminders, ctx.config.scheduler.deliver
    );
    crate::scheduler::run(
        engine.clone(),
        courier,
        &ctx.config.scheduler,
        shutdown_signal(),
    )
    .await?;
    engine.store().close().await;
    eprintln!("amtspost serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
