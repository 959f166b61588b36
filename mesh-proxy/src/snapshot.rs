//! One configuration as the data path uses it: the validated config, the
//! local workload, the listeners to run and the upstream clusters, built
//! once per (re)load and swapped in atomically. A connection keeps the
//! snapshot it was accepted under for its whole life.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mesh_core::config::meshkit::{Direction, TokenBucket};
use mesh_core::config::sidecar::{Bind, CaptureMode, OutboundMode};
use mesh_core::config::{EffectiveConfig, Listener, Workload};
use mesh_core::telemetry::Peer;

use crate::error::ProxyError;
use crate::metrics::peer_labels;
use crate::upstream::{ClusterEnv, ClusterKey, UpstreamCluster};

/// What a running listener does with its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerRole {
    /// An explicit inbound listener for this workload port.
    Inbound(u16),
    /// An explicit outbound listener on this port.
    Outbound(u16),
    /// Captured inbound traffic (iptables `REDIRECT` to 15006); the
    /// original destination's port is the workload port.
    InboundCapture,
    /// Captured outbound traffic (iptables `REDIRECT` to 15001); the
    /// original destination decides the service.
    OutboundCapture,
}

/// A listening socket: its address and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerKey {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it does.
    pub role: ListenerRole,
}

impl fmt::Display for ListenerKey {
    /// Istio's listener names: `inbound|9080`, `outbound|15001`,
    /// `virtualInbound`, `virtualOutbound`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            ListenerRole::Inbound(p) => write!(f, "inbound|{p}"),
            ListenerRole::Outbound(p) => write!(f, "outbound|{p}"),
            ListenerRole::InboundCapture => f.write_str("virtualInbound"),
            ListenerRole::OutboundCapture => f.write_str("virtualOutbound"),
        }
    }
}

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Connections open at once; more wait in the accept queue.
    pub max_connections: u32,
    /// Bytes the proxy buffers per connection, both directions together:
    /// the copy buffers (half each way) and the detection prefix. A mesh
    /// mTLS connection adds rustls' record buffers (about 16 KiB each way).
    pub buffer_bytes: u32,
    /// The protocol detection deadline.
    pub detection_timeout: Duration,
    /// The local rate limit on new connections.
    pub rate_limit: Option<TokenBucket>,
}

/// Below this per-connection budget a listener warns: protocol detection
/// holds at most the budget, and a ClientHello (about 300 bytes from
/// rustls, over 1.5 KiB with post-quantum key shares) that does not fit is
/// taken for plaintext.
pub const MIN_BUFFER_FOR_TLS_DETECTION: u32 = 2048;

/// Per-connection buffer when none is configured: 16 KiB each way.
pub const DEFAULT_BUFFER_BYTES: u32 = 32 * 1024;

impl ListenerLimits {
    fn of(listener: Option<&Listener>) -> Self {
        ListenerLimits {
            max_connections: listener.and_then(|l| l.max_connections).unwrap_or(u32::MAX),
            buffer_bytes: listener
                .and_then(|l| l.buffer_bytes_per_connection)
                .unwrap_or(DEFAULT_BUFFER_BYTES)
                .max(2),
            detection_timeout: listener
                .and_then(|l| l.detection_timeout)
                .map_or(mesh_core::DetectConfig::DEFAULT_TIMEOUT, |d| d.get()),
            rate_limit: listener.and_then(|l| l.rate_limit),
        }
    }

    /// The copy settings: half of the buffer budget each way.
    pub fn copy_config(&self) -> mesh_core::CopyConfig {
        mesh_core::CopyConfig {
            buffer_size: (self.buffer_bytes / 2).max(1) as usize,
            ..mesh_core::CopyConfig::default()
        }
    }

    /// The detection settings: the deadline, and at most the buffer budget.
    pub fn detect_config(&self) -> mesh_core::DetectConfig {
        mesh_core::DetectConfig {
            max_bytes: mesh_core::DetectConfig::DEFAULT_MAX_BYTES.min(self.buffer_bytes as usize),
            timeout: self.detection_timeout,
        }
    }
}

/// A listener to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerPlan {
    /// The socket and role.
    pub key: ListenerKey,
    /// Its configuration (`None` for the capture listeners, which serve
    /// several).
    pub spec: Option<Listener>,
    /// Its limits.
    pub limits: ListenerLimits,
}

