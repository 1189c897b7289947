//! `amtspost serve`: runs the long-lived parts of the application (the
//! reminder job and the mail courier) until Ctrl-C or SIGTERM; the job in
//! hand is finished first.

use anyhow::Result;

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, _args: Args) -> Result<()> {
    let app = ctx.app_publishing().await?;
    eprintln!(
        "amtspost serve: reminders on `{}`, mail delivery on `{}` (Europe/Berlin); Ctrl-C stops",
        ctx.config.scheduler.reminders, ctx.config.scheduler.deliver
    );
    let result = app.run_until_stopped(shutdown_signal()).await;
    app.close().await;
    result?;
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
