//! The TLS sniffer of the protocol detector: [`mesh_core::Sniff`] for
//! [`Protocol::Tls`].
//!
//! It answers `Match` only once a whole ClientHello has arrived and parsed,
//! not at the first `0x16` byte: a proxy that routes TLS by SNI, or tells
//! mesh mTLS from an application's TLS by ALPN, needs the whole ClientHello
//! in the replayed prefix anyway, and waiting costs nothing because a TLS
//! client sends nothing else until the server answers. The first byte that
//! cannot belong to a ClientHello gives `NoMatch`, so plaintext protocols
//! are released at once.

use mesh_core::{Detection, Protocol, Sniff};

use crate::hello::{self, Limits, Status};

/// Recognises a TLS ClientHello.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsSniffer {
    limits: Limits,
}

impl TlsSniffer {
    /// A sniffer with these parser limits. Keep `max_hello_len` at or below
    /// the detector's byte cap, or a large ClientHello falls back to TCP.
    pub fn new(limits: Limits) -> Self {
        TlsSniffer { limits }
    }
}

impl Sniff for TlsSniffer {
    fn protocol(&self) -> Protocol {
        Protocol::Tls
    }

    fn sniff(&self, prefix: &[u8]) -> Detection {
        match hello::parse(prefix, &self.limits) {
            Ok(Status::Complete(..)) => Detection::Match(Protocol::Tls),
            Ok(Status::Partial) => Detection::NeedMore,
            Err(_) => Detection::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_core::{DetectConfig, DetectReason, Detector};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A minimal valid ClientHello: no session id, one suite, no
    /// extensions.
    fn tiny_hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut out = vec![
            22,
            3,
            1,
            0,
            (body.len() + 4) as u8,
            1,
            0,
            0,
            body.len() as u8,
        ];
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn answers_per_prefix() {
        let s = TlsSniffer::default();
        let input = tiny_hello();
        for len in 0..input.len() {
            assert_eq!(s.sniff(&input[..len]), Detection::NeedMore, "{len}");
        }
        assert_eq!(s.sniff(&input), Detection::Match(Protocol::Tls));
        assert_eq!(s.sniff(b"GET / HTTP/1.1\r\n"), Detection::NoMatch);
        assert_eq!(s.sniff(b"*1\r\n"), Detection::NoMatch);
        assert_eq!(s.sniff(&[22, 3, 1, 0, 5, 2]), Detection::NoMatch);
        assert_eq!(s.name(), "tls");
    }

    #[tokio::test]
    async fn detector_replays_the_whole_hello() {
        let input = tiny_hello();
        let (mut client, server) = tokio::io::duplex(8);
        let sent = input.clone();
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(3) {
                client.write_all(chunk).await.unwrap();
            }
            client
        });
        let detector = Detector::new(DetectConfig::default()).with(TlsSniffer::default());
        let (mut stream, outcome) = detector.detect(server).await.unwrap();
        assert_eq!(outcome.protocol, Protocol::Tls);
        assert_eq!(outcome.reason, DetectReason::Matched);
        assert_eq!(outcome.bytes, input.len());
        let mut got = vec![0; input.len()];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(got, input);
        drop(writer.await.unwrap());
    }
}
