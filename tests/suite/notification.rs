//! How the KI workflow's letters reach the applicant and what follows from
//! it: the court taken from `workflows/data/kommunen.json` (§ 52 Nr. 3
//! Satz 2 VwGO with § 17 JustG NRW), the posting day (Ab-Vermerk) the postal
//! fiction runs from (§ 41 Abs. 2 VwVfG NRW), the Empfangsbekenntnis, and
//! the channel of notification recorded for each letter.

use std::collections::BTreeMap;

use amtspost::case::{Actor, CaseError, CaseView, OpenRequest};
use amtspost::workflow::WorkflowError;
use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::seed::{
    GERICHT, antrag_kreis_unna, assert_contains, kommune, letters, open_ki, party_of, shipped,
    try_open_ki, vorschlag,
};
use crate::support::{TestApp, at};

async fn try_open(
    app: &TestApp,
    data: Map<String, Value>,
    applicant: &Value,
) -> Result<CaseView, CaseError> {
    try_open_ki(app, data, party_of(applicant)).await
}

/// Opens the RAA transition case of a municipality.
async fn raa_case(app: &TestApp, name: &str) -> String {
    let parties = BTreeMap::from([("kommune".to_string(), party_of(&kommune(name)))]);
    let case = app
        .engine
        .open(OpenRequest {
            workflow: "raa-umwandlung".into(),
            data: serde_json::from_value(json!({"kommune": name})).unwrap(),
            parties,
            actor: Actor::new("meier", "clerk"),
        })
        .await
        .unwrap();
    case.file_number.to_string()
}

/// Fires a step the test expects to succeed.
async fn step(app: &TestApp, n: &str, transition: &str, role: &str, payload: Value) -> CaseView {
    let who = if role == "approver" {
        "schulte"
    } else {
        "meier"
    };
    app.engine
        .fire(app.fire(n, transition, who, role, payload))
        .await
        .unwrap_or_else(|e| panic!("{transition}: {e}"))
}

/// The refusal message of a guard of `transition`.
async fn refusal(app: &TestApp, n: &str, transition: &str, payload: Value) -> String {
    match app
        .engine
        .fire(app.fire(n, transition, "meier", "clerk", payload))
        .await
    {
        Err(CaseError::Refused(WorkflowError::GuardFailed { message, .. })) => message,
        other => panic!("{transition}: expected a guard to refuse, got {other:?}"),
    }
}

/// The newest deadline of that name on the case.
async fn newest(app: &TestApp, n: &str, name: &str) -> Option<amtspost::case::DeadlineView> {
    let all = app.engine.deadlines(n).await.unwrap();
    all.into_iter().find(|d| d.name == name)
}

