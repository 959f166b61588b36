//! Exponential backoff with full jitter.

use std::time::Duration;

use crate::clock::duration_nanos;
use crate::error::ConfigError;
use crate::rand::Random;

/// The delay before each retry: uniform in `[0, min(max, base × 2^k))` for
/// the `k`-th retry (from 0), as Envoy's jittered exponential backoff.
///
/// Full jitter spreads the retries of many clients that failed together,
/// so they do not return in lockstep. A small `Copy` value: the maths is
/// pure and takes its randomness as an argument, so it is tested with a
/// seeded source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Default for Backoff {
    /// Envoy's defaults: 25 ms base, 250 ms cap.
    fn default() -> Self {
        Backoff::ENVOY
    }
}

impl Backoff {
    /// Envoy's defaults: 25 ms base, 250 ms cap (ten times the base).
    pub const ENVOY: Backoff = Backoff {
        base: Duration::from_millis(25),
        max: Duration::from_millis(250),
    };

    /// A backoff from `base` growing to at most `max`.
    pub fn new(base: Duration, max: Duration) -> Result<Self, ConfigError> {
        if base.is_zero() {
            return Err(ConfigError::new("base_interval", "0s", "must be positive"));
        }
        if max < base {
            return Err(ConfigError::new(
                "max_interval",
                format!("{max:?}"),
                "must not be shorter than base_interval",
            ));
        }
        Ok(Backoff { base, max })
    }

    /// A backoff from `base` to ten times `base`, Envoy's default cap.
    pub fn with_base(base: Duration) -> Result<Self, ConfigError> {
        Backoff::new(base, base.saturating_mul(10))
    }

    /// The base interval.
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The cap.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The upper bound of the `retry`-th delay (0 is the first retry):
    /// `min(max, base × 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The `retry`-th delay, drawn from `random`.
    pub fn delay(&self, retry: u32, random: &(impl Random + ?Sized)) -> Duration {
        Duration::from_nanos(random.below(duration_nanos(self.ceiling(retry))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;
    use proptest::prelude::*;

    #[test]
    fn envoy_ceilings() {
        let b = Backoff::default();
        let ms: Vec<u128> = (0..6).map(|k| b.ceiling(k).as_millis()).collect();
        assert_eq!(ms, [25, 50, 100, 200, 250, 250]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(250));
        assert!(Backoff::new(Duration::ZERO, Duration::from_secs(1)).is_err());
        assert!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).is_err());
        assert_eq!(
            Backoff::with_base(Duration::from_millis(3)).unwrap().max(),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn delays_fill_the_range() {
        let b = Backoff::default();
        let r = SeededRandom::new(3);
        let delays: Vec<Duration> = (0..2000).map(|_| b.delay(0, &r)).collect();
        let mean = delays.iter().sum::<Duration>() / 2000;
        // Uniform on [0, 25 ms): mean 12.5 ms, and both ends are reached.
        assert!(
            (Duration::from_millis(12)..Duration::from_millis(13)).contains(&mean),
            "{mean:?}"
        );
        assert!(delays.iter().any(|d| *d < Duration::from_millis(1)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(24)));
    }

    proptest! {
        #[test]
        fn delay_is_below_a_monotone_capped_ceiling(
            base_ms in 1u64..1000, factor in 1u64..100, retry in 0u32..80, seed: u64,
        ) {
            let b = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(base_ms * factor)).unwrap();
            let r = SeededRandom::new(seed);
            prop_assert!(b.delay(retry, &r) < b.ceiling(retry));
            prop_assert!(b.ceiling(retry) <= b.max());
            prop_assert!(b.ceiling(retry) <= b.ceiling(retry + 1));
            prop_assert!(b.ceiling(retry) >= b.base());
        }
    }
}
