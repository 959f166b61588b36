//! Retry budgets: retries in flight bounded by a share of requests in
//! flight.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ConfigError;

/// Envoy's `retry_budget`, which Istio's DestinationRule
/// `trafficPolicy.retryBudget` sets (`percent`, `minRetryConcurrency`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries in flight may be at most this percentage of requests in
    /// flight (Envoy's default: 20).
    pub percent: f64,
    /// ...but never fewer than this many (Envoy's default: 3), so a quiet
    /// service can still retry.
    pub min_retry_concurrency: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            percent: 20.0,
            min_retry_concurrency: 3,
        }
    }
}

/// A retry budget: a retry is allowed while retries in flight are fewer
/// than `max(min_retry_concurrency, percent × requests in flight / 100)`.
///
/// A fixed retry count multiplies load by up to `1 + retries` when every
/// endpoint is failing, which keeps them failing; a budget caps the extra
/// load at a share of the real load. Requests and retries are counted by
/// RAII guards; admission is a compare-and-swap, so concurrent callers
/// never exceed the budget.
#[derive(Debug)]
pub struct RetryBudget {
    /// Percent × 2^16, so the bound is integer arithmetic.
    percent_fixed: u64,
    min: u64,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            percent_fixed: 20 << 16,
            min: 3,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }
}

impl RetryBudget {
    /// An empty budget with `config`; the percentage must be 0 to 100.
    pub fn new(config: RetryBudgetConfig) -> Result<Self, ConfigError> {
        if !(0.0..=100.0).contains(&config.percent) {
            return Err(ConfigError::new(
                "retry_budget.percent",
                config.percent,
                "must be 0 to 100",
            ));
        }
        Ok(RetryBudget {
            percent_fixed: (config.percent * 65_536.0).round() as u64,
            min: u64::from(config.min_retry_concurrency),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn request(&self) -> RequestGuard<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        RequestGuard { budget: self }
    }

    /// The most retries in flight allowed now.
    pub fn allowed(&self) -> u64 {
        let requests = self.requests.load(Ordering::Relaxed);
        let share = u128::from(requests) * u128::from(self.percent_fixed) / (100 << 16);
        (share as u64).max(self.min)
    }

    /// Takes a retry slot if the budget allows, held until the guard is
    /// dropped (for the retry's backoff and attempt).
    pub fn try_retry(&self) -> Option<RetryGuard<'_>> {
        let allowed = self.allowed();
        self.retries
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r < allowed).then_some(r + 1)
            })
            .ok()
            .map(|_| RetryGuard { budget: self })
    }

    /// Requests in flight.
    pub fn active_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Retries in flight.
    pub fn active_retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// A request in flight, counted by its [`RetryBudget`].
#[derive(Debug)]
#[must_use = "the request stops counting as soon as the guard is dropped"]
pub struct RequestGuard<'a> {
    budget: &'a RetryBudget,
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        self.budget.requests.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A retry in flight, counted by its [`RetryBudget`].
#[derive(Debug)]
#[must_use = "the retry stops counting as soon as the guard is dropped"]
pub struct RetryGuard<'a> {
    budget: &'a RetryBudget,
}

impl Drop for RetryGuard<'_> {
    fn drop(&mut self) {
        self.budget.retries.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_load_with_a_floor() {
        let b = RetryBudget::new(RetryBudgetConfig {
            percent: 25.0,
            min_retry_concurrency: 2,
        })
        .unwrap();
        assert_eq!(b.allowed(), 2);
        let r1 = b.try_retry().unwrap();
        let _r2 = b.try_retry().unwrap();
        assert!(
            b.try_retry().is_none(),
            "the floor applies with no requests"
        );
        let requests: Vec<_> = (0..100).map(|_| b.request()).collect();
        assert_eq!(b.allowed(), 25);
        let more: Vec<_> = (0..23).map(|_| b.try_retry().unwrap()).collect();
        assert!(b.try_retry().is_none());
        assert_eq!(b.active_retries(), 25);
        drop(r1);
        assert!(b.try_retry().is_some());
        drop(more);
        drop(requests);
        assert_eq!(b.active_requests(), 0);
        assert_eq!(b.active_retries(), 1);
    }

    #[test]
    fn percent_is_validated() {
        assert!(
            RetryBudget::new(RetryBudgetConfig {
                percent: 100.5,
                min_retry_concurrency: 0
            })
            .is_err()
        );
        assert!(
            RetryBudget::new(RetryBudgetConfig {
                percent: f64::NAN,
                min_retry_concurrency: 0
            })
            .is_err()
        );
        let zero = RetryBudget::new(RetryBudgetConfig {
            percent: 0.0,
            min_retry_concurrency: 0,
        })
        .unwrap();
        let _r = zero.request();
        assert!(zero.try_retry().is_none());
        assert_eq!(RetryBudget::default().allowed(), 3);
    }
}
