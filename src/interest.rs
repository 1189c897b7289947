//! Interest on a repayment under § 49a Abs. 3 VwVfG NRW (and, the same way,
//! on money paid out too early, § 49a Abs. 4): "mit fünf Prozentpunkten über
//! dem Basiszinssatz jährlich zu verzinsen". A Widerrufs- und
//! Erstattungsbescheid has to state this sum to the cent, and the
//! Basiszinssatz (§ 247 BGB) changes on 1 January and 1 July, so the
//! computation is split at each change. This module is pure: the dated
//! table, its validation, the split into periods and the arithmetic.
//!
//! # The table
//!
//! `workflows/data/basiszinssatz.json` (built into the binary like the
//! other workflow data; a project's own `workflows/data/` copy wins), one
//! entry per half-year from 2002-01-01, each with its valid-from date, the
//! rate in percent as an exact decimal string, whether it is confirmed and
//! from which sources. The source of the figures is the Deutsche Bundesbank
//! (§ 247 Abs. 2 BGB: it publishes the rate in the Bundesanzeiger). The
//! table must be gapless: every entry starts on 1 January or 1 July, exactly
//! half a year after the one before; the last entry holds until the end of
//! its half-year. Dates outside the table are refused, never guessed.
//!
//! # Conventions (stated in every output)
//!
//! - **First and last day both count.** The interest runs "vom Eintritt der
//!   Unwirksamkeit des Verwaltungsakts an" (§ 49a Abs. 3 Satz 1): the day the
//!   notice ceased to have effect is a day that begins at 0:00 and counts
//!   (§ 187 Abs. 2 BGB by analogy), and so does the day of payment given as
//!   `to`. This is the practice for statutory interest in enforcement
//!   ("sowohl der erste als auch der letzte Tag des angegebenen Zeitraums
//!   [werden] mitgerechnet", Deutsches Anwalt Office, Zwangsvollstreckung
//!   Rz. 30 f.). A caller who wants the payment day excluded passes the day
//!   before.
//! - **Actual days / 365 ("kalendertäglich", act/365), also in leap years.**
//!   No statute prescribes the day count for § 49a interest; the rate is
//!   "jährlich" and § 191 BGB counts a year as 365 days, which is where the
//!   act/365 method comes from (jura-basic.de, "Zinsberechnung" Rz. 11);
//!   common court and enforcement practice counts calendar days and divides
//!   by 365. In a leap year 366 days thus give 366/365 of the annual rate;
//!   an act/act reading would differ by at most 1/366 of a year's interest.
//! - **Rounding:** each period's interest (amount × rate × days / 36 500) is
//!   rounded half up (away from zero) to the cent, the commercial rounding
//!   [`Money::times`] uses; the total is the sum of the rounded periods, so
//!   the lines add up to the total shown.
//! - **Negative Basiszinssatz** (1 January 2013 to 31 December 2022) is
//!   applied as it is: § 247 BGB lets it fall below zero and § 49a Abs. 3
//!   adds the points to it (2013-01-01: -0,13 % + 5 = 4,87 %). With the five
//!   points of § 49a the rate stays positive (lowest: 4,12 %). Should a
//!   smaller `points` make basis + points negative, that period bears no
//!   interest (0,00 EUR): § 49a Abs. 3 obliges the recipient to pay
//!   interest, it gives no claim against the authority, so a negative rate
//!   is not turned into a payment the other way. The period is still listed
//!   with its (negative) rate.
//!
//! The check of the issue: 10 000,00 EUR from 2013-01-01 to 2013-12-31 at
//! five points is 4,87 % for 181 days = 241,50 and 4,62 % for 184 days =
//! 232,90, total 474,40.

use std::path::Path;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use crate::assets::WORKFLOWS;
use crate::money::Money;

/// The table's place under the workflows folder and in the binary.
pub const TABLE_FILE: &str = "data/basiszinssatz.json";

/// The points above the Basiszinssatz of § 49a Abs. 3 VwVfG NRW.
pub const DEFAULT_POINTS: Decimal = Decimal::from_parts(5, 0, 0, false, 0);

/// Days of the interest year (act/365, see the module doc).
const DAYS_PER_YEAR: i64 = 365;

