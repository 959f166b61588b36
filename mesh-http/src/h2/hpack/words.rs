//! Byte strings read as words, for the encoder's hot path: the loads its
//! table hash is built from, and equality of short strings without a call
//! into `memcmp` (header names and values are mostly shorter than 32
//! bytes, where the call costs more than the comparison). Strings up to 16
//! bytes are compared as two overlapping words, longer ones by the standard
//! library.

/// The little-endian word of the 8 bytes at `at`, or 0 past the end.
#[inline(always)]
pub(super) fn read8(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The little-endian word of the 4 bytes at `at`, or 0 past the end.
#[inline(always)]
pub(super) fn read4(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
}

/// `a == b`, inlined for strings of up to 16 bytes.
#[inline(always)]
pub(super) fn eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        if n <= 16 {
            return read8(a, 0) == read8(b, 0) && read8(a, n - 8) == read8(b, n - 8);
        }
        return a == b;
    }
    if n >= 4 {
        return read4(a, 0) == read4(b, 0) && read4(a, n - 4) == read4(b, n - 4);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::eq;

    #[test]
    fn agrees_with_slice_equality() {
        let pool: Vec<u8> = (0u8..40).collect();
        for la in 0..pool.len() {
            for lb in 0..pool.len() {
                let a = &pool[..la];
                let b = &pool[..lb];
                assert_eq!(eq(a, b), a == b);
                // A difference at each position is seen.
                for i in 0..la {
                    let mut c = a.to_vec();
                    c[i] ^= 0x20;
                    assert!(!eq(a, &c), "len {la} diff at {i}");
                }
            }
        }
    }
}