/// A configuration ready for the data path; see the [module docs](self).
#[derive(Debug)]
pub struct Snapshot {
    /// Bumped by each applied configuration (the first is 1).
    pub generation: u64,
    /// The validated configuration.
    pub config: Arc<EffectiveConfig>,
    /// The workload this proxy serves.
    pub local: Workload,
    /// Its metric labels.
    pub local_peer: Peer,
    /// The listeners to run.
    pub listeners: BTreeMap<ListenerKey, ListenerPlan>,
    /// Captured inbound listeners by workload port.
    pub captured_inbound: HashMap<u16, Listener>,
    /// Captured outbound listeners by port.
    pub captured_outbound: HashMap<u16, Listener>,
    /// The captured outbound listener without a port (all other ports).
    pub catch_all: Option<Listener>,
    /// Upstream clusters by host, port and subset.
    pub clusters: BTreeMap<ClusterKey, Arc<UpstreamCluster>>,
    /// Where `ALLOW_ANY` traffic to unknown hosts goes.
    pub passthrough: Arc<UpstreamCluster>,
    /// `ALLOW_ANY` or `REGISTRY_ONLY`.
    pub outbound_mode: OutboundMode,
}

fn bind_ip(bind: Option<&Bind>, default: IpAddr, source: &str) -> Result<IpAddr, ProxyError> {
    match bind {
        None => Ok(default),
        Some(Bind::Ip(ip)) => Ok(*ip),
        Some(Bind::Unix(path)) => Err(ProxyError::Listener {
            listener: source.to_owned(),
            message: format!("binding a Unix socket (unix://{path}) is not supported"),
        }),
    }
}

