//! A lock-free circuit breaker: Closed, Open and HalfOpen.
//!
//! A breaker stops sending requests to something that keeps failing, so
//! it gets time to recover and callers fail fast instead of queueing.
//!
//! # States
//!
//! - **Closed**: every call is admitted. Outcomes are counted. The breaker
//!   trips to Open on either rule that is configured: `n` consecutive
//!   failures, or a failure rate at or above a threshold over a sliding
//!   window, once the window holds a minimum volume of calls (so three
//!   failures out of four calls at 3 a.m. do not trip a 50 % rule with a
//!   volume of 20).
//! - **Open**: every call is rejected with [`Rejected`] until the open time
//!   has passed. The open time is `base_open × n`, capped at `max_open`,
//!   where `n` counts the trips since the breaker was last Closed, so a
//!   backend that fails every probe is left alone for longer each time.
//! - **HalfOpen**: the first call after the open time moves the breaker to
//!   HalfOpen and becomes a probe. At most `half_open_probes` probes are
//!   admitted; when that many have succeeded the breaker closes (and `n`
//!   starts again at 0); one failed probe opens it again with `n + 1`.
//!   Calls beyond the probes are rejected.
//!
//! # Permits
//!
//! [`Breaker::admit`] returns a [`Permit`] or a typed rejection. The permit
//! records the outcome: [`Permit::success`] or [`Permit::failure`].
//! **A permit dropped without either counts as neither**: the call was
//! cancelled (the client went away, a timeout elsewhere fired, the task
//! panicked), which says nothing about the backend. A dropped HalfOpen
//! probe gives its probe slot back, so another call can probe; it never
//! wedges the breaker in HalfOpen.
//!
//! Outcomes of permits issued before the breaker last changed state are
//! ignored: a slow call admitted while Closed that fails after the breaker
//! already opened must not extend or re-trip anything. (A generation
//! number in the state word tells them apart; it wraps after 65,536 state
//! changes.)
//!
//! # Cost
//!
//! The whole state (state, generation, trip count, open-until time or probe
//! counts) is one `AtomicU64`. Admitting while Closed is one load; success
//! is one load plus, with a failure-rate rule, a clock read and one
//! compare-and-swap on a window bucket. Transitions are compare-and-swaps,
//! and only the winner calls the [transition hook](Breaker::on_transition),
//! once per transition.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use mesh_resilience::breaker::{Breaker, BreakerConfig, State};
//! use mesh_resilience::clock::ManualClock;
//!
//! let clock = ManualClock::new();
//! let config = BreakerConfig {
//!     consecutive_failures: Some(2),
//!     base_open: Duration::from_secs(1),
//!     half_open_probes: 1,
//!     ..BreakerConfig::default()
//! };
//! let breaker = Breaker::with_clock(config, clock.clone()).unwrap();
//! breaker.admit().unwrap().failure();
//! breaker.admit().unwrap().failure();
//! assert_eq!(breaker.state(), State::Open);
//! assert!(breaker.admit().is_err());
//!
//! clock.advance(Duration::from_secs(1));
//! let probe = breaker.admit().unwrap();
//! assert!(probe.is_probe());
//! probe.success();
//! assert_eq!(breaker.state(), State::Closed);
//! ```

mod config;
mod window;
mod word;

pub use config::{BreakerConfig, FailureRate};

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use mesh_core::telemetry::ResponseFlags;
use mesh_core::{ErrorClass, Side};

use crate::clock::{Clock, MonotonicClock, Timestamp, duration_nanos};
use crate::div::Divisor;
use crate::error::ConfigError;
use config::MAX_MILLIS;
use window::Window;
use word::{TRIPS_MAX, Word};

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls are admitted and their outcomes counted.
    Closed,
    /// Calls are rejected until the open time has passed.
    Open,
    /// A bounded number of probe calls decide between Closed and Open.
    HalfOpen,
}

