//! Istio `DestinationRule` (`networking.istio.io`): subsets of a host's
//! endpoints and the traffic policy for connecting to them.

use serde::{Deserialize, Serialize};

use super::meta::{Labels, WorkloadSelector};
use super::values::{Duration, FractionalPercent, Host, Percent, Redacted};

/// The `spec` of a `DestinationRule`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DestinationRuleSpec {
    /// The service host (required); short names are relative to the
    /// namespace; wildcards allowed.
    pub host: Host,
    /// The policy for every subset and port, unless overridden.
    #[serde(default)]
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named groups of endpoints, by labels.
    #[serde(default)]
    pub subsets: Vec<Subset>,
    /// Namespaces the rule is visible to (accepted; one view in meshkit).
    #[serde(default)]
    pub export_to: Vec<String>,
    /// The workloads (clients) the rule applies to.
    #[serde(default)]
    pub workload_selector: Option<WorkloadSelector>,
}

/// A named subset.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Subset {
    /// The name that routes refer to (required, unique in the rule).
    pub name: String,
    /// Labels the endpoints must carry.
    #[serde(default)]
    pub labels: Labels,
    /// Overrides of the rule's policy for this subset.
    #[serde(default)]
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `trafficPolicy`; every field is optional and a more specific level
/// (subset, then port) overrides a whole field.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TrafficPolicy {
    /// Load balancing.
    #[serde(default)]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection and request limits.
    #[serde(default)]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    #[serde(default)]
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS to the upstream.
    #[serde(default)]
    pub tls: Option<ClientTlsSettings>,
    /// Budget of retries relative to active requests.
    #[serde(default)]
    pub retry_budget: Option<RetryBudget>,
    /// Per-port overrides (not allowed inside a port-level setting).
    #[serde(default)]
    pub port_level_settings: Vec<PortTrafficPolicy>,
}

/// `portLevelSettings[]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortTrafficPolicy {
    /// The service port these settings are for.
    pub port: super::virtual_service::PortSelector,
    /// Load balancing.
    #[serde(default)]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection and request limits.
    #[serde(default)]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    #[serde(default)]
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS to the upstream.
    #[serde(default)]
    pub tls: Option<ClientTlsSettings>,
}

/// `loadBalancer`: `simple` or `consistentHash`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LoadBalancerSettings {
    /// A simple algorithm.
    #[serde(default)]
    pub simple: Option<SimpleLb>,
    /// Hash-based affinity.
    #[serde(default)]
    pub consistent_hash: Option<ConsistentHash>,
    /// Slow start for new endpoints.
    #[serde(default)]
    pub warmup_duration_secs: Option<Duration>,
}

/// `loadBalancer.simple`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// The proxy's default (least request).
    Unspecified,
    /// Deprecated name of `LEAST_REQUEST`.
    LeastConn,
    /// Uniformly random.
    Random,
    /// To the original destination address.
    Passthrough,
    /// In turn.
    RoundRobin,
    /// Power of two choices by active requests.
    LeastRequest,
}

/// `loadBalancer.consistentHash`: one hash key and one ring algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConsistentHash {
    /// Hash a request header.
    #[serde(default)]
    pub http_header_name: Option<String>,
    /// Hash a cookie.
    #[serde(default)]
    pub http_cookie: Option<HttpCookie>,
    /// Hash the source IP (the only key usable for plain TCP).
    #[serde(default)]
    pub use_source_ip: Option<bool>,
    /// Hash a query parameter.
    #[serde(default)]
    pub http_query_parameter_name: Option<String>,
    /// Ketama ring.
    #[serde(default)]
    pub ring_hash: Option<RingHash>,
    /// Maglev table.
    #[serde(default)]
    pub maglev: Option<Maglev>,
    /// Deprecated: the ring size of the default ring hash.
    #[serde(default)]
    pub minimum_ring_size: Option<u64>,
}

/// `consistentHash.httpCookie`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct HttpCookie {
    /// The cookie name.
    pub name: String,
    /// The cookie path.
    #[serde(default)]
    pub path: Option<String>,
    /// The lifetime of a generated cookie.
    #[serde(default)]
    pub ttl: Option<Duration>,
}

/// `consistentHash.ringHash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RingHash {
    /// Minimum number of virtual nodes on the ring.
    #[serde(default)]
    pub minimum_ring_size: Option<u64>,
}

/// `consistentHash.maglev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Maglev {
    /// The lookup table size, a prime.
    #[serde(default)]
    pub table_size: Option<u64>,
}

/// `connectionPool`. As in Istio (proto3), a 0 limit means unset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ConnectionPoolSettings {
    /// TCP-level limits.
    #[serde(default)]
    pub tcp: Option<TcpSettings>,
    /// HTTP-level limits.
    #[serde(default)]
    pub http: Option<HttpSettings>,
}

/// `connectionPool.tcp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TcpSettings {
    /// Maximum connections to the host (all endpoints together).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Timeout of a TCP connect (at least 1ms).
    #[serde(default)]
    pub connect_timeout: Option<Duration>,
    /// Keepalive probes.
    #[serde(default)]
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum lifetime of a connection.
    #[serde(default)]
    pub max_connection_duration: Option<Duration>,
    /// Idle time after which a TCP connection is closed.
    #[serde(default)]
    pub idle_timeout: Option<Duration>,
}

