//! Outlier detection: ejecting endpoints that fail, as Envoy does.
//!
//! Each endpoint has a [`HostState`]; every response or failure is
//! recorded against it with [`OutlierDetector::record`]. Three rules eject
//! an endpoint, so that load balancers skip it:
//!
//! - **consecutive 5xx**: the n-th 5xx in a row (a locally originated
//!   failure such as a refused connection, a reset or a timeout counts as
//!   a gateway failure, as in Envoy without split local-origin errors);
//! - **consecutive gateway failures**: the n-th 502, 503, 504 or local
//!   failure in a row (a 500 breaks the run);
//! - **success rate**: on each interval, among endpoints with enough
//!   requests, those whose success rate is below `mean − factor × stdev`
//!   (only when enough endpoints qualify).
//!
//! An ejection lasts `base_ejection_time × k`, capped at
//! `max(base_ejection_time, max_ejection_time)`, where `k` counts recent
//! ejections: it grows by one per ejection and shrinks by one per interval
//! once the endpoint has stayed healthy for a base ejection time since
//! its return. Ejected endpoints come back on the interval tick
//! ([`OutlierDetector::tick`]) after their time is up. No more than
//! `max_ejection_percent` of the endpoints are ejected at once: an
//! ejection happens only while fewer than that share are out (so with the
//! default 10 % and fewer than ten endpoints, one may be ejected).
//!
//! The settings and defaults are Envoy's `outlier_detection`, which
//! Istio's DestinationRule `outlierDetection` fills in
//! (`consecutive5xxErrors`, `consecutiveGatewayErrors`, `interval`,
//! `baseEjectionTime`, `maxEjectionPercent`). Istio leaves success-rate
//! ejection off, and so does [`OutlierConfig::default`].
//!
//! ```
//! use std::time::Duration;
//! use mesh_resilience::clock::Timestamp;
//! use mesh_resilience::outlier::{HostState, OutlierConfig, OutlierDetector, Outcome};
//!
//! let detector = OutlierDetector::new(OutlierConfig {
//!     consecutive_5xx: Some(2),
//!     max_ejection_percent: 100,
//!     ..OutlierConfig::default()
//! }).unwrap();
//! let hosts = [HostState::new(), HostState::new()];
//! detector.set_host_count(hosts.len());
//! let t0 = Timestamp::ZERO;
//! detector.record(&hosts[0], Outcome::from_status(503), t0);
//! detector.record(&hosts[0], Outcome::from_status(500), t0);
//! assert!(hosts[0].is_ejected());
//! // Back after the base ejection time (30 s), on the interval tick.
//! let later = t0.saturating_add(Duration::from_secs(30));
//! let events = detector.tick(hosts.iter(), later);
//! assert!(!hosts[0].is_ejected());
//! assert_eq!(events.len(), 1);
//! ```

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use mesh_core::ErrorClass;
use mesh_core::Side;

use crate::clock::{Clock, Timestamp, duration_nanos};
use crate::error::ConfigError;

/// What happened to one request, as outlier detection counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Any response that is not a 5xx.
    Success,
    /// A 5xx other than 502, 503 and 504.
    ServerError,
    /// A 502, 503 or 504, or a locally originated failure: connect
    /// failure, reset, timeout.
    GatewayFailure,
}

impl Outcome {
    /// The outcome of an HTTP response status.
    pub const fn from_status(status: u16) -> Outcome {
        match status {
            502..=504 => Outcome::GatewayFailure,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Success,
        }
    }

    /// The outcome of a failed request, or `None` when the failure is not
    /// the endpoint's (the client went away, a limit of this proxy).
    pub fn from_error(error: &dyn ErrorClass) -> Option<Outcome> {
        (error.side() == Side::Upstream).then_some(Outcome::GatewayFailure)
    }
}

/// Success-rate ejection (Envoy's `success_rate_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessRate {
    /// The fewest endpoints with enough volume for the rule to run (5).
    pub minimum_hosts: u32,
    /// The fewest requests in an interval for an endpoint to count (100).
    pub request_volume: u32,
    /// The ejection threshold is `mean − stdev × stdev_factor / 1000`
    /// (1900, that is 1.9).
    pub stdev_factor: u32,
}

impl Default for SuccessRate {
    fn default() -> Self {
        SuccessRate {
            minimum_hosts: 5,
            request_volume: 100,
            stdev_factor: 1900,
        }
    }
}

