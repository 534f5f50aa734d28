//! Civil calendar dates (`YYYY-MM-DD`, proleptic Gregorian) with the one piece of arithmetic certificates need:
//! adding months for the 12-month blanket period.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A real calendar date between 0001-01-01 and 9999-12-31.
///
/// Ordering is chronological (the fields are compared year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Why a string is not a [`Date`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateError {
    /// Not of the shape `YYYY-MM-DD` with ASCII digits.
    Format,
    /// The shape is right but the day does not exist (month 13, February 30, year 0).
    Calendar,
}

impl Date {
    /// The date `year-month-day`, or `None` when no such day exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let ok = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        ok.then_some(Date { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD` (ISO 8601 calendar date, extended format, four-digit year).
    pub fn parse(text: &str) -> Option<Date> {
        Self::parse_checked(text).ok()
    }

    pub(crate) fn parse_checked(text: &str) -> Result<Date, DateError> {
        let b = text.as_bytes();
        let shape = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shape {
            return Err(DateError::Format);
        }
        let num = |range: std::ops::Range<usize>| -> u16 {
            b.get(range)
                .unwrap_or_default()
                .iter()
                .fold(0u16, |acc, c| acc * 10 + u16::from(c - b'0'))
        };
        let month = u8::try_from(num(5..7)).map_err(|_| DateError::Calendar)?;
        let day = u8::try_from(num(8..10)).map_err(|_| DateError::Calendar)?;
        Date::new(num(0..4), month, day).ok_or(DateError::Calendar)
    }

    /// The year (1..=9999).
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month (1..=12).
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month (1..=31).
    pub fn day(self) -> u8 {
        self.day
    }

    /// The same day `months` months later, clamped to the end of a shorter month (2024-02-29 + 12 months is
    /// 2025-02-28), or `None` past the year 9999.
    pub fn add_months(self, months: u32) -> Option<Date> {
        let index = u32::from(self.year) * 12 + u32::from(self.month) - 1 + months;
        let year = u16::try_from(index / 12).ok()?;
        let month = u8::try_from(index % 12 + 1).ok()?;
        let day = self.day.min(days_in_month(year, month));
        Date::new(year, month, day)
    }

    /// The date `days` days after 1970-01-01 (negative: before), or `None` outside the supported years.
    pub fn from_unix_days(days: i64) -> Option<Date> {
        // Howard Hinnant's `civil_from_days`, http://howardhinnant.github.io/date_algorithms.html
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// Today's date in UTC according to the system clock (`None` if the clock is before 1970 or past 9999).
    pub fn today_utc() -> Option<Date> {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        Date::from_unix_days(i64::try_from(secs / 86_400).ok()?)
    }
}

fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Date::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected a real calendar date YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_real_dates_only() {
        assert_eq!(Date::parse("2024-02-29"), Date::new(2024, 2, 29));
        assert_eq!(Date::parse_checked("2023-02-29"), Err(DateError::Calendar));
        assert_eq!(Date::parse_checked("1900-02-29"), Err(DateError::Calendar));
        assert!(Date::parse("2000-02-29").is_some());
        assert_eq!(Date::parse_checked("2026-13-01"), Err(DateError::Calendar));
        assert_eq!(Date::parse_checked("0000-01-01"), Err(DateError::Calendar));
        assert_eq!(Date::parse_checked("2026-04-31"), Err(DateError::Calendar));
        for bad in [
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "2026-01-01T00:00",
            "２０２６-01-01",
            "",
            "+026-01-01",
        ] {
            assert_eq!(Date::parse_checked(bad), Err(DateError::Format), "{bad}");
        }
    }

    #[test]
    fn adds_months_with_clamping() {
        let d = |s| Date::parse(s).unwrap();
        assert_eq!(d("2026-01-15").add_months(12), Some(d("2027-01-15")));
        assert_eq!(d("2024-02-29").add_months(12), Some(d("2025-02-28")));
        assert_eq!(d("2026-08-31").add_months(6), Some(d("2027-02-28")));
        assert_eq!(d("2026-12-31").add_months(1), Some(d("2027-01-31")));
        assert_eq!(d("9999-06-01").add_months(12), None);
    }

    #[test]
    fn unix_days() {
        assert_eq!(Date::from_unix_days(0), Date::new(1970, 1, 1));
        assert_eq!(Date::from_unix_days(20_413), Date::new(2025, 11, 21));
        assert_eq!(Date::from_unix_days(-1), Date::new(1969, 12, 31));
        assert_eq!(Date::from_unix_days(i64::MAX), None);
        assert!(Date::today_utc().is_some());
    }

    proptest! {
        #[test]
        fn display_round_trips(days in -719_162i64..2_932_896) {
            let date = Date::from_unix_days(days).unwrap();
            prop_assert_eq!(Date::parse(&date.to_string()), Some(date));
            prop_assert!(Date::from_unix_days(days + 1).unwrap() > date);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = Date::parse(&s);
        }
    }
}
