//! `amtspost simulate`: a funding year of a whole Dezernat, through the
//! binary on both databases, its journal verified afterwards, and the same
//! seed giving the same year. (The full-size year's speed is measured in
//! `benches/simulate.rs`.)

use std::path::Path;

use serde_json::Value;

use crate::on_both_databases;
use crate::support::Bin;

/// `rows` of the summary's `[name, state, n]` lists: n for (name, state).
fn count(rows: &Value, a: &str, b: &str) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == a && r[1] == b)
        .map_or(0, |r| r[2].as_i64().unwrap())
}

fn total(rows: &Value, a: &str) -> i64 {
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0] == a)
        .map(|r| r[2].as_i64().unwrap())
        .sum()
}

fn cents(v: &Value) -> rust_decimal::Decimal {
    v.as_str().unwrap().parse().unwrap()
}

on_both_databases! {
    async fn a_simulated_funding_year_runs_through_the_binary_and_its_journal_verifies(db) {
        let mut bin = Bin::new(&db);
        bin.workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        let out = db.dir.path().join("simulation");
        let s = bin
            .run(&[
                "--json", "simulate", "--year", "2013", "--out", out.to_str().unwrap(),
                "--database-url", &db.url, "--municipalities", "6", "--applications", "18",
                "--circulars", "2", "--seed", "4",
            ])
            .json();
        let cases = &s["stats"]["cases"];
        assert_eq!(total(cases, "ki-foerderantrag"), 18, "{cases}");
        let granted = count(cases, "ki-foerderantrag", "bewilligt");
        assert!(granted >= 10, "{cases}");
        assert_eq!(granted + count(cases, "ki-foerderantrag", "abgelehnt"), 18, "every application decided: {cases}");
        // Three calls for funds per grant, all paid out; those not confirmed
        // as spent within two months are flagged for interest.
        assert_eq!(total(cases, "mittelabruf"), 3 * granted, "{cases}");
        let deadlines = &s["stats"]["deadlines"];
        assert_eq!(count(deadlines, "verwendung", "met") + count(deadlines, "verwendung", "expired"), 3 * granted, "{deadlines}");
        assert_eq!(count(cases, "mittelabruf", "zinspruefung"), count(deadlines, "verwendung", "expired"));
        // A proof of use per grant; the short one ends in a repayment.
        assert_eq!(total(cases, "verwendungsnachweis"), granted, "{cases}");
        assert!(count(cases, "verwendungsnachweis", "erstattet") >= 1, "{cases}");
        assert_eq!(count(cases, "rundschreiben", "verteilt"), 2);
        let docs: std::collections::BTreeMap<String, i64> = s["stats"]["documents"]
            .as_array().unwrap().iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
            .collect();
        assert_eq!(docs["eingangsbestaetigung"], 18);
        assert_eq!(docs["zuwendungsbescheid"], granted);
        assert_eq!(docs["widerrufsbescheid"], count(cases, "verwendungsnachweis", "erstattet"));
        assert_eq!(docs["rundschreiben"], 2);
        // Every mail went out, none failed.
        let mail = &s["stats"]["mail"];
        assert!(mail.as_array().unwrap().iter().all(|r| r[1] == "sent"), "{mail}");
        // The money of 2013: everything approved was paid out, part of it
        // proven and some to be repaid.
        let money = &s["money"];
        assert_eq!(money[0][0], 2013, "{money}");
        let t = &money[0][1];
        assert_eq!(cents(&t["approved"]), cents(&t["paid"]), "{t}");
        assert!(cents(&t["repaid"]) > rust_decimal::Decimal::ZERO, "{t}");
        assert!(cents(&t["proven"]) < cents(&t["paid"]), "{t}");
        // The letters and mails are in the folder; the journal verifies.
        assert!(out.join("documents").read_dir().unwrap().count() as i64 >= granted);
        let text = bin.run(&["audit", "verify"]).ok();
        assert!(!text.is_empty());
    }
}

/// The same seed plays the same year: the same file numbers, steps and
/// counts (a fresh SQLite file each time).
#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_gives_the_same_year() {
    use amtspost::cli::demo::scenario::DemoOptions;
    use amtspost::cli::simulate::{Params, simulate};
    let dir = tempfile::tempdir().unwrap();
    let params = Params {
        municipalities: 4,
        applications: 8,
        circulars: 1,
        seed: 9,
        ..Params::default()
    };
    let a = simulate(&params, DemoOptions::new(dir.path().join("a")))
        .await
        .unwrap();
    let b = simulate(&params, DemoOptions::new(dir.path().join("b")))
        .await
        .unwrap();
    let lines = |s: &amtspost::cli::demo::scenario::DemoSummary| {
        s.log
            .iter()
            .map(|l| format!("{} {} {}", l.date, l.case, l.text))
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&a), lines(&b));
    assert_eq!(format!("{:?}", a.stats), format!("{:?}", b.stats));
    assert!(
        lines(&a)
            .iter()
            .any(|l| l.contains("Widerrufs- und Erstattungsbescheid issued")),
        "{:?}",
        lines(&a)
    );
}