/// Why a table could not be read or an interest not computed; German, as
/// the messages reach the clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterestError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}: Eintrag {index} ({valid_from}): {reason}")]
    Entry {
        file: String,
        /// 1-based position in `eintraege`.
        index: usize,
        valid_from: String,
        reason: String,
    },
    #[error("Der Beginn {from} liegt nach dem Ende {to}; bitte --from nicht nach --to angeben")]
    FromAfterTo { from: String, to: String },
    #[error(
        "Der Basiszinssatz ist erst ab {first} hinterlegt; der Beginn {from} liegt davor ({file})"
    )]
    BeforeTable {
        from: String,
        first: String,
        file: String,
    },
    #[error(
        "Der Basiszinssatz ist nur bis {last} hinterlegt; das Ende {to} liegt danach ({file}: neues Halbjahr nachtragen)"
    )]
    AfterTable {
        to: String,
        last: String,
        file: String,
    },
    #[error("Der Betrag muss größer als 0,00 EUR sein, nicht {given} EUR")]
    NotPositive { given: String },
    #[error("Die Prozentpunkte über dem Basiszinssatz dürfen nicht negativ sein: {given}")]
    NegativePoints { given: String },
    #[error("Die Zinsen für {amount} EUR sind zu groß, um sie exakt zu rechnen")]
    Overflow { amount: String },
}

/// One half-year of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateEntry {
    pub valid_from: NaiveDate,
    /// Percent per year, exact (`-0.13`).
    pub rate: Decimal,
    pub confirmed: bool,
    pub sources: Vec<String>,
}

/// The Basiszinssatz by half-year, validated: gapless, from 1 January or
/// 1 July on, in order.
#[derive(Debug, Clone)]
pub struct RateTable {
    /// Where it was read from, for messages.
    pub file: String,
    entries: Vec<RateEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    gueltig_ab: String,
    satz: String,
    bestaetigt: bool,
    #[serde(default)]
    quellen: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    bekanntmachung: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    hinweis: Option<String>,
}

#[derive(Deserialize)]
struct TableFile {
    eintraege: Vec<FileEntry>,
}

/// The first day of the next half-year.
fn next_half_year(d: NaiveDate) -> NaiveDate {
    d.checked_add_months(Months::new(6))
        .expect("half-years of the table are far from the end of the calendar")
}

impl RateTable {
    /// `<workflows_dir>/data/basiszinssatz.json` if that file exists,
    /// otherwise the table built into the binary.
    pub fn load(workflows_dir: &Path) -> Result<RateTable, InterestError> {
        let path = workflows_dir.join(TABLE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => RateTable::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RateTable::built_in(),
            Err(e) => Err(InterestError::File {
                file: path.display().to_string(),
                reason: format!("nicht lesbar: {e}"),
            }),
        }
    }

    /// The table shipped in the binary.
    pub fn built_in() -> Result<RateTable, InterestError> {
        let file = format!("workflows/{TABLE_FILE} (eingebaut)");
        let text = WORKFLOWS
            .get_file(TABLE_FILE)
            .and_then(|f| f.contents_utf8())
            .ok_or_else(|| InterestError::File {
                file: file.clone(),
                reason: "fehlt im Programm".into(),
            })?;
        RateTable::parse(&file, text)
    }

