//! `amtspost interest` end to end: the binary's `--json` against
//! `tests/reference/interest.csv`, computed independently with Python's
//! `decimal` by `tests/reference/gen_interest.py` (never from the Rust code);
//! the German text, `--help` and the refusals. Interest needs no database;
//! the runs use a SQLite test folder only for a clean working directory.

use serde_json::Value;

use crate::support::{Bin, TestDb};

const TABLE: &str = include_str!("../reference/interest.csv");

struct Case {
    line: usize,
    amount: String,
    from: String,
    to: String,
    points: String,
    total: String,
    periods: Vec<Value>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut header = true;
    for (i, line) in TABLE.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if header {
            assert_eq!(line, "amount,from,to,points,total,periods");
            header = false;
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 6, "line {}: {line}", i + 1);
        let periods = cols[5]
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let f: Vec<&str> = p.split('|').collect();
                serde_json::json!({
                    "from": f[0], "to": f[1], "rate": f[2],
                    "days": f[3].parse::<i64>().unwrap(), "amount": f[4],
                })
            })
            .collect();
        out.push(Case {
            line: i + 1,
            amount: cols[0].into(),
            from: cols[1].into(),
            to: cols[2].into(),
            points: cols[3].into(),
            total: cols[4].into(),
            periods,
        });
    }
    out
}

#[tokio::test]
async fn json_matches_the_independent_reference_table() {
    let db = TestDb::sqlite().await;
    let bin = Bin::new(&db);
    let cases = cases();
    assert!(cases.len() >= 60, "{}", cases.len());
    // The table covers a 1 January and a 1 July change and the negative years.
    assert!(
        cases
            .iter()
            .any(|c| c.periods.iter().any(|p| p["from"] == "2013-07-01"))
    );
    assert!(
        cases
            .iter()
            .any(|c| c.periods.iter().any(|p| p["from"] == "2014-01-01"))
    );
    for year in 2013..=2016 {
        assert!(cases.iter().any(|c| {
            c.periods
                .iter()
                .any(|p| p["from"].as_str().unwrap().starts_with(&year.to_string()))
        }));
    }
    let mut failures = Vec::new();
    for c in &cases {
        let run = bin.run(&[
            "interest", "--amount", &c.amount, "--from", &c.from, "--to", &c.to, "--points",
            &c.points, "--json",
        ]);
        let what = format!(
            "interest.csv:{} ({} {}..{} +{})",
            c.line, c.amount, c.from, c.to, c.points
        );
        if c.total == "ERROR" {
            if run.0.status.success() {
                failures.push(format!("{what}: expected a refusal, got {}", run.stdout()));
            }
            continue;
        }
        if !run.0.status.success() {
            failures.push(format!("{what}: failed: {}", run.stderr()));
            continue;
        }
        let got: Value = serde_json::from_str(&run.stdout()).expect("--json prints JSON");
        let want = serde_json::json!({"total": c.total, "periods": c.periods});
        if got != want {
            failures.push(format!("{what}:\n  want {want}\n  got  {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_issues_example_in_german_text_and_json() {
    let db = TestDb::sqlite().await;
    let bin = Bin::new(&db);
    let json = bin
        .run(&[
            "interest",
            "--amount",
            "10000.00",
            "--from",
            "2013-01-01",
            "--to",
            "2013-12-31",
            "--json",
        ])
        .json();
    assert_eq!(json["total"], "474.40");
    assert_eq!(
        json["periods"][0],
        serde_json::json!({"from": "2013-01-01", "to": "2013-06-30", "rate": "4.87", "days": 181, "amount": "241.50"})
    );
    // The global flag before the command works the same.
    let before = bin
        .run(&[
            "--json",
            "interest",
            "--amount",
            "10000.00",
            "--from",
            "2013-01-01",
            "--to",
            "2013-12-31",
        ])
        .json();
    assert_eq!(before, json);

    let text = bin
        .run(&[
            "interest",
            "--amount",
            "10.000,00",
            "--from",
            "01.01.2013",
            "--to",
            "2013-12-31",
            "--points",
            "5",
        ])
        .ok();
    for needle in [
        "§ 49a Abs. 3 VwVfG NRW",
        "§ 247 BGB",
        "Betrag 10.000,00 EUR, vom 01.01.2013 bis 31.12.2013 (erster und letzter Tag mitgerechnet)",
        "01.01.2013   30.06.2013",
        "-0,13 %",
        "4,87 %",
        "181",
        "241,50 EUR",
        "4,62 %",
        "232,90 EUR",
        "474,40 EUR",
        "Tage / 365",
        "kaufmännisch auf den Cent gerundet",
        "Deutsche Bundesbank",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn help_and_refusals_are_german_with_a_non_zero_exit() {
    let db = TestDb::sqlite().await;
    let bin = Bin::new(&db);
    let help = bin.run(&["interest", "--help"]).ok();
    for needle in [
        "--amount <BETRAG>",
        "--from <DATUM>",
        "--to <DATUM>",
        "--points <PUNKTE>",
        "[default: 5]",
        "§ 49a Abs. 3 VwVfG NRW",
        "--json",
    ] {
        assert!(help.contains(needle), "missing {needle:?} in:\n{help}");
    }
    let top = bin.run(&["--help"]).ok();
    assert!(top.contains("interest"), "{top}");

    let refusals: [(&[&str], &str); 7] = [
        (
            &[
                "--amount",
                "zehn",
                "--from",
                "2013-01-01",
                "--to",
                "2013-12-31",
            ],
            "--amount: „zehn“ ist kein Betrag",
        ),
        (
            &[
                "--amount",
                "10.000.00",
                "--from",
                "2013-01-01",
                "--to",
                "2013-12-31",
            ],
            "„10.000.00“ ist kein Betrag",
        ),
        (
            &[
                "--amount",
                "0",
                "--from",
                "2013-01-01",
                "--to",
                "2013-12-31",
            ],
            "größer als 0,00 EUR",
        ),
        (
            &[
                "--amount",
                "100",
                "--from",
                "2013-02-30",
                "--to",
                "2013-12-31",
            ],
            "--from: „2013-02-30“ ist kein gültiges Datum",
        ),
        (
            &[
                "--amount",
                "100",
                "--from",
                "2013-02-01",
                "--to",
                "2013-01-01",
            ],
            "liegt nach dem Ende",
        ),
        (
            &[
                "--amount",
                "100",
                "--from",
                "1999-01-01",
                "--to",
                "2013-01-01",
            ],
            "erst ab 01.01.2002 hinterlegt",
        ),
        (
            &[
                "--amount",
                "100",
                "--from",
                "2026-01-01",
                "--to",
                "2027-03-01",
            ],
            "nur bis 31.12.2026 hinterlegt",
        ),
    ];
    for (args, needle) in refusals {
        let mut all = vec!["interest"];
        all.extend_from_slice(args);
        let run = bin.run(&all);
        let err = run.fails();
        assert_ne!(run.code(), 0);
        assert!(
            err.contains(needle),
            "{args:?}: missing {needle:?} in:\n{err}"
        );
        assert!(run.stdout().is_empty(), "{args:?}: {}", run.stdout());
    }
    let err = bin
        .run(&[
            "interest",
            "--amount",
            "100",
            "--from",
            "2013-01-01",
            "--to",
            "2013-01-02",
            "--points",
            "fünf",
        ])
        .fails();
    assert!(
        err.contains("--points: „fünf“ ist keine Zahl von Prozentpunkten"),
        "{err}"
    );
}
