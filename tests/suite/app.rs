//! The composition root: the same `App` the binary runs, its long-lived
//! parts, and the documents it keeps in the database.

use std::time::Duration;

use serde_json::json;

use crate::on_both_databases;
use crate::support::{TestApp, fixtures, test_config};

on_both_databases! {
    async fn a_database_from_before_documents_moved_in_gets_its_pdfs_imported(db) {
        let app = TestApp::new(&db).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        let doc = app.engine.case_documents(&n).await.unwrap().remove(0);
        let pdf = app.app.documents().bytes(&doc.sha256).await.unwrap();
        app.app.close().await;

        // As an older amtspost left it: the PDF in the folder, not in the database.
        db.execute_raw("DELETE FROM document_blobs").await.unwrap();
        let file = db.dir.path().join("documents").join(&doc.sha256[..2]).join(format!("{}.pdf", doc.sha256));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &pdf).unwrap();

        let app = TestApp::new(&db).await;
        let report = app.app.documents().verify(&[]).await.unwrap();
        assert_eq!(report.documents, 1);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(app.app.documents().bytes(&doc.sha256).await.unwrap(), pdf);
    }

    async fn document_export_writes_files_a_person_finds_by_file_number(db) {
        let app = TestApp::new(&db).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        let out = db.dir.path().join("export");
        let written = app.app.documents().export(&out, Some(&n)).await.unwrap();
        let expected = out.join(format!("{n}/2012-03-19_eingangsbestaetigung.pdf"));
        assert_eq!(written, [expected.clone()]);
        let doc = app.engine.case_documents(&n).await.unwrap().remove(0);
        assert_eq!(std::fs::read(&expected).unwrap(), app.app.documents().bytes(&doc.sha256).await.unwrap());
    }
}

#[tokio::test]
async fn the_long_lived_parts_stop_together_on_shutdown() {
    let db = crate::support::TestDb::sqlite().await;
    let app = TestApp::new(&db).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let app = app.app.clone();
        async move {
            app.run_until_stopped(async {
                let _ = rx.await;
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!running.is_finished(), "runs until told to stop");
    tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops promptly")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_failing_part_stops_the_others_and_is_named() {
    let db = crate::support::TestDb::sqlite().await;
    let mut config = test_config(&db, &fixtures().join("workflows"));
    config.scheduler.deliver = "every minute".into();
    let app = TestApp::try_build(config, None).await.unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        app.app.run_until_stopped(std::future::pending()),
    )
    .await
    .expect("a failed part ends the run");
    let err = result.unwrap_err().to_string();
    assert!(err.starts_with("courier stopped: "), "{err}");
    assert!(err.contains("scheduler.deliver"), "{err}");
}
