//! A lock-free token bucket in the shape of Envoy's local rate limit, and
//! keyed buckets with bounded memory.
//!
//! Envoy's `local_ratelimit` filter configures a bucket with `max_tokens`,
//! `tokens_per_fill` and `fill_interval`: the bucket starts full, and every
//! fill interval after its creation `tokens_per_fill` tokens are added, up
//! to `max_tokens`. [`BucketConfig::new`] takes exactly that; a plain rate
//! ("100 per second, bursts of 20") is [`BucketConfig::per_second`] or
//! [`BucketConfig::rate`], which fill one token at a time, smoothly.
//!
//! # Exact under concurrency
//!
//! The whole state is one `AtomicU64`: how many tokens have been taken,
//! measured on the fill schedule. With `F(t)` the tokens the schedule has
//! added by time `t` (fills since creation × tokens per fill), the bucket
//! holds `max_tokens - max(0, taken - F(t))`. Taking `n` is one
//! compare-and-swap from `taken` to `max(taken, F(t)) + n`, refused when
//! that exceeds `F(t) + max_tokens`. Because every admission is one atomic
//! step on one word, threads can never together take more than the bucket
//! holds, and nothing needs a timer: fills happen by arithmetic when the
//! bucket is next looked at. (This is GCRA, as in `governor`, counted in
//! tokens on Envoy's fill schedule rather than in time.)
//!
//! ```
//! use std::time::Duration;
//! use mesh_resilience::bucket::{BucketConfig, TokenBucket};
//! use mesh_resilience::clock::ManualClock;
//!
//! let clock = ManualClock::new();
//! // Envoy: max_tokens 10, tokens_per_fill 5, fill_interval 1 s.
//! let config = BucketConfig::new(10, 5, Duration::from_secs(1)).unwrap();
//! let bucket = TokenBucket::with_clock(config, clock.clone());
//! assert!(bucket.try_acquire(10).is_ok());
//! let limited = bucket.try_acquire(1).unwrap_err();
//! assert_eq!(limited.retry_after, Some(Duration::from_secs(1)));
//! clock.advance(Duration::from_secs(1));
//! assert_eq!(bucket.available(), 5);
//! ```

mod keyed;

pub use keyed::KeyedBuckets;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mesh_core::telemetry::ResponseFlags;
use mesh_core::{ErrorClass, Side};

use crate::clock::{Clock, MonotonicClock, Timestamp, duration_nanos};
use crate::div::Divisor;
use crate::error::ConfigError;

/// The fastest schedule accepted: ten tokens per nanosecond, which keeps
/// the token count of the schedule within 64 bits for 58 years.
const MAX_TOKENS_PER_NANO: u64 = 10;

/// A bucket's size and fill schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketConfig {
    max_tokens: u64,
    tokens_per_fill: u64,
    interval: Divisor,
}

impl BucketConfig {
    /// Envoy's token bucket: holds at most `max_tokens`, starts full, and
    /// gains `tokens_per_fill` every `fill_interval`.
    pub fn new(
        max_tokens: u64,
        tokens_per_fill: u64,
        fill_interval: Duration,
    ) -> Result<Self, ConfigError> {
        if max_tokens == 0 {
            return Err(ConfigError::new("max_tokens", 0, "must be at least 1"));
        }
        if tokens_per_fill == 0 {
            return Err(ConfigError::new("tokens_per_fill", 0, "must be at least 1"));
        }
        let interval = duration_nanos(fill_interval);
        if interval == 0 {
            return Err(ConfigError::new(
                "fill_interval",
                "0s",
                "must be at least 1 ns",
            ));
        }
        if tokens_per_fill / interval >= MAX_TOKENS_PER_NANO {
            return Err(ConfigError::new(
                "tokens_per_fill",
                tokens_per_fill,
                "faster than 10 tokens per nanosecond",
            ));
        }
        Ok(BucketConfig {
            max_tokens,
            tokens_per_fill,
            interval: Divisor::new(interval),
        })
    }

    /// A smooth rate of `tokens` per `per`, one token at a time, with a
    /// burst of `tokens`. The fill interval is rounded to whole
    /// nanoseconds: rates are exact to better than 1 part in 2,000.
    pub fn rate(tokens: u64, per: Duration) -> Result<Self, ConfigError> {
        if tokens == 0 {
            return Err(ConfigError::new("rate", 0, "must be at least 1 token"));
        }
        let per = u128::from(duration_nanos(per));
        let tokens128 = u128::from(tokens);
        // Fill k tokens at a time so that the interval is at least 1 µs,
        // keeping the rounding error of the interval below 1 / 2,000.
        let k = (1_000 * tokens128).div_ceil(per.max(1)).max(1);
        let interval = (per * k + tokens128 / 2) / tokens128;
        let k = u64::try_from(k)
            .map_err(|_| ConfigError::new("rate", tokens, "too fast for 64 bits"))?;
        let interval = u64::try_from(interval)
            .map_err(|_| ConfigError::new("rate", tokens, "too slow for 64 bits"))?;
        BucketConfig::new(tokens, k, Duration::from_nanos(interval))
    }

