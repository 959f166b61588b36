//! HPACK integers (RFC 7541 §5.1): an N-bit prefix, then 7 bits per byte.

use bytes::{BufMut, BytesMut};

use super::HpackErrorKind;

/// Decodes an integer with an `N`-bit prefix starting at `buf[*pos]`
/// (which the caller checked exists), and moves `pos` past it. Values
/// above `u32::MAX` are an error, so at most 5 continuation bytes are read.
#[inline]
pub(super) fn decode<const N: u8>(buf: &[u8], pos: &mut usize) -> Result<u32, HpackErrorKind> {
    let mask = (1u8 << N) - 1;
    let first = buf[*pos] & mask;
    *pos += 1;
    if first < mask {
        return Ok(u32::from(first));
    }
    decode_tail(buf, pos, u64::from(mask))
}

#[cold]
fn decode_tail(buf: &[u8], pos: &mut usize, mut value: u64) -> Result<u32, HpackErrorKind> {
    let mut shift = 0;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(HpackErrorKind::Truncated { what: "an integer" });
        };
        *pos += 1;
        value += u64::from(b & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(HpackErrorKind::IntegerOverflow);
        }
        if b & 0x80 == 0 {
            return Ok(value as u32);
        }
        shift += 7;
        if shift > 28 {
            // Only zero-valued continuation bytes could get here.
            return Err(HpackErrorKind::IntegerOverflow);
        }
    }
}

/// Appends `value` with an `n`-bit prefix; `high` holds the bits of the
/// first byte above the prefix (the representation's pattern).
#[inline]
pub(super) fn encode(dst: &mut BytesMut, high: u8, n: u8, value: usize) {
    let mask = (1usize << n) - 1;
    if value < mask {
        dst.put_u8(high | value as u8);
        return;
    }
    dst.put_u8(high | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        dst.put_u8(rest as u8 | 0x80);
        rest >>= 7;
    }
    dst.put_u8(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7541_c1_examples() {
        // C.1.1: 10 with a 5-bit prefix.
        let mut b = BytesMut::new();
        encode(&mut b, 0, 5, 10);
        assert_eq!(&b[..], [0x0a]);
        // C.1.2: 1337 with a 5-bit prefix.
        b.clear();
        encode(&mut b, 0, 5, 1337);
        assert_eq!(&b[..], [0x1f, 0x9a, 0x0a]);
        let mut pos = 0;
        assert_eq!(decode::<5>(&b, &mut pos), Ok(1337));
        assert_eq!(pos, 3);
        // C.1.3: 42 at an octet boundary.
        b.clear();
        encode(&mut b, 0, 8, 42);
        assert_eq!(&b[..], [0x2a]);
    }

    #[test]
    fn limits() {
        let mut b = BytesMut::new();
        encode(&mut b, 0xe0, 5, u32::MAX as usize);
        let mut pos = 0;
        assert_eq!(decode::<5>(&b, &mut pos), Ok(u32::MAX));
        let mut pos = 0;
        assert_eq!(
            decode::<5>(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], &mut pos),
            Err(HpackErrorKind::IntegerOverflow)
        );
        let mut pos = 0;
        let zeros = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(
            decode::<5>(&zeros, &mut pos),
            Err(HpackErrorKind::IntegerOverflow)
        );
        let mut pos = 0;
        assert_eq!(
            decode::<5>(&[0x1f, 0x9a], &mut pos),
            Err(HpackErrorKind::Truncated { what: "an integer" })
        );
        for v in [0usize, 30, 31, 127, 128, 255, 16_383, 16_384, 1 << 28] {
            for n in 1..=7u8 {
                let mut b = BytesMut::new();
                encode(&mut b, 0, n, v);
                let mut pos = 0;
                let got = match n {
                    1 => decode::<1>(&b, &mut pos),
                    2 => decode::<2>(&b, &mut pos),
                    3 => decode::<3>(&b, &mut pos),
                    4 => decode::<4>(&b, &mut pos),
                    5 => decode::<5>(&b, &mut pos),
                    6 => decode::<6>(&b, &mut pos),
                    _ => decode::<7>(&b, &mut pos),
                };
                assert_eq!(got, Ok(v as u32), "{v} with {n} bits");
                assert_eq!(pos, b.len());
            }
        }
    }
}