/// Kreis Unna's application, received 01.10.2012, proposed 12.11.2012 with
/// `extra` (not yet signed).
pub(crate) async fn proposed(app: &TestApp, extra: Value) -> String {
    app.clock.set(at("2012-10-01T08:00:00Z"));
    let case = open_ki(app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
    let n = case.file_number.to_string();
    step(app, &n, "eingang_bestaetigen", "clerk", json!({})).await;
    app.clock.set(at("2012-11-12T08:00:00Z"));
    let mut proposal = vorschlag();
    for (k, v) in extra.as_object().unwrap() {
        proposal[k] = v.clone();
    }
    step(app, &n, "bewilligung_vorschlagen", "clerk", proposal).await;
    n
}

/// The approver signs the proposal on Wednesday 14.11.2012 (the notice is issued).
pub(crate) async fn approve(app: &TestApp, n: &str) -> Result<CaseView, CaseError> {
    app.clock.set(at("2012-11-14T08:00:00Z"));
    app.engine
        .fire(app.fire(
            n,
            "bewilligen",
            "schulte",
            "approver",
            json!({"zeichnung_name": "Dr. Schulte"}),
        ))
        .await
}

/// Kreis Unna's application, received 01.10.2012, proposed 12.11.2012 with
/// `extra` and signed Wednesday 14.11.2012.
pub(crate) async fn granted(app: &TestApp, extra: Value) -> String {
    let n = proposed(app, extra).await;
    let v = approve(app, &n)
        .await
        .unwrap_or_else(|e| panic!("bewilligen: {e}"));
    assert_eq!(v.state, "bewilligt");
    n
}

on_both_databases! {
    async fn the_court_and_the_kind_of_applicant_come_from_kommunen_json(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));

        // Opened without court, kind or genitive: all taken from the table.
        let aachen = kommune("StädteRegion Aachen");
        let mut data = antrag_kreis_unna();
        for f in ["verwaltungsgericht", "kommune_art", "kommune_genitiv", "raa_vorhanden"] {
            data.remove(f);
        }
        data.insert("kommune".into(), aachen["name"].clone());
        data.insert("konzept_gremium".into(), json!("Städteregionstag"));
        let case = try_open(&app, data, &aachen).await.unwrap();
        assert_eq!(case.data["verwaltungsgericht"], aachen["verwaltungsgericht"]);
        assert!(case.data["verwaltungsgericht"].as_str().unwrap().starts_with("Verwaltungsgericht Aachen, "));
        assert_eq!(case.data["kommune_art"], "StädteRegion");
        assert_eq!(case.data["kommune_genitiv"], aachen["genitiv"]);
        assert_eq!(case.data["raa_vorhanden"], aachen["raa"]);

        // Kreis Unna with another court typed in: refused when opening …
        let unna = kommune("Kreis Unna");
        let arnsberg = "Verwaltungsgericht Arnsberg, Jägerstraße 1, 59821 Arnsberg";
        let mut data = antrag_kreis_unna();
        data.insert("verwaltungsgericht".into(), json!(arnsberg));
        match try_open(&app, data, &unna).await {
            Err(CaseError::Refused(WorkflowError::LookupMismatch { field, expected, got, .. })) => {
                assert_eq!(field, "verwaltungsgericht");
                assert!(expected.starts_with("Verwaltungsgericht Gelsenkirchen, "), "{expected}");
                assert_eq!(got, arnsberg);
            }
            other => panic!("expected the court of the seat to be enforced, got {other:?}"),
        }
        let mut data = antrag_kreis_unna();
        data.insert("kommune_art".into(), json!("kreisfreie Stadt"));
        assert!(matches!(
            try_open(&app, data, &unna).await,
            Err(CaseError::Refused(WorkflowError::LookupMismatch { .. }))
        ));

        // … and on any later step, with the reason in German.
        let case = try_open(&app, antrag_kreis_unna(), &unna).await.unwrap();
        let n = case.file_number.to_string();
        step(&app, &n, "eingang_bestaetigen", "clerk", json!({})).await;
        let mut payload = vorschlag();
        payload["verwaltungsgericht"] = json!(arnsberg);
        let refused = app
            .engine
            .fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", payload))
            .await
            .unwrap_err();
        let text = refused.to_string();
        assert!(matches!(refused, CaseError::Refused(WorkflowError::LookupMismatch { .. })), "{text}");
        assert_contains(&text, &["Kreis Unna", "Verwaltungsgericht Gelsenkirchen", "§ 52 Nr. 3 Satz 2 VwGO", "nicht frei einzugeben"]);
        assert_eq!(app.engine.show(&n).await.unwrap().state, "in_pruefung");

        // An applicant not in the table: the court is entered, and its form checked.
        let mut data = antrag_kreis_unna();
        data.insert("kommune".into(), json!("Kreis Musterland"));
        data.insert("verwaltungsgericht".into(), json!("VG Gelsenkirchen"));
        let case = try_open(&app, data, &unna).await.unwrap();
        let n = case.file_number.to_string();
        assert_eq!(case.data["verwaltungsgericht"], "VG Gelsenkirchen");
        step(&app, &n, "eingang_bestaetigen", "clerk", json!({})).await;
        assert_eq!(refusal(&app, &n, "bewilligung_vorschlagen", vorschlag()).await, GERICHT);
    }

    async fn a_posting_day_entered_later_recomputes_the_deadlines_that_run_from_notification(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let case = open_ki(&app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.to_string();
        step(&app, &n, "eingang_bestaetigen", "clerk", json!({})).await;

        // Signed Thursday 04.10.2012; the workflow takes the signing day as
        // the posting day: notified Sunday 07.10., four weeks: Monday 05.11.
        app.clock.set(at("2012-10-04T08:00:00Z"));
        let v = step(&app, &n, "nachfordern", "clerk", json!({"fehlende_unterlagen": ["Arbeitsplanung"]})).await;
        assert_eq!(v.data["ab_vermerk_nachforderung"], "2012-10-04");
        let d = newest(&app, &n, "nachreichung").await.unwrap();
        assert_eq!(d.due_date, "2012-11-05");
        assert_eq!(d.explanation["steps"][0]["rule"], "Ab-Vermerk (Tag der Aufgabe zur Post)");

        // It went to the post only on Monday 08.10.: notified Thursday 11.10.,
        // four weeks: Thursday 08.11.2012.
        app.clock.set(at("2012-10-09T08:00:00Z"));
        assert_eq!(
            refusal(&app, &n, "ab_vermerk_nachforderung_eintragen", json!({"ab_vermerk_nachforderung": "2012-10-10"})).await,
            "Der Ab-Vermerk kann nicht in der Zukunft liegen"
        );
        let v = step(&app, &n, "ab_vermerk_nachforderung_eintragen", "clerk", json!({"ab_vermerk_nachforderung": "2012-10-08"})).await;
        assert_eq!(v.state, "unterlagen_angefordert", "an entry keeps the case where it is");
        let all = app.engine.deadlines(&n).await.unwrap();
        let runs: Vec<_> = all.iter().filter(|d| d.name == "nachreichung").collect();
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].due_date.as_str(), runs[0].status.as_str()), ("2012-11-08", "open"));
        assert_eq!(runs[1].status, "superseded");
        let why = runs[0].explanation.to_string();
        assert_contains(&why, &["am 08.10.2012 zur Post gegeben", "nicht vom Tag der Zeichnung", "11.10.2012", "§ 41 Abs. 2 VwVfG NRW"]);

        app.clock.set(at("2012-10-22T08:00:00Z"));
        step(&app, &n, "unterlagen_eingegangen", "clerk", json!({})).await;
        app.clock.set(at("2012-11-12T08:00:00Z"));
        step(&app, &n, "bewilligung_vorschlagen", "clerk", vorschlag()).await;
        app.clock.set(at("2012-11-14T08:00:00Z"));
        step(&app, &n, "bewilligen", "approver", json!({"zeichnung_name": "Dr. Schulte"})).await;
        assert_eq!(newest(&app, &n, "klagefrist").await.unwrap().due_date, "2012-12-17");

        // The notice went out on Friday 16.11.: notified Monday 19.11., the
        // Klagefrist ends Wednesday 19.12.2012, recomputed on the closed case.
        app.clock.set(at("2012-11-19T08:00:00Z"));
        let v = step(&app, &n, "ab_vermerk_eintragen", "clerk", json!({"ab_vermerk_bescheid": "2012-11-16"})).await;
        assert_eq!(v.state, "bewilligt");
        let k = newest(&app, &n, "klagefrist").await.unwrap();
        assert_eq!((k.due_date.as_str(), k.status.as_str()), ("2012-12-19", "open"));
        assert_contains(&k.explanation.to_string(), &["16.11.2012 zur Post gegeben", "§ 57 Abs. 2 VwGO", "19.11.2012"]);
        // Sent by post, not against an acknowledgement.
        assert_eq!(
            refusal(&app, &n, "empfangsbekenntnis_eintragen", json!({"eb_datum": "2012-11-19"})).await,
            "Der Bescheid wurde nicht gegen Empfangsbekenntnis zugestellt"
        );
        // Still closed for everything else.
        assert!(matches!(
            app.engine.fire(app.fire(&n, "zurueckgeben", "schulte", "approver", json!({"vermerk": "x"}))).await,
            Err(CaseError::Refused(WorkflowError::CaseClosed { .. }))
        ));
    }

    async fn a_notice_against_empfangsbekenntnis_runs_its_klagefrist_from_the_acknowledgement(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        let n = granted(&app, json!({"gegen_eb": true})).await;
        let case = app.engine.show(&n).await.unwrap();
        assert!(case.data["ab_vermerk_bescheid"].is_null(), "no posting day is assumed");
        assert!(newest(&app, &n, "klagefrist").await.is_none(), "the Klagefrist waits for the acknowledgement");
        let texts = letters(&app, &db, &n).await;
        assert_contains(&texts["zuwendungsbescheid"], &["Gegen Empfangsbekenntnis"]);

        app.clock.set(at("2012-11-22T08:00:00Z"));
        assert_eq!(
            refusal(&app, &n, "empfangsbekenntnis_eintragen", json!({"eb_datum": "2012-11-23"})).await,
            "Das Datum des Empfangsbekenntnisses kann nicht in der Zukunft liegen"
        );
        assert!(refusal(&app, &n, "ab_vermerk_eintragen", json!({"ab_vermerk_bescheid": "2012-11-14"})).await
            .contains("vom Datum auf dem Empfangsbekenntnis"));
        // Acknowledged Tuesday 20.11.2012: one month, no postal fiction: Thursday 20.12.2012.
        let v = step(&app, &n, "empfangsbekenntnis_eintragen", "clerk", json!({"eb_datum": "2012-11-20"})).await;
        assert_eq!(v.state, "bewilligt");
        let k = newest(&app, &n, "klagefrist").await.unwrap();
        assert_eq!((k.due_date.as_str(), k.status.as_str()), ("2012-12-20", "open"));
        let why = k.explanation.to_string();
        assert_contains(&why, &["gegen Empfangsbekenntnis zugestellt", "20.11.2012", "§ 57 Abs. 2 VwGO"]);
        assert!(!why.contains("zur Post gegeben"), "{why}");
    }

    async fn each_letter_records_its_channel_and_its_mail_is_only_a_copy(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        let n = granted(&app, json!({})).await;
        let history = app.engine.history(&n).await.unwrap();
        // Enclosures record the letter they go with, not a channel of their own.
        let issued: Vec<_> = history
            .iter()
            .filter(|e| e.kind == "letter_issued" && e.payload.get("enclosure_of").is_none())
            .collect();
        assert_eq!(issued.len(), 2, "acknowledgement and notice");
        for e in issued {
            assert_eq!(
                e.payload["channel"],
                json!({"notification": "Post", "mail": "vorab zur Information"}),
                "{}", e.payload["template"]
            );
        }
    }

    async fn a_ki_case_of_a_municipality_with_an_raa_cannot_overlap_its_old_form_funding(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-08-01T08:00:00Z"));
        let raa = raa_case(&app, "Kreis Unna").await;
        assert!(refusal(&app, &raa, "umwandlung_einleiten", json!({"raa_foerderung_bis": "2013-08-31"})).await
            .starts_with("Die Förderung der RAA in bisheriger Form ist längstens bis zum 31.07.2013 möglich"));
        step(&app, &raa, "umwandlung_einleiten", "clerk", json!({"raa_foerderung_bis": "2013-07-31"})).await;

        // The RAA flag comes from kommunen.json; without the link the proposal is refused.
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.remove("raa_vorhanden");
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        assert_eq!(case.data["raa_vorhanden"], true);
        let n = case.file_number.to_string();
        step(&app, &n, "eingang_bestaetigen", "clerk", json!({})).await;
        assert!(refusal(&app, &n, "bewilligung_vorschlagen", vorschlag()).await
            .starts_with("Kommune mit RAA: das Aktenzeichen des Falls der RAA-Umwandlung angeben"));

        // Linked: the end of old-form funding comes from the RAA case, and KI
        // funding from 01.01.2013 would overlap it.
        let mut proposal = vorschlag();
        proposal["raa_aktenzeichen"] = json!(raa);
        assert!(refusal(&app, &n, "bewilligung_vorschlagen", proposal.clone()).await
            .starts_with("Der Bewilligungszeitraum darf erst nach dem Ende der Förderung der RAA in bisheriger Form beginnen"));

        // A missing case, another municipality's case, or another end typed in: refused.
        let hagen = raa_case(&app, "Stadt Hagen").await;
        for (field, value, needle) in [
            ("raa_aktenzeichen", json!("RAA-2012-0099"), "es gibt keinen Fall „RAA-2012-0099“"),
            ("raa_aktenzeichen", json!(hagen), "gehört zu \"Stadt Hagen\""),
            ("raa_aktenzeichen", json!(n), "des Verfahrens `raa-umwandlung`"),
            ("raa_foerderung_bis", json!("2012-12-31"), "nicht frei einzugeben"),
        ] {
            let mut p = proposal.clone();
            p[field] = value;
            match app.engine.fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", p)).await {
                Err(CaseError::Refused(e @ WorkflowError::LinkBroken { .. })) => {
                    assert!(e.to_string().contains(needle), "{e}");
                    assert!(e.to_string().contains("keine Doppelförderung"), "{e}");
                }
                other => panic!("{field}: expected a broken link, got {other:?}"),
            }
        }

        // KI funding from 01.08.2013 follows the old form: accepted.
        proposal["bewilligungszeitraum_von"] = json!("2013-08-01");
        let v = step(&app, &n, "bewilligung_vorschlagen", "clerk", proposal).await;
        assert_eq!(v.data["raa_foerderung_bis"], "2013-07-31");
        assert_eq!(v.state, "bewilligung_vorgeschlagen");

        // The RAA case is closed with the KI case of the same municipality.
        app.clock.set(at("2013-07-15T08:00:00Z"));
        let closed = app.engine
            .fire(app.fire(&raa, "umwandlung_abschliessen", "kreis", "kommune", json!({"umwandlung_datum": "2013-07-15"})))
            .await;
        assert!(matches!(closed, Err(CaseError::Refused(WorkflowError::MissingField { ref field, .. })) if field == "ki_aktenzeichen"), "{closed:?}");
        let v = step(&app, &raa, "umwandlung_abschliessen", "clerk", json!({"umwandlung_datum": "2013-07-15", "ki_aktenzeichen": n})).await;
        assert_eq!(v.state, "umgewandelt");
    }
}

