//! Upstream clusters: one per destination host, port and subset, built from
//! the configuration's [`mesh_core::config::Cluster`] on a
//! [`mesh_resilience::cluster::Cluster`].
//!
//! A TCP connection is one "request" to the cluster: the connection-pool
//! limit (`connectionPool.tcp.maxConnections`) is held for its lifetime; the
//! endpoint is picked by the balancer (`loadBalancer`); the connect attempt
//! (TCP and, for mesh endpoints, the mTLS handshake) is bounded by
//! `connectTimeout`; a failed attempt counts against the endpoint in outlier
//! detection (`outlierDetection`: a connect failure is a locally originated
//! gateway failure, as in Envoy) and in the consecutive-failure breaker
//! (meshkit's `CircuitBreaker`). DNS endpoints are resolved before the first
//! connection and re-resolved in the background once the answer is older
//! than the refresh interval; the endpoint set is swapped with
//! [`Cluster::update`], which keeps the state of addresses that stay.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use mesh_core::config::destination_rule::{ClientTlsSettings, EffectivePolicy, SimpleLb, TlsMode};
use mesh_core::config::registry::EndpointAddress;
use mesh_core::config::service_entry::Resolution;
use mesh_core::config::{Cluster as ClusterSpec, ClusterEndpoint, Workload};
use mesh_core::telemetry::{Peer, ResponseFlags};
use mesh_core::{ConnectErrorKind, Protocol, Target};
use mesh_resilience::balancer::LbPolicy;
use mesh_resilience::breaker::{Breaker, BreakerConfig};
use mesh_resilience::clock::TokioClock;
use mesh_resilience::cluster::{Cluster, ClusterConfig, EndpointSpec, PickContext};
use mesh_resilience::limits::{OwnedLimitGuard, PoolLimitsConfig, Resource};
use mesh_resilience::outlier::{Outcome, OutlierConfig};
use mesh_resilience::rand::ThreadRandom;
use mesh_tls::istio::OutboundSni;
use tokio::time::Instant;

use crate::error::ProxyError;
use crate::io::{BoxIo, SharedConnector};
use crate::metrics::peer_labels;
use crate::resolve::Resolve;

/// The label Istio puts on endpoints whose workload has a sidecar: auto mTLS
/// originates mesh mTLS to them when no DestinationRule says otherwise.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";

/// How Envoy refreshes DNS endpoints by default (`dns_refresh_rate`).
pub const DEFAULT_DNS_REFRESH: Duration = Duration::from_secs(5);

/// A cluster's identity: host, service port and subset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    /// The fully qualified host.
    pub host: String,
    /// The service port.
    pub port: u16,
    /// The subset.
    pub subset: Option<String>,
}

impl ClusterKey {
    /// The key of `host:port`, optionally a subset.
    pub fn new(host: impl Into<String>, port: u16, subset: Option<&str>) -> Self {
        ClusterKey {
            host: host.into(),
            port,
            subset: subset.map(str::to_owned),
        }
    }
}

impl fmt::Display for ClusterKey {
    /// Istio's cluster name: `outbound|9080|v1|reviews.default.svc.cluster.local`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outbound|{}|{}|{}",
            self.port,
            self.subset.as_deref().unwrap_or(""),
            self.host
        )
    }
}

/// The connectors a cluster dials with: plain TCP, and mesh mTLS when the
/// proxy has certificates.
#[derive(Clone)]
pub struct Connectors {
    /// Plain TCP (or anything else for endpoints without mesh mTLS).
    pub tcp: SharedConnector,
    /// Mesh mTLS; `None` without certificates (mTLS destinations then fail
    /// with `UF`).
    pub mtls: Option<SharedConnector>,
}

impl fmt::Debug for Connectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connectors")
            .field("mtls", &self.mtls.is_some())
            .finish()
    }
}