/// Outlier-detection settings; the defaults are Envoy's (and Istio's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Eject on this many 5xx in a row (5; `None`: off).
    pub consecutive_5xx: Option<u32>,
    /// Eject on this many gateway failures in a row (`None`: off, as in
    /// Envoy and Istio by default).
    pub consecutive_gateway_failure: Option<u32>,
    /// Success-rate ejection (`None`: off, as Istio configures Envoy).
    pub success_rate: Option<SuccessRate>,
    /// How often [`OutlierDetector::tick`] is meant to run (10 s).
    pub interval: Duration,
    /// The first ejection's length (30 s).
    pub base_ejection_time: Duration,
    /// The longest ejection, if longer than the base (300 s).
    pub max_ejection_time: Duration,
    /// The largest share of endpoints ejected at once, in percent (10).
    pub max_ejection_percent: u8,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_5xx: Some(5),
            consecutive_gateway_failure: None,
            success_rate: None,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
        }
    }
}

impl OutlierConfig {
    /// Checks the settings: thresholds of at least 1, a non-zero interval
    /// and base time, a percentage of at most 100.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.consecutive_5xx == Some(0) {
            return Err(ConfigError::new("consecutive_5xx", 0, "must be at least 1"));
        }
        if self.consecutive_gateway_failure == Some(0) {
            return Err(ConfigError::new(
                "consecutive_gateway_failure",
                0,
                "must be at least 1",
            ));
        }
        if self.interval.is_zero() {
            return Err(ConfigError::new("interval", "0s", "must be positive"));
        }
        if self.base_ejection_time.is_zero() {
            return Err(ConfigError::new(
                "base_ejection_time",
                "0s",
                "must be positive",
            ));
        }
        if self.max_ejection_percent > 100 {
            return Err(ConfigError::new(
                "max_ejection_percent",
                self.max_ejection_percent,
                "must be at most 100",
            ));
        }
        if let Some(sr) = &self.success_rate
            && sr.minimum_hosts == 0
        {
            return Err(ConfigError::new(
                "success_rate.minimum_hosts",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// How long the `k`-th recent ejection lasts.
    pub fn ejection_time(&self, k: u32) -> Duration {
        let cap = self.base_ejection_time.max(self.max_ejection_time);
        self.base_ejection_time
            .checked_mul(k.max(1))
            .map_or(cap, |t| t.min(cap))
    }
}

/// Why an endpoint was ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EjectReason {
    /// `consecutive_5xx` was reached.
    Consecutive5xx,
    /// `consecutive_gateway_failure` was reached.
    ConsecutiveGatewayFailure,
    /// The success rate was an outlier.
    SuccessRate,
}

impl EjectReason {
    /// Envoy's name of the ejection type, for metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            EjectReason::Consecutive5xx => "consecutive_5xx",
            EjectReason::ConsecutiveGatewayFailure => "consecutive_gateway_failure",
            EjectReason::SuccessRate => "success_rate",
        }
    }
}

/// A change made by [`OutlierDetector::tick`]: `index` is the position of
/// the endpoint in the iterator given to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutlierEvent {
    /// The endpoint was ejected.
    Ejected {
        /// Position in the tick's iterator.
        index: usize,
        /// Why.
        reason: EjectReason,
    },
    /// The endpoint's ejection ended.
    Returned {
        /// Position in the tick's iterator.
        index: usize,
    },
}

/// One endpoint's outlier-detection state: counters and ejection.
///
/// Lives with the endpoint (the cluster keeps it across endpoint-set
/// updates) and is read by load balancers through
/// [`is_ejected`](Self::is_ejected).
#[derive(Debug, Default)]
pub struct HostState {
    consecutive_5xx: AtomicU32,
    consecutive_gateway: AtomicU32,
    interval_ok: AtomicU64,
    interval_total: AtomicU64,
    ejected: AtomicBool,
    /// When the endpoint was last ejected or returned (nanos).
    changed_at: AtomicU64,
    /// Recent ejections: the multiplier of the base ejection time.
    recent: AtomicU32,
}

impl HostState {
    /// A healthy endpoint with no history.
    pub fn new() -> Self {
        HostState::default()
    }

    /// Whether the endpoint is ejected: load balancers skip it.
    #[inline]
    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    /// The multiplier of the next ejection's length (recent ejections).
    pub fn recent_ejections(&self) -> u32 {
        self.recent.load(Ordering::Relaxed)
    }
}

