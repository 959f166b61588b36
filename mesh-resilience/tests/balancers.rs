//! Distributions of the weighted and hashing balancers under a seeded
//! source, and how many keys move when the endpoint set changes. The seeds
//! are fixed, so every figure here is the same on every run; the stated
//! tolerances are what any good seed meets.

use std::sync::atomic::{AtomicBool, Ordering};

use mesh_resilience::balancer::{Candidate, LbPolicy, Load};
use mesh_resilience::clock::Timestamp;
use mesh_resilience::rand::{Random, SeededRandom};

struct Ep {
    name: String,
    weight: u32,
    up: AtomicBool,
    load: Load,
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

fn ep(i: usize, weight: u32) -> Ep {
    Ep {
        name: format!("10.{}.{}.{}:9080", i / 65536, (i / 256) % 256, i % 256),
        weight,
        up: AtomicBool::new(true),
        load: Load::new(),
    }
}

fn set(ids: impl IntoIterator<Item = usize>) -> Vec<Ep> {
    ids.into_iter().map(|i| ep(i, 1)).collect()
}

const KEYS: u64 = 100_000;

/// The endpoint name each of KEYS keys maps to.
fn assign(policy: LbPolicy, eps: &[Ep]) -> Vec<String> {
    let b = policy.build(eps);
    let r = SeededRandom::new(0);
    let keys = SeededRandom::new(99);
    (0..KEYS)
        .map(|_| {
            let i = b
                .pick(eps, Some(keys.next_u64()), &r, Timestamp::ZERO)
                .unwrap_or_else(|| panic!("every endpoint is available"));
            eps[i].name.clone()
        })
        .collect()
}

fn shares(names: &[String], eps: &[Ep]) -> Vec<f64> {
    eps.iter()
        .map(|e| names.iter().filter(|n| **n == e.name).count() as f64 / names.len() as f64)
        .collect()
}

#[test]
fn weighted_random_follows_weights_within_one_percent() {
    let eps: Vec<Ep> = [1u32, 2, 3, 4]
        .iter()
        .enumerate()
        .map(|(i, &w)| ep(i, w))
        .collect();
    let b = LbPolicy::WeightedRandom.build(&eps);
    let r = SeededRandom::new(2024);
    let mut counts = [0u64; 4];
    for _ in 0..KEYS {
        counts[b.pick(&eps, None, &r, Timestamp::ZERO).unwrap()] += 1;
    }
    for (i, c) in counts.iter().enumerate() {
        let share = *c as f64 / KEYS as f64;
        let want = (i + 1) as f64 / 10.0;
        assert!(
            (share - want).abs() < 0.01,
            "endpoint {i}: {share} vs {want}"
        );
    }
    // With the weight-3 endpoint ejected the others split 1:2:4.
    eps[2].up.store(false, Ordering::Relaxed);
    let mut counts = [0u64; 4];
    for _ in 0..KEYS {
        counts[b.pick(&eps, None, &r, Timestamp::ZERO).unwrap()] += 1;
    }
    assert_eq!(counts[2], 0);
    for (i, want) in [(0, 1.0 / 7.0), (1, 2.0 / 7.0), (3, 4.0 / 7.0)] {
        let share = counts[i] as f64 / KEYS as f64;
        assert!(
            (share - want).abs() < 0.01,
            "endpoint {i}: {share} vs {want}"
        );
    }
}

#[test]
fn maglev_spreads_keys_within_five_percent_of_fair() {
    let eps = set(0..10);
    let s = shares(&assign(LbPolicy::maglev(), &eps), &eps);
    for (i, share) in s.iter().enumerate() {
        assert!((share / 0.1 - 1.0).abs() < 0.05, "endpoint {i}: {share}");
    }
}

#[test]
fn ring_hash_spreads_keys_within_twenty_percent_of_fair() {
    // Ketama with 160 points per endpoint: about ±10 % is typical.
    let eps = set(0..10);
    let s = shares(&assign(LbPolicy::ring_hash(), &eps), &eps);
    for (i, share) in s.iter().enumerate() {
        assert!((share / 0.1 - 1.0).abs() < 0.20, "endpoint {i}: {share}");
    }
    // Weights scale the points.
    let eps: Vec<Ep> = (0..4).map(|i| ep(i, if i == 0 { 3 } else { 1 })).collect();
    let s = shares(&assign(LbPolicy::ring_hash(), &eps), &eps);
    assert!((s[0] / 0.5 - 1.0).abs() < 0.20, "{s:?}");
}

fn moved(before: &[String], after: &[String]) -> Vec<usize> {
    (0..before.len())
        .filter(|&k| before[k] != after[k])
        .collect()
}

#[test]
fn ring_hash_moves_only_the_keys_it_must() {
    let before_set = set(0..100);
    let before = assign(LbPolicy::ring_hash(), &before_set);
    // Remove endpoint 37: exactly its keys move.
    let removed = set((0..100).filter(|&i| i != 37));
    let after = assign(LbPolicy::ring_hash(), &removed);
    let m = moved(&before, &after);
    let gone = &before_set[37].name;
    assert!(m.iter().all(|&k| &before[k] == gone));
    assert_eq!(m.len(), before.iter().filter(|n| *n == gone).count());
    let fraction = m.len() as f64 / KEYS as f64;
    assert!(fraction < 0.015, "{fraction}");
    // Add endpoint 100: only keys it takes over move.
    let added = set(0..101);
    let after = assign(LbPolicy::ring_hash(), &added);
    let m = moved(&before, &after);
    assert!(m.iter().all(|&k| after[k] == added[100].name));
    let fraction = m.len() as f64 / KEYS as f64;
    assert!(fraction > 0.005 && fraction < 0.015, "{fraction}");
}

#[test]
fn maglev_moves_few_keys() {
    let before = assign(LbPolicy::maglev(), &set(0..100));
    let after = assign(LbPolicy::maglev(), &set((0..100).filter(|&i| i != 37)));
    let removed = moved(&before, &after).len() as f64 / KEYS as f64;
    let after = assign(LbPolicy::maglev(), &set(0..101));
    let added = moved(&before, &after).len() as f64 / KEYS as f64;
    eprintln!("maglev moved: remove {removed:.4}, add {added:.4} (minimum 0.0100, 0.0099)");
    // The minimum is 1 %; Maglev trades a little extra movement for its
    // perfect balance.
    assert!((0.009..0.02).contains(&removed), "{removed}");
    assert!((0.009..0.02).contains(&added), "{added}");
}

#[test]
fn ejection_moves_only_the_ejected_endpoints_keys() {
    for policy in [LbPolicy::ring_hash(), LbPolicy::maglev()] {
        let eps = set(0..20);
        let before = assign(policy, &eps);
        eps[5].up.store(false, Ordering::Relaxed);
        let after = assign(policy, &eps);
        let m = moved(&before, &after);
        assert!(!m.is_empty());
        assert!(m.iter().all(|&k| before[k] == eps[5].name), "{policy:?}");
        assert!(after.iter().all(|n| *n != eps[5].name));
        // Back in, every key returns.
        eps[5].up.store(true, Ordering::Relaxed);
        assert_eq!(assign(policy, &eps), before, "{policy:?}");
    }
}

#[test]
fn round_robin_is_even() {
    let eps = set(0..7);
    let b = LbPolicy::RoundRobin.build(&eps);
    let r = SeededRandom::new(0);
    let mut counts = [0u64; 7];
    for _ in 0..7_000 {
        counts[b.pick(&eps, None, &r, Timestamp::ZERO).unwrap()] += 1;
    }
    assert!(counts.iter().all(|&c| c == 1_000), "{counts:?}");
}
