//! Load balancers: round robin, weighted random, power of two choices by
//! least requests and by peak EWMA latency, ring hash (ketama) and Maglev.
//!
//! A balancer is built for one endpoint set ([`LbPolicy::build`]; the
//! hashing ones precompute their ring or table) and then picks an index
//! into that set on every request ([`Balancer::pick`]). Endpoints are
//! anything that implements [`Candidate`]: the cluster's endpoints do, and
//! tests use small structs.
//!
//! Every balancer skips endpoints that are not available (ejected by
//! outlier detection), and returns `None` only when none is. Skipping never
//! changes the choice for a request whose endpoint is available, so
//! hashing balancers keep their affinity for every healthy endpoint while
//! one is ejected. Randomness comes from an injected [`Random`], so tests
//! check distributions exactly with a seeded source.
//!
//! ```
//! use mesh_resilience::balancer::{Candidate, LbPolicy, Load};
//! use mesh_resilience::clock::Timestamp;
//! use mesh_resilience::rand::SeededRandom;
//!
//! struct Ep { name: String, load: Load, up: bool }
//! impl Candidate for Ep {
//!     fn is_available(&self) -> bool { self.up }
//!     fn weight(&self) -> u32 { 1 }
//!     fn load(&self) -> &Load { &self.load }
//!     fn hash_name(&self) -> &str { &self.name }
//! }
//!
//! let eps: Vec<Ep> = (0..3)
//!     .map(|i| Ep { name: format!("10.0.0.{i}:80"), load: Load::new(), up: i != 1 })
//!     .collect();
//! let maglev = LbPolicy::maglev().build(&eps);
//! let random = SeededRandom::new(1);
//! for key in 0..100u64 {
//!     let i = maglev.pick(&eps, Some(key), &random, Timestamp::ZERO).unwrap();
//!     assert_ne!(i, 1, "ejected endpoints are skipped");
//! }
//! ```

mod maglev;
mod p2c;
mod ring_hash;
mod round_robin;
mod weighted;

pub use maglev::{Maglev, MaglevConfig};
pub use p2c::{LeastRequest, PeakEwma, PeakEwmaConfig};
pub use ring_hash::{RingHash, RingHashConfig};
pub use round_robin::RoundRobin;
pub use weighted::WeightedRandom;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{Timestamp, duration_nanos};
use crate::error::ConfigError;
use crate::rand::Random;

/// What a balancer needs to know about an endpoint.
pub trait Candidate {
    /// Whether the endpoint may be picked (not ejected).
    fn is_available(&self) -> bool;
    /// The endpoint's weight (at least 1; 0 is read as 1).
    fn weight(&self) -> u32;
    /// The endpoint's live load: requests in flight and latency.
    fn load(&self) -> &Load;
    /// The stable name that places the endpoint on hash rings and Maglev
    /// tables (its address): every proxy must use the same one.
    fn hash_name(&self) -> &str;
}

/// An endpoint's live load: requests in flight and a peak-EWMA latency.
///
/// The cluster counts a request from pick to completion
/// ([`start`](Self::start) / [`finish`](Self::finish)). The latency
/// estimate jumps to any slower observation at once (the peak) and decays
/// toward faster ones and, between observations, toward zero with time
/// constant `decay`, as in Finagle and linkerd. Two observations racing on
/// one endpoint keep one of them; the estimate is a heuristic and a lock
/// would cost more than that imprecision.
#[derive(Debug, Default)]
pub struct Load {
    active: AtomicU64,
    /// The estimate in nanoseconds, as `f64` bits; 0 before any.
    ewma: AtomicU64,
    /// When the estimate was last updated (nanos).
    stamp: AtomicU64,
}

impl Load {
    /// No requests, no latency observed.
    pub fn new() -> Self {
        Load::default()
    }

    /// Requests in flight.
    #[inline]
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts a request in flight.
    #[inline]
    pub fn start(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a request; `rtt` (if it completed) updates the estimate.
    pub fn finish(&self, rtt: Option<Duration>, now: Timestamp, decay: Duration) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        if let Some(rtt) = rtt {
            self.observe(rtt, now, decay);
        }
    }

