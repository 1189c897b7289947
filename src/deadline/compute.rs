//! The deadline computation itself (§§ 187–193 BGB via § 31 VwVfG), the
//! postal notification fiction (§ 41 Abs. 2 VwVfG) and reminder dates.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::holidays::{FIRST_YEAR, LAST_YEAR, holidays};
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

/// One step of the reasoning, for the explanation shown to a clerk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Step {
    /// The legal rule applied, e.g. "§ 187 Abs. 1 BGB".
    pub rule: String,
    /// What the rule did here, in a plain English sentence.
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
            "The deadline ends at the end of {}, {}.",
            weekday_name(self.end.weekday()),
            de(self.end)
        )
    }
}

/// A date the way German letters write it: 19.03.2012.
fn de(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
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

/// Computes the end of a deadline, with the reasoning.
///
/// Order of rules: postal fiction (if by post), § 187 Abs. 1 BGB (the event
/// day is not counted), § 188 BGB (where the period ends), then § 193 BGB /
/// § 31 Abs. 3 VwVfG (a Saturday, Sunday or public holiday moves the end to
/// the next working day) unless the spec says the end does not move.
///
/// Fails if any date involved leaves the years with holiday data.
pub fn compute(spec: &DeadlineSpec) -> Result<Computed, DeadlineError> {
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
    let mut steps = Vec::with_capacity(4);

    // The postal fiction: the period runs from the notification day.
    let (start, notified) = if by_post {
        let notified = check_date(notification_by_post(event), "notification day")?;
        let days = postal_days(event);
        let rule = if region == Region::NW {
            "§ 41 Abs. 2 VwVfG NRW"
        } else {
            "§ 41 Abs. 2 VwVfG"
        };
        let note = if days == 3 {
            "the 3rd day after posting (letters posted up to 31.12.2024)"
        } else {
            "the 4th day after posting (letters posted from 01.01.2025)"
        };
        steps.push(Step {
            rule: rule.into(),
            text: format!(
                "Posted on {}, the letter counts as notified on {}, {}. This day is not moved off a weekend or holiday.",
                de(event),
                note,
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
    let event_word = if by_post { "notification" } else { "event" };
    steps.push(Step {
        rule: "§ 187 Abs. 1 BGB".into(),
        text: format!(
            "The day of the {event_word}, {}, is not counted; the period of {} {} starts on {}.",
            de(start),
            period.amount,
            period.unit.word(period.amount),
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
    let length = format!("{} {}", period.amount, period.unit.word(period.amount));
    let (rule, text) = match period.unit {
        Unit::Days => (
            "§ 188 Abs. 1 BGB",
            format!(
                "A period of {length} ends at the end of its last day, {}.",
                de(unshifted)
            ),
        ),
        Unit::Weeks => (
            "§ 188 Abs. 2 BGB",
            format!(
                "A period of {length} ends on the day with the same weekday as the day of the {event_word} ({}): {}.",
                weekday_name(start.weekday()),
                de(unshifted)
            ),
        ),
        Unit::Months | Unit::Years if unshifted.day() != start.day() => (
            "§ 188 Abs. 3 BGB",
            format!(
                "A period of {length} would end on day {} of the month, which {} does not have; it ends on the last day of that month, {}.",
                start.day(),
                unshifted.format("%B %Y"),
                de(unshifted)
            ),
        ),
        Unit::Months | Unit::Years => (
            "§ 188 Abs. 2 BGB",
            format!(
                "A period of {length} ends on the day with the same number as the day of the {event_word} (day {}): {}.",
                start.day(),
                de(unshifted)
            ),
        ),
    };
    steps.push(Step {
        rule: rule.into(),
        text,
        date: unshifted,
    });

    // § 193 BGB / § 31 Abs. 3 VwVfG: off weekends and holidays.
    let end = if moves {
        let mut end = unshifted;
        while !is_working_day(end, region) {
            end = end.succ_opt().ok_or_else(|| out_of_range(end_of_period))?;
            check_date(end, end_of_period)?;
        }
        let text = if end == unshifted {
            format!(
                "{} is a working day ({}) in {}; the end does not move.",
                de(unshifted),
                weekday_name(unshifted.weekday()),
                region.name()
            )
        } else {
            format!(
                "{} is {} in {}; the deadline ends at the end of the next working day, {} {}.",
                de(unshifted),
                why_not_working(unshifted, region),
                region.name(),
                weekday_name(end.weekday()),
                de(end)
            )
        };
        steps.push(Step {
            rule: "§ 193 BGB, § 31 Abs. 3 VwVfG".into(),
            text,
            date: end,
        });
        end
    } else {
        let what = if is_working_day(unshifted, region) {
            format!("a working day, {}", weekday_name(unshifted.weekday()))
        } else {
            why_not_working(unshifted, region)
        };
        steps.push(Step {
            rule: "§ 31 Abs. 3 Satz 2 VwVfG".into(),
            text: format!(
                "The authority named the end and said it does not move, so it stays on {} ({what}).",
                de(unshifted)
            ),
            date: unshifted,
        });
        unshifted
    };

    Ok(Computed {
        event,
        notified,
        unshifted_end: unshifted,
        end,
        steps,
    })
}

/// "a Saturday", "a Sunday" or "a public holiday (Karfreitag)".
fn why_not_working(date: NaiveDate, region: Region) -> String {
    let holiday = holidays(date.year(), region)
        .ok()
        .and_then(|list| list.into_iter().find(|h| h.date == date));
    match (date.weekday(), holiday) {
        (_, Some(h)) => format!(
            "a public holiday ({}, a {})",
            h.name,
            weekday_name(date.weekday())
        ),
        (Weekday::Sat, None) => "a Saturday".into(),
        (Weekday::Sun, None) => "a Sunday".into(),
        _ => "not a working day".into(),
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
