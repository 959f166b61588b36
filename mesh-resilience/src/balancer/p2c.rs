//! Power of two choices: by least requests and by peak EWMA latency.
//!
//! Two endpoints are drawn at random and the less loaded one wins. Unlike
//! "pick the least loaded of all", it needs no scan and no shared order,
//! and it does not stampede onto one endpoint that briefly looks idle to
//! every proxy at once; yet it cuts the worst-case load exponentially
//! compared with one random choice.

use std::time::Duration;

use super::{Candidate, Load};
use crate::clock::{Timestamp, duration_nanos};
use crate::error::ConfigError;
use crate::rand::Random;

/// Draws of two before counting the available endpoints exactly.
const DRAWS: usize = 4;

/// The less loaded of two available endpoints drawn at random:
/// `b_is_better(a, b)` compares them.
#[inline]
fn two_choices<E: Candidate, R: Random + ?Sized>(
    endpoints: &[E],
    random: &R,
    b_is_better: impl Fn(&E, &E) -> bool,
) -> Option<usize> {
    let n = endpoints.len();
    if n < 2 {
        return endpoints
            .first()
            .and_then(|e| e.is_available().then_some(0));
    }
    let better = |a: usize, b: usize| {
        if b_is_better(&endpoints[a], &endpoints[b]) {
            b
        } else {
            a
        }
    };
    for _ in 0..DRAWS {
        let (a, b) = two_distinct(n, random);
        match (endpoints[a].is_available(), endpoints[b].is_available()) {
            (true, true) => return Some(better(a, b)),
            (true, false) => return Some(a),
            (false, true) => return Some(b),
            (false, false) => {}
        }
    }
    // Mostly ejected: draw two among the available ones exactly.
    let k = endpoints.iter().filter(|e| e.is_available()).count();
    let nth = |rank: usize| {
        endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_available())
            .nth(rank)
            .map(|(i, _)| i)
    };
    match k {
        0 => None,
        1 => nth(0),
        _ => {
            let (ra, rb) = two_distinct(k, random);
            Some(better(nth(ra)?, nth(rb)?))
        }
    }
}

#[inline]
fn two_distinct<R: Random + ?Sized>(n: usize, random: &R) -> (usize, usize) {
    let a = random.below(n as u64) as usize;
    let mut b = random.below(n as u64 - 1) as usize;
    if b >= a {
        b += 1;
    }
    (a, b)
}

/// Power of two choices by requests in flight (Envoy's `LEAST_REQUEST`
/// with `choice_count` 2; weights are not used).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastRequest;

impl LeastRequest {
    /// The one of two random available endpoints with fewer requests in
    /// flight.
    #[inline]
    pub fn pick<E: Candidate, R: Random + ?Sized>(
        &self,
        endpoints: &[E],
        random: &R,
    ) -> Option<usize> {
        two_choices(endpoints, random, |a, b| {
            b.load().active() < a.load().active()
        })
    }
}

/// Settings of [`PeakEwma`]; the defaults are linkerd's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeakEwmaConfig {
    /// The time constant of the latency estimate (10 s).
    pub decay: Duration,
    /// The latency assumed for an endpoint with no observation (30 ms).
    pub default_rtt: Duration,
}

impl Default for PeakEwmaConfig {
    fn default() -> Self {
        PeakEwmaConfig {
            decay: Duration::from_secs(10),
            default_rtt: Duration::from_millis(30),
        }
    }
}

impl PeakEwmaConfig {
    /// The decay must be positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.decay.is_zero() {
            return Err(ConfigError::new(
                "peak_ewma.decay",
                "0s",
                "must be positive",
            ));
        }
        Ok(())
    }
}

/// Power of two choices by peak-EWMA latency × (requests in flight + 1),
/// as linkerd balances: an endpoint that slows down is avoided at once,
/// and tried again as its estimate decays.
#[derive(Debug, Clone, Copy)]
pub struct PeakEwma {
    config: PeakEwmaConfig,
}

impl PeakEwma {
    /// A balancer with `config`.
    pub fn new(config: PeakEwmaConfig) -> Self {
        PeakEwma { config }
    }

    /// The settings (the cluster uses `decay` when recording latencies).
    pub fn config(&self) -> &PeakEwmaConfig {
        &self.config
    }

    /// The one of two random available endpoints with the lower cost.
    #[inline]
    pub fn pick<E: Candidate, R: Random + ?Sized>(
        &self,
        endpoints: &[E],
        random: &R,
        now: Timestamp,
    ) -> Option<usize> {
        two_choices(endpoints, random, |a, b| {
            self.b_is_better(a.load(), b.load(), now)
        })
    }