    /// Parses and validates a table; `file` names it in every error.
    pub fn parse(file: &str, text: &str) -> Result<RateTable, InterestError> {
        let parsed: TableFile = serde_json::from_str(text).map_err(|e| InterestError::File {
            file: file.to_string(),
            reason: format!("kein gültiges JSON der erwarteten Form: {e}"),
        })?;
        if parsed.eintraege.is_empty() {
            return Err(InterestError::File {
                file: file.to_string(),
                reason: "die Tabelle hat keine Einträge".into(),
            });
        }
        let mut entries: Vec<RateEntry> = Vec::with_capacity(parsed.eintraege.len());
        for (i, e) in parsed.eintraege.into_iter().enumerate() {
            let bad = |reason: String| InterestError::Entry {
                file: file.to_string(),
                index: i + 1,
                valid_from: e.gueltig_ab.clone(),
                reason,
            };
            let valid_from = NaiveDate::parse_from_str(&e.gueltig_ab, "%Y-%m-%d")
                .map_err(|_| bad("gueltig_ab ist kein Datum der Form JJJJ-MM-TT".into()))?;
            if valid_from.day() != 1 || !matches!(valid_from.month(), 1 | 7) {
                return Err(bad(
                    "der Basiszinssatz ändert sich nur zum 1. Januar und 1. Juli (§ 247 Abs. 1 Satz 2 BGB)".into(),
                ));
            }
            if let Some(prev) = entries.last() {
                let expected = next_half_year(prev.valid_from);
                if valid_from != expected {
                    return Err(bad(format!(
                        "erwartet wird das nächste Halbjahr ab {expected} (keine Lücken, keine Doppel, aufsteigend)"
                    )));
                }
            }
            let rate = Decimal::from_str_exact(e.satz.trim())
                .ok()
                .filter(|_| {
                    let t = e.satz.trim();
                    let body = t.strip_prefix('-').unwrap_or(t);
                    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
                    !int.is_empty()
                        && int.bytes().all(|b| b.is_ascii_digit())
                        && frac.bytes().all(|b| b.is_ascii_digit())
                        && !body.ends_with('.')
                })
                .ok_or_else(|| {
                    bad(format!(
                        "satz „{}“ ist keine Dezimalzahl in Prozent wie \"-0.13\" (als Zeichenkette)",
                        e.satz
                    ))
                })?;
            if rate.scale() > 2 {
                return Err(bad(format!(
                    "satz „{}“ hat mehr als zwei Nachkommastellen; die Bundesbank gibt ihn auf zwei an",
                    e.satz
                )));
            }
            if rate.abs() >= Decimal::from(100) {
                return Err(bad(format!(
                    "satz „{}“ ist kein plausibler Prozentsatz",
                    e.satz
                )));
            }
            if e.bestaetigt && e.quellen.iter().all(|q| q.trim().is_empty()) {
                return Err(bad(
                    "bestaetigt ist true, aber keine Quelle ist genannt".into()
                ));
            }
            entries.push(RateEntry {
                valid_from,
                rate,
                confirmed: e.bestaetigt,
                sources: e.quellen,
            });
        }
        Ok(RateTable {
            file: file.to_string(),
            entries,
        })
    }

    pub fn entries(&self) -> &[RateEntry] {
        &self.entries
    }

    /// The first day the table covers.
    pub fn first_day(&self) -> NaiveDate {
        self.entries[0].valid_from
    }

    /// The last day the table covers: the end of the last entry's half-year.
    pub fn last_day(&self) -> NaiveDate {
        let last = self
            .entries
            .last()
            .expect("validated: not empty")
            .valid_from;
        next_half_year(last).pred_opt().expect("a day before")
    }
}

/// One stretch of days at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    /// The Basiszinssatz of this half-year, percent.
    pub basis: Decimal,
    /// Basiszinssatz + points, percent per year.
    pub rate: Decimal,
    /// Calendar days, both ends counted.
    pub days: i64,
    /// Rounded half up to the cent; 0.00 if `rate` is negative.
    pub amount: Money,
    /// Whether the Basiszinssatz of this half-year is confirmed in the table.
    pub confirmed: bool,
}

/// The whole computation: its inputs, the periods and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    pub principal: Money,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub points: Decimal,
    pub periods: Vec<Period>,
    /// The sum of the rounded periods.
    pub total: Money,
}

impl Interest {
    /// Total calendar days.
    pub fn days(&self) -> i64 {
        self.periods.iter().map(|p| p.days).sum()
    }

    /// Whether any period uses an unconfirmed Basiszinssatz.
    pub fn uses_unconfirmed(&self) -> bool {
        self.periods.iter().any(|p| !p.confirmed)
    }
}

