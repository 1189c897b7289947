//! The scheduler of `amtspost serve`: jobs on cron expressions (with seconds,
//! evaluated in Europe/Berlin time), run until the shutdown signal comes.
//!
//! Like mini-redis's expiry task each job sleeps until its next due instant
//! or until shutdown, whichever is first; the job in hand is finished first.
//! [`crate::app::App::run_until_stopped`] starts one loop per job.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use cron::Schedule;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

/// A cron expression that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "scheduler.{job}: `{expr}` is not a cron expression (sec min hour day month weekday, e.g. \"0 0 7 * * Mon-Fri\"): {reason}"
)]
pub struct ScheduleError {
    pub job: &'static str,
    pub expr: String,
    pub reason: String,
}

/// Parses a job's cron expression.
pub fn parse(job: &'static str, expr: &str) -> Result<Schedule, ScheduleError> {
    Schedule::from_str(expr).map_err(|e| ScheduleError {
        job,
        expr: expr.into(),
        reason: e.to_string(),
    })
}

/// The next run strictly after `after`, with the schedule read in Berlin time.
pub fn next_after(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&Berlin))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Runs `job` at every instant of its cron expression until `stop` is
/// cancelled. A run that fails is logged and the next run comes as planned;
/// the run in hand is finished before stopping.
pub async fn run_cron<F, Fut>(
    name: &'static str,
    expr: &str,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
    catch_up: bool,
    mut job: F,
) -> Result<(), ScheduleError>
where
    F: FnMut(DateTime<Utc>) -> Fut,
    Fut: Future<Output = ()>,
{
    let schedule = parse(name, expr)?;
    // The last time before the start: the job decides whether it ran then
    // (e.g. on another instance) or was missed while all were down.
    if catch_up && let Some(missed) = last_at_or_before(&schedule, clock.now()) {
        job(missed).await;
    }
    loop {
        let now = clock.now();
        let Some(next) = next_after(&schedule, now) else {
            return Ok(());
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        job(next).await;
    }
}

/// How far back a missed run is looked for.
const CATCH_UP_DAYS: i64 = 8;

/// The last scheduled time at or before `now`, within [`CATCH_UP_DAYS`].
pub fn last_at_or_before(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let from = (now - chrono::Duration::days(CATCH_UP_DAYS)).with_timezone(&Berlin);
    schedule
        .after(&from)
        .take_while(|t| t.with_timezone(&Utc) <= now)
        .last()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn working_day_mornings_are_seven_o_clock_berlin_time() {
        let s = parse("reminders", "0 0 7 * * Mon-Fri").unwrap();
        // Friday 2013-07-26 08:00 Berlin (06:00 UTC, summer time) -> Monday 07:00 Berlin = 05:00 UTC
        assert_eq!(
            next_after(&s, at("2013-07-26T06:00:00Z")),
            Some(at("2013-07-29T05:00:00Z"))
        );
        // In winter 07:00 Berlin is 06:00 UTC.
        assert_eq!(
            next_after(&s, at("2012-03-19T05:00:00Z")),
            Some(at("2012-03-19T06:00:00Z"))
        );
    }

    #[test]
    fn the_last_run_before_a_restart_is_found_for_the_catch_up() {
        let s = parse("reminders", "0 0 7 * * Mon-Fri").unwrap();
        // Down from Friday evening to Monday 06:30 Berlin: Friday 07:00 was the last.
        assert_eq!(
            last_at_or_before(&s, at("2013-07-29T04:30:00Z")),
            Some(at("2013-07-26T05:00:00Z"))
        );
        // Exactly at the time: that time.
        assert_eq!(
            last_at_or_before(&s, at("2013-07-29T05:00:00Z")),
            Some(at("2013-07-29T05:00:00Z"))
        );
        let yearly = parse("reminders", "0 0 7 1 1 *").unwrap();
        assert_eq!(last_at_or_before(&yearly, at("2013-07-29T05:00:00Z")), None);
    }

    #[test]
    fn the_change_to_summer_time_is_followed() {
        let s = parse("reminders", "0 0 7 * * *").unwrap();
        // 2013-03-31 is the switch: 07:00 CEST = 05:00 UTC.
        assert_eq!(
            next_after(&s, at("2013-03-30T07:00:00Z")),
            Some(at("2013-03-31T05:00:00Z"))
        );
    }

    #[test]
    fn a_bad_expression_names_the_job() {
        let e = parse("reminders", "every morning").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("scheduler.reminders: `every morning` is not a cron expression"),
            "{e}"
        );
    }
}
