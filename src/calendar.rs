//! Working time in China: the time limits of requests count only working days. A working day is
//! a weekday that is not a public holiday, or a weekend day declared a make-up working day
//! (调休上班). The State Council announces each year's holidays and make-up days in November;
//! [`WorkCalendar::china_2026`] has 2026's; `wangge serve --holiday` and `--workday` (or the
//! settings file's `holidays` and `workdays`) add later years' as [`Days`].
//!
//! Time is counted in China Standard Time ([`crate::timestamp::LOCAL_OFFSET`]): a working day
//! is its 24 hours from local midnight, and time on other days does not count.

use crate::timestamp::LOCAL_OFFSET;
use std::collections::BTreeSet;
use time::macros::{date, format_description};
use time::{Date, Duration, OffsetDateTime, Weekday};

/// The longest run of days one [`Days`] may name: the longest holiday is under two weeks.
pub const MAX_DAYS_IN_RANGE: i64 = 31;

/// A day (`2027-01-01`) or a run of days (`2027-02-05..2027-02-11`, both ends included), as
/// `--holiday` and `--workday` take them.
///
/// ```
/// use wangge::calendar::Days;
/// let spring: Days = "2027-02-05..2027-02-11".parse().unwrap();
/// assert_eq!(spring.0.len(), 7);
/// assert_eq!("2027-02-14".parse::<Days>().unwrap().0.len(), 1);
/// assert!("2027-02-11..2027-02-05".parse::<Days>().is_err());
/// assert!("2027-13-01".parse::<Days>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Days(pub Vec<Date>);

impl std::str::FromStr for Days {
    type Err = String;
    fn from_str(s: &str) -> Result<Days, String> {
        let day = |t: &str| {
            Date::parse(t.trim(), format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("{t:?} is not a date such as 2027-01-01"))
        };
        let (first, last) = match s.split_once("..") {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(s)?, day(s)?),
        };
        let length = (last - first).whole_days() + 1;
        if !(1..=MAX_DAYS_IN_RANGE).contains(&length) {
            return Err(format!(
                "{s:?} must run forwards and over at most {MAX_DAYS_IN_RANGE} days"
            ));
        }
        let mut days = vec![first];
        while let Some(next) = days
            .last()
            .and_then(|d| d.next_day())
            .filter(|d| *d <= last)
        {
            days.push(next);
        }
        Ok(Days(days))
    }
}

/// Which days are worked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Public holidays, weekdays among them included (放假).
    pub holidays: BTreeSet<Date>,
    /// Weekend days worked to make up for a holiday (调休上班).
    pub workdays: BTreeSet<Date>,
}

impl WorkCalendar {
    /// 2026 as the State Council's notice of 4 November 2025 (国办发明电〔2025〕) sets it.
    pub fn china_2026() -> WorkCalendar {
        let ranges = [
            (date!(2026 - 01 - 01), date!(2026 - 01 - 03)), // 元旦
            (date!(2026 - 02 - 15), date!(2026 - 02 - 23)), // 春节
            (date!(2026 - 04 - 04), date!(2026 - 04 - 06)), // 清明节
            (date!(2026 - 05 - 01), date!(2026 - 05 - 05)), // 劳动节
            (date!(2026 - 06 - 19), date!(2026 - 06 - 21)), // 端午节
            (date!(2026 - 09 - 25), date!(2026 - 09 - 27)), // 中秋节
            (date!(2026 - 10 - 01), date!(2026 - 10 - 07)), // 国庆节
        ];
        let mut holidays = BTreeSet::new();
        for (first, last) in ranges {
            let mut day = first;
            while day <= last {
                holidays.insert(day);
                day = day.next_day().expect("2026 has a next day");
            }
        }
        let workdays = [
            date!(2026 - 01 - 04),
            date!(2026 - 02 - 14),
            date!(2026 - 02 - 28),
            date!(2026 - 05 - 09),
            date!(2026 - 09 - 20),
            date!(2026 - 10 - 10),
        ]
        .into();
        WorkCalendar { holidays, workdays }
    }

    /// This calendar with more holidays and make-up working days (a later year's notice); a
    /// day both lists name is worked.
    pub fn with_days(mut self, holidays: &[Days], workdays: &[Days]) -> WorkCalendar {
        self.holidays
            .extend(holidays.iter().flat_map(|d| d.0.iter().copied()));
        self.workdays
            .extend(workdays.iter().flat_map(|d| d.0.iter().copied()));
        self
    }