impl State {
    /// A lower-case name for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state, as given to the transition hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Trips since the breaker was last Closed (0 once Closed again).
    pub trips: u32,
    /// When the transition happened, on the breaker's clock.
    pub at: Timestamp,
    /// For a transition to Open: how long it stays open.
    pub open_for: Option<Duration>,
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {state}{}", retry_after.map(|d| format!(", retry in {d:?}")).unwrap_or_default())]
pub struct Rejected {
    /// [`State::Open`], or [`State::HalfOpen`] when every probe slot is taken.
    pub state: State,
    /// For an Open breaker: the time left until it admits a probe.
    pub retry_after: Option<Duration>,
}

impl Rejected {
    /// The response flags a proxy reports for the rejection: `UO`, as Envoy
    /// does for its circuit breakers, with status 503.
    pub const fn response_flags(&self) -> ResponseFlags {
        ResponseFlags::UPSTREAM_OVERFLOW
    }
}

impl ErrorClass for Rejected {
    /// The proxy's own decision: nothing was sent.
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        true
    }
}

/// The error of [`Breaker::call`]: rejected, or the call's own error.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker did not admit the call; it was not made.
    #[error(transparent)]
    Rejected(Rejected),
    /// The call was made and failed (and counted as a failure).
    #[error("{0}")]
    Failed(E),
}

impl<E: ErrorClass> ErrorClass for CallError<E> {
    fn side(&self) -> Side {
        match self {
            CallError::Rejected(r) => r.side(),
            CallError::Failed(e) => e.side(),
        }
    }

    fn retry_safe(&self) -> bool {
        match self {
            CallError::Rejected(r) => r.retry_safe(),
            CallError::Failed(e) => e.retry_safe(),
        }
    }
}

type Hook = Box<dyn Fn(&Transition) + Send + Sync>;

/// A lock-free circuit breaker; see the [module docs](self).
///
/// Share it between threads by reference or in an `Arc`; all methods take
/// `&self`.
pub struct Breaker<C: Clock = MonotonicClock> {
    word: AtomicU64,
    consecutive: AtomicU32,
    window: Option<Window>,
    config: BreakerConfig,
    ms: Divisor,
    clock: C,
    hook: Option<Hook>,
}

impl<C: Clock> fmt::Debug for Breaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = Word(self.word.load(Ordering::Relaxed));
        f.debug_struct("Breaker")
            .field("state", &w.state())
            .field("trips", &w.trips())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Breaker<MonotonicClock> {
    /// A Closed breaker on the real clock.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        Breaker::with_clock(config, MonotonicClock::new())
    }
}

/// What a permit reports when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Completion {
    Success,
    Failure,
    Dropped,
}

impl<C: Clock> Breaker<C> {
    /// A Closed breaker reading time from `clock`.
    pub fn with_clock(config: BreakerConfig, clock: C) -> Result<Self, ConfigError> {
        config.validate()?;
        let window = config.failure_rate.map(|rate| {
            let width = duration_nanos(rate.window) / u64::from(rate.buckets);
            Window::new(rate.buckets, width)
        });
        Ok(Breaker {
            word: AtomicU64::new(Word::new(State::Closed, 0, 0, 0).0),
            consecutive: AtomicU32::new(0),
            window,
            config,
            ms: Divisor::new(1_000_000),
            clock,
            hook: None,
        })
    }

    /// Calls `hook` on every change of state, from the thread that made
    /// it, exactly once per change: for metrics and logs. Keep it short; it
    /// runs on the request path.
    pub fn on_transition(mut self, hook: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state as stored. An Open breaker whose open time has
    /// passed still says Open until a call is admitted as a probe.
    pub fn state(&self) -> State {
        Word(self.word.load(Ordering::Acquire)).state()
    }

    /// Trips since the breaker was last Closed.
    pub fn trips(&self) -> u32 {
        Word(self.word.load(Ordering::Acquire)).trips() as u32
    }

    /// Asks to make a call: a [`Permit`] that must record the outcome, or
    /// a [`Rejected`] when the breaker is Open or every probe is taken.
    #[inline]
    pub fn admit(&self) -> Result<Permit<'_, C>, Rejected> {
        let w = Word(self.word.load(Ordering::Acquire));
        if w.state() == State::Closed {
            return Ok(Permit::new(self, w.generation(), false));
        }
        self.admit_slow(w)
    }

