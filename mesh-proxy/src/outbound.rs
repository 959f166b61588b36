//! Outbound connections: from the workload to a service.
//!
//! The destination service comes from the listener (an explicit egress
//! port: the one service its `hosts` cover on that port) or from the
//! original destination of a captured connection (a service whose
//! address is that IP and port, or whose endpoint it is). Unknown
//! destinations pass through under `ALLOW_ANY` and are refused under
//! `REGISTRY_ONLY`. The VirtualService `tcp` route then picks a
//! destination (weights drawn at random), whose cluster connects: mesh
//! mTLS with Istio's SNI and ALPN to mesh endpoints, plain TCP otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use mesh_core::config::registry::ServiceInfo;
use mesh_core::config::sidecar::{OutboundMode, SidecarHost};
use mesh_core::config::values::IpBlock;
use mesh_core::config::{Listener, RouteQuery};
use mesh_core::port_name::PortMode;
use mesh_core::telemetry::{Reporter, ResponseFlags, Service};
use mesh_core::{PeekedStream, Protocol};
use tokio::net::TcpStream;

use crate::capture::original_dst;
use crate::conn::Report;
use crate::proxy::{RunningListener, Shared};
use crate::snapshot::{ListenerRole, Snapshot};
use crate::upstream::{ClusterKey, ConnectContext, UpstreamCluster};

/// Where an outbound connection goes, before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A service of the registry: fully qualified host and service port.
    Service {
        /// The host.
        host: String,
        /// The service port.
        port: u16,
    },
    /// Not a known service: to the original destination (`ALLOW_ANY`).
    Passthrough(SocketAddr),
    /// Refused (`REGISTRY_ONLY`, or nothing to route to), with why.
    BlackHole(String),
}

fn covered(hosts: &[SidecarHost], own_namespace: &str, service: &ServiceInfo) -> bool {
    hosts
        .iter()
        .any(|h| h.covers(own_namespace, &service.namespace, &service.host))
}

/// The destination of a connection to an explicit egress listener: among
/// the services its `hosts` cover, the one with the listener's port; else
/// the only covered service, when it has a single port.
pub fn destination_for_listener(snapshot: &Snapshot, listener: &Listener) -> Destination {
    let Some(port) = listener.port else {
        return Destination::BlackHole("an egress listener without a port".into());
    };
    let ns = snapshot.local.namespace.as_str();
    let covered: Vec<&ServiceInfo> = snapshot
        .config
        .registry
        .values()
        .filter(|s| !s.host.starts_with('*') && covered(&listener.hosts, ns, s))
        .collect();
    let on_port: Vec<&&ServiceInfo> = covered.iter().filter(|s| s.port(port).is_some()).collect();
    match (on_port.as_slice(), covered.as_slice()) {
        ([one], _) => Destination::Service {
            host: one.host.clone(),
            port,
        },
        ([], [only]) if only.ports.len() == 1 => Destination::Service {
            host: only.host.clone(),
            port: only.ports[0].number,
        },
        ([], _) => Destination::BlackHole(format!(
            "no service covered by {} has port {port}",
            listener.source
        )),
        (many, _) => Destination::BlackHole(format!(
            "{} services covered by {} have port {port}; name one host per egress port",
            many.len(),
            listener.source
        )),
    }
}

