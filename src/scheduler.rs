//! The scheduler of `amtspost serve`: jobs on cron expressions (with seconds,
//! evaluated in Europe/Berlin time), run until the shutdown signal comes.
//!
//! Like mini-redis's expiry task it sleeps until the next due instant or
//! until shutdown, whichever is first; the job in hand is finished first.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Berlin;
use cron::Schedule;

use crate::case::Engine;
use crate::config::SchedulerConfig;
use crate::outbox::Courier;

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

/// Runs the reminder pass and mail delivery on their schedules until `shutdown` resolves.
pub async fn run(
    engine: Arc<Engine>,
    courier: Arc<Courier>,
    config: &SchedulerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ScheduleError> {
    let reminders = parse("reminders", &config.reminders)?;
    let deliver = parse("deliver", &config.deliver)?;
    tokio::pin!(shutdown);
    loop {
        let now = engine.clock().now();
        let next_remind = next_after(&reminders, now);
        let next_deliver = next_after(&deliver, now);
        let Some(next) = [next_remind, next_deliver].into_iter().flatten().min() else {
            return Ok(());
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        if next_remind == Some(next) {
            match engine.remind(false).await {
                Ok(r) => eprintln!(
                    "reminders: {} queued, {} expired, {} passed over",
                    r.reminders.len(),
                    r.expired.len(),
                    r.passed_over
                ),
                Err(e) => eprintln!("error: reminder pass: {e}"),
            }
        }
        match courier.deliver_due().await {
            Ok(r) if r.sent + r.failed + r.retrying > 0 => eprintln!(
                "mail: {} sent, {} to retry, {} failed",
                r.sent, r.retrying, r.failed
            ),
            Ok(_) => {}
            Err(e) => eprintln!("error: mail delivery: {e}"),
        }
    }
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