/// The interest on `principal` from `from` to `to` (both inclusive) at
/// `points` percentage points above the Basiszinssatz, split at each
/// change of the Basiszinssatz.
pub fn compute(
    table: &RateTable,
    principal: Money,
    from: NaiveDate,
    to: NaiveDate,
    points: Decimal,
) -> Result<Interest, InterestError> {
    if principal.decimal() <= Decimal::ZERO {
        return Err(InterestError::NotPositive {
            given: principal.german(),
        });
    }
    if points.is_sign_negative() && !points.is_zero() {
        return Err(InterestError::NegativePoints {
            given: points.to_string(),
        });
    }
    if from > to {
        return Err(InterestError::FromAfterTo {
            from: from.format("%d.%m.%Y").to_string(),
            to: to.format("%d.%m.%Y").to_string(),
        });
    }
    if from < table.first_day() {
        return Err(InterestError::BeforeTable {
            from: from.format("%d.%m.%Y").to_string(),
            first: table.first_day().format("%d.%m.%Y").to_string(),
            file: table.file.clone(),
        });
    }
    if to > table.last_day() {
        return Err(InterestError::AfterTable {
            to: to.format("%d.%m.%Y").to_string(),
            last: table.last_day().format("%d.%m.%Y").to_string(),
            file: table.file.clone(),
        });
    }
    let overflow = || InterestError::Overflow {
        amount: principal.german(),
    };
    let mut periods = Vec::new();
    let mut total = Money::ZERO;
    for entry in table.entries() {
        let half_end = next_half_year(entry.valid_from)
            .pred_opt()
            .expect("a day before");
        let start = from.max(entry.valid_from);
        let end = to.min(half_end);
        if start > end {
            continue;
        }
        let days = (end - start).num_days() + 1;
        let rate = entry.rate + points;
        let amount = if rate.is_sign_negative() && !rate.is_zero() {
            Money::ZERO
        } else {
            let exact = principal
                .decimal()
                .checked_mul(rate)
                .and_then(|x| x.checked_mul(Decimal::from(days)))
                .and_then(|x| x.checked_div(Decimal::from(100 * DAYS_PER_YEAR)))
                .ok_or_else(overflow)?;
            let cents = exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Money::from_decimal(cents, &cents.to_string()).map_err(|_| overflow())?
        };
        total = Money::from_decimal(
            total
                .decimal()
                .checked_add(amount.decimal())
                .ok_or_else(overflow)?,
            "",
        )
        .map_err(|_| overflow())?;
        periods.push(Period {
            from: start,
            to: end,
            basis: entry.rate,
            rate,
            days,
            amount,
            confirmed: entry.confirmed,
        });
    }
    Ok(Interest {
        principal,
        from,
        to,
        points,
        periods,
        total,
    })
}

/// A percentage in German notation with at least two decimals: `-0,13`, `4,87`.
pub fn german_percent(d: Decimal) -> String {
    plain_percent(d).replace('.', ",")
}

