//! Deadline arithmetic for German administrative procedure (Fristberechnung).
//!
//! This module answers one question: *on which day does a deadline end?* It
//! applies § 31 VwVfG together with §§ 187–193 BGB (event day not counted,
//! ends on the day with the same name or number, missing day → last day of
//! the month, Saturday/Sunday/public holiday → next working day), the postal
//! notification fiction of § 41 Abs. 2 VwVfG (3rd day after posting until
//! 31.12.2024, 4th day from 1.1.2025), and the public holidays of the
//! 16 German states (and the municipalities with local holidays of their
//! own, such as Augsburg), computed by rule for the years 1990 to 2100.
//! Explanations are in German, for the clerk.
//!
//! The module is deliberately *pure*: no clock, no files, no database, no
//! configuration. Every answer depends only on the arguments, so the same
//! case always gives the same end date, the computation can be replayed for
//! an audit years later, and it can be checked exhaustively against an
//! independently generated reference table (`tests/reference/`). Callers
//! that need "today" pass it in (see [`days_left`]).
//!
//! Every computation also records its reasoning as [`Step`]s, so a clerk can
//! read *why* a deadline ends on a given day, not only *that* it does.

mod compute;
mod holidays;
mod period;
mod region;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

pub use self::compute::{
    Basis, Computed, DeadlineSpec, Step, compute, compute_as, days_left, fixed_end,
    notification_by_post, reminder_date,
};
pub use self::holidays::{
    FIRST_YEAR, Holiday, LAST_YEAR, LocalHoliday, add_working_days, easter_sunday, holidays,
    is_holiday, is_working_day, local_holidays_on,
};
pub use self::period::{Offset, Period, Unit};
pub use self::region::Region;

/// Everything that can go wrong in deadline arithmetic.
///
/// The messages are meant to be shown to a clerk as they are: each says what
/// was wrong and what would be accepted instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// A year outside the range for which public holidays are known.
    /// Holiday law changes, so the tables are only vouched for in this range.
    #[error(
        "no public-holiday data for the year {year}: deadlines can only be computed for {min} to {max}"
    )]
    YearOutOfRange {
        /// The year that was asked for.
        year: i32,
        /// First supported year.
        min: i32,
        /// Last supported year.
        max: i32,
    },

    /// A computed date (notification day, end of the period, or the shifted
    /// end) falls outside the supported years, or outside the calendar
    /// altogether (an absurdly long period).
    #[error(
        "the {what} would fall outside the supported years {min} to {max}: check the event date and the period"
    )]
    DateOutOfRange {
        /// Which date left the range, e.g. "end of the deadline".
        what: &'static str,
        /// First supported year.
        min: i32,
        /// Last supported year.
        max: i32,
    },

    /// A state code that is not one of the 16 German states.
    #[error(
        "unknown German state \"{text}\": use one of BW, BY, BE, BB, HB, HH, HE, MV, NI, NW, RP, SL, SN, ST, SH, TH (also written \"nw\" or \"DE-NW\")"
    )]
    InvalidRegion {
        /// The text that was given.
        text: String,
    },

    /// A period that is not a positive number followed by D, W, M or Y.
    #[error(
        "invalid period \"{text}\": {reason}; write a number of at least 1 followed by a unit, e.g. 14D (days), 4W (weeks), 1M (months), 1Y (years)"
    )]
    InvalidPeriod {
        /// The text that was given.
        text: String,
        /// What exactly is wrong with it.
        reason: &'static str,
    },

    /// A reminder offset that is not a number followed by "d" or "wd".
    #[error(
        "invalid reminder offset \"{text}\": {reason}; write a number followed by d for calendar days or wd for working days, e.g. 30d or 7wd"
    )]
    InvalidOffset {
        /// The text that was given.
        text: String,
        /// What exactly is wrong with it.
        reason: &'static str,
    },
}
