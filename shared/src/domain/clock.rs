//! Wall-clock time as the API shows it: RFC 3339 UTC with whole seconds (`2026-11-28T23:30:00Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

pub fn rfc3339(at: SystemTime) -> String {
    let amz = crate::domain::presign::format_amz_date(unix_secs(at));
    let s = |r: std::ops::Range<usize>| std::str::from_utf8(&amz[r]).unwrap_or("00");
    format!("{}-{}-{}T{}:{}:{}Z", s(0..4), s(4..6), s(6..8), s(9..11), s(11..13), s(13..15))
}

pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// Reads back what [`rfc3339`] writes (`YYYY-MM-DDTHH:MM:SSZ`, fractional seconds ignored).
/// Anything else, or a time before 1970, is `None`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    if !shape {
        return None;
    }
    let fraction_ok = b.len() == 20 || (b[19] == b'.' && b[20..b.len() - 1].iter().all(u8::is_ascii_digit));
    if !fraction_ok {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_to_the_same_second() {
        for secs in [0u64, 951_782_400 + 86_399, 1_795_908_600, 4_102_444_800, 1_709_164_800] {
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(parse_rfc3339(&rfc3339(at)), Some(at), "{}", rfc3339(at));
        }
        assert_eq!(parse_rfc3339("2026-11-28T23:30:00.250Z"), parse_rfc3339("2026-11-28T23:30:00Z"));
    }

    #[test]
    fn anything_else_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2026-11-28 23:30:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-28T23:30:00+01:00",
            "1969-12-31T23:59:59Z",
            "2026-11-28T23:30:00.Z9",
            "２０２６-11-28T23:30:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_render_as_rfc3339_utc_seconds() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_908_600);
        assert_eq!(super::rfc3339(at), "2026-11-28T23:30:00Z");
    }
}
