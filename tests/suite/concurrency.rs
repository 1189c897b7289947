//! Concurrent writers: one winner per case version, gap-free file numbers.

use std::collections::BTreeSet;

use serde_json::json;

use crate::on_both_databases;
use crate::support::TestApp;

on_both_databases! {
    async fn two_concurrent_fires_on_one_case_have_exactly_one_winner(db) {
        let app = TestApp::new(&db).await;
        for round in 0..5 {
            let case = app.open_antrag(&format!("Kreis {round}")).await;
            let mut a = app.fire(&case.file_number, "pruefen", "meier", "clerk", json!({}));
            let mut b = app.fire(&case.file_number, "pruefen", "schulz", "clerk", json!({}));
            a.expected_version = Some(case.version);
            b.expected_version = Some(case.version);
            let (ra, rb) = tokio::join!(app.engine.fire(a), app.engine.fire(b));
            let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count();
            assert_eq!(wins, 1, "round {round}: {ra:?} / {rb:?}");
            let loser = ra.err().or(rb.err()).unwrap();
            assert!(loser.is_conflict(), "{loser}");
            assert!(loser.to_string().contains("changed by someone else"), "{loser}");
            let history = app.engine.history(&case.file_number).await.unwrap();
            let fired = history.iter().filter(|e| e.kind == "fired").count();
            assert_eq!(fired, 1, "exactly one fired event");
            let report = app.engine.audit(Some(&case.file_number)).await.unwrap();
            assert!(report.broken.is_empty());
        }
    }

    async fn two_concurrent_fires_without_effects_have_exactly_one_winner(db) {
        // `vorschlagen` writes nothing but the case and its journal: on
        // PostgreSQL that is one statement without a transaction around it.
        let app = TestApp::new(&db).await;
        for round in 0..5 {
            let n = app.open_antrag(&format!("Kreis {round}")).await.file_number;
            let case = app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
            let mut a = app.fire(&n, "vorschlagen", "meier", "clerk", json!({"decision": "bewilligen"}));
            let mut b = app.fire(&n, "vorschlagen", "schulz", "clerk", json!({"decision": "ablehnen"}));
            a.expected_version = Some(case.version);
            b.expected_version = Some(case.version);
            let (ra, rb) = tokio::join!(app.engine.fire(a), app.engine.fire(b));
            assert_eq!([ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count(), 1, "round {round}: {ra:?} / {rb:?}");
            let loser = ra.as_ref().err().or(rb.as_ref().err()).unwrap();
            assert!(loser.is_conflict(), "{loser}");
            let winner = ra.as_ref().or(rb.as_ref()).unwrap();
            let now = app.engine.show(&n).await.unwrap();
            assert_eq!(now.version, case.version + 1);
            assert_eq!(now.data["decision"], winner.data["decision"], "the winner's data, not a mix");
            let history = app.engine.history(&n).await.unwrap();
            assert_eq!(history.iter().filter(|e| e.transition.as_deref() == Some("vorschlagen")).count(), 1);
            assert!(app.engine.audit(Some(&n)).await.unwrap().broken.is_empty());
        }
    }

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

    async fn sequences_restart_each_year(db) {
        let app = TestApp::new(&db).await;
        assert_eq!(app.open_antrag("A").await.file_number, "AN-2012-0001");
        assert_eq!(app.open_antrag("B").await.file_number, "AN-2012-0002");
        app.clock.set(crate::support::at("2012-12-31T23:30:00Z")); // 00:30 on 1 January in Berlin
        assert_eq!(app.open_antrag("C").await.file_number, "AN-2013-0001");
    }
}
