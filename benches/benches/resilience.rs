//! Resilience primitives beside the best existing crates.
//!
//! - `token_bucket_check`: one admission check of a bucket that always has
//!   room (the request path's common case), `ours` (`TokenBucket::try_acquire(1)`)
//!   against `governor` (`RateLimiter::check()`, GCRA on one atomic). Both
//!   are configured alike: 1 token per nanosecond, a burst of `u32::MAX`.
//!   Timed: reading the clock and the atomic update. Inputs: the real
//!   monotonic clock (ours `MonotonicClock`, governor's `MonotonicClock`,
//!   both `std::time::Instant`) or a fake one (ours `ManualClock`,
//!   governor's `FakeRelativeClock`, both an `Arc<AtomicU64>`), on one
//!   thread or on two threads sharing the bucket (time per check per
//!   thread).
//! - `circuit_breaker_call`: one call through a Closed breaker that
//!   succeeds, admission and recording included (`Breaker::call` against
//!   failsafe's `CircuitBreaker::call`), with failsafe's default rules
//!   (success rate over 30 s with a minimum of 5 requests, or 5
//!   consecutive failures) and the same rules on ours (failure rate ≥ 20 %
//!   over 30 s in 5 buckets, minimum 5; 5 consecutive failures); then
//!   consecutive failures only on both; then a call rejected by an Open
//!   breaker.
//! - `lb_pick`: one pick over 100 endpoints (ours only): power of two
//!   choices by least requests and by peak EWMA, a Maglev lookup of a
//!   hashed key, and a whole cluster pick (snapshot load, P2C, in-flight
//!   count, finish).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker;
use failsafe::failure_policy::consecutive_failures;
use mesh_resilience::balancer::{LbPolicy, Load};
use mesh_resilience::breaker::{Breaker, BreakerConfig, FailureRate};
use mesh_resilience::bucket::{BucketConfig, TokenBucket};
use mesh_resilience::clock::{ManualClock, MonotonicClock, Timestamp};
use mesh_resilience::cluster::{Cluster, ClusterConfig, EndpointSpec, PickContext};
use mesh_resilience::rand::{Random, ThreadRandom};

/// A valid setup value (the configurations here are constants).
fn valid<T>(r: Result<T, mesh_resilience::ConfigError>) -> T {
    r.unwrap_or_else(|e| panic!("benchmark setup: {e}"))
}

/// Runs `check` `iters` times on each of `threads` threads, released
/// together; the wall time until all are done.
fn on_threads(threads: usize, iters: u64, check: impl Fn() + Sync) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            check();
        }
        return start.elapsed();
    }
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    check();
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        for _ in 0..iters {
            check();
        }
        // The scope joins the other threads before returning.
        start
    })
    .elapsed()
}

fn token_bucket_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("token_bucket_check");
    let burst = NonZeroU32::MAX;
    let quota = governor::Quota::per_second(burst);
    let ours = valid(BucketConfig::new(
        u64::from(burst.get()),
        1,
        Duration::from_nanos(1),
    ));
    for threads in [1usize, 2] {
        let input = format!("monotonic/{threads}thread");
        group.bench_function(BenchmarkId::new("ours", &input), |b| {
            let bucket = TokenBucket::with_clock(ours, MonotonicClock::new());
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    let _ = black_box(bucket.try_acquire(black_box(1)));
                })
            })
        });
        group.bench_function(BenchmarkId::new("governor", &input), |b| {
            let limiter =
                governor::RateLimiter::direct_with_clock(quota, governor::clock::MonotonicClock);
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    let _ = black_box(limiter.check());
                })
            })
        });
        let input = format!("fake/{threads}thread");
        group.bench_function(BenchmarkId::new("ours", &input), |b| {
            let clock = ManualClock::new();
            let bucket = TokenBucket::with_clock(ours, clock.clone());
            b.iter_custom(|iters| {
                clock.advance(Duration::from_secs(10));
                on_threads(threads, iters, || {
                    let _ = black_box(bucket.try_acquire(black_box(1)));
                })
            })
        });
        group.bench_function(BenchmarkId::new("governor", &input), |b| {
            let clock = governor::clock::FakeRelativeClock::default();
            let limiter = governor::RateLimiter::direct_with_clock(quota, clock.clone());
            b.iter_custom(|iters| {
                clock.advance(Duration::from_secs(10));
                on_threads(threads, iters, || {
                    let _ = black_box(limiter.check());
                })
            })
        });
    }
    group.finish();
}

