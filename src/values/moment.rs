//! Points in time as people read them: Unix ms shown in UTC, the one
//! format every screen, email and table uses.

/// Unix ms as "2026-12-02 09:14 UTC" (the console, the fallback email).
pub fn format_utc_minute(ms: i64) -> String {
    format(
        ms,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"),
    )
}

/// Unix ms as "2026-12-02 09:14:05", in UTC (the command line's tables).
pub fn format_utc_second(ms: i64) -> String {
    format(
        ms,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
}

/// The number itself when it is no time `time` can show.
fn format(ms: i64, description: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(description).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_utc_to_the_minute_or_second() {
        assert_eq!(format_utc_minute(1_764_666_845_000), "2025-12-02 09:14 UTC");
        assert_eq!(format_utc_second(1_764_666_845_000), "2025-12-02 09:14:05");
        assert_eq!(format_utc_minute(i64::MAX), i64::MAX.to_string());
    }
}
