//! Unit and property tests for the deadline module.

use chrono::{Datelike, NaiveDate, Weekday};
use proptest::prelude::*;

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
}

fn spec(event: NaiveDate, period: &str) -> DeadlineSpec {
    DeadlineSpec {
        event,
        period: period.parse().expect("valid test period"),
        region: Region::NW,
        by_post: false,
        moves: true,
    }
}

fn end_of(s: DeadlineSpec) -> NaiveDate {
    compute(&s).expect("computable").end
}

fn names(year: i32, region: Region) -> Vec<(NaiveDate, &'static str)> {
    holidays(year, region)
        .expect("supported year")
        .into_iter()
        .map(|h| (h.date, h.name))
        .collect()
}

fn has(date: NaiveDate, region: Region, name: &str) -> bool {
    holidays(date.year(), region)
        .expect("supported year")
        .iter()
        .any(|h| h.date == date && h.name == name)
}

// ------------------------------------------------------------ textbook cases

#[test]
fn one_month_from_31_january_ends_on_last_day_of_february() {
    let c = compute(&spec(d(2013, 1, 31), "1M")).unwrap();
    assert_eq!(c.unshifted_end, d(2013, 2, 28));
    assert_eq!(c.end, d(2013, 2, 28));
    assert_eq!(
        c.steps[1].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 3 BGB"
    );
    // Leap year.
    assert_eq!(end_of(spec(d(2012, 1, 31), "1M")), d(2012, 2, 29));
    // One year from 29 February.
    let c = compute(&spec(d(2024, 2, 29), "1Y")).unwrap();
    assert_eq!(c.unshifted_end, d(2025, 2, 28));
    assert_eq!(
        c.steps[1].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 3 BGB"
    );
}

#[test]
fn month_ends_on_same_day_number() {
    let c = compute(&spec(d(2012, 3, 19), "1M")).unwrap();
    assert_eq!(c.unshifted_end, d(2012, 4, 19));
    assert_eq!(
        c.steps[1].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 2 BGB"
    );
    // 30 April + 1 month is 30 May, not 31 May (no "end of month" rule).
    assert_eq!(
        compute(&spec(d(2013, 4, 30), "1M")).unwrap().unshifted_end,
        d(2013, 5, 30)
    );
}

#[test]
fn days_do_not_count_the_event_day() {
    let c = compute(&spec(d(2025, 3, 3), "14D")).unwrap();
    assert_eq!(c.unshifted_end, d(2025, 3, 17));
    assert_eq!(
        c.steps[0].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 187 Abs. 1 BGB"
    );
    assert_eq!(c.steps[0].date, d(2025, 3, 4));
    assert_eq!(
        c.steps[1].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 1 BGB"
    );
}

#[test]
fn weeks_end_on_the_same_weekday() {
    let c = compute(&spec(d(2025, 3, 5), "2W")).unwrap();
    assert_eq!(c.unshifted_end, d(2025, 3, 19));
    assert_eq!(c.unshifted_end.weekday(), Weekday::Wed);
    assert_eq!(
        c.steps[1].rule,
        "§ 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 2 BGB"
    );
}

#[test]
fn end_on_good_friday_moves_to_tuesday_after_easter_monday() {
    let c = compute(&spec(d(2025, 3, 18), "1M")).unwrap();
    assert_eq!(c.unshifted_end, d(2025, 4, 18));
    assert_eq!(c.end, d(2025, 4, 22));
    let last = c.steps.last().unwrap();
    assert_eq!(last.rule, "§ 31 Abs. 3 Satz 1 VwVfG");
    assert!(last.text.contains("Karfreitag"), "{}", last.text);
    assert!(last.text.contains("22.04.2025"), "{}", last.text);
}

#[test]
fn end_on_christmas_moves_past_both_days() {
    // 2W from Wed 11.12.2024 → Wed 25.12 → 26.12 holiday → Fri 27.12.
    assert_eq!(end_of(spec(d(2024, 12, 11), "2W")), d(2024, 12, 27));
}

#[test]
fn saturday_end_moves_to_monday() {
    let c = compute(&spec(d(2025, 2, 15), "1M")).unwrap();
    assert_eq!(c.unshifted_end, d(2025, 3, 15));
    assert_eq!(c.end, d(2025, 3, 17));
    assert!(c.steps.last().unwrap().text.contains("Sonnabend"));
}