/// The destination of a captured connection to `orig`, for a listener whose
/// `hosts` are `hosts`.
pub fn destination_for_original(
    snapshot: &Snapshot,
    orig: SocketAddr,
    hosts: &[SidecarHost],
) -> Destination {
    let ns = snapshot.local.namespace.as_str();
    let config = &snapshot.config;
    let by_vip = config.registry.values().find(|s| {
        s.port(orig.port()).is_some()
            && covered(hosts, ns, s)
            && s.addresses
                .iter()
                .filter_map(|a| IpBlock::parse(a).ok())
                .any(|b| b.contains(orig.ip()))
    });
    if let Some(s) = by_vip {
        return Destination::Service {
            host: s.host.clone(),
            port: orig.port(),
        };
    }
    let by_endpoint = snapshot.clusters.iter().find(|(k, c)| {
        k.subset.is_none()
            && c.endpoint_meta(orig).is_some()
            && config
                .registry
                .get(&k.host)
                .is_some_and(|s| covered(hosts, ns, s))
    });
    if let Some((k, _)) = by_endpoint {
        return Destination::Service {
            host: k.host.clone(),
            port: k.port,
        };
    }
    match snapshot.outbound_mode {
        OutboundMode::AllowAny => Destination::Passthrough(orig),
        OutboundMode::RegistryOnly => {
            Destination::BlackHole(format!("{orig} is not a known service (REGISTRY_ONLY)"))
        }
    }
}

/// Picks a cluster from the route of `host:port`: the VirtualService's
/// `tcp` destinations drawn by weight, or the host itself.
fn route(
    shared: &Shared,
    snapshot: &Snapshot,
    host: &str,
    port: u16,
    orig: Option<SocketAddr>,
) -> (Option<Arc<UpstreamCluster>>, ClusterKey, Option<String>) {
    let mut query = RouteQuery::new(host, port).source(&snapshot.local);
    if let Some(o) = orig {
        query = query.destination_ip(o.ip());
    }
    let route = snapshot.config.tcp_route(&query);
    let total: u64 = route.destinations.iter().map(|d| u64::from(d.weight)).sum();
    let mut draw = shared.random.below(total.max(1));
    let dest = route
        .destinations
        .iter()
        .find(|d| {
            let w = u64::from(d.weight);
            if draw < w {
                true
            } else {
                draw -= w;
                false
            }
        })
        .or(route.destinations.first());
    let name = route
        .virtual_service
        .as_ref()
        .map(|vs| format!("{vs}#{}", route.index.unwrap_or(0)));
    match dest {
        Some(d) => {
            let key = ClusterKey::new(d.host.clone(), d.port, d.subset.as_deref());
            (snapshot.cluster(&key).cloned(), key, name)
        }
        None => (None, ClusterKey::new(host, port, None), name),
    }
}

fn service_labels(snapshot: &Snapshot, host: &str) -> Service {
    let ns = snapshot
        .config
        .registry
        .get(host)
        .map_or("unknown", |s| s.namespace.as_str());
    Service {
        host: Arc::from(host),
        name: Arc::from(host.split('.').next().unwrap_or(host)),
        namespace: Arc::from(ns),
    }
}

