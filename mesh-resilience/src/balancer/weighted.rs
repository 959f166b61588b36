//! Weighted random.

use super::{Candidate, weight_of};
use crate::rand::Random;

/// Draws to try before counting the available weight exactly.
const REJECTION_DRAWS: usize = 4;

/// At random in proportion to weight, among available endpoints.
///
/// Cumulative weights are precomputed, so a pick is one draw and a binary
/// search. A draw that lands on an unavailable endpoint is drawn again (a
/// few times) and then the pick is made among the available weight
/// exactly; both keep the split exactly proportional to the weights of
/// the available endpoints.
#[derive(Debug, Clone)]
pub struct WeightedRandom {
    cumulative: Vec<u64>,
}

impl WeightedRandom {
    /// Precomputes the cumulative weights of `endpoints`.
    pub fn new<E: Candidate>(endpoints: &[E]) -> Self {
        let mut sum = 0u64;
        WeightedRandom {
            cumulative: endpoints
                .iter()
                .map(|e| {
                    sum += weight_of(e);
                    sum
                })
                .collect(),
        }
    }

    /// An available endpoint, in proportion to weight.
    #[inline]
    pub fn pick<E: Candidate, R: Random + ?Sized>(
        &self,
        endpoints: &[E],
        random: &R,
    ) -> Option<usize> {
        let total = *self.cumulative.last()?;
        for _ in 0..REJECTION_DRAWS {
            let r = random.below(total);
            let i = self.cumulative.partition_point(|&c| c <= r);
            if endpoints.get(i).is_some_and(Candidate::is_available) {
                return Some(i);
            }
        }
        let available: u64 = endpoints
            .iter()
            .filter(|e| e.is_available())
            .map(weight_of)
            .sum();
        if available == 0 {
            return None;
        }
        let mut r = random.below(available);
        for (i, e) in endpoints.iter().enumerate() {
            if e.is_available() {
                let w = weight_of(e);
                if r < w {
                    return Some(i);
                }
                r -= w;
            }
        }
        None
    }
}
