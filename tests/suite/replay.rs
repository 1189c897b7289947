//! `audit verify` checks the cases, not only the hash chains: each journal
//! is replayed under the case's workflow version and compared with the
//! stored rows. A row changed directly in the database (the chain intact)
//! is reported naming the case and the first differing item, exit code 1.
//! And the replay's speed on a million events (ignored: run it with
//! `cargo test --release --test suite replay_speed -- --ignored --nocapture`).

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Bin, TestApp, TestDb};

async fn a_changed_row_is_reported_by_audit_verify(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = crate::akte::full_case(&app).await;
    app.app.close().await;
    let bin = Bin::new(&db);
    let ok = bin.run(&["audit", "verify"]).ok();
    assert!(ok.contains("all hash chains intact"), "{ok}");
    assert!(
        ok.contains("every case is what its journal replays to"),
        "{ok}"
    );

    // A granted amount changed behind the engine's back: the chain is
    // intact, the replay gives it away.
    let data: String = db.texts("SELECT data FROM cases").await.remove(0);
    let changed = data.replace("\"posts\":2", "\"posts\":20");
    assert_ne!(changed, data);
    db.execute_raw(&format!(
        "UPDATE cases SET data = '{}' WHERE file_number = '{n}'",
        changed.replace('\'', "''")
    ))
    .await
    .unwrap();
    let run = bin.run(&["audit", "verify"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    assert!(out.contains("all hash chains intact"), "{out}");
    assert!(
        out.contains(&format!(
            "DIFFERS {n}: data.posts: gespeichert ist 20, aus dem Journal folgt 2"
        )),
        "{out}"
    );
    assert!(
        run.stderr().contains(&format!("first: {n}: data.posts")),
        "{}",
        run.stderr()
    );
    // Restored, the case verifies again.
    db.execute_raw(&format!(
        "UPDATE cases SET data = '{}' WHERE file_number = '{n}'",
        data.replace('\'', "''")
    ))
    .await
    .unwrap();
    bin.run(&["audit", "verify"]).ok();

    // A state, a deadline, an e-mail address: each named.
    let due = db.texts("SELECT due_date FROM deadlines").await.remove(0);
    let changes = [
        (
            "UPDATE cases SET state = 'abgelehnt'".to_string(),
            "state: gespeichert ist abgelehnt, aus dem Journal folgt bewilligt",
            "UPDATE cases SET state = 'bewilligt'".to_string(),
        ),
        (
            "UPDATE deadlines SET due_date = '2013-01-01'".to_string(),
            "deadline 1 (unterlagen).due_date",
            format!("UPDATE deadlines SET due_date = '{due}'"),
        ),
    ];
    for (change, item, undo) in changes {
        db.execute_raw(&change).await.unwrap();
        let run = bin.run(&["audit", "verify", &n]);
        assert_eq!(run.code(), 1, "{change}: {}", run.stdout());
        assert!(
            run.stdout().contains(&format!("DIFFERS {n}: {item}")),
            "{}",
            run.stdout()
        );
        db.execute_raw(&undo).await.unwrap();
    }
    let parties: String = db.texts("SELECT parties FROM cases").await.remove(0);
    let forged = parties.replace("poststelle@kreis-unna", "kasse@kreis-unna");
    assert_ne!(forged, parties);
    db.execute_raw(&format!(
        "UPDATE cases SET parties = '{}'",
        forged.replace('\'', "''")
    ))
    .await
    .unwrap();
    let run = bin.run(&["--json", "audit", "verify"]);
    assert_eq!(run.code(), 1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["differs"][0]["file_number"], json!(n));
    assert_eq!(
        report["differs"][0]["item"], "parties.applicant.email",
        "{report}"
    );
}

on_both_databases! {
    async fn audit_verify_reports_a_case_row_changed_in_the_database(db) {
        a_changed_row_is_reported_by_audit_verify(db).await;
    }
}

/// A journal of a million events (one case moving between review and
/// waiting for documents, with a deadline and a letter each time),
/// replayed under the test workflow: the time it takes.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn replay_speed_on_a_million_events() {
    use amtspost::journal::{Event, EventKind};
    let db = TestDb::sqlite().await;
    let app = TestApp::new(&db).await;
    let def = app.app.catalog().current("antrag").unwrap();
    let mut events = Vec::with_capacity(1_000_000);
    let mut seq = 0;
    let mut push =
        |kind: EventKind, transition: Option<&str>, payload: serde_json::Value, role: &str| {
            seq += 1;
            events.push(Event {
                case_id: 1,
                seq,
                recorded_at: format!(
                    "2012-03-19T08:{:02}:00.{:06}Z",
                    (seq / 1_000_000) % 60,
                    seq % 1_000_000
                ),
                actor: "meier".into(),
                role: role.into(),
                kind,
                transition: transition.map(str::to_owned),
                payload,
                prev_hash: String::new(),
                hash: format!("{seq:064}"),
            });
        };
    push(
        EventKind::Opened,
        None,
        json!({"file_number": "AN-2012-0001", "workflow": "antrag", "workflow_version": def.version,
               "state": "eingegangen", "data": {"name": "Kreis Unna"},
               "parties": {"applicant": {"name": "Kreis Unna", "email": "poststelle@kreis-unna.example.org"}}}),
        "clerk",
    );
    push(
        EventKind::Fired,
        Some("pruefen"),
        json!({"from": "eingegangen", "to": "in_pruefung", "payload": {}}),
        "clerk",
    );
    // 2 + 5 × 200 000 events.
    for _ in 0..200_000 {
        push(
            EventKind::Fired,
            Some("nachfordern"),
            json!({"from": "in_pruefung", "to": "wartet", "payload": {}}),
            "clerk",
        );
        push(
            EventKind::DeadlineSet,
            None,
            json!({"deadline": "unterlagen", "due": "2012-04-02", "explanation": {}}),
            "clerk",
        );
        push(
            EventKind::LetterIssued,
            None,
            json!({"template": "nachforderung", "template_hash": "t", "data_hash": "d", "sha256": "s", "pages": 1, "recipient": "applicant",
                   "channel": {"notification": "Post"}}),
            "clerk",
        );
        push(
            EventKind::Fired,
            Some("unterlagen_da"),
            json!({"from": "wartet", "to": "in_pruefung", "payload": {}}),
            "clerk",
        );
        push(
            EventKind::DeadlineMet,
            None,
            json!({"deadline": "unterlagen", "on": "2012-03-20"}),
            "clerk",
        );
    }
    let started = std::time::Instant::now();
    let r = amtspost::journal::replay::replay(&def, &events).unwrap();
    assert!(events.len() >= 1_000_000);
    let took = started.elapsed();
    assert_eq!(r.last_seq as usize, events.len());
    assert_eq!(r.state, "in_pruefung");
    println!(
        "replay: {} events in {:.3} s ({:.0} events/s)",
        events.len(),
        took.as_secs_f64(),
        events.len() as f64 / took.as_secs_f64()
    );
    app.app.close().await;
}
