//! What a clerk and a municipality expect of the pages (SECURITY-REVIEW
//! §5): a message after every action, a summary of a refusal that links to
//! its field, a confirmation before a step that ends the case, and the new
//! file number after an online application; opening a case from the web;
//! a lead's Arbeitskorb and assignment.

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

    async fn the_office_enters_an_application_that_came_on_paper(db) {
        let w = web(&db).await;
        let (becker, csrf) = w.login("becker").await;
        // The forms a clerk may open cases on, from the workflows.
        let page = w.get("/faelle/neu", &becker).await.text();
        assert!(page.contains("<a href=\"/faelle/neu/ki-foerderantrag/antrag\">Antrag auf Förderung eines Kommunalen Integrationszentrums</a>"), "{page}");
        assert!(page.contains("<a href=\"/faelle/neu/mittelabruf/abruf\">"), "{page}");
        let form = w.get("/faelle/neu/ki-foerderantrag/antrag", &becker).await.text();
        assert!(form.contains("<option>Kreis Unna</option>"), "{form}");
        assert!(form.contains("id=\"neu-eingang\" name=\"eingang\" type=\"date\""), "{form}");

        let url = "/faelle/neu/ki-foerderantrag/antrag";
        let mut fields = crate::portal::application_fields();
        fields.push(("csrf".into(), csrf.clone()));
        fields.push(("eingang".into(), "2012-03-15".into()));
        let pairs = |extra: &[(&'static str, &'static str)]| {
            let mut v: Vec<(String, String)> = fields.clone();
            v.extend(extra.iter().map(|(k, x)| (k.to_string(), x.to_string())));
            v
        };
        let send = |v: Vec<(String, String)>| {
            let w = &w;
            let becker = becker.clone();
            async move {
                let refs: Vec<(&str, &str)> = v.iter().map(|(k, x)| (k.as_str(), x.as_str())).collect();
                w.form(url, &becker, &refs).await
            }
        };
        // No applicant: refused at its field, what was entered kept, nothing stored.
        let before = w.get("/api/v1/cases", &becker).await.json()["items"].as_array().unwrap().len();
        let r = send(pairs(&[])).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        let page = r.text();
        assert!(page.contains("Der Vorgang wurde nicht angelegt"), "{page}");
        assert!(page.contains("<a href=\"#neu-antragsteller\">Bitte wählen Sie den Antragsteller aus der Liste.</a>"), "{page}");
        assert!(page.contains("value=\"2012-03-15\""), "{page}");
        assert_eq!(w.get("/api/v1/cases", &becker).await.json()["items"].as_array().unwrap().len(), before);

        let r = send(pairs(&[("antragsteller", "Kreis Unna")])).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let to = r.headers[header::LOCATION].to_str().unwrap().to_string();
        assert!(to.ends_with("?erledigt=angelegt"), "{to}");
        let n = to.trim_start_matches("/faelle/").split('?').next().unwrap().to_string();
        let page = w.get(&to, &becker).await.text();
        assert!(page.contains("„Vorgang anlegen“ ist ausgeführt. Der Vorgang steht jetzt auf „Antrag eingegangen“."), "{page}");
        // The case is the municipality's, arrived on the day entered, and
        // its journal names the clerk.
        let case = w.get(&format!("/api/v1/cases/{n}"), &becker).await.json();
        assert_eq!(case["parties"]["applicant"]["name"], "Kreis Unna");
        assert_eq!(case["data"]["kommune"], "Kreis Unna");
        assert_eq!(case["data"]["antrag_eingang"], "2012-03-15");
        let history = w.get(&format!("/api/v1/cases/{n}/history"), &becker).await.json();
        assert_eq!(history[0]["actor"], "becker", "{history}");
        // Kreis Unna sees it in the portal.
        let (unna, _) = w.login("unna").await;
        assert_eq!(w.get(&format!("/portal/faelle/{n}"), &unna).await.status, StatusCode::OK);
    }

    async fn a_leads_arbeitskorb_shows_the_dezernat_and_assigns_only_to_who_can_act(db) {
        let w = web(&db).await;
        let (becker, _) = w.login("becker").await;
        let n = w.open_unna(&becker).await;
        let (lead, csrf) = w.login("leitung").await;
        // By default all the Dezernat's cases, not only the lead's own.
        let page = w.get("/arbeitskorb", &lead).await.text();
        assert!(page.contains(&format!("<a href=\"/faelle/{n}\">{n}</a>")), "{page}");
        assert!(page.contains("<option value=\"false\" selected>nein, alle</option>"), "{page}");
        // The Landkreistag's lead (only circulars) is offered for no KI case.
        assert!(page.contains("<option value=\"becker\">Anna Becker</option>"), "{page}");
        // Assigning to someone who cannot act in the workflow: back to the
        // page with the message at the field.
        let r = w.form("/arbeitskorb/zuweisen", &lead, &[("csrf", &csrf), ("user", "lkt_leitung"), ("case", &n)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        let page = r.text();
        assert!(page.contains("Die Zuweisung wurde nicht ausgeführt"), "{page}");
        assert!(page.contains("<a href=\"#z-user\">lkt_leitung hat im Verfahren „Förderantrag Kommunales Integrationszentrum“ keine Rolle"), "{page}");
        assert_eq!(w.app.engine.assignee(&n).await.unwrap(), None, "nothing assigned");
        // To a clerk: done, and the page says so.
        let r = w.form("/arbeitskorb/zuweisen", &lead, &[("csrf", &csrf), ("user", "wagner"), ("case", &n)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let to = r.headers[header::LOCATION].to_str().unwrap().to_string();
        assert_eq!(to, "/arbeitskorb?zugewiesen=1");
        assert!(w.get(&to, &lead).await.text().contains("Ein Vorgang ist zugewiesen."));
        assert_eq!(w.app.engine.assignee(&n).await.unwrap().as_deref(), Some("wagner"));
        // A clerk still sees first what they can act on.
        let page = w.get("/arbeitskorb", &becker).await.text();
        assert!(page.contains("<option value=\"true\" selected>ja</option>"), "{page}");
    }
}
