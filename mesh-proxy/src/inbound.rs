//! Inbound connections: to the workload, from other sidecars (mesh mTLS)
//! or from anywhere else (plaintext, or the application's own TLS).
//!
//! The PeerAuthentication mode of the workload port decides what is
//! accepted ([`classify`]): `STRICT` only mesh mTLS, `PERMISSIVE` mesh
//! mTLS (told apart by its `istio*` ALPN in the ClientHello), plaintext,
//! and the application's own TLS passed through untouched, `DISABLE`
//! everything untouched. Mesh mTLS is terminated and the client's SPIFFE
//! identity checked against the trust domain; then AuthorizationPolicy
//! decides on the connection (principal, namespace, addresses, port), and
//! the bytes go to the application.

use std::net::SocketAddr;
use std::sync::Arc;

use mesh_core::config::sidecar::Endpoint;
use mesh_core::config::{AuthzReason, ConnectionInfo, Listener, MtlsMode};
use mesh_core::port_name::PortMode;
use mesh_core::telemetry::{Reporter, ResponseFlags, SecurityPolicy, Service};
use mesh_core::{Connect, PeekedStream, Protocol, Target};
use mesh_tls::hello::{self, Status};
use mesh_tls::istio::{OutboundSni, is_mesh_hello};
use tokio::net::TcpStream;

use crate::capture::original_dst;
use crate::conn::Report;
use crate::metrics::{peer_labels, principal_labels};
use crate::proxy::{RunningListener, Shared};
use crate::snapshot::{ListenerRole, Snapshot};

/// What an inbound port does with a connection, from the mTLS mode and the
/// first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundAction {
    /// Mesh mTLS: terminate it, check the peer, authorize.
    Terminate,
    /// Plaintext or the application's own TLS: pass the bytes through.
    PassThrough,
    /// Not allowed on this port (plaintext under STRICT).
    Refuse,
}

/// What the first bytes were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBytes {
    /// A ClientHello offering a mesh ALPN (`istio`, `istio-*`).
    MeshTls,
    /// A ClientHello without a mesh ALPN: the application's own TLS.
    OtherTls,
    /// Anything else (or nothing before the detection deadline).
    Plaintext,
}

/// The decision table of an inbound port.
///
/// | mode | mesh TLS | other TLS | plaintext |
/// | --- | --- | --- | --- |
/// | STRICT | terminate | terminate (no client certificate: refused in the handshake) | refuse |
/// | PERMISSIVE | terminate | pass through | pass through |
/// | DISABLE | pass through | pass through | pass through |
pub fn classify(mode: MtlsMode, first: FirstBytes) -> InboundAction {
    match (mode, first) {
        (MtlsMode::Disable, _) => InboundAction::PassThrough,
        (MtlsMode::Strict, FirstBytes::Plaintext) => InboundAction::Refuse,
        (MtlsMode::Strict, _) => InboundAction::Terminate,
        (_, FirstBytes::MeshTls) => InboundAction::Terminate,
        (_, _) => InboundAction::PassThrough,
    }
}

fn first_bytes(protocol: Protocol, prefix: &[u8]) -> FirstBytes {
    if protocol != Protocol::Tls {
        return FirstBytes::Plaintext;
    }
    match hello::parse(prefix, &hello::Limits::default()) {
        Ok(Status::Complete(h, _)) if is_mesh_hello(&h) => FirstBytes::MeshTls,
        _ => FirstBytes::OtherTls,
    }
}

