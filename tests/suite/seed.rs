//! The shipped workflows (`workflows/*.toml`) with the seed's procedure: the
//! approval guards of a KI application, a KI case from receipt to the signed
//! Zuwendungsbescheid, the Landkreistag's circular, and the data files in
//! `workflows/data/`.
//!
//! Set `AMTSPOST_KEEP_PDF=/some/dir` to keep the letters these tests issue.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use amtspost::case::{Actor, CaseError, CaseView, OpenRequest, PartyRef};
use amtspost::workflow::WorkflowError;
use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::support::{TestApp, TestDb, at, pdftotext};

pub(crate) fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows")
}

fn data_file(name: &str) -> Value {
    let path = shipped().join("data").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An applicant as `workflows/data/kommunen.json` describes it.
pub(crate) fn kommune(name: &str) -> Value {
    let all = data_file("kommunen.json");
    all["kommunen"]
        .as_array()
        .unwrap()
        .iter()
        .chain(all["weitere_antragsteller"].as_array().unwrap())
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in kommunen.json"))
        .clone()
}

pub(crate) fn party_of(k: &Value) -> PartyRef {
    json!({"name": k["name"], "email": k["email"], "address": k["address"]})
        .to_string()
        .parse()
        .unwrap()
}

pub(crate) fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

/// A complete application of Kreis Unna that meets every funding condition.
pub(crate) fn antrag_kreis_unna() -> Map<String, Value> {
    let k = kommune("Kreis Unna");
    obj(json!({
        "kommune": k["name"],
        "kommune_art": k["art"],
        "kommune_genitiv": k["genitiv"],
        // Kreis Unna has an RAA (kommunen.json); the link of its KI case to
        // the RAA transition case has its own test (notification.rs).
        "raa_vorhanden": false,
        "antrag_datum": "2012-09-26",
        "antrag_eingang": "2012-09-28",
        "antrag_anlagen": ["Antragsvordruck mit Stellenplan", "Integrationskonzept des Kreises Unna"],
        "ihr_zeichen": "50.3-KI/2012",
        "bearbeiter_name": "Anna Becker",
        "bearbeiter_zimmer": "B 204",
        "bearbeiter_telefon": "02931 82-2364",
        "bearbeiter_email": "dezernat36@bra.example.org",
        "konzept_beschluss_datum": "2012-06-26",
        "konzept_gremium": "Kreistag",
        "konzept_abstimmung_gemeinden": true,
        "konzept_themen": ["Integration durch Bildung", "Integration als kommunale Querschnittsaufgabe"],
        "stellen_lehrkraefte": 2,
        "stellen_paedagogik": 2,
        "stellen_verwaltung": 1,
        "stellen_assistenz": 0.5,
        "leitung_profession": "sozialpädagogische Fachkraft",
        "stellvertretung_profession": "Lehrkraft",
        "kooperationspartner": ["untere Schulaufsicht", "Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände", "Integrationsausschuss", "Migrantenselbstorganisationen"],
        "einrichtung_beschluss_datum": "2012-06-26",
        "arbeitsplanung_themen": ["Integration durch Bildung", "Integration als kommunale Querschnittsaufgabe"],
        // The Finanzierungsplan: personnel costs per group of posts in 2013.
        "ausgaben_paedagogik": 104410.0,
        "ausgaben_verwaltung": 46210.5,
        "ausgaben_assistenz": 19875.25,
        // The court of the applicant's seat, as kommunen.json gives it.
        "verwaltungsgericht": k["verwaltungsgericht"],
    }))
}

/// What the clerk adds when proposing the grant.
pub(crate) fn vorschlag() -> Value {
    json!({
        "bewilligungszeitraum_von": "2013-01-01",
        "bewilligungszeitraum_bis": "2013-12-31",
        "verwendungsnachweis_bis": "2014-06-30",
    })
}

pub(crate) async fn open_ki(
    app: &TestApp,
    data: Map<String, Value>,
    applicant: PartyRef,
) -> CaseView {
    try_open_ki(app, data, applicant).await.unwrap()
}

/// Opens a KI case, or says why not.
pub(crate) async fn try_open_ki(
    app: &TestApp,
    data: Map<String, Value>,
    applicant: PartyRef,
) -> Result<CaseView, CaseError> {
    let mut parties = BTreeMap::new();
    parties.insert("applicant".to_string(), applicant);
    app.engine
        .open(OpenRequest {
            workflow: "ki-foerderantrag".into(),
            data,
            parties,
            actor: Actor::new("eingang", "clerk"),
        })
        .await
}

/// The refusal message of a guard, or a panic naming what happened instead.
fn guard_message(result: Result<CaseView, CaseError>) -> String {
    match result {
        Err(CaseError::Refused(WorkflowError::GuardFailed {
            transition,
            message,
            ..
        })) => {
            assert_eq!(transition, "bewilligung_vorschlagen");
            message
        }
        Err(other) => panic!("expected a guard to refuse, got: {other}"),
        Ok(case) => panic!(
            "expected a guard to refuse, but the case went to {}",
            case.state
        ),
    }
}

/// The text of every letter on a case by template, kept as PDF under
/// `$AMTSPOST_KEEP_PDF` when that is set.
pub(crate) async fn letters(
    app: &TestApp,
    db: &TestDb,
    file_number: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for doc in app.engine.case_documents(file_number).await.unwrap() {
        let pdf = app.app.documents().bytes(&doc.sha256).await.unwrap();
        if let Ok(dir) = std::env::var("AMTSPOST_KEEP_PDF") {
            let backend = if db.is_postgres() {
                "postgres"
            } else {
                "sqlite"
            };
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                Path::new(&dir).join(format!("{backend}-{}.pdf", doc.template)),
                &pdf,
            )
            .unwrap();
        }
        out.insert(doc.template.clone(), pdftotext(&pdf));
    }
    out
}

