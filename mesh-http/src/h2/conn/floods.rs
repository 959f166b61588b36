//! The rate limits of the hardening: one token bucket per kind of cheap
//! frame an attacker can repeat (resets, SETTINGS, PING, empty DATA).
//!
//! The buckets are mesh-resilience's, on tokio's clock, so tests drive
//! them with paused time.

use std::time::Duration;

use mesh_resilience::bucket::{BucketConfig, TokenBucket};
use mesh_resilience::clock::TokioClock;

use crate::h2::config::{Limits, RateLimit};

/// What was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    /// Stream resets the peer sent or provoked.
    Resets,
    /// SETTINGS frames.
    Settings,
    /// PING frames.
    Pings,
    /// Empty DATA frames without END_STREAM.
    EmptyData,
}

impl Flood {
    /// How the limit is named in errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flood::Resets => "stream resets",
            Flood::Settings => "SETTINGS frames",
            Flood::Pings => "PING frames",
            Flood::EmptyData => "empty DATA frames",
        }
    }
}

/// One bucket; `None` when the configured rate cannot be represented (it
/// is then not enforced, which `Config` documents never happens for rates
/// of at least one event per millisecond).
#[derive(Debug)]
struct Rate {
    bucket: Option<TokenBucket<TokioClock>>,
    limit: RateLimit,
}

impl Rate {
    fn new(limit: RateLimit, clock: TokioClock) -> Rate {
        let per = limit.per.max(Duration::from_millis(1));
        let bucket = BucketConfig::rate(u64::from(limit.max.max(1)), per)
            .ok()
            .map(|c| TokenBucket::with_clock(c, clock));
        Rate { bucket, limit }
    }

    fn admit(&self) -> bool {
        self.bucket
            .as_ref()
            .is_none_or(|b| b.try_acquire(1).is_ok())
    }
}

/// The per-connection counters.
#[derive(Debug)]
pub(crate) struct Floods {
    resets: Rate,
    settings: Rate,
    pings: Rate,
    empty_data: Rate,
}

impl Floods {
    pub(crate) fn new(limits: &Limits) -> Floods {
        let clock = TokioClock::new();
        Floods {
            resets: Rate::new(limits.resets, clock),
            settings: Rate::new(limits.settings, clock),
            pings: Rate::new(limits.pings, clock),
            empty_data: Rate::new(limits.empty_data, clock),
        }
    }

    /// Counts one event of `kind`: `Err` with the limit when over it.
    pub(crate) fn count(&self, kind: Flood) -> Result<(), RateLimit> {
        let rate = match kind {
            Flood::Resets => &self.resets,
            Flood::Settings => &self.settings,
            Flood::Pings => &self.pings,
            Flood::EmptyData => &self.empty_data,
        };
        if rate.admit() {
            Ok(())
        } else {
            Err(rate.limit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn buckets_refill_with_time() {
        let limits = Limits {
            pings: RateLimit::new(3, Duration::from_secs(3)),
            ..Limits::default()
        };
        let f = Floods::new(&limits);
        for _ in 0..3 {
            f.count(Flood::Pings).unwrap();
        }
        assert_eq!(f.count(Flood::Pings), Err(limits.pings));
        // Other kinds are counted apart.
        f.count(Flood::Settings).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        f.count(Flood::Pings).unwrap();
        assert!(f.count(Flood::Pings).is_err());
    }
}
