//! Huffman encoding (RFC 7541 §5.2).

use bytes::BytesMut;

use super::code::{LENGTHS, PACKED};

/// The encoded length in bytes of `src` (padding included).
#[inline]
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman code of `src` to `dst`, padded with the most
/// significant bits of EOS (ones) to a byte boundary.
pub fn encode(src: &[u8], dst: &mut BytesMut) {
    encode_sized(src, encoded_len(src), dst);
}

/// Writes the `bits` pending bits of `acc` left-aligned at `pos` and moves
/// past the completed bytes.
#[inline(always)]
fn put(out: &mut [u8], pos: &mut usize, bits: &mut u32, acc: u64) {
    if let Some(o) = out.get_mut(*pos..*pos + 8) {
        // With no bits pending the shift wraps to 0 and writes garbage
        // where the next write (or nothing of the code) goes.
        o.copy_from_slice(&acc.wrapping_shl(64 - *bits).to_be_bytes());
    }
    *pos += (*bits / 8) as usize;
    *bits %= 8;
}

/// [`encode`] when the caller already knows `len`, the
/// [`encoded_len`] of `src`.
///
/// Branch-free per step: after each code, the pending bits are written
/// left-aligned as a whole big-endian `u64` and the write position moves
/// by the completed bytes, so the loop never tests whether a byte is full
/// (a test that would mispredict every few symbols). The 8 bytes of slack
/// this needs are cut off at the end.
pub(crate) fn encode_sized(src: &[u8], len: usize, dst: &mut BytesMut) {
    // Short strings (most header values) are coded into a stack buffer of
    // fixed size and copied once; longer ones in place.
    if len <= SHORT {
        let mut buf = [0u8; SHORT + 8];
        encode_into(src, &mut buf);
        dst.extend_from_slice(&buf[..len]);
        return;
    }
    let start = dst.len();
    dst.resize(start + len + 8, 0);
    encode_into(src, &mut dst[start..]);
    dst.truncate(start + len);
}

/// Codes `src` into `out`, which has room for its code and 8 bytes more,
/// and returns the code's length.
#[inline(always)]
fn encode_into(src: &[u8], out: &mut [u8]) -> usize {
    // `acc` holds `bits` (< 8 between symbols) pending bits in its low
    // end; above them is garbage that `<< (64 - bits)` drops.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut pos = 0;
    // Four symbols at a time when their codes fit in 56 bits (so that with
    // up to 7 pending bits they fit in 64): true for text, whose codes are
    // 5 to 8 bits. Combining them does not depend on `acc`, so only one
    // shift per four symbols is on the loop-carried path. Each symbol is
    // one load of its packed entry (code and length), which also keeps
    // the loop's values in registers (two tables made it spill).
    let mut quads = src.chunks_exact(4);
    for q in &mut quads {
        let e = [q[0], q[1], q[2], q[3]].map(|b| PACKED[usize::from(b)]);
        // The lengths (at most 4 * 30) sum in the low byte.
        let total = u32::from(e.iter().fold(0u64, |a, &e| a.wrapping_add(e)) as u8);
        if total <= 56 {
            // Shifting by an entry shifts by its length; the length bits
            // are cleared before each shift so they do not reach the
            // codes. The codes stay 8 bits up, so they total at most 56.
            const HIGH: u64 = !0xff;
            let x = (e[0] & HIGH).wrapping_shl(e[1] as u32) | e[1];
            let x = (x & HIGH).wrapping_shl(e[2] as u32) | e[2];
            let x = (x & HIGH).wrapping_shl(e[3] as u32) | e[3];
            acc = acc << total | x >> 8;
            bits += total;
            put(out, &mut pos, &mut bits, acc);
        } else {
            for e in e {
                acc = acc.wrapping_shl(e as u32) | e >> 8;
                bits += e as u32 & 0xff;
                put(out, &mut pos, &mut bits, acc);
            }
        }
    }
    // The last 0 to 3 symbols only join `acc`: for text they add at most
    // 24 bits to the 7 pending, so the write waits for the padding, one
    // write for all of them. Longer codes are written out when 32 bits
    // are pending, so that `acc` never overflows.
    for &b in quads.remainder() {
        let e = PACKED[usize::from(b)];
        acc = acc.wrapping_shl(e as u32) | e >> 8;
        bits += e as u32 & 0xff;
        if bits >= 32 {
            put(out, &mut pos, &mut bits, acc);
        }
    }
    // Pad with the leading ones of EOS to a byte boundary (0 to 7 bits, at
    // most 38 pending then) and write the lot.
    let pad = bits.wrapping_neg() % 8;
    acc = acc << pad | ((1 << pad) - 1);
    bits += pad;
    let len = pos + (bits / 8) as usize;
    put(out, &mut pos, &mut bits, acc);
    len
}