/// Each needle occurs in the text, whitespace (line breaks) counting as one space.
#[track_caller]
pub(crate) fn assert_contains(text: &str, needles: &[&str]) {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for n in needles {
        assert!(flat.contains(n), "missing {n:?} in:\n{text}");
    }
}

const KONZEPT: &str = "Fördervoraussetzung fehlt: ein vom Rat bzw. Kreistag beschlossenes Integrationskonzept (Art. 1 § 7 Abs. 1 TIntG NRW); Beschlussdatum und Gremium angeben";
const GREMIUM: &str = "Das Integrationskonzept muss von der Vertretung des Antragstellers beschlossen sein: Kreistag (Kreis), Städteregionstag (StädteRegion) oder Rat (kreisfreie Stadt)";
const GEMEINDEN: &str = "Ein Kreis beschließt das Integrationskonzept in Abstimmung mit den kreisangehörigen Gemeinden (Art. 1 § 7 Abs. 1 TIntG NRW); die Abstimmung ist zu bestätigen";
const THEMEN: &str = "Das Integrationskonzept muss beide Schwerpunktthemen behandeln: „Integration durch Bildung“ und „Integration als kommunale Querschnittsaufgabe“";
const EINRICHTUNG: &str = "Fördervoraussetzung fehlt: der Beschluss des Rates bzw. Kreistages zur Einrichtung des Kommunalen Integrationszentrums (Richtlinie 2012); Beschlussdatum angeben";
const KONZEPT_ALTER: &str = "Das Integrationskonzept soll bei Antragstellung nicht älter als drei Jahre sein (Richtlinie 2012); ist es älter, die Gründe in konzept_alter_begruendung angeben";
const ARBEITSPLANUNG: &str = "Fördervoraussetzung fehlt: eine Arbeitsplanung für beide Schwerpunkte (§ 7 Abs. 1 Nr. 1 und 2 TIntG 2012: „Integration durch Bildung“ und „Integration als kommunale Querschnittsaufgabe“)";
const STELLEN: &str = "Personal: gefördert werden höchstens 2 Stellen pädagogische Fachkräfte, 1 Stelle Verwaltungsfachkraft und eine halbe Stelle Assistenzkraft (zusammen höchstens 3,5 Stellen)";
const AUSGABEN: &str = "Die zuwendungsfähigen Personalausgaben je Stellengruppe aus dem Stellen- und Finanzierungsplan fehlen (ausgaben_paedagogik, ausgaben_verwaltung, ausgaben_assistenz)";
const JAHR: &str = "Bewilligungszeitraum: die Fördersätze sind Jahresbeträge; bitte je Haushaltsjahr bewilligen (Beginn und Ende im selben Jahr)";
const PROFESSION: &str = "Leitung und Stellvertretung müssen verschiedenen Professionen angehören (Lehrkraft, sozialpädagogische Fachkraft, Verwaltungsfachkraft)";
const KOOPERATION: &str = "Von Beginn an zu beteiligen: untere Schulaufsicht, Schulverwaltung, Jugendhilfe, Wohlfahrtsverbände und Integrationsrat/-ausschuss (Kreis: Integrationsausschuss oder das vergleichbare Gremium in integrationsgremium)";
const ZEITRAUM: &str = "Bewilligungszeitraum: der Beginn muss vor dem Ende liegen";
const NACHWEIS: &str =
    "Der Verwendungsnachweis ist nach dem Ende des Bewilligungszeitraums vorzulegen";
pub(crate) const GERICHT: &str = "Verwaltungsgericht mit vollständiger Bezeichnung und Anschrift angeben, wie in kommunen.json für den Sitz des Antragstellers (§ 17 JustG NRW), z. B. „Verwaltungsgericht Gelsenkirchen, Bahnhofsvorplatz 3, 45879 Gelsenkirchen“";

