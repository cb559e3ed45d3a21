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

/// Reads the `at=` of a lookup: a bare `YYYY-MM-DD` means the end of that day in China Standard
/// Time (UTC+08:00, the last millisecond); an RFC 3339 date-time is exact (to the millisecond).
///
/// ```
/// use wangge::timestamp::parse_at;
/// assert_eq!(parse_at("2026-11-28").unwrap(), "2026-11-28T15:59:59.999Z");
/// assert_eq!(parse_at("2026-11-28T09:30:00+08:00").unwrap(), "2026-11-28T01:30:00.000Z");
/// assert!(parse_at("2026-13-01").is_err());
/// assert!(parse_at("yesterday").is_err());
/// ```
pub fn parse_at(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(format(
            date.with_time(time!(23:59:59.999))
                .assume_offset(LOCAL_OFFSET),
        ));
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(format)
        .map_err(|e| {
            format!(
                "at={text:?} is neither a date (2026-11-28) nor an RFC 3339 date-time \
                 (2026-11-28T09:30:00+08:00): {e}"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_sorts_like_the_instants() {
        let a = parse_at("2026-11-28T23:59:59.999+08:00").unwrap();
        let b = parse_at("2026-11-28T16:00:00Z").unwrap();
        assert!(a < b, "{a} {b}");
        assert_eq!(now().len(), "2026-11-28T04:00:00.000Z".len());
    }
}
