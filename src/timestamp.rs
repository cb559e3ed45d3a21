//! Instants as the version history keeps them: RFC 3339 in UTC with exactly three decimals and a
//! `Z` (`2026-11-28T04:00:00.000Z`). With a fixed width, comparing two such texts compares the
//! instants, which is how the SQLite backend answers `at=`; PostgreSQL reads the same text as a
//! `timestamptz`.

use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset, time};
use time::{Date, OffsetDateTime, UtcOffset};

/// The offset a bare date is read in: China Standard Time, where the users are.
pub const LOCAL_OFFSET: UtcOffset = offset!(+8);

/// An instant in the stored form.
///
/// ```
/// use time::macros::datetime;
/// assert_eq!(
///     wangge::timestamp::format(datetime!(2026-11-28 12:00:00.123456 +08:00)),
///     "2026-11-28T04:00:00.123Z"
/// );
/// ```
pub fn format(instant: OffsetDateTime) -> String {
    instant
        .to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .expect("a four-digit year formats")
}

/// Now, in the stored form.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// An RFC 3339 instant (any offset) as Unix milliseconds; `None` if it is not one.
///
/// ```
/// use wangge::timestamp::to_millis;
/// assert_eq!(to_millis("1970-01-01T08:00:01.5+08:00"), Some(1_500));
/// assert_eq!(to_millis("yesterday"), None);
/// ```
pub fn to_millis(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Unix milliseconds in the stored form.
///
/// ```
/// assert_eq!(wangge::timestamp::from_millis(1_500), "1970-01-01T00:00:01.500Z");
/// ```
pub fn from_millis(millis: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format(t)
}

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .expect("now fits in 64 bits of milliseconds")
}

/// Unix seconds as an RFC 3339 UTC timestamp to the second (`2026-11-28T08:00:00Z`): the form
/// of token expiries and OGC `timeStamp`s. Seconds outside the years 0000 to 9999 are clamped to
/// them, so the year always has four digits.
///
/// ```
/// assert_eq!(wangge::timestamp::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn rfc3339(secs: i64) -> String {
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = 253_402_300_799;
    OffsetDateTime::from_unix_timestamp(secs.clamp(FIRST, LAST))
        .expect("within the years the time crate holds")
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("a four-digit year formats")
}

/// Why an `at=` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtError {
    /// Neither a date nor an RFC 3339 date-time.
    #[error("{0}")]
    Malformed(String),
    /// A well-formed date or date-time whose instant lies outside the years 0001 to 9999 (UTC),
    /// which the stored form (four-digit years) cannot hold.
    #[error("{0}")]
    OutOfRange(String),
}

/// Reads the `at=` of a lookup: a bare `YYYY-MM-DD` means the end of that day in China Standard
/// Time (UTC+08:00, the last millisecond); an RFC 3339 date-time is exact (to the millisecond).
/// The instant must fall within the years 0001 to 9999 in UTC.
///
/// ```
/// use wangge::timestamp::{AtError, parse_at};
/// assert_eq!(parse_at("2026-11-28").unwrap(), "2026-11-28T15:59:59.999Z");
/// assert_eq!(parse_at("2026-11-28T09:30:00+08:00").unwrap(), "2026-11-28T01:30:00.000Z");
/// assert!(matches!(parse_at("2026-13-01"), Err(AtError::Malformed(_))));
/// assert!(matches!(parse_at("yesterday"), Err(AtError::Malformed(_))));
/// // In UTC this is already the year 10000.
/// assert!(matches!(parse_at("9999-12-31T23:59:59-23:59"), Err(AtError::OutOfRange(_))));
/// ```
pub fn parse_at(text: &str) -> Result<String, AtError> {
    let text = text.trim();
    let instant = if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        date.with_time(time!(23:59:59.999))
            .assume_offset(LOCAL_OFFSET)
    } else {
        OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
            AtError::Malformed(format!(
                "at={text:?} is neither a date (2026-11-28) nor an RFC 3339 date-time \
                 (2026-11-28T09:30:00+08:00): {e}"
            ))
        })?
    };
    // `to_offset` panics when the shift to UTC leaves the years the `time` crate can hold
    // (9999-12-31T23:59:59-23:59 is in the year 10000 in UTC); the checked form says so instead.
    let utc = instant
        .checked_to_offset(UtcOffset::UTC)
        .filter(|utc| (1..=9999).contains(&utc.year()))
        .ok_or_else(|| {
            AtError::OutOfRange(format!(
                "at={text:?} is outside the years 0001 to 9999 once converted to UTC"
            ))
        })?;
    Ok(format(utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_beyond_the_stored_years_are_refused_not_panicked_on() {
        for text in [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T20:00:00-08:00",
            "0000-01-01T00:00:00+23:59",
            "0001-01-01T00:00:00+00:01",
            "0000-06-01",
            "0001-01-01T00:00:00.000+08:00",
        ] {
            assert!(
                matches!(parse_at(text), Err(AtError::OutOfRange(_))),
                "{text}: {:?}",
                parse_at(text)
            );
        }
        assert_eq!(
            parse_at("9999-12-31T23:59:59Z").unwrap(),
            "9999-12-31T23:59:59.000Z"
        );
        assert_eq!(parse_at("0001-01-01").unwrap(), "0001-01-01T15:59:59.999Z");
        assert_eq!(parse_at("9999-12-31").unwrap(), "9999-12-31T15:59:59.999Z");
    }

    #[test]
    fn seconds_format_as_rfc3339_utc_with_four_digit_years() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_852_800 + 3661), "2026-11-28T09:01:01Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn stored_form_sorts_like_the_instants() {
        let a = parse_at("2026-11-28T23:59:59.999+08:00").unwrap();
        let b = parse_at("2026-11-28T16:00:00Z").unwrap();
        assert!(a < b, "{a} {b}");
        assert_eq!(now().len(), "2026-11-28T04:00:00.000Z".len());
    }
}
