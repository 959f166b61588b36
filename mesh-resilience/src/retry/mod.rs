//! Retries: a policy, exponential backoff with full jitter, server
//! pushback, a retry budget, and an async helper that runs the attempts.
//!
//! - [`RetryPolicy`]: how many retries, the per-try and overall timeouts,
//!   which outcomes are retryable ([`RetryOn`], Istio's `retryOn`), the
//!   [`Backoff`] (Envoy's 25 ms base, 250 ms cap) and the longest server
//!   pushback honoured.
//! - [`RetryState`]: the pure decision logic on an injected clock and
//!   random source: after each attempt it says retry after how long, or
//!   stop and why ([`Stop`]). Tested under a manual clock.
//! - [`Retry`]: the async helper. It calls a closure once per attempt,
//!   applies the timeouts, classifies each result with a closure of yours
//!   ([`Verdict`]), honours `Retry-After` / `grpc-retry-pushback-ms`
//!   ([`pushback`]), and takes a [`RetryBudget`] slot and a pool-limit
//!   retry slot before every retry.
//!
//! **A request that is not replayable is never retried**: its body was
//! streamed to the first upstream and cannot be sent again. The caller
//! says so when building the [`Retry`]; there is no default.
//!
//! ```
//! use std::time::Duration;
//! use mesh_resilience::retry::{Retry, RetryPolicy, Stop, Verdict};
//! use mesh_resilience::rand::SeededRandom;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let policy = RetryPolicy { max_retries: 2, ..RetryPolicy::default() };
//! let statuses = [503u16, 503, 200];
//! let done = Retry::new(&policy, true)
//!     .random(SeededRandom::new(1))
//!     .run(
//!         |attempt| async move { Ok::<u16, std::io::Error>(statuses[attempt as usize]) },
//!         |result| match result {
//!             Ok(status) => policy.verdict_for_status(*status),
//!             Err(_) => Verdict::Accept,
//!         },
//!     )
//!     .await;
//! assert_eq!(done.result.unwrap(), 200);
//! assert_eq!((done.attempts, done.stop), (3, Stop::Final));
//! # }
//! ```

mod backoff;
mod budget;
pub mod pushback;
mod retry_on;

pub use backoff::Backoff;
pub use budget::{RequestGuard, RetryBudget, RetryBudgetConfig, RetryGuard};
pub use pushback::Pushback;
pub use retry_on::{Failure, RetryOn};

use std::future::Future;
use std::time::Duration;

use mesh_core::telemetry::ResponseFlags;
use mesh_core::{ErrorClass, Side};

use crate::clock::{Clock, Timestamp, TokioClock};
use crate::limits::{PoolLimits, Resource};
use crate::rand::{Random, ThreadRandom};

/// How a request is retried. The defaults are Istio's: 2 retries on
/// connect failures, refused streams, 503 and gRPC `unavailable` and
/// `cancelled`, no timeouts, Envoy's backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Istio `attempts`).
    pub max_retries: u32,
    /// The time allowed for each attempt (Istio `perTryTimeout`).
    pub per_try_timeout: Option<Duration>,
    /// The time allowed for all attempts and backoffs together (the
    /// route's timeout).
    pub timeout: Option<Duration>,
    /// Which outcomes are retryable (Istio `retryOn`).
    pub retry_on: RetryOn,
    /// The delay before each retry.
    pub backoff: Backoff,
    /// The longest server pushback honoured; a longer one stops retrying
    /// (300 s, Envoy's cap for rate-limited retry backoff).
    pub max_pushback: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            per_try_timeout: None,
            timeout: None,
            retry_on: RetryOn::istio_default(),
            backoff: Backoff::default(),
            max_pushback: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The verdict for an HTTP response status.
    pub fn verdict_for_status(&self, status: u16) -> Verdict {
        if self.retry_on.status(status) {
            Verdict::Retry
        } else {
            Verdict::Accept
        }
    }

    /// The verdict for a gRPC status, with the server's pushback if any: a
    /// pushback delays a retryable status, or forbids retrying it.
    pub fn verdict_for_grpc(&self, code: u32, pushback: Option<Pushback>) -> Verdict {
        if !self.retry_on.grpc(code) {
            return Verdict::Accept;
        }
        match pushback {
            None => Verdict::Retry,
            Some(Pushback::After(d)) => Verdict::RetryAfter(d),
            Some(Pushback::DoNotRetry) => Verdict::Accept,
        }
    }

    /// The verdict for an attempt that failed without a response.
    pub fn verdict_for_failure(&self, failure: Failure) -> Verdict {
        if self.retry_on.failure(failure) {
            Verdict::Retry
        } else {
            Verdict::Accept
        }
    }
}

