//! Consistent hashing on a Maglev table.

use super::{Candidate, first_available, weight_of};
use crate::div::Divisor;
use crate::error::ConfigError;
use crate::hash::xxh64;
use crate::rand::splitmix64;

/// Settings of [`Maglev`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaglevConfig {
    /// Entries in the table: a prime, much larger than the number of
    /// endpoints (Envoy's default 65,537; 4 bytes each).
    pub table_size: u64,
}

impl Default for MaglevConfig {
    fn default() -> Self {
        MaglevConfig { table_size: 65_537 }
    }
}

impl MaglevConfig {
    /// The table size must be a prime of at most 5,000,011 (Envoy's
    /// limit).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_prime(self.table_size) || self.table_size > 5_000_011 {
            return Err(ConfigError::new(
                "maglev.table_size",
                self.table_size,
                "must be a prime of at most 5000011",
            ));
        }
        Ok(())
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// Maglev (Eisenbud et al., NSDI 2016), weighted as in Envoy: each
/// endpoint fills table slots along its own permutation of the table,
/// taking turns in proportion to weight, until the table is full. A key
/// is looked up in one step: `table[hash % size]`.
///
/// Every endpoint gets almost exactly its share of slots, and a change of
/// endpoint set moves few keys (a little more than the minimum; measured
/// in the tests). A key whose endpoint is unavailable is rehashed a few
/// times, then goes to the next available endpoint, while every other key
/// stays put.
#[derive(Debug, Clone)]
pub struct Maglev {
    table: Vec<u32>,
    size: Divisor,
}

/// Rehashes of a key whose endpoint is unavailable before scanning.
const REHASHES: u64 = 8;

impl Maglev {
    /// Builds the table of `endpoints` (the size must be valid).
    pub fn new<E: Candidate>(endpoints: &[E], config: &MaglevConfig) -> Self {
        let m = config.table_size.max(2);
        if endpoints.is_empty() {
            return Maglev {
                table: Vec::new(),
                size: Divisor::new(m),
            };
        }
        struct Entry {
            offset: u64,
            skip: u64,
            next: u64,
            weight: u64,
            target: u64,
        }
        let max_weight = endpoints.iter().map(weight_of).max().unwrap_or(1);
        let mut entries: Vec<Entry> = endpoints
            .iter()
            .map(|e| {
                let name = e.hash_name().as_bytes();
                Entry {
                    offset: xxh64(name, 0) % m,
                    skip: xxh64(name, 1) % (m - 1) + 1,
                    next: 0,
                    weight: weight_of(e),
                    target: 0,
                }
            })
            .collect();
        const EMPTY: u32 = u32::MAX;
        let mut table = vec![EMPTY; m as usize];
        let mut filled = 0u64;
        let mut iteration = 1u64;
        while filled < m {
            for (i, entry) in entries.iter_mut().enumerate() {
                if filled == m {
                    break;
                }
                // An endpoint of weight max_weight / k takes a turn every
                // k iterations.
                if iteration * entry.weight < entry.target {
                    continue;
                }
                entry.target += max_weight;
                loop {
                    let c = (entry.offset + entry.skip * entry.next) % m;
                    entry.next += 1;
                    if table[c as usize] == EMPTY {
                        table[c as usize] = i as u32;
                        filled += 1;
                        break;
                    }
                }
            }
            iteration += 1;
        }
        Maglev {
            table,
            size: Divisor::new(m),
        }
    }

    /// The endpoint index in each table slot (for inspection and tests).
    pub fn table(&self) -> &[u32] {
        &self.table
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        let m = self.size.get();
        (hash - self.size.div(hash) * m) as usize
    }

    /// The available endpoint for `hash`.
    #[inline]
    pub fn pick<E: Candidate>(&self, endpoints: &[E], hash: u64) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let i = self.table[self.slot(hash)] as usize;
        if endpoints.get(i).is_some_and(Candidate::is_available) {
            return Some(i);
        }
        self.pick_slow(endpoints, hash, i)
    }

    #[cold]
    fn pick_slow<E: Candidate>(&self, endpoints: &[E], hash: u64, first: usize) -> Option<usize> {
        for k in 1..=REHASHES {
            let i = self.table[self.slot(splitmix64(hash.wrapping_add(k)))] as usize;
            if endpoints.get(i).is_some_and(Candidate::is_available) {
                return Some(i);
            }
        }
        if endpoints.is_empty() {
            return None;
        }
        first_available(endpoints, first % endpoints.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Ep, eps};
    use super::*;

    #[test]
    fn table_sizes_must_be_prime() {
        assert!(MaglevConfig::default().validate().is_ok());
        assert!(MaglevConfig { table_size: 65_536 }.validate().is_err());
        assert!(
            MaglevConfig {
                table_size: 5_000_011
            }
            .validate()
            .is_ok()
        );
        assert!(MaglevConfig { table_size: 1 }.validate().is_err());
    }

    #[test]
    fn unweighted_shares_differ_by_at_most_one_slot() {
        let set = eps(7);
        let m = Maglev::new(&set, &MaglevConfig { table_size: 65_537 });
        let mut counts = [0u64; 7];
        for &i in m.table() {
            counts[i as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(max - min <= 1, "{counts:?}");
    }

    #[test]
    fn weighted_shares_follow_weights() {
        let set: Vec<Ep> = [1u32, 2, 4]
            .iter()
            .enumerate()
            .map(|(i, &w)| Ep::new(i, w))
            .collect();
        let m = Maglev::new(&set, &MaglevConfig::default());
        let mut counts = [0f64; 3];
        for &i in m.table() {
            counts[i as usize] += 1.0;
        }
        for (i, want) in [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0].iter().enumerate() {
            let got = counts[i] / 65_537.0;
            assert!((got - want).abs() < 0.001, "endpoint {i}: {got} vs {want}");
        }
    }
}
