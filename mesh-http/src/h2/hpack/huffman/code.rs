//! The HPACK Huffman code (RFC 7541 Appendix B).
//!
//! The code is canonical: within one length, codes are consecutive in
//! symbol order, and each length's first code follows the last code of the
//! shorter lengths. So the code lengths alone define it, and the codes are
//! computed from them at compile time rather than written out.

/// The code length in bits of each symbol: the 256 octets, then EOS (256).
pub(super) const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

/// The end-of-string symbol: never valid inside a string.
pub(super) const EOS: usize = 256;

/// The longest code.
const MAX_LEN: u8 = 30;

/// The code of each symbol, right-aligned, derived canonically from
/// [`LENGTHS`].
pub(super) const CODES: [u32; 257] = canonical_codes();

/// Each octet's code shifted left by 8 with its length in the low byte,
/// for the encoder: one load per symbol, and the entry itself serves as a
/// shift amount (x86-64 masks shift counts to 6 bits, and the length is
/// at most 30).
pub(super) const PACKED: [u64; 256] = {
    let mut p = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        p[i] = (CODES[i] as u64) << 8 | LENGTHS[i] as u64;
        i += 1;
    }
    p
};

const fn canonical_codes() -> [u32; 257] {
    let mut codes = [0u32; 257];
    let mut code: u32 = 0;
    let mut len: u8 = 1;
    while len <= MAX_LEN {
        let mut sym = 0;
        while sym < 257 {
            if LENGTHS[sym] == len {
                codes[sym] = code;
                code += 1;
            }
            sym += 1;
        }
        code <<= 1;
        len += 1;
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_checks_against_appendix_b() {
        // ' ' (32): |010100, '0': |00000, 'a': |00011, 'z': |1111011,
        // 0: |11111111|11000, 255: |11111111|11111111|11111111|1110, EOS: all ones.
        assert_eq!((CODES[32], LENGTHS[32]), (0x14, 6));
        assert_eq!((CODES[b'0' as usize], LENGTHS[b'0' as usize]), (0x0, 5));
        assert_eq!((CODES[b'a' as usize], LENGTHS[b'a' as usize]), (0x3, 5));
        assert_eq!((CODES[b'z' as usize], LENGTHS[b'z' as usize]), (0x7b, 7));
        assert_eq!((CODES[0], LENGTHS[0]), (0x1ff8, 13));
        assert_eq!((CODES[255], LENGTHS[255]), (0x3ffffee, 26));
        assert_eq!((CODES[EOS], LENGTHS[EOS]), (0x3fff_ffff, 30));
    }

    #[test]
    fn packed_holds_code_and_length() {
        for b in 0..256 {
            assert_eq!(PACKED[b] >> 8, u64::from(CODES[b]));
            assert_eq!(PACKED[b] & 0xff, u64::from(LENGTHS[b]));
        }
    }

    #[test]
    fn kraft_equality() {
        // A complete prefix code: the sum of 2^-len is exactly 1.
        let sum: u64 = LENGTHS.iter().map(|&l| 1u64 << (30 - l)).sum();
        assert_eq!(sum, 1 << 30);
    }
}
