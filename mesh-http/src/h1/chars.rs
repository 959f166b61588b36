//! Byte classes of the RFC 9110/9112 grammar and the scanners that find the
//! end of a run of allowed bytes.
//!
//! The scanners are the hot loops of the head parser, in safe Rust (the
//! crate forbids `unsafe`, so no intrinsics; each shape below was chosen by
//! measuring it against the others on the `http1` benchmark inputs):
//!
//! - field values: 16 bytes per step as two 64-bit words in
//!   general-purpose registers (SWAR bit tricks), since values are short
//!   and moving a vector compare's result to a register costs more;
//! - request-targets: 16 lanes compared at once, which the compiler turns
//!   into SSE2 instructions (targets are long);
//! - methods and field names: a 256-entry table, four bytes per step (a
//!   vector fast path for letters and digits measured slower).
//!
//! The set of allowed bytes is exactly the grammar's: the class table is
//! the single source of truth, and the tests check every scanner against it
//! for all 256 byte values at every position of a block.

/// `tchar`: the bytes of a token (methods, field names, transfer codings).
const TCHAR: u8 = 1;
/// `field-vchar / SP / HTAB`: the bytes of a field value (VCHAR and
/// obs-text, with SP and HTAB inside a value).
const VALUE: u8 = 2;
/// The bytes of a request-target: visible US-ASCII (`%x21-7E`).
const TARGET: u8 = 4;

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        let tchar = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        if tchar {
            class |= TCHAR;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            class |= VALUE;
        }
        if c >= 0x21 && c <= 0x7e {
            class |= TARGET;
        }
        table[b] = class;
        b += 1;
    }
    table
}

/// The class bits of every byte value.
static CLASSES: [u8; 256] = classes();

/// Whether `b` is a `tchar`.
#[inline(always)]
pub(crate) fn is_tchar(b: u8) -> bool {
    CLASSES[usize::from(b)] & TCHAR != 0
}

/// Whether `b` may appear in a field value (HTAB, SP, VCHAR, obs-text).
#[inline(always)]
pub(crate) fn is_value_byte(b: u8) -> bool {
    CLASSES[usize::from(b)] & VALUE != 0
}

/// Whether `b` may appear in a request-target (visible US-ASCII).
#[inline(always)]
pub(crate) fn is_target_byte(b: u8) -> bool {
    CLASSES[usize::from(b)] & TARGET != 0
}

/// The value of every byte as a hexadecimal digit, 0xFF for non-digits.
static HEX_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0xff,
        };
        b += 1;
    }
    table
};

/// The value of a hexadecimal digit, or `None`.
#[inline(always)]
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    let v = HEX_VALUES[usize::from(b)];
    (v < 16).then_some(v)
}

/// Whether `b` may follow a backslash in a quoted-string (HTAB, SP,
/// VCHAR, obs-text): every field-value byte.
#[inline(always)]
pub(crate) fn is_quoted_pair_byte(b: u8) -> bool {
    is_value_byte(b)
}

/// `qdtext`: a field-value byte other than `"` and `\`.
#[inline(always)]
pub(crate) fn is_qdtext(b: u8) -> bool {
    is_value_byte(b) && b != b'"' && b != b'\\'
}

