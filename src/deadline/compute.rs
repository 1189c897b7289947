//! The deadline computation itself (§§ 187–193 BGB via § 31 VwVfG), the
//! postal notification fiction (§ 41 Abs. 2 VwVfG) and reminder dates.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::holidays::{FIRST_YEAR, LAST_YEAR, holidays, local_holidays_on};
use super::{DeadlineError, Offset, Period, Region, Unit, add_working_days, is_working_day};

/// Last posting day to which the old 3-day fiction applies. From 1.1.2025
/// the PostModG (federal) and the NRW law of 10.12.2024 (GV. NRW. S. 1183)
/// made it 4 days, because letters may now take longer.
const LAST_DAY_OF_THREE_DAY_FICTION: NaiveDate = match NaiveDate::from_ymd_opt(2024, 12, 31) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

/// What a deadline is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeadlineSpec {
    /// The triggering event day (e.g. notification), or the posting day
    /// when `by_post` is set. This day itself is never counted.
    pub event: NaiveDate,
    /// The length of the deadline.
    pub period: Period,
    /// Whose public holidays shift the end (§ 193 BGB: "at the place").
    #[serde(default)]
    pub region: Region,
    /// The document went by ordinary post: the period runs from the
    /// fictitious notification day, not from `event`.
    #[serde(default)]
    pub by_post: bool,
    /// Whether the end moves off a weekend or holiday. `false` only where
    /// the authority named an end date and expressly said it does not move.
    #[serde(default = "default_true")]
    pub moves: bool,
}

fn default_true() -> bool {
    true
}

/// Which rules compute a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// A deadline in administrative procedure: § 31 VwVfG with §§ 187–193 BGB.
    #[default]
    Authority,
    /// A court deadline such as the Klagefrist (§ 74 VwGO): § 57 Abs. 2 VwGO
    /// with § 222 ZPO, which in turn applies §§ 187–193 BGB. Same dates,
    /// other legal reasoning.
    Court,
}

/// One step of the reasoning, for the explanation shown to a clerk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Step {
    /// The legal rule applied, e.g. "§ 187 Abs. 1 BGB".
    pub rule: String,
    /// What the rule did here, in a plain German sentence.
    pub text: String,
    /// The date this step arrived at.
    pub date: NaiveDate,
}

/// The result of [`compute`]: the end of the deadline and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Computed {
    /// The event (or posting) day as given.
    pub event: NaiveDate,
    /// The fictitious notification day, if the document went by post.
    pub notified: Option<NaiveDate>,
    /// The end by §§ 187, 188 BGB alone, before any shift off a weekend or
    /// holiday.
    pub unshifted_end: NaiveDate,
    /// The last day of the deadline: it ends at midnight at the end of it.
    pub end: NaiveDate,
    /// The reasoning, in order.
    pub steps: Vec<Step>,
}

impl fmt::Display for Computed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{}. {}: {}", i + 1, step.rule, step.text)?;
        }
        write!(
            f,
            "Die Frist endet mit Ablauf des {} ({}).",
            de(self.end),
            weekday_name(self.end.weekday())
        )
    }
}

/// A date the way German letters write it: 19.03.2012.
fn de(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// The German weekday in the genitive/dative after "des"/"am": "Montag".
fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Montag",
        Weekday::Tue => "Dienstag",
        Weekday::Wed => "Mittwoch",
        Weekday::Thu => "Donnerstag",
        Weekday::Fri => "Freitag",
        Weekday::Sat => "Sonnabend",
        Weekday::Sun => "Sonntag",
    }
}

const MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

/// "Februar 2013".
fn month_year(date: NaiveDate) -> String {
    format!("{} {}", MONTHS[date.month0() as usize], date.year())
}

/// Fails unless `date` lies in the years with holiday data.
fn check_date(date: NaiveDate, what: &'static str) -> Result<NaiveDate, DeadlineError> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        Ok(date)
    } else {
        Err(out_of_range(what))
    }
}

