//! The HTTP/2 client connection preface (RFC 9113 §3.4) and its sniffer.

use mesh_core::{Detection, Protocol, Sniff};

/// The 24 bytes every HTTP/2 client sends first (then a SETTINGS frame).
/// Chosen so that HTTP/1 servers reject it: it is a request line with the
/// method `PRI`, the target `*` and the version `HTTP/2.0`.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Recognises a cleartext HTTP/2 connection (h2c with prior knowledge) by
/// its preface: `Match(Http2)` once all 24 bytes are there, `NeedMore`
/// while the bytes so far agree with it, `NoMatch` at the first byte that
/// does not.
///
/// Add it before the HTTP/1 sniffer: the preface starts like an HTTP/1
/// request line, and a connection is HTTP/2 from the preface on (gRPC is
/// decided later, per stream).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrefaceSniffer;

impl Sniff for PrefaceSniffer {
    fn protocol(&self) -> Protocol {
        Protocol::Http2
    }

    fn name(&self) -> &'static str {
        "http2-preface"
    }

    fn sniff(&self, prefix: &[u8]) -> Detection {
        let n = prefix.len().min(PREFACE.len());
        if prefix[..n] != PREFACE[..n] {
            Detection::NoMatch
        } else if n < PREFACE.len() {
            Detection::NeedMore
        } else {
            Detection::Match(Protocol::Http2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_core::{DetectConfig, Detector, Step};

    #[test]
    fn every_prefix_of_the_preface() {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        for len in 0..input.len() {
            let want = if len < PREFACE.len() {
                Detection::NeedMore
            } else {
                Detection::Match(Protocol::Http2)
            };
            assert_eq!(PrefaceSniffer.sniff(&input[..len]), want, "{len} bytes");
        }
    }

    #[test]
    fn http1_and_garbage_do_not_match() {
        assert_eq!(
            PrefaceSniffer.sniff(b"GET / HTTP/1.1\r\n"),
            Detection::NoMatch
        );
        assert_eq!(
            PrefaceSniffer.sniff(b"PRI * HTTP/1.1\r\n"),
            Detection::NoMatch
        );
        assert_eq!(PrefaceSniffer.sniff(b"PRI / "), Detection::NoMatch);
        assert_eq!(PrefaceSniffer.sniff(b"\x16\x03\x01"), Detection::NoMatch);
    }

    #[test]
    fn in_a_detector() {
        let d = Detector::new(DetectConfig::default()).with(PrefaceSniffer);
        assert_eq!(d.decide(&PREFACE[..10]), Step::NeedMore);
        assert_eq!(d.decide(PREFACE), Step::Decided(Protocol::Http2));
        assert_eq!(d.decide(b"POST"), Step::NoMatch);
    }
}
