//! Byte strings read as words, for the encoder's hot path.
//!
//! A field's name and value are each read once into [`Words`]: the length
//! and two words, which for a string of up to 16 bytes are overlapping
//! reads that cover every byte, and for a longer one a digest of all its
//! bytes and its last 8. The static table lookup, the dynamic table's hash
//! and its comparisons all work on these, so a field's length class is
//! decided once (one hard-to-predict branch per string instead of one per
//! comparison and hash), and the strings of up to 16 bytes that most names
//! and values are compare as three integers, with no call into `memcmp`.

/// The little-endian word of the 8 bytes at `at`, or 0 past the end.
#[inline(always)]
const fn read8(b: &[u8], at: usize) -> u64 {
    match b.split_at_checked(at) {
        Some((_, rest)) => match rest.first_chunk::<8>() {
            Some(w) => u64::from_le_bytes(*w),
            None => 0,
        },
        None => 0,
    }
}

/// The little-endian word of the 4 bytes at `at`, or 0 past the end.
#[inline(always)]
const fn read4(b: &[u8], at: usize) -> u64 {
    match b.split_at_checked(at) {
        Some((_, rest)) => match rest.first_chunk::<4>() {
            Some(w) => u32::from_le_bytes(*w) as u64,
            None => 0,
        },
        None => 0,
    }
}

/// The longest string that its [`Words`] determine exactly.
pub(super) const EXACT: usize = 16;

/// A string's length and two words read from it: below 4 bytes the first,
/// middle and last byte; the first and last 4 bytes from 4 bytes on; the
/// first and last 8 from 8 on; above [`EXACT`] bytes a digest of the whole
/// string and its last 8 bytes. Up to [`EXACT`] bytes the words cover the
/// whole string, so equal `Words` mean equal strings; above it, unequal
/// `Words` still mean unequal strings.
#[derive(Clone, Copy, Eq, Debug, Default)]
pub(super) struct Words {
    pub(super) len: usize,
    pub(super) a: u64,
    pub(super) b: u64,
}

impl Words {
    /// Reads `s` (at run time, and at compile time for the static table).
    #[inline(always)]
    pub(super) const fn of(s: &[u8]) -> Words {
        let len = s.len();
        let (a, b) = if len > EXACT {
            let mut h = SEED;
            // Every 16 bytes but the last 16 (read below), by chunks: no
            // bounds check per read.
            let mut rest = s;
            while let Some((c, r)) = rest.split_first_chunk::<16>() {
                if r.is_empty() {
                    break;
                }
                let w = u128::from_le_bytes(*c);
                h = fold_mul(w as u64 ^ h ^ K1, (w >> 64) as u64 ^ K2);
                rest = r;
            }
            let b = read8(s, len - 8);
            (fold_mul(read8(s, len - 16) ^ h ^ K1, b ^ K2), b)
        } else if len >= 8 {
            (read8(s, 0), read8(s, len - 8))
        } else if len >= 4 {
            (read4(s, 0), read4(s, len - 4))
        } else if len > 0 {
            (small(s[0], s[len / 2], s[len - 1]), 0)
        } else {
            (0, 0)
        };
        Words { len, a, b }
    }

    /// A fast, non-cryptographic hash of the string, seeded (the dynamic
    /// table hashes a value with its name's hash as the seed): one 128-bit
    /// product of the two words, its halves xored, whatever the length,
    /// since for long strings the first word is already a digest of every
    /// byte. No second fold: the table takes the top bits, which the
    /// product mixes well, and a field's hash follows from its name's, so
    /// each fold would sit on the path to the table probe.
    #[inline(always)]
    pub(super) fn hash(&self, seed: u64) -> u64 {
        let h = seed ^ (self.len as u64).wrapping_mul(K1);
        fold_mul(self.a ^ h ^ K1, self.b ^ K2)
    }

    /// Whether strings `x` (read as `self`) and `y` (read as `w`) are equal:
    /// three integer comparisons, and for longer strings a comparison of
    /// the bytes once the words agree.
    #[inline(always)]
    pub(super) fn same(&self, x: &[u8], w: &Words, y: &[u8]) -> bool {
        *self == *w && (self.len <= EXACT || x == y)
    }
}

impl PartialEq for Words {
    /// All three parts at once, without a branch per part: the outcome of
    /// comparing lengths alone is what a branch predictor cannot learn.
    #[inline(always)]
    fn eq(&self, w: &Words) -> bool {
        (self.len ^ w.len) as u64 | (self.a ^ w.a) | (self.b ^ w.b) == 0
    }
}

/// The seed of a name's hash.
pub(super) const SEED: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

/// The 128-bit product of `a` and `b`, its halves xored.
#[inline(always)]
const fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ (p >> 64) as u64
}

const fn small(first: u8, middle: u8, last: u8) -> u64 {
    (first as u64) << 16 | (middle as u64) << 8 | last as u64
}

#[cfg(test)]
mod tests {
    use super::Words;

    fn same(a: &[u8], b: &[u8]) -> bool {
        Words::of(a).same(a, &Words::of(b), b)
    }

    #[test]
    fn agrees_with_slice_equality() {
        let pool: Vec<u8> = (0u8..40).collect();
        for la in 0..pool.len() {
            let a = &pool[..la];
            for lb in 0..pool.len() {
                let b = &pool[..lb];
                assert_eq!(same(a, b), a == b);
                // A difference at each position is seen.
                for i in 0..la {
                    let mut c = a.to_vec();
                    c[i] ^= 0x20;
                    assert!(!same(a, &c), "len {la} diff at {i}");
                }
            }
        }
    }
}
