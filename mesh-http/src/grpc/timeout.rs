//! Deadlines: `grpc-timeout` and the time left to forward.
//!
//! A gRPC client sends its deadline as a relative timeout, `grpc-timeout`:
//! at most 8 decimal digits and a unit (`H` hours, `M` minutes, `S`
//! seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds). Any
//! other value means the request has no deadline: [`parse`] returns
//! `None`, never an error.
//!
//! Because the value is relative, every hop that holds a request for a
//! while must send on what is *left*, not what it received; otherwise each
//! proxy on the way adds its own delay to the client's budget. A proxy
//! makes a [`Deadline`] when the request arrives and calls
//! [`Deadline::forward`] when it sends the request upstream (once per
//! attempt, so a retry gets less time). When nothing is left it answers
//! `DEADLINE_EXCEEDED` itself ([`super::LocalReply::deadline_exceeded`]).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use mesh_resilience::clock::{Clock, Timestamp, TokioClock};

use super::{Fields, FieldsMut, GRPC_TIMEOUT};

/// The most digits the value may have.
const MAX_DIGITS: usize = 8;
/// The largest value: 8 nines.
const MAX_VALUE: u64 = 99_999_999;

/// The units, finest first, with their length in nanoseconds.
const UNITS: [(u8, u64); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60 * 1_000_000_000),
    (b'H', 3_600 * 1_000_000_000),
];

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and one unit
/// letter, nothing else (no sign, no spaces). `None` for anything else,
/// which gRPC treats as no deadline at all.
pub fn parse(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3_600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A `grpc-timeout` value, formatted without allocating: at most 8
/// digits and a unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeoutValue {
    bytes: [u8; MAX_DIGITS + 1],
    len: u8,
}

impl TimeoutValue {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and unit letters are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The value as a header field value.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl fmt::Display for TimeoutValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TimeoutValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeoutValue({:?})", self.as_str())
    }
}

/// Writes `timeout` as a `grpc-timeout` value, in the finest unit whose
/// count fits in 8 digits, rounded up (so a short remaining time never
/// becomes `0`, and the deadline moves by less than one part in 10^5).
/// Timeouts beyond 99 999 999 hours are written as that.
pub fn encode(timeout: Duration) -> TimeoutValue {
    let nanos = timeout.as_nanos();
    let (unit, count) = UNITS
        .iter()
        .find_map(|&(unit, len)| {
            let count = nanos.div_ceil(u128::from(len));
            (count <= u128::from(MAX_VALUE)).then_some((unit, count as u64))
        })
        .unwrap_or((b'H', MAX_VALUE));
    let mut bytes = [0u8; MAX_DIGITS + 1];
    let mut itoa = itoa::Buffer::new();
    let digits = itoa.format(count).as_bytes();
    // `count` ≤ MAX_VALUE has at most MAX_DIGITS digits.
    let len = digits.len().min(MAX_DIGITS);
    bytes[..len].copy_from_slice(&digits[..len]);
    bytes[len] = unit;
    TimeoutValue {
        bytes,
        len: (len + 1) as u8,
    }
}

/// The request's deadline in a head's `grpc-timeout`, if it has one
/// (a malformed value is no deadline).
pub fn from_fields(fields: &(impl Fields + ?Sized)) -> Option<Duration> {
    fields.field(GRPC_TIMEOUT).and_then(|v| parse(v))
}

/// Sets `grpc-timeout` in `fields` to `timeout`, replacing any value there
/// (and dropping duplicates, so the peer sees exactly one).
pub fn set_field(fields: &mut impl FieldsMut, timeout: Duration) {
    fields.set_field(GRPC_TIMEOUT, encode(timeout).to_bytes());
}

/// The moment a request must be finished by, on a [`Clock`].
///
/// The clock is injected: [`TokioClock`] (the default) follows tokio's
/// time, paused in tests; a [`mesh_resilience::clock::ManualClock`] moves
/// only when told to.
#[derive(Debug, Clone, Copy)]
pub struct Deadline<C = TokioClock> {
    clock: C,
    at: Timestamp,
}

impl<C: Clock> Deadline<C> {
    /// The deadline `timeout` from now.
    pub fn after(clock: C, timeout: Duration) -> Deadline<C> {
        let at = clock.now().saturating_add(timeout);
        Deadline { clock, at }
    }

    /// The deadline a request head sets with `grpc-timeout`, counted from
    /// now (call it when the head arrives); `None` when it sets none.
    pub fn from_fields(clock: C, fields: &(impl Fields + ?Sized)) -> Option<Deadline<C>> {
        from_fields(fields).map(|timeout| Deadline::after(clock, timeout))
    }

