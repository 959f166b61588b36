//! Clusters: picking, subsets, outlier detection through picks, and
//! endpoint-set updates that keep the state of endpoints that stay.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mesh_core::{ErrorClass, Side, Target};
use mesh_resilience::balancer::{Candidate, LbPolicy, MaglevConfig};
use mesh_resilience::clock::{ManualClock, TokioClock};
use mesh_resilience::cluster::{Cluster, ClusterConfig, ClusterError, EndpointSpec, PickContext};
use mesh_resilience::outlier::{EjectReason, Outcome, OutlierConfig, OutlierEvent};
use mesh_resilience::rand::SeededRandom;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 9080))
}

fn outlier() -> OutlierConfig {
    OutlierConfig {
        consecutive_5xx: Some(3),
        max_ejection_percent: 100,
        ..OutlierConfig::default()
    }
}

fn cluster(
    config: ClusterConfig,
    eps: impl IntoIterator<Item = EndpointSpec>,
) -> (Cluster<ManualClock, SeededRandom>, ManualClock) {
    let clock = ManualClock::new();
    let c = Cluster::with_sources(config, eps, clock.clone(), SeededRandom::new(5))
        .unwrap_or_else(|e| panic!("{e}"));
    (c, clock)
}

#[test]
fn update_keeps_the_state_of_endpoints_that_stay() {
    let config = ClusterConfig::new("svc").with_outlier(Some(outlier()));
    let (c, _clock) = cluster(
        config,
        [EndpointSpec::new(addr(1)), EndpointSpec::new(addr(2))],
    );
    // Eject .1 through picks (ring hash pins a key to it).
    let mut ejected = None;
    for key in 0u64.. {
        let p = c
            .pick(&PickContext {
                hash: Some(key),
                subset: None,
            })
            .unwrap();
        if p.target().addr == addr(1) {
            ejected = p.finish(Outcome::from_status(503)).or(ejected);
            if ejected.is_some() {
                break;
            }
        } else {
            p.success();
        }
    }
    assert_eq!(ejected, Some(EjectReason::Consecutive5xx));
    let held = c.pick(&PickContext::default()).unwrap();
    assert_eq!(held.target().addr, addr(2), "ejected .1 is skipped");

    // Reload: .1 stays with a new weight, .2 stays unchanged, .3 arrives.
    let summary = c.update([
        EndpointSpec::new(addr(1)).with_weight(5),
        EndpointSpec::new(addr(2)),
        EndpointSpec::new(addr(3)),
        EndpointSpec::new(addr(3)).with_weight(9),
    ]);
    assert_eq!((summary.kept, summary.added, summary.removed), (2, 1, 0));
    let one = c.endpoint(addr(1)).unwrap();
    assert!(one.is_ejected(), "ejection survives the update");
    assert_eq!(one.weight(), 5);
    assert_eq!(
        c.endpoint(addr(2)).unwrap().active_requests(),
        1,
        "in-flight count survives"
    );
    assert_eq!(
        c.endpoint(addr(3)).unwrap().weight(),
        1,
        "first duplicate wins"
    );
    assert_eq!(c.outlier_detector().unwrap().ejected_count(), 1);
    held.success();
    assert_eq!(c.endpoint(addr(2)).unwrap().active_requests(), 0);
}

#[test]
fn removed_endpoints_outcomes_are_not_counted() {
    let config = ClusterConfig::new("svc")
        .with_lb(LbPolicy::RoundRobin)
        .with_outlier(Some(OutlierConfig {
            consecutive_5xx: Some(1),
            ..outlier()
        }));
    let (c, _) = cluster(config, [EndpointSpec::new(addr(1))]);
    let in_flight = c.pick(&PickContext::default()).unwrap();
    c.update([EndpointSpec::new(addr(2))]);
    assert_eq!(in_flight.finish(Outcome::from_status(500)), None);
    assert_eq!(c.outlier_detector().unwrap().ejected_count(), 0);
    assert_eq!(
        c.pick(&PickContext::default()).unwrap().target().addr,
        addr(2)
    );
}

#[test]
fn subsets_pick_by_labels() {
    let config = ClusterConfig::new("reviews")
        .with_outlier(Some(OutlierConfig {
            consecutive_5xx: Some(1),
            ..outlier()
        }))
        .with_subset("v1", [("version", "v1")])
        .with_subset("v2", [("version", "v2")]);
    let (c, _) = cluster(
        config,
        [
            EndpointSpec::new(addr(1)).with_label("version", "v1"),
            EndpointSpec::new(addr(2)).with_label("version", "v2"),
            EndpointSpec::new(addr(3)).with_label("version", "v2"),
        ],
    );
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let p = c.pick(&PickContext::subset("v2")).unwrap();
        seen.insert(p.target().addr);
        p.success();
    }
    assert_eq!(seen, HashSet::from([addr(2), addr(3)]));
    let e = c.pick(&PickContext::subset("v3")).unwrap_err();
    assert!(matches!(e, ClusterError::UnknownSubset { .. }));
    assert_eq!(e.side(), Side::Internal);
    // Eject the v1 endpoint: its subset has no healthy upstream.
    c.pick(&PickContext::subset("v1"))
        .unwrap()
        .finish(Outcome::GatewayFailure);
    let e = c.pick(&PickContext::subset("v1")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no healthy upstream in cluster reviews subset v1"
    );
    assert_eq!(e.response_flags().to_string(), "UH");
    assert!(e.retry_safe());
}