#[test]
fn non_moving_deadline_ending_on_sunday_stays() {
    let mut s = spec(d(2025, 3, 2), "2W");
    assert_eq!(end_of(s), d(2025, 3, 17));
    s.moves = false;
    let c = compute(&s).unwrap();
    assert_eq!(c.end, d(2025, 3, 16));
    assert_eq!(c.end.weekday(), Weekday::Sun);
    assert_eq!(c.steps.last().unwrap().rule, "§ 31 Abs. 3 Satz 2 VwVfG");
    assert!(c.steps.last().unwrap().text.contains("Sonntag"));
}

#[test]
fn notification_by_post_on_a_friday() {
    // 2024: 3rd day after Friday 01.03.2024 is Monday 04.03.2024.
    assert_eq!(notification_by_post(d(2024, 3, 1)), d(2024, 3, 4));
    // 2025: 4th day after Friday 07.03.2025 is Tuesday 11.03.2025.
    assert_eq!(notification_by_post(d(2025, 3, 7)), d(2025, 3, 11));
}

#[test]
fn postal_fiction_changes_from_three_to_four_days_on_1_january_2025() {
    assert_eq!(notification_by_post(d(2024, 12, 31)), d(2025, 1, 3));
    assert_eq!(notification_by_post(d(2025, 1, 1)), d(2025, 1, 5));
    assert_eq!(notification_by_post(d(2024, 6, 3)), d(2024, 6, 6));
    assert_eq!(notification_by_post(d(2025, 6, 2)), d(2025, 6, 6));
}

#[test]
fn postal_fiction_day_is_not_shifted_but_the_end_is() {
    // Posted Thu 07.03.2024: notified Sun 10.03.2024 (stays a Sunday).
    let mut s = spec(d(2024, 3, 7), "1M");
    s.by_post = true;
    let c = compute(&s).unwrap();
    assert_eq!(c.notified, Some(d(2024, 3, 10)));
    assert_eq!(c.unshifted_end, d(2024, 4, 10));
    assert_eq!(c.end, d(2024, 4, 10));
    assert_eq!(c.steps[0].rule, "§ 41 Abs. 2 VwVfG NRW");
    assert_eq!(c.steps.len(), 4);

    // Posted 1.1.2025: notified Sun 05.01.2025; 2W → Sun 19.01 → Mon 20.01.
    let mut s = spec(d(2025, 1, 1), "2W");
    s.by_post = true;
    let c = compute(&s).unwrap();
    assert_eq!(c.notified, Some(d(2025, 1, 5)));
    assert_eq!(c.end, d(2025, 1, 20));
    // Outside NRW the rule is named generically.
    s.region = Region::BY;
    assert_eq!(compute(&s).unwrap().steps[0].rule, "§ 41 Abs. 2 VwVfG");
}

#[test]
fn explanation_is_numbered_and_names_the_dates() {
    let mut s = spec(d(2025, 3, 14), "1M");
    s.by_post = true;
    let c = compute(&s).unwrap();
    let text = c.to_string();
    assert!(text.starts_with("1. § 41 Abs. 2 VwVfG NRW: "), "{text}");
    assert!(
        text.contains("\n2. § 31 Abs. 1 VwVfG i. V. m. § 187 Abs. 1 BGB: "),
        "{text}"
    );
    assert!(
        text.contains("\n3. § 31 Abs. 1 VwVfG i. V. m. § 188 Abs. 2 BGB: "),
        "{text}"
    );
    assert!(text.contains("\n4. § 31 Abs. 3 Satz 1 VwVfG: "), "{text}");
    assert!(text.contains("18.03.2025"), "{text}");
    assert!(
        text.ends_with("Die Frist endet mit Ablauf des 22.04.2025 (Dienstag)."),
        "{text}"
    );
    for step in &c.steps {
        assert!(!step.text.is_empty() && step.text.ends_with('.'));
    }
}

#[test]
fn computed_serialises_to_json() {
    let c = compute(&spec(d(2013, 1, 31), "1M")).unwrap();
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["end"], "2013-02-28");
    assert_eq!(json["notified"], serde_json::Value::Null);
    assert_eq!(
        json["steps"][0]["rule"],
        "§ 31 Abs. 1 VwVfG i. V. m. § 187 Abs. 1 BGB"
    );
}

// ------------------------------------------------------------------ holidays

