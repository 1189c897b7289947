//! A circular's distribution is the `verteilen` step itself: firing it, by
//! the engine, the API, the Fallseite or the composer's button, queues one
//! mail per member with the circular and its enclosures, once, in the
//! step's transaction; a second fire is refused and sends nothing.

use std::collections::{BTreeMap, BTreeSet};

use amtspost::case::{Actor, CaseError, OpenRequest, PartyRef};
use axum::http::{StatusCode, header};
use serde_json::json;

use crate::http::{Web, web};
use crate::on_both_databases;
use crate::seed::{obj, rundschreiben_172_12, shipped};
use crate::support::{TestApp, TestDb};

/// The Landkreistag's members in `workflows/data/kommunen.json`.
const MEMBERS: usize = 31;

/// Opens circular 172/12 and releases it under the four-eyes rule; its file number.
async fn released(app: &TestApp) -> String {
    let parties = BTreeMap::from([(
        "mitglieder".to_string(),
        "Mitglieder des Landkreistages Nordrhein-Westfalen"
            .parse::<PartyRef>()
            .unwrap(),
    )]);
    let case = app
        .engine
        .open(OpenRequest {
            workflow: "rundschreiben".into(),
            data: obj(rundschreiben_172_12()),
            parties,
            actor: Actor::new("limbach", "referent"),
        })
        .await
        .unwrap();
    let n = case.file_number.to_string();
    app.engine
        .fire(app.fire(&n, "vorlegen", "limbach", "referent", json!({})))
        .await
        .unwrap();
    let issued = app
        .engine
        .fire(app.fire(&n, "freigeben", "klein", "leitung", json!({})))
        .await
        .unwrap();
    assert_eq!(issued.state, "herausgegeben");
    n
}

async fn distribution_mails(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'distribution'")
        .await
}

on_both_databases! {
    async fn firing_verteilen_sends_each_member_one_mail_with_the_circular_and_its_enclosure_once(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        let n = released(&app).await;
        assert_eq!(distribution_mails(&db).await, 0, "releasing sends nothing yet");

        let done = app.engine.fire(app.fire(&n, "verteilen", "limbach", "referent", json!({}))).await.unwrap();
        assert_eq!(done.state, "verteilt");

        // One mail per member, each with the circular and Anlage 1 attached.
        let docs = app.engine.case_documents(&n).await.unwrap();
        let sha = |t: &str| docs.iter().find(|d| d.template == t).unwrap().sha256.clone();
        let mails: Vec<_> = app.engine.case_mail(&n).await.unwrap().into_iter().filter(|m| m.kind == "distribution").collect();
        assert_eq!(mails.len(), MEMBERS);
        let to: BTreeSet<_> = mails.iter().flat_map(|m| m.recipients.clone()).collect();
        assert_eq!(to.len(), MEMBERS, "every member once");
        assert!(to.contains("poststelle@kreis-unna.example.org"), "{to:?}");
        for m in &mails {
            let attached: Vec<_> = m.attachments.iter().map(|a| a.sha256.clone()).collect();
            assert_eq!(attached, [sha("rundschreiben"), sha("anlage")], "{}", m.recipients[0]);
        }
        // The mail's context comes from the workflow's `data`.
        let unna = mails.iter().find(|m| m.recipients[0] == "poststelle@kreis-unna.example.org").unwrap();
        assert_eq!(unna.subject, format!(
            "Rundschreiben 1/12: {}",
            rundschreiben_172_12()["betreff"].as_str().unwrap()
        ));
        for needle in ["An: Kreis Unna", "vom 19.03.2012", "Das MAIS hat die kommunalen Spitzenverbände", "Landkreistag Nordrhein-Westfalen"] {
            assert!(unna.body.contains(needle), "{needle} missing in\n{}", unna.body);
        }
        // Each member sees it in its portal.
        let unna_circulars = app.engine.circulars_for("Kreis Unna").await.unwrap();
        assert_eq!(unna_circulars.iter().filter(|d| d.file_number == n).count(), 1);
        assert_eq!(db.count("SELECT COUNT(*) FROM deliveries").await, MEMBERS as i64);
        // Journaled with the step: the fire and the distribution to all members.
        let history = app.engine.history(&n).await.unwrap();
        let fired = history.iter().position(|e| e.transition.as_deref() == Some("verteilen")).unwrap();
        let queued = &history[fired + 1];
        assert_eq!(queued.kind, "mail_queued");
        assert_eq!(queued.payload["distribution"], "rundschreiben");
        assert_eq!(queued.payload["recipients"].as_array().unwrap().len(), MEMBERS);
        assert_eq!(queued.recorded_at, history[fired].recorded_at, "one transaction");

        // Again: refused, and nobody gets a second mail.
        let again = app.engine.fire(app.fire(&n, "verteilen", "klein", "leitung", json!({}))).await;
        assert!(matches!(again, Err(CaseError::Refused(_))), "{again:?}");
        assert_eq!(distribution_mails(&db).await, MEMBERS as i64);
        assert_eq!(app.engine.history(&n).await.unwrap().len(), history.len());
    }

    async fn verteilen_distributes_through_the_api_the_fallseite_and_the_composer_alike(db) {
        let w = web(&db).await;
        let (klein, klein_csrf) = w.login("lkt_leitung").await;

        // The API.
        let n = released(&w.app).await;
        let r = w.fire(&klein, &n, "verteilen", None, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["state"], "verteilt");
        assert_eq!(distribution_mails(&db).await, MEMBERS as i64);
        let r = w.fire(&klein, &n, "verteilen", None, json!({})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(distribution_mails(&db).await, MEMBERS as i64);

        // The plain step on the Fallseite (no more „verteilt“ without sending).
        let n = released(&w.app).await;
        // Sending to every member cannot be undone: the form asks first.
        let r = w.form(&format!("/faelle/{n}/schritte/verteilen"), &klein, &[("csrf", &klein_csrf)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(distribution_mails(&db).await, MEMBERS as i64);
        let r = w.form(&format!("/faelle/{n}/schritte/verteilen"), &klein, &[("csrf", &klein_csrf), ("bestaetigung", "ja")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(state(&w, &klein, &n).await, "verteilt");
        assert_eq!(distribution_mails(&db).await, 2 * MEMBERS as i64);

        // The composer's button, posted twice.
        let n = released(&w.app).await;
        let url = format!("/rundschreiben/{n}/versenden");
        let r = w.form(&url, &klein, &[("csrf", &klein_csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert_eq!(r.headers[header::LOCATION], format!("/rundschreiben/{n}"));
        assert_eq!(state(&w, &klein, &n).await, "verteilt");
        assert_eq!(distribution_mails(&db).await, 3 * MEMBERS as i64);
        let r = w.form(&url, &klein, &[("csrf", &klein_csrf)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(distribution_mails(&db).await, 3 * MEMBERS as i64);
    }
}

async fn state(w: &Web, cookie: &str, n: &str) -> String {
    let case = w
        .json("GET", &format!("/api/v1/cases/{n}"), Some(cookie), None)
        .await
        .json();
    case["state"].as_str().unwrap().to_string()
}