    /// Whether `b` costs less than `a`: `estimate × (active + 1)`, with
    /// each estimate decayed by `e^(-age / decay)`. When both have an
    /// estimate from the past, the decays are compared as one factor
    /// `e^((stamp_b - stamp_a) / decay)`, one `exp` instead of two.
    #[inline]
    fn b_is_better(&self, a: &Load, b: &Load, now: Timestamp) -> bool {
        let load_a = (a.active() + 1) as f64;
        let load_b = (b.active() + 1) as f64;
        let t = now.as_nanos();
        match (a.raw(), b.raw()) {
            (Some((ra, sa)), Some((rb, sb))) if sa <= t && sb <= t => {
                let decay = duration_nanos(self.config.decay).max(1) as f64;
                let factor = if sa == sb {
                    1.0
                } else {
                    ((sb as f64 - sa as f64) / decay).exp()
                };
                rb * load_b * factor < ra * load_a
            }
            _ => {
                let default = duration_nanos(self.config.default_rtt) as f64;
                let cost = |l: &Load, load: f64| {
                    l.estimate_at(now, self.config.decay).unwrap_or(default) * load
                };
                cost(b, load_b) < cost(a, load_a)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::eps;
    use super::*;
    use crate::rand::SeededRandom;

    #[test]
    fn least_request_avoids_the_busy_endpoint() {
        let set = eps(2);
        for _ in 0..5 {
            set[0].load.start();
        }
        let r = SeededRandom::new(9);
        for _ in 0..100 {
            assert_eq!(LeastRequest.pick(&set, &r), Some(1));
        }
    }

    #[test]
    fn peak_ewma_avoids_the_slow_endpoint_until_it_decays() {
        let set = eps(2);
        let cfg = PeakEwmaConfig::default();
        let t0 = Timestamp::ZERO;
        set[0]
            .load
            .observe(Duration::from_millis(500), t0, cfg.decay);
        set[1]
            .load
            .observe(Duration::from_millis(20), t0, cfg.decay);
        let b = PeakEwma::new(cfg);
        let r = SeededRandom::new(3);
        assert!((0..100).all(|_| b.pick(&set, &r, t0) == Some(1)));
        // A minute later the 500 ms peak has decayed to 1.2 ms, while the
        // other endpoint keeps answering in 20 ms.
        let later = t0.saturating_add(Duration::from_secs(60));
        set[1]
            .load
            .observe(Duration::from_millis(20), later, cfg.decay);
        assert!((0..100).all(|_| b.pick(&set, &r, later) == Some(0)));
    }

    proptest::proptest! {
        #[test]
        fn one_exp_comparison_matches_explicit_costs(
            ra in 1u64..1_000_000_000, rb in 1u64..1_000_000_000,
            sa in 0u64..100_000_000_000, sb in 0u64..100_000_000_000,
            extra in 0u64..100_000_000_000, aa in 0u64..50, ab in 0u64..50,
        ) {
            let cfg = PeakEwmaConfig::default();
            let (a, b) = (Load::new(), Load::new());
            a.observe(Duration::from_nanos(ra), Timestamp::from_nanos(sa), cfg.decay);
            b.observe(Duration::from_nanos(rb), Timestamp::from_nanos(sb), cfg.decay);
            for _ in 0..aa { a.start(); }
            for _ in 0..ab { b.start(); }
            let now = Timestamp::from_nanos(sa.max(sb) + extra);
            let cost = |l: &Load| l.estimate_at(now, cfg.decay).unwrap() * (l.active() + 1) as f64;
            let (ca, cb) = (cost(&a), cost(&b));
            // Ties within rounding may go either way.
            if (ca - cb).abs() > 1e-9 * ca.max(cb) {
                proptest::prop_assert_eq!(PeakEwma::new(cfg).b_is_better(&a, &b, now), cb < ca);
            }
        }
    }

    #[test]
    fn two_choices_balance_load() {
        // Simulated: each pick adds a request; after many picks the spread
        // between the busiest and idlest endpoint stays small.
        let set = eps(10);
        let r = SeededRandom::new(5);
        for _ in 0..10_000 {
            let i = LeastRequest.pick(&set, &r).unwrap();
            set[i].load.start();
        }
        let loads: Vec<u64> = set.iter().map(|e| e.load.active()).collect();
        let spread = loads.iter().max().unwrap() - loads.iter().min().unwrap();
        assert!(spread <= 5, "{loads:?}");
        assert_eq!(loads.iter().sum::<u64>(), 10_000);
    }

    #[test]
    fn mostly_ejected_sets_still_pick_among_the_available() {
        let set = eps(50);
        for e in &set[..48] {
            e.set_up(false);
        }
        set[48].load.start();
        let r = SeededRandom::new(11);
        for _ in 0..100 {
            let i = LeastRequest.pick(&set, &r).unwrap();
            assert!(i >= 48);
        }
    }
}
