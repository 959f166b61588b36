//! Protocol detection: sniffers look at the first bytes of a connection and
//! a [`Detector`] runs them in priority order until one of them decides.
//!
//! The sniffers live in the protocol crates (HTTP/1 and the HTTP/2 preface
//! in `mesh-http`, RESP and the MongoDB header in `mesh-codecs`, the TLS
//! ClientHello in `mesh-tls`); this module owns the rules that combine them:
//!
//! - Sniffers are asked in a fixed priority order, the order in which they
//!   were added. A `Match` wins only once every sniffer of higher priority
//!   has said `NoMatch`; while one of them says `NeedMore`, detection waits.
//! - A sniffer's answer is a function of the prefix, and monotone: once it
//!   says `NoMatch` or `Match` for a prefix it would say the same for every
//!   longer one. The detector relies on that and does not ask it again.
//! - Detection is bounded by a byte cap and a deadline. When either is hit,
//!   when every sniffer says `NoMatch`, or when the client closes first, the
//!   connection falls back to opaque TCP: server-first protocols and idle
//!   pooled connections never hang in detection, they just are not parsed.
//!
//! The trade-off is latency against coverage: a longer deadline catches
//! slow clients of a parsed protocol, a shorter one delays server-first
//! protocols less. The default (1 s) is Istio's; set it per listener, or
//! declare the protocol in the port name to skip detection.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::{PeekedStream, Protocol};

/// A sniffer's answer for one prefix of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// The prefix is this protocol.
    Match(Protocol),
    /// The prefix could still be the protocol; more bytes are needed.
    NeedMore,
    /// The prefix cannot be the protocol, whatever follows.
    NoMatch,
}

/// Recognises one protocol from the first bytes a client sends.
///
/// Implementations must be monotone (see the [module docs](self)) and
/// cheap: they run again on every read until they decide, over the whole
/// prefix read so far.
pub trait Sniff: Send + Sync {
    /// The protocol this sniffer recognises (its `Match` names this, or a
    /// more specific protocol of the same family).
    fn protocol(&self) -> Protocol;

    /// A short name for logs and metrics; the protocol name by default.
    fn name(&self) -> &'static str {
        self.protocol().as_str()
    }

    /// Looks at the bytes the client has sent so far.
    fn sniff(&self, prefix: &[u8]) -> Detection;
}

/// Limits of one detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectConfig {
    /// Give up and fall back to TCP after this many bytes. Default 16 KiB.
    pub max_bytes: usize,
    /// Give up and fall back to TCP after this long. `Duration::ZERO`
    /// disables detection: the connection is TCP at once. Default 1 s.
    pub timeout: Duration,
}

impl DetectConfig {
    /// The default byte cap.
    pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;
    /// The default deadline.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Why detection ended the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectReason {
    /// A sniffer matched.
    Matched,
    /// Every sniffer said no: TCP.
    NoMatch,
    /// The deadline passed before a decision: TCP.
    Timeout,
    /// The byte cap was reached before a decision: TCP.
    ByteCap,
    /// The client closed its side before a decision: TCP.
    Eof,
    /// Detection is disabled for this listener: TCP.
    Disabled,
}

impl DetectReason {
    /// A lower-case name for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            DetectReason::Matched => "matched",
            DetectReason::NoMatch => "no_match",
            DetectReason::Timeout => "timeout",
            DetectReason::ByteCap => "byte_cap",
            DetectReason::Eof => "eof",
            DetectReason::Disabled => "disabled",
        }
    }
}

/// The result of detecting one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectOutcome {
    /// The protocol decided; [`Protocol::Tcp`] for every fallback.
    pub protocol: Protocol,
    /// How detection ended.
    pub reason: DetectReason,
    /// How long detection took.
    pub elapsed: Duration,
    /// How many bytes were read (and will be replayed).
    pub bytes: usize,
}

/// The answer of one [`DetectSession::advance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Decided: this protocol.
    Decided(Protocol),
    /// A sniffer with the highest remaining priority needs more bytes.
    NeedMore,
    /// Every sniffer said no.
    NoMatch,
}

