//! Parsing primitives shared by the one-shot reader ([`super::read`]) and
//! the resumable scanner ([`super::scan`]), so that both accept exactly the
//! same bytes.
//!
//! Every function looks at `buf[pos..]` and answers with a value and the
//! position after it, [`Stop::Incomplete`] when the bytes so far are a
//! valid prefix, or a [`Fault`] as soon as no continuation can be valid.

use super::error::{Fault, Limit, Malformed};

/// Why a parse did not produce a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes so far are a valid prefix: wait for more.
    Incomplete,
    /// No continuation can be valid.
    Fault(Fault),
}

impl From<Fault> for Stop {
    fn from(f: Fault) -> Stop {
        Stop::Fault(f)
    }
}

pub(crate) type Parsed<T> = Result<T, Stop>;

/// The most digits a length or an integer may have. An `i64` has at most
/// 19; one more allows a leading zero, and the bound keeps a header line
/// (which is re-read while it is incomplete) short.
const MAX_DIGITS: usize = 20;

pub(crate) fn malformed(what: Malformed, offset: usize) -> Stop {
    Stop::Fault(Fault::malformed(what, offset))
}

/// Checks for CRLF at `pos`.
#[inline]
pub(crate) fn crlf(buf: &[u8], pos: usize) -> Parsed<usize> {
    match (buf.get(pos), buf.get(pos + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(pos + 2),
        (Some(b'\r'), None) | (None, _) => Err(Stop::Incomplete),
        _ => Err(malformed(Malformed::MissingCrlf, pos)),
    }
}

/// Reads an optionally signed decimal `i64` and its CRLF.
#[inline]
pub(crate) fn integer(buf: &[u8], pos: usize, what: Malformed) -> Parsed<(i64, usize)> {
    let mut i = pos;
    let negative = match buf.get(i) {
        None => return Err(Stop::Incomplete),
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        Some(_) => false,
    };
    let (magnitude, end) = digits(buf, i, what)?;
    let value = if negative {
        if magnitude > 1u64 << 63 {
            return Err(malformed(what, pos));
        }
        (magnitude as i64).wrapping_neg()
    } else {
        i64::try_from(magnitude).map_err(|_| malformed(what, pos))?
    };
    Ok((value, crlf(buf, end)?))
}

/// Reads one or more decimal digits up to the CR that follows them; the
/// CR itself is not consumed.
#[inline]
fn digits(buf: &[u8], start: usize, what: Malformed) -> Parsed<(u64, usize)> {
    // Nineteen digits cannot overflow a u64; only a twentieth is checked.
    let fast_end = buf.len().min(start + MAX_DIGITS - 1);
    let mut value: u64 = 0;
    let mut i = start;
    while i < fast_end {
        let d = buf[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value * 10 + u64::from(d);
        i += 1;
    }
    match buf.get(i) {
        None => Err(Stop::Incomplete),
        Some(b'\r') if i > start => Ok((value, i)),
        Some(&b) if b.is_ascii_digit() && i - start == MAX_DIGITS - 1 => {
            let value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| malformed(what, i))?;
            match buf.get(i + 1) {
                None => Err(Stop::Incomplete),
                Some(b'\r') => Ok((value, i + 1)),
                Some(_) => Err(malformed(what, i + 1)),
            }
        }
        Some(_) => Err(malformed(what, i)),
    }
}

/// Reads the length of a bulk string or the count of an aggregate and its
/// CRLF: `None` for RESP2's `-1` where `nullable`, checked against `max`.
#[inline]
pub(crate) fn length(
    buf: &[u8],
    pos: usize,
    nullable: bool,
    limit: Limit,
    max: u64,
) -> Parsed<(Option<u64>, usize)> {
    match buf.get(pos) {
        None => Err(Stop::Incomplete),
        Some(b'-') => {
            match buf.get(pos + 1) {
                None => return Err(Stop::Incomplete),
                Some(b'1') if nullable => {}
                Some(_) => return Err(malformed(Malformed::NegativeLength, pos)),
            }
            match buf.get(pos + 2) {
                None => Err(Stop::Incomplete),
                Some(b'\r') => Ok((None, crlf(buf, pos + 2)?)),
                Some(_) => Err(malformed(Malformed::NegativeLength, pos)),
            }
        }
        Some(b'?') => Err(malformed(Malformed::Streamed, pos)),
        Some(_) => {
            let (n, end) = digits(buf, pos, Malformed::Length)?;
            let next = crlf(buf, end)?;
            if n > max {
                return Err(Stop::Fault(Fault::limit(limit, n, max)));
            }
            Ok((Some(n), next))
        }
    }
}

/// Where a simple line that starts at `start` ends: `Ok(cr)` with the
/// index of its CR, or `Err(resume)` with where to resume searching once
/// more bytes arrive. `from` is where this search starts (a previous
/// `resume`, or `start`), so a long line arriving in pieces is searched
/// once. A line longer than `max` faults as soon as that is certain.
#[inline]
pub(crate) fn line_end(
    buf: &[u8],
    start: usize,
    from: usize,
    max: usize,
) -> Result<Result<usize, usize>, Fault> {
    let hay = buf.get(from..).unwrap_or(&[]);
    match memchr::memchr2(b'\r', b'\n', hay) {
        Some(off) => {
            let at = from + off;
            if buf[at] == b'\n' {
                return Err(Fault::malformed(Malformed::LineBreak, at));
            }
            if at - start > max {
                return Err(Fault::limit(
                    Limit::LineLen,
                    (at - start) as u64,
                    max as u64,
                ));
            }
            match buf.get(at + 1) {
                None => Ok(Err(at)),
                Some(b'\n') => Ok(Ok(at)),
                Some(_) => Err(Fault::malformed(Malformed::LineBreak, at)),
            }
        }
        None => {
            let seen = buf.len().saturating_sub(start);
            if seen > max {
                return Err(Fault::limit(Limit::LineLen, seen as u64, max as u64));
            }
            Ok(Err(buf.len()))
        }
    }
}

/// Validates the text of a RESP3 double: a decimal number with optional
/// sign, fraction and exponent, or `inf` / `nan` with an optional sign.
pub(crate) fn check_double(text: &[u8], offset: usize) -> Result<(), Fault> {
    let bad = || Fault::malformed(Malformed::Double, offset);
    let unsigned = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"nan") {
        return Ok(());
    }
    let mut i = 0;
    let int_digits = count_digits(&unsigned[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if unsigned.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&unsigned[i..]);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return Err(bad());
    }
    if matches!(unsigned.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(unsigned.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(&unsigned[i..]);
        if exp_digits == 0 {
            return Err(bad());
        }
        i += exp_digits;
    }
    if i == unsigned.len() {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Validates the text of a RESP3 big number: an optional sign and digits.
pub(crate) fn check_big_number(text: &[u8], offset: usize) -> Result<(), Fault> {
    let unsigned = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    if !unsigned.is_empty() && unsigned.iter().all(u8::is_ascii_digit) {
        Ok(())
    } else {
        Err(Fault::malformed(Malformed::BigNumber, offset))
    }
}

fn count_digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Reads `#t` / `#f`'s letter and CRLF at `pos`.
#[inline]
pub(crate) fn boolean(buf: &[u8], pos: usize) -> Parsed<(bool, usize)> {
    let value = match buf.get(pos) {
        None => return Err(Stop::Incomplete),
        Some(b't') => true,
        Some(b'f') => false,
        Some(_) => return Err(malformed(Malformed::Boolean, pos)),
    };
    Ok((value, crlf(buf, pos + 1)?))
}

/// Checks a verbatim string's `xxx:` prefix.
#[inline]
pub(crate) fn verbatim_format(payload: &[u8], offset: usize) -> Result<[u8; 3], Fault> {
    match payload {
        [a, b, c, b':', ..] => Ok([*a, *b, *c]),
        _ => Err(Fault::malformed(Malformed::Verbatim, offset)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(integer(b"123\r\n", 0, Malformed::Integer), Ok((123, 5)));
        assert_eq!(
            integer(b"-9223372036854775808\r\n", 0, Malformed::Integer).map(|v| v.0),
            Ok(i64::MIN)
        );
        assert_eq!(
            integer(b"+7\r\n", 0, Malformed::Integer).map(|v| v.0),
            Ok(7)
        );
        assert!(matches!(
            integer(b"9223372036854775808\r\n", 0, Malformed::Integer),
            Err(Stop::Fault(_))
        ));
        assert_eq!(integer(b"12", 0, Malformed::Integer), Err(Stop::Incomplete));
        assert_eq!(
            integer(b"12\r", 0, Malformed::Integer),
            Err(Stop::Incomplete)
        );
        assert_eq!(integer(b"-", 0, Malformed::Integer), Err(Stop::Incomplete));
        assert!(matches!(
            integer(b"\r\n", 0, Malformed::Integer),
            Err(Stop::Fault(_))
        ));
        assert!(matches!(
            integer(b"1x\r\n", 0, Malformed::Integer),
            Err(Stop::Fault(_))
        ));
        assert!(matches!(
            integer(b"1\rx", 0, Malformed::Integer),
            Err(Stop::Fault(_))
        ));
        assert!(matches!(
            integer(b"000000000000000000001\r\n", 0, Malformed::Integer),
            Err(Stop::Fault(_))
        ));
    }

    #[test]
    fn lengths() {
        let len = |b: &[u8]| length(b, 0, true, Limit::BulkLen, 100);
        assert_eq!(len(b"5\r\n"), Ok((Some(5), 3)));
        assert_eq!(len(b"-1\r\n"), Ok((None, 4)));
        assert_eq!(len(b"-"), Err(Stop::Incomplete));
        assert_eq!(len(b"-1"), Err(Stop::Incomplete));
        assert!(matches!(len(b"-2\r\n"), Err(Stop::Fault(_))));
        assert!(matches!(len(b"-12\r\n"), Err(Stop::Fault(_))));
        assert!(matches!(
            len(b"101\r\n"),
            Err(Stop::Fault(Fault::Limit { .. }))
        ));
        assert!(matches!(len(b"?\r\n"), Err(Stop::Fault(_))));
        assert!(matches!(
            length(b"-1\r\n", 0, false, Limit::BulkLen, 9),
            Err(Stop::Fault(_))
        ));
    }

    #[test]
    fn doubles() {
        for ok in [
            "1", "-1.5", "3.141", "1e+20", "1E5", ".5", "1.", "inf", "-inf", "nan", "+inf", "-nan",
        ] {
            assert!(check_double(ok.as_bytes(), 0).is_ok(), "{ok}");
        }
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "1.2.3", "infinity", "1 ", "0x10",
        ] {
            assert!(check_double(bad.as_bytes(), 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines() {
        assert_eq!(line_end(b"+OK\r\n", 0, 1, 100), Ok(Ok(3)));
        assert_eq!(line_end(b"+OK\r", 0, 1, 100), Ok(Err(3)));
        assert_eq!(line_end(b"+OK", 0, 1, 100), Ok(Err(3)));
        assert!(line_end(b"+O\nK\r\n", 0, 1, 100).is_err());
        assert!(line_end(b"+O\rK\r\n", 0, 1, 100).is_err());
        assert!(line_end(b"+OKOK", 0, 1, 2).is_err());
    }
}
