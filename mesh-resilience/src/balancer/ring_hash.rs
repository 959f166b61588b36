//! Consistent hashing on a ketama ring.

use std::fmt::Write;

use super::{Candidate, weight_of};
use crate::error::ConfigError;
use crate::hash::xxh64;

/// Settings of [`RingHash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingHashConfig {
    /// Points per endpoint of average weight (ketama's 160). More points
    /// spread keys more evenly; each costs 12 bytes.
    pub hashes_per_host: u32,
    /// The most points on the ring (Envoy's `maximum_ring_size`, 8 M):
    /// larger sets get fewer points per endpoint.
    pub max_ring_size: u32,
}

impl Default for RingHashConfig {
    fn default() -> Self {
        RingHashConfig {
            hashes_per_host: 160,
            max_ring_size: 8 * 1024 * 1024,
        }
    }
}

impl RingHashConfig {
    /// Both sizes must be at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hashes_per_host == 0 {
            return Err(ConfigError::new(
                "ring_hash.hashes_per_host",
                0,
                "must be at least 1",
            ));
        }
        if self.max_ring_size == 0 {
            return Err(ConfigError::new(
                "ring_hash.max_ring_size",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// A ketama ring: each endpoint owns points `xxh64("<name>_<i>")` in
/// proportion to its weight; a key goes to the first point at or after
/// its hash, wrapping.
///
/// With equal weights every endpoint keeps the same points whatever the
/// set, so adding an endpoint moves only the keys it takes over, and
/// removing one moves only its own keys (measured in the tests). An
/// unavailable endpoint's keys go to the next available point, while
/// every other key stays put.
#[derive(Debug, Clone)]
pub struct RingHash {
    /// (point, endpoint index), sorted by point.
    ring: Vec<(u64, u32)>,
}

impl RingHash {
    /// Builds the ring of `endpoints`.
    pub fn new<E: Candidate>(endpoints: &[E], config: &RingHashConfig) -> Self {
        if endpoints.is_empty() {
            return RingHash { ring: Vec::new() };
        }
        let total: u64 = endpoints.iter().map(weight_of).sum();
        let mean = total as f64 / endpoints.len() as f64;
        let per_host = f64::from(config.hashes_per_host.max(1));
        let wanted = per_host * endpoints.len() as f64;
        let scale = (f64::from(config.max_ring_size.max(1)) / wanted).min(1.0);
        let mut ring = Vec::new();
        let mut key = String::new();
        for (i, e) in endpoints.iter().enumerate() {
            let points = ((per_host * weight_of(e) as f64 / mean) * scale)
                .round()
                .max(1.0) as u64;
            for j in 0..points {
                key.clear();
                let _ = write!(key, "{}_{j}", e.hash_name());
                ring.push((xxh64(key.as_bytes(), 0), i as u32));
            }
        }
        ring.sort_unstable();
        RingHash { ring }
    }

    /// Points on the ring.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty (no endpoints).
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The available endpoint owning `hash`.
    #[inline]
    pub fn pick<E: Candidate>(&self, endpoints: &[E], hash: u64) -> Option<usize> {
        let n = self.ring.len();
        let start = self.ring.partition_point(|&(p, _)| p < hash);
        (0..n)
            .map(|k| self.ring[(start + k) % n].1 as usize)
            .find(|&i| endpoints.get(i).is_some_and(Candidate::is_available))
    }
}
