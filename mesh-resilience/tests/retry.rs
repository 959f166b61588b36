//! Retries: decisions and backoff under a manual clock, budgets, and the
//! async helper under paused tokio time.

use std::cell::Cell;
use std::time::Duration;

use mesh_core::telemetry::ResponseFlags;
use mesh_resilience::clock::{Clock, ManualClock};
use mesh_resilience::limits::{PoolLimits, PoolLimitsConfig};
use mesh_resilience::rand::SeededRandom;
use mesh_resilience::retry::{
    AttemptLimit, Backoff, Decision, Failure, Pushback, Retry, RetryBudget, RetryBudgetConfig,
    RetryError, RetryOn, RetryPolicy, RetryState, Stop, Verdict,
};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn backoff_under_the_manual_clock() {
    let clock = ManualClock::new();
    let policy = RetryPolicy {
        max_retries: 5,
        ..RetryPolicy::default()
    };
    let random = SeededRandom::new(42);
    let replay = SeededRandom::new(42);
    let mut state = RetryState::new(&policy, clock.now());
    let ceilings = [25, 50, 100, 200, 250];
    for (k, ceiling) in ceilings.into_iter().enumerate() {
        assert_eq!(state.begin_attempt(&policy, clock.now()), Ok(None));
        let Decision::Retry(delay) =
            state.decide(&policy, Verdict::Retry, true, clock.now(), &random)
        else {
            panic!("retry {k} refused");
        };
        assert!(delay < ms(ceiling), "retry {k}: {delay:?}");
        assert_eq!(delay, Backoff::ENVOY.delay(k as u32, &replay));
        clock.advance(delay);
    }
    state.begin_attempt(&policy, clock.now()).unwrap();
    assert_eq!(
        state.decide(&policy, Verdict::Retry, true, clock.now(), &random),
        Decision::Stop(Stop::Exhausted)
    );
    assert_eq!(state.attempts(), 6);
}

#[test]
fn timeouts_under_the_manual_clock() {
    let clock = ManualClock::new();
    let policy = RetryPolicy {
        max_retries: 10,
        per_try_timeout: Some(ms(30)),
        timeout: Some(ms(100)),
        backoff: Backoff::new(ms(10), ms(10)).unwrap(),
        ..RetryPolicy::default()
    };
    let random = SeededRandom::new(1);
    let mut state = RetryState::new(&policy, clock.now());
    assert_eq!(
        state.begin_attempt(&policy, clock.now()),
        Ok(Some(AttemptLimit {
            after: ms(30),
            overall: false
        }))
    );
    clock.advance(ms(80));
    assert_eq!(
        state.begin_attempt(&policy, clock.now()),
        Ok(Some(AttemptLimit {
            after: ms(20),
            overall: true
        }))
    );
    // A backoff that would end at or past the deadline stops now.
    clock.advance(ms(10));
    assert_eq!(
        state.decide(
            &policy,
            Verdict::RetryAfter(ms(10)),
            true,
            clock.now(),
            &random
        ),
        Decision::Stop(Stop::Timeout)
    );
    assert_eq!(
        state.decide(
            &policy,
            Verdict::RetryAfter(ms(9)),
            true,
            clock.now(),
            &random
        ),
        Decision::Retry(ms(9))
    );
    clock.advance(ms(10));
    assert_eq!(
        state.begin_attempt(&policy, clock.now()),
        Err(Stop::Timeout)
    );
}

#[test]
fn verdicts_and_stops() {
    let clock = ManualClock::new();
    let policy = RetryPolicy {
        max_pushback: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let r = SeededRandom::new(1);
    let mut state = RetryState::new(&policy, clock.now());
    state.begin_attempt(&policy, clock.now()).unwrap();
    let now = clock.now();
    assert_eq!(
        state.decide(&policy, Verdict::Accept, true, now, &r),
        Decision::Stop(Stop::Final)
    );
    assert_eq!(
        state.decide(&policy, Verdict::Retry, false, now, &r),
        Decision::Stop(Stop::NotReplayable)
    );
    assert_eq!(
        state.decide(
            &policy,
            Verdict::RetryAfter(Duration::from_secs(61)),
            true,
            now,
            &r
        ),
        Decision::Stop(Stop::PushbackTooLong)
    );
    // Istio's defaults: 503 and gRPC unavailable are retried, 500 is not.
    assert_eq!(policy.verdict_for_status(503), Verdict::Retry);
    assert_eq!(policy.verdict_for_status(500), Verdict::Accept);
    assert_eq!(policy.verdict_for_grpc(14, None), Verdict::Retry);
    assert_eq!(
        policy.verdict_for_grpc(14, Some(Pushback::After(ms(700)))),
        Verdict::RetryAfter(ms(700))
    );
    assert_eq!(
        policy.verdict_for_grpc(14, Some(Pushback::DoNotRetry)),
        Verdict::Accept
    );
    assert_eq!(policy.verdict_for_grpc(2, None), Verdict::Accept);
    assert_eq!(
        policy.verdict_for_failure(Failure::ConnectFailure),
        Verdict::Retry
    );
    assert_eq!(policy.verdict_for_failure(Failure::Reset), Verdict::Accept);
}

fn status_verdict(
    policy: &RetryPolicy,
) -> impl FnMut(&Result<u16, std::io::Error>) -> Verdict + '_ {
    move |r| match r {
        Ok(status) => policy.verdict_for_status(*status),
        Err(_) => Verdict::Retry,
    }
}

