//! Clusters: a named set of endpoints with a load balancer, outlier
//! detection and pool limits. This is what every proxy picks its upstream
//! from.
//!
//! The endpoint set can be replaced at any time ([`Cluster::update`]: a
//! config reload, a DNS re-resolution, a discovery push) while requests
//! are being picked. Endpoints are matched by address: one that stays
//! keeps its requests in flight, latency estimate, failure counters and
//! ejection, even if its weight or labels change; new ones start fresh;
//! removed ones stop being picked (requests already sent finish
//! normally). The set, its subsets and their balancers are rebuilt off the
//! request path and published with one atomic pointer swap
//! ([`arc_swap`]), so a pick never waits for an update.
//!
//! Subsets are Istio's DestinationRule subsets: named label selectors
//! (`version: v2`), each with its own balancer over the matching
//! endpoints.
//!
//! ```
//! use mesh_resilience::cluster::{Cluster, ClusterConfig, EndpointSpec, PickContext};
//! use mesh_resilience::outlier::Outcome;
//!
//! let config = ClusterConfig::new("reviews").with_subset("v2", [("version", "v2")]);
//! let cluster = Cluster::new(config, [
//!     EndpointSpec::new("10.0.0.1:9080".parse().unwrap()).with_label("version", "v1"),
//!     EndpointSpec::new("10.0.0.2:9080".parse().unwrap()).with_label("version", "v2"),
//! ]).unwrap();
//!
//! let picked = cluster.pick(&PickContext::subset("v2")).unwrap();
//! assert_eq!(picked.target().addr.to_string(), "10.0.0.2:9080");
//! picked.finish(Outcome::from_status(200));
//!
//! // A DNS update: .2 stays (with its state), .1 leaves, .3 arrives.
//! let summary = cluster.update([
//!     EndpointSpec::new("10.0.0.2:9080".parse().unwrap()).with_label("version", "v2"),
//!     EndpointSpec::new("10.0.0.3:9080".parse().unwrap()).with_label("version", "v2"),
//! ]);
//! assert_eq!((summary.kept, summary.added, summary.removed), (1, 1, 1));
//! ```

mod endpoint;

pub use endpoint::{Endpoint, EndpointSpec};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use mesh_core::telemetry::ResponseFlags;
use mesh_core::{ErrorClass, Side};

use crate::balancer::{Balancer, Candidate, LbPolicy};
use crate::clock::{Clock, MonotonicClock, Timestamp};
use crate::error::ConfigError;
use crate::hash::xxh64;
use crate::limits::{PoolLimits, PoolLimitsConfig};
use crate::outlier::{EjectReason, Outcome, OutlierConfig, OutlierDetector, OutlierEvent};
use crate::rand::{Random, ThreadRandom};

/// A named label selector (an Istio DestinationRule subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetConfig {
    /// The subset's name, as routes refer to it.
    pub name: String,
    /// The labels an endpoint must all have.
    pub labels: BTreeMap<String, String>,
}

/// How a cluster balances, detects outliers and limits its pool.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The cluster's name (for logs, metrics and errors).
    pub name: String,
    /// The load balancer (default: least request, Envoy's and Istio's
    /// default for HTTP).
    pub lb: LbPolicy,
    /// Outlier detection (default: Envoy's consecutive-5xx rule).
    pub outlier: Option<OutlierConfig>,
    /// Connection-pool limits (default: Envoy's).
    pub limits: PoolLimitsConfig,
    /// Named subsets.
    pub subsets: Vec<SubsetConfig>,
}

impl ClusterConfig {
    /// A cluster with the defaults.
    pub fn new(name: impl Into<String>) -> Self {
        ClusterConfig {
            name: name.into(),
            lb: LbPolicy::LeastRequest,
            outlier: Some(OutlierConfig::default()),
            limits: PoolLimitsConfig::default(),
            subsets: Vec::new(),
        }
    }

    /// Sets the load balancer.
    pub fn with_lb(mut self, lb: LbPolicy) -> Self {
        self.lb = lb;
        self
    }

    /// Sets (or with `None` turns off) outlier detection.
    pub fn with_outlier(mut self, outlier: Option<OutlierConfig>) -> Self {
        self.outlier = outlier;
        self
    }

