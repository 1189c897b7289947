//! Concurrent writers: one winner per case version, gap-free file numbers.

use std::collections::BTreeSet;

use serde_json::json;

use crate::on_both_databases;
use crate::support::{PgHolder, TestApp};

/// Holds the case's row on PostgreSQL until both fires wait behind it
/// (directly, or behind the other's uncommitted letter), so that the race
/// is forced, not left to timing; returns after releasing it. `None` on
/// SQLite, where the in-process writer lock queues the two.
async fn hold_until_both_wait(db: &crate::support::TestDb, file_number: &str) -> Option<PgHolder> {
    if !db.is_postgres() {
        return None;
    }
    Some(
        PgHolder::hold(
            db,
            &format!("SELECT id FROM cases WHERE file_number = '{file_number}' FOR UPDATE"),
        )
        .await,
    )
}

/// Two clerks fire the same step on the same case version at once.
/// PostgreSQL: both are held at the case's row lock until both wait there,
/// then released: one wins, one gets the conflict, and the winner's letter
/// (the same PDF both rendered, stored under one hash) is intact.
/// SQLite: the in-process writer lock queues them; the second sees the
/// first's version.
async fn two_fires_at_once(db: crate::support::TestDb) {
    let app = TestApp::new(&db).await;
    for round in 0..3 {
        let case = app.open_antrag(&format!("Kreis {round}")).await;
        let mut a = app.fire(&case.file_number, "pruefen", "meier", "clerk", json!({}));
        let mut b = app.fire(&case.file_number, "pruefen", "schulz", "clerk", json!({}));
        a.expected_version = Some(case.version);
        b.expected_version = Some(case.version);
        let holder = hold_until_both_wait(&db, case.file_number.as_str()).await;
        let (engine_a, engine_b) = (app.engine.clone(), app.engine.clone());
        let ta = tokio::spawn(async move { engine_a.fire(a).await });
        let tb = tokio::spawn(async move { engine_b.fire(b).await });
        if let Some(mut h) = holder {
            h.until_waiting(2).await;
            h.release().await;
        }
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {ra:?} / {rb:?}");
        let loser = ra.as_ref().err().or(rb.as_ref().err()).unwrap();
        assert!(loser.is_conflict(), "{loser}");
        assert!(
            loser
                .to_string()
                .contains("inzwischen von jemand anderem geändert"),
            "{loser}"
        );
        let history = app.engine.history(&case.file_number).await.unwrap();
        let fired = history.iter().filter(|e| e.kind == "fired").count();
        assert_eq!(fired, 1, "exactly one fired event");
        let report = app.engine.audit(Some(&case.file_number)).await.unwrap();
        assert!(report.broken.is_empty());
        // The winner's letter: one document, its stored bytes hash to its name.
        let docs = app
            .engine
            .case_documents(case.file_number.as_str())
            .await
            .unwrap();
        assert_eq!(docs.len(), 1);
        let bytes = app.app.documents().bytes(&docs[0].sha256).await.unwrap();
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), docs[0].sha256);
    }
}

