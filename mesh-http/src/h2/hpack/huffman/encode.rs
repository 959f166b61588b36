//! Huffman encoding (RFC 7541 §5.2).

use bytes::{BufMut, BytesMut};

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
    dst.reserve(encoded_len(src));
    // Up to 31 pending bits plus a 30-bit code fit in 64.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let sym = usize::from(b);
        acc = acc << LENGTHS[sym] | u64::from(CODES[sym]);
        bits += u32::from(LENGTHS[sym]);
        if bits >= 32 {
            bits -= 32;
            dst.put_u32((acc >> bits) as u32);
        }
    }
    while bits >= 8 {
        bits -= 8;
        dst.put_u8((acc >> bits) as u8);
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.put_u8(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
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
            let mut out = BytesMut::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(&out[..], code, "{text}");
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
