//! The journal: append-only in the database, tamper-evident by its hash chain.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Bin, TestApp};

async fn case_through_review(app: &TestApp) -> String {
    let case = app.open_antrag("Kreis Unna").await;
    let n = case.file_number.clone();
    app.engine
        .fire(app.fire(&n, "pruefen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    app.engine
        .fire(app.fire(
            &n,
            "vorschlagen",
            "meier",
            "clerk",
            json!({"decision": "bewilligen", "posts": 3}),
        ))
        .await
        .unwrap();
    n.to_string()
}

on_both_databases! {
    async fn the_database_refuses_to_change_or_delete_journal_rows(db) {
        let app = TestApp::new(&db).await;
        case_through_review(&app).await;
        let err = db.execute_raw("UPDATE journal SET actor = 'mallory' WHERE seq = 2").await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = db.execute_raw("DELETE FROM journal WHERE seq = 3").await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    async fn a_tampered_journal_row_is_caught_by_audit_verify(db) {
        let app = TestApp::new(&db).await;
        let n = case_through_review(&app).await;
        let other = app.open_antrag("Stadt Hamm").await.file_number;
        let bin = Bin::new(&db);
        let ok = bin.run(&["audit", "verify"]).ok();
        assert!(ok.contains("checked 2 case(s), 5 event(s)"), "{ok}");
        assert!(ok.contains("all hash chains intact"), "{ok}");

        // A database administrator bypasses the trigger and edits the payload of event 4 (the proposal).
        let bypass = if db.is_postgres() {
            "ALTER TABLE journal DISABLE TRIGGER journal_no_update_or_delete;
             UPDATE journal SET payload = REPLACE(payload, 'bewilligen', 'ablehnen') WHERE seq = 4;
             ALTER TABLE journal ENABLE TRIGGER journal_no_update_or_delete"
        } else {
            "DROP TRIGGER journal_no_update;
             UPDATE journal SET payload = REPLACE(payload, 'bewilligen', 'ablehnen') WHERE seq = 4"
        };
        db.execute_raw(bypass).await.unwrap();

        let run = bin.run(&["audit", "verify"]);
        let out = run.stdout();
        assert_eq!(run.code(), 1);
        assert!(out.contains(&format!("BROKEN {n} at event 4: its content does not match its hash")), "{out}");
        assert!(!out.contains(other.as_str()), "the untouched case is intact: {out}");
        assert!(run.stderr().contains(&format!("1 case(s) with a broken journal chain; first: {n} at event 4")));
        // Verifying only the intact case passes.
        bin.run(&["audit", "verify", &other]).ok();
    }

    async fn a_deleted_journal_row_is_caught(db) {
        let app = TestApp::new(&db).await;
        let n = case_through_review(&app).await;
        let bypass = if db.is_postgres() {
            "ALTER TABLE journal DISABLE TRIGGER journal_no_update_or_delete;
             DELETE FROM journal WHERE seq = 2;
             ALTER TABLE journal ENABLE TRIGGER journal_no_update_or_delete"
        } else {
            "DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE seq = 2"
        };
        db.execute_raw(bypass).await.unwrap();
        let report = app.engine.audit(Some(&n)).await.unwrap();
        assert_eq!(report.broken.len(), 1);
        assert_eq!(report.broken[0].link.seq, 3);
        assert!(report.broken[0].link.reason.contains("event 2 is missing"));
    }
}