/// A set of sniffers in priority order, and the limits of a detection.
#[derive(Clone, Default)]
pub struct Detector {
    sniffers: Vec<Arc<dyn Sniff>>,
    config: DetectConfig,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.sniffers.iter().map(|s| s.name()).collect();
        f.debug_struct("Detector")
            .field("sniffers", &names)
            .field("config", &self.config)
            .finish()
    }
}

impl Detector {
    /// A detector with no sniffers (everything is TCP) and these limits.
    pub fn new(config: DetectConfig) -> Self {
        Detector {
            sniffers: Vec::new(),
            config,
        }
    }

    /// Adds a sniffer with a lower priority than every one added before.
    pub fn with(mut self, sniffer: impl Sniff + 'static) -> Self {
        self.sniffers.push(Arc::new(sniffer));
        self
    }

    /// Adds a shared sniffer with a lower priority than those before.
    pub fn with_shared(mut self, sniffer: Arc<dyn Sniff>) -> Self {
        self.sniffers.push(sniffer);
        self
    }

    /// The limits.
    pub fn config(&self) -> &DetectConfig {
        &self.config
    }

    /// The same sniffers with other limits (a per-listener override).
    pub fn with_config(&self, config: DetectConfig) -> Self {
        Detector {
            sniffers: self.sniffers.clone(),
            config,
        }
    }

    /// Starts a detection over a prefix that the caller grows.
    pub fn session(&self) -> DetectSession<'_> {
        DetectSession {
            sniffers: &self.sniffers,
            first_undecided: 0,
        }
    }

    /// Decides a complete prefix at once (no more bytes will come).
    pub fn decide(&self, prefix: &[u8]) -> Step {
        self.session().advance(prefix)
    }

    /// Reads from `io` until the protocol is decided or a limit is hit, and
    /// returns a stream that replays what was read, with the outcome.
    ///
    /// Only a read error is an error; every other ending is an outcome
    /// (falling back to TCP where no sniffer decided).
    pub async fn detect<S>(&self, mut io: S) -> io::Result<(PeekedStream<S>, DetectOutcome)>
    where
        S: AsyncRead + Unpin,
    {
        let start = Instant::now();
        let mut buf = BytesMut::new();
        let outcome = |protocol, reason, buf: &BytesMut| DetectOutcome {
            protocol,
            reason,
            elapsed: start.elapsed(),
            bytes: buf.len(),
        };
        if self.config.timeout.is_zero() || self.sniffers.is_empty() {
            let reason = if self.config.timeout.is_zero() {
                DetectReason::Disabled
            } else {
                DetectReason::NoMatch
            };
            let out = outcome(Protocol::Tcp, reason, &buf);
            return Ok((PeekedStream::new(io, buf.freeze()), out));
        }
        let deadline = start + self.config.timeout;
        let mut session = self.session();
        let (protocol, reason) = loop {
            let room = self.config.max_bytes.saturating_sub(buf.len());
            if room == 0 {
                break (Protocol::Tcp, DetectReason::ByteCap);
            }
            buf.reserve(room.min(4096));
            let mut limited = (&mut io).take(room as u64);
            let read = limited.read_buf(&mut buf);
            let n = match tokio::time::timeout_at(deadline, read).await {
                Ok(result) => result?,
                Err(_elapsed) => break (Protocol::Tcp, DetectReason::Timeout),
            };
            if n == 0 {
                break (Protocol::Tcp, DetectReason::Eof);
            }
            match session.advance(&buf) {
                Step::Decided(p) => break (p, DetectReason::Matched),
                Step::NoMatch => break (Protocol::Tcp, DetectReason::NoMatch),
                Step::NeedMore => {}
            }
        };
        let out = outcome(protocol, reason, &buf);
        Ok((PeekedStream::new(io, buf.freeze()), out))
    }
}

/// One detection in progress: remembers which sniffers already said no.
#[derive(Clone)]
pub struct DetectSession<'a> {
    sniffers: &'a [Arc<dyn Sniff>],
    /// Every sniffer before this index said `NoMatch` on an earlier prefix.
    first_undecided: usize,
}

