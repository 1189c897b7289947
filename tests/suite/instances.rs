//! Several `amtspost` instances on one PostgreSQL, and one server per
//! SQLite file. The instances here are `App`s in one test process, each
//! with its own pool, courier and scheduler, exactly as `serve` builds
//! them; the database and the SMTP server are real.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amtspost::case::{Actor, OpenRequest};
use amtspost::domain::PartyRef;
use serde_json::{Map, Value};

use crate::support::smtp::SmtpSink;
use crate::support::{TestApp, TestDb, at, smtp_config, test_config};

/// A procedure with one deadline and a reminder seven days before its end.
const FRIST: &str = r#"id = "frist"
version = 1
title = "Fristsache (Testverfahren)"
register = "FR"

[roles]
clerk = "Sachbearbeitung"

[parties]
applicant = { title = "Antragsteller", required = true }

[fields]
name = { type = "string", required = true }

[deadlines.antwort]
title = "Antwortfrist"
period = "2W"
reminders = ["7d"]
remind = ["applicant"]

[[states]]
name = "offen"
initial = true

[[states]]
name = "wartet"

[[states]]
name = "erledigt"
final = true

[[transitions]]
name = "frist_setzen"
from = "offen"
to = "wartet"
roles = ["clerk"]
effects = [{ deadline = "antwort" }]

[[transitions]]
name = "erledigen"
from = "wartet"
to = "erledigt"
roles = ["clerk"]
effects = [{ meet = "antwort" }]
"#;

/// The reminder pass at 07:00 Berlin every day.
const DAILY: &str = "0 0 7 * * *";

/// `n` instances on `db` with the FRIST workflow, mail to the sink; the
/// courier's schedule is once a year, so only LISTEN/NOTIFY (and the
/// reminder pass itself) make them send.
async fn instances(
    db: &TestDb,
    sink: &SmtpSink,
    n: usize,
    reminders: &str,
) -> (tempfile::TempDir, Vec<TestApp>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("frist.toml"), FRIST).unwrap();
    let mut config = test_config(db, dir.path());
    config.mail = smtp_config(sink.port, 3);
    config.scheduler.deliver = "0 0 0 1 1 *".into();
    config.scheduler.reminders = reminders.into();
    let mut apps = Vec::new();
    for _ in 0..n {
        apps.push(TestApp::try_build(config.clone(), None).await.unwrap());
    }
    (dir, apps)
}

/// Opens `n` cases with a running Antwortfrist (set 19.03.2012, end
/// 02.04.2012, reminder due 26.03.2012), each party with its own address.
async fn cases(app: &TestApp, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    let engine = app.engine.clone();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let (engine, next) = (engine.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let party: PartyRef = format!("Gemeinde {i} <poststelle@gemeinde-{i}.example.org>")
                    .parse()
                    .unwrap();
                let mut data = Map::new();
                data.insert("name".into(), Value::from(format!("Gemeinde {i}")));
                let view = engine
                    .open(OpenRequest {
                        workflow: "frist".into(),
                        data,
                        parties: [("applicant".to_string(), party)].into(),
                        actor: Actor::new("eingang", "clerk"),
                    })
                    .await
                    .unwrap();
                engine
                    .fire(amtspost::case::FireRequest {
                        file_number: view.file_number,
                        transition: "frist_setzen".into(),
                        actor: Actor::new("eingang", "clerk"),
                        payload: Map::new(),
                        expected_version: None,
                    })
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// Runs every instance until the sink holds `want` messages; returns how
/// long the mail took from the start.
async fn run_until_delivered(apps: &[TestApp], sink: &SmtpSink, want: usize) -> Duration {
    let stop = tokio_util::sync::CancellationToken::new();
    let mut running = tokio::task::JoinSet::new();
    let start = Instant::now();
    for a in apps {
        let (app, stop) = (a.app.clone(), stop.clone());
        running.spawn(async move { app.run_until_stopped(stop.cancelled_owned()).await });
    }
    sink.wait_for(want, Duration::from_secs(600)).await;
    let took = start.elapsed();
    // A moment for a duplicate to show up, if any instance were to send one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    while let Some(r) = running.join_next().await {
        r.unwrap().unwrap();
    }
    took
}

/// Reminder mails in the outbox (one per deadline, step and recipient).
async fn reminder_mails(app: &TestApp) -> i64 {
    let stats = app.app.stats().await.unwrap();
    stats
        .mail
        .iter()
        .filter(|(kind, _, _)| kind == "reminder")
        .map(|(_, _, n)| n)
        .sum()
}

/// Each Message-ID reached the server once, and there are `want` of them.
fn once_each(sink: &SmtpSink, want: usize) {
    let messages = sink.messages();
    let mut ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), want, "distinct reminders");
    assert_eq!(
        total,
        want,
        "{} duplicates reached the server",
        total - ids.len()
    );
}

