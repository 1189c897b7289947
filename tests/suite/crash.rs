//! kill -9 anywhere: the real binary in a loop of rounds, each killed with
//! SIGKILL at a random moment, against the real database and a real (slow)
//! SMTP server; then what must hold after any crash is checked.
//!
//! Each round runs one of `case open`, `case fire`, `outbox send` or
//! `serve --no-http` (whose start runs the missed reminder pass and sends
//! what is due) and kills it after a random delay: while it builds, renders
//! a letter, commits, claims mail, or talks SMTP (the server waits before
//! storing a message and again before answering, so kills land in the
//! conversation). Simulated time moves on by eight hours a round, so
//! reminders fall due and deadlines run out along the way.
//!
//! The one duplicate allowed: the server stored a message, and the process
//! was killed before it recorded the send. Right after each kill the test
//! notes every mail the outbox still has as claimed whose Message-ID the
//! server already holds; every Message-ID that arrives twice must be one
//! of those, and the count is printed. The seed is printed too and
//! `AMTSPOST_CRASH_SEED` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::on_both_databases;
use crate::support::smtp::SmtpSink;
use serde_json::json;

use crate::support::{Bin, TestApp, TestDb};

const ROUNDS: usize = 60;
/// The SMTP server's wait before storing, and before answering, each message.
const SMTP_DELAY_MS: u64 = 100;

/// xorshift64*: enough randomness for kill times, and replayable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// What one round ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Open,
    Fire,
    Send,
    Serve,
}

/// The step a case in `state` can take next in the fixture workflow, with
/// the actor and role that may take it (`wartet` waits for its deadline).
fn next_step(state: &str, posts_ok: bool) -> Option<(&'static str, &'static str, &'static str)> {
    match state {
        "eingegangen" => Some(("pruefen", "meier", "clerk")),
        "in_pruefung" if posts_ok => Some(("vorschlagen", "meier", "clerk")),
        "in_pruefung" => Some(("nachfordern", "meier", "clerk")),
        "entscheidungsreif" => Some(("bewilligen", "schulz", "approver")),
        _ => None,
    }
}