    /// When it is, on the clock.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_since(self.clock.now())
    }

    /// Whether no time is left.
    pub fn is_expired(&self) -> bool {
        self.clock.now() >= self.at
    }

    /// The earlier of this deadline and `timeout` from now: a proxy's own
    /// route timeout shortens what it forwards, never lengthens it.
    pub fn cap(self, timeout: Duration) -> Deadline<C> {
        let at = self.clock.now().saturating_add(timeout).min(self.at);
        Deadline { at, ..self }
    }

    /// The remaining time as a `grpc-timeout` value.
    pub fn timeout_value(&self) -> TimeoutValue {
        encode(self.remaining())
    }

    /// Sets `grpc-timeout` in an upstream request head to the time left,
    /// and returns it. At zero the request should not be sent at all:
    /// check [`is_expired`](Self::is_expired) first and answer
    /// `DEADLINE_EXCEEDED` locally.
    pub fn forward(&self, fields: &mut impl FieldsMut) -> Duration {
        let left = self.remaining();
        set_field(fields, left);
        left
    }
}

impl Deadline<TokioClock> {
    /// Completes when the deadline passes (on tokio's clock), for
    /// `tokio::select!` against the upstream exchange.
    pub fn expired(&self) -> tokio::time::Sleep {
        tokio::time::sleep(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::HeaderMap;
    use crate::h2::hpack::Field;
    use mesh_resilience::clock::ManualClock;

    #[test]
    fn parse_vectors() {
        let table: [(&str, Option<Duration>); 20] = [
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("3S", Some(Duration::from_secs(3))),
            ("4m", Some(Duration::from_millis(4))),
            ("5u", Some(Duration::from_micros(5))),
            ("6n", Some(Duration::from_nanos(6))),
            ("0n", Some(Duration::ZERO)),
            ("000000100m", None), // 9 digits
            ("99999999H", Some(Duration::from_secs(99_999_999 * 3600))),
            ("0000100m", Some(Duration::from_millis(100))),
            ("", None),
            ("S", None),
            ("100", None),
            ("100s", None),
            ("100h", None),
            ("-1S", None),
            ("+1S", None),
            (" 1S", None),
            ("1S ", None),
            ("1.5S", None),
        ];
        for (value, want) in table {
            assert_eq!(parse(value.as_bytes()), want, "{value:?}");
        }
        assert_eq!(parse(b"123456789S"), None);
        assert_eq!(parse(b"1\xffS"), None);
    }

    #[test]
    fn encode_vectors() {
        let table = [
            (Duration::ZERO, "0n"),
            (Duration::from_nanos(1), "1n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_millis(100), "100000u"),
            (Duration::from_nanos(100_000_001), "100001u"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666667M"),
            (Duration::from_secs(6_000_000_000), "1666667H"),
            (Duration::MAX, "99999999H"),
        ];
        for (d, want) in table {
            assert_eq!(encode(d).as_str(), want, "{d:?}");
        }
    }

    #[test]
    fn set_field_replaces_every_value() {
        let mut fields = vec![
            Field::new("grpc-timeout", "10S"),
            Field::new("x", "y"),
            Field::new("grpc-timeout", "1S"),
        ];
        set_field(&mut fields, Duration::from_millis(250));
        assert_eq!(
            fields,
            [Field::new("grpc-timeout", "250000u"), Field::new("x", "y")]
        );
        let mut fields = vec![Field::new("x", "y")];
        set_field(&mut fields, Duration::from_secs(1));
        assert_eq!(fields[1], Field::new("grpc-timeout", "1000000u"));
        let mut map = HeaderMap::new();
        map.append("grpc-timeout", "5S").unwrap();
        map.append("grpc-timeout", "6S").unwrap();
        set_field(&mut map, Duration::from_secs(1));
        assert_eq!(
            map.get_all("grpc-timeout").collect::<Vec<_>>(),
            ["1000000u"]
        );
    }

    #[test]
    fn deadline_on_a_manual_clock() {
        let clock = ManualClock::new();
        let head = [Field::new("grpc-timeout", "100m")];
        let d = Deadline::from_fields(clock.clone(), &head).unwrap();
        assert_eq!(d.remaining(), Duration::from_millis(100));
        clock.advance(Duration::from_millis(30));
        let mut upstream = head.to_vec();
        assert_eq!(d.forward(&mut upstream), Duration::from_millis(70));
        assert_eq!(upstream, [Field::new("grpc-timeout", "70000000n")]);
        // A shorter route timeout wins; a longer one changes nothing.
        assert_eq!(
            d.clone().cap(Duration::from_millis(20)).remaining(),
            Duration::from_millis(20)
        );
        assert_eq!(
            d.clone().cap(Duration::from_secs(20)).remaining(),
            Duration::from_millis(70)
        );
        clock.advance(Duration::from_millis(70));
        assert!(d.is_expired());
        assert_eq!(d.timeout_value().as_str(), "0n");
        clock.advance(Duration::from_secs(1));
        assert_eq!(d.remaining(), Duration::ZERO);
        assert!(
            Deadline::from_fields(clock.clone(), &[Field::new("grpc-timeout", "1x")]).is_none()
        );
        assert!(Deadline::from_fields(clock, &HeaderMap::new()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_on_tokio_time() {
        let d = Deadline::after(TokioClock::new(), Duration::from_secs(2));
        let start = tokio::time::Instant::now();
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(d.remaining(), Duration::from_millis(1500));
        d.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(d.is_expired());
    }
}