    /// Whether `day` is worked.
    pub fn is_working_day(&self, day: Date) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.holidays.contains(&day)
    }

    /// The instant `hours` hours of working time after `start`.
    ///
    /// ```
    /// use time::macros::datetime;
    /// use wangge::calendar::WorkCalendar;
    /// let calendar = WorkCalendar::china_2026();
    /// // Thursday 30 April, 20:00: four hours of it left, then the Labour Day holiday (1–5
    /// // May) and the weekend are skipped; Wednesday 6 May is worked.
    /// let due = calendar.add_working_hours(datetime!(2026-04-30 20:00 +08:00), 6);
    /// assert_eq!(due, datetime!(2026-05-06 02:00 +08:00));
    /// ```
    pub fn add_working_hours(&self, start: OffsetDateTime, hours: u32) -> OffsetDateTime {
        let mut now = start.to_offset(LOCAL_OFFSET);
        let mut left = Duration::hours(i64::from(hours));
        // A year of days without a working one means a broken calendar: stop there rather
        // than loop.
        for _ in 0..400 {
            let midnight = now
                .date()
                .next_day()
                .map(|d| d.midnight().assume_offset(LOCAL_OFFSET));
            let Some(midnight) = midnight else { break };
            if self.is_working_day(now.date()) {
                let today = midnight - now;
                if left <= today {
                    return now + left;
                }
                left -= today;
            }
            now = midnight;
        }
        now + left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn weekends_holidays_and_make_up_days() {
        let c = WorkCalendar::china_2026();
        assert!(c.is_working_day(date!(2026 - 12 - 02)), "a Wednesday");
        assert!(!c.is_working_day(date!(2026 - 12 - 05)), "a Saturday");
        assert!(
            !c.is_working_day(date!(2026 - 10 - 01)),
            "National Day, a Thursday"
        );
        assert!(
            c.is_working_day(date!(2026 - 10 - 10)),
            "the Saturday worked after it"
        );
        assert_eq!(c.holidays.len(), 3 + 9 + 3 + 5 + 3 + 3 + 7);
    }

    #[test]
    fn later_years_are_added_by_their_days() {
        let holidays: Vec<Days> = ["2027-01-01", "2027-02-06..2027-02-12"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let workdays = vec!["2027-02-14".parse::<Days>().unwrap()];
        let c = WorkCalendar::china_2026().with_days(&holidays, &workdays);
        assert!(!c.is_working_day(date!(2027 - 01 - 01)), "a Friday off");
        assert!(
            !c.is_working_day(date!(2027 - 02 - 08)),
            "a Monday of the Spring Festival"
        );
        assert!(c.is_working_day(date!(2027 - 02 - 14)), "a Sunday worked");
        assert!(
            !c.is_working_day(date!(2026 - 10 - 01)),
            "2026 stays as it was"
        );
        assert!(
            "2027-01-01..2027-03-01".parse::<Days>().is_err(),
            "longer than a month"
        );
    }

    #[test]
    fn time_on_days_off_does_not_count() {
        let c = WorkCalendar::china_2026();
        // Within one working day.
        assert_eq!(
            c.add_working_hours(datetime!(2026-12-02 09:00 +08:00), 2),
            datetime!(2026-12-02 11:00 +08:00)
        );
        // Posted on a Saturday: the clock starts on Monday.
        assert_eq!(
            c.add_working_hours(datetime!(2026-12-05 10:00 +08:00), 24),
            datetime!(2026-12-08 00:00 +08:00)
        );
        // Posted on the last day of National Day: the clock starts on Thursday 8 October, then
        // Friday, then the make-up Saturday 10 October.
        assert_eq!(
            c.add_working_hours(datetime!(2026-10-07 12:00 UTC), 72),
            datetime!(2026-10-11 00:00 +08:00)
        );
        // An instant in UTC is read in China time (Friday 23:30 there).
        assert_eq!(
            c.add_working_hours(datetime!(2026-12-04 15:30 UTC), 1),
            datetime!(2026-12-07 00:30 +08:00)
        );
    }
}