/// A letter notified electronically by design (`electronic = true`): its
/// mail is the notification, not a copy "vorab zur Information", and the
/// journal records the channel.
#[tokio::test]
async fn a_letter_notified_electronically_says_so_in_its_mail_and_its_journal() {
    let db = crate::support::TestDb::sqlite().await;
    let dir = db.dir.path().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = crate::support::fixtures().join("workflows/antrag.toml");
    let text = std::fs::read_to_string(fixture).unwrap().replacen(
        "{ letter = \"eingangsbestaetigung\", to = \"applicant\", data",
        "{ letter = \"eingangsbestaetigung\", to = \"applicant\", electronic = true, data",
        1,
    );
    std::fs::write(dir.join("antrag.toml"), text).unwrap();
    let app = TestApp::with_workflows(&db, &dir).await;
    let n = app.open_antrag("Stadt Musterhausen").await.file_number;
    step(&app, &n, "pruefen", "clerk", json!({})).await;

    let mail = app.app.courier().list(false, 10).await.unwrap();
    let letter = mail
        .iter()
        .find(|m| m.kind == "letter")
        .expect("the letter's mail");
    assert!(!letter.subject.contains("Vorab"), "{}", letter.subject);
    assert!(
        !letter.body.contains("keine Bekanntgabe"),
        "{}",
        letter.body
    );
    let history = app.engine.history(&n).await.unwrap();
    let issued = history.iter().find(|e| e.kind == "letter_issued").unwrap();
    assert_eq!(
        issued.payload["channel"],
        json!({"notification": "elektronisch", "mail": "Bekanntgabe"})
    );
}