    #[cold]
    fn admit_slow(&self, mut w: Word) -> Result<Permit<'_, C>, Rejected> {
        loop {
            match w.state() {
                State::Closed => return Ok(Permit::new(self, w.generation(), false)),
                State::Open => {
                    let now = self.clock.now();
                    let until = w.payload().saturating_mul(1_000_000);
                    if now.as_nanos() < until {
                        return Err(Rejected {
                            state: State::Open,
                            retry_after: Some(Duration::from_nanos(until - now.as_nanos())),
                        });
                    }
                    let next = Word::half_open(w.generation().wrapping_add(1), w.trips(), 1, 0);
                    match self.swap(w, next) {
                        Ok(()) => {
                            self.notify(State::Open, State::HalfOpen, next.trips(), now, None);
                            return Ok(Permit::new(self, next.generation(), true));
                        }
                        Err(seen) => w = seen,
                    }
                }
                State::HalfOpen => {
                    let taken = w.in_flight() + w.succeeded();
                    if taken >= u64::from(self.config.half_open_probes) {
                        return Err(Rejected {
                            state: State::HalfOpen,
                            retry_after: None,
                        });
                    }
                    let next = Word(w.0 + 1);
                    match self.swap(w, next) {
                        Ok(()) => return Ok(Permit::new(self, w.generation(), true)),
                        Err(seen) => w = seen,
                    }
                }
            }
        }
    }

    /// Runs `f` if admitted, recording `Ok` as success and `Err` as
    /// failure. A panic in `f` drops the permit: it counts as neither.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        let permit = self.admit().map_err(CallError::Rejected)?;
        match f() {
            Ok(v) => {
                permit.success();
                Ok(v)
            }
            Err(e) => {
                permit.failure();
                Err(CallError::Failed(e))
            }
        }
    }

    #[inline]
    fn swap(&self, from: Word, to: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(Word)
    }

    fn notify(
        &self,
        from: State,
        to: State,
        trips: u64,
        at: Timestamp,
        open_for: Option<Duration>,
    ) {
        if let Some(hook) = &self.hook {
            hook(&Transition {
                from,
                to,
                trips: trips as u32,
                at,
                open_for,
            });
        }
    }

    /// The Open word that follows `w` at `now`, and its open time.
    fn open_word(&self, w: Word, now: Timestamp) -> (Word, Duration) {
        let trips = (w.trips() + 1).min(TRIPS_MAX);
        let open_ms = self.config.open_millis(trips as u32);
        let now_ceil_ms = self.ms.div(now.as_nanos().saturating_add(999_999));
        let until = now_ceil_ms.saturating_add(open_ms).min(MAX_MILLIS);
        (
            Word::new(State::Open, w.generation().wrapping_add(1), trips, until),
            Duration::from_millis(open_ms),
        )
    }

    #[inline]
    fn complete(&self, generation: u16, probe: bool, outcome: Completion) {
        if probe {
            self.complete_probe(generation, outcome);
            return;
        }
        if outcome == Completion::Dropped {
            return;
        }
        let w = Word(self.word.load(Ordering::Acquire));
        if w.state() != State::Closed || w.generation() != generation {
            return;
        }
        if outcome == Completion::Success {
            if self.config.consecutive_failures.is_some()
                && self.consecutive.load(Ordering::Relaxed) != 0
            {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            if let Some(window) = &self.window {
                window.record(self.clock.now(), false);
            }
            return;
        }
        self.closed_failure(w);
    }

    fn closed_failure(&self, w: Word) {
        let mut trip = false;
        if let Some(limit) = self.config.consecutive_failures {
            let n = self
                .consecutive
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            trip = n >= limit;
        }
        let mut now = None;
        if let (Some(window), Some(rate)) = (&self.window, &self.config.failure_rate) {
            let t = self.clock.now();
            now = Some(t);
            window.record(t, true);
            let (total, failed) = window.counts(t);
            trip |= total >= u64::from(rate.minimum_volume)
                && failed * 100 >= u64::from(rate.threshold_percent) * total;
        }
        if trip {
            let now = now.unwrap_or_else(|| self.clock.now());
            let (next, open_for) = self.open_word(w, now);
            // In Closed the word only changes by a transition: if the swap
            // fails, another thread has already tripped or reset.
            if self.swap(w, next).is_ok() {
                self.notify(
                    State::Closed,
                    State::Open,
                    next.trips(),
                    now,
                    Some(open_for),
                );
            }
        }
    }

    #[cold]
    fn complete_probe(&self, generation: u16, outcome: Completion) {
        let mut w = Word(self.word.load(Ordering::Acquire));
        loop {
            if w.state() != State::HalfOpen || w.generation() != generation {
                return;
            }
            let in_flight = w.in_flight().saturating_sub(1);
            let result = match outcome {
                Completion::Dropped => {
                    let next = Word::half_open(generation, w.trips(), in_flight, w.succeeded());
                    self.swap(w, next).map(|()| None)
                }
                Completion::Success => {
                    let succeeded = w.succeeded() + 1;
                    if succeeded >= u64::from(self.config.half_open_probes) {
                        // Forget the outcomes of the previous Closed period
                        // before any permit of the new one can record.
                        self.consecutive.store(0, Ordering::Relaxed);
                        if let Some(window) = &self.window {
                            window.reset();
                        }
                        let next = Word::new(State::Closed, generation.wrapping_add(1), 0, 0);
                        self.swap(w, next).map(|()| Some((State::Closed, 0, None)))
                    } else {
                        let next = Word::half_open(generation, w.trips(), in_flight, succeeded);
                        self.swap(w, next).map(|()| None)
                    }
                }
                Completion::Failure => {
                    let (next, open_for) = self.open_word(w, self.clock.now());
                    self.swap(w, next)
                        .map(|()| Some((State::Open, next.trips(), Some(open_for))))
                }
            };
            match result {
                Ok(Some((to, trips, open_for))) => {
                    self.notify(State::HalfOpen, to, trips, self.clock.now(), open_for);
                    return;
                }
                Ok(None) => return,
                Err(seen) => w = seen,
            }
        }
    }
}

