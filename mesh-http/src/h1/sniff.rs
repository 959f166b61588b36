//! The HTTP/1 sniffer: recognises a request line in as few bytes as
//! possible, and gives up at the first byte that cannot be one.
//!
//! It needs `METHOD SP request-target SP HTTP/1.` before it says yes, so a
//! Redis inline command (`GET key\r\n`) or a TLS ClientHello is never taken
//! for HTTP, and `PRI * HTTP/2.0` (the HTTP/2 preface) is turned down at
//! the `2`. It answers from the prefix alone and is monotone, as
//! [`mesh_core::Sniff`] requires. Rank it above the Redis sniffer and
//! below the HTTP/2 preface sniffer.

use mesh_core::{Detection, Protocol, Sniff};

use super::chars::{is_target_byte, is_tchar};

/// The longest method the sniffer accepts. Registered methods are at most
/// 17 bytes (`VERSION-CONTROL`); a longer run of token bytes is more likely
/// another protocol than HTTP.
pub const MAX_SNIFFED_METHOD: usize = 24;

/// The most empty lines (CRLF) accepted before the request line.
const MAX_LEADING_EMPTY_LINES: usize = 2;

const VERSION_PREFIX: &[u8] = b"HTTP/1.";

/// Recognises HTTP/1.x requests from the first bytes: it needs
/// `METHOD SP request-target SP HTTP/1.` before it says yes (so a Redis
/// inline command or a TLS ClientHello is never taken for HTTP, and the
/// HTTP/2 preface is turned down at the `2`), and gives up at the first
/// byte that cannot belong to a request line. Rank it above the Redis
/// sniffer and below the HTTP/2 preface sniffer.
///
/// ```
/// use mesh_core::{Detection, Protocol, Sniff};
/// use mesh_http::h1::Http1Sniffer;
///
/// let s = Http1Sniffer;
/// assert_eq!(s.sniff(b"GET /x HTTP/1."), Detection::Match(Protocol::Http1));
/// assert_eq!(s.sniff(b"GET /x HTTP/"), Detection::NeedMore);
/// assert_eq!(s.sniff(b"GET key\r\n"), Detection::NoMatch);
/// assert_eq!(s.sniff(b"PRI * HTTP/2.0\r\n"), Detection::NoMatch);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1Sniffer;

impl Sniff for Http1Sniffer {
    fn protocol(&self) -> Protocol {
        Protocol::Http1
    }

    fn name(&self) -> &'static str {
        "http1"
    }

    fn sniff(&self, prefix: &[u8]) -> Detection {
        sniff_request_line(prefix)
    }
}

/// The sniffer's decision for `prefix`.
pub fn sniff_request_line(prefix: &[u8]) -> Detection {
    let mut rest = prefix;
    // Empty lines a client may send first (RFC 9112 §2.2).
    for _ in 0..MAX_LEADING_EMPTY_LINES {
        match rest {
            [b'\r', b'\n', tail @ ..] => rest = tail,
            [b'\r'] => return Detection::NeedMore,
            _ => break,
        }
    }
    // METHOD SP
    let method = rest.iter().take_while(|&&b| is_tchar(b)).count();
    if method > MAX_SNIFFED_METHOD {
        return Detection::NoMatch;
    }
    match rest.get(method) {
        None => return Detection::NeedMore,
        Some(b' ') if method > 0 => rest = &rest[method + 1..],
        Some(_) => return Detection::NoMatch,
    }
    // request-target SP
    let target = rest.iter().take_while(|&&b| is_target_byte(b)).count();
    match rest.get(target) {
        None => return Detection::NeedMore,
        Some(b' ') if target > 0 => rest = &rest[target + 1..],
        Some(_) => return Detection::NoMatch,
    }
    // HTTP/1.
    let n = rest.len().min(VERSION_PREFIX.len());
    if rest[..n] != VERSION_PREFIX[..n] {
        Detection::NoMatch
    } else if n < VERSION_PREFIX.len() {
        Detection::NeedMore
    } else {
        Detection::Match(Protocol::Http1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefix length at which the sniffer first decides, checking that
    /// it says NeedMore before and the same thing at every length after.
    fn decides_at(input: &[u8]) -> (usize, Detection) {
        let mut first = None;
        for len in 0..=input.len() {
            let d = sniff_request_line(&input[..len]);
            match (first, d) {
                (None, Detection::NeedMore) => {}
                (None, d) => first = Some((len, d)),
                (Some((_, decided)), d) => assert_eq!(d, decided, "monotone at {len}"),
            }
        }
        first.unwrap_or((input.len() + 1, Detection::NeedMore))
    }

    #[test]
    fn decides_at_the_earliest_byte() {
        let table: &[(&[u8], usize, Detection)] = &[
            (b"GET / HTTP/1.1\r\n", 13, Detection::Match(Protocol::Http1)),
            (
                b"OPTIONS * HTTP/1.0\r\n",
                17,
                Detection::Match(Protocol::Http1),
            ),
            (
                b"CONNECT a:443 HTTP/1.1\r\n",
                21,
                Detection::Match(Protocol::Http1),
            ),
            (
                b"\r\nPOST /x HTTP/1.1\r\n",
                17,
                Detection::Match(Protocol::Http1),
            ),
            // Redis inline command: no at the CR after the key.
            (b"GET key\r\n", 8, Detection::NoMatch),
            (b"PING\r\n", 5, Detection::NoMatch),
            // RESP array, TLS ClientHello, HTTP/2 preface.
            (b"*1\r\n$4\r\nPING\r\n", 3, Detection::NoMatch),
            (b"\x16\x03\x01\x02\x00", 1, Detection::NoMatch),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 12, Detection::NoMatch),
            (b"GET /x HTTP/2\r\n", 13, Detection::NoMatch),
            (b"GET  / HTTP/1.1", 5, Detection::NoMatch),
            (b" GET / HTTP/1.1", 1, Detection::NoMatch),
            (b"GET /\x7f HTTP/1.1", 6, Detection::NoMatch),
        ];
        for (input, at, expected) in table {
            assert_eq!(
                decides_at(input),
                (*at, *expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn long_methods_are_not_http() {
        let long = [vec![b'A'; MAX_SNIFFED_METHOD + 1], b" / HTTP/1.1".to_vec()].concat();
        assert_eq!(
            decides_at(&long),
            (MAX_SNIFFED_METHOD + 1, Detection::NoMatch)
        );
        let ok = [vec![b'A'; MAX_SNIFFED_METHOD], b" / HTTP/1.1".to_vec()].concat();
        assert_eq!(decides_at(&ok).1, Detection::Match(Protocol::Http1));
    }

    #[test]
    fn ranks_above_redis_in_a_detector() {
        use mesh_core::{DetectConfig, Detector, Step};
        /// A stand-in for the Redis sniffer: matches an inline command or
        /// an array (the real one is in mesh-codecs).
        struct InlineRedis;
        impl Sniff for InlineRedis {
            fn protocol(&self) -> Protocol {
                Protocol::Redis
            }
            fn sniff(&self, prefix: &[u8]) -> Detection {
                match prefix.iter().position(|&b| b == b'\n') {
                    Some(_) => Detection::Match(Protocol::Redis),
                    None => Detection::NeedMore,
                }
            }
        }
        let d = Detector::new(DetectConfig::default())
            .with(Http1Sniffer)
            .with(InlineRedis);
        assert_eq!(
            d.decide(b"GET /x HTTP/1.1\r\n"),
            Step::Decided(Protocol::Http1)
        );
        assert_eq!(d.decide(b"GET key\r\n"), Step::Decided(Protocol::Redis));
    }
}
