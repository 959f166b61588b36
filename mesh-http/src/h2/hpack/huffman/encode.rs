//! Huffman encoding (RFC 7541 §5.2).

use bytes::BytesMut;

use super::code::{CODES, LENGTHS};

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
        o.copy_from_slice(&(acc << (64 - *bits)).to_be_bytes());
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
    // Four symbols at a time when their codes fit in 57 bits (so that with
    // up to 7 pending bits they fit in 64): true for text, whose codes are
    // 5 to 8 bits. Combining them does not depend on `acc`, so only one
    // shift per four symbols is on the loop-carried path.
    let mut quads = src.chunks_exact(4);
    for q in &mut quads {
        let c = [q[0], q[1], q[2], q[3]].map(|b| u64::from(CODES[usize::from(b)]));
        let n = [q[0], q[1], q[2], q[3]].map(|b| u32::from(LENGTHS[usize::from(b)]));
        let total = n[0] + n[1] + n[2] + n[3];
        if total <= 57 {
            let code = ((c[0] << n[1] | c[1]) << n[2] | c[2]) << n[3] | c[3];
            acc = acc << total | code;
            bits += total;
            put(out, &mut pos, &mut bits, acc);
        } else {
            for (c, n) in c.iter().zip(n) {
                acc = acc << n | c;
                bits += n;
                put(out, &mut pos, &mut bits, acc);
            }
        }
    }
    for &b in quads.remainder() {
        let n = u32::from(LENGTHS[usize::from(b)]);
        acc = acc << n | u64::from(CODES[usize::from(b)]);
        bits += n;
        put(out, &mut pos, &mut bits, acc);
    }
    if bits > 0 {
        let pad = 8 - bits;
        if let Some(o) = out.get_mut(pos) {
            *o = ((acc << pad) as u8) | ((1u8 << pad) - 1);
        }
        pos += 1;
    }
    pos
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
