//! After the notice (issue 25): the grant's account, calls for funds
//! (Mittelabruf) checked against it at their fields, refused before the
//! notice is final and accepted after a Rechtsbehelfsverzicht, the payout
//! ordered under the four-eyes rule with its Auszahlungsmitteilung, the
//! payout order file for the treasury, the two-month rule, the Bestandskraft
//! after the Klagefrist and the one-year period of § 48 Abs. 4 VwVfG NRW.

use amtspost::case::{Actor, CaseError, CaseView, OpenRequest};
use amtspost::workflow::WorkflowError;
use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::seed::{
    antrag_kreis_unna, assert_contains, kommune, letters, open_ki, party_of, vorschlag,
};
use crate::support::{Bin, TestApp, at};

/// Kreis Unna's grant, signed on 15.10.2012 (170.000,00 EUR for 2013).
pub(crate) async fn granted(app: &TestApp) -> String {
    app.clock.set(at("2012-10-01T08:00:00Z"));
    let case = open_ki(app, antrag_kreis_unna(), party_of(&kommune("Kreis Unna"))).await;
    let n = case.file_number.to_string();
    app.engine
        .fire(app.fire(&n, "eingang_bestaetigen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    app.engine
        .fire(app.fire(&n, "bewilligung_vorschlagen", "meier", "clerk", vorschlag()))
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

/// A call for funds as the municipality files it.
fn abruf(ki: &str, p: &str, v: &str, a: &str) -> Map<String, Value> {
    json!({
        "kommune": "Kreis Unna",
        "ki_aktenzeichen": ki,
        "abruf_eingang": "2012-10-22",
        "betrag_paedagogik": p,
        "betrag_verwaltung": v,
        "betrag_assistenz": a,
        "benoetigt_am": "2013-01-02",
        "erklaerung_zwei_monate": true,
        "iban": "DE12440501990000123456",
        "verwendungszweck": "Personalkosten KI Januar/Februar 2013",
    })
    .as_object()
    .unwrap()
    .clone()
}

async fn file(app: &TestApp, data: Map<String, Value>) -> Result<CaseView, CaseError> {
    let k = kommune("Kreis Unna");
    app.engine
        .open(OpenRequest {
            workflow: "mittelabruf".into(),
            data,
            parties: [("kommune".to_string(), party_of(&k))]
                .into_iter()
                .collect(),
            actor: Actor::new("unna", "kommune"),
        })
        .await
}

/// The field and message of a guard's refusal.
#[track_caller]
fn refused(r: Result<CaseView, CaseError>) -> (String, String) {
    match r {
        Err(CaseError::Refused(WorkflowError::GuardFailed { field, message, .. })) => {
            (field.unwrap_or_default(), message)
        }
        Err(other) => panic!("expected a guard to refuse, got: {other}"),
        Ok(c) => panic!("expected a refusal, but {} was opened", c.file_number),
    }
}

fn money(v: &Value) -> rust_decimal::Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

on_both_databases! {
    async fn a_call_for_funds_is_checked_against_the_grant_paid_out_under_four_eyes_and_ordered_from_the_treasury(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        let ki = granted(&app).await;
        let grant = app.engine.show(&ki).await.unwrap();
        assert_eq!(grant.data["foerderbetrag"], "170000.00");
        let line_p = money(&grant.data["bewilligt_paedagogik"]);
        assert_eq!(line_p, money(&grant.data["festbetrag_vollzeitstelle"]) * rust_decimal::Decimal::from(2));

        // Before the notice is final: refused, nothing opened.
        app.clock.set(at("2012-10-20T08:00:00Z"));
        let (field, message) = refused(file(&app, abruf(&ki, "40000.00", "10000.00", "5000.00")).await);
        assert_eq!(field, "bestandskraft_am");
        assert!(message.contains("noch nicht bestandskräftig") && message.contains("Rechtsbehelfsverzicht"), "{message}");
        assert_eq!(db.count("SELECT COUNT(*) FROM cases WHERE workflow_id = 'mittelabruf'").await, 0);

        // The municipality waives its right to sue: final at once, the
        // Klagefrist lifted.
        app.engine
            .fire(app.fire(&ki, "rechtsbehelfsverzicht_erklaeren", "unna", "applicant", json!({"rechtsbehelfsverzicht_am": "2012-10-20"})))
            .await
            .unwrap();
        let grant = app.engine.show(&ki).await.unwrap();
        assert_eq!(grant.data["bestandskraft_am"], "2012-10-20");
        let klagefrist = app.engine.deadlines(&ki).await.unwrap().into_iter().find(|d| d.name == "klagefrist");
        assert!(klagefrist.is_none_or(|d| d.status.to_string() == "cancelled"), "the Klagefrist no longer runs");

        // More than the line has: refused at that field.
        app.clock.set(at("2012-10-22T08:00:00Z"));
        let over = format!("{}", line_p + rust_decimal::Decimal::new(1, 2));
        let (field, message) = refused(file(&app, abruf(&ki, &over, "0.00", "0.00")).await);
        assert_eq!(field, "betrag_paedagogik", "{message}");
        assert!(message.contains("pädagogischen Fachkräfte"), "{message}");
        // Without the declaration of the two-month rule: refused there.
        let mut no_declaration = abruf(&ki, "1.00", "0.00", "0.00");
        no_declaration.insert("erklaerung_zwei_monate".into(), json!(false));
        assert_eq!(refused(file(&app, no_declaration).await).0, "erklaerung_zwei_monate");
        // Another municipality's grant is not Kreis Unna's to call.
        let mut foreign = abruf(&ki, "1.00", "0.00", "0.00");
        foreign.insert("kommune".into(), json!("Kreis Soest"));
        assert!(matches!(file(&app, foreign).await, Err(CaseError::Refused(WorkflowError::LinkBroken { .. }))));
        assert_eq!(db.count("SELECT COUNT(*) FROM cases WHERE workflow_id = 'mittelabruf'").await, 0, "refusals store nothing");

        // Within the grant: opened; what it called counts against the next.
        let first = file(&app, abruf(&ki, "40000.00", "10000.00", "5000.00")).await.unwrap();
        let first = first.file_number.to_string();
        assert_eq!(app.engine.show(&first).await.unwrap().data["verfuegbar_gesamt"], "170000.00");
        let left_p = line_p - rust_decimal::Decimal::from(40000);
        let (field, _) = refused(file(&app, abruf(&ki, &format!("{}", left_p + rust_decimal::Decimal::new(1, 2)), "0.00", "0.00")).await);
        assert_eq!(field, "betrag_paedagogik");
        let second = file(&app, abruf(&ki, "20000.00", "0.00", "0.00")).await.unwrap().file_number.to_string();
        assert_eq!(app.engine.show(&second).await.unwrap().data["bisher_abgerufen"], "55000.00");

        // The clerk checks, another person orders the payout.
        app.engine.fire(app.fire(&first, "pruefen", "meier", "clerk", json!({"pruefvermerk": "Sachlich und rechnerisch richtig"}))).await.unwrap();
        let same = app.engine.fire(app.fire(&first, "auszahlung_anordnen", "meier", "approver", json!({"anordnung_name": "Jan Meier"}))).await;
        assert!(matches!(same, Err(CaseError::Refused(WorkflowError::FourEyes { .. }))), "{same:?}");
        let paid = app.engine.fire(app.fire(&first, "auszahlung_anordnen", "schulte", "approver", json!({"anordnung_name": "Dr. Schulte"}))).await.unwrap();
        assert_eq!(paid.state.to_string(), "ausgezahlt");
        assert_eq!(paid.data["kassenzeichen"], "3605-2012-00001");
        assert_eq!(paid.data["betrag_gesamt"], "55000.00");
        let texts = letters(&app, &db, &first).await;
        assert_contains(&texts["schreiben"], &[
            "Zuwendungsbescheid Nr. 36.KI-2012-001 – Auszahlung von Zuwendungsmitteln",
            "Außerschulische pädagogische Fachkräfte 40.000,00",
            "Auszahlungsbetrag 55.000,00",
            "Kassenzeichen 3605-2012-00001",
            // The second call (20.000,00) was filed before this payout.
            "Von der Zuwendung von 170.000,00 EUR sind einschließlich dieses Abrufs 75.000,00 EUR angefordert; 95.000,00 EUR können Sie noch anfordern.",
            "§ 49a Abs. 4 VwVfG NRW",
        ]);
        app.engine.fire(app.fire(&second, "pruefen", "meier", "clerk", json!({"pruefvermerk": "richtig"}))).await.unwrap();
        app.engine.fire(app.fire(&second, "auszahlung_anordnen", "schulte", "approver", json!({"anordnung_name": "Dr. Schulte"}))).await.unwrap();

        // The grant's account, on the KI case.
        let account = app.engine.detail(&ki).await.unwrap().account.expect("the KI case keeps an account");
        assert_eq!(account.total.called.to_string(), "75000.00");
        assert_eq!(account.total.paid.to_string(), "75000.00");
        assert_eq!(account.available.to_string(), "95000.00");
        let p = account.lines.iter().find(|l| l.name == "paedagogik").unwrap();
        assert_eq!(p.figures.called.to_string(), "60000.00");

        // The payout order for the treasury: one line per payout of the day.
        let bin = Bin { db: &db, workflows: crate::seed::shipped() };
        let csv = bin.run(&["export", "auszahlungsanordnung", "--date", "2012-10-22"]).ok();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("Kassenzeichen;Empfaenger;IBAN;Betrag;Faelligkeit;Verwendungszweck;Aktenzeichen;Bescheid_Nr"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(';').collect()).collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert_eq!(rows[0][..5], ["3605-2012-00001", "Kreis Unna", "DE12440501990000123456", "55000.00", "2013-01-02"]);
        assert_eq!(rows[0][5], "Zuwendung KI Bescheid 36.KI-2012-001 KZ 3605-2012-00001 Personalkosten KI Januar/Februar 2013");
        let sum: rust_decimal::Decimal = rows.iter().map(|r| r[3].parse::<rust_decimal::Decimal>().unwrap()).sum();
        assert_eq!(sum.to_string(), "75000.00");
        assert_eq!(bin.run(&["export", "auszahlungsanordnung", "--date", "2012-10-23"]).ok().lines().count(), 1, "only the header on a day without payouts");

        // Two months: the first call is confirmed as spent in time, the
        // second is not and is flagged for interest (§ 49a Abs. 4).
        app.clock.set(at("2012-12-10T08:00:00Z"));
        app.engine.fire(app.fire(&first, "verwendung_bestaetigen", "unna", "kommune", json!({"verwendet_am": "2012-12-07"}))).await.unwrap();
        app.clock.set(at("2012-12-27T08:00:00Z"));
        app.engine.remind(false).await.unwrap();
        let late = app.engine.show(&second).await.unwrap();
        assert_eq!(late.state.to_string(), "zinspruefung");
        assert_eq!(late.data["zinsen_pruefen"], true);
        assert_eq!(app.engine.show(&first).await.unwrap().state.to_string(), "verwendet");
        let due = app.engine.deadlines(&second).await.unwrap().into_iter().find(|d| d.name == "verwendung").unwrap();
        // 22.10.2012 + 2 months = 22.12.2012, a Saturday: the next working day.
        assert_eq!(due.due_date, "2012-12-24");
        // Confirmed late, on 10.01.2013 (used on 09.01.): the interest of
        // § 49a Abs. 4 from the payout to the use, computed by hand (Python
        // decimal): 20.000,00 × 5,12 % × 71/365 = 199,19 (22.10.-31.12.2012,
        // Basiszinssatz 0,12 %) + 20.000,00 × 4,87 % × 9/365 = 24,02
        // (01.01.-09.01.2013, -0,13 %) = 223,21. In time: none.
        app.clock.set(at("2013-01-10T08:00:00Z"));
        let used = app.engine.fire(app.fire(&second, "verwendung_bestaetigen", "unna", "kommune", json!({"verwendet_am": "2013-01-09"}))).await.unwrap();
        assert_eq!(used.data["zinsen_abs4"], "223.21");
        assert_eq!(app.engine.show(&first).await.unwrap().data["zinsen_abs4"], "0.00");
    }

    async fn a_proof_of_use_with_less_spent_than_paid_leads_to_a_hearing_and_a_revocation_with_interest(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        let ki = granted(&app).await;
        app.clock.set(at("2012-10-20T08:00:00Z"));
        app.engine
            .fire(app.fire(&ki, "rechtsbehelfsverzicht_erklaeren", "unna", "applicant", json!({"rechtsbehelfsverzicht_am": "2012-10-20"})))
            .await
            .unwrap();
        // The whole grant is called and paid.
        let grant = app.engine.show(&ki).await.unwrap();
        let line = |f: &str| grant.data[f].as_str().unwrap().to_string();
        let call = file(&app, abruf(&ki, &line("bewilligt_paedagogik"), &line("bewilligt_verwaltung"), &line("bewilligt_assistenz"))).await.unwrap();
        let call = call.file_number.to_string();
        app.engine.fire(app.fire(&call, "pruefen", "meier", "clerk", json!({"pruefvermerk": "richtig"}))).await.unwrap();
        app.engine.fire(app.fire(&call, "auszahlung_anordnen", "schulte", "approver", json!({"anordnung_name": "Dr. Schulte"}))).await.unwrap();
        let account = app.engine.detail(&ki).await.unwrap().account.unwrap();
        assert_eq!(account.total.paid.to_string(), "170000.00");

        // After the Bewilligungszeitraum the office asks for the proof of use.
        app.clock.set(at("2014-01-15T08:00:00Z"));
        let k = kommune("Kreis Unna");
        let vn = app.engine.open(OpenRequest {
            workflow: "verwendungsnachweis".into(),
            data: json!({"kommune": "Kreis Unna", "ki_aktenzeichen": ki}).as_object().unwrap().clone(),
            parties: [("kommune".to_string(), party_of(&k))].into_iter().collect(),
            actor: Actor::new("meier", "clerk"),
        }).await.unwrap();
        let vn = vn.file_number.to_string();
        app.engine.fire(app.fire(&vn, "anfordern", "meier", "clerk", json!({}))).await.unwrap();
        let due = app.engine.deadlines(&vn).await.unwrap().into_iter().find(|d| d.name == "vorlage").unwrap();
        assert_eq!(due.due_date, "2014-06-30");

        // The municipality reports: the Verwaltungsfachkraft's post was
        // vacant for part of the year, 10.000,00 EUR less was spent.
        app.clock.set(at("2014-05-20T08:00:00Z"));
        let verwaltung: rust_decimal::Decimal = line("bewilligt_verwaltung").parse().unwrap();
        app.engine.fire(app.fire(&vn, "einreichen", "unna", "kommune", json!({
            "ist_paedagogik": line("bewilligt_paedagogik"),
            "ist_verwaltung": (verwaltung - rust_decimal::Decimal::from(10000)).to_string(),
            "ist_assistenz": line("bewilligt_assistenz"),
            "stellen_besetzt_monate": 39.5,
            "beratungen": 412, "schulen": 37, "netzwerkpartner": 21, "veranstaltungen": 14,
            "sachbericht": "Das KI hat 2013 seine Arbeit in beiden Schwerpunkten aufgenommen.",
        }))).await.unwrap();
        app.clock.set(at("2014-06-10T08:00:00Z"));
        let checked = app.engine.fire(app.fire(&vn, "pruefen", "meier", "clerk", json!({
            "pruefung_fristgerecht": true, "pruefung_rechnerisch": true, "pruefung_stellen": false, "pruefung_zweck": true,
            "pruefvermerk": "Stelle der Verwaltungsfachkraft vom 01.01. bis 15.03.2013 unbesetzt; Minderausgaben 10.000,00 EUR.",
        }))).await.unwrap();
        assert_eq!(checked.data["anerkannt"], "160000.00");
        assert_eq!(checked.data["erstattungsbetrag"], "10000.00");
        let texts = letters(&app, &db, &vn).await;
        assert_contains(&texts["schreiben"], &["Prüfmitteilung zum Verwendungsnachweis", "Anerkannte Zuwendung 160.000,00", "Zu erstatten 10.000,00", "Gelegenheit, sich zu äußern"]);
        // Nothing can be closed, nor revoked without a hearing.
        let closed = app.engine.fire(app.fire(&vn, "abschliessen", "meier", "clerk", json!({}))).await;
        assert!(matches!(closed, Err(CaseError::Refused(WorkflowError::GuardFailed { .. }))), "{closed:?}");

        app.engine.fire(app.fire(&vn, "anhoeren", "meier", "clerk", json!({}))).await.unwrap();
        let early = app.engine.fire(app.fire(&vn, "widerruf_vorschlagen", "meier", "clerk", json!({"unwirksam_ab": "2013-01-01", "widerruf_gruende": "Minderausgaben"}))).await;
        assert!(matches!(early, Err(CaseError::Refused(WorkflowError::GuardFailed { .. }))), "{early:?}");
        // The two weeks pass without an answer.
        app.clock.set(at("2014-06-30T08:00:00Z"));
        app.engine.remind(false).await.unwrap();
        app.engine.fire(app.fire(&vn, "widerruf_vorschlagen", "meier", "clerk", json!({
            "unwirksam_ab": "2013-01-01",
            "widerruf_gruende": "Die Stelle der Verwaltungsfachkraft war vom 01.01. bis 15.03.2013 nicht besetzt; in Höhe der Minderausgaben ist die Zuwendung nicht für den Zuwendungszweck verwendet worden.",
        }))).await.unwrap();
        let same = app.engine.fire(app.fire(&vn, "widerrufen", "meier", "approver", json!({"zeichnung_name": "Jan Meier"}))).await;
        assert!(matches!(same, Err(CaseError::Refused(WorkflowError::FourEyes { .. }))), "{same:?}");
        app.clock.set(at("2014-07-15T08:00:00Z"));
        let revoked = app.engine.fire(app.fire(&vn, "widerrufen", "schulte", "approver", json!({"zeichnung_name": "Dr. Schulte"}))).await.unwrap();
        // Interest from 01.01.2013 to 15.07.2014 on 10.000,00 EUR at 5 points
        // over the Basiszinssatz, computed by hand (Python decimal):
        // 241,50 + 232,90 + 216,70 + 17,55 = 708,65.
        assert_eq!(revoked.data["zinsen_bis_bescheid"], "708.65");
        assert_eq!(revoked.data["widerruf_bescheid_nr"], "36.W-2014-001");
        let texts = letters(&app, &db, &vn).await;
        assert_contains(&texts["widerrufsbescheid"], &[
            "Widerrufs- und Erstattungsbescheid",
            "mit Wirkung vom 01.01.2013 an teilweise widerrufen",
            "Die Zuwendung wird auf 160.000,00 EUR festgesetzt (bisher 170.000,00 EUR)",
            "10.000,00 EUR zu erstatten",
            "708,65 EUR",
            "§ 49a Abs. 3 Satz 1 VwVfG NRW",
            "Sie haben sich innerhalb der Frist nicht geäußert",
            "§ 48 Abs. 4 Satz 1 VwVfG NRW",
            "Rechtsbehelfsbelehrung",
            "Verwaltungsgericht Gelsenkirchen",
        ]);
        // The repayment arrives on 18.08.2014: interest to that day, 748,42.
        app.clock.set(at("2014-08-20T08:00:00Z"));
        let repaid = app.engine.fire(app.fire(&vn, "erstattung_eingegangen", "meier", "clerk", json!({"erstattet_am": "2014-08-18"}))).await.unwrap();
        assert_eq!(repaid.state.to_string(), "erstattet");
        assert_eq!(repaid.data["zinsen"], "748.42");

        // The controlling report of 2013: one line for the grant, with the
        // money and the Sachbericht's indicators.
        let bin = Bin { db: &db, workflows: crate::seed::shipped() };
        let csv = bin.run(&["report", "controlling", "--year", "2013"]).ok();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "Aktenzeichen;Zuwendungsempfaenger;Bewilligt;Ausgezahlt;Nachgewiesen;Zu_erstatten;Verwendungsnachweis;stellen_besetzt_monate;beratungen;schulen;netzwerkpartner;veranstaltungen");
        assert_eq!(lines[1], format!("{ki};Kreis Unna;170000.00;170000.00;160000.00;10000.00;Erstattet;39.5;412;37;21;14"));
        assert_eq!(lines.len(), 2, "{csv}");
        let json: Value = serde_json::from_str(&bin.run(&["report", "controlling", "--year", "2013", "--format", "json"]).ok()).unwrap();
        assert_eq!(json["totals"]["repaid"], "10000.00");
        assert_eq!(json["rows"][0]["indicators"][1], 412);
        let html = bin.run(&["report", "controlling", "--year", "2013", "--format", "html"]).ok();
        assert!(html.contains("<svg") && html.contains("Beratungsfälle") && html.contains("160.000,00 EUR"), "{html}");
        assert_eq!(bin.run(&["report", "controlling", "--year", "2012"]).ok().lines().count(), 1, "no grant of 2012");
    }

    async fn the_notice_becomes_final_after_the_klagefrist_and_a_reason_to_revoke_starts_the_year_of_section_48(db) {
        let app = TestApp::with_workflows(&db, &crate::seed::shipped()).await;
        let ki = granted(&app).await;
        // Before the Klagefrist has run out the Bestandskraft cannot be recorded.
        app.clock.set(at("2012-10-30T08:00:00Z"));
        let early = app.engine.fire(app.fire(&ki, "bestandskraft_vermerken", "meier", "clerk", json!({"bestandskraft_am": "2012-10-30"}))).await;
        assert!(matches!(early, Err(CaseError::Refused(WorkflowError::GuardFailed { .. }))), "{early:?}");
        // The Klagefrist (posted 15.10., notified 18.10., one month) ends
        // on 19.11.2012 (18.11. is a Sunday); the pass after it records that.
        let end = app.engine.deadlines(&ki).await.unwrap().into_iter().find(|d| d.name == "klagefrist").unwrap();
        assert_eq!(end.due_date, "2012-11-19");
        app.clock.set(at("2012-11-21T08:00:00Z"));
        app.engine.remind(false).await.unwrap();
        assert_eq!(app.engine.show(&ki).await.unwrap().data["klagefrist_abgelaufen"], true);
        app.engine.fire(app.fire(&ki, "bestandskraft_vermerken", "meier", "clerk", json!({"bestandskraft_am": "2012-11-20", "vermerk": "Keine Klage eingegangen"}))).await.unwrap();
        // Now a call is possible without a waiver.
        let call = file(&app, abruf(&ki, "1000.00", "0.00", "0.00")).await.unwrap();
        assert_eq!(call.data["bestandskraft_am"], "2012-11-20");

        // The office learns on 04.03.2013 that a post stayed vacant: the
        // year of § 48 Abs. 4 VwVfG NRW runs to 04.03.2014.
        app.clock.set(at("2013-03-06T08:00:00Z"));
        app.engine.fire(app.fire(&ki, "widerrufsgrund_vermerken", "meier", "clerk", json!({
            "kenntnis_widerrufsgrund": "2013-03-04",
            "widerrufsgrund": "Die Stelle der Verwaltungsfachkraft ist seit dem 01.01.2013 unbesetzt.",
        }))).await.unwrap();
        let year = app.engine.deadlines(&ki).await.unwrap().into_iter().find(|d| d.name == "widerrufsfrist").unwrap();
        assert_eq!(year.due_date, "2014-03-04");
        let why = year.explanation.to_string();
        assert!(why.contains("Die Frist läuft vom 04.03.2013 an"), "{why}");
        assert!(year.legal_basis.as_deref().unwrap_or_default().contains("§ 48 Abs. 4"), "{:?}", year.legal_basis);
        // Reminded 90 days before the end.
        app.clock.set(at("2013-12-05T08:00:00Z"));
        let report = app.engine.remind(false).await.unwrap();
        assert!(report.reminders.iter().any(|r| r.deadline == "widerrufsfrist" && r.file_number.to_string() == ki), "{:?}", report.reminders);
    }
}

/// The portal's door to the same workflow.
mod portal {
    use super::*;

    on_both_databases! {
        async fn a_municipality_files_its_call_for_funds_in_the_portal_and_sees_only_its_own(db) {
            use axum::http::{StatusCode, header};
            let w = crate::http::web(&db).await;
            let ki = granted(&w.app).await;
            // Sessions follow the (simulated) clock: log in on the day.
            w.app.clock.set(at("2012-10-20T08:00:00Z"));
            let (unna, unna_csrf) = w.login("unna").await;
            let (soest, soest_csrf) = w.login("soest").await;
            let (becker, _) = w.login("becker").await;
            // The waiver, as a step of the KI case in the portal.
            let r = w.form(&format!("/portal/faelle/{ki}/schritte/rechtsbehelfsverzicht_erklaeren"), &unna,
                &[("csrf", &unna_csrf), ("rechtsbehelfsverzicht_am", "20.10.2012")]).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            // The KI case page shows the grant's account.
            let page = w.get(&format!("/portal/faelle/{ki}"), &unna).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text());
            let page = page.text();
            assert!(page.contains("Mittel der Zuwendung") && page.contains("170.000,00 EUR"), "{page}");

            let form = |ki: &str, p: &str, csrf: &str| {
                vec![
                    ("csrf".to_string(), csrf.to_string()),
                    ("ki_aktenzeichen".into(), ki.into()),
                    ("betrag_paedagogik".into(), p.into()),
                    ("betrag_verwaltung".into(), "0,00".into()),
                    ("betrag_assistenz".into(), "0,00".into()),
                    ("benoetigt_am".into(), "02.01.2013".into()),
                    ("erklaerung_zwei_monate".into(), "ja".into()),
                    ("iban".into(), "DE12440501990000123456".into()),
                ]
            };
            let send = |fields: Vec<(String, String)>, cookie: String| {
                let w = &w;
                async move {
                    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    w.form("/portal/antraege/mittelabruf/abruf", &cookie, &pairs).await
                }
            };
            assert_eq!(w.get("/portal/antraege/mittelabruf/abruf", &unna).await.status, StatusCode::OK);
            // Too much: refused at the field, nothing opened.
            let r = send(form(&ki, "900.000,00", &unna_csrf), unna.clone()).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert!(r.text().contains("noch bewilligt und nicht abgerufen"), "{}", r.text());
            // Kreis Soest cannot call Kreis Unna's grant.
            let r = send(form(&ki, "1.000,00", &soest_csrf), soest.clone()).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(db.count("SELECT COUNT(*) FROM cases WHERE workflow_id = 'mittelabruf'").await, 0);

            let r = send(form(&ki, "40.000,00", &unna_csrf), unna.clone()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            let call = r.headers[header::LOCATION].to_str().unwrap().split('?').next().unwrap().rsplit('/').next().unwrap().to_string();
            let case = w.get(&format!("/api/v1/cases/{call}"), &becker).await.json();
            assert_eq!(case["data"]["betrag_paedagogik"], "40000.00");
            assert_eq!(case["data"]["abruf_eingang"], "2012-10-20");
            assert_eq!(case["parties"]["kommune"]["name"], "Kreis Unna");
            // Its own call: listed and readable; Soest's: 404 everywhere.
            assert!(w.get("/portal", &unna).await.text().contains(&call));
            assert_eq!(w.get(&format!("/portal/faelle/{call}"), &unna).await.status, StatusCode::OK);
            assert!(!w.get("/portal", &soest).await.text().contains(&call));
            assert_eq!(w.get(&format!("/portal/faelle/{call}"), &soest).await.status, StatusCode::NOT_FOUND);
            assert_eq!(w.get(&format!("/api/v1/cases/{call}"), &soest).await.status, StatusCode::NOT_FOUND);
            let r = w.form(&format!("/portal/faelle/{call}/schritte/zurueckziehen"), &soest, &[("csrf", &soest_csrf)]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
            // The office's Fallseite of the grant counts the call.
            let page = w.get(&format!("/faelle/{ki}"), &becker).await.text();
            assert!(page.contains("40.000,00 EUR") && page.contains("130.000,00 EUR"), "{page}");
            // The controlling page of 2013 lists the grant with what is paid (nothing yet).
            let page = w.get("/controlling?jahr=2013", &becker).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text());
            let page = page.text();
            assert!(page.contains("Förderprogrammcontrolling") && page.contains("Kreis Unna") && page.contains("170.000,00 EUR") && page.contains("nicht angefordert"), "{page}");
            assert!(page.contains("role=\"img\""), "the chart is labelled");
            let csv = w.get("/controlling.csv?jahr=2013", &becker).await;
            assert!(csv.text().contains(&format!("{ki};Kreis Unna;170000.00;0.00;;;nicht angefordert")), "{}", csv.text());
            assert_ne!(w.get("/controlling?jahr=2013", &unna).await.status, StatusCode::OK, "not for municipalities");
        }
    }
}
