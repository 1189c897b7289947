//! Public holidays of the German states, computed by rule.
//!
//! Computed rather than tabulated so that every year in the supported range
//! is covered and every rule (with the year it started or ended) is visible
//! in one place. For a state, only holidays that hold in the *whole* state
//! count. Local days (Mariä Himmelfahrt in Bavaria's predominantly Catholic
//! municipalities, Fronleichnam in parts of Saxony and Thuringia, the
//! Augsburger Friedensfest) count in the regions below the state that have
//! them ([`Region::LOCAL`]), because § 193 BGB looks at the holidays "am
//! Erklärungs- oder Leistungsort"; for a state alone,
//! [`local_holidays_on`] names them so that an explanation can warn.
//!
//! The year of unification, 1990, is treated with the rules in force from
//! 3 October 1990 for the whole year: Tag der Deutschen Einheit on
//! 3.10.1990, Buß- und Bettag nationwide, Reformationstag in the eastern
//! states. The West German holiday of 17 June (its last time in 1990) is not
//! listed: 17.06.1990 was a Sunday, so it cannot change any deadline. The
//! transitional arrangements of the GDR before unification are not modelled.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

use super::{DeadlineError, Region};

/// First year for which holidays are vouched for.
pub const FIRST_YEAR: i32 = 1990;
/// Last year for which holidays are vouched for.
pub const LAST_YEAR: i32 = 2100;

/// One public holiday: its date and its German name as used in letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Holiday {
    /// The day.
    pub date: NaiveDate,
    /// German name, e.g. "Fronleichnam".
    pub name: &'static str,
}

/// Fails unless `year` is in the supported range.
pub(crate) fn check_year(year: i32) -> Result<(), DeadlineError> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(DeadlineError::YearOutOfRange {
            year,
            min: FIRST_YEAR,
            max: LAST_YEAR,
        })
    }
}

/// Easter Sunday of `year` (Gregorian calendar), because five holidays
/// move with it.
///
/// Uses the anonymous Gregorian computus (Meeus/Jones/Butcher), valid for
/// every Gregorian year; the result is only offered for the supported years
/// so that callers do not mistake it for holiday data elsewhere.
pub fn easter_sunday(year: i32) -> Result<NaiveDate, DeadlineError> {
    check_year(year)?;
    // In range, the computus always yields a real March or April date.
    easter_any(year).ok_or(DeadlineError::YearOutOfRange {
        year,
        min: FIRST_YEAR,
        max: LAST_YEAR,
    })
}

/// The computus itself, for any year chrono can represent.
fn easter_any(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// All public holidays of `region` in `year`, sorted by date.
///
/// Two holidays can share a date (Christi Himmelfahrt fell on 1 May in
/// 2008); both are listed.
pub fn holidays(year: i32, region: Region) -> Result<Vec<Holiday>, DeadlineError> {
    check_year(year)?;
    Ok(holidays_any(year, region))
}

/// The rules, for any year. Outside the supported range the validity years
/// are taken from the nearest edge of the range (a year before 1990 is
/// treated like 1990, one after 2100 like 2100), so that the infallible
/// calendar functions still give a sensible answer; [`holidays`] and the
/// deadline computation refuse such years instead.
fn holidays_any(year: i32, place: Region) -> Vec<Holiday> {
    use Region::*;
    let region = place.state();
    let y = year.clamp(FIRST_YEAR, LAST_YEAR);
    let mut out: Vec<Holiday> = Vec::with_capacity(16);
    let mut fixed = |month: u32, day: u32, name: &'static str| {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            out.push(Holiday { date, name });
        }
    };
    let is = |set: &[Region]| set.contains(&region);

    // Fixed dates. Nationwide days are federal (3 October, Einigungsvertrag
    // Art. 2 Abs. 2) or in every state's holiday law (the others).
    fixed(1, 1, "Neujahr");
    if is(&[BW, BY]) || (region == ST && y >= 1993) {
        // Sachsen-Anhalt added 6 January by its Feiertagsgesetz of 1992,
        // first kept on 6.1.1993.
        fixed(1, 6, "Heilige Drei Könige");
    }
    if (region == BE && y >= 2019) || (region == MV && y >= 2023) {
        fixed(3, 8, "Internationaler Frauentag");
    }
    fixed(5, 1, "Tag der Arbeit");
    if region == BE && (y == 2020 || y == 2025) {
        // One-off days (75th and 80th anniversary of the end of the war).
        fixed(5, 8, "Tag der Befreiung");
    }
    if region == BE && y == 2028 {
        // One-off day, Berlin Feiertagsgesetz as amended in 2024
        // (GVBl. 2024 S. 460). It is a Saturday, so it moves no deadline.
        fixed(6, 17, "75. Jahrestag des Volksaufstandes in der DDR");
    }
    if region == SL {
        // In Bavaria only in Catholic municipalities: local, not counted.
        fixed(8, 15, "Mariä Himmelfahrt");
    }
    if region == TH && y >= 2019 {
        fixed(9, 20, "Weltkindertag");
    }
    fixed(10, 3, "Tag der Deutschen Einheit");
    if is(&[BB, MV, SN, ST, TH]) || (is(&[HB, HH, NI, SH]) && y >= 2018) || y == 2017 {
        // 2017: 500 years of the Reformation, a one-off day in every state.
        fixed(10, 31, "Reformationstag");
    }
    if is(&[BW, BY, NW, RP, SL]) {
        fixed(11, 1, "Allerheiligen");
    }
    fixed(12, 25, "1. Weihnachtstag");
    fixed(12, 26, "2. Weihnachtstag");

    // Buß- und Bettag: the Wednesday before 23 November. Abolished from
    // 1995 everywhere except Saxony to fund the long-term care insurance.
    if (y <= 1994 || region == SN)
        && let Some(nov22) = NaiveDate::from_ymd_opt(year, 11, 22)
    {
        let back =
            (nov22.weekday().num_days_from_monday() + 7 - Weekday::Wed.num_days_from_monday()) % 7;
        if let Some(date) = nov22.checked_sub_days(Days::new(u64::from(back))) {
            out.push(Holiday {
                date,
                name: "Buß- und Bettag",
            });
        }
    }

    // Days that move with Easter.
    if let Some(easter) = easter_any(year) {
        let mut movable = |offset: i64, name: &'static str| {
            if let Some(date) = easter.checked_add_signed(chrono::Duration::days(offset)) {
                out.push(Holiday { date, name });
            }
        };
        movable(-2, "Karfreitag");
        if region == BB {
            // Brandenburg's law names the two Sundays; no effect on deadlines.
            movable(0, "Ostersonntag");
        }
        movable(1, "Ostermontag");
        movable(39, "Christi Himmelfahrt");
        if region == BB {
            movable(49, "Pfingstsonntag");
        }
        movable(50, "Pfingstmontag");
        if is(&[BW, BY, HE, NW, RP, SL]) {
            // In Saxony and Thuringia only in named municipalities: local.
            movable(60, "Fronleichnam");
        }
    }

    // Local days of the regions below a state.
    if matches!(place, BYAugsburg) {
        // Augsburger Hohes Friedensfest, a public holiday in the city of
        // Augsburg only (Art. 1 Abs. 2 Bayerisches Feiertagsgesetz).
        fixed_local(&mut out, year, 8, 8, "Augsburger Hohes Friedensfest");
    }
    if matches!(place, BYAugsburg | BYKatholisch) {
        // In municipalities with a predominantly Catholic population
        // (Art. 1 Abs. 1 Nr. 2 Bayerisches Feiertagsgesetz).
        fixed_local(&mut out, year, 8, 15, "Mariä Himmelfahrt");
    }
    if matches!(place, SNFronleichnam | THFronleichnam)
        && let Some(date) =
            easter_any(year).and_then(|e| e.checked_add_signed(chrono::Duration::days(60)))
    {
        out.push(Holiday {
            date,
            name: "Fronleichnam",
        });
    }

    out.sort_by_key(|h| h.date);
    out
}