/// A percentage as a decimal string with at least two decimals: `4.87`, `5.00`.
pub fn plain_percent(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

/// Percentage points as people type them: `5`, `5,5` or `5.5`.
pub fn parse_points(text: &str) -> Option<Decimal> {
    let t = text.trim().replace(',', ".");
    let body = t.strip_prefix('-').unwrap_or(&t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || body.ends_with('.')
    {
        return None;
    }
    Decimal::from_str(&t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }
    fn table() -> RateTable {
        RateTable::built_in().expect("the built-in table is valid")
    }
    fn five(from: &str, to: &str, amount: &str) -> Interest {
        compute(&table(), m(amount), d(from), d(to), DEFAULT_POINTS).unwrap()
    }
    fn lines(i: &Interest) -> Vec<(String, String, String, i64, String)> {
        i.periods
            .iter()
            .map(|p| {
                (
                    p.from.to_string(),
                    p.to.to_string(),
                    plain_percent(p.rate),
                    p.days,
                    p.amount.to_string(),
                )
            })
            .collect()
    }
    fn small(entries: &str) -> Result<RateTable, InterestError> {
        RateTable::parse("test.json", &format!("{{\"eintraege\": [{entries}]}}"))
    }

    #[test]
    fn the_issues_example_is_474_40() {
        let i = five("2013-01-01", "2013-12-31", "10000.00");
        assert_eq!(
            lines(&i),
            [
                (
                    "2013-01-01".into(),
                    "2013-06-30".into(),
                    "4.87".into(),
                    181,
                    "241.50".into()
                ),
                (
                    "2013-07-01".into(),
                    "2013-12-31".into(),
                    "4.62".into(),
                    184,
                    "232.90".into()
                ),
            ]
        );
        assert_eq!(i.total.to_string(), "474.40");
        assert_eq!(i.days(), 365);
    }

    #[test]
    fn the_built_in_table_is_every_half_year_from_2002_with_negative_rates_2013_to_2022() {
        let t = table();
        assert_eq!(t.first_day(), d("2002-01-01"));
        assert_eq!(t.entries().len(), 50);
        assert_eq!(t.last_day(), d("2026-12-31"));
        for e in t.entries() {
            let negative = e.rate < Decimal::ZERO;
            let y = e.valid_from.year();
            assert_eq!(negative, (2013..=2022).contains(&y), "{e:?}");
        }
        assert_eq!(t.entries()[0].rate, dec("2.57"));
        assert!(
            t.entries()
                .iter()
                .filter(|e| !e.confirmed)
                .all(|e| e.valid_from == d("2026-07-01"))
        );
    }

    #[test]
    fn a_range_inside_one_half_year_is_one_period() {
        let i = five("2013-02-01", "2013-02-28", "10000.00");
        // 10 000 × 4,87 % × 28 / 365 = 37,358…
        assert_eq!(
            lines(&i),
            [(
                "2013-02-01".into(),
                "2013-02-28".into(),
                "4.87".into(),
                28,
                "37.36".into()
            )]
        );
        assert_eq!(i.total, m("37.36"));
    }

    #[test]
    fn from_equal_to_is_one_day() {
        let i = five("2014-07-01", "2014-07-01", "36500.00");
        // 36 500 × 4,27 % / 365 = 4,27
        assert_eq!(
            lines(&i),
            [(
                "2014-07-01".into(),
                "2014-07-01".into(),
                "4.27".into(),
                1,
                "4.27".into()
            )]
        );
    }

    #[test]
    fn period_boundaries_split_exactly_at_1_january_and_1_july() {
        // Ends on the last day of a half-year: no empty period after it.
        let i = five("2013-06-30", "2013-06-30", "1000.00");
        assert_eq!(i.periods.len(), 1);
        // Starts on the first day of the next.
        let i = five("2013-07-01", "2013-07-01", "1000.00");
        assert_eq!(i.periods.len(), 1);
        assert_eq!(i.periods[0].rate, dec("4.62"));
        // Two days across 1 July and across 1 January.
        let i = five("2013-06-30", "2013-07-01", "1000.00");
        assert_eq!(
            i.periods
                .iter()
                .map(|p| (p.days, plain_percent(p.rate)))
                .collect::<Vec<_>>(),
            [(1, "4.87".into()), (1, "4.62".into())]
        );
        let i = five("2013-12-31", "2014-01-01", "1000.00");
        assert_eq!(
            i.periods
                .iter()
                .map(|p| (p.days, plain_percent(p.rate)))
                .collect::<Vec<_>>(),
            [(1, "4.62".into()), (1, "4.37".into())]
        );
    }

    #[test]
    fn a_range_across_several_changes_sums_the_rounded_periods() {
        let i = five("2012-05-15", "2016-03-10", "123456.78");
        let starts: Vec<String> = i.periods.iter().map(|p| p.from.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2012-05-15",
                "2012-07-01",
                "2013-01-01",
                "2013-07-01",
                "2014-01-01",
                "2014-07-01",
                "2015-01-01",
                "2015-07-01",
                "2016-01-01"
            ]
        );
        assert_eq!(i.periods.last().unwrap().to, d("2016-03-10"));
        assert_eq!(i.days(), (d("2016-03-10") - d("2012-05-15")).num_days() + 1);
        let sum: Decimal = i.periods.iter().map(|p| p.amount.decimal()).sum();
        assert_eq!(i.total.decimal(), sum);
        // Each period on its own: amount × rate × days / 36 500, half up.
        for p in &i.periods {
            let exact = dec("123456.78") * p.rate * Decimal::from(p.days) / Decimal::from(36500);
            assert_eq!(
                p.amount.decimal(),
                exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            );
        }
        // 2012-05-15..2012-06-30 lies in a leap year: still / 365.
        assert_eq!(i.periods[0].days, 47);
    }

    #[test]
    fn a_leap_year_counts_366_days_over_365() {
        let i = five("2016-07-01", "2016-12-31", "36500.00");
        // 36 500,00 EUR earn 1,00 EUR per day and percent: 184 days at 4,12 %.
        assert_eq!(i.periods[0].days, 184);
        assert_eq!(i.total, m("758.08"));
        let i = five("2016-01-01", "2016-12-31", "36500.00");
        assert_eq!(i.days(), 366);
        // 182 days at 4,17 % + 184 days at 4,12 %, each day 1/365 of a year.
        assert_eq!(i.total, m("1517.02"));
    }

    #[test]
    fn half_a_cent_rounds_up() {
        // 3650.00 × 4.87 % × 1 / 365 = 0.487 -> 0.49
        let i = five("2013-01-01", "2013-01-01", "3650.00");
        assert_eq!(i.total, m("0.49"));
        // 1825.00 × 4.87 % × 1 / 365 = 0.2435 -> 0.24 (not a midpoint at the cent)
        let i = five("2013-01-01", "2013-01-01", "1825.00");
        assert_eq!(i.total, m("0.24"));
        // An exact midpoint: 36.50 × 5.00 % × 1 / 365 = 0.005 -> 0.01
        // (rate 5.00 = -0.63 + 5.63 points on 2014-01-01).
        let i = compute(
            &table(),
            m("36.50"),
            d("2014-01-01"),
            d("2014-01-01"),
            dec("5.63"),
        )
        .unwrap();
        assert_eq!(i.periods[0].rate, dec("5.00"));
        assert_eq!(i.total, m("0.01"));
    }

    #[test]
    fn a_negative_basiszinssatz_is_applied_as_it_is() {
        let i = five("2016-07-01", "2016-07-01", "36500.00");
        assert_eq!(i.periods[0].basis, dec("-0.88"));
        assert_eq!(i.periods[0].rate, dec("4.12"));
        assert_eq!(i.total, m("4.12"));
    }

    #[test]
    fn a_negative_total_rate_bears_no_interest() {
        // Zero points on a negative Basiszinssatz: the period is listed with
        // its negative rate and 0,00 EUR; positive periods still count.
        let i = compute(
            &table(),
            m("36500.00"),
            d("2012-12-31"),
            d("2013-01-02"),
            Decimal::ZERO,
        )
        .unwrap();
        assert_eq!(
            lines(&i),
            [
                (
                    "2012-12-31".into(),
                    "2012-12-31".into(),
                    "0.12".into(),
                    1,
                    "0.12".into()
                ),
                (
                    "2013-01-01".into(),
                    "2013-01-02".into(),
                    "-0.13".into(),
                    2,
                    "0.00".into()
                ),
            ]
        );
        assert_eq!(i.total, m("0.12"));
    }

    #[test]
    fn refusals_say_why_in_german() {
        let t = table();
        let e = compute(
            &t,
            m("100.00"),
            d("2013-02-01"),
            d("2013-01-01"),
            DEFAULT_POINTS,
        )
        .unwrap_err();
        assert!(matches!(e, InterestError::FromAfterTo { .. }));
        assert!(
            e.to_string()
                .contains("01.02.2013 liegt nach dem Ende 01.01.2013"),
            "{e}"
        );
        let e = compute(
            &t,
            m("100.00"),
            d("2001-12-31"),
            d("2002-01-05"),
            DEFAULT_POINTS,
        )
        .unwrap_err();
        assert!(matches!(e, InterestError::BeforeTable { .. }));
        assert!(e.to_string().contains("erst ab 01.01.2002"), "{e}");
        let e = compute(
            &t,
            m("100.00"),
            d("2026-12-01"),
            d("2027-01-01"),
            DEFAULT_POINTS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nur bis 31.12.2026"), "{e}");
        let e = compute(
            &t,
            m("0.00"),
            d("2013-01-01"),
            d("2013-01-01"),
            DEFAULT_POINTS,
        )
        .unwrap_err();
        assert!(matches!(e, InterestError::NotPositive { .. }));
        let e = compute(
            &t,
            m("-5.00"),
            d("2013-01-01"),
            d("2013-01-01"),
            DEFAULT_POINTS,
        )
        .unwrap_err();
        assert!(matches!(e, InterestError::NotPositive { .. }));
        let e = compute(&t, m("5.00"), d("2013-01-01"), d("2013-01-01"), dec("-1")).unwrap_err();
        assert!(matches!(e, InterestError::NegativePoints { .. }));
    }

    #[test]
    fn the_first_and_last_days_of_the_table_are_accepted() {
        let i = five("2002-01-01", "2002-01-01", "36500.00");
        assert_eq!(i.total, m("7.57"));
        let i = five("2026-12-31", "2026-12-31", "36500.00");
        assert!(!i.periods[0].confirmed);
        assert!(i.uses_unconfirmed());
        assert!(!five("2013-01-01", "2013-12-31", "1.00").uses_unconfirmed());
    }

    #[test]
    fn a_table_entry_error_names_the_file_and_the_entry() {
        let ok = r#"{"gueltig_ab": "2013-01-01", "satz": "-0.13", "bestaetigt": true, "quellen": ["x"]}"#;
        let cases = [
            (
                r#"{"gueltig_ab": "2013-02-01", "satz": "1.00", "bestaetigt": false}"#,
                "1. Januar und 1. Juli",
            ),
            (
                r#"{"gueltig_ab": "2014-01-01", "satz": "1.00", "bestaetigt": false}"#,
                "nächste Halbjahr ab 2013-07-01",
            ),
            (
                r#"{"gueltig_ab": "2013-01-01", "satz": "1.00", "bestaetigt": false}"#,
                "nächste Halbjahr ab 2013-07-01",
            ),
            (
                r#"{"gueltig_ab": "2013-07-01", "satz": "1,00", "bestaetigt": false}"#,
                "keine Dezimalzahl",
            ),
            (
                r#"{"gueltig_ab": "2013-07-01", "satz": "1.005", "bestaetigt": false}"#,
                "mehr als zwei Nachkommastellen",
            ),
            (
                r#"{"gueltig_ab": "2013-07-01", "satz": "1e2", "bestaetigt": false}"#,
                "keine Dezimalzahl",
            ),
            (
                r#"{"gueltig_ab": "2013-07-01", "satz": "-0.38", "bestaetigt": true, "quellen": []}"#,
                "keine Quelle",
            ),
            (
                r#"{"gueltig_ab": "1.7.2013", "satz": "-0.38", "bestaetigt": false}"#,
                "JJJJ-MM-TT",
            ),
        ];
        for (second, why) in cases {
            let e = small(&format!("{ok}, {second}")).unwrap_err();
            let text = e.to_string();
            assert!(text.starts_with("test.json: Eintrag 2 ("), "{text}");
            assert!(text.contains(why), "{text} / {why}");
        }
        let e = small("").unwrap_err();
        assert!(
            e.to_string()
                .contains("test.json: die Tabelle hat keine Einträge"),
            "{e}"
        );
        let e = RateTable::parse("x.json", "{").unwrap_err();
        assert!(
            e.to_string().starts_with("x.json: kein gültiges JSON"),
            "{e}"
        );
        // A rate given as a JSON number is refused: it would be a float.
        let e = small(r#"{"gueltig_ab": "2013-01-01", "satz": -0.13, "bestaetigt": false}"#)
            .unwrap_err();
        assert!(e.to_string().starts_with("test.json:"), "{e}");
        let t = small(ok).unwrap();
        assert_eq!(t.last_day(), d("2013-06-30"));
    }

    #[test]
    fn a_folder_without_the_file_uses_the_built_in_table() {
        let dir = std::env::temp_dir().join("amtspost-interest-no-such-folder");
        let t = RateTable::load(&dir).unwrap();
        assert!(t.file.contains("eingebaut"));
        assert_eq!(t.entries().len(), table().entries().len());
    }

    #[test]
    fn points_and_percent_notation() {
        assert_eq!(parse_points("5"), Some(dec("5")));
        assert_eq!(parse_points("5,5"), Some(dec("5.5")));
        assert_eq!(parse_points("9.0"), Some(dec("9.0")));
        assert_eq!(parse_points("fünf"), None);
        assert_eq!(parse_points("5."), None);
        assert_eq!(german_percent(dec("-0.13")), "-0,13");
        assert_eq!(german_percent(dec("5")), "5,00");
        assert_eq!(plain_percent(dec("4.870")), "4.87");
        assert_eq!(plain_percent(dec("5.125")), "5.125");
    }
}
