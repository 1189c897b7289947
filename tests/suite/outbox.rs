//! The outbox: letters go out as PDF attachments; failures retry, then fail,
//! lose nothing, and go out after `outbox retry`.

use std::time::Duration;

use serde_json::json;

use crate::on_both_databases;
use crate::support::smtp::SmtpSink;
use crate::support::{Bin, TestApp};

on_both_databases! {
    async fn an_issued_letter_goes_out_as_a_pdf_attachment(db) {
        let sink = SmtpSink::start().await;
        let app = TestApp::new(&db).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        let report = app.courier(sink.port, 3).deliver_due().await.unwrap();
        assert_eq!(report.sent, 1, "{:?}", report.errors);
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        let m = &mails[0];
        assert_eq!(m.envelope_to, ["poststelle@kreis-unna.example.org"]);
        assert!(m.subject.contains(n.as_str()), "{}", m.subject);
        assert!(m.message_id.starts_with("letter."), "{}", m.message_id);
        assert!(m.message_id.ends_with("@example.org"), "{}", m.message_id);
        assert!(m.text.contains("19.03.2012"), "{}", m.text);
        let doc = &app.engine.case_documents(&n).await.unwrap()[0];
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].0, format!("eingangsbestaetigung-{n}.pdf"));
        assert_eq!(m.attachments[0].1, app.app.documents().bytes(&doc.sha256).await.unwrap());
    }

    async fn a_down_server_means_retries_then_failed_then_delivery_after_retry(db) {
        let app = TestApp::new(&db).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();

        // Nothing listens on this port.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let courier = app.courier(closed, 3);
        let r = courier.deliver_due().await.unwrap();
        assert_eq!((r.sent, r.retrying, r.failed), (0, 1, 0));
        assert!(r.errors[0].contains(&format!("127.0.0.1:{closed}")), "{:?}", r.errors);
        // Not due again before the backoff has passed.
        let r = courier.deliver_due().await.unwrap();
        assert_eq!((r.sent, r.retrying, r.failed), (0, 0, 0));
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(courier.deliver_due().await.unwrap().retrying, 1);
        app.clock.advance(chrono::Duration::minutes(2));
        assert_eq!(courier.deliver_due().await.unwrap().failed, 1);

        let failed = app.app.courier().list(true, 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attempts, 3);
        assert!(failed[0].last_error.as_deref().unwrap().contains(&format!("127.0.0.1:{closed}")));

        // The server is back: `outbox retry` through the binary delivers it.
        let sink = SmtpSink::start().await;
        let bin = Bin::new(&db);
        let id = failed[0].id.to_string();
        let listed = bin.run(&["outbox", "list", "--failed"]).ok();
        assert!(listed.contains("failed"), "{listed}");
        let out = bin
            .command(&["outbox", "retry", &id])
            .env("AMTSPOST_MAIL__TRANSPORT", "smtp")
            .env("AMTSPOST_MAIL__SMTP_PORT", sink.port.to_string())
            .env("AMTSPOST_MAIL__TLS", "none")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 sent"));
        let mails = sink.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 1);
        assert!(app.app.courier().list(true, 10).await.unwrap().is_empty());
    }

    async fn a_rejected_recipient_fails_at_once(db) {
        let sink = SmtpSink::start_failing(550).await;
        let app = TestApp::new(&db).await;
        let n = app.open_antrag("Kreis Unna").await.file_number;
        app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
        let r = app.courier(sink.port, 5).deliver_due().await.unwrap();
        assert_eq!((r.sent, r.retrying, r.failed), (0, 0, 1));
    }
}

#[tokio::test]
async fn the_folder_transport_is_the_embedded_default() {
    let db = crate::support::TestDb::sqlite().await;
    let app = TestApp::new(&db).await;
    let n = app.open_antrag("Kreis Unna").await.file_number;
    app.engine
        .fire(app.fire(&n, "pruefen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    let bin = Bin::new(&db);
    let out = bin.run(&["outbox", "send"]).ok();
    assert!(out.contains("1 sent"), "{out}");
    let files: Vec<_> = std::fs::read_dir(db.dir.path().join("out/mail"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
}