/// The rules and the ejected count of one set of endpoints; see the
/// [module docs](self).
#[derive(Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    ejected: AtomicUsize,
    hosts: AtomicUsize,
}

impl OutlierDetector {
    /// A detector with `config`, for an empty set until
    /// [`set_host_count`](Self::set_host_count).
    pub fn new(config: OutlierConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(OutlierDetector {
            config,
            ejected: AtomicUsize::new(0),
            hosts: AtomicUsize::new(0),
        })
    }

    /// The settings.
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }

    /// Sets the number of endpoints, which the ejection percentage is
    /// taken of.
    pub fn set_host_count(&self, hosts: usize) {
        self.hosts.store(hosts, Ordering::Relaxed);
    }

    /// Resets the counts to a new endpoint set: how many endpoints there
    /// are and how many of them are ejected.
    pub fn recount<'a>(&self, hosts: impl IntoIterator<Item = &'a HostState>) {
        let (mut n, mut ejected) = (0, 0);
        for h in hosts {
            n += 1;
            ejected += usize::from(h.is_ejected());
        }
        self.hosts.store(n, Ordering::Relaxed);
        self.ejected.store(ejected, Ordering::Relaxed);
    }

    /// Endpoints ejected now.
    pub fn ejected_count(&self) -> usize {
        self.ejected.load(Ordering::Relaxed)
    }

    /// Counts one outcome against `host`; ejects it (and says why) when a
    /// consecutive rule is reached and the ejection percentage allows.
    /// `now` (a clock, or a [`Timestamp`]) is read only to stamp an
    /// ejection, so successes never read the clock.
    pub fn record(
        &self,
        host: &HostState,
        outcome: Outcome,
        now: impl Clock,
    ) -> Option<EjectReason> {
        if self.config.success_rate.is_some() {
            host.interval_total.fetch_add(1, Ordering::Relaxed);
            if outcome == Outcome::Success {
                host.interval_ok.fetch_add(1, Ordering::Relaxed);
            }
        }
        match outcome {
            Outcome::Success => {
                reset(&host.consecutive_5xx);
                reset(&host.consecutive_gateway);
                None
            }
            Outcome::ServerError => {
                reset(&host.consecutive_gateway);
                self.count_5xx(host, &now)
            }
            Outcome::GatewayFailure => {
                let n = host.consecutive_gateway.fetch_add(1, Ordering::Relaxed) + 1;
                let gateway = self
                    .config
                    .consecutive_gateway_failure
                    .is_some_and(|limit| n == limit)
                    && self.try_eject(host, now.now());
                if gateway {
                    return Some(EjectReason::ConsecutiveGatewayFailure);
                }
                self.count_5xx(host, &now)
            }
        }
    }

    fn count_5xx(&self, host: &HostState, now: &impl Clock) -> Option<EjectReason> {
        let n = host.consecutive_5xx.fetch_add(1, Ordering::Relaxed) + 1;
        (self.config.consecutive_5xx.is_some_and(|limit| n == limit)
            && self.try_eject(host, now.now()))
        .then_some(EjectReason::Consecutive5xx)
    }

    /// Ejects `host` if it is not ejected and the percentage allows.
    fn try_eject(&self, host: &HostState, now: Timestamp) -> bool {
        let pct = self.config.max_ejection_percent as usize;
        let total = self.hosts.load(Ordering::Relaxed);
        let reserved = self
            .ejected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |e| {
                (e * 100 < pct * total).then_some(e + 1)
            })
            .is_ok();
        if !reserved {
            return false;
        }
        if host.ejected.swap(true, Ordering::AcqRel) {
            self.ejected.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        host.changed_at.store(now.as_nanos(), Ordering::Relaxed);
        let cap = self
            .config
            .base_ejection_time
            .max(self.config.max_ejection_time);
        let recent = host.recent.load(Ordering::Relaxed);
        if self.config.ejection_time(recent) < cap || recent == 0 {
            host.recent.store(recent + 1, Ordering::Relaxed);
        }
        host.consecutive_5xx.store(0, Ordering::Relaxed);
        host.consecutive_gateway.store(0, Ordering::Relaxed);
        true
    }

    /// The interval's work, to run every `interval` over all endpoints:
    /// returns endpoints whose ejection is over, shrinks the multipliers of
    /// healthy ones, runs success-rate ejection and starts a new interval.
    pub fn tick<'a>(
        &self,
        hosts: impl IntoIterator<Item = &'a HostState>,
        now: Timestamp,
    ) -> Vec<OutlierEvent> {
        let hosts: Vec<&HostState> = hosts.into_iter().collect();
        let mut events = Vec::new();
        let base = duration_nanos(self.config.base_ejection_time);
        for (index, host) in hosts.iter().enumerate() {
            let since = now
                .as_nanos()
                .saturating_sub(host.changed_at.load(Ordering::Relaxed));
            let recent = host.recent.load(Ordering::Relaxed);
            if host.is_ejected() {
                if since >= duration_nanos(self.config.ejection_time(recent))
                    && host.ejected.swap(false, Ordering::AcqRel)
                {
                    self.ejected.fetch_sub(1, Ordering::AcqRel);
                    host.changed_at.store(now.as_nanos(), Ordering::Relaxed);
                    events.push(OutlierEvent::Returned { index });
                }
            } else if recent > 0 && since >= base {
                host.recent.store(recent - 1, Ordering::Relaxed);
            }
        }
        if let Some(sr) = self.config.success_rate {
            self.success_rate(&hosts, sr, now, &mut events);
        }
        for host in &hosts {
            host.interval_ok.store(0, Ordering::Relaxed);
            host.interval_total.store(0, Ordering::Relaxed);
        }
        events
    }

    fn success_rate(
        &self,
        hosts: &[&HostState],
        sr: SuccessRate,
        now: Timestamp,
        events: &mut Vec<OutlierEvent>,
    ) {
        let rates: Vec<(usize, f64)> = hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_ejected())
            .filter_map(|(i, h)| {
                let total = h.interval_total.load(Ordering::Relaxed);
                (total >= u64::from(sr.request_volume).max(1)).then(|| {
                    let ok = h.interval_ok.load(Ordering::Relaxed);
                    (i, ok as f64 * 100.0 / total as f64)
                })
            })
            .collect();
        if rates.len() < sr.minimum_hosts as usize {
            return;
        }
        let n = rates.len() as f64;
        let mean = rates.iter().map(|(_, r)| r).sum::<f64>() / n;
        let variance = rates
            .iter()
            .map(|(_, r)| (r - mean) * (r - mean))
            .sum::<f64>()
            / n;
        let threshold = mean - variance.sqrt() * f64::from(sr.stdev_factor) / 1000.0;
        for (index, rate) in rates {
            if rate < threshold && self.try_eject(hosts[index], now) {
                events.push(OutlierEvent::Ejected {
                    index,
                    reason: EjectReason::SuccessRate,
                });
            }
        }
    }
}

