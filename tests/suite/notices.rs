//! The notices as a Dezernat signs them (issue 28, LEGAL-REVIEW-2): the
//! enclosures a notice calls „beigefügt“ are issued with it (documents,
//! mail, journal), the Verwendungsnachweis and the Empfangsbekenntnis are
//! tracked deadlines, a refusal is preceded by a last reminder or an
//! Anhörung, the consent to an early start has its letter, and portal
//! retrieval is offered only for letters dated after § 41 Abs. 2a VwVfG NRW
//! is known to be in force.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::seed::{
    antrag_kreis_unna, assert_contains, kommune, letters, open_ki, party_of, vorschlag,
};
use crate::support::{TestApp, at};

const ANLAGEN: [&str; 5] = [
    "anbest-g",
    "vordruck-mittelanforderung",
    "vordruck-verwendungsnachweis",
    "rechtsbehelfsverzicht",
    "empfangsbekenntnis",
];

/// Kreis Unna's application taken to the signed Zuwendungsbescheid on
/// 15.10.2012, with `extra` in the proposal.
async fn granted(app: &TestApp, extra: Value) -> String {
    app.clock.set(at("2012-10-01T08:00:00Z"));
    let case = open_ki(app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
    let n = case.file_number.to_string();
    app.engine
        .fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    let mut v = vorschlag();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    app.engine
        .fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", v))
        .await
        .unwrap();
    app.clock.set(at("2012-10-15T08:00:00Z"));
    app.engine
        .fire(app.fire(
            &n,
            "bewilligen",
            "schulte",
            "approver",
            json!({"zeichnung_name": "Dr. Schulte"}),
        ))
        .await
        .unwrap();
    n
}

async fn deadline(app: &TestApp, n: &str, name: &str) -> Option<(String, String)> {
    app.engine
        .deadlines(n)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .map(|d| (d.due_date, d.status.to_string()))
}

on_both_databases! {
    async fn a_notice_is_issued_with_its_enclosures_in_the_file_the_mail_and_the_journal(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        let n = granted(&app, json!({"gegen_eb": true})).await;

        // Every enclosure is a document of the case, labelled with the notice.
        let texts = letters(&app, &db, &n).await;
        for a in ANLAGEN {
            assert!(texts.contains_key(a), "{a} missing among {:?}", texts.keys().collect::<Vec<_>>());
        }
        let label = |i: usize| format!("Anlage {i} zu: Zuwendungsbescheid Nr. 36.KI-2012-001 vom 15.10.2012");
        assert_contains(&texts["anbest-g"], &[
            &label(1),
            "Allgemeine Nebenbestimmungen für Zuwendungen zur Projektförderung an Gemeinden (GV) (ANBest-G)",
            // The sections on calling funds and on the proof of use.
            "1.4 Die Zuwendung darf nur insoweit und nicht eher angefordert werden, als sie innerhalb von zwei Monaten nach der Auszahlung für fällige Zahlungen benötigt wird.",
            "7.1 Die Verwendung der Zuwendung ist innerhalb von sechs Monaten",
            "9.2 Der Erstattungsbetrag ist nach Maßgabe des § 49a Abs. 3 VwVfG NRW",
        ]);
        assert_contains(&texts["vordruck-mittelanforderung"], &[&label(2), "Anforderung von Zuwendungsmitteln", "36.KI-2012-001", "170.000,00 EUR"]);
        assert_contains(&texts["vordruck-verwendungsnachweis"], &[&label(3), "Verwendungsnachweis", "30.06.2014"]);
        assert_contains(&texts["rechtsbehelfsverzicht"], &[&label(4), "Auf die Einlegung eines Rechtsbehelfs (Klage) gegen den Zuwendungsbescheid Nr. 36.KI-2012-001 vom 15.10.2012 verzichte ich"]);
        assert_contains(&texts["empfangsbekenntnis"], &[&label(5), "Empfangsbekenntnis", "Erhalten am"]);
        // The notice lists exactly these as its Anlagen, says what binds a
        // Kämmerei and asks for the Empfangsbekenntnis.
        assert_contains(&texts["zuwendungsbescheid"], &[
            "Vordruck Mittelanforderung",
            "Vordruck Rechtsbehelfsverzichtserklärung",
            "Die Nrn. 3, 4 und 6",
            "(Nr. 1.4 ANBest-G)",
            "spätestens bis zum 30.11.2013 anzufordern",
            "um ein Zwölftel",
            "Haushaltsvorbehalt",
            "Bitte senden Sie das beigefügte Empfangsbekenntnis",
        ]);
        assert!(!texts["zuwendungsbescheid"].contains("(beim Kreis das vergleichbare Gremium)"));

        // One mail carries the notice and every enclosure.
        let mails: Vec<_> = app.app.courier().list(false, 1000).await.unwrap()
            .into_iter()
            .filter(|m| m.subject.contains(&n) && m.kind == "letter" && m.subject.contains("Vorab"))
            .collect();
        let notice = mails.iter().find(|m| m.attachments.len() > 1).expect("the notice's mail");
        let names: Vec<&str> = notice.attachments.iter().map(|a| a.filename.as_str()).collect();
        let file = n.replace('/', "-");
        let mut expected = vec![format!("zuwendungsbescheid-{file}.pdf")];
        expected.extend(ANLAGEN.iter().map(|a| format!("{a}-{file}.pdf")));
        assert_eq!(names, expected);
        assert!(notice.body.contains("Zustellung gegen Empfangsbekenntnis (§ 5 LZG NRW)"), "{}", notice.body);
        assert!(notice.body.contains("mit seinen Anlagen"), "{}", notice.body);

        // The journal records each document, the enclosures naming the notice.
        let history = app.engine.history(&n).await.unwrap();
        let issued: Vec<&Value> = history.iter().filter(|e| e.kind == "letter_issued").map(|e| &e.payload).collect();
        let main = issued.iter().find(|p| p["template"] == "zuwendungsbescheid").unwrap();
        for a in ANLAGEN {
            let e = issued.iter().find(|p| p["template"] == a).unwrap_or_else(|| panic!("no event for {a}"));
            assert_eq!(e["enclosure_of"], main["sha256"]);
        }
        let docs = app.engine.case_documents(&n).await.unwrap();
        for d in &docs {
            assert!(issued.iter().any(|p| p["sha256"] == d.sha256.as_str()), "{} has no event", d.template);
        }

        // The Empfangsbekenntnis's return and the next year's application
        // are tracked; the EB closes its own. The Verwendungsnachweis is
        // tracked by its own case (verwendungsnachweis.toml, opened when
        // the Bewilligungszeitraum ends), not twice.
        assert_eq!(deadline(&app, &n, "verwendungsnachweis").await, None);
        assert_eq!(deadline(&app, &n, "empfangsbekenntnis").await, Some(("2012-10-29".into(), "open".into())));
        assert_eq!(deadline(&app, &n, "folgeantrag").await, Some(("2013-09-30".into(), "open".into())));
        app.clock.set(at("2012-10-19T08:00:00Z"));
        app.engine.fire(app.fire(&n, "empfangsbekenntnis_eintragen", "meier", "clerk", json!({"eb_datum": "2012-10-17"}))).await.unwrap();
        assert_eq!(deadline(&app, &n, "empfangsbekenntnis").await.unwrap().1, "met");
    }

    async fn without_empfangsbekenntnis_the_notice_has_four_enclosures_and_no_eb_deadline(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        let n = granted(&app, json!({})).await;
        let texts = letters(&app, &db, &n).await;
        assert!(!texts.contains_key("empfangsbekenntnis"));
        for a in &ANLAGEN[..4] {
            assert!(texts.contains_key(*a), "{a}");
        }
        assert!(!texts["zuwendungsbescheid"].contains("Empfangsbekenntnis"));
        assert_eq!(deadline(&app, &n, "empfangsbekenntnis").await, None);
    }

    async fn a_refusal_for_missing_documents_needs_the_last_reminder_and_cites_both_letters(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.insert("arbeitsplanung_themen".into(), json!(["Integration durch Bildung"]));
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.to_string();
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({
            "fehlende_unterlagen": ["Arbeitsplanung für den Schwerpunkt „Integration als kommunale Querschnittsaufgabe“"],
        }))).await.unwrap();
        app.clock.set(at("2012-11-06T08:00:00Z"));
        app.engine.fire(app.fire(&n, "frist_abgelaufen", "amtspost", "system", json!({}))).await.unwrap();
        let propose = || app.fire(&n, "ablehnung_vorschlagen", "meier", "clerk", json!({
            "ablehnungsgruende": "Die Fördervoraussetzungen sind nicht nachgewiesen.",
        }));
        let refused = app.engine.fire(propose()).await.unwrap_err().to_string();
        assert!(refused.contains("letzten Erinnerung"), "{refused}");

        app.engine.fire(app.fire(&n, "letzte_erinnerung", "meier", "clerk", json!({}))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["erinnerung"], &[
            "Letzte Erinnerung an die Nachreichung von Unterlagen",
            "Arbeitsplanung für den Schwerpunkt",
            "Dies ist meine letzte Erinnerung",
        ]);
        // Still refused while the last period runs.
        assert!(app.engine.fire(propose()).await.is_err());
        app.clock.set(at("2012-11-27T08:00:00Z"));
        app.engine.fire(app.fire(&n, "letzte_frist_abgelaufen", "amtspost", "system", json!({}))).await.unwrap();
        app.engine.fire(propose()).await.unwrap();
        app.engine.fire(app.fire(&n, "ablehnen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["ablehnungsbescheid"], &[
            "Mit meinem Nachforderungsschreiben vom 01.10.2012",
            "Innerhalb dieser Frist ist bei mir nichts eingegangen.",
            "Mit Schreiben vom 06.11.2012 habe ich Sie ein letztes Mal an die Unterlagen erinnert",
        ]);
    }

    async fn a_refusal_on_the_merits_needs_an_anhoerung_and_names_its_outcome(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        app.clock.set(at("2012-11-05T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.remove("konzept_beschluss_datum");
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.to_string();
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        let propose = || app.fire(&n, "ablehnung_vorschlagen", "meier", "clerk", json!({
            "ablehnungsgruende": "Ein vom Kreistag beschlossenes Integrationskonzept liegt nicht vor.",
        }));
        let refused = app.engine.fire(propose()).await.unwrap_err().to_string();
        assert!(refused.contains("Anhörung"), "{refused}");
        app.clock.set(at("2012-11-16T08:00:00Z"));
        app.engine.fire(app.fire(&n, "anhoeren", "meier", "clerk", json!({
            "anhoerung_gruende": "Einen Beschluss des Kreistages über das Integrationskonzept enthält der Antrag nicht.",
        }))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        // Posted Friday 16.11., notified Monday 19.11. (§ 41 Abs. 2), two weeks: 03.12.2012.
        assert_contains(&texts["schreiben"], &[
            "Anhörung vor einer Ablehnung Ihres Antrags (§ 28 Abs. 1 VwVfG NRW)",
            "beabsichtige ich, den Antrag abzulehnen",
            "Einen Beschluss des Kreistages über das Integrationskonzept enthält der Antrag nicht.",
            "Ihre Äußerung erbitte ich bis zum 03.12.2012",
        ]);
        assert!(app.engine.fire(propose()).await.is_err(), "refused while the Anhörung runs");
        app.engine.fire(app.fire(&n, "stellungnahme_erfassen", "meier", "clerk", json!({
            "stellungnahme": "Der Kreistag wird im Frühjahr 2013 beschließen.",
        }))).await.unwrap();
        app.engine.fire(propose()).await.unwrap();
        app.engine.fire(app.fire(&n, "ablehnen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["ablehnungsbescheid"], &[
            "Mit Schreiben vom 16.11.2012 habe ich Sie zu der beabsichtigten Ablehnung angehört (§ 28 Abs. 1 VwVfG NRW).",
            "Der Kreistag wird im Frühjahr 2013 beschließen.",
        ]);
    }

    async fn the_consent_to_an_early_start_is_a_letter_and_the_notice_names_it(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let case = open_ki(&app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.to_string();
        let past = app.engine.fire(app.fire(&n, "vorzeitigen_beginn_zulassen", "meier", "clerk", json!({
            "vorzeitiger_beginn_ab": "2012-09-01", "bearbeiter_name": "Anna Becker",
        }))).await.unwrap_err().to_string();
        assert!(past.contains("nicht rückwirkend"), "{past}");
        app.engine.fire(app.fire(&n, "vorzeitigen_beginn_zulassen", "meier", "clerk", json!({
            "vorzeitiger_beginn_ab": "2012-10-08", "bearbeiter_name": "Anna Becker",
        }))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["schreiben"], &[
            "Zustimmung zum vorzeitigen Maßnahmebeginn",
            "ab dem 08.10.2012 zu (Nr. 1.3 der Verwaltungsvorschriften zu § 44 LHO)",
            "Diese Zustimmung ist keine Bewilligung.",
        ]);
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag())).await.unwrap();
        app.engine.fire(app.fire(&n, "bewilligen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["zuwendungsbescheid"], &[
            "Dem vorzeitigen Beginn der Maßnahme ab dem 08.10.2012 habe ich mit Schreiben vom 01.10.2012 zugestimmt.",
        ]);
    }

    async fn portal_retrieval_is_offered_only_for_letters_dated_after_the_rule_is_in_force(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        app.engine.give_consent("Kreis Unna", "unna").await.unwrap();
        // A 2012 notice goes by post although the municipality consented.
        let old = granted(&app, json!({})).await;
        let case = app.engine.show(&old).await.unwrap();
        assert_eq!(case.data.get("bereitstellung_bescheid"), None);
        assert_eq!(case.data["ab_vermerk_bescheid"], "2012-10-15");
        assert!(app.engine.provisions(&old).await.unwrap().is_empty());
        // One dated 2022-05-20 or later is provided for retrieval.
        app.clock.set(at("2023-03-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.insert("antrag_datum".into(), json!("2023-02-20"));
        data.insert("antrag_eingang".into(), json!("2023-02-22"));
        data.insert("konzept_beschluss_datum".into(), json!("2022-06-26"));
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.to_string();
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", json!({
            "bewilligungszeitraum_von": "2023-04-01",
            "bewilligungszeitraum_bis": "2023-12-31",
            "verwendungsnachweis_bis": "2024-06-30",
        }))).await.unwrap();
        app.engine.fire(app.fire(&n, "bewilligen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        let case = app.engine.show(&n).await.unwrap();
        assert_eq!(case.data["bereitstellung_bescheid"], "2023-03-01");
        assert_eq!(app.engine.provisions(&n).await.unwrap().len(), 1);
    }
}