on_both_databases! {
    async fn the_grant_is_computed_from_the_financing_plan_under_the_financing_type(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        let propose = |data: Map<String, Value>, payload: Value| {
            let app = &app;
            async move {
                let case = open_ki(app, data, party_of(&kommune("Kreis Unna"))).await;
                let n = case.file_number.clone();
                app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
                app.engine.fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", payload)).await.unwrap()
            }
        };
        // 2013, Festbetragsfinanzierung: 50,000 EUR per full-time post (1.5 + 1) and
        // its own 20,000 EUR for the half assistant post, never 25,000 pro rata.
        let mut data = antrag_kreis_unna();
        data.insert("stellen_paedagogik".into(), json!(1.5));
        // A figure typed by the clerk is refused: the grant is computed.
        let mut typed = vorschlag();
        typed["foerderbetrag"] = json!(999999);
        let case = open_ki(&app, data.clone(), party_of(&kommune("Kreis Unna"))).await;
        app.engine.fire(app.fire(&case.file_number, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        let refused = app.engine.fire(app.fire(&case.file_number, "bewilligung_vorschlagen", "meier", "clerk", typed)).await;
        assert!(matches!(refused, Err(CaseError::Refused(WorkflowError::ComputedField { ref field, .. })) if field == "foerderbetrag"), "{refused:?}");
        let v = propose(data, vorschlag()).await;
        assert_eq!(v.data["finanzierungsart"], "Festbetragsfinanzierung");
        assert_eq!(v.data["festbetrag_vollzeitstelle"], json!("50000.00"));
        assert_eq!(v.data["festbetrag_halbe_assistenz"], json!("20000.00"));
        assert_eq!(v.data["zuwendungsfaehige_ausgaben"], json!("170495.75"));
        assert_eq!(v.data["foerderbetrag"], json!("145000.00"));
        let history = app.engine.history(&v.file_number).await.unwrap();
        assert!(history.iter().any(|e| e.kind == "field_set" && e.payload["field"] == "foerderbetrag"));

        // Eligible expenditure below the Festbeträge: the grant is reduced to it,
        // and I.3 is the applicant's plan, not posts x rate.
        let mut data = antrag_kreis_unna();
        data.insert("ausgaben_paedagogik".into(), json!(90000.0));
        let v = propose(data, vorschlag()).await;
        assert_eq!(v.data["zuwendungsfaehige_ausgaben"], json!("156085.75"));
        assert_eq!(v.data["foerderbetrag"], json!("156085.75"));

        // 2021: Vollfinanzierung with caps of 55,000 / 22,500 EUR, per group of posts.
        let mut payload = vorschlag();
        payload["bewilligungszeitraum_von"] = json!("2021-01-01");
        payload["bewilligungszeitraum_bis"] = json!("2021-12-31");
        payload["verwendungsnachweis_bis"] = json!("2022-06-30");
        let v = propose(antrag_kreis_unna(), payload).await;
        assert_eq!(v.data["finanzierungsart"], "Vollfinanzierung");
        assert_eq!(v.data["festbetrag_vollzeitstelle"], json!("55000.00"));
        assert_eq!(v.data["festbetrag_halbe_assistenz"], json!("22500.00"));
        // min(104410, 110000) + min(46210.5, 55000) + min(19875.25, 22500)
        assert_eq!(v.data["foerderbetrag"], json!("170495.75"));
    }

    async fn a_correct_kreis_application_is_accepted_whatever_its_integration_body(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        // Teachers are seconded by the state: their posts are no condition.
        // A Kreis has no Integrationsrat (§ 27 GO NRW): its own body counts.
        let variants = [
            json!({"stellen_lehrkraefte": null}),
            json!({"stellen_lehrkraefte": 1}),
            json!({"kooperationspartner": ["untere Schulaufsicht", "Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände"],
                   "integrationsgremium": "Ausschuss für Soziales, Gesundheit und Integration"}),
            json!({"stellen_assistenz": 0, "ausgaben_assistenz": 0}),
            json!({"konzept_beschluss_datum": "2009-09-27"}),
            json!({"konzept_beschluss_datum": "2008-01-15", "konzept_alter_begruendung": "Fortgeschrieben 2011; vom Kreistag bestätigt."}),
        ];
        for change in variants {
            let mut data = antrag_kreis_unna();
            data.extend(obj(change.clone()));
            let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
            let n = &case.file_number;
            app.engine.fire(app.fire(n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
            let result = app.engine.fire(app.fire(n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag())).await;
            let case = result.unwrap_or_else(|e| panic!("{change} refused: {e}"));
            assert_eq!(case.state, "bewilligung_vorgeschlagen", "{change}");
        }
    }

    async fn each_funding_condition_refuses_the_proposal_with_its_own_message(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let case = open_ki(&app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
        let n = &case.file_number;
        app.engine.fire(app.fire(n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();

        // One broken condition at a time, everything else as in the valid application.
        let broken: &[(Value, &str)] = &[
            (json!({"einrichtung_beschluss_datum": null}), EINRICHTUNG),
            (json!({"konzept_beschluss_datum": null}), KONZEPT),
            (json!({"konzept_beschluss_datum": "2009-09-25"}), KONZEPT_ALTER),
            (json!({"arbeitsplanung_themen": ["Integration durch Bildung"]}), ARBEITSPLANUNG),
            (json!({"arbeitsplanung_themen": null}), ARBEITSPLANUNG),
            (json!({"konzept_gremium": null}), KONZEPT),
            (json!({"konzept_gremium": "Rat"}), GREMIUM),
            (json!({"konzept_abstimmung_gemeinden": false}), GEMEINDEN),
            (json!({"konzept_abstimmung_gemeinden": null}), GEMEINDEN),
            (json!({"konzept_themen": ["Integration durch Bildung"]}), THEMEN),
            (json!({"konzept_themen": null}), THEMEN),
            (json!({"stellen_paedagogik": 2.5}), STELLEN),
            (json!({"stellen_paedagogik": -1}), STELLEN),
            (json!({"stellen_verwaltung": 1.5}), STELLEN),
            (json!({"stellen_assistenz": 1}), STELLEN),
            (json!({"stellen_assistenz": 0.25}), STELLEN),
            (json!({"stellen_assistenz": null}), STELLEN),
            (json!({"stellvertretung_profession": "sozialpädagogische Fachkraft"}), PROFESSION),
            (json!({"leitung_profession": null}), PROFESSION),
            (json!({"kooperationspartner": ["untere Schulaufsicht", "Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände"]}), KOOPERATION),
            (json!({"kooperationspartner": ["Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände", "Integrationsrat"]}), KOOPERATION),
            (json!({"ausgaben_verwaltung": null}), AUSGABEN),
            (json!({"ausgaben_paedagogik": -1}), AUSGABEN),
            (json!({"bewilligungszeitraum_von": "2014-01-01"}), ZEITRAUM),
            (json!({"bewilligungszeitraum_von": "2012-08-01"}), JAHR),
            (json!({"verwendungsnachweis_bis": "2013-12-31"}), NACHWEIS),
        ];
        for (change, expected) in broken {
            let mut payload = obj(vorschlag());
            payload.extend(obj(change.clone()));
            let result = app
                .engine
                .fire(app.fire(n, "bewilligung_vorschlagen", "meier", "clerk", Value::Object(payload)))
                .await;
            assert_eq!(guard_message(result), *expected, "with {change}");
        }
        let unchanged = app.engine.show(n).await.unwrap();
        assert_eq!(unchanged.state, "in_pruefung");
        assert_eq!(unchanged.version, 2, "refusals change nothing");

        let proposed = app
            .engine
            .fire(app.fire(n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag()))
            .await
            .unwrap();
        assert_eq!(proposed.state, "bewilligung_vorgeschlagen");

        // A kreisfreie Stadt: its Rat decides, no agreement with municipalities.
        let hagen = kommune("Stadt Hagen");
        let mut data = antrag_kreis_unna();
        data.extend(obj(json!({
            "kommune": hagen["name"], "kommune_art": hagen["art"], "kommune_genitiv": hagen["genitiv"],
            "verwaltungsgericht": hagen["verwaltungsgericht"],
            "konzept_gremium": "Rat", "konzept_abstimmung_gemeinden": null,
            "kooperationspartner": ["untere Schulaufsicht", "Schulverwaltung", "Jugendhilfe", "Wohlfahrtsverbände", "Integrationsrat"],
        })));
        let case = open_ki(&app, data, party_of(&hagen)).await;
        app.engine.fire(app.fire(&case.file_number, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        let mut payload = obj(vorschlag());
        payload.insert("konzept_gremium".into(), json!("Kreistag"));
        let result = app
            .engine
            .fire(app.fire(&case.file_number, "bewilligung_vorschlagen", "meier", "clerk", Value::Object(payload)))
            .await;
        assert_eq!(guard_message(result), GREMIUM);
        let proposed = app
            .engine
            .fire(app.fire(&case.file_number, "bewilligung_vorschlagen", "meier", "clerk", vorschlag()))
            .await
            .unwrap();
        assert_eq!(proposed.state, "bewilligung_vorgeschlagen");
    }

    async fn a_ki_application_runs_from_receipt_to_the_signed_grant(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        // Received without the council resolution: the clerk asks for it.
        data.remove("konzept_beschluss_datum");
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.clone();
        assert_eq!(n, "KI-2012-0001");

        app.clock.set(at("2012-10-02T08:00:00Z"));
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();

        // Thursday 04.10.2012, by post: notified Sunday 07.10. (the fiction day
        // does not move, § 41 Abs. 2 VwVfG NRW, 3 days in 2012); four weeks
        // end Sunday 04.11., so Monday 05.11.2012 (§ 31 Abs. 3 VwVfG NRW).
        app.clock.set(at("2012-10-04T08:00:00Z"));
        let asked = app
            .engine
            .fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({
                "fehlende_unterlagen": [
                    "Beschluss des Kreistags über das Integrationskonzept (beglaubigte Abschrift)",
                    "Erklärung über die Abstimmung mit den kreisangehörigen Gemeinden",
                ],
            })))
            .await
            .unwrap();
        assert_eq!(asked.state, "unterlagen_angefordert");
        let deadlines = app.engine.deadlines(&n).await.unwrap();
        let nachreichung = deadlines.iter().find(|d| d.name == "nachreichung").unwrap();
        assert_eq!(nachreichung.due_date, "2012-11-05");
        assert_eq!(nachreichung.status, "open");

        app.clock.set(at("2012-10-22T08:00:00Z"));
        app.engine
            .fire(app.fire(&n, "unterlagen_eingegangen", "meier", "clerk", json!({"konzept_beschluss_datum": "2012-06-26"})))
            .await
            .unwrap();
        let deadlines = app.engine.deadlines(&n).await.unwrap();
        assert_eq!(deadlines.iter().find(|d| d.name == "nachreichung").unwrap().status, "met");

        app.clock.set(at("2012-11-12T08:00:00Z"));
        app.engine
            .fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag()))
            .await
            .unwrap();

        app.clock.set(at("2012-11-14T08:00:00Z"));
        let own = app
            .engine
            .fire(app.fire(&n, "bewilligen", "meier", "approver", json!({"zeichnung_name": "Meier"})))
            .await;
        assert!(matches!(own, Err(CaseError::Refused(WorkflowError::FourEyes { .. }))), "{own:?}");
        let granted = app
            .engine
            .fire(app.fire(&n, "bewilligen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"})))
            .await
            .unwrap();
        assert_eq!(granted.state, "bewilligt");
        assert_eq!(granted.data["bescheid_nr"], "36.KI-2012-001");
        // Posted Wednesday 14.11., notified Saturday 17.11., one month: Monday 17.12.2012.
        let deadlines = app.engine.deadlines(&n).await.unwrap();
        assert_eq!(deadlines.iter().find(|d| d.name == "klagefrist").unwrap().due_date, "2012-12-17");

        let letters = letters(&app, &db, &n).await;
        // Acknowledgement, Nachforderung and the notice with its four
        // enclosures (tests/suite/notices.rs looks at those).
        assert_eq!(letters.len(), 7, "{:?}", letters.keys());

        let eingang = &letters["eingangsbestaetigung"];
        assert_contains(eingang, &[
            "Bezirksregierung Arnsberg",
            "Kreis Unna",
            "Der Landrat",
            "KI-2012-0001",
            "50.3-KI/2012",
            "Anna Becker",
            "02.10.2012",
            "26.09.2012",
            "28.09.2012",
            "Kommunale Integrationszentrum des Kreises Unna",
            "Eingangsbestätigung",
            "Integrationskonzept des Kreises Unna",
            "Im Auftrag",
        ]);

        let nachforderung = &letters["nachforderung"];
        assert_contains(nachforderung, &[
            "Nachforderung von Unterlagen",
            "04.10.2012",
            "1. Beschluss des Kreistags über das Integrationskonzept",
            "2. Erklärung über die Abstimmung",
            "05.11.2012",
            "§ 24 VwVfG NRW",
            "§ 26 Abs. 2 VwVfG NRW",
            "Nach der Förderrichtlinie sind einem Antrag beizufügen",
            "Anna Becker",
        ]);
        assert!(!nachforderung.contains("kein Verwaltungsakt"), "{nachforderung}");

        let bescheid = &letters["zuwendungsbescheid"];
        assert_contains(bescheid, &[
            "Zuwendungsbescheid",
            "Bescheid-Nr. 36.KI-2012-001",
            "14.11.2012",
            "01.01.2013",
            "31.12.2013",
            "170.000,00 EUR",
            "im Wege der Festbetragsfinanzierung als Zuweisung gewährt",
            "50.000,00 EUR je Vollzeitstelle",
            "20.000,00 EUR für die halbe Stelle der Assistenzkraft",
            "Außerschulische pädagogische Fachkräfte (2 Stellen)",
            "104.410,00 EUR",
            "Verwaltungsfachkraft (1 Stelle)",
            "46.210,50 EUR",
            "Assistenzkraft (halbe Stelle)",
            "19.875,25 EUR",
            "170.495,75 EUR",
            "§ 7 Abs. 1 des Teilhabe- und Integrationsgesetzes",
            "Verwaltungsvorschriften für Zuwendungen an Gemeinden (GV) zu § 44 LHO (VVG)",
            "Richtlinien für die Förderung Kommunaler Integrationszentren",
            "Kooperationsgebot",
            "30.06.2014",
            "ANBest-G",
            "§ 49a Abs. 1 VwVfG NRW zu erstatten",
            "mit fünf Prozentpunkten über dem Basiszinssatz",
            "Rechtsbehelfsbelehrung",
            "Verwaltungsgericht Gelsenkirchen",
            "Klage",
            "Dr. Schulte",
        ]);
        // Gelsenkirchen accepted electronic filing only from 01.01.2013.
        // The purpose is the KI's operation with its tasks, not a cost type (LEGAL-REVIEW-2 N6).
        assert_contains(bescheid, &[
            "zur Durchführung folgender Maßnahme: Betrieb des Kommunalen Integrationszentrums des Kreises Unna",
            "„Integration durch Bildung“ und „Integration als kommunale Querschnittsaufgabe“",
        ]);
        assert!(!bescheid.contains("ERVVO"), "{bescheid}");
        assert!(!bescheid.contains("Meier"), "the proposer does not sign:\n{bescheid}");
        for absent in ["nicht rückzahlbarer Zuschuss", "Höchstbetrag", "§ 55a Abs. 4", "§ 8 Abs. 1"] {
            assert!(!bescheid.contains(absent), "{absent:?} in:\n{bescheid}");
        }
        assert!(app.engine.audit(None).await.unwrap().broken.is_empty());
    }

    async fn a_rejection_gives_facts_law_discretion_and_the_suit_to_bring(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.remove("konzept_beschluss_datum");
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.clone();
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        // Heard first (§ 28 Abs. 1 VwVfG NRW); the period ran out unanswered.
        app.engine.fire(app.fire(&n, "anhoeren", "meier", "clerk", json!({
            "anhoerung_gruende": "Einen Beschluss des Kreistags über das Integrationskonzept haben Sie nicht vorgelegt.",
        }))).await.unwrap();
        app.engine.fire(app.fire(&n, "anhoerungsfrist_abgelaufen", "amtspost", "system", json!({}))).await.unwrap();
        app.engine
            .fire(app.fire(&n, "ablehnung_vorschlagen", "meier", "clerk", json!({
                "ablehnungsgruende": "Ein vom Kreistag beschlossenes Integrationskonzept liegt nicht vor.",
                "ablehnung_sachverhalt": "Den Beschluss des Kreistags über das Integrationskonzept haben Sie trotz meiner Nachforderung nicht vorgelegt.",
                "verwaltungsgericht": "Verwaltungsgericht Gelsenkirchen, Bahnhofsvorplatz 3, 45879 Gelsenkirchen",
            })))
            .await
            .unwrap();
        app.clock.set(at("2012-11-14T08:00:00Z"));
        let rejected = app
            .engine
            .fire(app.fire(&n, "ablehnen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"})))
            .await
            .unwrap();
        assert_eq!(rejected.state, "abgelehnt");
        let letters = letters(&app, &db, &n).await;
        let text = &letters["ablehnungsbescheid"];
        assert_contains(text, &[
            "Bescheid-Nr. 36.KI-2012-001",
            "wird abgelehnt",
            "Sachverhalt",
            "trotz meiner Nachforderung nicht vorgelegt",
            "Rechtliche Würdigung",
            "Ein vom Kreistag beschlossenes Integrationskonzept liegt nicht vor.",
            "Ermessenserwägungen",
            "kein Rechtsanspruch",
            "Verpflichtungsklage",
            "Verwaltungsgericht Gelsenkirchen",
            "Dr. Schulte",
        ]);
    }

    async fn the_notice_names_the_court_of_the_applicants_seat_from_kommunen_json(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-11-12T08:00:00Z"));
        for (name, court) in [
            ("StädteRegion Aachen", "Verwaltungsgericht Aachen"),
            ("Kreis Unna", "Verwaltungsgericht Gelsenkirchen"),
            ("Stadt Bielefeld", "Verwaltungsgericht Minden"),
        ] {
            let k = kommune(name);
            let mut data = antrag_kreis_unna();
            data.extend(obj(json!({
                "kommune": k["name"], "kommune_art": k["art"], "kommune_genitiv": k["genitiv"],
                "verwaltungsgericht": k["verwaltungsgericht"],
                "konzept_gremium": match k["art"].as_str().unwrap() {
                    "Kreis" => "Kreistag", "StädteRegion" => "Städteregionstag", _ => "Rat",
                },
            })));
            let case = open_ki(&app, data, party_of(&k)).await;
            let n = case.file_number.clone();
            app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
            app.engine.fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag())).await.unwrap();
            app.engine.fire(app.fire(&n, "bewilligen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
            let letters = letters(&app, &db, &n).await;
            let bescheid = &letters["zuwendungsbescheid"];
            assert_contains(bescheid, &[court, "Klage bei dem"]);
            for other in ["Aachen", "Gelsenkirchen", "Minden", "Arnsberg,"] {
                if !court.ends_with(other) {
                    assert!(!bescheid.contains(&format!("Verwaltungsgericht {other}")), "{name}: {other} in:\n{bescheid}");
                }
            }
        }
    }

    async fn a_rejection_after_an_unanswered_request_names_the_duty_to_cooperate(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-01T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.insert("arbeitsplanung_themen".into(), json!(["Integration durch Bildung"]));
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.clone();
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({
            "fehlende_unterlagen": ["Arbeitsplanung für den Schwerpunkt „Integration als kommunale Querschnittsaufgabe“"],
        }))).await.unwrap();
        app.clock.set(at("2012-11-06T08:00:00Z"));
        let expired = app.engine.fire(app.fire(&n, "frist_abgelaufen", "amtspost", "system", json!({}))).await.unwrap();
        assert_eq!(expired.data["nachforderung_unbeantwortet"], true);
        // The last reminder and its period come before a decision on the file.
        app.engine.fire(app.fire(&n, "letzte_erinnerung", "meier", "clerk", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "letzte_frist_abgelaufen", "amtspost", "system", json!({}))).await.unwrap();
        app.engine.fire(app.fire(&n, "ablehnung_vorschlagen", "meier", "clerk", json!({
            "ablehnungsgruende": "Die Fördervoraussetzungen sind nicht nachgewiesen.",
        }))).await.unwrap();
        app.clock.set(at("2012-11-14T08:00:00Z"));
        app.engine.fire(app.fire(&n, "ablehnen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        let letters = letters(&app, &db, &n).await;
        assert!(!letters["ablehnungsbescheid"].contains("verpflichtet, bei der Ermittlung"));
        assert_contains(&letters["ablehnungsbescheid"], &[
            "Innerhalb dieser Frist ist bei mir nichts eingegangen.",
            // A Mitwirkungslast, not a duty (§ 26 Abs. 2 Satz 3; LEGAL-REVIEW-2 A2).
            "sollen die Beteiligten bei der Ermittlung des Sachverhalts mitwirken",
            "Eine Pflicht zur Mitwirkung besteht nicht (§ 26 Abs. 2 Satz 3 VwVfG NRW)",
            "nach Aktenlage",
            "Verwaltungsgericht Gelsenkirchen",
            "Verpflichtungsklage",
        ]);
    }

    async fn the_acknowledgement_needs_the_date_of_receipt(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-10-02T08:00:00Z"));
        let mut data = antrag_kreis_unna();
        data.remove("antrag_eingang");
        let case = open_ki(&app, data, party_of(&kommune("Kreis Unna"))).await;
        let n = case.file_number.clone();
        let refused = app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({}))).await;
        assert!(matches!(refused, Err(CaseError::Refused(_))), "{refused:?}");
        assert!(format!("{}", refused.unwrap_err()).contains("antrag_eingang"));
        assert!(app.engine.case_documents(&n).await.unwrap().is_empty(), "no letter with today as the date of receipt");
        app.engine.fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({"antrag_eingang": "2012-09-28"}))).await.unwrap();
        let letters = letters(&app, &db, &n).await;
        assert_contains(&letters["eingangsbestaetigung"], &["am 28.09.2012"]);
    }

    async fn the_circular_of_19_march_2012_goes_out_numbered_and_signed_in_vertretung(db) {
        let app = TestApp::with_workflows(&db, &shipped()).await;
        app.clock.set(at("2012-03-19T08:00:00Z"));
        let mut parties = BTreeMap::new();
        parties.insert(
            "mitglieder".to_string(),
            "Mitglieder des Landkreistages Nordrhein-Westfalen".parse::<PartyRef>().unwrap(),
        );
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
        let n = case.file_number.clone();
        app.engine.fire(app.fire(&n, "vorlegen", "limbach", "referent", json!({}))).await.unwrap();
        let own = app.engine.fire(app.fire(&n, "freigeben", "limbach", "leitung", json!({}))).await;
        assert!(matches!(own, Err(CaseError::Refused(WorkflowError::FourEyes { .. }))), "{own:?}");
        let issued = app.engine.fire(app.fire(&n, "freigeben", "klein", "leitung", json!({}))).await.unwrap();
        assert_eq!(issued.state, "herausgegeben");
        // `{seq}/{yy}`: the register starts at 1 in a fresh database (172 in the real one).
        assert_eq!(issued.data["rundschreiben_nr"], "1/12");

        let letters = letters(&app, &db, &n).await;
        let text = &letters["rundschreiben"];
        let absender = &data_file("absender.json")["absender"]["landkreistag_nrw"];
        assert_contains(text, &[
            absender["name"].as_str().unwrap(),
            absender["street"].as_str().unwrap(),
            absender["phone"].as_str().unwrap(),
            absender["fax"].as_str().unwrap(),
            "Aktenzeichen:",
            "50.50.00/33.60.01 Li/Sü",
            "Rundschreiben-Nr.:",
            "1/12",
            "19.03.2012",
            "An die",
            "Mitglieder des",
            "Landkreistages Nordrhein-Westfalen",
            "Aufbau kommunaler Integrationszentren in NRW auf Grundlage des",
            "Teilhabe- und Integrationsgesetzes",
            "Zusammenfassung:",
            "Das MAIS hat die kommunalen Spitzenverbände",
            "Sehr geehrte Damen und Herren,",
            "Verfahrensfortgang informieren.",
            "Mit freundlichen Grüßen",
            "In Vertretung",
            "Reiner Limbach",
            "(nur in elektronischer Form unter www.lkt-nrw.de abrufbar)",
            "Eckpunktepapier zur Umsetzung des Teilhabe- und Integrationsgesetzes",
        ]);
        assert!(!text.contains("Bezirksregierung"), "the circular comes from the Landkreistag:\n{text}");
        // Anlage 1: a document of its own, issued with the circular.
        assert_contains(&letters["anlage"], &[
            "Anlage 1 zum Rundschreiben Nr. 1/12 des Landkreistages Nordrhein-Westfalen vom 19.03.2012",
            "Bis zum 31. Juli 2013",
        ]);
    }
}