/// `connectionPool.tcp.tcpKeepalive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TcpKeepalive {
    /// Unanswered probes before the connection is dead.
    #[serde(default)]
    pub probes: Option<u32>,
    /// Idle time before the first probe.
    #[serde(default)]
    pub time: Option<Duration>,
    /// Time between probes.
    #[serde(default)]
    pub interval: Option<Duration>,
}

/// `connectionPool.http`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HttpSettings {
    /// Requests waiting for a connection.
    #[serde(default)]
    pub http1_max_pending_requests: Option<u32>,
    /// Active requests to the host.
    #[serde(default)]
    pub http2_max_requests: Option<u32>,
    /// Requests per connection before it is closed (1 disables keep-alive).
    #[serde(default)]
    pub max_requests_per_connection: Option<u32>,
    /// Outstanding retries to the host.
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Idle time after which an upstream connection is closed.
    #[serde(default)]
    pub idle_timeout: Option<Duration>,
    /// `DEFAULT`, `DO_NOT_UPGRADE` or `UPGRADE` to HTTP/2.
    #[serde(default)]
    pub h2_upgrade_policy: Option<String>,
    /// Speak the client's protocol to the upstream.
    #[serde(default)]
    pub use_client_protocol: Option<bool>,
    /// Concurrent streams per HTTP/2 connection.
    #[serde(default)]
    pub max_concurrent_streams: Option<u32>,
}

/// `outlierDetection`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OutlierDetection {
    /// Treat local-origin failures (connect errors) apart from 5xx.
    #[serde(default)]
    pub split_external_local_origin_errors: Option<bool>,
    /// Consecutive local-origin failures before ejection.
    #[serde(default)]
    pub consecutive_local_origin_failures: Option<u32>,
    /// Consecutive 502/503/504 (or connect failures for TCP) before ejection.
    #[serde(default)]
    pub consecutive_gateway_errors: Option<u32>,
    /// Consecutive 5xx (or connect failures for TCP) before ejection.
    #[serde(rename = "consecutive5xxErrors", default)]
    pub consecutive_5xx_errors: Option<u32>,
    /// Time between ejection sweeps (at least 1ms).
    #[serde(default)]
    pub interval: Option<Duration>,
    /// Minimum ejection time, multiplied by the ejection count.
    #[serde(default)]
    pub base_ejection_time: Option<Duration>,
    /// The share of endpoints that may be ejected.
    #[serde(default)]
    pub max_ejection_percent: Option<Percent>,
    /// Below this share of healthy endpoints, ejection stops.
    #[serde(default)]
    pub min_health_percent: Option<Percent>,
}

/// `tls`: TLS from this proxy to the upstream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClientTlsSettings {
    /// The mode (required).
    pub mode: TlsMode,
    /// Client certificate path (`MUTUAL`).
    #[serde(default)]
    pub client_certificate: Option<String>,
    /// Private key path (`MUTUAL`); redacted in dumps.
    #[serde(default)]
    pub private_key: Option<Redacted<String>>,
    /// CA bundle path.
    #[serde(default)]
    pub ca_certificates: Option<String>,
    /// A Kubernetes secret with the credentials.
    #[serde(default)]
    pub credential_name: Option<String>,
    /// Accepted identities of the server.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// The SNI to send.
    #[serde(default)]
    pub sni: Option<String>,
    /// Skip server verification (discouraged).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

/// `tls.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TlsMode {
    /// Plaintext.
    #[default]
    Disable,
    /// TLS, server verified.
    Simple,
    /// mTLS with the configured certificates.
    Mutual,
    /// mTLS with the mesh's workload certificate.
    IstioMutual,
}

/// `retryBudget`: retries allowed as a share of active requests.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RetryBudget {
    /// The share of active requests that may be retries.
    #[serde(default)]
    pub percent: Option<FractionalPercent>,
    /// Retries always allowed regardless of the share.
    #[serde(default)]
    pub min_retry_concurrency: Option<u32>,
}

/// The effective policy for one host, subset and port, merged as Istio
/// does: the rule's fields; then the rule's `portLevelSettings` entry for
/// the port, which replaces all four of its fields (omitted ones fall back
/// to defaults, they are not inherited); then the subset's fields; then the
/// subset's port-level entry, replacing likewise.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EffectivePolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection and request limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// TLS to the upstream.
    pub tls: Option<ClientTlsSettings>,
    /// Retry budget.
    pub retry_budget: Option<RetryBudget>,
}

impl EffectivePolicy {
    /// Applies `policy` (and its port-level entry for `port`) over `self`.
    pub(crate) fn apply(&mut self, policy: &TrafficPolicy, port: Option<u16>) {
        override_with(&mut self.load_balancer, &policy.load_balancer);
        override_with(&mut self.connection_pool, &policy.connection_pool);
        override_with(&mut self.outlier_detection, &policy.outlier_detection);
        override_with(&mut self.tls, &policy.tls);
        override_with(&mut self.retry_budget, &policy.retry_budget);
        let level = port.and_then(|port| {
            policy
                .port_level_settings
                .iter()
                .find(|p| p.port.number.get() == port)
        });
        if let Some(level) = level {
            self.load_balancer.clone_from(&level.load_balancer);
            self.connection_pool.clone_from(&level.connection_pool);
            self.outlier_detection.clone_from(&level.outlier_detection);
            self.tls.clone_from(&level.tls);
        }
    }
}

fn override_with<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        slot.clone_from(value);
    }
}
