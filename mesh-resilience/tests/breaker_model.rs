//! Model test: random sequences of admits, outcomes, drops and clock moves
//! against a small sequential reference model of the breaker.

use std::time::Duration;

use mesh_resilience::breaker::{Breaker, BreakerConfig, FailureRate, Permit, State};
use mesh_resilience::clock::{Clock, ManualClock};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Success,
    Failure,
    Drop,
}

#[derive(Debug, Clone)]
enum Op {
    Admit,
    Complete(usize, Kind),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Admit),
        4 => (any::<usize>(), prop_oneof![
            3 => Just(Kind::Success),
            3 => Just(Kind::Failure),
            1 => Just(Kind::Drop),
        ]).prop_map(|(i, k)| Op::Complete(i, k)),
        2 => (0u64..150_000_000).prop_map(Op::Advance),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    (
        prop::option::of(1u32..5),
        prop::option::of((1u8..=100, 1u32..8, 1u16..5)),
        10u64..100,
        1u64..5,
        1u16..4,
    )
        .prop_filter_map("one rule", |(consecutive, rate, base, factor, probes)| {
            if consecutive.is_none() && rate.is_none() {
                return None;
            }
            Some(BreakerConfig {
                consecutive_failures: consecutive,
                failure_rate: rate.map(|(threshold_percent, minimum_volume, buckets)| {
                    FailureRate {
                        threshold_percent,
                        minimum_volume,
                        window: Duration::from_millis(40 * u64::from(buckets)),
                        buckets,
                    }
                }),
                base_open: Duration::from_millis(base),
                max_open: Duration::from_millis(base * factor),
                half_open_probes: probes,
            })
        })
}

/// The reference: the documented behaviour, written plainly.
struct Model {
    cfg: BreakerConfig,
    state: State,
    generation: u16,
    trips: u64,
    until_ms: u64,
    in_flight: u64,
    succeeded: u64,
    consecutive: u32,
    /// (nanos, failed) of outcomes in the current Closed period.
    outcomes: Vec<(u64, bool)>,
}

impl Model {
    fn new(cfg: BreakerConfig) -> Model {
        Model {
            cfg,
            state: State::Closed,
            generation: 0,
            trips: 0,
            until_ms: 0,
            in_flight: 0,
            succeeded: 0,
            consecutive: 0,
            outcomes: Vec::new(),
        }
    }

    /// Ok((generation, probe)) or Err(retry after, in ns, if Open).
    fn admit(&mut self, now: u64) -> Result<(u16, bool), Option<u64>> {
        match self.state {
            State::Closed => Ok((self.generation, false)),
            State::Open => {
                if now < self.until_ms * 1_000_000 {
                    return Err(Some(self.until_ms * 1_000_000 - now));
                }
                self.state = State::HalfOpen;
                self.generation = self.generation.wrapping_add(1);
                self.in_flight = 1;
                self.succeeded = 0;
                Ok((self.generation, true))
            }
            State::HalfOpen => {
                if self.in_flight + self.succeeded >= u64::from(self.cfg.half_open_probes) {
                    return Err(None);
                }
                self.in_flight += 1;
                Ok((self.generation, true))
            }
        }
    }

    fn open(&mut self, now: u64) {
        self.trips = (self.trips + 1).min(63);
        let base = self.cfg.base_open.as_millis() as u64;
        let max = self.cfg.max_open.as_millis() as u64;
        let open_ms = (base * self.trips).min(max);
        self.until_ms = now.div_ceil(1_000_000) + open_ms;
        self.generation = self.generation.wrapping_add(1);
        self.state = State::Open;
    }

    fn complete(&mut self, generation: u16, probe: bool, kind: Kind, now: u64) {
        if !probe {
            if kind == Kind::Drop || self.state != State::Closed || generation != self.generation {
                return;
            }
            if kind == Kind::Success {
                self.consecutive = 0;
                if self.cfg.failure_rate.is_some() {
                    self.outcomes.push((now, false));
                }
                return;
            }
            self.consecutive += 1;
            let mut trip = self
                .cfg
                .consecutive_failures
                .is_some_and(|n| self.consecutive >= n);
            if let Some(rate) = self.cfg.failure_rate {
                self.outcomes.push((now, true));
                let width = rate.window.as_nanos() as u64 / u64::from(rate.buckets);
                let epoch = now / width;
                let live = self
                    .outcomes
                    .iter()
                    .filter(|(t, _)| epoch - t / width < u64::from(rate.buckets));
                let (total, failed) = live.fold((0u64, 0u64), |(n, f), (_, bad)| {
                    (n + 1, f + u64::from(*bad))
                });
                trip |= total >= u64::from(rate.minimum_volume)
                    && failed * 100 >= u64::from(rate.threshold_percent) * total;
            }
            if trip {
                self.open(now);
            }
            return;
        }
        if self.state != State::HalfOpen || generation != self.generation {
            return;
        }
        match kind {
            Kind::Drop => self.in_flight -= 1,
            Kind::Success => {
                self.in_flight -= 1;
                self.succeeded += 1;
                if self.succeeded >= u64::from(self.cfg.half_open_probes) {
                    self.state = State::Closed;
                    self.generation = self.generation.wrapping_add(1);
                    self.trips = 0;
                    self.consecutive = 0;
                    self.outcomes.clear();
                }
            }
            Kind::Failure => self.open(now),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_matches_the_model(cfg in config(), ops in prop::collection::vec(op(), 1..200)) {
        let clock = ManualClock::new();
        let breaker = Breaker::with_clock(cfg, clock.clone()).unwrap();
        let mut model = Model::new(cfg);
        let mut held: Vec<(Permit<'_, ManualClock>, u16)> = Vec::new();
        for op in ops {
            let now = clock.now().as_nanos();
            match op {
                Op::Admit => match (breaker.admit(), model.admit(now)) {
                    (Ok(p), Ok((generation, probe))) => {
                        prop_assert_eq!(p.is_probe(), probe);
                        held.push((p, generation));
                    }
                    (Err(r), Err(retry_ns)) => {
                        prop_assert_eq!(r.retry_after, retry_ns.map(Duration::from_nanos));
                    }
                    (real, model) => prop_assert!(false, "real {:?} model {:?}", real.map(|_| ()), model),
                },
                Op::Complete(i, kind) if !held.is_empty() => {
                    let (p, generation) = held.swap_remove(i % held.len());
                    let probe = p.is_probe();
                    match kind {
                        Kind::Success => p.success(),
                        Kind::Failure => p.failure(),
                        Kind::Drop => drop(p),
                    }
                    model.complete(generation, probe, kind, now);
                }
                Op::Complete(..) => {}
                Op::Advance(ns) => clock.advance(Duration::from_nanos(ns)),
            }
            prop_assert_eq!(breaker.state(), model.state);
            prop_assert_eq!(u64::from(breaker.trips()), model.trips);
        }
    }
}