#[test]
fn holidays_of_nrw_2013_exactly() {
    let expected = vec![
        (d(2013, 1, 1), "Neujahr"),
        (d(2013, 3, 29), "Karfreitag"),
        (d(2013, 4, 1), "Ostermontag"),
        (d(2013, 5, 1), "Tag der Arbeit"),
        (d(2013, 5, 9), "Christi Himmelfahrt"),
        (d(2013, 5, 20), "Pfingstmontag"),
        (d(2013, 5, 30), "Fronleichnam"),
        (d(2013, 10, 3), "Tag der Deutschen Einheit"),
        (d(2013, 11, 1), "Allerheiligen"),
        (d(2013, 12, 25), "1. Weihnachtstag"),
        (d(2013, 12, 26), "2. Weihnachtstag"),
    ];
    assert_eq!(names(2013, Region::NW), expected);
}

#[test]
fn easter_dates_of_known_years() {
    for (year, month, day) in [
        (1990, 4, 15),
        (2000, 4, 23),
        (2008, 3, 23),
        (2011, 4, 24),
        (2013, 3, 31),
        (2019, 4, 21),
        (2024, 3, 31),
        (2025, 4, 20),
        (2038, 4, 25),
        (2100, 3, 28),
    ] {
        assert_eq!(easter_sunday(year).unwrap(), d(year, month, day), "{year}");
    }
    assert!(easter_sunday(1989).is_err());
}

#[test]
fn reformation_day() {
    use Region::*;
    assert!(has(d(2017, 10, 31), NW, "Reformationstag"));
    assert!(has(d(2017, 10, 31), BY, "Reformationstag"));
    assert!(!is_holiday(d(2016, 10, 31), NW));
    assert!(!is_holiday(d(2018, 10, 31), NW));
    for r in [HB, HH, NI, SH] {
        assert!(!is_holiday(d(2016, 10, 31), r), "{r}");
        assert!(is_holiday(d(2018, 10, 31), r), "{r}");
    }
    for r in [BB, MV, SN, ST, TH] {
        assert!(is_holiday(d(1991, 10, 31), r), "{r}");
        assert!(is_holiday(d(2016, 10, 31), r), "{r}");
    }
    assert!(!is_holiday(d(2019, 10, 31), BE));
}

#[test]
fn womens_day() {
    assert!(has(d(2019, 3, 8), Region::BE, "Internationaler Frauentag"));
    assert!(!is_holiday(d(2018, 3, 8), Region::BE));
    assert!(is_holiday(d(2023, 3, 8), Region::MV));
    assert!(!is_holiday(d(2022, 3, 8), Region::MV));
    assert!(!is_holiday(d(2023, 3, 8), Region::NW));
}

#[test]
fn day_of_repentance_and_prayer() {
    assert!(has(d(1994, 11, 16), Region::NW, "Buß- und Bettag"));
    assert!(!is_holiday(d(1995, 11, 22), Region::NW));
    assert!(has(d(1995, 11, 22), Region::SN, "Buß- und Bettag"));
    assert!(is_holiday(d(2025, 11, 19), Region::SN));
    // Always the Wednesday between 16 and 22 November.
    for year in FIRST_YEAR..=LAST_YEAR {
        let h = holidays(year, Region::SN).unwrap();
        let b = h.iter().find(|h| h.name == "Buß- und Bettag").unwrap();
        assert_eq!(b.date.weekday(), Weekday::Wed);
        assert!((16..=22).contains(&b.date.day()), "{}", b.date);
    }
}

#[test]
fn one_off_days_in_berlin() {
    assert!(has(d(2020, 5, 8), Region::BE, "Tag der Befreiung"));
    assert!(is_holiday(d(2025, 5, 8), Region::BE));
    assert!(!is_holiday(d(2021, 5, 8), Region::BE));
    assert!(!is_holiday(d(2030, 5, 8), Region::BE));
    assert!(!is_holiday(d(2020, 5, 8), Region::BB));
    assert!(is_holiday(d(2028, 6, 17), Region::BE));
    assert!(!is_holiday(d(2029, 6, 17), Region::BE));
}

#[test]
fn childrens_day_in_thuringia() {
    assert!(has(d(2019, 9, 20), Region::TH, "Weltkindertag"));
    assert!(!is_holiday(d(2018, 9, 20), Region::TH));
    assert!(!is_holiday(d(2019, 9, 20), Region::SN));
}