/// The longest string [`encode_short`] takes.
pub(crate) const SHORT: usize = 128;

/// The buffer [`encode_short`] codes into: room for the longest code of a
/// [`SHORT`] string (30 bits per byte) and the 8 bytes of slack.
pub(crate) type ShortBuf = [u8; SHORT * 30 / 8 + 8];

/// Codes a string of at most [`SHORT`] bytes into `buf` in one pass and
/// returns the code's length (the caller keeps it only if it is shorter
/// than the string), saving the separate [`encoded_len`] pass.
pub(crate) fn encode_short(src: &[u8], buf: &mut ShortBuf) -> usize {
    debug_assert!(src.len() <= SHORT);
    encode_into(src, buf)
}

#[cfg(test)]
mod tests {
    use super::super::code::CODES;
    use super::*;
    use crate::h2::hpack::huffman::decode_to_vec;

    #[test]
    fn rfc7541_c4_strings() {
        let cases: [(&str, &[u8]); 4] = [
            (
                "www.example.com",
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
            ),
            ("no-cache", &[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
            (
                "custom-key",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
            ),
            (
                "custom-value",
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
            ),
        ];
        for (text, code) in cases {
            let mut out = BytesMut::from(&b"prefix"[..]);
            encode(text.as_bytes(), &mut out);
            assert_eq!(&out[6..], code, "{text}");
            assert_eq!(encoded_len(text.as_bytes()), code.len());
            assert_eq!(decode_to_vec(code).unwrap(), text.as_bytes());
        }
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for b in &all {
            let mut out = BytesMut::new();
            encode(std::slice::from_ref(b), &mut out);
            assert_eq!(decode_to_vec(&out).unwrap(), [*b]);
        }
        let mut out = BytesMut::new();
        encode(&all, &mut out);
        assert_eq!(decode_to_vec(&out).unwrap(), all);
    }

    /// The code of `src` one bit at a time, straight from the tables.
    fn reference(src: &[u8]) -> Vec<u8> {
        let mut bits: Vec<bool> = vec![];
        for &b in src {
            let (c, n) = (CODES[usize::from(b)], LENGTHS[usize::from(b)]);
            bits.extend((0..n).rev().map(|i| c >> i & 1 == 1));
        }
        while bits.len() % 8 != 0 {
            bits.push(true);
        }
        bits.chunks(8)
            .map(|byte| byte.iter().fold(0u8, |a, &b| a << 1 | u8::from(b)))
            .collect()
    }

    #[test]
    fn matches_bitwise_reference_at_every_length_and_mix() {
        // Text (5 to 8 bits), mid-length and the longest codes, mixed so
        // that every remainder length meets short and long codes and the
        // four-symbol steps take both their paths.
        let alphabets: [&[u8]; 4] = [
            b"e0a/-_.Zz",
            b"\\\x16\xff~<",
            &[0, 10, 13, 22, 255],
            b"a\nb\x0ac",
        ];
        let mut buf: ShortBuf = [0; _];
        for (k, alpha) in alphabets.iter().enumerate() {
            for len in 0..=40 {
                let src: Vec<u8> = (0..len).map(|i| alpha[(i * 7 + k) % alpha.len()]).collect();
                let want = reference(&src);
                let mut out = BytesMut::from(&b"xy"[..]);
                encode(&src, &mut out);
                assert_eq!(&out[2..], want, "{src:?}");
                assert_eq!(encoded_len(&src), want.len());
                let n = encode_short(&src, &mut buf);
                assert_eq!(&buf[..n], want, "{src:?}");
            }
        }
    }

    #[test]
    fn invalid_strings() {
        use super::super::HuffmanError;
        // EOS in the string (30 ones, then padding).
        assert_eq!(
            decode_to_vec(&[0xff, 0xff, 0xff, 0xff]),
            Err(HuffmanError::Eos)
        );
        // 8 bits of padding.
        assert_eq!(decode_to_vec(&[0xff]), Err(HuffmanError::Padding));
        // 'a' (00011) then padding 000 that is not a prefix of EOS.
        assert_eq!(decode_to_vec(&[0x18]), Err(HuffmanError::Padding));
        // 'a' then 111: fine.
        assert_eq!(decode_to_vec(&[0x1f]).unwrap(), b"a");
        assert_eq!(decode_to_vec(&[]).unwrap(), b"");
    }
}