#[tokio::test(start_paused = true)]
async fn run_retries_with_jittered_backoff() {
    let policy = RetryPolicy::default();
    let started = Instant::now();
    let calls = Cell::new(0u32);
    let done = Retry::new(&policy, true)
        .random(SeededRandom::new(7))
        .run(
            |n| {
                calls.set(calls.get() + 1);
                assert_eq!(n + 1, calls.get());
                async { Ok::<u16, std::io::Error>(503) }
            },
            status_verdict(&policy),
        )
        .await;
    assert_eq!(
        done.response_flags(),
        ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED
    );
    assert_eq!(done.result.unwrap(), 503);
    assert_eq!((done.attempts, done.stop), (3, Stop::Exhausted));
    // The time spent is the two backoffs the seed draws (tokio's timer
    // rounds each sleep up to a whole millisecond).
    let replay = SeededRandom::new(7);
    let expected = Backoff::ENVOY.delay(0, &replay) + Backoff::ENVOY.delay(1, &replay);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= expected && elapsed < expected + ms(2),
        "{elapsed:?} vs {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn non_replayable_requests_are_never_retried() {
    let policy = RetryPolicy {
        max_retries: 5,
        retry_on: RetryOn::new(RetryOn::FIVE_XX),
        ..RetryPolicy::default()
    };
    let calls = Cell::new(0);
    let done = Retry::new(&policy, false)
        .run(
            |_| {
                calls.set(calls.get() + 1);
                async { Err::<u16, _>(std::io::Error::other("reset")) }
            },
            |_| Verdict::Retry,
        )
        .await;
    assert_eq!(calls.get(), 1);
    assert_eq!(done.stop, Stop::NotReplayable);
    assert!(matches!(done.result, Err(RetryError::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn per_try_and_overall_timeouts() {
    let policy = RetryPolicy {
        max_retries: 2,
        per_try_timeout: Some(ms(100)),
        retry_on: RetryOn::new(RetryOn::FIVE_XX),
        backoff: Backoff::new(ms(1), ms(1)).unwrap(),
        ..RetryPolicy::default()
    };
    let started = Instant::now();
    let done = Retry::new(&policy, true)
        .random(SeededRandom::new(3))
        .run(
            |_| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok::<u16, std::io::Error>(200)
            },
            status_verdict(&policy),
        )
        .await;
    assert!(matches!(done.result, Err(RetryError::PerTryTimeout(t)) if t == ms(100)));
    assert_eq!(done.attempts, 3);
    assert_eq!(
        done.response_flags(),
        ResponseFlags::UPSTREAM_REQUEST_TIMEOUT | ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= ms(300) && elapsed <= ms(302), "{elapsed:?}");

    let overall = RetryPolicy {
        timeout: Some(ms(250)),
        ..policy.clone()
    };
    let started = Instant::now();
    let done = Retry::new(&overall, true)
        .run(
            |_| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok::<u16, std::io::Error>(200)
            },
            status_verdict(&overall),
        )
        .await;
    assert!(matches!(done.result, Err(RetryError::Timeout(t)) if t == ms(250)));
    assert_eq!(done.stop, Stop::Timeout);
    assert_eq!(
        done.attempts, 3,
        "100 + 100 ms tries, the third cut at the deadline"
    );
    assert_eq!(started.elapsed(), ms(250));
}

#[tokio::test(start_paused = true)]
async fn server_pushback_replaces_the_backoff() {
    let policy = RetryPolicy::default();
    let started = Instant::now();
    let done = Retry::new(&policy, true)
        .run(
            |n| async move { Ok::<u32, std::io::Error>(if n == 0 { 14 } else { 0 }) },
            |r| match r {
                Ok(code) => policy.verdict_for_grpc(*code, Some(Pushback::After(ms(1_500)))),
                Err(_) => Verdict::Accept,
            },
        )
        .await;
    assert_eq!(done.result.unwrap(), 0);
    assert_eq!(done.attempts, 2);
    assert_eq!(started.elapsed(), ms(1_500));
}

#[tokio::test(start_paused = true)]
async fn budget_and_pool_limits_gate_retries() {
    let policy = RetryPolicy::default();
    let budget = RetryBudget::new(RetryBudgetConfig {
        percent: 0.0,
        min_retry_concurrency: 1,
    })
    .unwrap();
    // One retry in flight is allowed (the floor); while it is in flight
    // the request and the retry are counted, and the slot is given back
    // when the attempt ends.
    let done = Retry::new(&policy, true)
        .budget(&budget)
        .run(
            |n| {
                assert_eq!(budget.active_requests(), 1);
                assert_eq!(budget.active_retries(), u64::from(n > 0));
                async { Ok::<u16, std::io::Error>(503) }
            },
            status_verdict(&policy),
        )
        .await;
    assert_eq!((done.attempts, done.stop), (3, Stop::Exhausted));
    assert_eq!((budget.active_requests(), budget.active_retries()), (0, 0));
    // Another request's retry holds the only slot: no retry.
    let other = budget.try_retry().unwrap();
    let done = Retry::new(&policy, true)
        .budget(&budget)
        .run(
            |_| async { Ok::<u16, std::io::Error>(503) },
            status_verdict(&policy),
        )
        .await;
    assert_eq!((done.attempts, done.stop), (1, Stop::BudgetExhausted));
    assert_eq!(done.response_flags(), ResponseFlags::NONE);
    drop(other);

    let limits = PoolLimits::new(PoolLimitsConfig {
        max_retries: 0,
        ..PoolLimitsConfig::default()
    });
    let done = Retry::new(&policy, true)
        .limits(&limits)
        .run(
            |_| async { Ok::<u16, std::io::Error>(503) },
            status_verdict(&policy),
        )
        .await;
    assert_eq!((done.attempts, done.stop), (1, Stop::Overflow));
}

mod model {
    //! Random sequences of attempt outcomes and clock moves against a
    //! plain model of the retry rules.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Verdict(Verdict),
        Advance(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => Just(Step::Verdict(Verdict::Accept)),
            3 => Just(Step::Verdict(Verdict::Retry)),
            1 => (0u64..500).prop_map(|ms| Step::Verdict(Verdict::RetryAfter(Duration::from_millis(ms)))),
            1 => (0u64..400).prop_map(Step::Advance),
        ]
    }

    proptest! {
        #[test]
        fn retry_state_matches_the_rules(
            max_retries in 0u32..5,
            per_try in prop::option::of(1u64..300),
            timeout in prop::option::of(1u64..2_000),
            replayable: bool,
            seed: u64,
            steps in prop::collection::vec(step(), 1..40),
        ) {
            let policy = RetryPolicy {
                max_retries,
                per_try_timeout: per_try.map(ms),
                timeout: timeout.map(ms),
                max_pushback: ms(300),
                ..RetryPolicy::default()
            };
            let clock = ManualClock::new();
            let random = SeededRandom::new(seed);
            let replay = SeededRandom::new(seed);
            let mut state = RetryState::new(&policy, clock.now());
            let mut attempts = 0u32;
            let mut elapsed = 0u64;
            let mut ended = false;
            // An attempt starts before the first step.
            let begin = |state: &mut RetryState, attempts: &mut u32, elapsed: u64| {
                let got = state.begin_attempt(&policy, clock.now());
                match timeout {
                    Some(t) if elapsed >= t => {
                        prop_assert_eq!(got, Err(Stop::Timeout));
                        return Ok(false);
                    }
                    _ => {}
                }
                *attempts += 1;
                let left = timeout.map(|t| t - elapsed);
                let want = match (per_try, left) {
                    (Some(p), Some(l)) if p < l => Some(AttemptLimit { after: ms(p), overall: false }),
                    (_, Some(l)) => Some(AttemptLimit { after: ms(l), overall: true }),
                    (Some(p), None) => Some(AttemptLimit { after: ms(p), overall: false }),
                    (None, None) => None,
                };
                prop_assert_eq!(got, Ok(want));
                Ok(true)
            };
            if !begin(&mut state, &mut attempts, elapsed)? {
                return Ok(());
            }
            for step in steps {
                if ended {
                    break;
                }
                match step {
                    Step::Advance(d) => {
                        clock.advance(ms(d));
                        elapsed += d;
                    }
                    Step::Verdict(v) => {
                        let got = state.decide(&policy, v, replayable, clock.now(), &random);
                        let want = if v == Verdict::Accept {
                            Decision::Stop(Stop::Final)
                        } else if !replayable {
                            Decision::Stop(Stop::NotReplayable)
                        } else if attempts > max_retries {
                            Decision::Stop(Stop::Exhausted)
                        } else {
                            let delay = match v {
                                Verdict::RetryAfter(d) if d > ms(300) => None,
                                Verdict::RetryAfter(d) => Some(d),
                                _ => Some(Backoff::ENVOY.delay(attempts - 1, &replay)),
                            };
                            match delay {
                                None => Decision::Stop(Stop::PushbackTooLong),
                                Some(d) if timeout.is_some_and(|t| ms(elapsed) + d >= ms(t)) => {
                                    Decision::Stop(Stop::Timeout)
                                }
                                Some(d) => Decision::Retry(d),
                            }
                        };
                        prop_assert_eq!(got, want);
                        match got {
                            Decision::Stop(_) => ended = true,
                            Decision::Retry(d) => {
                                clock.advance(d);
                                // Whole-ms bookkeeping in the model: keep the
                                // clock on whole milliseconds.
                                let rest = (1_000_000 - d.subsec_nanos() % 1_000_000) % 1_000_000;
                                clock.advance(Duration::from_nanos(u64::from(rest)));
                                elapsed += d.as_nanos().div_ceil(1_000_000) as u64;
                                if !begin(&mut state, &mut attempts, elapsed)? {
                                    ended = true;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