    /// A smooth rate of `tokens` per second with a burst of `tokens`.
    pub fn per_second(tokens: u64) -> Result<Self, ConfigError> {
        BucketConfig::rate(tokens, Duration::from_secs(1))
    }

    /// The same schedule with a different bucket size (burst).
    pub fn with_max_tokens(self, max_tokens: u64) -> Result<Self, ConfigError> {
        if max_tokens == 0 {
            return Err(ConfigError::new("max_tokens", 0, "must be at least 1"));
        }
        Ok(BucketConfig { max_tokens, ..self })
    }

    /// The most tokens the bucket holds.
    pub const fn max_tokens(&self) -> u64 {
        self.max_tokens
    }

    /// Tokens added per fill.
    pub const fn tokens_per_fill(&self) -> u64 {
        self.tokens_per_fill
    }

    /// Time between fills.
    pub const fn fill_interval(&self) -> Duration {
        Duration::from_nanos(self.interval.get())
    }

    /// Tokens the schedule has added `elapsed_nanos` after creation.
    #[inline]
    fn filled(&self, elapsed_nanos: u64) -> u64 {
        self.interval
            .div(elapsed_nanos)
            .saturating_mul(self.tokens_per_fill)
    }
}

/// A request for tokens was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited: {requested} tokens requested, {available} available{}",
    match retry_after { Some(d) => format!(", retry in {d:?}"), None => ", never enough".to_owned() })]
pub struct RateLimited {
    /// Tokens asked for.
    pub requested: u64,
    /// Tokens in the bucket when refused.
    pub available: u64,
    /// How long until the bucket holds `requested` tokens, if nothing else
    /// takes any; `None` when it never can (more than `max_tokens`).
    pub retry_after: Option<Duration>,
}

impl RateLimited {
    /// `RL`, Envoy's flag for a local rate limit.
    pub const fn response_flags(&self) -> ResponseFlags {
        ResponseFlags::RATE_LIMITED
    }

    /// The HTTP status a proxy answers with: 429, as Envoy's local rate
    /// limit does.
    pub const fn status(&self) -> u16 {
        429
    }
}

impl ErrorClass for RateLimited {
    /// The client sent more than its share.
    fn side(&self) -> Side {
        Side::Downstream
    }

    /// Nothing was sent upstream.
    fn retry_safe(&self) -> bool {
        true
    }
}

/// Takes `n` tokens from the bucket whose taken count is `taken` and
/// whose fill schedule started at `start`, at `now`.
#[inline]
fn take(
    taken: &AtomicU64,
    start: u64,
    config: &BucketConfig,
    n: u64,
    now: Timestamp,
) -> Result<(), RateLimited> {
    let filled = config.filled(now.as_nanos().saturating_sub(start));
    let ceiling = filled.saturating_add(config.max_tokens);
    let mut current = taken.load(Ordering::Relaxed);
    loop {
        let next = current.max(filled).saturating_add(n);
        if next > ceiling {
            return Err(refusal(config, start, n, current, filled, now));
        }
        match taken.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(seen) => current = seen,
        }
    }
}

#[cold]
fn refusal(
    config: &BucketConfig,
    start: u64,
    n: u64,
    taken: u64,
    filled: u64,
    now: Timestamp,
) -> RateLimited {
    let available = config.max_tokens - taken.saturating_sub(filled).min(config.max_tokens);
    let retry_after = (n <= config.max_tokens).then(|| {
        // The schedule must reach taken + n - max_tokens.
        let need = taken.saturating_add(n) - config.max_tokens;
        let fills = need.div_ceil(config.tokens_per_fill);
        let at = start.saturating_add(fills.saturating_mul(config.interval.get()));
        Duration::from_nanos(at.saturating_sub(now.as_nanos()))
    });
    RateLimited {
        requested: n,
        available,
        retry_after,
    }
}

fn available(taken: &AtomicU64, start: u64, config: &BucketConfig, now: Timestamp) -> u64 {
    let filled = config.filled(now.as_nanos().saturating_sub(start));
    let debt = taken.load(Ordering::Relaxed).saturating_sub(filled);
    config.max_tokens - debt.min(config.max_tokens)
}

/// The state of one bucket, without its clock or configuration: what
/// [`KeyedBuckets`] keeps per key (16 bytes).
#[derive(Debug)]
pub(crate) struct Core {
    /// Tokens taken, on the schedule's count (see the module docs).
    taken: AtomicU64,
    /// Creation time: fills happen at `start + k × interval`.
    start: u64,
}

impl Core {
    pub(crate) fn new(start: Timestamp) -> Core {
        Core {
            taken: AtomicU64::new(0),
            start: start.as_nanos(),
        }
    }

    #[inline]
    pub(crate) fn try_acquire(
        &self,
        config: &BucketConfig,
        n: u64,
        now: Timestamp,
    ) -> Result<(), RateLimited> {
        take(&self.taken, self.start, config, n, now)
    }

    pub(crate) fn available(&self, config: &BucketConfig, now: Timestamp) -> u64 {
        available(&self.taken, self.start, config, now)
    }
}

