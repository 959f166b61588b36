//! Resilience primitives for service-mesh proxies: what a mesh is trusted
//! for beside its codecs. Each is exact under concurrency, cheap on the
//! request path, and configured the way Envoy and Istio configure it.
//!
//! | module | what | Envoy / Istio counterpart |
//! | --- | --- | --- |
//! | [`breaker`] | lock-free circuit breaker: Closed / Open / HalfOpen, consecutive-failure and failure-rate trips, growing open time, bounded probes | (Hystrix / resilience4j style) |
//! | [`limits`] | connection-pool limits as RAII guards; overflow is 503 + `UO` | `circuit_breakers.thresholds`, DestinationRule `connectionPool` |
//! | [`outlier`] | consecutive 5xx / gateway failures, success rate, growing ejections, max ejection percent | `outlier_detection`, DestinationRule `outlierDetection` |
//! | [`bucket`] | lock-free token bucket, plain and keyed with bounded memory, sync and async | `local_ratelimit` token bucket |
//! | [`retry`] | retry policy, full-jitter backoff, `Retry-After` and gRPC pushback, retry budget, async helper | route `retry_policy`, VirtualService `retries`, DestinationRule `retryBudget` |
//! | [`balancer`] | round robin, weighted random, P2C least request and peak EWMA, ring hash, Maglev | `lb_policy`, DestinationRule `loadBalancer` |
//! | [`cluster`] | endpoints + balancer + outlier detection + limits, replaceable at run time | an Envoy cluster |
//! | [`clock`], [`rand`] | the one injectable clock and random source | |
//!
//! Everything that reads time takes a [`clock::Clock`] and everything that
//! draws at random takes a [`rand::Random`]: production code uses the
//! monotonic clock and a per-thread generator; tests use a manual clock
//! (or tokio's paused clock) and a seeded generator, so no test sleeps and
//! no statistical test is flaky. Every error implements
//! [`mesh_core::ErrorClass`] and says which Envoy response flag a proxy
//! reports for it.
//!
//! # Example
//!
//! The admission path of a proxy: a rate limit, a pool limit, a breaker,
//! then an endpoint from the cluster.
//!
//! ```
//! use mesh_resilience::breaker::{Breaker, BreakerConfig};
//! use mesh_resilience::bucket::{BucketConfig, TokenBucket};
//! use mesh_resilience::cluster::{Cluster, ClusterConfig, EndpointSpec, PickContext};
//! use mesh_resilience::limits::Resource;
//! use mesh_resilience::outlier::Outcome;
//!
//! let rate = TokenBucket::new(BucketConfig::per_second(1_000).unwrap());
//! let breaker = Breaker::new(BreakerConfig::default()).unwrap();
//! let cluster = Cluster::new(ClusterConfig::new("ratings"), [
//!     EndpointSpec::new("10.1.0.7:9080".parse().unwrap()),
//!     EndpointSpec::new("10.1.0.8:9080".parse().unwrap()),
//! ]).unwrap();
//!
//! # fn send(_: &mesh_core::Target) -> u16 { 200 }
//! rate.try_acquire(1).expect("429 + RL");
//! let _request = cluster.limits().try_acquire(Resource::Requests).expect("503 + UO");
//! let permit = breaker.admit().expect("503 + UO");
//! let picked = cluster.pick(&PickContext::default()).expect("503 + UH");
//! let status = send(picked.target());
//! permit.record(status < 500);
//! picked.finish(Outcome::from_status(status));
//! ```
#![forbid(unsafe_code)]

pub mod balancer;
pub mod breaker;
pub mod bucket;
pub mod clock;
pub mod cluster;
mod div;
pub mod error;
pub mod hash;
pub mod limits;
pub mod outlier;
pub mod rand;
pub mod retry;

pub use error::ConfigError;
