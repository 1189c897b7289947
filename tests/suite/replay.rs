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

/// A deadline's end forged in the database as an administrator could: the
/// journal's append-only trigger switched off, the `deadline_set` event's
/// end and reasoning moved a week, that event's and every later event's
/// hash recomputed, the case's head hash and the deadline row made to
/// match. Every hash chain verifies; the replay recomputes the deadline
/// from the workflow and the case data, and `audit verify` names it.
async fn a_forged_deadline_is_reported_by_audit_verify(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = crate::akte::full_case(&app).await;
    let mut events = app.engine.history(&n).await.unwrap();
    app.app.close().await;
    let (i, due, later) = crate::akte::forge_deadline_end(&mut events, "unterlagen");
    db.execute_raw(if db.is_postgres() {
        "ALTER TABLE journal DISABLE TRIGGER journal_no_update_or_delete"
    } else {
        "DROP TRIGGER journal_no_update"
    })
    .await
    .unwrap();
    // JSON for a SQL literal: quotes doubled, and `;` (only ever inside
    // JSON strings) written as its \u escape, since execute_raw splits
    // statements at `;`; amtspost reads the same value back.
    let quote = |s: &str| s.replace('\'', "''").replace(';', "\\u003b");
    for e in &events[i..] {
        db.execute_raw(&format!(
            "UPDATE journal SET payload = '{}', prev_hash = '{}', hash = '{}' WHERE case_id = {} AND seq = {}",
            quote(&e.payload.to_string()),
            e.prev_hash,
            e.hash,
            e.case_id,
            e.seq
        ))
        .await
        .unwrap();
    }
    let head = &events.last().unwrap().hash;
    db.execute_raw(&format!(
        "UPDATE cases SET head_hash = '{head}' WHERE file_number = '{n}'"
    ))
    .await
    .unwrap();
    assert_eq!(
        db.execute_raw(&format!(
            "UPDATE deadlines SET due_date = '{later}', explanation = '{}' WHERE name = 'unterlagen' AND due_date = '{due}'",
            quote(&events[i].payload["explanation"].to_string())
        ))
        .await
        .unwrap(),
        1
    );

    let run = Bin::new(&db).run(&["audit", "verify"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    assert!(
        out.contains("all hash chains intact"),
        "the forger recomputed the chain: {out}"
    );
    assert!(
        out.contains(&format!(
            "DIFFERS {n}: journal: event {} (deadline_set): die Frist „",
            events[i].seq
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "(`unterlagen`) endet laut Journal am {}, nach dem Verfahren und den Falldaten am {}",
            crate::akte::german_date(&later),
            crate::akte::german_date(&due)
        )),
        "{out}"
    );
}

on_both_databases! {
    async fn audit_verify_reports_a_case_row_changed_in_the_database(db) {
        a_changed_row_is_reported_by_audit_verify(db).await;
    }

    async fn audit_verify_recomputes_a_deadline_whose_journaled_end_was_forged_with_its_chain(db) {
        a_forged_deadline_is_reported_by_audit_verify(db).await;
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
            json!({"deadline": "unterlagen", "due": "2012-04-05", "explanation": {}}),
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
    let r = amtspost::journal::replay::replay(&def, app.app.config().region, &events).unwrap();
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