impl DetectSession<'_> {
    /// Runs the sniffers over the prefix read so far (which must extend the
    /// prefix of the previous call).
    ///
    /// Only the highest-priority sniffer that has not said no yet decides
    /// what happens: its `Match` wins, its `NeedMore` waits. Sniffers below
    /// it are not asked until it says no.
    pub fn advance(&mut self, prefix: &[u8]) -> Step {
        while let Some(sniffer) = self.sniffers.get(self.first_undecided) {
            match sniffer.sniff(prefix) {
                Detection::Match(p) => return Step::Decided(p),
                Detection::NeedMore => return Step::NeedMore,
                Detection::NoMatch => self.first_undecided += 1,
            }
        }
        Step::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    /// Matches when the prefix starts with `magic`.
    struct Magic {
        protocol: Protocol,
        magic: &'static [u8],
        calls: Arc<AtomicUsize>,
    }

    impl Magic {
        fn new(protocol: Protocol, magic: &'static [u8]) -> Self {
            Magic {
                protocol,
                magic,
                calls: Arc::default(),
            }
        }
    }

    impl Sniff for Magic {
        fn protocol(&self) -> Protocol {
            self.protocol
        }
        fn sniff(&self, prefix: &[u8]) -> Detection {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let n = prefix.len().min(self.magic.len());
            if prefix[..n] != self.magic[..n] {
                Detection::NoMatch
            } else if n < self.magic.len() {
                Detection::NeedMore
            } else {
                Detection::Match(self.protocol)
            }
        }
    }

    fn detector() -> Detector {
        Detector::new(DetectConfig::default())
            .with(Magic::new(
                Protocol::Http2,
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            ))
            .with(Magic::new(Protocol::Http1, b"PRI "))
            .with(Magic::new(Protocol::Redis, b"*1\r\n"))
    }

    #[test]
    fn every_prefix_length() {
        let d = detector();
        let input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04";
        for len in 0..input.len() {
            let step = d.decide(&input[..len]);
            if len < 24 {
                // The HTTP/1 sniffer already matches at 4 bytes, but the
                // HTTP/2 sniffer has priority and has not said no.
                assert_eq!(step, Step::NeedMore, "prefix of {len} bytes");
            } else {
                assert_eq!(
                    step,
                    Step::Decided(Protocol::Http2),
                    "prefix of {len} bytes"
                );
            }
        }
        let redis = b"*1\r\n$4\r\nPING\r\n";
        for len in 0..redis.len() {
            let expected = if len < 4 {
                Step::NeedMore
            } else {
                Step::Decided(Protocol::Redis)
            };
            assert_eq!(d.decide(&redis[..len]), expected, "prefix of {len} bytes");
        }
    }

    #[test]
    fn priorities_disagree() {
        let d = detector();
        // Both HTTP sniffers are still possible on "PRI "; the lower one
        // already matches, the higher one needs more: wait.
        assert_eq!(d.decide(b"PRI "), Step::NeedMore);
        // The higher one says no: the lower one's match wins.
        assert_eq!(d.decide(b"PRI /x HTTP/1.1"), Step::Decided(Protocol::Http1));
        // Everyone says no.
        assert_eq!(d.decide(b"\x16\x03\x01"), Step::NoMatch);
    }

    #[test]
    fn session_does_not_ask_a_sniffer_twice_after_no() {
        let first = Magic::new(Protocol::Http2, b"PRI * HTTP/2.0");
        let first_calls = first.calls.clone();
        let second = Magic::new(Protocol::Redis, b"*1\r\n$4\r\nPING\r\n");
        let second_calls = second.calls.clone();
        let d = Detector::new(DetectConfig::default())
            .with(first)
            .with(second);
        let mut session = d.session();
        let input = b"*1\r\n$4\r\nPING\r\n";
        for len in 1..=input.len() {
            let step = session.advance(&input[..len]);
            let want = if len == input.len() {
                Step::Decided(Protocol::Redis)
            } else {
                Step::NeedMore
            };
            assert_eq!(step, want);
        }
        assert_eq!(first_calls.load(Ordering::Relaxed), 1);
        assert_eq!(second_calls.load(Ordering::Relaxed), input.len());
    }

    #[tokio::test]
    async fn detects_and_replays() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
        let (mut stream, outcome) = detector().detect(server).await.unwrap();
        assert_eq!(outcome.protocol, Protocol::Redis);
        assert_eq!(outcome.reason, DetectReason::Matched);
        assert_eq!(outcome.bytes, 14);
        let mut got = [0u8; 14];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"*1\r\n$4\r\nPING\r\n");
    }

    #[tokio::test]
    async fn bytes_arriving_one_at_a_time() {
        let (mut client, server) = tokio::io::duplex(1);
        let input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        let writer = tokio::spawn(async move {
            for b in input {
                client.write_all(&[*b]).await.unwrap();
            }
            client
        });
        let (_stream, outcome) = detector().detect(server).await.unwrap();
        assert_eq!(outcome.protocol, Protocol::Http2);
        assert_eq!(outcome.bytes, 24);
        writer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_falls_back_to_tcp_without_sleeping() {
        let (mut client, server) = tokio::io::duplex(64);
        // A server-first protocol: the client sends a partial prefix and waits.
        client.write_all(b"PRI * HT").await.unwrap();
        let config = DetectConfig {
            timeout: Duration::from_millis(250),
            ..DetectConfig::default()
        };
        let wall = std::time::Instant::now();
        let (mut stream, outcome) = detector().with_config(config).detect(server).await.unwrap();
        assert_eq!(outcome.protocol, Protocol::Tcp);
        assert_eq!(outcome.reason, DetectReason::Timeout);
        assert_eq!(outcome.elapsed, Duration::from_millis(250));
        assert!(
            wall.elapsed() < Duration::from_millis(200),
            "paused time must not sleep"
        );
        let mut got = [0u8; 8];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"PRI * HT");
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_client_times_out_with_no_bytes() {
        let (_client, server) = tokio::io::duplex(64);
        let (_stream, outcome) = detector().detect(server).await.unwrap();
        assert_eq!(outcome.reason, DetectReason::Timeout);
        assert_eq!(outcome.elapsed, DetectConfig::DEFAULT_TIMEOUT);
        assert_eq!(outcome.bytes, 0);
    }

    #[tokio::test]
    async fn byte_cap_falls_back_and_keeps_every_byte() {
        // A sniffer that never decides.
        struct Undecided;
        impl Sniff for Undecided {
            fn protocol(&self) -> Protocol {
                Protocol::Mongo
            }
            fn sniff(&self, _: &[u8]) -> Detection {
                Detection::NeedMore
            }
        }
        let config = DetectConfig {
            max_bytes: 100,
            ..DetectConfig::default()
        };
        let d = Detector::new(config).with(Undecided);
        let (mut client, server) = tokio::io::duplex(1024);
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        client.write_all(&data).await.unwrap();
        drop(client);
        let (mut stream, outcome) = d.detect(server).await.unwrap();
        assert_eq!(outcome.reason, DetectReason::ByteCap);
        assert_eq!(outcome.bytes, 100);
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn no_match_and_eof_and_disabled() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"\x16\x03\x01\x00").await.unwrap();
        let (_, outcome) = detector().detect(server).await.unwrap();
        assert_eq!(
            (outcome.protocol, outcome.reason),
            (Protocol::Tcp, DetectReason::NoMatch)
        );

        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"PRI").await.unwrap();
        drop(client);
        let (_, outcome) = detector().detect(server).await.unwrap();
        assert_eq!(
            (outcome.protocol, outcome.reason),
            (Protocol::Tcp, DetectReason::Eof)
        );
        assert_eq!(outcome.bytes, 3);

        let (_client, server) = tokio::io::duplex(64);
        let off = DetectConfig {
            timeout: Duration::ZERO,
            ..DetectConfig::default()
        };
        let (_, outcome) = detector().with_config(off).detect(server).await.unwrap();
        assert_eq!(
            (outcome.protocol, outcome.reason),
            (Protocol::Tcp, DetectReason::Disabled)
        );
        assert_eq!(outcome.bytes, 0);
    }
}