    /// Folds one latency observation into the estimate.
    pub fn observe(&self, rtt: Duration, now: Timestamp, decay: Duration) {
        let rtt = duration_nanos(rtt) as f64;
        let bits = self.ewma.load(Ordering::Relaxed);
        let next = if bits == 0 {
            rtt
        } else {
            // EWMA toward the sample with weight e^(-elapsed / decay) on
            // the old estimate; a sample above the decayed estimate is a
            // new peak and replaces it.
            let w = self.decay_weight(now, decay);
            let decayed = f64::from_bits(bits) * w;
            if rtt > decayed {
                rtt
            } else {
                decayed + rtt * (1.0 - w)
            }
        };
        // 0 means "no estimate": keep a real 0 ns observation distinct.
        self.ewma
            .store(next.max(f64::MIN_POSITIVE).to_bits(), Ordering::Relaxed);
        self.stamp.store(now.as_nanos(), Ordering::Relaxed);
    }

    fn decay_weight(&self, now: Timestamp, decay: Duration) -> f64 {
        let elapsed = now
            .as_nanos()
            .saturating_sub(self.stamp.load(Ordering::Relaxed));
        (-(elapsed as f64) / duration_nanos(decay).max(1) as f64).exp()
    }

    /// The undecayed estimate and when it was made, if any.
    #[inline]
    pub(crate) fn raw(&self) -> Option<(f64, u64)> {
        let bits = self.ewma.load(Ordering::Relaxed);
        (bits != 0).then(|| (f64::from_bits(bits), self.stamp.load(Ordering::Relaxed)))
    }

    /// The latency estimate in nanoseconds at `now`, decayed since the last
    /// observation; `None` before any.
    pub fn estimate_at(&self, now: Timestamp, decay: Duration) -> Option<f64> {
        let bits = self.ewma.load(Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits) * self.decay_weight(now, decay))
    }
}

/// Which balancer to build for an endpoint set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LbPolicy {
    /// Each endpoint in turn (weights ignored).
    RoundRobin,
    /// At random, in proportion to weight: traffic splits between version
    /// subsets.
    WeightedRandom,
    /// Two at random, the one with fewer requests in flight (Envoy's
    /// `LEAST_REQUEST`).
    LeastRequest,
    /// Two at random, the one with the lower peak-EWMA latency × load
    /// (linkerd's default).
    PeakEwma(PeakEwmaConfig),
    /// Consistent hashing on a ketama ring.
    RingHash(RingHashConfig),
    /// Consistent hashing on a Maglev table.
    Maglev(MaglevConfig),
}

impl LbPolicy {
    /// Peak EWMA with linkerd's defaults.
    pub fn peak_ewma() -> LbPolicy {
        LbPolicy::PeakEwma(PeakEwmaConfig::default())
    }

    /// Ring hash with ketama's 160 points per endpoint.
    pub fn ring_hash() -> LbPolicy {
        LbPolicy::RingHash(RingHashConfig::default())
    }

    /// Maglev with Envoy's table of 65,537 entries.
    pub fn maglev() -> LbPolicy {
        LbPolicy::Maglev(MaglevConfig::default())
    }

    /// Checks the policy's settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            LbPolicy::RingHash(c) => c.validate(),
            LbPolicy::Maglev(c) => c.validate(),
            LbPolicy::PeakEwma(c) => c.validate(),
            _ => Ok(()),
        }
    }

    /// Builds the balancer for `endpoints` (the policy must be valid).
    pub fn build<E: Candidate>(&self, endpoints: &[E]) -> Balancer {
        match self {
            LbPolicy::RoundRobin => Balancer::RoundRobin(RoundRobin::new()),
            LbPolicy::WeightedRandom => Balancer::WeightedRandom(WeightedRandom::new(endpoints)),
            LbPolicy::LeastRequest => Balancer::LeastRequest(LeastRequest),
            LbPolicy::PeakEwma(c) => Balancer::PeakEwma(PeakEwma::new(*c)),
            LbPolicy::RingHash(c) => Balancer::RingHash(RingHash::new(endpoints, c)),
            LbPolicy::Maglev(c) => Balancer::Maglev(Maglev::new(endpoints, c)),
        }
    }
}

/// A balancer built for one endpoint set.
#[derive(Debug)]
pub enum Balancer {
    /// See [`RoundRobin`].
    RoundRobin(RoundRobin),
    /// See [`WeightedRandom`].
    WeightedRandom(WeightedRandom),
    /// See [`LeastRequest`].
    LeastRequest(LeastRequest),
    /// See [`PeakEwma`].
    PeakEwma(PeakEwma),
    /// See [`RingHash`].
    RingHash(RingHash),
    /// See [`Maglev`].
    Maglev(Maglev),
}