fn out_of_range(what: &'static str) -> DeadlineError {
    DeadlineError::DateOutOfRange {
        what,
        min: FIRST_YEAR,
        max: LAST_YEAR,
    }
}

/// Days from posting to the fictitious notification.
fn postal_days(posted: NaiveDate) -> u64 {
    if posted <= LAST_DAY_OF_THREE_DAY_FICTION {
        3
    } else {
        4
    }
}

/// The day a letter posted on `posted` counts as notified (§ 41 Abs. 2
/// VwVfG): the 3rd day after posting for letters posted up to 31.12.2024,
/// the 4th day for letters posted from 1.1.2025.
///
/// The fiction day is *not* moved off a weekend or holiday (OVG Münster,
/// 27.03.2024, 10 A 1356/21); only the end of the deadline it starts is.
pub fn notification_by_post(posted: NaiveDate) -> NaiveDate {
    posted
        .checked_add_days(Days::new(postal_days(posted)))
        .unwrap_or(NaiveDate::MAX)
}

/// Computes the end of a deadline in administrative procedure, with the
/// reasoning: [`compute_as`] with [`Basis::Authority`].
pub fn compute(spec: &DeadlineSpec) -> Result<Computed, DeadlineError> {
    compute_as(spec, Basis::Authority)
}