/// What to do with one attempt's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Final: return it (a success, or a failure not worth retrying).
    Accept,
    /// Retryable, after the backoff.
    Retry,
    /// Retryable, after exactly this long: the server's pushback
    /// (`Retry-After`, `grpc-retry-pushback-ms`) replaces the backoff.
    RetryAfter(Duration),
}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stop {
    /// The last result was final ([`Verdict::Accept`]).
    Final,
    /// Retryable, but `max_retries` retries were made (`URX`).
    Exhausted,
    /// Retryable, but the request cannot be sent again.
    NotReplayable,
    /// Retryable, but the retry budget had no room.
    BudgetExhausted,
    /// Retryable, but the pool's `max_retries` limit was reached.
    Overflow,
    /// The overall timeout expired during an attempt (the result is
    /// [`RetryError::Timeout`]), or would expire before the next attempt
    /// could start (the last attempt's result is returned at once rather
    /// than after waiting out the deadline).
    Timeout,
    /// Retryable, but the server asked to wait longer than `max_pushback`.
    PushbackTooLong,
}

/// The next step after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Retry after this delay.
    Retry(Duration),
    /// Return the last result.
    Stop(Stop),
}

/// The time limit of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    /// How long the attempt may take.
    pub after: Duration,
    /// Whether the limit is the overall deadline rather than the per-try
    /// timeout: expiring ends the request.
    pub overall: bool,
}

/// The retry decisions for one request, on an injected clock; see the
/// [module docs](self). [`Retry`] drives it with tokio's clock.
#[derive(Debug, Clone)]
pub struct RetryState {
    attempts: u32,
    deadline: Option<Timestamp>,
}

impl RetryState {
    /// The state of a request starting at `now`.
    pub fn new(policy: &RetryPolicy, now: Timestamp) -> RetryState {
        RetryState {
            attempts: 0,
            deadline: policy.timeout.map(|t| now.saturating_add(t)),
        }
    }

    /// Attempts begun so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Begins an attempt at `now`: its time limit, or [`Stop::Timeout`]
    /// when the deadline has passed.
    pub fn begin_attempt(
        &mut self,
        policy: &RetryPolicy,
        now: Timestamp,
    ) -> Result<Option<AttemptLimit>, Stop> {
        let remaining = match self.deadline {
            Some(deadline) if now >= deadline => return Err(Stop::Timeout),
            Some(deadline) => Some(deadline.saturating_since(now)),
            None => None,
        };
        self.attempts += 1;
        Ok(match (policy.per_try_timeout, remaining) {
            (Some(per_try), Some(left)) if per_try < left => Some(AttemptLimit {
                after: per_try,
                overall: false,
            }),
            (_, Some(left)) => Some(AttemptLimit {
                after: left,
                overall: true,
            }),
            (Some(per_try), None) => Some(AttemptLimit {
                after: per_try,
                overall: false,
            }),
            (None, None) => None,
        })
    }

    /// Decides, at `now`, what follows an attempt judged `verdict`.
    pub fn decide(
        &self,
        policy: &RetryPolicy,
        verdict: Verdict,
        replayable: bool,
        now: Timestamp,
        random: &(impl Random + ?Sized),
    ) -> Decision {
        if verdict == Verdict::Accept {
            return Decision::Stop(Stop::Final);
        }
        if !replayable {
            return Decision::Stop(Stop::NotReplayable);
        }
        let retries = self.attempts.saturating_sub(1);
        if retries >= policy.max_retries {
            return Decision::Stop(Stop::Exhausted);
        }
        let delay = match verdict {
            Verdict::RetryAfter(d) if d > policy.max_pushback => {
                return Decision::Stop(Stop::PushbackTooLong);
            }
            Verdict::RetryAfter(d) => d,
            _ => policy.backoff.delay(retries, random),
        };
        if self
            .deadline
            .is_some_and(|deadline| now.saturating_add(delay) >= deadline)
        {
            return Decision::Stop(Stop::Timeout);
        }
        Decision::Retry(delay)
    }
}

/// Why the returned result is an error.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    /// The last attempt failed with this error.
    #[error("{0}")]
    Failed(E),
    /// The last attempt exceeded the per-try timeout.
    #[error("upstream per-try timeout after {0:?}")]
    PerTryTimeout(Duration),
    /// The overall timeout expired.
    #[error("upstream request timeout after {0:?}")]
    Timeout(Duration),
}

impl<E: ErrorClass> ErrorClass for RetryError<E> {
    fn side(&self) -> Side {
        match self {
            RetryError::Failed(e) => e.side(),
            _ => Side::Upstream,
        }
    }

    fn retry_safe(&self) -> bool {
        match self {
            RetryError::Failed(e) => e.retry_safe(),
            _ => false,
        }
    }
}

/// The outcome of [`Retry::run`].
#[derive(Debug)]
pub struct Finished<T, E> {
    /// The last attempt's result, or the timeout.
    pub result: Result<T, RetryError<E>>,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Why it stopped.
    pub stop: Stop,
}

