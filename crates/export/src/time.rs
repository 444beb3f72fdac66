//! Calendar dates from epoch milliseconds (UTC), without a clock or a time-zone database.

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` (UTC).
pub fn date(ms: u64) -> String {
    let (y, m, d) = civil((ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), as FHIR and ISO 8601 write it.
pub fn date_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, min, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{}T{h:02}:{min:02}:{s:02}Z", date(ms))
}

/// `YYYY-MM-DD HH:MM UTC`, for people.
pub(crate) fn readable(ms: u64) -> String {
    let dt = date_time(ms);
    format!("{} {} UTC", &dt[..10], &dt[11..16])
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_from_epoch_milliseconds() {
        assert_eq!(super::date(0), "1970-01-01");
        // 2024-02-29T12:00:00Z, a leap day.
        assert_eq!(super::date_time(1_709_208_000_000), "2024-02-29T12:00:00Z");
        assert_eq!(super::date(1_798_761_600_000), "2027-01-01");
        assert_eq!(super::readable(1_709_208_060_000), "2024-02-29 12:01 UTC");
    }
}
