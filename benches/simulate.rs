//! A funding year of a whole Dezernat (`amtspost simulate` with its
//! defaults: 53 municipalities, 1,060 applications, 24 circulars, seed 1),
//! once on SQLite and once on PostgreSQL, every letter rendered and sealed
//! and every mail delivered to a real SMTP server on 127.0.0.1
//! (tests/smtp_sink.py). The aim: under 30 s each on the 2-core machine.
//!
//! One run takes tens of seconds, so this is a plain timed run, not a
//! criterion sample of ten: it prints the seconds per database, where the
//! time went, and the counts. `AMTSPOST_SIM_APPLICATIONS` makes the year
//! smaller (for a quick look), `AMTSPOST_SIM_ONLY=sqlite|postgres` runs one.
//!
//!     cargo bench --bench simulate

mod common;

use amtspost::cli::demo::scenario::DemoOptions;
use amtspost::cli::simulate::{Params, simulate};
use amtspost::mail::{MailConfig, Tls, Transport};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut params = Params::default();
    if let Some(n) = std::env::var("AMTSPOST_SIM_APPLICATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        params.applications = n;
    }
    let only = std::env::var("AMTSPOST_SIM_ONLY").unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    let sink_dir = tempfile::tempdir().unwrap();
    let sink = common::Sink::start(sink_dir.path());
    for (name, postgres) in [("sqlite", false), ("postgres", true)] {
        if !only.is_empty() && only != name {
            continue;
        }
        let url = rt.block_on(common::database_url(postgres, dir.path(), "simulate"));
        let mail = MailConfig {
            transport: Transport::Smtp,
            smtp_host: "127.0.0.1".into(),
            smtp_port: sink.1,
            tls: Tls::None,
            from: "Bezirksregierung Arnsberg <amtspost@bra.example.org>".into(),
            ..MailConfig::default()
        };
        let opts = DemoOptions {
            database_url: Some(url),
            mail: Some(mail),
            ..DemoOptions::new(dir.path().join(name))
        };
        let s = rt.block_on(simulate(&params, opts)).unwrap();
        let cases: i64 = s.stats.cases.iter().map(|c| c.2).sum();
        println!(
            "simulate/{name}: {:.1} s for the funding year {} ({} municipalities, {} applications, {} circulars): {} cases, {} letters, {} mails sent",
            s.seconds,
            params.year,
            params.municipalities,
            params.applications,
            params.circulars,
            cases,
            s.letters(),
            s.mails_sent()
        );
        for (part, secs) in &s.timings {
            println!("  {part:<49} {secs:>6.1} s");
        }
    }
    drop(sink);
}