impl<T, E> Finished<T, E> {
    /// Envoy's response flags for the outcome: `UT` for a timeout, `URX`
    /// when the retries ran out on a retryable result.
    pub fn response_flags(&self) -> ResponseFlags {
        let mut flags = ResponseFlags::NONE;
        if matches!(
            self.result,
            Err(RetryError::Timeout(_) | RetryError::PerTryTimeout(_))
        ) {
            flags |= ResponseFlags::UPSTREAM_REQUEST_TIMEOUT;
        }
        if self.stop == Stop::Exhausted {
            flags |= ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED;
        }
        flags
    }
}

/// Runs a request's attempts under a [`RetryPolicy`]; see the
/// [module docs](self).
#[derive(Debug)]
pub struct Retry<'a, R: Random = ThreadRandom> {
    policy: &'a RetryPolicy,
    replayable: bool,
    budget: Option<&'a RetryBudget>,
    limits: Option<&'a PoolLimits>,
    random: R,
}

impl<'a> Retry<'a, ThreadRandom> {
    /// Attempts under `policy`; `replayable` says whether the request can
    /// be sent more than once (its body is buffered or empty).
    pub fn new(policy: &'a RetryPolicy, replayable: bool) -> Self {
        Retry {
            policy,
            replayable,
            budget: None,
            limits: None,
            random: ThreadRandom,
        }
    }
}

impl<'a, R: Random> Retry<'a, R> {
    /// Counts the request against `budget` and takes a budget slot before
    /// each retry.
    pub fn budget(mut self, budget: &'a RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Takes a `max_retries` slot of `limits` before each retry.
    pub fn limits(mut self, limits: &'a PoolLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Draws backoff jitter from `random`.
    pub fn random<R2: Random>(self, random: R2) -> Retry<'a, R2> {
        Retry {
            policy: self.policy,
            replayable: self.replayable,
            budget: self.budget,
            limits: self.limits,
            random,
        }
    }

    /// Calls `attempt(n)` for n = 0, 1, ... until `classify` accepts a
    /// result or retrying stops, sleeping the backoff between attempts on
    /// tokio's timer. Dropping the future cancels the attempt in flight.
    pub async fn run<T, E, F, Fut, V>(self, mut attempt: F, mut classify: V) -> Finished<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        V: FnMut(&Result<T, E>) -> Verdict,
    {
        let clock = TokioClock::new();
        let policy = self.policy;
        let overall = policy.timeout.unwrap_or(Duration::MAX);
        let _request = self.budget.map(RetryBudget::request);
        let mut state = RetryState::new(policy, clock.now());
        let mut _held = (None, None);
        loop {
            let limit = match state.begin_attempt(policy, clock.now()) {
                Ok(limit) => limit,
                Err(stop) => {
                    return Finished {
                        result: Err(RetryError::Timeout(overall)),
                        attempts: state.attempts(),
                        stop,
                    };
                }
            };
            let fut = attempt(state.attempts() - 1);
            let outcome = match limit {
                None => Some(fut.await),
                Some(limit) => match tokio::time::timeout(limit.after, fut).await {
                    Ok(r) => Some(r),
                    Err(_) if limit.overall => {
                        return Finished {
                            result: Err(RetryError::Timeout(overall)),
                            attempts: state.attempts(),
                            stop: Stop::Timeout,
                        };
                    }
                    Err(_) => None,
                },
            };
            let (result, verdict) = match outcome {
                Some(r) => {
                    let v = classify(&r);
                    (r.map_err(RetryError::Failed), v)
                }
                None => (
                    Err(RetryError::PerTryTimeout(
                        policy.per_try_timeout.unwrap_or_default(),
                    )),
                    policy.verdict_for_failure(Failure::PerTryTimeout),
                ),
            };
            // The retry slots were held through the attempt; it is over.
            _held = (None, None);
            let stop =
                match state.decide(policy, verdict, self.replayable, clock.now(), &self.random) {
                    Decision::Stop(stop) => Some(stop),
                    Decision::Retry(delay) => {
                        let budget = match self.budget.map(RetryBudget::try_retry) {
                            Some(None) => Err(Stop::BudgetExhausted),
                            other => Ok(other.flatten()),
                        };
                        let limit = match self.limits.map(|l| l.try_acquire(Resource::Retries)) {
                            Some(Err(_)) => Err(Stop::Overflow),
                            Some(Ok(g)) => Ok(Some(g)),
                            None => Ok(None),
                        };
                        match (budget, limit) {
                            (Ok(b), Ok(l)) => {
                                _held = (b, l);
                                tokio::time::sleep(delay).await;
                                None
                            }
                            (Err(stop), _) | (_, Err(stop)) => Some(stop),
                        }
                    }
                };
            if let Some(stop) = stop {
                return Finished {
                    result,
                    attempts: state.attempts(),
                    stop,
                };
            }
        }
    }
}
