//! meshkit's own kinds, in the API group [`GROUP`], for what Istio has no
//! kind for (Istio sets these through mesh config, pod annotations or
//! `EnvoyFilter` patches):
//!
//! - `SidecarProxy`: this proxy's identity, admin address, certificate
//!   paths, listener limits and per-port detection deadlines;
//! - `LocalRateLimit`: Envoy's local rate limit (a token bucket) per
//!   listener;
//! - `CircuitBreaker`: the consecutive-failure breaker for a destination.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::meta::{Labels, WorkloadSelector};
use super::values::{Duration, Host, Port, Redacted};

/// The API group of meshkit's kinds (`apiVersion: meshkit.dev/v1alpha1`).
pub const GROUP: &str = "meshkit.dev";

/// The `spec` of a `SidecarProxy`: settings of this sidecar process.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SidecarProxySpec {
    /// Who this workload is.
    #[serde(default)]
    pub identity: Option<Identity>,
    /// The admin server.
    #[serde(default)]
    pub admin: Option<Admin>,
    /// Where the workload certificate, key and roots are.
    #[serde(default)]
    pub certificates: Option<Certificates>,
    /// Limits and deadlines for every listener.
    #[serde(default)]
    pub listeners: Option<ListenerLimits>,
    /// Overrides of the listener limits per port.
    #[serde(default)]
    pub ports: Vec<PortSettings>,
    /// Mesh-wide settings.
    #[serde(default)]
    pub mesh: Option<MeshSettings>,
}

/// `identity`: what the SPIFFE ID and the workload labels say.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Identity {
    /// The trust domain (`cluster.local`).
    #[serde(default)]
    pub trust_domain: Option<String>,
    /// The namespace; the resource's namespace when absent.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The service account.
    pub service_account: String,
    /// The workload name (`reviews-v1`), for metric labels.
    #[serde(default)]
    pub workload_name: Option<String>,
    /// The workload's labels: what selectors of Sidecar, PeerAuthentication
    /// and AuthorizationPolicy match.
    #[serde(default)]
    pub labels: Labels,
}

/// `admin`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Admin {
    /// The listen address; loopback by default ([`DEFAULT_ADMIN_ADDRESS`]).
    #[serde(default)]
    pub address: Option<SocketAddr>,
}

/// The admin address when none is configured: loopback only, so the admin
/// endpoints (`/quitquitquit`, `/logging`) are never reachable from outside.
pub const DEFAULT_ADMIN_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 15000);

/// `certificates`: PEM file paths.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Certificates {
    /// The workload certificate chain.
    pub cert_chain: String,
    /// The private key; redacted in dumps.
    pub private_key: Redacted<String>,
    /// The trust roots.
    pub root_cert: String,
}

/// `listeners` (and the defaults of `ports[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListenerLimits {
    /// Open connections per listener; more wait in the accept queue.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Bytes buffered per connection (both directions together).
    #[serde(default)]
    pub buffer_bytes_per_connection: Option<u32>,
    /// How long protocol detection waits for the client's first bytes
    /// before falling back to TCP.
    #[serde(default)]
    pub detection_timeout: Option<Duration>,
}

/// `ports[]`: limits for one listener port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortSettings {
    /// The listener port.
    pub port: Port,
    /// Open connections on this listener.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Bytes buffered per connection.
    #[serde(default)]
    pub buffer_bytes_per_connection: Option<u32>,
    /// The detection deadline on this port.
    #[serde(default)]
    pub detection_timeout: Option<Duration>,
}

/// `mesh`: what Istio's mesh config holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MeshSettings {
    /// The namespace whose policies apply mesh-wide (`istio-system`).
    #[serde(default)]
    pub root_namespace: Option<String>,
    /// The Kubernetes cluster domain (`cluster.local`), for service hosts.
    #[serde(default)]
    pub cluster_domain: Option<String>,
    /// The port of the outbound capture listener, where iptables redirects
    /// the workload's outgoing connections (Istio's `proxyListenPort`,
    /// 15001).
    #[serde(default)]
    pub proxy_listen_port: Option<Port>,
    /// The port of the inbound capture listener, where iptables redirects
    /// connections to the workload (Istio's `proxyInboundListenPort`,
    /// 15006).
    #[serde(default)]
    pub proxy_inbound_listen_port: Option<Port>,
    /// Where the access log goes: a file path, `/dev/stdout`, or empty
    /// for none (Istio's `accessLogFile`; off by default, as in Istio).
    #[serde(default)]
    pub access_log_file: Option<String>,
    /// The access log's format (Istio's `accessLogEncoding`).
    #[serde(default)]
    pub access_log_encoding: Option<AccessLogEncoding>,
}

/// Istio's default outbound capture port (`proxyListenPort`).
pub const DEFAULT_PROXY_LISTEN_PORT: u16 = 15001;
/// Istio's default inbound capture port (`proxyInboundListenPort`).
pub const DEFAULT_PROXY_INBOUND_LISTEN_PORT: u16 = 15006;

/// `accessLogEncoding`: one line per connection as text or as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLogEncoding {
    /// Istio's default text format.
    #[default]
    Text,
    /// Istio's JSON format: one object per line with the same fields.
    Json,
}

/// The `spec` of a `LocalRateLimit`: a token bucket per listener, in the
/// shape of Envoy's local rate limit filter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LocalRateLimitSpec {
    /// The workloads; absent means every workload of the namespace.
    #[serde(default)]
    pub workload_selector: Option<WorkloadSelector>,
    /// Listener ports it applies to; empty means all of the direction.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Inbound (default) or outbound listeners.
    #[serde(default)]
    pub direction: Direction,
    /// The bucket.
    pub token_bucket: TokenBucket,
}

/// Which listeners a setting is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// Listeners for traffic to the workload.
    #[default]
    Inbound,
    /// Listeners for traffic from the workload.
    Outbound,
}

/// Envoy's `token_bucket`: `max_tokens` capacity, `tokens_per_fill` added
/// every `fill_interval` (at least 50ms, as Envoy requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TokenBucket {
    /// Capacity; a full bucket allows this many connections at once.
    pub max_tokens: u32,
    /// Tokens added per interval (default 1).
    #[serde(default)]
    pub tokens_per_fill: Option<u32>,
    /// The refill interval.
    pub fill_interval: Duration,
}

/// The `spec` of a `CircuitBreaker`: open after consecutive failures to a
/// destination, refuse for a while, then let trial requests through.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CircuitBreakerSpec {
    /// The destination host (short names are relative to the namespace).
    pub host: Host,
    /// One service port; absent means all.
    #[serde(default)]
    pub port: Option<Port>,
    /// Consecutive failures that open the breaker.
    pub consecutive_failures: u32,
    /// How long it stays open before trial requests.
    pub open_duration: Duration,
    /// Trial requests allowed while half-open (default 1).
    #[serde(default)]
    pub half_open_requests: Option<u32>,
}
