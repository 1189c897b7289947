//! Finding the reminders due among 1,000,000 open deadlines (SQLite and
//! PostgreSQL, with the `deadlines_open_due` index), and mails per second
//! from the outbox to a real SMTP server on 127.0.0.1 (tests/smtp_sink.py):
//! over one kept-open connection, and by the courier with 8 in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use amtspost::clock::ManualClock;
use amtspost::document::Documents;
use amtspost::mail::{MailConfig, Tls, Transport};
use amtspost::outbox::Courier;
use amtspost::store::{NewMail, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const DEADLINES: i64 = 1_000_000;

async fn store(postgres: bool, dir: &std::path::Path, tag: &str) -> (Store, String) {
    let url = common::database_url(postgres, dir, tag).await;
    (Store::connect(&url).await.unwrap(), url)
}

/// 1,000 cases with 1,000 open deadlines each, due dates spread over 2010-2039.
async fn fill(url: &str, postgres: bool) {
    let series = if postgres {
        "SELECT g::bigint AS n FROM generate_series(1, $N) AS g"
    } else {
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $N) SELECT n FROM s"
    };
    let date = if postgres {
        "to_char(DATE '2010-01-01' + (n * 7919 % 10957)::int, 'YYYY-MM-DD')"
    } else {
        "date('2010-01-01', '+' || (n * 7919 % 10957) || ' days')"
    };
    let sql = format!(
        "INSERT INTO workflow_definitions VALUES ('bench', 1, 'x', '', '', '2012-01-01T00:00:00Z');
         INSERT INTO cases (file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
           SELECT 'B-' || n, 'bench', 1, 'offen', '{{}}', '{{}}', 1, 0, '', '2012-01-01', '2012-01-01' FROM ({cases}) AS c;
         INSERT INTO deadlines (case_id, name, title, due_date, status, set_at, explanation)
           SELECT 1 + n % 1000, 'frist', 'Frist', {date}, 'open', '2012-01-01', '{{}}' FROM ({all}) AS d",
        cases = series.replace("$N", "1000"),
        all = series.replace("$N", &DEADLINES.to_string()),
    );
    common::execute(url, &sql).await;
    if postgres {
        common::execute(url, "ANALYZE deadlines; ANALYZE cases").await;
    } else {
        common::execute(url, "ANALYZE").await;
    }
}

fn reminders(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut group = c.benchmark_group("due_reminders_among_1m_open_deadlines");
    group.sample_size(20);
    for (name, postgres) in [("sqlite", false), ("postgres", true)] {
        let (store, url) = rt.block_on(store(postgres, dir.path(), "due"));
        let t = Instant::now();
        rt.block_on(fill(&url, postgres));
        eprintln!(
            "{name}: 1,000,000 deadlines written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        // A morning's pass: everything ending by 30 days from 2013-07-01.
        let found = rt
            .block_on(store.open_deadlines_until("2010-01-31"))
            .unwrap()
            .len();
        eprintln!("{name}: {found} deadlines due in the first 30 days");
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { store.open_deadlines_until("2010-01-31").await.unwrap() })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("outbox_to_smtp");
    group.throughput(Throughput::Elements(100));
    group.sample_size(10);
    let sink_dir = tempfile::tempdir().unwrap();
    let sink = common::Sink::start(sink_dir.path());
    let (store, _) = rt.block_on(store(false, dir.path(), "mail"));
    let config = MailConfig {
        transport: Transport::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: sink.1,
        tls: Tls::None,
        ..MailConfig::default()
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let courier =
        Courier::new(store.clone(), &config, Documents::new(store.clone()), clock).unwrap();
    let mut n = 0u64;
    // One connection: one mail after the other over one kept-open connection.
    let mailer = amtspost::mail::Mailer::new(&config).unwrap();
    let mut m = 0u64;
    group.bench_function("100_mails/1_connection", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    for _ in 0..100 {
                        m += 1;
                        mailer
                            .send(&amtspost::mail::OutgoingMail {
                                message_id: format!("one.{m}@amtspost.example.org"),
                                to: vec!["poststelle@kreis-unna.example.org".to_string()],
                                subject: "Fristerinnerung KI-2012-0001".into(),
                                text: "Die Frist zur Nachreichung endet am 05.11.2012.".into(),
                                attachments: Vec::new(),
                                date: None,
                            })
                            .await
                            .unwrap();
                    }
                });
            }
            t.elapsed()
        })
    });
    // The courier: claimed from the outbox, 8 in flight, each recorded.
    group.bench_function("100_mails/8_connections_from_the_outbox", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    let mut tx = store.begin().await.unwrap();
                    for _ in 0..100 {
                        n += 1;
                        tx.enqueue_mail(&NewMail {
                            message_id: &format!("bench.{n}@amtspost.example.org"),
                            case_id: None,
                            kind: "reminder",
                            recipients: &["poststelle@kreis-unna.example.org".to_string()],
                            subject: "Fristerinnerung KI-2012-0001",
                            body: "Die Frist zur Nachreichung endet am 05.11.2012.",
                            attachments: &[],
                            at: "2000-01-01T00:00:00.000000Z",
                        })
                        .await
                        .unwrap();
                    }
                    tx.commit().await.unwrap();
                });
                let t = Instant::now();
                let r = rt.block_on(courier.deliver_due()).unwrap();
                total += t.elapsed();
                assert_eq!(r.sent, 100, "{:?}", r.errors);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, reminders);
criterion_main!(benches);
