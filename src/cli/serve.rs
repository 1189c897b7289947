//! `amtspost serve`: runs the HTTP server (API and web UI), the reminder job
//! and the mail courier in one process until Ctrl-C or SIGTERM; requests
//! and the job in hand are finished first.

use anyhow::{Context as _, Result};

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port of the HTTP server [default: web.listen, 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Run only the scheduled jobs, without the HTTP server
    #[arg(long)]
    no_http: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    init_tracing();
    let app = ctx.app_publishing().await?;
    let listener = if args.no_http {
        None
    } else {
        let addr = args.listen.unwrap_or_else(|| ctx.config.web.listen.clone());
        let l = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        eprintln!("amtspost serve: http://{}", l.local_addr()?);
        Some(l)
    };
    eprintln!(
        "amtspost serve: reminders on `{}`, mail delivery on `{}` (Europe/Berlin); Ctrl-C stops",
        ctx.config.scheduler.reminders, ctx.config.scheduler.deliver
    );
    let result = app.run_with_http(listener, shutdown_signal()).await;
    app.close().await;
    result?;
    eprintln!("amtspost serve: stopped");
    Ok(())
}

/// Request logs on standard error; `RUST_LOG` (e.g. `amtspost=debug`) sets the level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    // Colour codes only for a person at a terminal, never in a log file
    // or the journal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
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