    /// Sets the pool limits.
    pub fn with_limits(mut self, limits: PoolLimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a subset selecting endpoints with all of `labels`.
    pub fn with_subset<K: Into<String>, V: Into<String>>(
        mut self,
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.subsets.push(SubsetConfig {
            name: name.into(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        });
        self
    }

    /// Checks the balancer, the outlier settings and that subset names
    /// are unique.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.lb.validate()?;
        if let Some(o) = &self.outlier {
            o.validate()?;
        }
        for (i, s) in self.subsets.iter().enumerate() {
            if self.subsets[..i].iter().any(|t| t.name == s.name) {
                return Err(ConfigError::new(
                    "subsets.name",
                    &s.name,
                    "duplicate subset name",
                ));
            }
        }
        Ok(())
    }
}

/// Why no endpoint was picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Every endpoint (of the subset) is ejected, or there are none.
    #[error("no healthy upstream in cluster {cluster}{}", subset.as_ref().map(|s| format!(" subset {s}")).unwrap_or_default())]
    NoHealthyUpstream {
        /// The cluster.
        cluster: String,
        /// The subset asked for, if any.
        subset: Option<String>,
    },
    /// The route asked for a subset the cluster does not define.
    #[error("cluster {cluster} has no subset {subset}")]
    UnknownSubset {
        /// The cluster.
        cluster: String,
        /// The subset asked for.
        subset: String,
    },
}

impl ClusterError {
    /// `UH`, Envoy's flag for no healthy upstream; a proxy answers 503.
    pub const fn response_flags(&self) -> ResponseFlags {
        ResponseFlags::NO_HEALTHY_UPSTREAM
    }
}

impl ErrorClass for ClusterError {
    fn side(&self) -> Side {
        match self {
            ClusterError::NoHealthyUpstream { .. } => Side::Upstream,
            ClusterError::UnknownSubset { .. } => Side::Internal,
        }
    }

    /// Nothing was sent.
    fn retry_safe(&self) -> bool {
        true
    }
}

/// What a request asks of the pick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PickContext<'a> {
    /// The request's hash key for ring hash and Maglev (see
    /// [`PickContext::hash_key`]); others ignore it.
    pub hash: Option<u64>,
    /// The subset to pick from; `None` picks from every endpoint.
    pub subset: Option<&'a str>,
}

impl<'a> PickContext<'a> {
    /// Picks from the subset named `subset`.
    pub fn subset(subset: &'a str) -> Self {
        PickContext {
            hash: None,
            subset: Some(subset),
        }
    }

    /// Sets the hash key from bytes (a header value, a cookie, a source
    /// address), hashed with xxHash64 as Envoy does.
    pub fn hash_key(mut self, key: &[u8]) -> Self {
        self.hash = Some(xxh64(key, 0));
        self
    }
}

/// Endpoints and their balancer.
#[derive(Debug)]
struct Group {
    endpoints: Vec<Arc<Endpoint>>,
    balancer: Balancer,
}

#[derive(Debug)]
struct Snapshot {
    all: Group,
    subsets: HashMap<String, Group>,
}

/// What [`Cluster::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdateSummary {
    /// Endpoints that stayed, with their state.
    pub kept: usize,
    /// New endpoints.
    pub added: usize,
    /// Endpoints that left.
    pub removed: usize,
}

/// A cluster; see the [module docs](self).
pub struct Cluster<C: Clock = MonotonicClock, R: Random = ThreadRandom> {
    config: ClusterConfig,
    snapshot: ArcSwap<Snapshot>,
    updating: Mutex<()>,
    outlier: Option<OutlierDetector>,
    limits: Arc<PoolLimits>,
    /// Peak EWMA's decay, when the balancer uses latencies (only then
    /// does a pick read the clock).
    ewma_decay: Option<Duration>,
    clock: C,
    random: R,
}

impl<C: Clock, R: Random> fmt::Debug for Cluster<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.config.name)
            .field("endpoints", &self.snapshot.load().all.endpoints.len())
            .finish_non_exhaustive()
    }
}

impl Cluster<MonotonicClock, ThreadRandom> {
    /// A cluster of `endpoints` on the real clock and random source.
    pub fn new(
        config: ClusterConfig,
        endpoints: impl IntoIterator<Item = EndpointSpec>,
    ) -> Result<Self, ConfigError> {
        Cluster::with_sources(config, endpoints, MonotonicClock::new(), ThreadRandom)
    }
}