/// What every cluster of a proxy shares.
#[derive(Clone)]
pub struct ClusterEnv {
    /// How to dial.
    pub connectors: Connectors,
    /// How to resolve DNS endpoints.
    pub resolver: Arc<dyn Resolve>,
    /// How often DNS answers are refreshed.
    pub dns_refresh: Duration,
    /// Endpoints tried per connection (Envoy's `max_connect_attempts`, 1).
    pub connect_attempts: u32,
    /// The trust domain of peer identities (the local workload's).
    pub trust_domain: String,
}

impl fmt::Debug for ClusterEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterEnv")
            .field("connectors", &self.connectors)
            .field("dns_refresh", &self.dns_refresh)
            .field("connect_attempts", &self.connect_attempts)
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

/// What a proxy knows about an endpoint beyond its address: whether it
/// speaks mesh mTLS, and its workload's labels for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointMeta {
    /// Originate mesh mTLS to it.
    pub mtls: bool,
    /// `destination_*` labels.
    pub peer: Peer,
}

/// A connection made through a cluster.
pub struct Connected {
    /// The upstream stream (mTLS or plain).
    pub io: BoxIo,
    /// The endpoint connected to.
    pub endpoint: SocketAddr,
    /// Its metadata.
    pub meta: Arc<EndpointMeta>,
    /// The connection-pool slot, held while the connection lives.
    pub permit: OwnedLimitGuard,
}

impl fmt::Debug for Connected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connected")
            .field("endpoint", &self.endpoint)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Why no upstream connection was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cluster}: {reason}")]
pub struct ConnectFailure {
    /// The cluster.
    pub cluster: String,
    /// Envoy's flag: `UO` (pool limit or breaker), `UH` (no healthy
    /// endpoint), `UF` (connect or handshake failed), `DF` (DNS failed).
    pub flags: ResponseFlags,
    /// The last endpoint tried.
    pub upstream: Option<SocketAddr>,
    /// What went wrong.
    pub reason: String,
    /// For a TLS failure, why (the access log's
    /// `UPSTREAM_TRANSPORT_FAILURE_REASON`).
    pub transport_failure: Option<String>,
}

impl mesh_core::ErrorClass for ConnectFailure {
    fn side(&self) -> mesh_core::Side {
        if self.flags == ResponseFlags::UPSTREAM_OVERFLOW {
            mesh_core::Side::Internal
        } else {
            mesh_core::Side::Upstream
        }
    }

    /// Nothing was sent.
    fn retry_safe(&self) -> bool {
        true
    }
}

/// What a connection asks of the pick.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectContext {
    /// The inner protocol (selects the mesh ALPN).
    pub protocol: Option<Protocol>,
    /// The downstream's address (the hash key of `useSourceIp`).
    pub source: Option<SocketAddr>,
    /// The original destination, for passthrough clusters.
    pub original_dst: Option<SocketAddr>,
}

struct DnsEndpoint {
    name: String,
    port: u16,
    weight: u32,
    labels: std::collections::BTreeMap<String, String>,
    meta: Arc<EndpointMeta>,
    target: Target,
}

struct Dns {
    names: Vec<DnsEndpoint>,
    fixed: Vec<(EndpointSpec, Arc<EndpointMeta>)>,
    /// When the last resolution ended, and whether it installed answers.
    last: Mutex<Option<(Instant, bool)>>,
    refreshing: AtomicBool,
    inline: tokio::sync::Mutex<()>,
}

/// An upstream cluster; see the [module docs](self).
pub struct UpstreamCluster {
    key: ClusterKey,
    name: String,
    spec: ClusterSpec,
    cluster: Cluster<TokioClock>,
    meta: ArcSwap<HashMap<SocketAddr, Arc<EndpointMeta>>>,
    passthrough: Option<Arc<EndpointMeta>>,
    breaker: Option<Breaker<TokioClock>>,
    connect_timeout: Duration,
    hash_by_source: bool,
    dns: Option<Dns>,
    env: ClusterEnv,
}

impl fmt::Debug for UpstreamCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamCluster")
            .field("name", &self.name)
            .field("endpoints", &self.cluster.endpoints().len())
            .finish_non_exhaustive()
    }
}

