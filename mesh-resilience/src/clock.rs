//! The one clock every time-reading part of this crate goes through.
//!
//! Breakers, buckets, outlier detection, retry budgets and peak-EWMA all
//! take a [`Clock`] so that tests drive time by hand ([`ManualClock`]) or
//! with paused tokio time ([`TokioClock`]) and never sleep. Production code
//! uses [`MonotonicClock`].
//!
//! A reading is a [`Timestamp`]: nanoseconds since the clock's origin, in a
//! `u64` (584 years), so hot paths compare and subtract integers instead of
//! `Instant`s, and state can live in atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A reading of a [`Clock`]: nanoseconds since that clock's origin.
///
/// Only readings of the same clock (or of clones of it) are comparable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The clock's origin.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_nanos(d)))
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// A monotonic source of [`Timestamp`]s.
///
/// Implementations must never go backwards and must be cheap: the token
/// bucket and the breaker read the clock on their hot paths.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A timestamp is a stopped clock: handy where an API takes a clock but
/// the caller already knows the time.
impl Clock for Timestamp {
    #[inline]
    fn now(&self) -> Timestamp {
        *self
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    #[inline]
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    #[inline]
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The real clock: `std::time::Instant`, measured from one origin shared
/// by the whole process, so readings of different instances compare.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

static PROCESS_ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

impl MonotonicClock {
    /// The process-wide monotonic clock.
    pub fn new() -> Self {
        MonotonicClock {
            origin: *PROCESS_ORIGIN.get_or_init(std::time::Instant::now),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Timestamp {
        Timestamp(duration_nanos(self.origin.elapsed()))
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time, so a test keeps one handle and gives
/// clones to the structures under test.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at its origin.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let add = duration_nanos(d);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(add))
            });
    }

    /// Moves the clock to `t`; a time in the past is ignored, so the clock
    /// stays monotonic.
    pub fn set(&self, t: Timestamp) {
        self.nanos.fetch_max(t.0, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::Acquire))
    }
}

/// Tokio's clock (`tokio::time::Instant`): follows paused and advanced
/// time in `#[tokio::test(start_paused = true)]`, so async waits such as
/// [`TokenBucket::acquire`](crate::bucket::TokenBucket::acquire) and the
/// retry helper's backoff are tested without sleeping.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is tokio's current time.
    pub fn new() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Timestamp {
        Timestamp(duration_nanos(self.origin.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new();
        let shared = c.clone();
        assert_eq!(c.now(), Timestamp::ZERO);
        c.advance(Duration::from_millis(5));
        assert_eq!(shared.now().as_millis(), 5);
        c.set(Timestamp::from_nanos(1));
        assert_eq!(shared.now().as_millis(), 5);
        c.set(Timestamp::from_nanos(7_000_000));
        assert_eq!(c.now().as_nanos(), 7_000_000);
    }

    #[test]
    fn monotonic_clocks_share_an_origin() {
        let a = MonotonicClock::new();
        let t1 = a.now();
        let b = MonotonicClock::new();
        assert!(b.now() >= t1);
    }

    #[test]
    fn timestamp_arithmetic_saturates() {
        let t = Timestamp::from_nanos(u64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(1)).as_nanos(),
            u64::MAX
        );
        assert_eq!(Timestamp::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(
            Timestamp::from_nanos(3_000).saturating_since(Timestamp::from_nanos(1_000)),
            Duration::from_nanos(2_000)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::new();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(c.now().as_millis(), 3_000);
    }
}