/// The counter alone on its cache line: threads taking tokens bounce only
/// this line between cores, while the configuration they read stays
/// shared.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// A token bucket; see the [module docs](self).
///
/// All methods take `&self`: share it by reference or in an `Arc`.
pub struct TokenBucket<C: Clock = MonotonicClock> {
    taken: Padded,
    start: u64,
    config: BucketConfig,
    clock: C,
}

impl<C: Clock> fmt::Debug for TokenBucket<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("config", &self.config)
            .field("available", &self.available())
            .finish()
    }
}

impl TokenBucket<MonotonicClock> {
    /// A full bucket on the real clock.
    pub fn new(config: BucketConfig) -> Self {
        TokenBucket::with_clock(config, MonotonicClock::new())
    }
}

impl<C: Clock> TokenBucket<C> {
    /// A full bucket reading time from `clock`; fills are counted from now.
    pub fn with_clock(config: BucketConfig, clock: C) -> Self {
        TokenBucket {
            taken: Padded::default(),
            start: clock.now().as_nanos(),
            config,
            clock,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BucketConfig {
        &self.config
    }

    /// Takes `n` tokens now, or none at all.
    #[inline]
    pub fn try_acquire(&self, n: u64) -> Result<(), RateLimited> {
        take(&self.taken.0, self.start, &self.config, n, self.clock.now())
    }

    /// Tokens in the bucket now.
    pub fn available(&self) -> u64 {
        available(&self.taken.0, self.start, &self.config, self.clock.now())
    }

    /// Waits until `n` tokens can be taken and takes them. Fails at once,
    /// without waiting, when `n` exceeds `max_tokens`.
    ///
    /// Waiting uses tokio's timer for the time [`RateLimited::retry_after`]
    /// gives, so the clock must move with tokio's ([`MonotonicClock`], or
    /// [`TokioClock`](crate::clock::TokioClock) under paused time in tests;
    /// a [`ManualClock`](crate::clock::ManualClock) would wait forever).
    /// Waiters are not queued: under contention a later caller may be
    /// served first. Cancel-safe: tokens are taken only when it returns.
    pub async fn acquire(&self, n: u64) -> Result<(), RateLimited> {
        loop {
            match self.try_acquire(n) {
                Ok(()) => return Ok(()),
                Err(RateLimited {
                    retry_after: Some(wait),
                    ..
                }) => tokio::time::sleep(wait.max(Duration::from_nanos(1))).await,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn envoy_shape_fills_in_steps() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_millis(123));
        let cfg = BucketConfig::new(4, 2, Duration::from_millis(100)).unwrap();
        let b = TokenBucket::with_clock(cfg, clock.clone());
        assert_eq!(b.available(), 4);
        b.try_acquire(3).unwrap();
        assert_eq!(b.available(), 1);
        let e = b.try_acquire(2).unwrap_err();
        assert_eq!((e.requested, e.available), (2, 1));
        assert_eq!(e.retry_after, Some(Duration::from_millis(100)));
        clock.advance(Duration::from_millis(99));
        assert_eq!(b.available(), 1, "no fill before the interval");
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.available(), 3);
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.available(), 4, "capped at max_tokens");
        assert_eq!(b.try_acquire(5).unwrap_err().retry_after, None);
        b.try_acquire(0).unwrap();
    }

    #[test]
    fn smooth_rates() {
        let c = BucketConfig::per_second(10).unwrap();
        assert_eq!(
            (c.tokens_per_fill(), c.fill_interval()),
            (1, Duration::from_millis(100))
        );
        let c = BucketConfig::per_second(3).unwrap();
        assert_eq!(c.fill_interval(), Duration::from_nanos(333_333_333));
        let c = BucketConfig::per_second(10_000_000).unwrap();
        assert_eq!(
            (c.tokens_per_fill(), c.fill_interval()),
            (10, Duration::from_micros(1))
        );
        let c = BucketConfig::rate(1, Duration::from_secs(60)).unwrap();
        assert_eq!(c.fill_interval(), Duration::from_secs(60));
        assert_eq!(c.with_max_tokens(5).unwrap().max_tokens(), 5);
    }

    #[test]
    fn invalid_configs() {
        assert_eq!(
            BucketConfig::new(0, 1, Duration::from_secs(1))
                .unwrap_err()
                .field,
            "max_tokens"
        );
        assert_eq!(
            BucketConfig::new(1, 0, Duration::from_secs(1))
                .unwrap_err()
                .field,
            "tokens_per_fill"
        );
        assert_eq!(
            BucketConfig::new(1, 1, Duration::ZERO).unwrap_err().field,
            "fill_interval"
        );
        assert!(BucketConfig::new(1, 100, Duration::from_nanos(1)).is_err());
        assert!(BucketConfig::per_second(0).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_the_fill() {
        let clock = crate::clock::TokioClock::new();
        let cfg = BucketConfig::new(2, 1, Duration::from_millis(250)).unwrap();
        let b = TokenBucket::with_clock(cfg, clock);
        let started = tokio::time::Instant::now();
        b.acquire(2).await.unwrap();
        b.acquire(2).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        assert!(b.acquire(3).await.is_err());
    }
}