/// The service a connection to the local workload's `port` is for: from
/// the SNI a mesh client sent, else the Kubernetes Service selecting the
/// workload with that target port.
fn destination_service(snapshot: &Snapshot, port: u16, sni: Option<&str>) -> Service {
    let config = &snapshot.config;
    let host = sni
        .and_then(OutboundSni::parse)
        .map(|s| s.host.to_owned())
        .or_else(|| {
            config
                .services
                .values()
                .filter(|s| s.namespace() == snapshot.local.namespace)
                .filter(|s| {
                    !s.spec.selector.is_empty()
                        && s.spec
                            .selector
                            .iter()
                            .all(|(k, v)| snapshot.local.labels.get(k) == Some(v))
                })
                .find(|s| {
                    s.spec.ports.iter().any(|p| match &p.target_port {
                        None => p.port.get() == port,
                        Some(mesh_core::config::kube_service::TargetPort::Number(n)) => {
                            n.get() == port
                        }
                        Some(_) => false,
                    })
                })
                .map(|s| config.fqdn(s.name(), s.namespace()))
        });
    match host {
        Some(host) => {
            let info = config.registry.get(&host);
            Service {
                name: Arc::from(host.split('.').next().unwrap_or(&host)),
                namespace: Arc::from(
                    info.map_or(snapshot.local.namespace.as_str(), |s| s.namespace.as_str()),
                ),
                host: Arc::from(host.as_str()),
            }
        }
        None => Service::default(),
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
    report.labels.reporter = Reporter::Destination;
    report.labels.destination = snapshot.local_peer.clone();
    report.entry.downstream_remote_address = Some(peer);
    let (port, local, spec): (u16, SocketAddr, Option<&Listener>) = match listener.key.role {
        ListenerRole::InboundCapture => match original_dst(&stream) {
            Ok(orig) => (
                orig.port(),
                orig,
                snapshot.captured_inbound.get(&orig.port()),
            ),
            Err(e) => {
                tracing::warn!(listener = %listener.name, error = %e, "no original destination");
                shared
                    .metrics
                    .refuse(&listener.name, "no_original_destination");
                return report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
            }
        },
        ListenerRole::Inbound(port) => (
            port,
            stream.local_addr().unwrap_or(listener.local_addr),
            snapshot
                .listener(&listener.key)
                .and_then(|p| p.spec.as_ref()),
        ),
        _ => return,
    };
    report.entry.downstream_local_address = Some(local);
    report.entry.upstream_cluster = Some(format!("inbound|{port}||"));
    report.labels.destination_service = destination_service(&snapshot, port, None);
    if !listener.admit() {
        shared.metrics.refuse(&listener.name, "rate_limited");
        return report.refused(shared, ResponseFlags::RATE_LIMITED);
    }
    let mode = snapshot.config.mtls_mode(&snapshot.local, port).mode;
    let port_mode = spec.map_or(PortMode::Detect, |l| l.mode);
    let detect = mode != MtlsMode::Disable || port_mode == PortMode::Detect;
    let (stream, protocol) = if detect {
        let detector = shared.detector.with_config(limits.detect_config());
        match detector.detect(stream).await {
            Ok((s, outcome)) => {
                shared.metrics.detection.record(&outcome);
                (s, outcome.protocol)
            }
            Err(e) => {
                tracing::debug!(error = %e, "inbound read failed during detection");
                return report.refused(shared, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION);
            }
        }
    } else {
        (
            PeekedStream::new(stream, bytes::Bytes::new()),
            Protocol::Tcp,
        )
    };
    let first = first_bytes(protocol, stream.prefix());
    let action = classify(mode, first);
    let upstream_addr = match spec.and_then(|l| l.default_endpoint.clone()) {
        Some(e) => e,
        None => Endpoint::Socket(SocketAddr::from(([127, 0, 0, 1], port))),
    };
    match action {
        InboundAction::Refuse => {
            tracing::debug!(listener = %listener.name, %peer, "plaintext refused: the port is STRICT");
            shared
                .metrics
                .refuse(&listener.name, "plaintext_under_strict");
            report.labels.connection_security_policy = SecurityPolicy::None;
            report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
        }
        InboundAction::PassThrough => {
            report.labels.connection_security_policy = SecurityPolicy::None;
            let info = ConnectionInfo::new(port)
                .source_ip(peer.ip())
                .destination_ip(local.ip());
            if !authorize(shared, &snapshot, listener, &info, &mut report) {
                return;
            }
            forward(shared, &limits, report, stream, upstream_addr, listener).await;
        }
        InboundAction::Terminate => {
            let Some(acceptor) = &shared.acceptor else {
                shared.metrics.refuse(&listener.name, "no_certificates");
                tracing::warn!(listener = %listener.name, "mesh mTLS arrived but this proxy has no certificates");
                return report.refused(shared, ResponseFlags::NO_ROUTE_FOUND);
            };
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::info!(listener = %listener.name, %peer, error = %e, "mTLS handshake refused");
                    shared
                        .metrics
                        .refuse(&listener.name, "mtls_handshake_failed");
                    report.entry.connection_termination_details = Some(e.to_string());
                    return report.refused(shared, ResponseFlags::NONE);
                }
            };
            let principal = tls.peer_identity().as_str().to_owned();
            let sni = tls.peer().server_name.clone();
            report.labels.connection_security_policy = SecurityPolicy::MutualTls;
            report.labels.source = match snapshot.config.workload_for_principal(&principal) {
                Some(w) => peer_labels(&w),
                None => principal_labels(&principal),
            };
            report.labels.destination_service =
                destination_service(&snapshot, port, sni.as_deref());
            report.entry.requested_server_name = sni.clone();
            let mut info = ConnectionInfo::new(port)
                .principal(&principal)
                .source_ip(peer.ip())
                .destination_ip(local.ip());
            if let Some(s) = sni.as_deref() {
                info = info.sni(s);
            }
            if !authorize(shared, &snapshot, listener, &info, &mut report) {
                return;
            }
            forward(shared, &limits, report, tls, upstream_addr, listener).await;
        }
    }
}

