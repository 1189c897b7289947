//! What a clerk and a municipality expect of the pages (SECURITY-REVIEW
//! §5): a message after every action, a summary of a refusal that links to
//! its field, a confirmation before a step that ends the case, and the new
//! file number after an online application.

use axum::http::{StatusCode, header};

use crate::http::web;
use crate::on_both_databases;

on_both_databases! {
    async fn after_a_step_the_page_says_what_happened_and_a_refusal_links_to_its_field(db) {
        let w = web(&db).await;
        let (becker, csrf) = w.login("becker").await;
        let n = w.open_unna(&becker).await;
        let r = w.form(&format!("/faelle/{n}/schritte/eingang_bestaetigen"), &becker,
            &[("csrf", &csrf), ("bearbeiter_name", "Anna Becker")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let to = r.headers[header::LOCATION].to_str().unwrap().to_string();
        assert_eq!(to, format!("/faelle/{n}?erledigt=eingang_bestaetigen"));
        let page = w.get(&to, &becker).await.text();
        assert!(page.contains("<p class=\"hinweis\" role=\"status\">„Eingang bestätigen“ ist ausgeführt. Der Vorgang steht jetzt auf „In Prüfung“.</p>"), "{page}");
        // Only once: the plain page has no message.
        assert!(!w.get(&format!("/faelle/{n}"), &becker).await.text().contains("ist ausgeführt"));

        // A required field left empty: the summary at the top links to it.
        let r = w.form(&format!("/faelle/{n}/schritte/nachfordern"), &becker, &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text();
        assert!(page.contains("<div class=\"fehler-uebersicht\" role=\"alert\">"), "{page}");
        assert!(page.contains("„Unterlagen nachfordern“ wurde nicht ausgeführt"), "{page}");
        assert!(page.contains("<a href=\"#nachfordern-fehlende_unterlagen\">"), "{page}");
        assert!(page.contains("id=\"nachfordern-fehlende_unterlagen\""), "{page}");
    }

    async fn a_step_that_ends_the_case_must_be_confirmed(db) {
        let w = web(&db).await;
        let (becker, csrf) = w.login("becker").await;
        let n = w.open_unna(&becker).await;
        let page = w.get(&format!("/faelle/{n}"), &becker).await.text();
        assert!(page.contains("id=\"zuruecknehmen-bestaetigung\" name=\"bestaetigung\" value=\"ja\" required"), "{page}");
        // Steps that do not end the case ask nothing.
        assert!(!page.contains("id=\"eingang_bestaetigen-bestaetigung\""), "{page}");

        let url = format!("/faelle/{n}/schritte/zuruecknehmen");
        let r = w.form(&url, &becker, &[("csrf", &csrf), ("vermerk", "Antrag telefonisch zurückgezogen")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("Bitte bestätigen Sie, dass dieser Schritt den Vorgang abschließt"), "{}", r.text());
        assert!(r.text().contains("<a href=\"#zuruecknehmen-bestaetigung\">"), "{}", r.text());
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["state"], "eingegangen", "nothing was done");

        let r = w.form(&url, &becker, &[("csrf", &csrf), ("vermerk", "Antrag telefonisch zurückgezogen"), ("bestaetigung", "ja")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["state"], "zurueckgenommen");
    }

    async fn the_municipality_confirms_a_withdrawal_and_learns_its_new_file_number(db) {
        let w = web(&db).await;
        let (unna, csrf) = w.login("unna").await;
        let n = crate::portal::apply(&w, &unna, &csrf).await;
        let page = w.get(&format!("/portal/faelle/{n}?hinweis=eingereicht"), &unna).await.text();
        assert!(page.contains(&format!("„Förderantrag Kommunales Integrationszentrum“ ist eingegangen. Aktenzeichen: {n}")), "{page}");

        let page = w.get(&format!("/portal/faelle/{n}"), &unna).await.text();
        assert!(page.contains("name=\"bestaetigung\" value=\"ja\" required"), "{page}");
        let url = format!("/portal/faelle/{n}/schritte/zuruecknehmen");
        let r = w.form(&url, &unna, &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("Bitte bestätigen Sie"), "{}", r.text());
        let r = w.form(&url, &unna, &[("csrf", &csrf), ("bestaetigung", "ja")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let (becker, _) = w.login("becker").await;
        assert_eq!(w.get(&format!("/api/v1/cases/{n}"), &becker).await.json()["state"], "zurueckgenommen");
    }
}