/// Leave to make one call, from [`Breaker::admit`].
///
/// Record the outcome with [`success`](Permit::success) or
/// [`failure`](Permit::failure). Dropping it unrecorded counts as neither
/// (a cancelled call) and frees a HalfOpen probe slot.
#[must_use = "record the outcome with success() or failure(); a dropped permit counts as neither"]
pub struct Permit<'a, C: Clock> {
    breaker: &'a Breaker<C>,
    generation: u16,
    probe: bool,
    done: bool,
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("generation", &self.generation)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

impl<'a, C: Clock> Permit<'a, C> {
    #[inline]
    fn new(breaker: &'a Breaker<C>, generation: u16, probe: bool) -> Self {
        Permit {
            breaker,
            generation,
            probe,
            done: false,
        }
    }

    /// Whether this call is a HalfOpen probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.finish(Completion::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.finish(Completion::Failure);
    }

    /// Records `ok` as success, otherwise failure.
    #[inline]
    pub fn record(self, ok: bool) {
        self.finish(if ok {
            Completion::Success
        } else {
            Completion::Failure
        });
    }

    #[inline]
    fn finish(mut self, outcome: Completion) {
        self.done = true;
        self.breaker.complete(self.generation, self.probe, outcome);
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    #[inline]
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breaker
                .complete(self.generation, true, Completion::Dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::{Arc, Mutex};

    fn config(n: u32) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: Some(n),
            failure_rate: None,
            base_open: Duration::from_millis(100),
            max_open: Duration::from_millis(250),
            half_open_probes: 2,
        }
    }

    #[test]
    fn open_time_grows_and_caps() {
        let clock = ManualClock::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let b = Breaker::with_clock(config(1), clock.clone())
            .unwrap()
            .on_transition(move |t| seen.lock().unwrap().push((t.from, t.to, t.open_for)));
        b.admit().unwrap().failure();
        for (i, want) in [100u64, 200, 250, 250].into_iter().enumerate() {
            assert_eq!(b.state(), State::Open);
            let r = b.admit().unwrap_err();
            assert_eq!(
                r.retry_after,
                Some(Duration::from_millis(want)),
                "trip {}",
                i + 1
            );
            clock.advance(Duration::from_millis(want - 1));
            assert!(b.admit().is_err());
            clock.advance(Duration::from_millis(1));
            b.admit().unwrap().failure();
        }
        let log = log.lock().unwrap();
        assert_eq!(
            log[0],
            (State::Closed, State::Open, Some(Duration::from_millis(100)))
        );
        assert_eq!(log[1], (State::Open, State::HalfOpen, None));
        assert_eq!(
            log[2],
            (
                State::HalfOpen,
                State::Open,
                Some(Duration::from_millis(200))
            )
        );
    }

    #[test]
    fn probes_are_bounded_and_close_the_breaker() {
        let clock = ManualClock::new();
        let b = Breaker::with_clock(config(1), clock.clone()).unwrap();
        b.admit().unwrap().failure();
        clock.advance(Duration::from_millis(100));
        let p1 = b.admit().unwrap();
        let p2 = b.admit().unwrap();
        assert!(p1.is_probe() && p2.is_probe());
        assert_eq!(b.admit().unwrap_err().state, State::HalfOpen);
        // A dropped probe frees its slot.
        drop(p2);
        let p3 = b.admit().unwrap();
        p1.success();
        assert_eq!(b.state(), State::HalfOpen);
        assert!(
            b.admit().is_err(),
            "one success and one in flight fill both slots"
        );
        p3.success();
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.trips(), 0);
    }

    #[test]
    fn stale_permits_are_ignored() {
        let clock = ManualClock::new();
        let b = Breaker::with_clock(config(2), clock.clone()).unwrap();
        let slow = b.admit().unwrap();
        b.admit().unwrap().failure();
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_millis(100));
        let probe = b.admit().unwrap();
        // The slow call from the Closed period fails now: ignored.
        slow.failure();
        assert_eq!(b.state(), State::HalfOpen);
        probe.success();
        assert_eq!(b.state(), State::HalfOpen);
        b.admit().unwrap().success();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn success_resets_consecutive_failures() {
        let b = Breaker::with_clock(config(3), ManualClock::new()).unwrap();
        for _ in 0..10 {
            b.admit().unwrap().failure();
            b.admit().unwrap().failure();
            b.admit().unwrap().success();
        }
        assert_eq!(b.state(), State::Closed);
        // Dropped permits count as nothing.
        for _ in 0..10 {
            drop(b.admit().unwrap());
        }
        b.admit().unwrap().failure();
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Closed);
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn failure_rate_needs_minimum_volume() {
        let clock = ManualClock::new();
        let cfg = BreakerConfig {
            consecutive_failures: None,
            failure_rate: Some(FailureRate {
                threshold_percent: 50,
                minimum_volume: 10,
                window: Duration::from_secs(1),
                buckets: 10,
            }),
            ..config(1)
        };
        let b = Breaker::with_clock(cfg, clock.clone()).unwrap();
        for _ in 0..4 {
            b.admit().unwrap().failure();
            b.admit().unwrap().success();
        }
        assert_eq!(b.state(), State::Closed, "8 calls are below the volume");
        b.admit().unwrap().success();
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Open, "5 of 10 failed");

        // Old outcomes leave the window.
        let b = Breaker::with_clock(cfg, clock.clone()).unwrap();
        for _ in 0..9 {
            b.admit().unwrap().failure();
        }
        clock.advance(Duration::from_secs(1));
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn call_records_outcomes() {
        let b = Breaker::with_clock(config(1), ManualClock::new()).unwrap();
        assert_eq!(b.call(|| Ok::<_, ()>(7)).unwrap(), 7);
        assert!(matches!(
            b.call(|| Err::<(), _>("no")),
            Err(CallError::Failed("no"))
        ));
        let err = b.call(|| Ok::<_, ()>(1)).unwrap_err();
        assert!(matches!(err, CallError::Rejected(r) if r.state == State::Open));
    }

    #[test]
    fn validation() {
        let bad = [
            BreakerConfig {
                consecutive_failures: None,
                ..config(1)
            },
            BreakerConfig {
                consecutive_failures: Some(0),
                ..config(1)
            },
            BreakerConfig {
                half_open_probes: 0,
                ..config(1)
            },
            BreakerConfig {
                max_open: Duration::from_millis(1),
                ..config(1)
            },
            BreakerConfig {
                base_open: Duration::ZERO,
                ..config(1)
            },
            BreakerConfig {
                failure_rate: Some(FailureRate {
                    threshold_percent: 0,
                    ..FailureRate::default()
                }),
                ..config(1)
            },
            BreakerConfig {
                failure_rate: Some(FailureRate {
                    window: Duration::from_millis(5),
                    ..FailureRate::default()
                }),
                ..config(1)
            },
        ];
        for cfg in bad {
            assert!(cfg.validate().is_err(), "{cfg:?}");
        }
        assert!(BreakerConfig::default().validate().is_ok());
        let e = Breaker::new(BreakerConfig {
            half_open_probes: 0,
            ..config(1)
        })
        .unwrap_err();
        assert_eq!(e.field, "half_open_probes");
    }
}