impl Snapshot {
    /// Builds the snapshot of `config`, reusing the clusters of `previous`
    /// whose policy did not change (their outlier state survives).
    pub fn build(
        config: EffectiveConfig,
        generation: u64,
        env: &ClusterEnv,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, ProxyError> {
        let local = config.local_workload().ok_or(ProxyError::NoIdentity)?;
        let local_peer = peer_labels(&local);
        let (out_capture, in_capture) = config.capture_ports();
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut listeners = BTreeMap::new();
        let mut captured_inbound = HashMap::new();
        let mut captured_outbound = HashMap::new();
        let mut catch_all = None;
        let mut add = |plan: ListenerPlan| -> Result<(), ProxyError> {
            if let Some(existing) = listeners.keys().find(|k: &&ListenerKey| {
                k.addr.port() == plan.key.addr.port()
                    && (k.addr.ip() == plan.key.addr.ip()
                        || k.addr.ip().is_unspecified()
                        || plan.key.addr.ip().is_unspecified())
                    && **k != plan.key
            }) {
                return Err(ProxyError::Listener {
                    listener: plan.key.to_string(),
                    message: format!(
                        "{} and {existing} both want port {}",
                        plan.key,
                        plan.key.addr.port()
                    ),
                });
            }
            if plan.limits.buffer_bytes < MIN_BUFFER_FOR_TLS_DETECTION {
                tracing::warn!(
                    listener = %plan.key,
                    buffer_bytes = plan.limits.buffer_bytes,
                    "bufferBytesPerConnection is below {MIN_BUFFER_FOR_TLS_DETECTION}: a ClientHello may not fit, so mesh mTLS can be taken for plaintext (refused under STRICT, passed through under PERMISSIVE)"
                );
            }
            listeners.entry(plan.key).or_insert(plan);
            Ok(())
        };
        for l in config.listeners(&local) {
            let captured = l.capture != CaptureMode::None;
            match (l.direction, l.port, captured) {
                (Direction::Inbound, Some(port), false) => {
                    let ip = bind_ip(l.bind.as_ref(), any, &l.source)?;
                    add(ListenerPlan {
                        key: ListenerKey {
                            addr: SocketAddr::new(ip, port),
                            role: ListenerRole::Inbound(port),
                        },
                        limits: ListenerLimits::of(Some(&l)),
                        spec: Some(l),
                    })?;
                }
                (Direction::Outbound, Some(port), false) => {
                    let ip = bind_ip(l.bind.as_ref(), loopback, &l.source)?;
                    add(ListenerPlan {
                        key: ListenerKey {
                            addr: SocketAddr::new(ip, port),
                            role: ListenerRole::Outbound(port),
                        },
                        limits: ListenerLimits::of(Some(&l)),
                        spec: Some(l),
                    })?;
                }
                (Direction::Outbound, None, false) => {
                    tracing::warn!(listener = %l.source, "an egress listener without a port needs capture; captureMode NONE ignored");
                    catch_all = Some(l);
                }
                (Direction::Inbound, None, _) => {}
                (Direction::Inbound, Some(port), true) => {
                    captured_inbound.insert(port, l);
                }
                (Direction::Outbound, Some(port), true) => {
                    captured_outbound.insert(port, l);
                }
                (Direction::Outbound, None, true) => catch_all = Some(l),
            }
        }
        let defaults = config.proxy.as_ref().and_then(|p| p.spec.listeners);
        // The capture listeners serve many ports: the proxy-wide defaults.
        let capture_limits = || {
            let mut limits = ListenerLimits::of(None);
            if let Some(d) = defaults {
                if let Some(n) = d.max_connections {
                    limits.max_connections = n;
                }
                if let Some(b) = d.buffer_bytes_per_connection {
                    limits.buffer_bytes = b.max(2);
                }
                if let Some(t) = d.detection_timeout {
                    limits.detection_timeout = t.get();
                }
            }
            limits
        };
        if !captured_inbound.is_empty() {
            add(ListenerPlan {
                key: ListenerKey {
                    addr: SocketAddr::new(any, in_capture),
                    role: ListenerRole::InboundCapture,
                },
                spec: None,
                limits: capture_limits(),
            })?;
        }
        if !captured_outbound.is_empty() || catch_all.is_some() {
            add(ListenerPlan {
                key: ListenerKey {
                    addr: SocketAddr::new(any, out_capture),
                    role: ListenerRole::OutboundCapture,
                },
                spec: None,
                limits: capture_limits(),
            })?;
        }
        let clusters = build_clusters(&config, &local, env, previous)?;
        let passthrough = match previous {
            Some(p) => Arc::clone(&p.passthrough),
            None => UpstreamCluster::passthrough(env)?,
        };
        let outbound_mode = config.outbound_mode(&local);
        Ok(Snapshot {
            generation,
            config: Arc::new(config),
            local,
            local_peer,
            listeners,
            captured_inbound,
            captured_outbound,
            catch_all,
            clusters,
            passthrough,
            outbound_mode,
        })
    }

    /// The listener spec serving `key`.
    pub fn listener(&self, key: &ListenerKey) -> Option<&ListenerPlan> {
        self.listeners.get(key)
    }

    /// The cluster of `host:port` (and subset).
    pub fn cluster(&self, key: &ClusterKey) -> Option<&Arc<UpstreamCluster>> {
        self.clusters.get(key)
    }

    /// The trust domain of the local workload.
    pub fn trust_domain(&self) -> &str {
        self.local
            .trust_domain
            .as_deref()
            .unwrap_or("cluster.local")
    }
}

fn build_clusters(
    config: &EffectiveConfig,
    local: &Workload,
    env: &ClusterEnv,
    previous: Option<&Snapshot>,
) -> Result<BTreeMap<ClusterKey, Arc<UpstreamCluster>>, ProxyError> {
    let mut out = BTreeMap::new();
    for (host, service) in &config.registry {
        if host.starts_with('*') {
            continue;
        }
        let subsets: Vec<Option<String>> = std::iter::once(None)
            .chain(
                config
                    .destination_rule_for(host, Some(local))
                    .into_iter()
                    .flat_map(|dr| dr.spec.subsets.iter().map(|s| Some(s.name.clone()))),
            )
            .collect();
        for port in &service.ports {
            for subset in &subsets {
                let Some(spec) = config.cluster(host, port.number, subset.as_deref(), Some(local))
                else {
                    continue;
                };
                let key = ClusterKey::new(host.clone(), port.number, subset.as_deref());
                let cluster = match previous.and_then(|p| p.clusters.get(&key)) {
                    Some(old) => old.refreshed(spec, env)?,
                    None => UpstreamCluster::build(spec, env)?,
                };
                out.insert(key, cluster);
            }
        }
    }
    Ok(out)
}
