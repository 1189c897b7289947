//! Deadlines, reminders and escalation, counted at a real SMTP server.

use std::time::Duration;

use serde_json::json;

use crate::on_both_databases;
use crate::support::smtp::SmtpSink;
use crate::support::{Bin, TestApp, at};

/// A case waiting for documents: the deadline (2 weeks from notification by
/// post, posted Monday 19.03.2012, notified Thursday 22.03.) ends Thursday 05.04.2012.
async fn waiting_case(app: &TestApp) -> String {
    let n = app.open_antrag("Kreis Unna").await.file_number;
    app.engine
        .fire(app.fire(&n, "pruefen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    app.engine
        .fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({})))
        .await
        .unwrap();
    n.to_string()
}

/// Reminder mails received, in order.
fn reminders_at(sink: &SmtpSink) -> Vec<crate::support::smtp::Received> {
    sink.messages()
        .into_iter()
        .filter(|m| m.subject.starts_with("Fristerinnerung"))
        .collect()
}

fn berlin_morning(date: &str) -> chrono::DateTime<chrono::Utc> {
    at(&format!("{date}T07:00:00+02:00"))
}

on_both_databases! {
    async fn a_deadline_is_computed_by_the_rules_and_shown_with_days_left(db) {
        let app = TestApp::new(&db).await;
        let n = waiting_case(&app).await;
        let d = app.engine.deadlines(&n).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].due_date, "2012-04-05");
        assert_eq!(d[0].days_left, Some(17));
        let history = app.engine.history(&n).await.unwrap();
        let set = history.iter().find(|e| e.kind == "deadline_set").unwrap();
        let steps = set.payload["explanation"]["steps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s["rule"].as_str().unwrap().contains("§ 41 Abs. 2")), "{steps:?}");
    }

    async fn each_reminder_is_sent_once_and_missed_steps_collapse_into_the_latest(db) {
        let sink = SmtpSink::start().await;
        let app = TestApp::new(&db).await;
        let courier = app.courier(sink.port, 3);
        let n = waiting_case(&app).await;

        app.clock.set(berlin_morning("2012-03-28"));
        assert!(app.engine.remind(false).await.unwrap().reminders.is_empty(), "nothing due 8 days before");

        app.clock.set(berlin_morning("2012-03-29"));
        let first = app.engine.remind(false).await.unwrap();
        assert_eq!(first.reminders.len(), 1);
        assert_eq!(first.reminders[0].step, "7d");
        let again = app.engine.remind(false).await.unwrap();
        assert!(again.reminders.is_empty(), "a second pass sends nothing");
        assert_eq!(courier.deliver_due().await.unwrap().sent, 2, "the acknowledgement letter and one reminder");

        // The service was down on 02.04. (3d step); on 04.04. only the 1d step goes out.
        app.clock.set(berlin_morning("2012-04-04"));
        let late = app.engine.remind(false).await.unwrap();
        assert_eq!(late.reminders.len(), 1);
        assert_eq!(late.reminders[0].step, "1d");
        assert_eq!(late.passed_over, 1);
        courier.deliver_due().await.unwrap();

        sink.wait_for(3, Duration::from_secs(10)).await;
        let mails = reminders_at(&sink);
        assert_eq!(mails.len(), 2);
        assert!(mails.iter().all(|m| m.envelope_to == ["poststelle@kreis-unna.example.org"]));
        assert!(mails[0].subject.contains(&n) && mails[0].subject.contains("05.04.2012"), "{}", mails[0].subject);
        assert!(mails[0].text.contains("7 Tage"), "{}", mails[0].text);
        assert!(mails[1].text.contains("1 Tag"), "{}", mails[1].text);
        assert!(mails[1].text.contains("§ 25 Abs. 1 VwVfG NRW"), "{}", mails[1].text);
        let queued = app.engine.history(&n).await.unwrap().iter().filter(|e| e.kind == "reminder_queued").count();
        assert_eq!(queued, 2);
    }

    async fn an_expired_deadline_escalates_once_and_fires_its_transition(db) {
        let sink = SmtpSink::start().await;
        let app = TestApp::new(&db).await;
        let courier = app.courier(sink.port, 3);
        let n = waiting_case(&app).await;

        app.clock.set(berlin_morning("2012-04-05"));
        assert!(app.engine.remind(false).await.unwrap().expired.is_empty(), "the last day still counts");
        app.clock.set(berlin_morning("2012-04-06"));
        let r = app.engine.remind(false).await.unwrap();
        assert_eq!(r.expired.len(), 1);
        assert_eq!(r.fired, [format!("{n}: frist_abgelaufen -> in_pruefung")]);
        assert!(app.engine.remind(false).await.unwrap().expired.is_empty());
        courier.deliver_due().await.unwrap();

        let mails = sink.messages();
        let escalations: Vec<_> = mails.iter().filter(|m| m.subject.starts_with("Frist versäumt")).collect();
        assert_eq!(escalations.len(), 1);
        assert_eq!(escalations[0].envelope_to, ["dezernat36@bra.example.org"]);
        // A proper salutation, and the responsible named for people: the
        // role's title while nobody is assigned, never its id (LEGAL-REVIEW-2 N9).
        let text = &escalations[0].text;
        assert!(text.starts_with("Sehr geehrte Damen und Herren,"), "{text}");
        assert!(text.contains("Zuständig:       noch niemand zugewiesen (Sachbearbeitung)"), "{text}");
        assert!(!text.contains("Zuständig:       clerk"), "{text}");
        assert_eq!(app.engine.show(&n).await.unwrap().state, "in_pruefung");
        let d = app.engine.deadlines(&n).await.unwrap();
        assert_eq!(d[0].status, "expired");
        assert!(app.engine.audit(Some(&n)).await.unwrap().broken.is_empty());
    }

    async fn a_met_deadline_sends_no_reminders(db) {
        let sink = SmtpSink::start().await;
        let app = TestApp::new(&db).await;
        let n = waiting_case(&app).await;
        app.engine.fire(app.fire(&n, "unterlagen_da", "meier", "clerk", json!({}))).await.unwrap();
        app.clock.set(berlin_morning("2012-04-04"));
        let r = app.engine.remind(false).await.unwrap();
        assert!(r.reminders.is_empty());
        app.clock.set(berlin_morning("2012-04-10"));
        assert!(app.engine.remind(false).await.unwrap().expired.is_empty());
        app.courier(sink.port, 3).deliver_due().await.unwrap();
        assert!(reminders_at(&sink).is_empty());
        assert_eq!(app.engine.deadlines(&n).await.unwrap()[0].status, "met");
    }

    // PostgreSQL: both processes are held at the reminders table until
    // both wait there (seen in pg_stat_activity), then race for each
    // reminder row. SQLite: the file's write lock queues the two processes.
    async fn two_processes_running_the_pass_at_once_send_each_reminder_once_raced_on_postgres_queued_on_sqlite(db) {
        let sink = SmtpSink::start().await;
        let app = TestApp::new(&db).await;
        for i in 0..6 {
            let n = app.open_antrag(&format!("Gemeinde {i}")).await.file_number;
            app.engine.fire(app.fire(&n, "pruefen", "meier", "clerk", json!({}))).await.unwrap();
            app.engine.fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({}))).await.unwrap();
        }
        let bin = Bin::new(&db);
        let port = sink.port.to_string();
        let spawn = || {
            bin.command(&["remind", "run"])
                .env("AMTSPOST_NOW", "2012-03-29T07:00:00+02:00")
                .env("AMTSPOST_MAIL__TRANSPORT", "smtp")
                .env("AMTSPOST_MAIL__SMTP_PORT", &port)
                .env("AMTSPOST_MAIL__TLS", "none")
                .spawn()
                .unwrap()
        };
        let holder = if db.is_postgres() {
            Some(crate::support::PgHolder::hold(&db, "LOCK TABLE reminders IN SHARE ROW EXCLUSIVE MODE").await)
        } else {
            None
        };
        let (mut a, mut b) = (spawn(), spawn());
        if let Some(mut h) = holder {
            h.until_waiting(2).await;
            h.release().await;
        }
        assert!(a.wait().unwrap().success());
        assert!(b.wait().unwrap().success());
        sink.wait_for(12, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mails = reminders_at(&sink);
        assert_eq!(mails.len(), 6, "six cases, one reminder each: {:?}",
            mails.iter().map(|m| &m.subject).collect::<Vec<_>>());
        let ids: std::collections::BTreeSet<_> = mails.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(ids.len(), 6);
        // The acknowledgement letters went out exactly once too.
        assert_eq!(sink.messages().len(), 12);
    }
}