/// The same for a step that writes only the case and its journal (on
/// PostgreSQL one statement without a transaction around it; on SQLite the
/// group commit, one change per case in a batch, so the second finds the
/// case moved on).
async fn two_effect_free_fires_at_once(db: crate::support::TestDb) {
    let app = TestApp::new(&db).await;
    for round in 0..3 {
        let n = app.open_antrag(&format!("Kreis {round}")).await.file_number;
        let case = app
            .engine
            .fire(app.fire(&n, "pruefen", "meier", "clerk", json!({})))
            .await
            .unwrap();
        let mut a = app.fire(
            &n,
            "vorschlagen",
            "meier",
            "clerk",
            json!({"decision": "bewilligen"}),
        );
        let mut b = app.fire(
            &n,
            "vorschlagen",
            "schulz",
            "clerk",
            json!({"decision": "ablehnen"}),
        );
        a.expected_version = Some(case.version);
        b.expected_version = Some(case.version);
        let holder = hold_until_both_wait(&db, n.as_str()).await;
        let (engine_a, engine_b) = (app.engine.clone(), app.engine.clone());
        let ta = tokio::spawn(async move { engine_a.fire(a).await });
        let tb = tokio::spawn(async move { engine_b.fire(b).await });
        if let Some(mut h) = holder {
            h.until_waiting(2).await;
            h.release().await;
        }
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(
            [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count(),
            1,
            "round {round}: {ra:?} / {rb:?}"
        );
        let loser = ra.as_ref().err().or(rb.as_ref().err()).unwrap();
        assert!(loser.is_conflict(), "{loser}");
        let winner = ra.as_ref().or(rb.as_ref()).unwrap();
        let now = app.engine.show(&n).await.unwrap();
        assert_eq!(now.version, case.version + 1);
        assert_eq!(
            now.data["decision"], winner.data["decision"],
            "the winner's data, not a mix"
        );
        let history = app.engine.history(&n).await.unwrap();
        assert_eq!(
            history
                .iter()
                .filter(|e| e.transition.as_deref() == Some("vorschlagen"))
                .count(),
            1
        );
        assert!(app.engine.audit(Some(&n)).await.unwrap().broken.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fires_queued_by_the_in_process_writer_lock_have_one_winner_on_sqlite() {
    two_fires_at_once(crate::support::TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fires_forced_to_race_at_the_row_lock_have_one_winner_on_postgres() {
    two_fires_at_once(crate::support::TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_effect_free_fires_queued_by_the_in_process_writer_lock_have_one_winner_on_sqlite() {
    two_effect_free_fires_at_once(crate::support::TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_effect_free_fires_forced_to_race_at_the_row_lock_have_one_winner_on_postgres() {
    two_effect_free_fires_at_once(crate::support::TestDb::postgres().await).await;
}

/// Two processes (no shared writer lock) on one SQLite file fire the same
/// step on the same version: SQLite's own locking lets one win.
#[test]
fn two_processes_firing_on_one_sqlite_file_have_one_winner() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(crate::support::TestDb::sqlite());
    let bin = crate::support::Bin::new(&db);
    for round in 0..3 {
        let opened = bin
            .run(&[
                "--json",
                "case",
                "open",
                "antrag",
                "--actor",
                "eingang",
                "--role",
                "clerk",
                "--set",
                &format!("name=Kreis {round}"),
                "--party",
                "applicant=Kreis <poststelle@kreis.example.org>",
            ])
            .json();
        let n = opened["file_number"].as_str().unwrap().to_string();
        let fire = |who: &str| {
            bin.command(&[
                "case",
                "fire",
                &n,
                "pruefen",
                "--actor",
                who,
                "--role",
                "clerk",
                "--expect-version",
                "1",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        };
        // The barrier: the test holds SQLite's write lock while both
        // processes start, so neither can write before both are running;
        // it lets go only once both have opened the database and are
        // still waiting, which a sequential run could never show.
        let db_path = db.dir.path().join("amtspost.db");
        let mut holder = rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            c
        });
        let (mut a, mut b) = (fire("meier"), fire("schulz"));
        let opened = |pid: u32| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|fds| {
                    fds.filter_map(|f| std::fs::read_link(f.ok()?.path()).ok())
                        .any(|l| l == db_path)
                })
                .unwrap_or(false)
        };
        let start = std::time::Instant::now();
        while !(opened(a.id()) && opened(b.id())) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "round {round}: the processes did not open the database"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Give both time to read the case and reach the write.
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert!(
            a.try_wait().unwrap().is_none() && b.try_wait().unwrap().is_none(),
            "round {round}: a process finished while the write lock was held"
        );
        rt.block_on(async {
            sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        });
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert_eq!(
            [a.status.success(), b.status.success()]
                .iter()
                .filter(|w| **w)
                .count(),
            1,
            "round {round}:\n{}\n{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
        let loser = if a.status.success() { &b } else { &a };
        assert!(
            String::from_utf8_lossy(&loser.stderr)
                .contains("inzwischen von jemand anderem geändert"),
            "{}",
            String::from_utf8_lossy(&loser.stderr)
        );
        bin.run(&["audit", "verify"]).ok();
    }
}

on_both_databases! {
    async fn concurrent_opens_get_unique_gap_free_file_numbers(db) {
        let app = std::sync::Arc::new(TestApp::new(&db).await);
        let mut tasks = Vec::new();
        for i in 0..24 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move { app.open_antrag(&format!("Gemeinde {i}")).await.file_number.to_string() }));
        }
        let mut numbers = BTreeSet::new();
        for t in tasks {
            numbers.insert(t.await.unwrap());
        }
        let expected: BTreeSet<String> = (1..=24).map(|i| format!("AN-2012-{i:04}")).collect();
        assert_eq!(numbers, expected);
    }

    // 24 effect-free fires at once, two per case on 12 cases, both on the
    // version the clerk read: they are written in shared batches (one
    // change per case each), and still exactly one per case wins, the other
    // gets the conflict, and every case holds its winner's data.
    async fn a_crowd_of_effect_free_fires_has_one_winner_per_case(db) {
        let app = std::sync::Arc::new(TestApp::new(&db).await);
        let mut cases = Vec::new();
        for i in 0..12 {
            let n = app.open_antrag(&format!("Gemeinde {i}")).await.file_number;
            let case = app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
            cases.push(case);
        }
        let mut tasks = Vec::new();
        for case in &cases {
            for (clerk, decision) in [("meier", "bewilligen"), ("schulz", "ablehnen")] {
                let mut req = app.fire(&case.file_number, "vorschlagen", clerk, "clerk", json!({"decision": decision}));
                req.expected_version = Some(case.version);
                let engine = app.engine.clone();
                tasks.push(tokio::spawn(async move { engine.fire(req).await }));
            }
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        for (case, pair) in cases.iter().zip(results.chunks(2)) {
            let wins: Vec<_> = pair.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(wins.len(), 1, "{}: {pair:?}", case.file_number);
            let loser = pair.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert!(loser.is_conflict(), "{loser}");
            let now = app.engine.show(&case.file_number).await.unwrap();
            assert_eq!(now.version, case.version + 1);
            assert_eq!(now.data["decision"], wins[0].data["decision"]);
            let history = app.engine.history(&case.file_number).await.unwrap();
            assert_eq!(history.iter().filter(|e| e.transition.as_deref() == Some("vorschlagen")).count(), 1);
        }
        assert!(app.engine.audit(None).await.unwrap().broken.is_empty());
    }

    // Two instances on one database, each starting a fire from the row its
    // own last fire wrote. When the other instance moved the case on
    // meanwhile, that row is stale: a step allowed only in the new state
    // still succeeds, a step the old state allowed is refused for the new
    // state (not written on the old row), and the journal stays one chain.
    async fn a_fire_after_another_instance_moved_the_case_sees_the_database(db) {
        let a = TestApp::new(&db).await;
        let b = TestApp::new(&db).await;
        let n = a.open_antrag("Gemeinde Nord").await.file_number;
        a.engine.fire(a.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        b.engine
            .fire(b.fire(&n, "vorschlagen", "schulz", "clerk", json!({"decision": "ablehnen"})))
            .await
            .unwrap();
        // `a` last saw the case in_pruefung; it is entscheidungsreif now.
        let done = a.engine
            .fire(a.fire(&n, "ablehnen", "weber", "approver", json!({"reason": "Frist versäumt"})))
            .await
            .unwrap();
        assert_eq!(done.state.as_str(), "abgelehnt");
        assert_eq!(done.version, 4);

        let m = a.open_antrag("Gemeinde Süd").await.file_number;
        a.engine.fire(a.fire(&m, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        b.engine.fire(b.fire(&m, "nachfordern", "schulz", "clerk", json!({}))).await.unwrap();
        // From `a`'s old row (in_pruefung) `vorschlagen` would pass every
        // check; the case waits for documents now, so it is refused.
        let refused = a.engine
            .fire(a.fire(&m, "vorschlagen", "meier", "clerk", json!({"decision": "bewilligen"})))
            .await
            .unwrap_err();
        assert!(!refused.is_conflict(), "{refused}");
        assert!(matches!(refused, amtspost::case::CaseError::Refused(_)), "{refused}");
        let now = b.engine.show(&m).await.unwrap();
        assert_eq!((now.state.as_str(), now.version), ("wartet", 3));
        // And `a` goes on from the database's row.
        let back = a.engine.fire(a.fire(&m, "unterlagen_da", "meier", "clerk", json!({}))).await.unwrap();
        assert_eq!((back.state.as_str(), back.version), ("in_pruefung", 4));
        assert!(a.engine.audit(None).await.unwrap().broken.is_empty());
    }

    async fn sequences_restart_each_year(db) {
        let app = TestApp::new(&db).await;
        assert_eq!(app.open_antrag("A").await.file_number, "AN-2012-0001");
        assert_eq!(app.open_antrag("B").await.file_number, "AN-2012-0002");
        app.clock.set(crate::support::at("2012-12-31T23:30:00Z")); // 00:30 on 1 January in Berlin
        assert_eq!(app.open_antrag("C").await.file_number, "AN-2013-0001");
    }
}