pub(crate) async fn serve(
    shared: &Arc<Shared>,
    snapshot: Arc<Snapshot>,
    listener: &Arc<RunningListener>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let limits = listener.limits();
    let mut report = Report::new();
    report.labels.reporter = Reporter::Source;
    report.labels.source = snapshot.local_peer.clone();
    report.entry.downstream_remote_address = Some(peer);
    if !listener.admit() {
        shared.metrics.refuse(&listener.name, "rate_limited");
        return report.refused(shared, ResponseFlags::RATE_LIMITED);
    }
    let (destination, orig, spec): (Destination, Option<SocketAddr>, Option<&Listener>) =
        match listener.key.role {
            ListenerRole::Outbound(_) => {
                let spec = snapshot
                    .listener(&listener.key)
                    .and_then(|p| p.spec.as_ref());
                report.entry.downstream_local_address = stream.local_addr().ok();
                let d = spec.map_or_else(
                    || Destination::BlackHole("listener without configuration".into()),
                    |l| destination_for_listener(&snapshot, l),
                );
                (d, None, spec)
            }
            ListenerRole::OutboundCapture => {
                let orig = match original_dst(&stream) {
                    Ok(o) if o != listener.local_addr && Some(o) != stream.local_addr().ok() => o,
                    Ok(_) => {
                        shared.metrics.refuse(&listener.name, "not_redirected");
                        return report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
                    }
                    Err(e) => {
                        tracing::warn!(listener = %listener.name, error = %e, "no original destination");
                        shared
                            .metrics
                            .refuse(&listener.name, "no_original_destination");
                        return report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
                    }
                };
                report.entry.downstream_local_address = Some(orig);
                let spec = snapshot
                    .captured_outbound
                    .get(&orig.port())
                    .or(snapshot.catch_all.as_ref());
                let hosts = spec.map(|l| l.hosts.as_slice()).unwrap_or_default();
                (
                    destination_for_original(&snapshot, orig, hosts),
                    Some(orig),
                    spec,
                )
            }
            _ => return,
        };
    let (cluster, key, route_name, port_mode) = match destination {
        Destination::Service { host, port } => {
            report.labels.destination_service = service_labels(&snapshot, &host);
            let (cluster, key, name) = route(shared, &snapshot, &host, port, orig);
            let mode = spec
                .map(|l| l.mode)
                .filter(|m| *m != PortMode::Detect)
                .or_else(|| cluster.as_ref().map(|c| c.spec().mode))
                .unwrap_or(PortMode::Detect);
            (cluster, Some(key), name, mode)
        }
        Destination::Passthrough(addr) => {
            report.entry.upstream_host = Some(addr);
            (
                Some(Arc::clone(&snapshot.passthrough)),
                None,
                None,
                PortMode::Opaque,
            )
        }
        Destination::BlackHole(why) => {
            tracing::info!(listener = %listener.name, %peer, reason = %why, "outbound connection refused");
            shared.metrics.refuse(&listener.name, "no_route");
            report.entry.upstream_cluster = Some("BlackHoleCluster".into());
            report.labels.destination_service.host = Arc::from("BlackHoleCluster");
            report.labels.destination_service.name = Arc::from("BlackHoleCluster");
            return report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
        }
    };
    report.entry.route_name = route_name;
    let Some(cluster) = cluster else {
        let key = key.map(|k| k.to_string()).unwrap_or_default();
        tracing::info!(listener = %listener.name, cluster = %key, "the route names a cluster that does not exist");
        shared.metrics.refuse(&listener.name, "no_cluster");
        report.entry.upstream_cluster = Some(key);
        return report.refused(shared, ResponseFlags::NO_CLUSTER_FOUND);
    };
    report.entry.upstream_cluster = Some(cluster.name().to_owned());
    if cluster.key().host == "PassthroughCluster" {
        report.labels.destination_service.host = Arc::from("PassthroughCluster");
        report.labels.destination_service.name = Arc::from("PassthroughCluster");
    }
    let (stream, protocol) = match port_mode {
        PortMode::Declared(p) => (PeekedStream::new(stream, bytes::Bytes::new()), p.protocol()),
        PortMode::Opaque => (
            PeekedStream::new(stream, bytes::Bytes::new()),
            Protocol::Tcp,
        ),
        PortMode::Detect => {
            let detector = shared.detector.with_config(limits.detect_config());
            match detector.detect(stream).await {
                Ok((s, outcome)) => {
                    shared.metrics.detection.record(&outcome);
                    (s, outcome.protocol)
                }
                Err(_) => {
                    return report
                        .refused(shared, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION);
                }
            }
        }
    };
    let ctx = ConnectContext {
        protocol: Some(protocol),
        source: Some(peer),
        original_dst: orig,
    };
    match cluster.connect(&ctx).await {
        Ok(connected) => {
            report.entry.upstream_host = Some(connected.endpoint);
            report.labels.destination = connected.meta.peer.clone();
            let _permit = connected.permit;
            report
                .proxy(shared, stream, connected.io, &limits.copy_config())
                .await;
        }
        Err(failure) => {
            tracing::info!(listener = %listener.name, cluster = %failure.cluster, flags = %failure.flags, reason = %failure.reason, "upstream connection failed");
            report.entry.upstream_host = failure.upstream.or(report.entry.upstream_host);
            report.entry.upstream_transport_failure_reason = failure.transport_failure.clone();
            report.refused(shared, failure.flags);
        }
    }
}
