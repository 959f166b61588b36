//! Many threads at once: never more admits than allowed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use mesh_resilience::breaker::{Breaker, BreakerConfig, State};
use mesh_resilience::bucket::{BucketConfig, KeyedBuckets, TokenBucket};
use mesh_resilience::clock::ManualClock;
use mesh_resilience::limits::{PoolLimits, PoolLimitsConfig, Resource};
use mesh_resilience::retry::{RetryBudget, RetryBudgetConfig};

const THREADS: usize = 8;

/// Runs `f(thread index)` on THREADS threads released together.
fn together(f: impl Fn(usize) + Sync) {
    let barrier = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (f, barrier) = (&f, &barrier);
            s.spawn(move || {
                barrier.wait();
                f(t);
            });
        }
    });
}

#[test]
fn bucket_admits_exactly_what_it_holds_and_fills() {
    let clock = ManualClock::new();
    let cfg = BucketConfig::new(1_000, 250, Duration::from_millis(10)).unwrap();
    let bucket = TokenBucket::with_clock(cfg, clock.clone());
    let admitted = AtomicU64::new(0);
    let fills = AtomicU64::new(0);
    together(|t| {
        for i in 0..20_000u64 {
            // Thread 0 moves the clock while the others take, but only when
            // a fill cannot overflow the bucket: only this thread adds
            // tokens, so what it reads can only shrink before it advances,
            // and no token is lost to the cap. Conservation is then exact
            // whatever the interleaving.
            if t == 0 && fills.load(Ordering::Relaxed) < 40 && bucket.available() <= 750 {
                clock.advance(Duration::from_millis(10));
                fills.fetch_add(1, Ordering::Relaxed);
            }
            let n = 1 + (i + t as u64) % 3;
            if bucket.try_acquire(n).is_ok() {
                admitted.fetch_add(n, Ordering::Relaxed);
            }
        }
    });
    // Conservation: what was taken plus what is left is exactly what the
    // bucket started with plus what the fills added.
    let fills = fills.load(Ordering::Relaxed);
    assert!(fills > 0, "demand far above supply must drain the bucket");
    let total = admitted.load(Ordering::Relaxed) + bucket.available();
    assert_eq!(total, 1_000 + fills * 250);
}

#[test]
fn keyed_bucket_is_exact_per_key() {
    let clock = ManualClock::new();
    let cfg = BucketConfig::new(100, 1, Duration::from_secs(1)).unwrap();
    let keyed: KeyedBuckets<String, _> = KeyedBuckets::with_clock(cfg, 1_000, clock);
    let per_key: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
    together(|t| {
        for i in 0..2_000usize {
            let key = (i + t) % 4;
            if keyed
                .try_acquire(format!("client-{key}").as_str(), 1)
                .is_ok()
            {
                per_key[key].fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    for n in &per_key {
        assert_eq!(n.load(Ordering::Relaxed), 100);
    }
}

#[test]
fn pool_limits_never_exceeded() {
    let limits = PoolLimits::new(PoolLimitsConfig {
        max_connections: 3,
        max_pending_requests: 5,
        max_requests: 7,
        max_retries: 2,
    });
    let holders: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
    let peaks: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
    let granted = AtomicUsize::new(0);
    together(|t| {
        for i in 0..20_000usize {
            let (r, slot) = match (i + t) % 4 {
                0 => (Resource::Connections, 0),
                1 => (Resource::PendingRequests, 1),
                2 => (Resource::Requests, 2),
                _ => (Resource::Retries, 3),
            };
            if let Ok(guard) = limits.try_acquire(r) {
                granted.fetch_add(1, Ordering::Relaxed);
                let now = holders[slot].fetch_add(1, Ordering::SeqCst) + 1;
                peaks[slot].fetch_max(now, Ordering::Relaxed);
                std::hint::spin_loop();
                holders[slot].fetch_sub(1, Ordering::SeqCst);
                drop(guard);
            }
        }
    });
    let limits_of = [3, 5, 7, 2];
    for (slot, peak) in peaks.iter().enumerate() {
        let peak = peak.load(Ordering::Relaxed);
        assert!(peak <= limits_of[slot], "resource {slot}: {peak} holders");
        assert!(peak >= 1);
    }
    assert!(granted.load(Ordering::Relaxed) > 0);
    for r in Resource::ALL {
        assert_eq!(limits.active(r), 0, "{r} leaked");
    }
}

#[test]
fn breaker_trips_once_and_admits_exactly_the_probes() {
    let clock = ManualClock::new();
    let transitions = Arc::new(AtomicUsize::new(0));
    let seen = transitions.clone();
    let cfg = BreakerConfig {
        consecutive_failures: Some(10),
        base_open: Duration::from_secs(1),
        half_open_probes: 5,
        ..BreakerConfig::default()
    };
    let breaker = Breaker::with_clock(cfg, clock.clone())
        .unwrap()
        .on_transition(move |t| {
            if t.to == State::Open {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
    // Every thread fails calls admitted while Closed: exactly one trip.
    together(|_| {
        for _ in 0..1_000 {
            if let Ok(p) = breaker.admit() {
                p.failure();
            }
        }
    });
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(transitions.load(Ordering::SeqCst), 1);

    // After the open time, every thread races for probes: exactly five.
    clock.advance(Duration::from_secs(1));
    let probes = AtomicUsize::new(0);
    let held = std::sync::Mutex::new(Vec::new());
    together(|_| {
        for _ in 0..1_000 {
            if let Ok(p) = breaker.admit() {
                assert!(p.is_probe());
                probes.fetch_add(1, Ordering::SeqCst);
                held.lock().unwrap().push(p);
            }
        }
    });
    assert_eq!(probes.load(Ordering::SeqCst), 5);
    for p in held.into_inner().unwrap() {
        p.success();
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn breaker_probe_slots_survive_drops_under_contention() {
    let clock = ManualClock::new();
    let cfg = BreakerConfig {
        consecutive_failures: Some(1),
        half_open_probes: 3,
        ..BreakerConfig::default()
    };
    let breaker = Breaker::with_clock(cfg, clock.clone()).unwrap();
    breaker.admit().unwrap().failure();
    clock.advance(Duration::from_secs(5));
    let live = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    together(|_| {
        for _ in 0..5_000 {
            if let Ok(p) = breaker.admit() {
                let n = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::Relaxed);
                live.fetch_sub(1, Ordering::SeqCst);
                drop(p);
            }
        }
    });
    assert!(peak.load(Ordering::Relaxed) <= 3);
    assert_eq!(breaker.state(), State::HalfOpen, "drops decide nothing");
    // Every slot came back.
    let all: Vec<_> = (0..3).map(|_| breaker.admit().unwrap()).collect();
    assert!(breaker.admit().is_err());
    drop(all);
}

#[test]
fn retry_budget_never_exceeded() {
    let budget = RetryBudget::new(RetryBudgetConfig {
        percent: 20.0,
        min_retry_concurrency: 2,
    })
    .unwrap();
    let requests: Vec<_> = (0..50).map(|_| budget.request()).collect();
    let live = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    together(|_| {
        for _ in 0..10_000 {
            if let Some(g) = budget.try_retry() {
                let n = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::Relaxed);
                live.fetch_sub(1, Ordering::SeqCst);
                drop(g);
            }
        }
    });
    assert!(peak.load(Ordering::Relaxed) <= 10, "20 % of 50");
    drop(requests);
    assert_eq!(budget.active_retries(), 0);
}