impl Balancer {
    /// Picks an available endpoint of `endpoints` (the set it was built
    /// for): its index, or `None` if none is available. `hash` is the
    /// request's key for the hashing balancers (without one they pick at
    /// random); `now` is for peak EWMA.
    #[inline]
    pub fn pick<E: Candidate, R: Random + ?Sized>(
        &self,
        endpoints: &[E],
        hash: Option<u64>,
        random: &R,
        now: Timestamp,
    ) -> Option<usize> {
        match self {
            Balancer::RoundRobin(b) => b.pick(endpoints),
            Balancer::WeightedRandom(b) => b.pick(endpoints, random),
            Balancer::LeastRequest(b) => b.pick(endpoints, random),
            Balancer::PeakEwma(b) => b.pick(endpoints, random, now),
            Balancer::RingHash(b) => b.pick(endpoints, hash.unwrap_or_else(|| random.next_u64())),
            Balancer::Maglev(b) => b.pick(endpoints, hash.unwrap_or_else(|| random.next_u64())),
        }
    }
}

/// The first available endpoint at or after `start`, wrapping around.
pub(crate) fn first_available<E: Candidate>(endpoints: &[E], start: usize) -> Option<usize> {
    let n = endpoints.len();
    (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| endpoints[i].is_available())
}

/// Reads weight 0 as 1.
#[inline]
pub(crate) fn weight_of<E: Candidate>(e: &E) -> u64 {
    u64::from(e.weight().max(1))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A test endpoint.
    #[derive(Debug)]
    pub(crate) struct Ep {
        pub name: String,
        pub weight: u32,
        pub up: AtomicBool,
        pub load: Load,
    }

    impl Ep {
        pub(crate) fn new(i: usize, weight: u32) -> Ep {
            Ep {
                name: format!("10.0.{}.{}:8080", i / 256, i % 256),
                weight,
                up: AtomicBool::new(true),
                load: Load::new(),
            }
        }

        pub(crate) fn set_up(&self, up: bool) {
            self.up.store(up, Ordering::Relaxed);
        }
    }

    impl Candidate for Ep {
        fn is_available(&self) -> bool {
            self.up.load(Ordering::Relaxed)
        }
        fn weight(&self) -> u32 {
            self.weight
        }
        fn load(&self) -> &Load {
            &self.load
        }
        fn hash_name(&self) -> &str {
            &self.name
        }
    }

    pub(crate) fn eps(n: usize) -> Vec<Ep> {
        (0..n).map(|i| Ep::new(i, 1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::eps;
    use super::*;
    use crate::rand::SeededRandom;

    #[test]
    fn peak_ewma_jumps_up_and_decays() {
        let load = Load::new();
        let decay = Duration::from_secs(10);
        let t = |s: u64| Timestamp::from_nanos(s * 1_000_000_000);
        assert_eq!(load.estimate_at(t(0), decay), None);
        load.observe(Duration::from_millis(10), t(0), decay);
        load.observe(Duration::from_millis(100), t(0), decay);
        assert_eq!(
            load.estimate_at(t(0), decay),
            Some(100e6),
            "a slower sample is taken at once"
        );
        load.observe(Duration::from_millis(10), t(10), decay);
        // 100 ms weighted e^-1 after one decay period, 10 ms weighted 1 - e^-1.
        let e = load.estimate_at(t(10), decay).unwrap();
        assert!((e - 43.11e6).abs() < 0.01e6, "{e}");
        // Without samples the estimate decays toward zero.
        let later = load.estimate_at(t(20), decay).unwrap();
        assert!(
            (later - 43.11e6 / std::f64::consts::E).abs() < 0.01e6,
            "{later}"
        );
        load.start();
        assert_eq!(load.active(), 1);
        load.finish(None, t(10), decay);
        assert_eq!(load.active(), 0);
    }

    #[test]
    fn every_balancer_returns_none_when_all_are_ejected() {
        let set = eps(5);
        for e in &set {
            e.set_up(false);
        }
        let r = SeededRandom::new(1);
        for policy in [
            LbPolicy::RoundRobin,
            LbPolicy::WeightedRandom,
            LbPolicy::LeastRequest,
            LbPolicy::peak_ewma(),
            LbPolicy::ring_hash(),
            LbPolicy::maglev(),
        ] {
            let b = policy.build(&set);
            assert_eq!(
                b.pick(&set, Some(7), &r, Timestamp::ZERO),
                None,
                "{policy:?}"
            );
            set[3].set_up(true);
            for _ in 0..20 {
                assert_eq!(
                    b.pick(&set, Some(7), &r, Timestamp::ZERO),
                    Some(3),
                    "{policy:?}"
                );
            }
            set[3].set_up(false);
            let empty: Vec<super::testing::Ep> = Vec::new();
            assert_eq!(
                policy.build(&empty).pick(&empty, None, &r, Timestamp::ZERO),
                None
            );
        }
    }
}