fn circuit_breaker_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("circuit_breaker_call");
    let backoff = failsafe::backoff::constant(Duration::from_secs(60));

    // failsafe's default rules, and ours configured to match.
    let input = "closed/rate+consecutive";
    let ours = valid(Breaker::new(BreakerConfig {
        consecutive_failures: Some(5),
        failure_rate: Some(FailureRate {
            threshold_percent: 20,
            minimum_volume: 5,
            window: Duration::from_secs(30),
            buckets: 5,
        }),
        ..BreakerConfig::default()
    }));
    group.bench_function(BenchmarkId::new("ours", input), |b| {
        b.iter(|| ours.call(|| Ok::<_, ()>(black_box(1))))
    });
    let theirs = failsafe::Config::new().build();
    group.bench_function(BenchmarkId::new("failsafe", input), |b| {
        b.iter(|| theirs.call(|| Ok::<_, ()>(black_box(1))))
    });

    let input = "closed/consecutive";
    let ours = valid(Breaker::new(BreakerConfig::default()));
    group.bench_function(BenchmarkId::new("ours", input), |b| {
        b.iter(|| ours.call(|| Ok::<_, ()>(black_box(1))))
    });
    let theirs = failsafe::Config::new()
        .failure_policy(consecutive_failures(5, backoff))
        .build();
    group.bench_function(BenchmarkId::new("failsafe", input), |b| {
        b.iter(|| theirs.call(|| Ok::<_, ()>(black_box(1))))
    });

    let input = "open/reject";
    let ours = valid(Breaker::new(BreakerConfig {
        consecutive_failures: Some(1),
        base_open: Duration::from_secs(3_600),
        max_open: Duration::from_secs(3_600),
        ..BreakerConfig::default()
    }));
    let _ = ours.call(|| Err::<(), _>(()));
    group.bench_function(BenchmarkId::new("ours", input), |b| {
        b.iter(|| ours.call(|| Ok::<_, ()>(black_box(1))))
    });
    let theirs = failsafe::Config::new()
        .failure_policy(consecutive_failures(
            1,
            failsafe::backoff::constant(Duration::from_secs(3_600)),
        ))
        .build();
    let _ = theirs.call(|| Err::<(), _>(()));
    group.bench_function(BenchmarkId::new("failsafe", input), |b| {
        b.iter(|| theirs.call(|| Ok::<_, ()>(black_box(1))))
    });
    group.finish();
}

fn lb_pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("lb_pick");
    let specs: Vec<EndpointSpec> = (0..100u32)
        .map(|i| {
            EndpointSpec::new(std::net::SocketAddr::from((
                [10, 1, (i / 250) as u8, (i % 250) as u8],
                8080,
            )))
        })
        .collect();
    let random = ThreadRandom;
    let now = Timestamp::ZERO;
    for (input, policy) in [
        ("p2c_least_request/100", LbPolicy::LeastRequest),
        ("p2c_peak_ewma/100", LbPolicy::peak_ewma()),
    ] {
        let cluster = valid(Cluster::new(
            ClusterConfig::new("bench").with_lb(policy),
            specs.clone(),
        ));
        let eps = cluster.endpoints();
        for (i, e) in eps.iter().enumerate() {
            let load: &Load = mesh_resilience::balancer::Candidate::load(e);
            load.observe(
                Duration::from_micros(100 + i as u64),
                now,
                Duration::from_secs(10),
            );
            for _ in 0..i % 7 {
                load.start();
            }
        }
        let balancer = policy.build(&eps);
        group.bench_function(BenchmarkId::new("ours", input), |b| {
            b.iter(|| balancer.pick(black_box(&eps), None, &random, now))
        });
    }
    let cluster = valid(Cluster::new(
        ClusterConfig::new("bench").with_lb(LbPolicy::maglev()),
        specs.clone(),
    ));
    let eps = cluster.endpoints();
    let maglev = LbPolicy::maglev().build(&eps);
    group.bench_function(BenchmarkId::new("ours", "maglev/100"), |b| {
        b.iter(|| maglev.pick(black_box(&eps), Some(random.next_u64()), &random, now))
    });
    let cluster = valid(Cluster::new(ClusterConfig::new("bench"), specs));
    group.bench_function(BenchmarkId::new("ours", "cluster_p2c/100"), |b| {
        b.iter(|| {
            cluster
                .pick(black_box(&PickContext::default()))
                .map(|p| p.success())
        })
    });
    group.finish();
}

criterion_group!(benches, token_bucket_check, circuit_breaker_call, lb_pick);
criterion_main!(benches);