fn outlier_config(policy: &EffectivePolicy) -> Option<OutlierConfig> {
    let od = policy.outlier_detection.as_ref()?;
    let mut c = OutlierConfig {
        consecutive_5xx: od.consecutive_5xx_errors.filter(|n| *n > 0),
        consecutive_gateway_failure: od.consecutive_gateway_errors.filter(|n| *n > 0),
        ..OutlierConfig::default()
    };
    if od.consecutive_5xx_errors.is_none() && od.consecutive_gateway_errors.is_none() {
        c.consecutive_5xx = OutlierConfig::default().consecutive_5xx;
    }
    if let Some(i) = od.interval.filter(|d| !d.get().is_zero()) {
        c.interval = i.get();
    }
    if let Some(b) = od.base_ejection_time.filter(|d| !d.get().is_zero()) {
        c.base_ejection_time = b.get();
    }
    if let Some(p) = od.max_ejection_percent {
        c.max_ejection_percent = p.get();
    }
    Some(c)
}

fn lb_policy(policy: &EffectivePolicy) -> (LbPolicy, bool) {
    let Some(lb) = &policy.load_balancer else {
        return (LbPolicy::LeastRequest, false);
    };
    if let Some(ch) = &lb.consistent_hash {
        let by_source = ch.use_source_ip == Some(true);
        let policy = if ch.maglev.is_some() {
            LbPolicy::maglev()
        } else {
            LbPolicy::ring_hash()
        };
        return (policy, by_source);
    }
    let policy = match lb.simple {
        Some(SimpleLb::RoundRobin) => LbPolicy::RoundRobin,
        Some(SimpleLb::Random) => LbPolicy::WeightedRandom,
        Some(SimpleLb::Passthrough) => {
            tracing::warn!("loadBalancer PASSTHROUGH is not supported; using round robin");
            LbPolicy::RoundRobin
        }
        _ => LbPolicy::LeastRequest,
    };
    (policy, false)
}

/// Whether mesh mTLS is originated to an endpoint: the DestinationRule's
/// `tls.mode` when set (`ISTIO_MUTUAL` yes, anything else no), else Istio's
/// auto mTLS (the endpoint carries `security.istio.io/tlsMode: istio` and
/// the service is in the mesh).
pub fn originates_mtls(
    tls: Option<&ClientTlsSettings>,
    mesh_external: bool,
    ep: &ClusterEndpoint,
) -> bool {
    match tls.map(|t| t.mode) {
        Some(TlsMode::IstioMutual) => true,
        Some(TlsMode::Simple | TlsMode::Mutual) => {
            tracing::warn!(
                "DestinationRule tls.mode SIMPLE/MUTUAL is not originated by mesh-proxy; sending plaintext"
            );
            false
        }
        Some(TlsMode::Disable) => false,
        None => !mesh_external && ep.labels.get(TLS_MODE_LABEL).is_some_and(|v| v == "istio"),
    }
}

/// The workload behind an endpoint, for `destination_*` labels.
fn endpoint_workload(ep: &ClusterEndpoint, trust_domain: &str) -> Workload {
    let mut w = Workload::new(ep.namespace.clone(), ep.labels.clone());
    w.name = ep
        .labels
        .get("service.istio.io/canonical-name")
        .or_else(|| ep.labels.get("app"))
        .cloned();
    w.service_account = ep.service_account.clone();
    w.trust_domain = Some(trust_domain.to_owned());
    w
}