#[test]
fn local_catholic_days_do_not_count() {
    use Region::*;
    // Fronleichnam 2025: 19 June.
    for r in [BW, BY, HE, NW, RP, SL] {
        assert!(has(d(2025, 6, 19), r, "Fronleichnam"), "{r}");
    }
    for r in [SN, TH, BE, NI] {
        assert!(!is_holiday(d(2025, 6, 19), r), "{r}");
    }
    assert!(has(d(2025, 8, 15), SL, "Mariä Himmelfahrt"));
    assert!(!is_holiday(d(2025, 8, 15), BY));
    assert!(!is_holiday(d(2025, 8, 8), BY)); // Augsburger Friedensfest
}

#[test]
fn epiphany_and_all_saints() {
    use Region::*;
    for r in [BW, BY] {
        assert!(has(d(1991, 1, 6), r, "Heilige Drei Könige"), "{r}");
    }
    assert!(!is_holiday(d(1992, 1, 6), ST));
    assert!(is_holiday(d(1993, 1, 6), ST));
    assert!(!is_holiday(d(2025, 1, 6), NW));
    for r in [BW, BY, NW, RP, SL] {
        assert!(has(d(2025, 11, 1), r, "Allerheiligen"), "{r}");
    }
    assert!(!is_holiday(d(2025, 11, 1), HE));
}

#[test]
fn unification_year_1990() {
    assert!(has(d(1990, 10, 3), Region::NW, "Tag der Deutschen Einheit"));
    assert!(has(d(1990, 11, 21), Region::NW, "Buß- und Bettag"));
    assert!(!is_holiday(d(1990, 6, 17), Region::NW));
    assert_eq!(d(1990, 6, 17).weekday(), Weekday::Sun);
}

#[test]
fn brandenburg_lists_its_sundays() {
    let h = names(2024, Region::BB);
    assert!(h.contains(&(d(2024, 3, 31), "Ostersonntag")));
    assert!(h.contains(&(d(2024, 5, 19), "Pfingstsonntag")));
}

#[test]
fn coinciding_holidays_are_both_listed() {
    let h = names(2008, Region::NW);
    assert!(h.contains(&(d(2008, 5, 1), "Tag der Arbeit")));
    assert!(h.contains(&(d(2008, 5, 1), "Christi Himmelfahrt")));
}

#[test]
fn holiday_lists_are_sorted_and_in_their_year() {
    for year in FIRST_YEAR..=LAST_YEAR {
        for region in Region::ALL {
            let h = holidays(year, region).unwrap();
            // Berlin had only nine from 1995 to 2018.
            assert!(h.len() >= 9, "{year} {region}");
            assert!(h.windows(2).all(|w| w[0].date <= w[1].date));
            assert!(h.iter().all(|x| x.date.year() == year));
        }
    }
}