/// Whether `b` is optional whitespace (SP or HTAB).
#[inline(always)]
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The length of the run of `tchar`s at the start of `s`.
#[inline(always)]
pub(crate) fn token_run(s: &[u8]) -> usize {
    // Four table lookups per step; names are short, so a wider block does
    // not pay for its set-up.
    let mut i = 0;
    while let Some(&[a, b, c, d]) = s.get(i..).and_then(|r| r.first_chunk::<4>()) {
        if !is_tchar(a) {
            return i;
        }
        if !is_tchar(b) {
            return i + 1;
        }
        if !is_tchar(c) {
            return i + 2;
        }
        if !is_tchar(d) {
            return i + 3;
        }
        i += 4;
    }
    while let Some(&b) = s.get(i) {
        if !is_tchar(b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The width of one block of the vectorised scanners.
const BLOCK: usize = 16;

/// A mask with the lanes of `block` that are *not* request-target bytes
/// set to 0xFF (little-endian: lane 0 is the lowest byte). Comparisons and
/// bitwise logic only (no table, no short-circuit), so the loop becomes a
/// handful of vector instructions.
#[inline(always)]
fn target_misfits(block: &[u8; BLOCK]) -> u128 {
    let mut out = [0u8; BLOCK];
    for (o, &b) in out.iter_mut().zip(block) {
        let bad = (b <= 0x20) | (b >= 0x7f);
        *o = u8::from(bad).wrapping_neg();
    }
    u128::from_le_bytes(out)
}

/// Every byte of a word set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

const HIGH_BITS: u64 = splat(0x80);

/// The high bit of every byte of `x` that is below `n` (`n <= 0x80`); exact
/// for the lowest such byte (higher ones may be false positives).
#[inline(always)]
const fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(splat(n)) & !x & HIGH_BITS
}

/// The high bit of every byte of `x` equal to `b`; exact for the lowest.
#[inline(always)]
const fn bytes_equal(x: u64, b: u8) -> u64 {
    bytes_below(x ^ splat(b), 1)
}

/// The high bit of every byte of `x` that cannot be in a field value
/// (controls, HTAB included, and DEL); exact for the lowest.
#[inline(always)]
const fn value_misfit_word(x: u64) -> u64 {
    bytes_below(x, 0x20) | bytes_equal(x, 0x7f)
}

/// The length of the run of field-value bytes at the start of `s`.
///
/// Two words (16 bytes) per step in general-purpose registers: the
/// `u128`-of-lanes version of [`target_run`] measured slower here, as
/// values are short and it pays a round trip through memory to find the
/// lane; HTAB, flagged with the controls, is rare and skipped afterwards.
#[inline(always)]
pub(crate) fn value_run(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(block) = s.get(i..).and_then(|r| r.first_chunk::<16>()) {
        let (a, b) = block.split_at(8);
        let a = value_misfit_word(u64::from_le_bytes(a.try_into().unwrap_or([0; 8])));
        let b = value_misfit_word(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        if a | b == 0 {
            i += 16;
            continue;
        }
        let k = i + if a != 0 {
            (a.trailing_zeros() / 8) as usize
        } else {
            8 + (b.trailing_zeros() / 8) as usize
        };
        if s.get(k) != Some(&b'\t') {
            return k;
        }
        i = k + 1;
    }
    while let Some(&b) = s.get(i) {
        if !is_value_byte(b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The length of the run of request-target bytes at the start of `s`.
#[inline(always)]
pub(crate) fn target_run(s: &[u8]) -> usize {
    let mut rest = s;
    while let Some((block, tail)) = rest.split_first_chunk::<BLOCK>() {
        let mask = target_misfits(block);
        if mask != 0 {
            return s.len() - rest.len() + (mask.trailing_zeros() / 8) as usize;
        }
        rest = tail;
    }
    let done = s.len() - rest.len();
    done + rest
        .iter()
        .position(|&b| !is_target_byte(b))
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Puts `byte` at every lane of a run of allowed bytes and checks that
    /// the scanner stops there exactly when the class table says so.
    fn check(scan: fn(&[u8]) -> usize, allowed: fn(u8) -> bool, filler: u8) {
        for len in [1usize, 7, 15, 16, 17, 31, 33, 40] {
            for lane in 0..len {
                for byte in 0..=255u8 {
                    let mut s = vec![filler; len];
                    s[lane] = byte;
                    let expected = if allowed(byte) { len } else { lane };
                    assert_eq!(scan(&s), expected, "byte {byte:#04x} at {lane} of {len}");
                }
            }
        }
    }

    #[test]
    fn scanners_agree_with_the_tables() {
        check(value_run, is_value_byte, b'v');
        check(target_run, is_target_byte, b'/');
        check(token_run, is_tchar, b'a');
    }

    #[test]
    fn classes_follow_the_grammar() {
        let tchars: Vec<u8> = (0..=255u8).filter(|&b| is_tchar(b)).collect();
        assert_eq!(tchars.len(), 26 * 2 + 10 + 15);
        for b in b"()<>@,;:\\\"/[]?={} \t" {
            assert!(!is_tchar(*b), "{}", *b as char);
        }
        assert!(is_value_byte(b'\t') && is_value_byte(b' ') && is_value_byte(0x80));
        for b in [0u8, b'\r', b'\n', 0x7f, 0x1f] {
            assert!(!is_value_byte(b));
        }
        assert!(!is_target_byte(b' ') && !is_target_byte(0x80) && is_target_byte(b'~'));
        assert_eq!(hex_value(b'F'), Some(15));
        assert_eq!(hex_value(b'a'), Some(10));
        assert_eq!(hex_value(b'9'), Some(9));
        assert_eq!(hex_value(b'g'), None);
    }
}