#[test]
fn ejected_endpoints_return_on_the_interval() {
    let config = ClusterConfig::new("svc").with_outlier(Some(OutlierConfig {
        consecutive_5xx: Some(1),
        base_ejection_time: Duration::from_secs(30),
        ..outlier()
    }));
    let (c, clock) = cluster(config, [EndpointSpec::new(addr(1))]);
    c.pick(&PickContext::default())
        .unwrap()
        .finish(Outcome::ServerError);
    assert!(c.pick(&PickContext::default()).is_err());
    clock.advance(Duration::from_secs(29));
    assert!(c.outlier_tick().is_empty());
    clock.advance(Duration::from_secs(1));
    let events = c.outlier_tick();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0.addr(), addr(1));
    assert_eq!(events[0].1, OutlierEvent::Returned { index: 0 });
    assert!(c.pick(&PickContext::default()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn outlier_detection_runs_on_tokio_time() {
    let config = ClusterConfig::new("svc").with_outlier(Some(OutlierConfig {
        consecutive_5xx: Some(1),
        interval: Duration::from_secs(10),
        base_ejection_time: Duration::from_secs(30),
        ..outlier()
    }));
    let c = Cluster::with_sources(
        config,
        [EndpointSpec::new(addr(1)), EndpointSpec::new(addr(2))],
        TokioClock::new(),
        SeededRandom::new(1),
    )
    .unwrap();
    let p = c.pick(&PickContext::default()).unwrap();
    let failed = p.target().addr;
    p.finish(Outcome::ServerError);
    let mut events = Vec::new();
    let run =
        c.run_outlier_detection(|e, ev| events.push((e.addr(), ev, tokio::time::Instant::now())));
    let started = tokio::time::Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(35), run).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, failed);
    // Ejected at 0 s for 30 s; the 10 s interval ticks return it at 30 s.
    assert_eq!(events[0].2 - started, Duration::from_secs(30));
}

#[test]
fn peak_ewma_learns_latency_from_picks() {
    let config = ClusterConfig::new("svc").with_lb(LbPolicy::peak_ewma());
    let (c, clock) = cluster(
        config,
        [EndpointSpec::new(addr(1)), EndpointSpec::new(addr(2))],
    );
    // .1 answers in 200 ms, .2 in 5 ms; afterwards .2 gets the traffic.
    for _ in 0..20 {
        let p = c.pick(&PickContext::default()).unwrap();
        let slow = p.target().addr == addr(1);
        clock.advance(Duration::from_millis(if slow { 200 } else { 5 }));
        p.success();
    }
    let to_fast = (0..100)
        .filter(|_| c.pick(&PickContext::default()).unwrap().target().addr == addr(2))
        .count();
    assert_eq!(to_fast, 100);
}

#[test]
fn endpoints_produce_their_targets() {
    let target = Target::new(addr(7))
        .with_server_name("outbound_.9080_._.reviews.default.svc.cluster.local")
        .with_peer_identities(["spiffe://cluster.local/ns/default/sa/reviews"]);
    let (c, _) = cluster(
        ClusterConfig::new("svc"),
        [EndpointSpec::new(addr(7)).with_target(target.clone())],
    );
    let p = c.pick(&PickContext::default()).unwrap();
    assert_eq!(p.target(), &target);
    let e = ClusterError::NoHealthyUpstream {
        cluster: "x".into(),
        subset: None,
    };
    assert_eq!(e.side(), Side::Upstream);
}

#[test]
fn picks_during_updates_see_a_whole_set() {
    let config =
        ClusterConfig::new("svc").with_lb(LbPolicy::Maglev(MaglevConfig { table_size: 1_009 }));
    let (c, _) = cluster(config, (1..=4).map(|i| EndpointSpec::new(addr(i))));
    let c = Arc::new(c);
    let stop = Arc::new(AtomicBool::new(false));
    let picks = Arc::new(AtomicUsize::new(0));
    let valid: HashSet<SocketAddr> = (1..=8).map(addr).collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (c, stop, picks, valid) = (c.clone(), stop.clone(), picks.clone(), &valid);
            s.spawn(move || {
                let mut key = t;
                while !stop.load(Ordering::Relaxed) {
                    key = key.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let p = c
                        .pick(&PickContext {
                            hash: Some(key),
                            subset: None,
                        })
                        .unwrap();
                    assert!(valid.contains(&p.target().addr));
                    p.success();
                    picks.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for round in 0..200u8 {
            let base = round % 5;
            c.update((base + 1..=base + 4).map(|i| EndpointSpec::new(addr(i))));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(picks.load(Ordering::Relaxed) > 0);
    for e in c.endpoints() {
        assert_eq!(e.active_requests(), 0);
    }
}