/// Applies AuthorizationPolicy; on a denial reports and returns `false`.
fn authorize(
    shared: &Shared,
    snapshot: &Snapshot,
    listener: &RunningListener,
    info: &ConnectionInfo<'_>,
    report: &mut Report,
) -> bool {
    let decision = snapshot.config.authorize(&snapshot.local, info);
    if decision.allowed {
        return true;
    }
    let policy = decision.policy.clone().unwrap_or_default();
    tracing::info!(
        listener = %listener.name,
        principal = info.principal.unwrap_or("-"),
        source = ?info.source_ip,
        reason = ?decision.reason,
        %policy,
        "connection denied by AuthorizationPolicy"
    );
    shared.metrics.refuse(&listener.name, "authz_denied");
    let details = match decision.reason {
        AuthzReason::DenyMatched => format!("rbac_access_denied_matched_policy[{policy}]"),
        _ => "rbac_access_denied_matched_policy[none]".to_owned(),
    };
    let mut r = std::mem::replace(report, Report::new());
    r.entry.connection_termination_details = Some(details);
    r.refused(shared, ResponseFlags::UNAUTHORIZED_EXTERNAL_SERVICE);
    false
}

async fn forward<D>(
    shared: &Arc<Shared>,
    limits: &crate::snapshot::ListenerLimits,
    mut report: Report,
    downstream: D,
    endpoint: Endpoint,
    listener: &RunningListener,
) where
    D: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let copy = limits.copy_config();
    match endpoint {
        Endpoint::Socket(addr) => {
            report.entry.upstream_host = Some(addr);
            match shared.inbound_tcp.connect(&Target::new(addr)).await {
                Ok(upstream) => {
                    report.entry.upstream_local_address = upstream.local_addr().ok();
                    report.proxy(shared, downstream, upstream, &copy).await;
                }
                Err(e) => {
                    tracing::info!(listener = %listener.name, %addr, error = %e, "the application refused the connection");
                    report.refused(shared, ResponseFlags::UPSTREAM_CONNECTION_FAILURE);
                }
            }
        }
        Endpoint::Unix(path) => match tokio::net::UnixStream::connect(&path).await {
            Ok(upstream) => {
                report.proxy(shared, downstream, upstream, &copy).await;
            }
            Err(e) => {
                tracing::info!(listener = %listener.name, %path, error = %e, "the application refused the connection");
                report.refused(shared, ResponseFlags::UPSTREAM_CONNECTION_FAILURE);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table() {
        use FirstBytes::*;
        use InboundAction::*;
        let table = [
            (MtlsMode::Strict, MeshTls, Terminate),
            (MtlsMode::Strict, OtherTls, Terminate),
            (MtlsMode::Strict, Plaintext, Refuse),
            (MtlsMode::Permissive, MeshTls, Terminate),
            (MtlsMode::Permissive, OtherTls, PassThrough),
            (MtlsMode::Permissive, Plaintext, PassThrough),
            (MtlsMode::Disable, MeshTls, PassThrough),
            (MtlsMode::Disable, OtherTls, PassThrough),
            (MtlsMode::Disable, Plaintext, PassThrough),
            (MtlsMode::Unset, MeshTls, Terminate),
            (MtlsMode::Unset, Plaintext, PassThrough),
        ];
        for (mode, first, want) in table {
            assert_eq!(classify(mode, first), want, "{mode:?} {first:?}");
        }
    }

    #[test]
    fn first_bytes_tell_mesh_from_app_tls() {
        assert_eq!(
            first_bytes(Protocol::Http1, b"GET / HTTP/1.1\r\n"),
            FirstBytes::Plaintext
        );
        // A truncated hello that the detector nonetheless called TLS is the
        // application's (never terminated by guesswork).
        assert_eq!(
            first_bytes(Protocol::Tls, &[22, 3, 1]),
            FirstBytes::OtherTls
        );
    }
}