#[test]
fn years_outside_the_range_are_refused_with_a_clear_message() {
    let err = holidays(1989, Region::NW).unwrap_err();
    assert_eq!(
        err,
        DeadlineError::YearOutOfRange {
            year: 1989,
            min: 1990,
            max: 2100
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("1989") && msg.contains("1990 to 2100"),
        "{msg}"
    );
    assert!(holidays(2101, Region::NW).is_err());
    assert!(holidays(2100, Region::NW).is_ok());
}

#[test]
fn compute_refuses_dates_outside_the_range() {
    assert!(matches!(
        compute(&spec(d(1989, 12, 31), "1D")),
        Err(DeadlineError::DateOutOfRange { .. })
    ));
    // 31.12.2100 is a Friday: 1D ends on Saturday 01.01.2101.
    assert!(compute(&spec(d(2100, 12, 30), "1D")).is_ok());
    let err = compute(&spec(d(2100, 12, 31), "1D")).unwrap_err();
    assert!(err.to_string().contains("2100"), "{err}");
    // (No end can be *shifted* into 2101: 31.12.2100 is a working day.)
    assert!(is_working_day(d(2100, 12, 31), Region::NW));
    // By post, the notification day can leave the range.
    let late = DeadlineSpec {
        by_post: true,
        ..spec(d(2100, 12, 30), "1D")
    };
    let err = compute(&late).unwrap_err();
    assert!(err.to_string().contains("notification day"), "{err}");
    // Absurd periods fail instead of panicking.
    assert!(compute(&spec(d(2020, 1, 1), "4000000000Y")).is_err());
    assert!(compute(&spec(d(2020, 1, 1), "4000000000D")).is_err());
    let zero = DeadlineSpec {
        period: Period::new(0, Unit::Days),
        ..spec(d(2020, 1, 1), "1D")
    };
    assert!(matches!(
        compute(&zero),
        Err(DeadlineError::InvalidPeriod { .. })
    ));
}

// ------------------------------------------------------------ working days

#[test]
fn working_days() {
    let r = Region::NW;
    assert!(is_working_day(d(2025, 4, 17), r)); // Gründonnerstag is a working day
    assert!(!is_working_day(d(2025, 4, 18), r));
    assert!(!is_working_day(d(2025, 4, 19), r));
    assert_eq!(add_working_days(d(2025, 4, 17), 1, r), d(2025, 4, 22));
    assert_eq!(add_working_days(d(2025, 4, 22), -1, r), d(2025, 4, 17));
    assert_eq!(add_working_days(d(2025, 4, 19), 0, r), d(2025, 4, 19));
    assert_eq!(add_working_days(d(2025, 3, 3), 5, r), d(2025, 3, 10));
    assert_eq!(add_working_days(d(2025, 3, 10), -5, r), d(2025, 3, 3));
}

#[test]
fn outside_the_range_calendar_functions_extrapolate() {
    // Documented: the nearest supported year's rules apply.
    assert!(is_holiday(d(1985, 12, 25), Region::NW));
    assert!(is_holiday(d(2150, 10, 3), Region::NW));
}

#[test]
fn reminders() {
    let r = Region::NW;
    let end = d(2025, 4, 22);
    assert_eq!(
        reminder_date(end, "1wd".parse().unwrap(), r),
        d(2025, 4, 17)
    );
    assert_eq!(
        reminder_date(end, "30d".parse().unwrap(), r),
        d(2025, 3, 23)
    );
    assert_eq!(reminder_date(end, "0d".parse().unwrap(), r), end);
}

#[test]
fn days_left_counts_to_the_last_day() {
    assert_eq!(days_left(d(2025, 4, 22), d(2025, 4, 22)), 0);
    assert_eq!(days_left(d(2025, 4, 20), d(2025, 4, 22)), 2);
    assert_eq!(days_left(d(2025, 4, 23), d(2025, 4, 22)), -1);
}

// ------------------------------------------------------------ parsing, serde

#[test]
fn region_parsing_and_display() {
    for text in ["NW", "nw", "DE-NW", "de-nw", " NW "] {
        assert_eq!(text.parse::<Region>().unwrap(), Region::NW, "{text}");
    }
    assert_eq!(Region::NW.to_string(), "NW");
    assert_eq!(Region::default(), Region::NW);
    assert_eq!(Region::NW.name(), "Nordrhein-Westfalen");
    assert_eq!(Region::TH.name(), "Thüringen");
    for r in Region::ALL {
        assert_eq!(r.to_string().parse::<Region>().unwrap(), r);
    }
    let err = "XX".parse::<Region>().unwrap_err();
    assert!(err.to_string().contains("\"XX\"") && err.to_string().contains("NW"));
    assert_eq!(serde_json::to_string(&Region::BY).unwrap(), "\"BY\"");
    assert_eq!(
        serde_json::from_str::<Region>("\"de-by\"").unwrap(),
        Region::BY
    );
    assert!(serde_json::from_str::<Region>("\"Bayern\"").is_err());
}

#[test]
fn period_parsing_and_display() {
    for (text, amount, unit, shown) in [
        ("14D", 14, Unit::Days, "14D"),
        ("4W", 4, Unit::Weeks, "4W"),
        ("1M", 1, Unit::Months, "1M"),
        ("1Y", 1, Unit::Years, "1Y"),
        ("14d", 14, Unit::Days, "14D"),
        ("1m", 1, Unit::Months, "1M"),
        (" 2y ", 2, Unit::Years, "2Y"),
    ] {
        let p: Period = text.parse().unwrap();
        assert_eq!(p, Period::new(amount, unit), "{text}");
        assert_eq!(p.to_string(), shown);
    }
    for bad in [
        "",
        "D",
        "14",
        "14X",
        "0D",
        "1.5M",
        "-1D",
        "14 D",
        "99999999999D",
    ] {
        let err = bad.parse::<Period>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("\"{bad}\"")), "{msg}");
        assert!(msg.contains("14D") && msg.contains("1Y"), "{msg}");
    }
    assert_eq!(
        serde_json::to_string(&Period::new(14, Unit::Days)).unwrap(),
        "\"14D\""
    );
    assert_eq!(
        serde_json::from_str::<Period>("\"1m\"").unwrap(),
        Period::new(1, Unit::Months)
    );
    let err = serde_json::from_str::<Period>("\"1 month\"").unwrap_err();
    assert!(err.to_string().contains("1 month"), "{err}");
}