/// Computes the end of a deadline, with the reasoning in German.
///
/// Order of rules: postal fiction (if by post), § 187 Abs. 1 BGB (the event
/// day is not counted), § 188 BGB (where the period ends), then § 193 BGB /
/// § 31 Abs. 3 VwVfG (for a court deadline § 222 Abs. 2 ZPO: a Saturday,
/// Sunday or public holiday moves the end to the next working day) unless
/// the spec says the end does not move. Where the region is a state with
/// local public holidays and the end falls on one, a last step says that a
/// local holiday at the place may move the end.
///
/// Fails if any date involved leaves the years with holiday data.
pub fn compute_as(spec: &DeadlineSpec, basis: Basis) -> Result<Computed, DeadlineError> {
    let DeadlineSpec {
        event,
        period,
        region,
        by_post,
        moves,
    } = *spec;
    if period.amount == 0 {
        return Err(DeadlineError::InvalidPeriod {
            text: period.to_string(),
            reason: "the number must be at least 1",
        });
    }
    check_date(event, "event day")?;
    let mut steps = Vec::with_capacity(5);
    let court = basis == Basis::Court;

    // The postal fiction: the period runs from the notification day.
    let (start, notified) = if by_post {
        let notified = check_date(notification_by_post(event), "notification day")?;
        let days = postal_days(event);
        let rule = if region.state() == Region::NW {
            "§ 41 Abs. 2 VwVfG NRW"
        } else {
            "§ 41 Abs. 2 VwVfG"
        };
        let note = if days == 3 {
            "am dritten Tag nach der Aufgabe zur Post (bis zum 31.12.2024 aufgegebene Schreiben)"
        } else {
            "am vierten Tag nach der Aufgabe zur Post (ab dem 01.01.2025 aufgegebene Schreiben)"
        };
        steps.push(Step {
            rule: rule.into(),
            text: format!(
                "Am {} zur Post gegeben, gilt das Schreiben {note} als bekannt gegeben, am {}, {}. Dieser Tag verschiebt sich nicht, auch wenn er auf ein Wochenende oder einen Feiertag fällt.",
                de(event),
                weekday_name(notified.weekday()),
                de(notified)
            ),
            date: notified,
        });
        (notified, Some(notified))
    } else {
        (event, None)
    };

    // § 187 Abs. 1: counting begins the day after the event.
    let first = start
        .succ_opt()
        .ok_or_else(|| out_of_range("start of the period"))?;
    let event_word = if by_post {
        "der Bekanntgabe"
    } else {
        "des Ereignisses"
    };
    let length = format!("{} {}", period.amount, period.unit.wort(period.amount));
    let (r187, r188, r193) = if court {
        (
            "§ 57 Abs. 2 VwGO, § 222 Abs. 1 ZPO, § 187 Abs. 1 BGB",
            "§ 57 Abs. 2 VwGO, § 222 Abs. 1 ZPO, § 188",
            "§ 57 Abs. 2 VwGO, § 222 Abs. 2 ZPO",
        )
    } else {
        // § 31 Abs. 1 VwVfG applies §§ 187–193 BGB; for the end on a
        // weekend or holiday § 31 Abs. 3 Satz 1 VwVfG is the rule itself
        // (LEGAL-REVIEW-2 N10).
        (
            "§ 31 Abs. 1 VwVfG i. V. m. § 187 Abs. 1 BGB",
            "§ 31 Abs. 1 VwVfG i. V. m. § 188",
            "§ 31 Abs. 3 Satz 1 VwVfG",
        )
    };
    steps.push(Step {
        rule: r187.into(),
        text: format!(
            "Der Tag {event_word}, der {}, wird nicht mitgerechnet; die Frist von {length} beginnt am {}.",
            de(start),
            de(first)
        ),
        date: first,
    });

    // § 188: where the period ends.
    let end_of_period = "end of the deadline";
    let unshifted = match period.unit {
        Unit::Days => start.checked_add_days(Days::new(u64::from(period.amount))),
        Unit::Weeks => start.checked_add_days(Days::new(7 * u64::from(period.amount))),
        Unit::Months => start.checked_add_months(Months::new(period.amount)),
        Unit::Years => period
            .amount
            .checked_mul(12)
            .and_then(|m| start.checked_add_months(Months::new(m))),
    }
    .ok_or_else(|| out_of_range(end_of_period))?;
    let unshifted = check_date(unshifted, end_of_period)?;
    let (para, text) = match period.unit {
        Unit::Days => (
            "Abs. 1 BGB",
            format!(
                "Eine Frist von {length} endet mit dem Ablauf ihres letzten Tages, des {}.",
                de(unshifted)
            ),
        ),
        Unit::Weeks => (
            "Abs. 2 BGB",
            format!(
                "Eine Frist von {length} endet mit dem Ablauf des Tages, der durch seine Benennung dem Tag {event_word} ({}) entspricht: {}, {}.",
                weekday_name(start.weekday()),
                weekday_name(unshifted.weekday()),
                de(unshifted)
            ),
        ),
        Unit::Months | Unit::Years if unshifted.day() != start.day() => (
            "Abs. 3 BGB",
            format!(
                "Eine Frist von {length} würde am {}. des Monats enden; diesen Tag hat der {} nicht, daher endet sie mit dem Ablauf des letzten Tages dieses Monats, des {}.",
                start.day(),
                month_year(unshifted),
                de(unshifted)
            ),
        ),
        Unit::Months | Unit::Years => (
            "Abs. 2 BGB",
            format!(
                "Eine Frist von {length} endet mit dem Ablauf des Tages, der durch seine Zahl dem Tag {event_word} entspricht (dem {}.): {}.",
                start.day(),
                de(unshifted)
            ),
        ),
    };
    steps.push(Step {
        rule: format!("{r188} {para}"),
        text,
        date: unshifted,
    });

    // § 193 BGB / § 31 Abs. 3 VwVfG (court: § 222 Abs. 2 ZPO): off weekends and holidays.
    let end = if moves {
        let mut end = unshifted;
        while !is_working_day(end, region) {
            end = end.succ_opt().ok_or_else(|| out_of_range(end_of_period))?;
            check_date(end, end_of_period)?;
        }
        let text = if end == unshifted {
            format!(
                "Der {} ist ein Werktag ({}) in {}; das Fristende verschiebt sich nicht.",
                de(unshifted),
                weekday_name(unshifted.weekday()),
                region.name()
            )
        } else {
            format!(
                "Der {} ist {} in {}; die Frist endet daher mit dem Ablauf des nächsten Werktages, des {} ({}).",
                de(unshifted),
                why_not_working(unshifted, region),
                region.name(),
                de(end),
                weekday_name(end.weekday())
            )
        };
        steps.push(Step {
            rule: r193.into(),
            text,
            date: end,
        });
        end
    } else {
        let what = if is_working_day(unshifted, region) {
            format!("ein Werktag, {}", weekday_name(unshifted.weekday()))
        } else {
            why_not_working(unshifted, region)
        };
        steps.push(Step {
            rule: "§ 31 Abs. 3 Satz 2 VwVfG".into(),
            text: format!(
                "Die Behörde hat das Fristende bestimmt und darauf hingewiesen, dass es sich nicht verschiebt; es bleibt beim {} ({what}).",
                de(unshifted)
            ),
            date: unshifted,
        });
        unshifted
    };

    // Local public holidays that only hold in parts of the state.
    if moves {
        let local = local_holidays_on(end, region);
        if !local.is_empty() {
            let names = local
                .iter()
                .map(|h| format!("{} ({})", h.name, h.place))
                .collect::<Vec<_>>()
                .join("; ");
            let next = {
                let mut d = end.succ_opt().unwrap_or(end);
                while !is_working_day(d, region) || !local_holidays_on(d, region).is_empty() {
                    match d.succ_opt() {
                        Some(n) => d = n,
                        None => break,
                    }
                }
                d
            };
            steps.push(Step {
                rule: "§ 193 BGB (Feiertag am Erklärungs- oder Leistungsort)".into(),
                text: format!(
                    "Achtung: Der {} ist in Teilen von {} ein örtlicher gesetzlicher Feiertag: {names}. Liegt der maßgebliche Ort dort, endet die Frist erst mit dem Ablauf des {} ({}). Bitte den Ort prüfen oder als Region die Gemeinde angeben (z. B. BY-AUGSBURG).",
                    de(end),
                    region.name(),
                    de(next),
                    weekday_name(next.weekday())
                ),
                date: end,
            });
        }
    }

    Ok(Computed {
        event,
        notified,
        unshifted_end: unshifted,
        end,
        steps,
    })
}

