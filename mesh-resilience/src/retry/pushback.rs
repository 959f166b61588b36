//! Server pushback: `Retry-After` (RFC 9110 §10.2.3) and gRPC's
//! `grpc-retry-pushback-ms` (gRFC A6).
//!
//! Both values come from the network, so the parsers take bytes, never
//! panic, never allocate, and read at most a few dozen bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a gRPC server asked for in `grpc-retry-pushback-ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushback {
    /// Retry after this long (and only then), instead of the backoff.
    After(Duration),
    /// Do not retry: the value was negative or not a number (gRFC A6).
    DoNotRetry,
}

/// The longest number accepted: 19 digits fit in a `u64`.
const MAX_DIGITS: usize = 19;

fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > MAX_DIGITS || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &value[start..end.max(start)]
}

/// Parses `grpc-retry-pushback-ms`: a non-negative decimal count of
/// milliseconds means retry after that long; anything else (negative,
/// empty, not a number) means do not retry.
pub fn parse_grpc_pushback(value: &[u8]) -> Pushback {
    parse_decimal(trim(value)).map_or(Pushback::DoNotRetry, |ms| {
        Pushback::After(Duration::from_millis(ms))
    })
}

/// Parses `Retry-After`: delta-seconds, or an HTTP-date in the IMF-fixdate
/// form senders must generate (`Sun, 06 Nov 1994 08:49:37 GMT`), taken
/// relative to `now`. A date in the past gives zero. `None` when the value
/// is neither (the obsolete RFC 850 and asctime date forms are not
/// accepted).
pub fn parse_retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = trim(value);
    if let Some(secs) = parse_decimal(value) {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_imf_fixdate(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an IMF-fixdate.
fn parse_imf_fixdate(v: &[u8]) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 bytes.
    if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
        return None;
    }
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if !DAYS.contains(&&v[0..3]) || v[7] != b' ' || v[11] != b' ' || v[16] != b' ' {
        return None;
    }
    if v[19] != b':' || v[22] != b':' {
        return None;
    }
    let day = parse_decimal(&v[5..7])?;
    let month = MONTHS.iter().position(|m| *m == &v[8..11])? as u64 + 1;
    let year = parse_decimal(&v[12..16])?;
    let (h, m, s) = (
        parse_decimal(&v[17..19])?,
        parse_decimal(&v[20..22])?,
        parse_decimal(&v[23..25])?,
    );
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (year ≥ 1970), by Howard Hinnant's algorithm.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe) - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_pushback() {
        assert_eq!(
            parse_grpc_pushback(b"250"),
            Pushback::After(Duration::from_millis(250))
        );
        assert_eq!(parse_grpc_pushback(b" 0 "), Pushback::After(Duration::ZERO));
        assert_eq!(parse_grpc_pushback(b"-1"), Pushback::DoNotRetry);
        assert_eq!(parse_grpc_pushback(b""), Pushback::DoNotRetry);
        assert_eq!(parse_grpc_pushback(b"1.5"), Pushback::DoNotRetry);
        assert_eq!(
            parse_grpc_pushback(b"99999999999999999999"),
            Pushback::DoNotRetry
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        // RFC 9110's own example date.
        let example = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_imf_fixdate(example), Some(784_111_777));
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 120);
        assert_eq!(
            parse_retry_after(example, now),
            Some(Duration::from_secs(120))
        );
        let later = UNIX_EPOCH + Duration::from_secs(784_111_777 + 5);
        assert_eq!(parse_retry_after(example, later), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(b"120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_imf_fixdate(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_imf_fixdate(b"Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        for bad in [
            &b"Sunday, 06-Nov-94 08:49:37 GMT"[..],
            b"Sun Nov  6 08:49:37 1994",
            b"Sun, 06 Xyz 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 25:49:37 GMT",
            b"-5",
            b"",
        ] {
            assert_eq!(
                parse_retry_after(bad, now),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