/// Rundschreiben 172/12 of the Landkreistag NRW (shared/seed), as case data.
pub(crate) fn rundschreiben_172_12() -> Value {
    json!({
        "betreff": "Aufbau kommunaler Integrationszentren in NRW auf Grundlage des Teilhabe- und Integrationsgesetzes",
        "aktenzeichen": "50.50.00/33.60.01 Li/Sü",
        "zusammenfassung": "Das MAIS hat die kommunalen Spitzenverbände über ein erstes Konzept zum Aufbau der kommunalen Integrationszentren gem. § 7 Teilhabe- und Integrationsgesetz informiert. Dieses Konzept soll als Teil eines Eckpunktepapiers zur Umsetzung des Teilhabe- und Integrationsgesetzes beschlossen werden.",
        "text": [
            "mit dem im Februar 2012 verabschiedeten Gesetz zur Förderung der gesellschaftlichen Teilhabe und Integration in Nordrhein-Westfalen (Teilhabe- und Integrationsgesetz) wurden die Grundlagen für den Aufbau kommunaler Integrationszentren in allen Kreisen und kreisfreien Städten in NRW geschaffen. Dort wo vorhanden, sollen die Regionalen Arbeitsstellen zur Förderung von Kindern und Jugendlichen aus Zuwandererfamilien (RAA) zu kommunalen Integrationszentren weiter entwickelt werden.",
            "Wie in § 7 Abs. 1 Teilhabe- und Integrationsgesetz vorgesehen, wird das Land seine finanzielle Förderung der kommunalen Integrationszentren im Wege einer Richtlinie konkretisieren. Die Förderung wird sich auf die Personalkosten beschränken. Die Förderrichtlinie befindet sich derzeit in der Abstimmung zwischen dem MAIS und dem MSW. In einem Gespräch am 28.02.2012 haben das MAIS und das MSW den kommunalen Spitzenverbänden das geplante Konzept der kommunalen Integrationszentren vorgestellt. Mit Schreiben vom 07.03.2012 hat uns das MAIS den aktuellen Entwurfsstand eines Konzepts für die kommunalen Integrationszentren (Anlage 1) zukommen lassen. Neben den formalen Voraussetzungen und den personellen Anforderungen enthält das Konzept eine Auflistung der Aufgabenschwerpunkte der kommunalen Integrationszentren.",
            "Die kommunalen Spitzenverbände haben in dem Gespräch mit den beiden Ministerien darauf hingewiesen, dass für die Einrichtung und den Betrieb der kommunalen Integrationszentren eine dauerhafte finanzielle Förderung des Landes Grundvoraussetzung ist. Bislang haben zehn Kreise und kreisfreie Städte ihr Interesse bekundet, ein kommunales Integrationszentrum aufzubauen. Das MAIS plant voraussichtlich für den 24.04.2012 die Sozialdezernenten der Kommunen einzuladen, die bereits über eine RAA verfügen, um den Umwandlungsprozess in kommunale Integrationszentren zu erörtern. Der Erlass der Förderrichtlinie für die kommunalen Integrationszentren und die endgültige Abstimmung des Eckpunktepapiers innerhalb der Landesregierung soll möglichst bis Ende April 2012 abgeschlossen sein. Da hierfür keine weitere Beteiligung des Landtags erforderlich ist, dürften sich jedenfalls infolge der Auflösung des Landtags am 14.03.2012 keine weiteren Verzögerungen ergeben. Da mit dem Teilhabe- und Integrationsgesetz die Rechtsgrundlage für die kommunalen Integrationszentren besteht, können in den Kommunen die nötigen Voraussetzungen, wie insbesondere die Verabschiedung eines Integrationskonzeptes, bereits geschaffen werden. Die Geschäftsstelle wird über den weiteren Verfahrensfortgang informieren.",
        ],
        "anlagen": ["Anlage 1: Eckpunktepapier zur Umsetzung des Teilhabe- und Integrationsgesetzes – Konzept der Kommunalen Integrationszentren (Stand: 29.02.2012)"],
        "anlagen_hinweis": "(nur in elektronischer Form unter www.lkt-nrw.de abrufbar)",
        "kontakt_name": "Reiner Limbach",
        "kontakt_telefon": "0211 300491-200",
        "kontakt_email": "r.limbach@lkt-nrw.example.org",
        "unterzeichner": "Reiner Limbach",
        "zeichnungsvermerk": "In Vertretung",
        "anlage": data_file("rundschreiben-172-12.json")["anlage"],
    })
}

