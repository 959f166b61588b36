//! [`RespSniffer`]: recognises a Redis client by its first request.
//!
//! Every Redis client sends commands as RESP arrays of bulk strings, so a
//! connection is Redis once its first bytes are `*<n>\r\n$<len>\r\n` with
//! `n >= 1`. Until those bytes are there the answer is `NeedMore`; the
//! first byte that cannot continue the pattern makes it `NoMatch`, so the
//! answer is monotone as [`mesh_core::Sniff`] requires.
//!
//! Inline commands (`PING\r\n`) are never sniffed: they look like the
//! request line of HTTP, which comes first in the detection order. A port
//! named `redis` skips detection and its decoder accepts them
//! ([`DecoderConfig::requests`](super::DecoderConfig::requests)).

use mesh_core::{Detection, Protocol, Sniff};

/// The most digits of a count or length the sniffer accepts: ten digits
/// cover every length Redis accepts (up to 512 MiB, `INT_MAX` elements).
const MAX_DIGITS: usize = 10;

/// The RESP sniffer; see the [module docs](self).
///
/// ```
/// use mesh_codecs::redis::RespSniffer;
/// use mesh_core::{Detection, Protocol, Sniff};
///
/// assert_eq!(RespSniffer.sniff(b"*2\r\n$3\r\nGET"), Detection::Match(Protocol::Redis));
/// assert_eq!(RespSniffer.sniff(b"*2\r\n"), Detection::NeedMore);
/// assert_eq!(RespSniffer.sniff(b"PING\r\n"), Detection::NoMatch);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RespSniffer;

impl Sniff for RespSniffer {
    fn protocol(&self) -> Protocol {
        Protocol::Redis
    }

    fn sniff(&self, prefix: &[u8]) -> Detection {
        let mut rest = prefix;
        for (marker, min_first) in [(b'*', b'1'), (b'$', b'0')] {
            match rest.split_first() {
                None => return Detection::NeedMore,
                Some((&b, tail)) if b == marker => rest = tail,
                Some(_) => return Detection::NoMatch,
            }
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > MAX_DIGITS {
                return Detection::NoMatch;
            }
            match rest.first() {
                None => return Detection::NeedMore,
                Some(&first) if digits > 0 && first < min_first => return Detection::NoMatch,
                Some(_) => {}
            }
            if digits == rest.len() {
                return Detection::NeedMore;
            }
            if digits == 0 {
                return Detection::NoMatch;
            }
            rest = &rest[digits..];
            match rest {
                [] | [b'\r'] => return Detection::NeedMore,
                [b'\r', b'\n', tail @ ..] => rest = tail,
                _ => return Detection::NoMatch,
            }
        }
        Detection::Match(Protocol::Redis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_only_when_sure() {
        let request = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let decided_at = b"*3\r\n$3\r\n".len();
        for n in 0..=request.len() {
            let expected = if n < decided_at {
                Detection::NeedMore
            } else {
                Detection::Match(Protocol::Redis)
            };
            assert_eq!(RespSniffer.sniff(&request[..n]), expected, "prefix {n}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_command() {
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PING\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"*01\r\n",
            b"*1\n",
            b"*1\r\n+OK\r\n",
            b"*1\r\n$x",
            b"*12345678901\r\n",
            b"+OK\r\n",
            b"\x16\x03\x01",
        ] {
            assert_eq!(RespSniffer.sniff(bad), Detection::NoMatch, "{bad:?}");
        }
    }
}
