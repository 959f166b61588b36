//! The proxy's metrics: Istio's TCP families, protocol detection, the
//! certificate's remaining lifetime, listener and reload counters; and the
//! Istio labels of a workload.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use mesh_core::config::Workload;
use mesh_core::telemetry::{DetectionMetrics, IstioMetrics, Peer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels1 = [(&'static str, String); 1];
type Labels2 = [(&'static str, String); 2];

/// Every metric the proxy records, on a registry the proxy owns (encode it
/// with [`ProxyMetrics::encode`]).
#[derive(Debug)]
pub struct ProxyMetrics {
    registry: Registry,
    /// `istio_tcp_*` and `istio_requests_*`.
    pub istio: IstioMetrics,
    /// `meshkit_protocol_detection_*`.
    pub detection: DetectionMetrics,
    /// `meshkit_certificate_expiry_seconds`: time left on the workload
    /// certificate (0 once expired), refreshed at every scrape.
    pub cert_expiry: Gauge<f64, AtomicU64>,
    /// `meshkit_connections_refused_total{listener, reason}`: connections
    /// closed before any byte reached an upstream.
    pub refused: Family<Labels2, Counter>,
    /// `meshkit_listener_connections_active{listener}`.
    pub active: Family<Labels1, Gauge>,
    /// `meshkit_config_reloads_total{result}`: `success` or `failure`.
    pub reloads: Family<Labels1, Counter>,
    /// `meshkit_config_generation`: bumped by every applied configuration.
    pub generation: Gauge,
    /// `meshkit_access_log_dropped_total`: lines dropped because the writer
    /// fell behind.
    pub access_log_dropped: Counter,
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        ProxyMetrics::new()
    }
}

impl ProxyMetrics {
    /// A fresh registry with every family registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let istio = IstioMetrics::register(&mut registry);
        let detection = DetectionMetrics::register(&mut registry);
        let m = ProxyMetrics {
            istio,
            detection,
            cert_expiry: Gauge::default(),
            refused: Family::default(),
            active: Family::default(),
            reloads: Family::default(),
            generation: Gauge::default(),
            access_log_dropped: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "meshkit_certificate_expiry_seconds",
            "Seconds until the workload certificate expires",
            m.cert_expiry.clone(),
        );
        registry.register(
            "meshkit_connections_refused",
            "Connections closed by the proxy before reaching an upstream, by listener and reason",
            m.refused.clone(),
        );
        registry.register(
            "meshkit_listener_connections_active",
            "Connections open on a listener",
            m.active.clone(),
        );
        registry.register(
            "meshkit_config_reloads",
            "Configuration reloads by result",
            m.reloads.clone(),
        );
        registry.register(
            "meshkit_config_generation",
            "Generation of the configuration in force",
            m.generation.clone(),
        );
        registry.register(
            "meshkit_access_log_dropped",
            "Access log lines dropped because the writer fell behind",
            m.access_log_dropped.clone(),
        );
        ProxyMetrics { registry, ..m }
    }

    /// Counts a refused connection.
    pub fn refuse(&self, listener: &str, reason: &'static str) {
        self.refused
            .get_or_create(&[
                ("listener", listener.to_owned()),
                ("reason", reason.to_owned()),
            ])
            .inc();
    }

    /// The Prometheus text exposition of every family.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn label(w: &Workload, keys: &[&str]) -> Option<Arc<str>> {
    keys.iter()
        .find_map(|k| w.labels.get(*k))
        .map(|v| Arc::from(v.as_str()))
}

/// The Istio labels of a workload: name, namespace, principal, `app`,
/// `version`, canonical service and revision (Istio's label keys first,
/// then `app`/`version`), as `source_*` or `destination_*` take them.
pub fn peer_labels(w: &Workload) -> Peer {
    let mut peer = Peer::default();
    if let Some(name) = &w.name {
        peer.workload = Arc::from(name.as_str());
    }
    peer.namespace = Arc::from(w.namespace.as_str());
    if let Some(p) = w.principal() {
        peer.principal = Arc::from(format!("spiffe://{p}"));
    }
    if let Some(app) = label(w, &["app", "app.kubernetes.io/name"]) {
        peer.app = app;
    }
    if let Some(v) = label(w, &["version", "app.kubernetes.io/version"]) {
        peer.version = v;
    }
    if let Some(cs) = label(
        w,
        &[
            "service.istio.io/canonical-name",
            "app",
            "app.kubernetes.io/name",
        ],
    ) {
        peer.canonical_service = cs;
    } else if let Some(name) = &w.name {
        peer.canonical_service = Arc::from(name.as_str());
    }
    if let Some(rev) = label(w, &["service.istio.io/canonical-revision", "version"]) {
        peer.canonical_revision = rev;
    }
    peer
}

/// The labels of a peer known only by its SPIFFE id (no workload in the
/// configuration has its service account): namespace and principal.
pub fn principal_labels(principal: &str) -> Peer {
    let mut peer = Peer {
        principal: Arc::from(principal),
        ..Peer::default()
    };
    if let Some(id) = mesh_core::IstioPrincipal::parse(principal) {
        peer.namespace = Arc::from(id.namespace);
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_a_workload() {
        let mut w = Workload::new(
            "shop",
            [("app", "reviews"), ("version", "v2")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        w.name = Some("reviews-v2".into());
        w.service_account = Some("reviews".into());
        let p = peer_labels(&w);
        assert_eq!(&*p.workload, "reviews-v2");
        assert_eq!(&*p.principal, "spiffe://cluster.local/ns/shop/sa/reviews");
        assert_eq!(&*p.app, "reviews");
        assert_eq!(&*p.version, "v2");
        assert_eq!(&*p.canonical_service, "reviews");
        assert_eq!(&*p.canonical_revision, "v2");
        let q = principal_labels("spiffe://td/ns/x/sa/y");
        assert_eq!(&*q.namespace, "x");
        assert_eq!(&*q.workload, "unknown");
    }

    #[test]
    fn families_are_exposed() {
        let m = ProxyMetrics::new();
        m.refuse("inbound|9080", "plaintext_under_strict");
        m.cert_expiry.set(12.5);
        let text = m.encode();
        assert!(text.contains(
            "meshkit_connections_refused_total{listener=\"inbound|9080\",reason=\"plaintext_under_strict\"} 1"
        ), "{text}");
        assert!(
            text.contains("meshkit_certificate_expiry_seconds 12.5"),
            "{text}"
        );
    }
}
