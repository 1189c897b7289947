//! Lengths of deadlines ("14D", "1M") and reminder offsets ("30d", "7wd"),
//! written compactly because they live in workflow definitions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DeadlineError;

/// The unit of a [`Period`]. Days end by § 188 Abs. 1 BGB; weeks, months
/// and years by § 188 Abs. 2 (and 3) BGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// Calendar days ("D").
    Days,
    /// Weeks ("W"): ends on the same weekday as the event.
    Weeks,
    /// Months ("M"): ends on the same day number, or the month's last day.
    Months,
    /// Years ("Y"): like months, twelve at a time.
    Years,
}

impl Unit {
    /// The letter used in the compact form.
    pub fn letter(self) -> char {
        match self {
            Unit::Days => 'D',
            Unit::Weeks => 'W',
            Unit::Months => 'M',
            Unit::Years => 'Y',
        }
    }

    /// The German word for explanations, e.g. "1 Monat", "4 Wochen".
    pub(crate) fn wort(self, amount: u32) -> &'static str {
        match (self, amount == 1) {
            (Unit::Days, true) => "Tag",
            (Unit::Days, false) => "Tagen",
            (Unit::Weeks, true) => "Woche",
            (Unit::Weeks, false) => "Wochen",
            (Unit::Months, true) => "Monat",
            (Unit::Months, false) => "Monaten",
            (Unit::Years, true) => "Jahr",
            (Unit::Years, false) => "Jahren",
        }
    }
}

/// The length of a deadline, e.g. 14 days or 1 month.
///
/// Written as a number and a unit letter: "14D", "4W", "1M", "1Y"
/// (lower case accepted); serialised in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// How many units; at least 1 (a zero-length deadline is a mistake).
    pub amount: u32,
    /// Days, weeks, months or years.
    pub unit: Unit,
}

impl Period {
    /// A period of `amount` units.
    pub fn new(amount: u32, unit: Unit) -> Self {
        Period { amount, unit }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.letter())
    }
}

/// Splits "14D" into 14 and "D"; the reason is for the error message.
fn split_number(text: &str) -> Result<(u32, &str), &'static str> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err("it does not start with a number");
    }
    let amount: u32 = digits.parse().map_err(|_| "the number is too large")?;
    if amount == 0 {
        return Err("the number must be at least 1");
    }
    Ok((amount, rest))
}

impl FromStr for Period {
    type Err = DeadlineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| DeadlineError::InvalidPeriod {
            text: s.to_string(),
            reason,
        };
        let (amount, rest) = split_number(s.trim()).map_err(invalid)?;
        let unit = match rest {
            "D" | "d" => Unit::Days,
            "W" | "w" => Unit::Weeks,
            "M" | "m" => Unit::Months,
            "Y" | "y" => Unit::Years,
            "" => return Err(invalid("the unit is missing")),
            _ => return Err(invalid("the unit is not one of D, W, M, Y")),
        };
        Ok(Period { amount, unit })
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How long before a deadline's end a reminder is due.
///
/// "30d" is 30 calendar days, "7wd" is 7 working days (which skips
/// weekends and holidays, so a reminder always leaves that much office
/// time). Serialised in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    /// How many days before the end. Zero means on the day of the end.
    pub days: u32,
    /// Count working days instead of calendar days.
    pub working: bool,
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.working { "wd" } else { "d" };
        write!(f, "{}{}", self.days, suffix)
    }
}

impl FromStr for Offset {
    type Err = DeadlineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| DeadlineError::InvalidOffset {
            text: s.to_string(),
            reason,
        };
        let text = s.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, rest) = text.split_at(digits_end);
        if digits.is_empty() {
            return Err(invalid("it does not start with a number"));
        }
        let days: u32 = digits
            .parse()
            .map_err(|_| invalid("the number is too large"))?;
        let working = match rest.to_ascii_lowercase().as_str() {
            "d" => false,
            "wd" => true,
            "" => return Err(invalid("the unit is missing")),
            _ => return Err(invalid("the unit is not d or wd")),
        };
        Ok(Offset { days, working })
    }
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