#[inline]
fn reset(counter: &AtomicU32) {
    if counter.load(Ordering::Relaxed) != 0 {
        counter.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    fn detector(cfg: OutlierConfig, hosts: &[HostState]) -> OutlierDetector {
        let d = OutlierDetector::new(cfg).unwrap();
        d.recount(hosts.iter());
        d
    }

    #[test]
    fn statuses_classify_like_envoy() {
        assert_eq!(Outcome::from_status(200), Outcome::Success);
        assert_eq!(Outcome::from_status(404), Outcome::Success);
        assert_eq!(Outcome::from_status(500), Outcome::ServerError);
        assert_eq!(Outcome::from_status(502), Outcome::GatewayFailure);
        assert_eq!(Outcome::from_status(504), Outcome::GatewayFailure);
        assert_eq!(Outcome::from_status(599), Outcome::ServerError);
    }

    #[test]
    fn gateway_failures_need_an_unbroken_run() {
        let hosts = [HostState::new(), HostState::new()];
        let cfg = OutlierConfig {
            consecutive_5xx: None,
            consecutive_gateway_failure: Some(3),
            max_ejection_percent: 100,
            ..OutlierConfig::default()
        };
        let d = detector(cfg, &hosts);
        let h = &hosts[0];
        d.record(h, Outcome::GatewayFailure, secs(0));
        d.record(h, Outcome::GatewayFailure, secs(0));
        d.record(h, Outcome::ServerError, secs(0));
        d.record(h, Outcome::GatewayFailure, secs(0));
        d.record(h, Outcome::GatewayFailure, secs(0));
        assert!(!h.is_ejected());
        assert_eq!(
            d.record(h, Outcome::GatewayFailure, secs(0)),
            Some(EjectReason::ConsecutiveGatewayFailure)
        );
        assert!(h.is_ejected());
        assert_eq!(d.ejected_count(), 1);
    }

    #[test]
    fn ejection_time_grows_caps_and_shrinks() {
        let cfg = OutlierConfig {
            consecutive_5xx: Some(1),
            base_ejection_time: Duration::from_secs(10),
            max_ejection_time: Duration::from_secs(25),
            max_ejection_percent: 100,
            ..OutlierConfig::default()
        };
        assert_eq!(cfg.ejection_time(1), Duration::from_secs(10));
        assert_eq!(cfg.ejection_time(2), Duration::from_secs(20));
        assert_eq!(cfg.ejection_time(3), Duration::from_secs(25));
        let hosts = [HostState::new()];
        let d = detector(cfg, &hosts);
        let h = &hosts[0];
        let mut t = 0;
        for want in [10, 20, 25, 25] {
            d.record(h, Outcome::ServerError, secs(t));
            assert!(h.is_ejected());
            assert!(d.tick(hosts.iter(), secs(t + want - 1)).is_empty());
            assert_eq!(
                d.tick(hosts.iter(), secs(t + want)),
                vec![OutlierEvent::Returned { index: 0 }]
            );
            t += want;
        }
        assert_eq!(h.recent_ejections(), 3);
        // Healthy for a base ejection time: the multiplier shrinks by one
        // per tick.
        d.tick(hosts.iter(), secs(t + 5));
        assert_eq!(h.recent_ejections(), 3);
        d.tick(hosts.iter(), secs(t + 10));
        d.tick(hosts.iter(), secs(t + 20));
        assert_eq!(h.recent_ejections(), 1);
    }

    #[test]
    fn max_ejection_percent_is_respected() {
        let hosts: Vec<HostState> = (0..10).map(|_| HostState::new()).collect();
        let cfg = OutlierConfig {
            consecutive_5xx: Some(1),
            max_ejection_percent: 20,
            ..OutlierConfig::default()
        };
        let d = detector(cfg, &hosts);
        for h in &hosts {
            d.record(h, Outcome::ServerError, secs(0));
        }
        assert_eq!(hosts.iter().filter(|h| h.is_ejected()).count(), 2);
        assert_eq!(d.ejected_count(), 2);
        // With few hosts, one may still be ejected (0 % < 10 %).
        let few = [HostState::new(), HostState::new()];
        let d = detector(
            OutlierConfig {
                consecutive_5xx: Some(1),
                ..OutlierConfig::default()
            },
            &few,
        );
        d.record(&few[0], Outcome::ServerError, secs(0));
        d.record(&few[1], Outcome::ServerError, secs(0));
        assert_eq!(d.ejected_count(), 1);
    }

    #[test]
    fn success_rate_ejects_the_outlier() {
        let hosts: Vec<HostState> = (0..6).map(|_| HostState::new()).collect();
        let cfg = OutlierConfig {
            consecutive_5xx: None,
            success_rate: Some(SuccessRate::default()),
            max_ejection_percent: 50,
            ..OutlierConfig::default()
        };
        let d = detector(cfg, &hosts);
        for (i, h) in hosts.iter().enumerate() {
            for r in 0..200 {
                // Host 5 fails half of its requests, the others 1 in 100.
                let fail = if i == 5 { r % 2 == 0 } else { r % 100 == 0 };
                let outcome = if fail {
                    Outcome::ServerError
                } else {
                    Outcome::Success
                };
                d.record(h, outcome, secs(0));
            }
        }
        let events = d.tick(hosts.iter(), secs(10));
        assert_eq!(
            events,
            vec![OutlierEvent::Ejected {
                index: 5,
                reason: EjectReason::SuccessRate
            }]
        );
        // Too few hosts with volume: nothing happens.
        let events = d.tick(hosts.iter(), secs(20));
        assert!(events.is_empty());
    }

    #[test]
    fn validation() {
        let bad = [
            OutlierConfig {
                consecutive_5xx: Some(0),
                ..OutlierConfig::default()
            },
            OutlierConfig {
                max_ejection_percent: 101,
                ..OutlierConfig::default()
            },
            OutlierConfig {
                interval: Duration::ZERO,
                ..OutlierConfig::default()
            },
        ];
        for cfg in bad {
            assert!(OutlierDetector::new(cfg).is_err());
        }
    }
}