#[test]
fn offset_parsing_and_display() {
    assert_eq!(
        "30d".parse::<Offset>().unwrap(),
        Offset {
            days: 30,
            working: false
        }
    );
    assert_eq!(
        "7wd".parse::<Offset>().unwrap(),
        Offset {
            days: 7,
            working: true
        }
    );
    assert_eq!("7WD".parse::<Offset>().unwrap().to_string(), "7wd");
    for bad in ["", "d", "7", "7w", "7days", "-1d"] {
        let msg = bad.parse::<Offset>().unwrap_err().to_string();
        assert!(msg.contains("30d") && msg.contains("7wd"), "{msg}");
    }
    assert_eq!(
        serde_json::to_string(&"7wd".parse::<Offset>().unwrap()).unwrap(),
        "\"7wd\""
    );
}

#[test]
fn deadline_spec_from_json_uses_defaults() {
    let s: DeadlineSpec = serde_json::from_str(r#"{"event":"2025-03-18","period":"1M"}"#).unwrap();
    assert_eq!(s.region, Region::NW);
    assert!(!s.by_post);
    assert!(s.moves);
    assert_eq!(end_of(s), d(2025, 4, 22));
    let back = serde_json::to_value(s).unwrap();
    assert_eq!(back["period"], "1M");
    assert_eq!(back["region"], "NW");
}

// ------------------------------------------------------------------ properties

fn arb_region() -> impl Strategy<Value = Region> {
    (0..Region::ALL.len()).prop_map(|i| Region::ALL[i])
}

fn arb_unit() -> impl Strategy<Value = Unit> {
    prop_oneof![
        Just(Unit::Days),
        Just(Unit::Weeks),
        Just(Unit::Months),
        Just(Unit::Years)
    ]
}

fn arb_date() -> impl Strategy<Value = NaiveDate> {
    // 1990-01-01 up to about 2095, so most ends stay in range.
    (0i64..38_000).prop_map(|n| d(1990, 1, 1) + chrono::Duration::days(n))
}

fn max_amount(unit: Unit) -> u32 {
    match unit {
        Unit::Days => 400,
        Unit::Weeks => 60,
        Unit::Months => 36,
        Unit::Years => 4,
    }
}

fn arb_spec() -> impl Strategy<Value = DeadlineSpec> {
    (
        arb_date(),
        arb_unit(),
        1u32..=400,
        arb_region(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(event, unit, amount, region, by_post, moves)| DeadlineSpec {
                event,
                period: Period::new(1 + (amount - 1) % max_amount(unit), unit),
                region,
                by_post,
                moves,
            },
        )
}

proptest! {
    // Failures are written to, and replayed first from, a committed file.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/regressions/deadline.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn end_is_a_working_day_unless_it_does_not_move(s in arb_spec()) {
        let c = compute(&s).unwrap();
        if s.moves {
            prop_assert!(is_working_day(c.end, s.region), "{}", c);
            // At most Friday–Monday around Easter is skipped.
            prop_assert!((c.end - c.unshifted_end).num_days() <= 4, "{}", c);
        } else {
            prop_assert_eq!(c.end, c.unshifted_end);
        }
    }

    #[test]
    fn end_is_at_least_event_plus_period(s in arb_spec()) {
        let c = compute(&s).unwrap();
        let start = c.notified.unwrap_or(s.event);
        prop_assert!(c.end >= c.unshifted_end);
        prop_assert!(c.unshifted_end > start);
        let n = i64::from(s.period.amount);
        let min_days = match s.period.unit {
            Unit::Days => n,
            Unit::Weeks => 7 * n,
            Unit::Months => 28 * n,
            Unit::Years => 365 * n,
        };
        prop_assert!((c.unshifted_end - start).num_days() >= min_days, "{}", c);
    }

    #[test]
    fn a_longer_period_never_ends_earlier(s in arb_spec(), extra in 1u32..24) {
        let shorter = compute(&s).unwrap();
        let longer_spec = DeadlineSpec {
            period: Period::new(s.period.amount + extra, s.period.unit),
            ..s
        };
        if let Ok(longer) = compute(&longer_spec) {
            prop_assert!(longer.end >= shorter.end, "{} vs {}", shorter, longer);
        }
    }

    #[test]
    fn by_post_never_ends_earlier(s in arb_spec()) {
        let direct = compute(&DeadlineSpec { by_post: false, ..s }).unwrap();
        let posted = compute(&DeadlineSpec { by_post: true, ..s }).unwrap();
        prop_assert!(posted.end >= direct.end, "{} vs {}", direct, posted);
    }

    #[test]
    fn working_days_there_and_back(date in arb_date(), n in -60i64..60, region in arb_region()) {
        let there = add_working_days(date, n, region);
        if n != 0 {
            prop_assert!(is_working_day(there, region));
        }
        if is_working_day(date, region) {
            prop_assert_eq!(add_working_days(there, -n, region), date);
        }
    }

    #[test]
    fn period_text_round_trips(amount in 1u32..100_000, unit in arb_unit()) {
        let p = Period::new(amount, unit);
        prop_assert_eq!(p.to_string().parse::<Period>().unwrap(), p);
        prop_assert_eq!(p.to_string().to_lowercase().parse::<Period>().unwrap(), p);
    }
}

// ------------------------------------------------- issue 13: German, court, local days

#[test]
fn every_explanation_is_german() {
    let english = [
        "the ", " is ", "day", "Monday", "Tuesday", "Saturday", "Sunday", "deadline", "posted",
        "working", "notified", "moves",
    ];
    let mut cases = vec![
        spec(d(2025, 3, 18), "1M"),
        spec(d(2013, 1, 31), "1M"),
        spec(d(2025, 3, 3), "14D"),
        spec(d(2025, 3, 5), "2W"),
        spec(d(2025, 2, 15), "1M"),
    ];
    let mut by_post = spec(d(2012, 10, 4), "4W");
    by_post.by_post = true;
    cases.push(by_post);
    let mut fixed = spec(d(2025, 3, 2), "2W");
    fixed.moves = false;
    cases.push(fixed);
    let mut local = spec(d(2013, 7, 8), "1M");
    local.region = Region::BY;
    cases.push(local);
    for s in cases {
        for basis in [Basis::Authority, Basis::Court] {
            let text = compute_as(&s, basis).unwrap().to_string();
            for word in english {
                assert!(!text.contains(word), "{word:?} in:\n{text}");
            }
            assert!(text.contains("Die Frist endet mit Ablauf des "), "{text}");
        }
    }
}

#[test]
fn the_klagefrist_is_explained_by_57_vwgo_and_222_zpo_with_the_same_dates() {
    // Posted Wednesday 14.11.2012, notified Saturday 17.11., one month: Monday 17.12.2012.
    let mut s = spec(d(2012, 11, 14), "1M");
    s.by_post = true;
    let court = compute_as(&s, Basis::Court).unwrap();
    let authority = compute(&s).unwrap();
    assert_eq!(court.end, d(2012, 12, 17));
    assert_eq!(court.end, authority.end);
    assert_eq!(
        court.steps[1].rule,
        "§ 57 Abs. 2 VwGO, § 222 Abs. 1 ZPO, § 187 Abs. 1 BGB"
    );
    assert_eq!(
        court.steps[2].rule,
        "§ 57 Abs. 2 VwGO, § 222 Abs. 1 ZPO, § 188 Abs. 2 BGB"
    );
    assert_eq!(court.steps[3].rule, "§ 57 Abs. 2 VwGO, § 222 Abs. 2 ZPO");
    assert!(
        court
            .steps
            .iter()
            .all(|st| !st.rule.contains("VwVfG") || st.rule.contains("§ 41"))
    );
    // A court deadline ending on a Saturday moves by § 222 Abs. 2 ZPO.
    let c = compute_as(&spec(d(2025, 2, 15), "1M"), Basis::Court).unwrap();
    assert_eq!(c.end, d(2025, 3, 17));
    assert!(c.steps[2].text.contains("Sonnabend"), "{}", c.steps[2].text);
}

#[test]
fn augsburg_keeps_the_friedensfest_and_mariae_himmelfahrt() {
    let augsburg: Region = "BY-Augsburg".parse().unwrap();
    assert_eq!(augsburg, Region::BYAugsburg);
    assert_eq!(augsburg.state(), Region::BY);
    assert_eq!(
        "de-by-augsburg".parse::<Region>().unwrap(),
        Region::BYAugsburg
    );
    assert!(has(
        d(2013, 8, 8),
        augsburg,
        "Augsburger Hohes Friedensfest"
    ));
    assert!(has(d(2013, 8, 15), augsburg, "Mariä Himmelfahrt"));
    assert!(
        has(d(2013, 1, 6), augsburg, "Heilige Drei Könige"),
        "Bavaria's days too"
    );
    assert!(!is_holiday(d(2013, 8, 8), Region::BY));
    assert!(!is_holiday(d(2013, 8, 15), Region::BY));
    assert!(is_holiday(d(2013, 8, 15), Region::BYKatholisch));
    assert!(!is_holiday(d(2013, 8, 8), Region::BYKatholisch));
    // Thursday 08.08.2013: in Augsburg the end moves to Friday 09.08.2013.
    let mut s = spec(d(2013, 7, 8), "1M");
    s.region = augsburg;
    assert_eq!(end_of(s), d(2013, 8, 9));
    s.region = Region::BY;
    assert_eq!(end_of(s), d(2013, 8, 8));
}

#[test]
fn fronleichnam_holds_in_the_catholic_municipalities_of_saxony_and_thuringia() {
    // Fronleichnam 2013: Thursday 30 May.
    for (local, state) in [
        (Region::SNFronleichnam, Region::SN),
        (Region::THFronleichnam, Region::TH),
    ] {
        assert!(has(d(2013, 5, 30), local, "Fronleichnam"), "{local}");
        assert!(!is_holiday(d(2013, 5, 30), state), "{state}");
        assert_eq!(local.state(), state);
    }
    assert!(has(
        d(2013, 11, 20),
        Region::SNFronleichnam,
        "Buß- und Bettag"
    ));
}

#[test]
fn a_state_with_local_holidays_warns_when_the_end_falls_on_one() {
    // Bayern, end Thursday 15.08.2013 (Mariä Himmelfahrt only locally).
    let mut s = spec(d(2013, 7, 15), "1M");
    s.region = Region::BY;
    let c = compute(&s).unwrap();
    assert_eq!(c.end, d(2013, 8, 15), "the state alone does not move it");
    let last = c.steps.last().unwrap();
    assert!(last.rule.contains("§ 193 BGB"), "{}", last.rule);
    assert!(
        last.text.contains("Mariä Himmelfahrt (in den Gemeinden mit überwiegend katholischer Bevölkerung, darunter München und Augsburg)"),
        "{}",
        last.text
    );
    assert!(
        last.text.contains("örtlicher gesetzlicher Feiertag"),
        "{}",
        last.text
    );
    assert!(last.text.contains("16.08.2013"), "{}", last.text);
    // Augsburg's Friedensfest, and Fronleichnam in Saxony and Thuringia.
    s.event = d(2013, 7, 8);
    assert!(
        compute(&s)
            .unwrap()
            .to_string()
            .contains("Augsburger Hohes Friedensfest")
    );
    for state in [Region::SN, Region::TH] {
        let mut s = spec(d(2013, 4, 30), "1M");
        s.region = state;
        let text = compute(&s).unwrap().to_string();
        assert!(text.contains("Fronleichnam"), "{state}: {text}");
    }
    // NRW has no local holidays: no warning.
    let c = compute(&spec(d(2013, 7, 15), "1M")).unwrap();
    assert!(!c.to_string().contains("örtlich"));
    // Where the local day already counts, there is nothing to warn about.
    let mut s = spec(d(2013, 7, 15), "1M");
    s.region = Region::BYAugsburg;
    assert_eq!(compute(&s).unwrap().end, d(2013, 8, 16));
    assert!(!compute(&s).unwrap().to_string().contains("örtlich"));
    assert!(local_holidays_on(d(2013, 8, 15), Region::NW).is_empty());
}

#[test]
fn a_fixed_end_date_is_explained_in_german() {
    let c = fixed_end(d(2013, 7, 31), "Übergangsregelung");
    assert_eq!(c.end, d(2013, 7, 31));
    assert_eq!(c.steps[0].rule, "Übergangsregelung");
    assert_eq!(
        c.to_string(),
        "1. Übergangsregelung: Das Verfahren bestimmt als Fristende den 31.07.2013 (Mittwoch).\nDie Frist endet mit Ablauf des 31.07.2013 (Mittwoch)."
    );
}