impl UpstreamCluster {
    /// Builds the cluster of `spec` (outlier ticks and DNS refreshes run on
    /// tokio tasks that end when the cluster is dropped; call from a
    /// runtime).
    pub fn build(spec: ClusterSpec, env: &ClusterEnv) -> Result<Arc<UpstreamCluster>, ProxyError> {
        let key = ClusterKey::new(spec.host.clone(), spec.port, spec.subset.as_deref());
        let name = key.to_string();
        let (lb, hash_by_source) = lb_policy(&spec.policy);
        let tcp = spec
            .policy
            .connection_pool
            .as_ref()
            .and_then(|p| p.tcp.as_ref());
        let limits = PoolLimitsConfig {
            // Istio's default is effectively unlimited (2^32 - 1).
            max_connections: tcp
                .and_then(|t| t.max_connections)
                .map_or(u64::from(u32::MAX), u64::from),
            ..PoolLimitsConfig::default()
        };
        let connect_timeout = tcp
            .and_then(|t| t.connect_timeout)
            .map_or(Duration::from_secs(10), |d| d.get());
        let config = ClusterConfig::new(name.clone())
            .with_lb(lb)
            .with_outlier(outlier_config(&spec.policy))
            .with_limits(limits);
        let breaker = match &spec.circuit_breaker {
            Some(cb) => {
                let open = cb.open_duration.get().max(Duration::from_millis(1));
                Some(
                    Breaker::with_clock(
                        BreakerConfig {
                            consecutive_failures: Some(cb.consecutive_failures.max(1)),
                            failure_rate: None,
                            base_open: open,
                            max_open: open,
                            half_open_probes: cb
                                .half_open_requests
                                .map_or(1, |n| n.clamp(1, u32::from(u16::MAX)) as u16),
                        },
                        TokioClock::new(),
                    )
                    .map_err(|e| ProxyError::cluster(&name, e))?,
                )
            }
            None => None,
        };
        let (fixed, names) = endpoint_specs(&spec, env);
        let passthrough =
            (spec.endpoints.is_empty() && spec.resolution == Resolution::None).then(|| {
                Arc::new(EndpointMeta {
                    mtls: false,
                    peer: Peer::default(),
                })
            });
        let dns = (!names.is_empty()).then(|| Dns {
            names,
            fixed: fixed.clone(),
            last: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            inline: tokio::sync::Mutex::new(()),
        });
        let meta: HashMap<SocketAddr, Arc<EndpointMeta>> = fixed
            .iter()
            .map(|(s, m)| (s.target.addr, Arc::clone(m)))
            .collect();
        let cluster = Cluster::with_sources(
            config,
            fixed.into_iter().map(|(s, _)| s),
            TokioClock::new(),
            ThreadRandom,
        )
        .map_err(|e| ProxyError::cluster(&name, e))?;
        let this = Arc::new(UpstreamCluster {
            key,
            name,
            spec,
            cluster,
            meta: ArcSwap::from_pointee(meta),
            passthrough,
            breaker,
            connect_timeout,
            hash_by_source,
            dns,
            env: env.clone(),
        });
        this.spawn_outlier_ticks();
        Ok(this)
    }

    /// A cluster that connects to each connection's original destination
    /// over plain TCP: Istio's `PassthroughCluster`, for `ALLOW_ANY`
    /// traffic to hosts the configuration does not know.
    pub fn passthrough(env: &ClusterEnv) -> Result<Arc<UpstreamCluster>, ProxyError> {
        UpstreamCluster::build(ClusterSpec::new("PassthroughCluster", 0), env)
    }

    /// The key.
    pub fn key(&self) -> &ClusterKey {
        &self.key
    }

    /// Istio's name of the cluster.
    pub fn name(&self) -> &str {
        if self.key.host == "PassthroughCluster" {
            "PassthroughCluster"
        } else {
            &self.name
        }
    }

