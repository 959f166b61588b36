//! The Istio metric families.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{ConnectionLabels, RequestLabels};

/// Istio's default buckets for `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Istio's default buckets for `istio_request_bytes` and `istio_response_bytes`.
pub const BYTE_BUCKETS: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS_MS)
}

fn byte_histogram() -> Histogram {
    Histogram::new(BYTE_BUCKETS)
}

/// The eight standard Istio families, registered on an embedder's registry.
///
/// Cloning is cheap and shares the counters.
#[derive(Debug, Clone)]
pub struct IstioMetrics {
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily,
    request_bytes: HistogramFamily,
    response_bytes: HistogramFamily,
    tcp_opened: Family<ConnectionLabels, Counter>,
    tcp_closed: Family<ConnectionLabels, Counter>,
    tcp_sent: Family<ConnectionLabels, Counter>,
    tcp_received: Family<ConnectionLabels, Counter>,
}

impl IstioMetrics {
    /// Registers the families on `registry` and returns handles to them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = IstioMetrics {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(duration_histogram),
            request_bytes: Family::new_with_constructor(byte_histogram),
            response_bytes: Family::new_with_constructor(byte_histogram),
            tcp_opened: Family::default(),
            tcp_closed: Family::default(),
            tcp_sent: Family::default(),
            tcp_received: Family::default(),
        };
        // prometheus-client appends `_total` to counters.
        registry.register(
            "istio_requests",
            "Requests handled by the proxy",
            m.requests.clone(),
        );
        registry.register(
            "istio_request_duration_milliseconds",
            "Duration of requests in milliseconds",
            m.request_duration.clone(),
        );
        registry.register(
            "istio_request_bytes",
            "Size of request bodies in bytes",
            m.request_bytes.clone(),
        );
        registry.register(
            "istio_response_bytes",
            "Size of response bodies in bytes",
            m.response_bytes.clone(),
        );
        registry.register(
            "istio_tcp_connections_opened",
            "TCP connections opened",
            m.tcp_opened.clone(),
        );
        registry.register(
            "istio_tcp_connections_closed",
            "TCP connections closed",
            m.tcp_closed.clone(),
        );
        registry.register(
            "istio_tcp_sent_bytes",
            "Bytes sent to the downstream during a TCP connection (the response direction)",
            m.tcp_sent.clone(),
        );
        registry.register(
            "istio_tcp_received_bytes",
            "Bytes received from the downstream during a TCP connection (the request direction)",
            m.tcp_received.clone(),
        );
        m
    }

    /// Records one finished request.
    pub fn record_request(
        &self,
        labels: &RequestLabels,
        duration: Duration,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        self.requests.get_or_create(labels).inc();
        self.request_duration
            .get_or_create(labels)
            .observe(duration.as_secs_f64() * 1000.0);
        self.request_bytes
            .get_or_create(labels)
            .observe(request_bytes as f64);
        self.response_bytes
            .get_or_create(labels)
            .observe(response_bytes as f64);
    }

    /// Counts an opened TCP connection.
    pub fn tcp_opened(&self, labels: &ConnectionLabels) {
        self.tcp_opened.get_or_create(labels).inc();
    }

    /// Adds bytes moved on a TCP connection: `sent` to the downstream,
    /// `received` from it. Call as bytes move or once at the end.
    pub fn tcp_bytes(&self, labels: &ConnectionLabels, sent: u64, received: u64) {
        if sent > 0 {
            self.tcp_sent.get_or_create(labels).inc_by(sent);
        }
        if received > 0 {
            self.tcp_received.get_or_create(labels).inc_by(received);
        }
    }

    /// The byte counters of one TCP connection's labels, `(sent,
    /// received)`: handles to the same counters [`tcp_bytes`](Self::tcp_bytes)
    /// adds to, so a proxy can count bytes as they move (one atomic add per
    /// read) without looking the labels up each time.
    pub fn tcp_byte_counters(&self, labels: &ConnectionLabels) -> (Counter, Counter) {
        (
            self.tcp_sent.get_or_create(labels).clone(),
            self.tcp_received.get_or_create(labels).clone(),
        )
    }

    /// Counts a closed TCP connection.
    pub fn tcp_closed(&self, labels: &ConnectionLabels) {
        self.tcp_closed.get_or_create(labels).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;
    use crate::telemetry::{Peer, Reporter, ResponseFlags, SecurityPolicy};
    use std::sync::Arc;

    fn encode(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    fn labels() -> ConnectionLabels {
        ConnectionLabels {
            reporter: Reporter::Destination,
            source: Peer {
                workload: Arc::from("sleep"),
                namespace: Arc::from("default"),
                principal: Arc::from("spiffe://cluster.local/ns/default/sa/sleep"),
                ..Peer::default()
            },
            connection_security_policy: SecurityPolicy::MutualTls,
            response_flags: ResponseFlags::UPSTREAM_CONNECTION_FAILURE,
            ..ConnectionLabels::default()
        }
    }

    #[test]
    fn tcp_families_count_with_istio_labels() {
        let mut registry = Registry::default();
        let m = IstioMetrics::register(&mut registry);
        let l = labels();
        m.tcp_opened(&l);
        m.tcp_bytes(&l, 100, 23);
        m.tcp_bytes(&l, 1, 0);
        m.tcp_closed(&l);
        let text = encode(&registry);
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l.contains('{'))
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
                .to_owned()
        };
        assert!(line("istio_tcp_sent_bytes_total").ends_with(" 101"));
        assert!(line("istio_tcp_received_bytes_total").ends_with(" 23"));
        assert!(line("istio_tcp_connections_opened_total").ends_with(" 1"));
        let closed = line("istio_tcp_connections_closed_total");
        for want in [
            "reporter=\"destination\"",
            "source_workload=\"sleep\"",
            "source_principal=\"spiffe://cluster.local/ns/default/sa/sleep\"",
            "destination_workload=\"unknown\"",
            "destination_service=\"unknown\"",
            "request_protocol=\"tcp\"",
            "response_flags=\"UF\"",
            "connection_security_policy=\"mutual_tls\"",
            "source_canonical_revision=\"latest\"",
        ] {
            assert!(closed.contains(want), "{want} not in {closed}");
        }
    }

    #[test]
    fn byte_counter_handles_share_the_family() {
        let mut registry = Registry::default();
        let m = IstioMetrics::register(&mut registry);
        let l = labels();
        let (sent, received) = m.tcp_byte_counters(&l);
        sent.inc_by(7);
        received.inc_by(3);
        m.tcp_bytes(&l, 1, 1);
        let text = encode(&registry);
        assert!(
            text.lines()
                .any(|x| x.starts_with("istio_tcp_sent_bytes_total{") && x.ends_with(" 8")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|x| x.starts_with("istio_tcp_received_bytes_total{") && x.ends_with(" 4")),
            "{text}"
        );
    }

    #[test]
    fn request_families() {
        let mut registry = Registry::default();
        let m = IstioMetrics::register(&mut registry);
        let mut conn = labels();
        conn.request_protocol = Some(Protocol::Grpc);
        conn.response_flags = ResponseFlags::NONE;
        let l = RequestLabels {
            connection: conn,
            response_code: 200,
            grpc_response_status: Some(14),
        };
        m.record_request(&l, Duration::from_millis(30), 5, 2_000);
        m.record_request(&l, Duration::from_millis(3), 5, 20);
        let text = encode(&registry);
        let total = text
            .lines()
            .find(|l| l.starts_with("istio_requests_total{"))
            .unwrap();
        assert!(total.ends_with(" 2"), "{total}");
        assert!(total.contains("response_code=\"200\""));
        assert!(total.contains("grpc_response_status=\"14\""));
        assert!(total.contains("request_protocol=\"grpc\""));
        assert!(total.contains("response_flags=\"-\""));
        let bucket_50 = text
            .lines()
            .find(|l| {
                l.starts_with("istio_request_duration_milliseconds_bucket{")
                    && l.contains("le=\"50.0\"")
            })
            .unwrap();
        assert!(bucket_50.ends_with(" 2"), "{bucket_50}");
        let bucket_5 = text
            .lines()
            .find(|l| {
                l.starts_with("istio_request_duration_milliseconds_bucket{")
                    && l.contains("le=\"5.0\"")
            })
            .unwrap();
        assert!(bucket_5.ends_with(" 1"), "{bucket_5}");
        assert!(text.contains("istio_response_bytes_sum{"));
    }

    #[test]
    fn registries_are_independent() {
        let mut a = Registry::default();
        let mut b = Registry::default();
        let ma = IstioMetrics::register(&mut a);
        let _mb = IstioMetrics::register(&mut b);
        ma.tcp_opened(&labels());
        assert!(encode(&a).contains("istio_tcp_connections_opened_total{"));
        assert!(!encode(&b).contains("istio_tcp_connections_opened_total{"));
    }
}