fn fixed_local(out: &mut Vec<Holiday>, year: i32, month: u32, day: u32, name: &'static str) {
    if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
        out.push(Holiday { date, name });
    }
}

/// A public holiday that holds only in part of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LocalHoliday {
    /// The day.
    pub date: NaiveDate,
    /// German name.
    pub name: &'static str,
    /// Where it is a holiday, in German.
    pub place: &'static str,
}

/// The local public holidays on `date` somewhere in `region` that do not
/// hold in `region` itself: for Bayern the Augsburger Friedensfest and
/// Mariä Himmelfahrt, for Sachsen and Thüringen Fronleichnam. Empty for
/// states without local holidays (e.g. NW) and for days already holidays in
/// `region`.
pub fn local_holidays_on(date: NaiveDate, region: Region) -> Vec<LocalHoliday> {
    use Region::*;
    let candidates: &[(Region, &str)] = match region {
        // The wider place first: Mariä Himmelfahrt holds in all Catholic
        // municipalities, Augsburg among them.
        BY => &[
            (
                BYKatholisch,
                "in den Gemeinden mit überwiegend katholischer Bevölkerung, darunter München und Augsburg",
            ),
            (BYAugsburg, "in der Stadt Augsburg"),
        ],
        BYKatholisch => &[(BYAugsburg, "in der Stadt Augsburg")],
        SN => &[(
            SNFronleichnam,
            "in einigen katholisch geprägten Gemeinden des sorbischen Siedlungsgebiets (Landkreise Bautzen und Görlitz)",
        )],
        TH => &[(
            THFronleichnam,
            "in den katholisch geprägten Gemeinden, vor allem im Landkreis Eichsfeld",
        )],
        _ => &[],
    };
    if is_holiday(date, region) {
        return Vec::new();
    }
    let mut out: Vec<LocalHoliday> = Vec::new();
    for (local, place) in candidates {
        for h in holidays_any(date.year(), *local) {
            if h.date == date && !out.iter().any(|o| o.name == h.name) {
                out.push(LocalHoliday {
                    date,
                    name: h.name,
                    place,
                });
            }
        }
    }
    out
}

/// Whether `date` is a public holiday in the whole of `region`.
///
/// Outside 1990–2100 the rules of the nearest supported year are applied
/// (see the module notes); use [`holidays`] to be told about that instead.
pub fn is_holiday(date: NaiveDate, region: Region) -> bool {
    holidays_any(date.year(), region)
        .iter()
        .any(|h| h.date == date)
}

/// Whether `date` is a working day in `region`: Monday to Friday and not a
/// public holiday. Saturdays never count (§ 193 BGB names them), even
/// though some offices open on them.
pub fn is_working_day(date: NaiveDate, region: Region) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date, region)
}

/// The date `n` working days after `date` (before it, if `n` is negative).
///
/// Counting starts with the day after (before) `date`, so `date` itself
/// never counts, whether or not it is a working day; `n == 0` returns `date`
/// unchanged. Stops at the edge of the calendar rather than panicking.
pub fn add_working_days(date: NaiveDate, n: i64, region: Region) -> NaiveDate {
    let forward = n >= 0;
    let mut remaining = n.unsigned_abs();
    let mut current = date;
    while remaining > 0 {
        let next = if forward {
            current.succ_opt()
        } else {
            current.pred_opt()
        };
        let Some(next) = next else {
            return current;
        };
        current = next;
        if is_working_day(current, region) {
            remaining -= 1;
        }
    }
    current
}