impl<C: Clock, R: Random> Cluster<C, R> {
    /// A cluster of `endpoints` reading time from `clock` and drawing from
    /// `random`.
    pub fn with_sources(
        config: ClusterConfig,
        endpoints: impl IntoIterator<Item = EndpointSpec>,
        clock: C,
        random: R,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let outlier = config.outlier.map(OutlierDetector::new).transpose()?;
        let ewma_decay = match config.lb {
            LbPolicy::PeakEwma(c) => Some(c.decay),
            _ => None,
        };
        let eps: Vec<Arc<Endpoint>> = dedupe(endpoints)
            .map(|spec| Arc::new(Endpoint::new(spec, Arc::default())))
            .collect();
        let snapshot = build(&config, eps);
        if let Some(o) = &outlier {
            o.recount(snapshot.all.endpoints.iter().map(|e| e.outlier()));
        }
        Ok(Cluster {
            limits: Arc::new(PoolLimits::new(config.limits)),
            config,
            snapshot: ArcSwap::from_pointee(snapshot),
            updating: Mutex::new(()),
            outlier,
            ewma_decay,
            clock,
            random,
        })
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The pool limits, shared by every request to the cluster.
    pub fn limits(&self) -> &Arc<PoolLimits> {
        &self.limits
    }

    /// The outlier detector, if configured.
    pub fn outlier_detector(&self) -> Option<&OutlierDetector> {
        self.outlier.as_ref()
    }

    /// The current endpoints.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        self.snapshot.load().all.endpoints.clone()
    }

    /// The endpoint at `addr`, if in the set.
    pub fn endpoint(&self, addr: SocketAddr) -> Option<Arc<Endpoint>> {
        self.snapshot
            .load()
            .all
            .endpoints
            .iter()
            .find(|e| e.addr() == addr)
            .cloned()
    }

