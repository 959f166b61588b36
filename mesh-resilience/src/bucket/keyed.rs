//! Token buckets by key, in bounded memory.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

use super::{BucketConfig, Core, RateLimited};
use crate::clock::{Clock, MonotonicClock, Timestamp};

const SHARDS: usize = 16;

struct Shard<K> {
    buckets: HashMap<K, Core>,
    last_sweep: Option<u64>,
}

/// One token bucket per key (per identity, per route, per client address),
/// in bounded memory.
///
/// Keys are spread over shards, each a small map under its own mutex; the
/// bucket itself is the same lock-free counter as a [`TokenBucket`]'s.
///
/// A key's bucket is created, full, at the key's first use, and fills on
/// its own schedule from then on.
///
/// Memory is bounded by `max_keys`. A full bucket is as good as an absent
/// one (a new key starts full; its restarted fill schedule can only delay
/// tokens, never add any), so when a shard is at its share of `max_keys`,
/// full buckets are dropped first and no limit is loosened.
/// Only when every bucket of the shard is in use does a new key go to one
/// **overflow bucket** shared by all such keys: each of them still gets at
/// most what its own bucket would allow, so crowding the table with keys
/// never buys more tokens. Sweeps happen at most once per fill interval
/// per shard, so a flood of new keys costs no repeated scans.
///
/// [`TokenBucket`]: super::TokenBucket
pub struct KeyedBuckets<K, C: Clock = MonotonicClock> {
    config: BucketConfig,
    clock: C,
    shards: Box<[Mutex<Shard<K>>]>,
    per_shard: usize,
    hasher: RandomState,
    overflow: Core,
}

impl<K, C: Clock> fmt::Debug for KeyedBuckets<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBuckets")
            .field("config", &self.config)
            .field("max_keys", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq> KeyedBuckets<K, MonotonicClock> {
    /// Buckets of `config` for at most `max_keys` keys (rounded up to a
    /// multiple of 16), on the real clock.
    pub fn new(config: BucketConfig, max_keys: usize) -> Self {
        KeyedBuckets::with_clock(config, max_keys, MonotonicClock::new())
    }
}

impl<K: Hash + Eq, C: Clock> KeyedBuckets<K, C> {
    /// Buckets of `config` for at most `max_keys` keys (rounded up to a
    /// multiple of 16), reading time from `clock`.
    pub fn with_clock(config: BucketConfig, max_keys: usize, clock: C) -> Self {
        let per_shard = max_keys.div_ceil(SHARDS).max(1);
        let now = clock.now();
        KeyedBuckets {
            config,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        last_sweep: None,
                    })
                })
                .collect(),
            per_shard,
            hasher: RandomState::new(),
            overflow: Core::new(now),
            clock,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, Shard<K>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A panic while holding the lock cannot leave a shard inconsistent
        // (every update is a single map or atomic operation), so a
        // poisoned lock is used as is.
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `n` tokens from `key`'s bucket now, or none at all.
    pub fn try_acquire<Q>(&self, key: &Q, n: u64) -> Result<(), RateLimited>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.clock.now();
        let mut shard = self.shard(key);
        if let Some(core) = shard.buckets.get(key) {
            return core.try_acquire(&self.config, n, now);
        }
        if shard.buckets.len() >= self.per_shard && !self.sweep(&mut shard, now) {
            drop(shard);
            return self.overflow.try_acquire(&self.config, n, now);
        }
        let core = Core::new(now);
        let result = core.try_acquire(&self.config, n, now);
        shard.buckets.insert(key.to_owned(), core);
        result
    }

    /// Drops full buckets if the shard was not swept in the last fill
    /// interval; whether there is room now.
    fn sweep(&self, shard: &mut Shard<K>, now: Timestamp) -> bool {
        let interval = self.config.fill_interval().as_nanos() as u64;
        let due = shard
            .last_sweep
            .is_none_or(|t| now.as_nanos().saturating_sub(t) >= interval);
        if due {
            shard.last_sweep = Some(now.as_nanos());
            let max = self.config.max_tokens();
            shard
                .buckets
                .retain(|_, core| core.available(&self.config, now) < max);
        }
        shard.buckets.len() < self.per_shard
    }

    /// Tokens in `key`'s bucket now (a key without a bucket has a full one).
    pub fn available<Q>(&self, key: &Q) -> u64
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.clock.now();
        self.shard(key)
            .buckets
            .get(key)
            .map_or(self.config.max_tokens(), |c| c.available(&self.config, now))
    }

    /// Keys with a bucket of their own.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .buckets
                    .len()
            })
            .sum()
    }

    /// Whether no key has a bucket of its own.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys with buckets of their own.
    pub fn max_keys(&self) -> usize {
        self.per_shard * SHARDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::time::Duration;

    #[test]
    fn keys_are_independent() {
        let clock = ManualClock::new();
        let cfg = BucketConfig::new(2, 1, Duration::from_secs(1)).unwrap();
        let k: KeyedBuckets<String, _> = KeyedBuckets::with_clock(cfg, 100, clock.clone());
        k.try_acquire("a", 2).unwrap();
        assert!(k.try_acquire("a", 1).is_err());
        k.try_acquire("b", 2).unwrap();
        assert_eq!(k.available("a"), 0);
        assert_eq!(k.available("never-seen"), 2);
        assert_eq!(k.len(), 2);
        clock.advance(Duration::from_secs(1));
        assert_eq!(k.available("a"), 1);
    }

    #[test]
    fn memory_is_bounded_and_full_buckets_make_room() {
        let clock = ManualClock::new();
        let cfg = BucketConfig::new(1, 1, Duration::from_secs(1)).unwrap();
        let k: KeyedBuckets<u32, _> = KeyedBuckets::with_clock(cfg, 16, clock.clone());
        for key in 0..1000u32 {
            let _ = k.try_acquire(&key, 1);
        }
        assert!(k.len() <= k.max_keys());
        // Keys that did not fit share the overflow bucket, which is empty.
        let crowded = (0..1000u32)
            .filter(|key| k.try_acquire(key, 1).is_ok())
            .count();
        assert_eq!(crowded, 0, "no key gets more than one token");
        // After a fill every bucket is full again: equivalent to absent,
        // so new keys get buckets of their own.
        clock.advance(Duration::from_secs(1));
        k.try_acquire(&5000, 1).unwrap();
        assert_eq!(k.available(&5000), 0, "the new key has a bucket of its own");
        assert!(k.len() <= k.max_keys());
    }
}