fn child_alive(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

on_both_databases! {
    async fn a_crash_loop_loses_nothing_and_sends_each_mail_once(db) {
        crash_loop(db).await;
    }

    async fn sigterm_finishes_the_sends_under_way_and_gives_the_claimed_rest_back(db) {
        let sink = SmtpSink::start_slow(150).await;
        let app = TestApp::new(&db).await;
        for i in 0..40 {
            let n = app.open_antrag(&format!("Gemeinde {i}")).await.file_number;
            app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        }
        app.app.close().await;
        assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await, 40);
        let bin = Bin::new(&db);
        let port = sink.port.to_string();
        let log = db.dir.path().join("serve.log");
        let mut serve = bin
            .command(&["serve", "--no-http"])
            .env("AMTSPOST_MAIL__TRANSPORT", "smtp")
            .env("AMTSPOST_MAIL__SMTP_PORT", &port)
            .env("AMTSPOST_MAIL__TLS", "none")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        sink.wait_for(1, Duration::from_secs(60)).await;
        let term = std::process::Command::new("kill")
            .args(["-TERM", &serve.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let started = Instant::now();
        while child_alive(&mut serve) {
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert!(serve.wait().unwrap().success(), "{stderr}");
        assert!(stderr.contains("amtspost serve: stopped"), "{stderr}");
        assert!(stderr.contains("given back to the queue"), "{stderr}");

        // Nothing half-done: no mail left claimed; what was under way was
        // finished and recorded, the rest is queued as never tried.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE status = 'sending'").await, 0);
        let sent = db.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await;
        let arrived = sink.messages().len() as i64;
        assert_eq!(sent, arrived, "every send that reached the server is recorded");
        let pending = db.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await;
        assert!(pending > 0 && sent + pending == 40, "sent {sent}, pending {pending}");
        assert_eq!(
            db.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts <> 0").await,
            0,
            "a mail given back counts no attempt"
        );

        // The next start sends the rest, each mail once.
        let rest = bin
            .command(&["outbox", "send"])
            .env("AMTSPOST_MAIL__TRANSPORT", "smtp")
            .env("AMTSPOST_MAIL__SMTP_PORT", &port)
            .env("AMTSPOST_MAIL__TLS", "none")
            .output()
            .unwrap();
        assert!(rest.status.success(), "{}", String::from_utf8_lossy(&rest.stderr));
        let ids: BTreeSet<String> = sink.messages().into_iter().map(|m| m.message_id).collect();
        assert_eq!(sink.messages().len(), 40);
        assert_eq!(ids.len(), 40);
    }
}

async fn crash_loop(db: TestDb) {
    let seed: u64 = std::env::var("AMTSPOST_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash loop seed {seed} (AMTSPOST_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    // The schema and the workflow versions, as `init` leaves them; and a
    // clerk's session in the test itself that now and then issues a
    // handful of letters at once, so that the sending rounds have mail to
    // be killed in the middle of.
    let clerk = TestApp::new(&db).await;
    let sink = SmtpSink::start_slow(SMTP_DELAY_MS).await;
    let bin = Bin::new(&db);
    let port = sink.port.to_string();
    let base = crate::support::at("2012-03-19T08:30:00Z");
    let logs = db.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    let command = |args: &[&str], now: chrono::DateTime<chrono::Utc>, log: &str| {
        let mut cmd = bin.command(args);
        cmd.env("AMTSPOST_NOW", now.to_rfc3339())
            .env("AMTSPOST_MAIL__TRANSPORT", "smtp")
            .env("AMTSPOST_MAIL__SMTP_PORT", &port)
            .env("AMTSPOST_MAIL__TLS", "none")
            .env(
                "AMTSPOST_ROLE_ADDRESSES__CLERK",
                "dezernat36@bra.example.org",
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(logs.join(log)).unwrap());
        cmd
    };

    // Per Message-ID: how often the server held it when a kill left it
    // claimed (accepted, not recorded); and how many such kills there were.
    let mut window: BTreeMap<String, usize> = BTreeMap::new();
    let mut windows = 0usize;
    let mut tally: BTreeMap<(Action, bool), usize> = BTreeMap::new();
    let mut opened = 0usize;
    let mut took: BTreeMap<Action, Duration> = BTreeMap::new();
    for round in 0..ROUNDS {
        let now = base + chrono::Duration::hours(8 * round as i64);
        if round % 5 == 1 {
            clerk.clock.set(now);
            for _ in 0..6 {
                opened += 1;
                let name = format!("Gemeinde {opened}");
                let mut data = serde_json::Map::new();
                data.insert("name".into(), json!(name));
                data.insert("posts".into(), json!(if opened % 2 == 0 { 2 } else { 9 }));
                let party = format!("{name} <poststelle@gemeinde-{opened}.example.org>");
                let n = clerk
                    .engine
                    .open(amtspost::case::OpenRequest {
                        workflow: "antrag".into(),
                        data,
                        parties: [("applicant".to_string(), party.parse().unwrap())].into(),
                        actor: amtspost::case::Actor::new("eingang", "clerk"),
                    })
                    .await
                    .unwrap()
                    .file_number;
                clerk
                    .engine
                    .fire(clerk.fire(&n, "pruefen", "meier", "clerk", json!({})))
                    .await
                    .unwrap();
            }
        }
        let cases = db
            .texts("SELECT file_number || ' ' || state || ' ' || data FROM cases ORDER BY id")
            .await;
        let steps: Vec<(String, (&str, &str, &str))> = cases
            .iter()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let (n, state, data) = (parts.next()?, parts.next()?, parts.next()?);
                let posts_ok = data.contains("\"posts\":2");
                next_step(state, posts_ok).map(|s| (n.to_string(), s))
            })
            .collect();
        let roll = rng.below(100);
        let action = if cases.len() < 3 || (roll < 20 && cases.len() < 14) {
            Action::Open
        } else if roll < 50 && !steps.is_empty() {
            Action::Fire
        } else if roll < 72 {
            Action::Send
        } else {
            Action::Serve
        };
        let log = format!("{round:02}-{action:?}.log");
        let (mut child, max_ms) = match action {
            Action::Open => {
                opened += 1;
                let name = format!("Gemeinde {opened}");
                let party = format!("applicant={name} <poststelle@gemeinde-{opened}.example.org>");
                // Every other case can be approved (posts within the guard),
                // the others are asked for documents and wait for their deadline.
                let posts = if opened % 2 == 0 {
                    "posts=2"
                } else {
                    "posts=9"
                };
                let args = [
                    "case",
                    "open",
                    "antrag",
                    "--actor",
                    "eingang",
                    "--role",
                    "clerk",
                    "--set",
                    &format!("name={name}"),
                    "--set",
                    posts,
                    "--party",
                    &party,
                ];
                (command(&args, now, &log).spawn().unwrap(), None)
            }
            Action::Fire => {
                let (n, (step, actor, role)) = &steps[rng.below(steps.len() as u64) as usize];
                let args = ["case", "fire", n, step, "--actor", actor, "--role", role];
                let args: Vec<&str> = if *step == "vorschlagen" {
                    args.into_iter()
                        .chain(["--set", "decision=bewilligen"])
                        .collect()
                } else {
                    args.to_vec()
                };
                (command(&args, now, &log).spawn().unwrap(), None)
            }
            Action::Send => (
                command(&["outbox", "send"], now, &log).spawn().unwrap(),
                None,
            ),
            // Never ends by itself: killed within its start, pass and sends.
            Action::Serve => (
                command(&["serve", "--no-http"], now, &log).spawn().unwrap(),
                Some(3500),
            ),
        };
        // A command's first run shows how long it takes; later runs are
        // killed at a random moment within twice the time its last complete
        // run took (about half of them complete). Not the longest run: one
        // slow first fire (a letter) would make later kills rare.
        let max_ms = max_ms.or_else(|| {
            took.get(&action)
                .map(|d: &Duration| d.as_millis() as u64 * 2)
        });
        let kill_at = match max_ms {
            Some(ms) => Duration::from_millis(rng.below(ms)),
            None => Duration::from_secs(120),
        };
        let started = Instant::now();
        while started.elapsed() < kill_at && child_alive(&mut child) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = child_alive(&mut child);
        if !killed {
            took.insert(action, started.elapsed());
        }
        if killed {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        if !killed {
            assert!(
                status.success(),
                "round {round} ({action:?}) failed on its own:\n{}",
                std::fs::read_to_string(logs.join(&log)).unwrap_or_default()
            );
        }
        *tally.entry((action, killed)).or_default() += 1;
        if killed {
            // A message whose end of DATA had reached the server before the
            // kill is stored all the same: wait for the server to finish it.
            tokio::time::sleep(Duration::from_millis(3 * SMTP_DELAY_MS + 100)).await;
            let claimed: BTreeSet<String> = db
                .texts("SELECT message_id FROM outbox WHERE status = 'sending'")
                .await
                .into_iter()
                .collect();
            let mut held: BTreeMap<String, usize> = BTreeMap::new();
            for m in sink.messages() {
                *held.entry(m.message_id).or_default() += 1;
            }
            for id in &claimed {
                let n = held.get(id).copied().unwrap_or(0);
                let w = window.entry(id.clone()).or_default();
                if n > *w {
                    windows += 1;
                    *w = n;
                }
            }
        }
    }

    // Recovery: a month later, every lease and backoff has run out.
    let later = base + chrono::Duration::hours(8 * ROUNDS as i64) + chrono::Duration::days(30);
    for attempt in 0..5 {
        let run = command(
            &["outbox", "send"],
            later + chrono::Duration::days(attempt),
            "final.log",
        )
        .status()
        .unwrap();
        assert!(
            run.success(),
            "{}",
            std::fs::read_to_string(logs.join("final.log")).unwrap()
        );
        if db
            .count("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")
            .await
            == 0
        {
            break;
        }
    }

    eprintln!("crash loop: {ROUNDS} rounds (action, killed) -> count: {tally:?}");
    let killed: usize = tally.iter().filter(|((_, k), _)| *k).map(|(_, n)| n).sum();
    assert!(
        killed >= ROUNDS / 3,
        "only {killed} of {ROUNDS} rounds were killed: {tally:?}"
    );

    // The journal's hash chains hold.
    let audit = bin.run(&["audit", "verify"]);
    audit.ok();

    // File numbers: unique and gap-free, as the register counted them.
    let numbers = db.texts("SELECT file_number FROM cases ORDER BY id").await;
    let seqs: Vec<u64> = numbers
        .iter()
        .map(|n| {
            n.rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let want: Vec<u64> = (1..=numbers.len() as u64).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, want, "file numbers {numbers:?}");
    // Notice numbers: unique and gap-free too.
    let mut notices: Vec<String> = db
        .texts("SELECT data FROM cases")
        .await
        .iter()
        .filter_map(|d| {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            v["notice_number"].as_str().map(str::to_owned)
        })
        .collect();
    notices.sort();
    let want: Vec<String> = (1..=notices.len())
        .map(|i| format!("B-2012-{i:03}"))
        .collect();
    assert_eq!(notices, want, "notice numbers");
    let approved = db
        .count("SELECT COUNT(*) FROM cases WHERE state = 'bewilligt'")
        .await;
    assert_eq!(
        notices.len() as i64,
        approved,
        "one notice number per approval"
    );

    // No document without its event, no event without its document, and
    // every document's bytes are stored.
    let docs: BTreeSet<String> = db
        .texts("SELECT CAST(case_id AS TEXT) || ' ' || sha256 FROM documents")
        .await
        .into_iter()
        .collect();
    let events: BTreeSet<String> = db
        .texts("SELECT CAST(case_id AS TEXT) || ' ' || payload FROM journal WHERE kind = 'letter_issued'")
        .await
        .into_iter()
        .map(|line| {
            let (case, payload) = line.split_once(' ').unwrap();
            let v: serde_json::Value = serde_json::from_str(payload).unwrap();
            format!("{case} {}", v["sha256"].as_str().unwrap())
        })
        .collect();
    assert_eq!(docs, events, "documents and letter_issued events");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM document_blobs b WHERE b.sha256 = d.sha256)").await,
        0
    );
    assert!(!docs.is_empty(), "the loop issued no letter");

    // Every mail was delivered; each Message-ID reached the server once,
    // except those stored by the server before a kill could be recorded.
    let queued: BTreeSet<String> = db
        .texts("SELECT message_id FROM outbox")
        .await
        .into_iter()
        .collect();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'")
            .await,
        0,
        "mail left unsent"
    );
    let mut arrivals: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        *arrivals.entry(m.message_id).or_default() += 1;
    }
    let arrived: BTreeSet<String> = arrivals.keys().cloned().collect();
    assert_eq!(
        arrived, queued,
        "the server received exactly the queued mail"
    );
    // After the last kill that left it accepted but unrecorded, a mail
    // reaches the server once more at most (the send that was recorded).
    let unexplained: Vec<_> = arrivals
        .iter()
        .filter(|(id, n)| **n > window.get(*id).copied().unwrap_or(0) + 1)
        .collect();
    assert!(
        unexplained.is_empty(),
        "sent again without a kill between acceptance and record: {unexplained:?}"
    );
    let duplicates: usize = arrivals.values().map(|n| n - 1).sum();
    eprintln!(
        "crash loop: {} cases, {} notices, {} mails, {} letters; {} times a kill fell between the server's acceptance and the record, {} repeated arrivals (same Message-ID)",
        numbers.len(),
        notices.len(),
        queued.len(),
        docs.len(),
        windows,
        duplicates
    );
}
