//! Workflow versions: a case stays on the version it was opened with, and a
//! used version cannot be changed silently.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{TestApp, fixtures};

fn copy_fixture(to: &std::path::Path, edit: impl Fn(String) -> String) {
    std::fs::create_dir_all(to).unwrap();
    let text = std::fs::read_to_string(fixtures().join("workflows/antrag.toml")).unwrap();
    std::fs::write(to.join("antrag.toml"), edit(text)).unwrap();
}

on_both_databases! {
    async fn editing_a_used_version_without_raising_it_is_refused(db) {
        let wf = db.dir.path().join("wf");
        copy_fixture(&wf, |t| t);
        let app = TestApp::with_workflows(&db, &wf).await;
        app.open_antrag("Kreis Unna").await;
        drop(app);

        copy_fixture(&wf, |t| t.replace("posts <= 3.5", "posts <= 5"));
        // Publishing, as `amtspost serve` does at start-up, refuses the edit.
        let err = TestApp::try_build(crate::support::test_config(&db, &wf), None).await.err().unwrap();
        assert_eq!(
            err.to_string(),
            "workflow `antrag` version 1 was changed but 1 case(s) use that version; raise `version` in the file to publish the change"
        );
    }

    async fn a_case_stays_on_the_version_it_was_opened_with(db) {
        let wf = db.dir.path().join("wf");
        copy_fixture(&wf, |t| t);
        let app = TestApp::with_workflows(&db, &wf).await;
        let old = app.open_antrag("Kreis Unna").await.file_number;
        drop(app);

        // Version 2 allows 5 posts.
        copy_fixture(&wf, |t| t.replace("version = 1", "version = 2").replace("posts <= 3.5", "posts <= 5"));
        let app = TestApp::with_workflows(&db, &wf).await;
        let new = app.open_antrag("Stadt Hamm").await;
        assert_eq!(new.workflow_version, 2);
        for n in [&old, &new.file_number] {
            app.engine.fire(app.fire(n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
            app.engine
                .fire(app.fire(n, "vorschlagen", "meier", "clerk", json!({"decision": "bewilligen", "posts": 4.5})))
                .await
                .unwrap();
        }
        let err = app.engine.fire(app.fire(&old, "bewilligen", "schulz", "approver", json!({}))).await.unwrap_err();
        assert!(err.to_string().contains("at most 3.5"), "the old case keeps version 1: {err}");
        let moved = app.engine.fire(app.fire(&new.file_number, "bewilligen", "schulz", "approver", json!({}))).await.unwrap();
        assert_eq!(moved.state, "bewilligt");
        assert_eq!(app.engine.show(&old).await.unwrap().workflow_version, 1);
    }

    async fn a_command_that_does_not_publish_runs_an_existing_case_on_its_stored_content(db) {
        let wf = db.dir.path().join("wf");
        copy_fixture(&wf, |t| t);
        let app = TestApp::with_workflows(&db, &wf).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        app.app.close().await;

        // The file is edited without raising its version; `case fire`
        // builds the app without publishing, as the CLI does.
        copy_fixture(&wf, |t| t.replace("posts <= 3.5", "posts <= 5"));
        let config = std::sync::Arc::new(crate::support::test_config(&db, &wf));
        let clock = std::sync::Arc::new(amtspost::clock::ManualClock::new(crate::support::at("2012-03-20T08:00:00Z")));
        let app = amtspost::app::App::build(config, clock).await.unwrap();
        let fire = |posts: f64| amtspost::case::FireRequest {
            file_number: n.as_str().into(),
            transition: "vorschlagen".into(),
            actor: amtspost::case::Actor::new("meier", "clerk"),
            payload: json!({"decision": "bewilligen", "posts": posts}).as_object().cloned().unwrap(),
            expected_version: None,
        };
        app.engine().fire(fire(4.5)).await.unwrap();
        let err = app.engine()
            .fire(amtspost::case::FireRequest { transition: "bewilligen".into(), actor: amtspost::case::Actor::new("schulz", "approver"), payload: Default::default(), ..fire(0.0) })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("at most 3.5"), "the case keeps the stored content: {err}");
    }
}