/// The explanation of a deadline with a fixed end date named by the
/// workflow (e.g. the RAA transition ending 31.07.2013), in German like
/// [`compute`]'s: one step citing `rule`.
pub fn fixed_end(end: NaiveDate, rule: &str) -> Computed {
    Computed {
        event: end,
        notified: None,
        unshifted_end: end,
        end,
        steps: vec![Step {
            rule: rule.to_string(),
            text: format!(
                "Das Verfahren bestimmt als Fristende den {} ({}).",
                de(end),
                weekday_name(end.weekday())
            ),
            date: end,
        }],
    }
}

/// "ein Sonnabend", "ein Sonntag" or "ein gesetzlicher Feiertag (Karfreitag, ein Freitag)".
fn why_not_working(date: NaiveDate, region: Region) -> String {
    let holiday = holidays(date.year(), region)
        .ok()
        .and_then(|list| list.into_iter().find(|h| h.date == date));
    match (date.weekday(), holiday) {
        (_, Some(h)) => format!(
            "ein gesetzlicher Feiertag ({}, ein {})",
            h.name,
            weekday_name(date.weekday())
        ),
        (Weekday::Sat, None) => "ein Sonnabend".into(),
        (Weekday::Sun, None) => "ein Sonntag".into(),
        _ => "kein Werktag".into(),
    }
}

/// The day a reminder is due: `offset` calendar days before `end`, or
/// `offset` working days before it (so the reminder leaves that much office
/// time). A calendar-day reminder may fall on a weekend; callers that send
/// mail on working days only should use working days.
pub fn reminder_date(end: NaiveDate, offset: Offset, region: Region) -> NaiveDate {
    if offset.working {
        add_working_days(end, -i64::from(offset.days), region)
    } else {
        end.checked_sub_days(Days::new(u64::from(offset.days)))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// Calendar days from `today` until `end`: 0 on the last day (the deadline
/// runs until midnight), negative once it has passed. `today` is passed in
/// so that this module never reads a clock.
pub fn days_left(today: NaiveDate, end: NaiveDate) -> i64 {
    end.signed_duration_since(today).num_days()
}
