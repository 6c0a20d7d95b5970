//! The municipality's calendar: Swedish time. A date typed at a customer's
//! door ("installed today") is a Swedish date, whatever zone the server's
//! clock runs in; so is every "today" the rules and reports count from.
//!
//! Sweden follows the EU rule: UTC+1, and UTC+2 from 01:00 UTC on the last
//! Sunday of March to 01:00 UTC on the last Sunday of October.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

/// Today's date in Sweden.
pub fn today() -> NaiveDate {
    swedish_date(Utc::now())
}

/// The Swedish calendar date at an instant.
pub fn swedish_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(offset_hours(at))).date_naive()
}

fn offset_hours(at: DateTime<Utc>) -> i64 {
    let year = at.year();
    let switch = |month: u32| {
        last_sunday(year, month)
            .and_time(NaiveTime::from_hms_opt(1, 0, 0).expect("01:00"))
            .and_utc()
    };
    if at >= switch(3) && at < switch(10) {
        2
    } else {
        1
    }
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut day =
        NaiveDate::from_ymd_opt(year, month + 1, 1).expect("valid month") - Duration::days(1);
    while day.weekday() != Weekday::Sun {
        day -= Duration::days(1);
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_swedish_evening_after_utc_midnight_is_the_next_day_in_winter_and_summer() {
        assert_eq!(
            swedish_date(utc("2026-11-22T22:59:59Z")),
            date("2026-11-22")
        );
        assert_eq!(
            swedish_date(utc("2026-11-22T23:00:00Z")),
            date("2026-11-23")
        );
        assert_eq!(
            swedish_date(utc("2026-07-01T21:59:59Z")),
            date("2026-07-01")
        );
        assert_eq!(
            swedish_date(utc("2026-07-01T22:00:00Z")),
            date("2026-07-02")
        );
    }

    #[test]
    fn summer_time_starts_and_ends_at_one_utc_on_the_last_sundays() {
        // 2026: 29 March and 25 October.
        assert_eq!(last_sunday(2026, 3), date("2026-03-29"));
        assert_eq!(last_sunday(2026, 10), date("2026-10-25"));
        assert_eq!(offset_hours(utc("2026-03-29T00:59:59Z")), 1);
        assert_eq!(offset_hours(utc("2026-03-29T01:00:00Z")), 2);
        assert_eq!(offset_hours(utc("2026-10-25T00:59:59Z")), 2);
        assert_eq!(offset_hours(utc("2026-10-25T01:00:00Z")), 1);
        assert_eq!(last_sunday(2027, 3), date("2027-03-28"));
    }
}
