//! What a breaker is configured with: its trip rules and open times.

use std::time::Duration;

use crate::error::ConfigError;

/// The failure-rate trip rule: trip when at least `threshold_percent` of
/// the calls in the last `window` failed, once there were at least
/// `minimum_volume` calls in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRate {
    /// The failure percentage (1 to 100) at or above which the breaker trips.
    pub threshold_percent: u8,
    /// The fewest calls in the window for the rate to count.
    pub minimum_volume: u32,
    /// How far back the window reaches.
    pub window: Duration,
    /// How many buckets the window is cut into (1 to 1024): outcomes leave
    /// the window one bucket at a time, every `window / buckets`.
    pub buckets: u16,
}

impl Default for FailureRate {
    /// 50 % over 10 s in 10 buckets, with at least 20 calls.
    fn default() -> Self {
        FailureRate {
            threshold_percent: 50,
            minimum_volume: 20,
            window: Duration::from_secs(10),
            buckets: 10,
        }
    }
}

/// How a [`Breaker`](super::Breaker) trips and recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Trip after this many consecutive failures (`None`: no such rule).
    pub consecutive_failures: Option<u32>,
    /// Trip on a failure rate over a sliding window (`None`: no such rule).
    pub failure_rate: Option<FailureRate>,
    /// The open time after the first trip; the `n`-th trip in a row opens
    /// for `base_open × n`. Whole milliseconds count.
    pub base_open: Duration,
    /// The longest open time.
    pub max_open: Duration,
    /// How many probes HalfOpen admits, and how many must succeed to close.
    pub half_open_probes: u16,
}

impl Default for BreakerConfig {
    /// Five consecutive failures, no rate rule, open for 5 s growing to at
    /// most 60 s, three probes.
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: Some(5),
            failure_rate: None,
            base_open: Duration::from_secs(5),
            max_open: Duration::from_secs(60),
            half_open_probes: 3,
        }
    }
}

/// Open-until times are kept in 40 bits of milliseconds (34 years).
pub(super) const MAX_MILLIS: u64 = (1 << 40) - 1;

impl BreakerConfig {
    /// Checks that the configuration can work: at least one trip rule,
    /// thresholds in range, open times of at least 1 ms, `max_open` no
    /// shorter than `base_open`, at least one probe.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.consecutive_failures.is_none() && self.failure_rate.is_none() {
            return Err(ConfigError::new(
                "consecutive_failures",
                "None",
                "a breaker needs at least one trip rule",
            ));
        }
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::new(
                "consecutive_failures",
                0,
                "must be at least 1",
            ));
        }
        if let Some(rate) = &self.failure_rate {
            if !(1..=100).contains(&rate.threshold_percent) {
                return Err(ConfigError::new(
                    "failure_rate.threshold_percent",
                    rate.threshold_percent,
                    "must be 1 to 100",
                ));
            }
            if rate.minimum_volume == 0 {
                return Err(ConfigError::new(
                    "failure_rate.minimum_volume",
                    0,
                    "must be at least 1",
                ));
            }
            if !(1..=1024).contains(&rate.buckets) {
                return Err(ConfigError::new(
                    "failure_rate.buckets",
                    rate.buckets,
                    "must be 1 to 1024",
                ));
            }
            if rate.window < Duration::from_millis(u64::from(rate.buckets)) {
                return Err(ConfigError::new(
                    "failure_rate.window",
                    format!("{:?}", rate.window),
                    "buckets must be at least 1 ms wide",
                ));
            }
        }
        if self.base_open < Duration::from_millis(1) {
            return Err(ConfigError::new(
                "base_open",
                format!("{:?}", self.base_open),
                "must be at least 1 ms",
            ));
        }
        if self.max_open < self.base_open {
            return Err(ConfigError::new(
                "max_open",
                format!("{:?}", self.max_open),
                "must not be shorter than base_open",
            ));
        }
        if self.half_open_probes == 0 {
            return Err(ConfigError::new(
                "half_open_probes",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The open time of the `n`-th trip in a row: `base_open × n`, capped at
    /// `max_open`, in whole milliseconds.
    pub fn open_time(&self, n: u32) -> Duration {
        Duration::from_millis(self.open_millis(n))
    }

    pub(super) fn open_millis(&self, n: u32) -> u64 {
        let base = millis(self.base_open);
        let max = millis(self.max_open);
        base.saturating_mul(u64::from(n.max(1))).min(max)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(MAX_MILLIS)
}