async fn reminders_due_on_one_day_reach_each_recipient_once(n: usize) {
    let db = TestDb::postgres().await;
    let sink = SmtpSink::start().await;
    let (_dir, apps) = instances(&db, &sink, 3, DAILY).await;
    let opened = Instant::now();
    cases(&apps[0], n).await;
    let opening = opened.elapsed();
    // 26.03.2012, 07:30 Berlin (CEST): the 07:00 pass is due, and every
    // instance starts after it, so each catches up on it at once.
    for a in &apps {
        a.clock.set(at("2012-03-26T05:30:00Z"));
    }
    let took = run_until_delivered(&apps, &sink, n).await;
    once_each(&sink, n);
    // The pass ran once, for 07:00, on one of the three.
    let record = apps[0].app.pass_record("reminders").await.unwrap();
    assert_eq!(record, Some(("2012-03-26T05:00:00.000000Z".to_string(), 1)));
    assert_eq!(reminder_mails(&apps[0]).await, n as i64);
    eprintln!(
        "3 instances: {n} cases opened in {opening:.1?}; {n} reminders queued by one pass and delivered in {took:.1?} ({:.0} mails/s)",
        n as f64 / took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_postgres_send_each_reminder_once_and_run_the_pass_once() {
    reminders_due_on_one_day_reach_each_recipient_once(300).await;
}

/// The figure for the note: 10,000 cases (`cargo test --release -- --ignored instances`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn three_instances_on_postgres_with_10000_reminders_due_on_one_day() {
    reminders_due_on_one_day_reach_each_recipient_once(10_000).await;
}

/// Mail throughput of one and of three instances sending the same backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn mail_throughput_with_one_and_with_three_instances() {
    for k in [1usize, 3] {
        let db = TestDb::postgres().await;
        let sink = SmtpSink::start().await;
        let (_dir, apps) = instances(&db, &sink, k, DAILY).await;
        cases(&apps[0], 3000).await;
        for a in &apps {
            a.clock.set(at("2012-03-26T04:00:00Z"));
        }
        // Queue the reminders without sending, then let the instances send.
        apps[0].engine.remind(false).await.unwrap();
        let took = run_until_delivered(&apps, &sink, 3000).await;
        once_each(&sink, 3000);
        eprintln!(
            "{k} instance(s): 3000 mails in {took:.1?} ({:.0} mails/s)",
            3000.0 / took.as_secs_f64()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_by_another_instance_wakes_the_courier_at_once_on_postgres() {
    let db = TestDb::postgres().await;
    let sink = SmtpSink::start().await;
    let (_dir, apps) = instances(&db, &sink, 2, "0 0 7 1 1 *").await;
    cases(&apps[0], 3).await;
    // The reminder pass once a year (nothing to catch up on), the courier
    // too: the running instance sends only when it hears of queued mail.
    for a in &apps {
        a.clock.set(at("2012-03-26T04:30:00Z"));
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let app = apps[1].app.clone();
    let token = stop.clone();
    let running = tokio::spawn(async move { app.run_until_stopped(token.cancelled_owned()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty());
    // Instance 0 queues (its own courier is not running): instance 1 sends.
    let queued = Instant::now();
    let r = apps[0].engine.remind(false).await.unwrap();
    assert_eq!(r.reminders.len(), 3);
    sink.wait_for(3, Duration::from_secs(20)).await;
    eprintln!(
        "queued on one instance, sent by the other after {:.0?}",
        queued.elapsed()
    );
    stop.cancel();
    running.await.unwrap().unwrap();
    once_each(&sink, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_missed_while_all_instances_were_down_runs_once_when_one_returns() {
    let db = TestDb::postgres().await;
    let sink = SmtpSink::start().await;
    let (_dir, apps) = instances(&db, &sink, 1, DAILY).await;
    cases(&apps[0], 2).await;
    // Down over the 07:00 pass of 26.03.2012; back at 09:00.
    apps[0].clock.set(at("2012-03-26T07:00:00Z"));
    run_until_delivered(&apps, &sink, 2).await;
    // Back again later the same day: that pass is done, nothing more.
    run_until_delivered(&apps, &sink, 2).await;
    once_each(&sink, 2);
    let record = apps[0].app.pass_record("reminders").await.unwrap();
    assert_eq!(
        record,
        Some(("2012-03-26T05:00:00.000000Z".to_string(), 1)),
        "caught up once"
    );
}

#[test]
fn a_second_server_on_one_sqlite_file_is_refused_with_a_clear_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::sqlite());
    let bin = crate::support::Bin::new(&db);
    let port = |()| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let first_port = port(());
    let mut first = bin
        .command(&["serve", "--listen", &format!("127.0.0.1:{first_port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", first_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the first server did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = bin
        .command(&["serve", "--listen", &format!("127.0.0.1:{}", port(()))])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        err.contains("another amtspost server already runs on the database"),
        "{err}"
    );
    // The first keeps running; once it is gone, a server may start again.
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first server is still up"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let again_port = port(());
    let mut again = bin
        .command(&["serve", "--listen", &format!("127.0.0.1:{again_port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", again_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server did not start after kill -9 of the first"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    again.kill().unwrap();
    again.wait().unwrap();
}
