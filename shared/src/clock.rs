//! Wall-clock time as the API shows it: RFC 3339 UTC with whole seconds (`2026-11-28T23:30:00Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

pub fn rfc3339(at: SystemTime) -> String {
    let amz = crate::presign::format_amz_date(unix_secs(at));
    let s = |r: std::ops::Range<usize>| std::str::from_utf8(&amz[r]).unwrap_or("00");
    format!("{}-{}-{}T{}:{}:{}Z", s(0..4), s(4..6), s(6..8), s(9..11), s(11..13), s(13..15))
}

pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_render_as_rfc3339_utc_seconds() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_908_600);
        assert_eq!(super::rfc3339(at), "2026-11-28T23:30:00Z");
    }
}
