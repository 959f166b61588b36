//! Model tests: outlier detection and pool limits against plain reference
//! models, over random event sequences.

use std::time::Duration;

use mesh_resilience::clock::Timestamp;
use mesh_resilience::limits::{PoolLimits, PoolLimitsConfig, Resource};
use mesh_resilience::outlier::{HostState, Outcome, OutlierConfig, OutlierDetector, OutlierEvent};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Record(usize, Outcome),
    Advance(u64),
    Tick,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..8, prop_oneof![
            Just(Outcome::Success),
            Just(Outcome::ServerError),
            Just(Outcome::GatewayFailure),
        ]).prop_map(|(h, o)| Op::Record(h, o)),
        2 => (0u64..40).prop_map(Op::Advance),
        2 => Just(Op::Tick),
    ]
}

#[derive(Debug, Clone, Default)]
struct Host {
    c5xx: u32,
    cgw: u32,
    ejected: bool,
    changed_at: u64,
    recent: u32,
}

struct Model {
    cfg: OutlierConfig,
    hosts: Vec<Host>,
}

impl Model {
    fn ejected(&self) -> usize {
        self.hosts.iter().filter(|h| h.ejected).count()
    }

    fn ejection_secs(&self, k: u32) -> u64 {
        let base = self.cfg.base_ejection_time.as_secs();
        let cap = base.max(self.cfg.max_ejection_time.as_secs());
        (base * u64::from(k.max(1))).min(cap)
    }

    fn try_eject(&mut self, i: usize, now: u64) -> bool {
        let pct = usize::from(self.cfg.max_ejection_percent);
        if self.ejected() * 100 >= pct * self.hosts.len() || self.hosts[i].ejected {
            return false;
        }
        let cap = self.ejection_secs(u32::MAX);
        let recent = self.hosts[i].recent;
        let grow = recent == 0 || self.ejection_secs(recent) < cap;
        let h = &mut self.hosts[i];
        h.ejected = true;
        h.changed_at = now;
        if grow {
            h.recent += 1;
        }
        h.c5xx = 0;
        h.cgw = 0;
        true
    }

    fn record(&mut self, i: usize, outcome: Outcome, now: u64) -> bool {
        match outcome {
            Outcome::Success => {
                self.hosts[i].c5xx = 0;
                self.hosts[i].cgw = 0;
                false
            }
            Outcome::ServerError => {
                self.hosts[i].cgw = 0;
                self.hosts[i].c5xx += 1;
                self.cfg.consecutive_5xx == Some(self.hosts[i].c5xx) && self.try_eject(i, now)
            }
            Outcome::GatewayFailure => {
                self.hosts[i].cgw += 1;
                if self.cfg.consecutive_gateway_failure == Some(self.hosts[i].cgw)
                    && self.try_eject(i, now)
                {
                    return true;
                }
                self.hosts[i].c5xx += 1;
                self.cfg.consecutive_5xx == Some(self.hosts[i].c5xx) && self.try_eject(i, now)
            }
        }
    }

    fn tick(&mut self, now: u64) -> Vec<usize> {
        let base = self.cfg.base_ejection_time.as_secs();
        let mut returned = Vec::new();
        for i in 0..self.hosts.len() {
            let since = now - self.hosts[i].changed_at;
            let recent = self.hosts[i].recent;
            if self.hosts[i].ejected {
                if since >= self.ejection_secs(recent) {
                    self.hosts[i].ejected = false;
                    self.hosts[i].changed_at = now;
                    returned.push(i);
                }
            } else if recent > 0 && since >= base {
                self.hosts[i].recent -= 1;
            }
        }
        returned
    }
}

fn config() -> impl Strategy<Value = OutlierConfig> {
    (
        prop::option::of(1u32..4),
        prop::option::of(1u32..4),
        1u64..10,
        1u64..40,
        1u8..=100,
    )
        .prop_map(|(c5, gw, base, max, pct)| OutlierConfig {
            consecutive_5xx: c5,
            consecutive_gateway_failure: gw,
            success_rate: None,
            interval: Duration::from_secs(1),
            base_ejection_time: Duration::from_secs(base),
            max_ejection_time: Duration::from_secs(max),
            max_ejection_percent: pct,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn outlier_detection_matches_the_model(
        cfg in config(), n in 1usize..8, ops in prop::collection::vec(op(), 1..200),
    ) {
        let hosts: Vec<HostState> = (0..n).map(|_| HostState::new()).collect();
        let detector = OutlierDetector::new(cfg).unwrap();
        detector.recount(hosts.iter());
        let mut model = Model { cfg, hosts: vec![Host::default(); n] };
        let mut now = 0u64;
        for op in ops {
            let t = Timestamp::from_nanos(now * 1_000_000_000);
            match op {
                Op::Record(i, outcome) => {
                    let i = i % n;
                    let ejected = detector.record(&hosts[i], outcome, t).is_some();
                    prop_assert_eq!(ejected, model.record(i, outcome, now));
                }
                Op::Advance(s) => now += s,
                Op::Tick => {
                    let got: Vec<usize> = detector
                        .tick(hosts.iter(), t)
                        .into_iter()
                        .map(|e| match e {
                            OutlierEvent::Returned { index } => index,
                            other => panic!("no success-rate rule, got {other:?}"),
                        })
                        .collect();
                    prop_assert_eq!(got, model.tick(now));
                }
            }
            for (h, m) in hosts.iter().zip(&model.hosts) {
                prop_assert_eq!(h.is_ejected(), m.ejected);
                prop_assert_eq!(h.recent_ejections(), m.recent);
            }
            prop_assert_eq!(detector.ejected_count(), model.ejected());
        }
    }

    #[test]
    fn pool_limits_match_counters(ops in prop::collection::vec((0usize..4, any::<bool>(), any::<usize>()), 1..300)) {
        let cfg = PoolLimitsConfig { max_connections: 2, max_pending_requests: 0, max_requests: 5, max_retries: 3 };
        let limits = PoolLimits::new(cfg);
        let mut held = Vec::new();
        let mut count = [0u64; 4];
        for (r, take, pick) in ops {
            let resource = Resource::ALL[r];
            if take {
                let ok = count[r] < cfg.limit(resource);
                let got = limits.try_acquire(resource);
                prop_assert_eq!(got.is_ok(), ok);
                if let Ok(g) = got {
                    count[r] += 1;
                    held.push((r, g));
                } else if let Err(e) = got {
                    prop_assert_eq!(e.resource, resource);
                }
            } else if !held.is_empty() {
                let (r, g) = held.swap_remove(pick % held.len());
                drop(g);
                count[r] -= 1;
            }
            for (i, res) in Resource::ALL.iter().enumerate() {
                prop_assert_eq!(limits.active(*res), count[i]);
            }
        }
    }
}