    /// Replaces the endpoint set, keeping the state of endpoints whose
    /// address stays (duplicates of an address after the first are
    /// ignored). Picks running meanwhile see the old set or the new one,
    /// never a mix.
    pub fn update(&self, endpoints: impl IntoIterator<Item = EndpointSpec>) -> UpdateSummary {
        let _one_at_a_time = self
            .updating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = self.snapshot.load_full();
        let mut by_addr: HashMap<SocketAddr, &Arc<Endpoint>> =
            old.all.endpoints.iter().map(|e| (e.addr(), e)).collect();
        let mut summary = UpdateSummary::default();
        let eps: Vec<Arc<Endpoint>> = dedupe(endpoints)
            .map(|spec| match by_addr.remove(&spec.target.addr) {
                Some(e) => {
                    summary.kept += 1;
                    if *e.spec() == spec {
                        Arc::clone(e)
                    } else {
                        Arc::new(Endpoint::new(spec, Arc::clone(&e.state)))
                    }
                }
                None => {
                    summary.added += 1;
                    Arc::new(Endpoint::new(spec, Arc::default()))
                }
            })
            .collect();
        summary.removed = by_addr.len();
        for gone in by_addr.values() {
            gone.state
                .removed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let snapshot = build(&self.config, eps);
        if let Some(o) = &self.outlier {
            o.recount(snapshot.all.endpoints.iter().map(|e| e.outlier()));
        }
        self.snapshot.store(Arc::new(snapshot));
        summary
    }

    /// Picks an available endpoint for a request and counts it in flight
    /// until the returned [`Picked`] is finished or dropped.
    #[inline]
    pub fn pick(&self, ctx: &PickContext<'_>) -> Result<Picked<'_, C, R>, ClusterError> {
        let snapshot = self.snapshot.load();
        let group = match ctx.subset {
            None => &snapshot.all,
            Some(name) => {
                snapshot
                    .subsets
                    .get(name)
                    .ok_or_else(|| ClusterError::UnknownSubset {
                        cluster: self.config.name.clone(),
                        subset: name.to_owned(),
                    })?
            }
        };
        let now = if self.ewma_decay.is_some() {
            self.clock.now()
        } else {
            Timestamp::ZERO
        };
        let index = group
            .balancer
            .pick(&group.endpoints, ctx.hash, &self.random, now)
            .ok_or_else(|| ClusterError::NoHealthyUpstream {
                cluster: self.config.name.clone(),
                subset: ctx.subset.map(str::to_owned),
            })?;
        let endpoint = Arc::clone(&group.endpoints[index]);
        endpoint.load().start();
        Ok(Picked {
            cluster: self,
            endpoint,
            started: now,
            done: false,
        })
    }

    /// Runs outlier detection's interval work ([`OutlierDetector::tick`])
    /// over the current set: call it every `interval`, or let
    /// [`run_outlier_detection`](Self::run_outlier_detection) do so.
    /// Returns the endpoints ejected or returned.
    pub fn outlier_tick(&self) -> Vec<(Arc<Endpoint>, OutlierEvent)> {
        let Some(detector) = &self.outlier else {
            return Vec::new();
        };
        let snapshot = self.snapshot.load();
        let eps = &snapshot.all.endpoints;
        detector
            .tick(eps.iter().map(|e| e.outlier()), self.clock.now())
            .into_iter()
            .filter_map(|ev| {
                let index = match ev {
                    OutlierEvent::Ejected { index, .. } | OutlierEvent::Returned { index } => index,
                };
                eps.get(index).map(|e| (Arc::clone(e), ev))
            })
            .collect()
    }

    /// Ticks outlier detection every interval, forever, on tokio's timer
    /// (returns at once without outlier detection). Spawn it next to the
    /// proxy; `on_event` sees each ejection and return.
    pub async fn run_outlier_detection(&self, mut on_event: impl FnMut(&Endpoint, OutlierEvent)) {
        let Some(detector) = &self.outlier else {
            return;
        };
        let mut timer = tokio::time::interval(detector.config().interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await;
        loop {
            timer.tick().await;
            for (e, ev) in self.outlier_tick() {
                on_event(&e, ev);
            }
        }
    }

    fn record(
        &self,
        endpoint: &Endpoint,
        outcome: Option<Outcome>,
        started: Timestamp,
    ) -> Option<EjectReason> {
        match (self.ewma_decay, outcome) {
            (Some(decay), Some(_)) => {
                let now = self.clock.now();
                endpoint
                    .load()
                    .finish(Some(now.saturating_since(started)), now, decay);
            }
            _ => endpoint.load().finish(None, started, Duration::ZERO),
        }
        match (&self.outlier, outcome) {
            (Some(detector), Some(outcome)) if !endpoint.is_removed() => {
                detector.record(endpoint.outlier(), outcome, &self.clock)
            }
            _ => None,
        }
    }
}

/// Keeps the first spec of each address.
fn dedupe(specs: impl IntoIterator<Item = EndpointSpec>) -> impl Iterator<Item = EndpointSpec> {
    let mut seen = std::collections::HashSet::new();
    specs
        .into_iter()
        .filter(move |s| seen.insert(s.target.addr))
}

fn build(config: &ClusterConfig, endpoints: Vec<Arc<Endpoint>>) -> Snapshot {
    let subsets = config
        .subsets
        .iter()
        .map(|s| {
            let members: Vec<Arc<Endpoint>> = endpoints
                .iter()
                .filter(|e| e.matches(&s.labels))
                .cloned()
                .collect();
            let balancer = config.lb.build(&members);
            (
                s.name.clone(),
                Group {
                    endpoints: members,
                    balancer,
                },
            )
        })
        .collect();
    let balancer = config.lb.build(&endpoints);
    Snapshot {
        all: Group {
            endpoints,
            balancer,
        },
        subsets,
    }
}

/// A picked endpoint with a request in flight to it.
///
/// Report how the request went with [`finish`](Self::finish) (or
/// [`success`](Self::success)): it feeds outlier detection and the
/// latency estimate. Dropping it unfinished counts the request as
/// cancelled: it leaves the in-flight count and is not held against the
/// endpoint.
#[must_use = "finish() reports the outcome; dropping it counts the request as cancelled"]
pub struct Picked<'a, C: Clock, R: Random> {
    cluster: &'a Cluster<C, R>,
    endpoint: Arc<Endpoint>,
    started: Timestamp,
    done: bool,
}

impl<C: Clock, R: Random> fmt::Debug for Picked<'_, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Picked")
            .field("endpoint", &self.endpoint.addr())
            .finish_non_exhaustive()
    }
}

impl<C: Clock, R: Random> Picked<'_, C, R> {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// How to connect to it.
    pub fn target(&self) -> &mesh_core::Target {
        self.endpoint.target()
    }

    /// Records the request's outcome; says why if it ejected the
    /// endpoint.
    pub fn finish(mut self, outcome: Outcome) -> Option<EjectReason> {
        self.done = true;
        self.cluster
            .record(&self.endpoint, Some(outcome), self.started)
    }

    /// Records a success.
    pub fn success(self) {
        self.finish(Outcome::Success);
    }
}

impl<C: Clock, R: Random> Drop for Picked<'_, C, R> {
    fn drop(&mut self) {
        if !self.done {
            self.cluster.record(&self.endpoint, None, self.started);
        }
    }
}
