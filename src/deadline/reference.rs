//! Checks every row of the independently generated reference table
//! (`tests/reference/deadlines.csv`, made by `gen_deadlines.py` from the
//! Python `holidays` and `dateutil` packages) against [`compute`].

use chrono::NaiveDate;

use super::{DeadlineSpec, Period, Region, compute};

const TABLE: &str = include_str!("../../tests/reference/deadlines.csv");

fn parse_bool(text: &str) -> bool {
    match text {
        "true" => true,
        "false" => false,
        other => panic!("bad boolean {other:?} in reference table"),
    }
}

#[test]
fn reference_table_matches_exactly() {
    let mut lines = TABLE.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(
        lines.next(),
        Some("event,period,region,by_post,moves,end"),
        "unexpected header"
    );
    let mut rows = 0;
    let mut mismatches = Vec::new();
    for line in lines {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 6, "bad row {line:?}");
        let spec = DeadlineSpec {
            event: NaiveDate::parse_from_str(cols[0], "%Y-%m-%d").expect("event date"),
            period: cols[1].parse::<Period>().expect("period"),
            region: cols[2].parse::<Region>().expect("region"),
            by_post: parse_bool(cols[3]),
            moves: parse_bool(cols[4]),
        };
        let expected = cols[5];
        rows += 1;
        let result = compute(&spec);
        let got = match &result {
            Ok(c) => c.end.format("%Y-%m-%d").to_string(),
            Err(_) => "ERROR".to_string(),
        };
        if got != expected {
            let explanation = match &result {
                Ok(c) => c.to_string(),
                Err(e) => e.to_string(),
            };
            mismatches.push(format!(
                "{line}\n  expected {expected}, got {got}\n  {}",
                explanation.replace('\n', "\n  ")
            ));
        }
    }
    assert!(rows >= 2500, "reference table has only {rows} rows");
    if !mismatches.is_empty() {
        let shown: Vec<&String> = mismatches.iter().take(10).collect();
        panic!(
            "{} of {rows} reference rows differ; first ones:\n{}",
            mismatches.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