#[test]
fn kommunen_json_lists_the_30_kreise_the_staedteregion_and_the_22_kreisfreie_staedte() {
    let all = data_file("kommunen.json");
    let list = all["kommunen"].as_array().unwrap();
    let count = |art: &str| list.iter().filter(|k| k["art"] == art).count();
    assert_eq!(count("Kreis"), 30);
    assert_eq!(count("StädteRegion"), 1);
    assert_eq!(count("kreisfreie Stadt"), 22);
    assert_eq!(list.len(), 53);
    let extra = all["weitere_antragsteller"].as_array().unwrap();
    assert_eq!(extra.len(), 1, "the city of Aachen: 54 KI in all");
    assert_eq!(extra[0]["name"], "Stadt Aachen");

    let mut names = std::collections::BTreeSet::new();
    for k in list.iter().chain(extra) {
        let name = k["name"].as_str().unwrap();
        assert!(names.insert(name), "{name} twice");
        let email = k["email"].as_str().unwrap();
        assert!(
            email.ends_with(".example.org"),
            "{name}: {email} must be a placeholder"
        );
        amtspost::case::EmailAddress::parse(email).unwrap();
        let address = k["address"].as_array().unwrap();
        assert!(
            address.len() <= 5,
            "{name}: name + address must fit the 6 lines of the Anschriftzone"
        );
        let genitiv = k["genitiv"].as_str().unwrap();
        assert!(
            genitiv.starts_with("des ") || genitiv.starts_with("der "),
            "{name}: {genitiv}"
        );
        assert!(k["raa"].is_boolean(), "{name}");
        let court = k["verwaltungsgericht"].as_str().unwrap();
        assert!(
            [
                "Aachen",
                "Arnsberg",
                "Düsseldorf",
                "Gelsenkirchen",
                "Köln",
                "Minden",
                "Münster"
            ]
            .iter()
            .any(|o| court.starts_with(&format!("Verwaltungsgericht {o}, "))),
            "{name}: {court}"
        );
        assert_eq!(k["lkt_mitglied"], k["art"] != "kreisfreie Stadt", "{name}");
        party_of(k);
    }
    // Members of the Landkreistag: the distribution list of its circulars.
    assert_eq!(
        list.iter().filter(|k| k["lkt_mitglied"] == true).count(),
        31
    );
    assert_eq!(
        kommune("Kreis Unna")["email"],
        "poststelle@kreis-unna.example.org"
    );
    // § 52 Nr. 3 Satz 2 VwGO with § 17 JustG NRW: the court of the seat.
    let court = |name: &str| {
        kommune(name)["verwaltungsgericht"]
            .as_str()
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    for (name, expected) in [
        ("StädteRegion Aachen", "Aachen"),
        ("Stadt Aachen", "Aachen"),
        ("Kreis Heinsberg", "Aachen"),
        ("Kreis Unna", "Gelsenkirchen"),
        ("Stadt Dortmund", "Gelsenkirchen"),
        ("Stadt Hagen", "Arnsberg"),
        ("Kreis Soest", "Arnsberg"),
        ("Stadt Duisburg", "Düsseldorf"),
        ("Rhein-Kreis Neuss", "Düsseldorf"),
        ("Bundesstadt Bonn", "Köln"),
        ("Oberbergischer Kreis", "Köln"),
        ("Stadt Bielefeld", "Minden"),
        ("Kreis Gütersloh", "Minden"),
        ("Stadt Münster", "Münster"),
        ("Kreis Warendorf", "Münster"),
    ] {
        assert_eq!(
            court(name),
            format!("Verwaltungsgericht {expected}"),
            "{name}"
        );
    }
    // Arnsberg is the court of exactly 8 applicants (§ 17 Nr. 2 JustG NRW), not a default.
    let arnsberg = list
        .iter()
        .chain(extra)
        .filter(|k| {
            k["verwaltungsgericht"]
                .as_str()
                .unwrap()
                .starts_with("Verwaltungsgericht Arnsberg")
        })
        .count();
    assert_eq!(arnsberg, 8);
}

#[test]
fn absender_json_holds_office_sections_the_configuration_accepts() {
    let all = data_file("absender.json");
    let offices = all["absender"].as_object().unwrap();
    assert_eq!(offices.len(), 2);
    for (key, office) in offices {
        let parsed: amtspost::config::Office = serde_json::from_value(office.clone())
            .unwrap_or_else(|e| panic!("{key} is not an [office] section: {e}"));
        assert!(parsed.email.ends_with(".example.org"), "{key}");
    }
    let lkt: amtspost::config::Office =
        serde_json::from_value(offices["landkreistag_nrw"].clone()).unwrap();
    assert_eq!(
        (
            lkt.street.as_str(),
            lkt.postcode.as_str(),
            lkt.city.as_str()
        ),
        ("Kavalleriestraße 8", "40213", "Düsseldorf")
    );
    let bra: amtspost::config::Office =
        serde_json::from_value(offices["bezirksregierung_arnsberg_dezernat_36"].clone()).unwrap();
    assert_eq!(bra.unit, "Dezernat 36 – Kompetenzzentrum für Integration");
    assert_eq!(
        (
            bra.street.as_str(),
            bra.postcode.as_str(),
            bra.city.as_str()
        ),
        ("Seibertzstraße 1", "59821", "Arnsberg")
    );
}