    /// The configuration it was built from.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The balancer, outlier state and limits.
    pub fn inner(&self) -> &Cluster<TokioClock> {
        &self.cluster
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The metadata of the endpoint at `addr`.
    pub fn endpoint_meta(&self, addr: SocketAddr) -> Option<Arc<EndpointMeta>> {
        self.meta.load().get(&addr).cloned()
    }

    /// Whether this cluster's configuration equals `spec` apart from static
    /// endpoints, so a reload can keep it (and its outlier state) and only
    /// replace the endpoints.
    pub fn same_policy(&self, spec: &ClusterSpec) -> bool {
        let mut a = self.spec.clone();
        let mut b = spec.clone();
        a.endpoints.clear();
        b.endpoints.clear();
        a == b
    }

    /// Replaces the endpoints with those of `spec` (same policy), keeping
    /// the state of the addresses that stay. Returns a cluster to use from
    /// now on (this one, updated, or a new one for DNS clusters).
    pub fn refreshed(
        self: &Arc<Self>,
        spec: ClusterSpec,
        env: &ClusterEnv,
    ) -> Result<Arc<UpstreamCluster>, ProxyError> {
        if self.spec == spec {
            return Ok(Arc::clone(self));
        }
        if !self.same_policy(&spec) || self.dns.is_some() {
            return UpstreamCluster::build(spec, env);
        }
        let (fixed, names) = endpoint_specs(&spec, env);
        if !names.is_empty() {
            return UpstreamCluster::build(spec, env);
        }
        // Same policy, new static endpoints: update in place (the old
        // snapshot shares this cluster, so its connections see the same
        // outlier state) and keep using it.
        let meta = fixed
            .iter()
            .map(|(s, m)| (s.target.addr, Arc::clone(m)))
            .collect();
        self.cluster.update(fixed.into_iter().map(|(s, _)| s));
        self.meta.store(Arc::new(meta));
        Ok(Arc::clone(self))
    }

    fn spawn_outlier_ticks(self: &Arc<Self>) {
        let Some(detector) = self.cluster.outlier_detector() else {
            return;
        };
        let interval = detector.config().interval;
        let weak: Weak<UpstreamCluster> = Arc::downgrade(self);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let mut timer = tokio::time::interval(interval);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer.tick().await;
            loop {
                timer.tick().await;
                let Some(cluster) = weak.upgrade() else {
                    return;
                };
                for (endpoint, event) in cluster.cluster.outlier_tick() {
                    tracing::info!(cluster = %cluster.name, endpoint = %endpoint.addr(), ?event, "outlier detection");
                }
            }
        });
    }

    /// Resolves DNS endpoints when no answer was ever installed (waiting),
    /// or refreshes them in the background when the answer is stale.
    async fn ensure_resolved(self: &Arc<Self>) -> Result<(), ConnectFailure> {
        let Some(dns) = &self.dns else {
            return Ok(());
        };
        let state = *dns.last.lock().unwrap_or_else(PoisonError::into_inner);
        let stale = |at: Instant| at.elapsed() >= self.env.dns_refresh;
        match state {
            Some((at, true)) if stale(at) => {
                if !dns.refreshing.swap(true, Ordering::AcqRel) {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Err(e) = this.resolve_now().await {
                            tracing::warn!(cluster = %this.name, error = %e.reason, "DNS refresh failed; keeping the previous endpoints");
                        }
                        if let Some(dns) = &this.dns {
                            dns.refreshing.store(false, Ordering::Release);
                        }
                    });
                }
                Ok(())
            }
            Some((_, true)) => Ok(()),
            Some((at, false)) if !stale(at) => Err(self.failure(
                ResponseFlags::DNS_RESOLUTION_FAILURE,
                None,
                "DNS resolution failed; retried after the refresh interval".into(),
            )),
            _ => {
                // Nothing usable yet: resolve now, one connection at a time.
                let _one = dns.inline.lock().await;
                let again = *dns.last.lock().unwrap_or_else(PoisonError::into_inner);
                if matches!(again, Some((at, true)) if !stale(at)) || again != state {
                    return match again {
                        Some((_, true)) => Ok(()),
                        _ => Err(self.failure(
                            ResponseFlags::DNS_RESOLUTION_FAILURE,
                            None,
                            "DNS resolution failed".into(),
                        )),
                    };
                }
                self.resolve_now().await
            }
        }
    }

    /// Resolves every DNS endpoint now and installs the answers. Fails (and
    /// keeps the current endpoints) when no name resolves.
    pub async fn resolve_now(&self) -> Result<(), ConnectFailure> {
        let Some(dns) = &self.dns else {
            return Ok(());
        };
        let mut specs: Vec<(EndpointSpec, Arc<EndpointMeta>)> = dns.fixed.clone();
        let mut errors = Vec::new();
        let mut resolved_any = false;
        for ep in &dns.names {
            match self.env.resolver.resolve(&ep.name).await {
                Ok(ips) => {
                    resolved_any = true;
                    for ip in ips {
                        let mut target = ep.target.clone();
                        target.addr = SocketAddr::new(ip, ep.port);
                        let mut spec = EndpointSpec::new(target.addr)
                            .with_target(target)
                            .with_weight(ep.weight);
                        spec.labels = ep.labels.clone();
                        specs.push((spec, Arc::clone(&ep.meta)));
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", ep.name)),
            }
        }
        {
            // Answers stay usable after a failed refresh (the old ones remain).
            let mut last = dns.last.lock().unwrap_or_else(PoisonError::into_inner);
            let usable = resolved_any || last.is_some_and(|(_, ok)| ok);
            *last = Some((Instant::now(), usable));
        }
        if !resolved_any {
            return Err(ConnectFailure {
                cluster: self.name.clone(),
                flags: ResponseFlags::DNS_RESOLUTION_FAILURE,
                upstream: None,
                reason: format!("DNS resolution failed: {}", errors.join("; ")),
                transport_failure: None,
            });
        }
        let meta = specs
            .iter()
            .map(|(s, m)| (s.target.addr, Arc::clone(m)))
            .collect();
        self.meta.store(Arc::new(meta));
        let summary = self.cluster.update(specs.into_iter().map(|(s, _)| s));
        tracing::debug!(cluster = %self.name, ?summary, "DNS endpoints updated");
        Ok(())
    }

    fn failure(
        &self,
        flags: ResponseFlags,
        upstream: Option<SocketAddr>,
        reason: String,
    ) -> ConnectFailure {
        ConnectFailure {
            cluster: self.name().to_owned(),
            flags,
            upstream,
            reason,
            transport_failure: None,
        }
    }

    /// Opens a connection to an endpoint: admission (pool limit, breaker),
    /// DNS, pick, connect with the timeout, outcome recorded for outlier
    /// detection; up to `connect_attempts` endpoints are tried.
    pub async fn connect(
        self: &Arc<Self>,
        ctx: &ConnectContext,
    ) -> Result<Connected, ConnectFailure> {
        let permit = self
            .cluster
            .limits()
            .try_acquire_owned(Resource::Connections)
            .map_err(|o| self.failure(o.response_flags(), None, o.to_string()))?;
        if let Some(meta) = &self.passthrough {
            let Some(addr) = ctx.original_dst else {
                return Err(self.failure(
                    ResponseFlags::NO_HEALTHY_UPSTREAM,
                    None,
                    "no original destination to pass through to".into(),
                ));
            };
            let target = Target::new(addr);
            return match tokio::time::timeout(
                self.connect_timeout,
                self.env.connectors.tcp.connect_dyn(&target),
            )
            .await
            {
                Ok(Ok(io)) => Ok(Connected {
                    io,
                    endpoint: addr,
                    meta: Arc::clone(meta),
                    permit,
                }),
                Ok(Err(e)) => Err(self.failure(
                    ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                    Some(addr),
                    e.to_string(),
                )),
                Err(_) => Err(self.failure(
                    ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                    Some(addr),
                    format!("connect timeout after {:?}", self.connect_timeout),
                )),
            };
        }
        self.ensure_resolved().await?;
        let mut last: Option<ConnectFailure> = None;
        for _ in 0..self.env.connect_attempts.max(1) {
            let admitted = match &self.breaker {
                Some(b) => Some(
                    b.admit()
                        .map_err(|r| self.failure(r.response_flags(), None, r.to_string()))?,
                ),
                None => None,
            };
            let mut pick = PickContext::default();
            if self.hash_by_source {
                if let Some(src) = ctx.source {
                    pick = pick.hash_key(src.ip().to_string().as_bytes());
                }
            }
            let picked = self
                .cluster
                .pick(&pick)
                .map_err(|e| self.failure(e.response_flags(), None, e.to_string()))?;
            let addr = picked.endpoint().addr();
            let meta = self.endpoint_meta(addr).unwrap_or_else(|| {
                Arc::new(EndpointMeta {
                    mtls: false,
                    peer: Peer::default(),
                })
            });
            let mut target = picked.target().clone();
            if let Some(p) = ctx.protocol {
                target = target.with_protocol(p);
            }
            let connector = if meta.mtls {
                match &self.env.connectors.mtls {
                    Some(c) => c,
                    None => {
                        drop(picked);
                        return Err(self.failure(
                            ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                            Some(addr),
                            "the destination needs mesh mTLS and this proxy has no certificates"
                                .into(),
                        ));
                    }
                }
            } else {
                &self.env.connectors.tcp
            };
            let result =
                tokio::time::timeout(self.connect_timeout, connector.connect_dyn(&target)).await;
            match result {
                Ok(Ok(io)) => {
                    picked.finish(Outcome::Success);
                    if let Some(p) = admitted {
                        p.record(true);
                    }
                    return Ok(Connected {
                        io,
                        endpoint: addr,
                        meta,
                        permit,
                    });
                }
                Ok(Err(e)) => {
                    if let Some(reason) = picked.finish(Outcome::GatewayFailure) {
                        tracing::info!(cluster = %self.name, endpoint = %addr, reason = reason.as_str(), "endpoint ejected");
                    }
                    if let Some(p) = admitted {
                        p.record(false);
                    }
                    let tls = matches!(
                        e.kind,
                        ConnectErrorKind::Tls | ConnectErrorKind::PeerIdentity
                    );
                    let reason = e.to_string();
                    let mut f = self.failure(
                        ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                        Some(addr),
                        reason.clone(),
                    );
                    if tls {
                        f.transport_failure = Some(reason);
                    }
                    last = Some(f);
                }
                Err(_) => {
                    let _ = picked.finish(Outcome::GatewayFailure);
                    if let Some(p) = admitted {
                        p.record(false);
                    }
                    last = Some(self.failure(
                        ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                        Some(addr),
                        format!("connect timeout after {:?}", self.connect_timeout),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            self.failure(
                ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
                None,
                "no attempt".into(),
            )
        }))
    }
}

/// The endpoint specs of a cluster: fixed (IP) endpoints with their
/// metadata, and the DNS names still to resolve.
fn endpoint_specs(
    spec: &ClusterSpec,
    env: &ClusterEnv,
) -> (Vec<(EndpointSpec, Arc<EndpointMeta>)>, Vec<DnsEndpoint>) {
    let mut fixed = Vec::new();
    let mut names = Vec::new();
    let tls = spec.policy.tls.as_ref();
    for ep in &spec.endpoints {
        let mtls = originates_mtls(tls, spec.mesh_external, ep);
        let workload = endpoint_workload(ep, &env.trust_domain);
        let meta = Arc::new(EndpointMeta {
            mtls,
            peer: peer_labels(&workload),
        });
        let mut ids: Vec<String> = Vec::new();
        if mtls {
            if let Some(sa) = &ep.service_account {
                ids.push(format!(
                    "spiffe://{}/ns/{}/sa/{sa}",
                    env.trust_domain, ep.namespace
                ));
            }
            if let Some(t) = tls {
                ids.extend(t.subject_alt_names.iter().cloned());
            }
        }
        let placeholder = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), ep.port);
        let mut target = Target::new(placeholder);
        if mtls {
            let sni = OutboundSni::new(spec.port, spec.subset.as_deref(), &spec.host).to_string();
            target = target
                .with_server_name(tls.and_then(|t| t.sni.clone()).unwrap_or(sni))
                .with_peer_identities(ids);
        }
        match &ep.address {
            EndpointAddress::Ip(ip) => {
                target.addr = SocketAddr::new(*ip, ep.port);
                let mut s = EndpointSpec::new(target.addr)
                    .with_target(target)
                    .with_weight(ep.weight);
                s.labels = ep.labels.clone();
                fixed.push((s, meta));
            }
            EndpointAddress::Dns(name) => names.push(DnsEndpoint {
                name: name.clone(),
                port: ep.port,
                weight: ep.weight,
                labels: ep.labels.clone(),
                meta,
                target,
            }),
            EndpointAddress::Unix(path) => {
                tracing::warn!(cluster = %spec.host, path = %path, "Unix socket endpoints are not supported upstream; skipped");
            }
        }
    }
    (fixed, names)
}
