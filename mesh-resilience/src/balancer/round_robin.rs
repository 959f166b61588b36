//! Round robin.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Candidate, first_available};

/// Each endpoint in turn, skipping unavailable ones; weights are ignored.
///
/// One shared counter: concurrent picks get consecutive endpoints.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl RoundRobin {
    /// A balancer starting at the first endpoint.
    pub fn new() -> Self {
        RoundRobin::default()
    }

    /// The next available endpoint.
    #[inline]
    pub fn pick<E: Candidate>(&self, endpoints: &[E]) -> Option<usize> {
        if endpoints.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % endpoints.len();
        if endpoints[start].is_available() {
            return Some(start);
        }
        first_available(endpoints, start)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::eps;
    use super::*;

    #[test]
    fn takes_turns_and_skips_ejected() {
        let set = eps(3);
        let rr = RoundRobin::new();
        let picks: Vec<_> = (0..6).map(|_| rr.pick(&set).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        set[1].set_up(false);
        let picks: Vec<_> = (0..6).map(|_| rr.pick(&set).unwrap()).collect();
        assert_eq!(picks, [0, 2, 2, 0, 2, 2]);
    }
}
