//! Model test: random sequences of takes and clock moves against Envoy's
//! token bucket written plainly (a token count refilled on every fill
//! interval since creation).

use std::time::Duration;

use mesh_resilience::bucket::{BucketConfig, KeyedBuckets, TokenBucket};
use mesh_resilience::clock::{Clock, ManualClock};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Take(u64),
    Advance(u64),
}

struct Model {
    max: u64,
    per_fill: u64,
    interval: u64,
    start: u64,
    tokens: u64,
    fills_seen: u64,
}

impl Model {
    fn refill(&mut self, now: u64) {
        let fills = (now - self.start) / self.interval;
        let added = (fills - self.fills_seen) * self.per_fill;
        self.tokens = (self.tokens + added).min(self.max);
        self.fills_seen = fills;
    }

    /// Ok, or Err((available, retry after in nanos if ever)).
    fn take(&mut self, n: u64, now: u64) -> Result<(), (u64, Option<u64>)> {
        self.refill(now);
        if n <= self.tokens {
            self.tokens -= n;
            return Ok(());
        }
        let retry = (n <= self.max).then(|| {
            let fills = (n - self.tokens).div_ceil(self.per_fill);
            self.start + (self.fills_seen + fills) * self.interval - now
        });
        Err((self.tokens, retry))
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u64..12).prop_map(Op::Take),
            1 => (0u64..3_000).prop_map(Op::Advance),
        ],
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bucket_matches_envoy(
        max in 1u64..20, per_fill in 1u64..8, interval in 1u64..1_000,
        start in 0u64..10_000, ops in ops(),
    ) {
        let clock = ManualClock::new();
        clock.advance(Duration::from_nanos(start));
        let cfg = BucketConfig::new(max, per_fill, Duration::from_nanos(interval)).unwrap();
        let bucket = TokenBucket::with_clock(cfg, clock.clone());
        let keyed: KeyedBuckets<u8, _> = KeyedBuckets::with_clock(cfg, 16, clock.clone());
        let mut model = Model { max, per_fill, interval, start, tokens: max, fills_seen: 0 };
        // A key's bucket starts (full, with its own fill schedule) at its
        // first use.
        let mut key_model: Option<Model> = None;
        for op in ops {
            match op {
                Op::Advance(ns) => clock.advance(Duration::from_nanos(ns)),
                Op::Take(n) => {
                    let now = clock.now().as_nanos();
                    let want = model.take(n, now);
                    let got = bucket.try_acquire(n)
                        .map_err(|e| (e.available, e.retry_after.map(|d| d.as_nanos() as u64)));
                    prop_assert_eq!(got, want);
                    let km = key_model.get_or_insert(Model {
                        max, per_fill, interval, start: now, tokens: max, fills_seen: 0,
                    });
                    let want = km.take(n, now);
                    let got = keyed.try_acquire(&7, n)
                        .map_err(|e| (e.available, e.retry_after.map(|d| d.as_nanos() as u64)));
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(bucket.available(), { model.refill(clock.now().as_nanos()); model.tokens });
        }
    }
}
