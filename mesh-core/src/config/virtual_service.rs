//! Istio `VirtualService` (`networking.istio.io`): routes for hosts.
//!
//! TCP and TLS routes are used by the connection-level proxy now; HTTP
//! routes are parsed and validated so a config with them loads, and are
//! used by the request-level proxy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::Labels;
use super::values::{Duration, FractionalPercent, Host, IpBlock, Port};

/// The `spec` of a `VirtualService`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VirtualServiceSpec {
    /// Hosts the routes apply to (required); short names are relative to
    /// the namespace.
    pub hosts: Vec<Host>,
    /// Gateways the routes apply to (`mesh` means sidecars; absent too).
    #[serde(default)]
    pub gateways: Vec<String>,
    /// HTTP routes, in order.
    #[serde(default)]
    pub http: Vec<HttpRoute>,
    /// TLS routes (by SNI), in order.
    #[serde(default)]
    pub tls: Vec<TlsRoute>,
    /// TCP routes, in order.
    #[serde(default)]
    pub tcp: Vec<TcpRoute>,
    /// Namespaces the routes are visible to (accepted; one view in meshkit).
    #[serde(default)]
    pub export_to: Vec<String>,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Destination {
    /// The service host (short names are relative to the namespace).
    pub host: Host,
    /// A subset of the host's `DestinationRule`.
    #[serde(default)]
    pub subset: Option<String>,
    /// The service port, needed when the service has several.
    #[serde(default)]
    pub port: Option<PortSelector>,
}

/// `port: {number: N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PortSelector {
    /// The port number.
    pub number: Port,
}

/// A destination with a weight.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RouteDestination {
    /// Where to send.
    pub destination: Destination,
    /// Share of the traffic, 0–100; the weights of a route's destinations
    /// sum to 100 when there are several.
    #[serde(default)]
    pub weight: Option<u32>,
}

/// `tcp[]`: an L4 route.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TcpRoute {
    /// Conditions, any of which selects this route; none means always.
    #[serde(rename = "match", default)]
    pub matches: Vec<L4Match>,
    /// Destinations with weights.
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

/// `tls[]`: a route by SNI for TLS the application originates.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TlsRoute {
    /// Conditions, any of which selects this route (required).
    #[serde(rename = "match")]
    pub matches: Vec<TlsMatch>,
    /// Destinations with weights.
    #[serde(default)]
    pub route: Vec<RouteDestination>,
}

/// Match attributes of a TCP route.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct L4Match {
    /// Destination IP blocks.
    #[serde(default)]
    pub destination_subnets: Vec<IpBlock>,
    /// The service port the connection was made to.
    #[serde(default)]
    pub port: Option<Port>,
    /// Labels the source workload must carry.
    #[serde(default)]
    pub source_labels: Labels,
    /// The source workload's namespace.
    #[serde(default)]
    pub source_namespace: Option<String>,
    /// Gateways (accepted; meshkit is a sidecar).
    #[serde(default)]
    pub gateways: Vec<String>,
}

/// Match attributes of a TLS route.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TlsMatch {
    /// SNI names (wildcards allowed), required.
    pub sni_hosts: Vec<Host>,
    /// Destination IP blocks.
    #[serde(default)]
    pub destination_subnets: Vec<IpBlock>,
    /// The service port.
    #[serde(default)]
    pub port: Option<Port>,
    /// Labels the source workload must carry.
    #[serde(default)]
    pub source_labels: Labels,
    /// The source workload's namespace.
    #[serde(default)]
    pub source_namespace: Option<String>,
    /// Gateways (accepted; meshkit is a sidecar).
    #[serde(default)]
    pub gateways: Vec<String>,
}

/// `http[]`: an HTTP route.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HttpRoute {
    /// A name for logs.
    #[serde(default)]
    pub name: Option<String>,
    /// Conditions, any of which selects this route; none means always.
    #[serde(rename = "match", default)]
    pub matches: Vec<HttpMatch>,
    /// Destinations with weights.
    #[serde(default)]
    pub route: Vec<RouteDestination>,
    /// Request timeout (`0s` disables it).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Retry policy.
    #[serde(default)]
    pub retries: Option<HttpRetry>,
    /// Path and authority rewrite.
    #[serde(default)]
    pub rewrite: Option<HttpRewrite>,
    /// A redirect instead of a route.
    #[serde(default)]
    pub redirect: Option<HttpRedirect>,
    /// A fixed response instead of a route.
    #[serde(default)]
    pub direct_response: Option<DirectResponse>,
    /// Header manipulation.
    #[serde(default)]
    pub headers: Option<Headers>,
    /// Fault injection.
    #[serde(default)]
    pub fault: Option<HttpFault>,
    /// A mirror destination.
    #[serde(default)]
    pub mirror: Option<Destination>,
    /// The share of requests mirrored.
    #[serde(default)]
    pub mirror_percentage: Option<PercentValue>,
}

/// `{value: 12.5}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PercentValue {
    /// The percentage.
    pub value: FractionalPercent,
}

/// Conditions of an HTTP route; all set fields must match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HttpMatch {
    /// A name for logs.
    #[serde(default)]
    pub name: Option<String>,
    /// The path.
    #[serde(default)]
    pub uri: Option<StringMatch>,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Option<StringMatch>,
    /// The method.
    #[serde(default)]
    pub method: Option<StringMatch>,
    /// The authority (`Host`).
    #[serde(default)]
    pub authority: Option<StringMatch>,
    /// Request headers, by lower-case name.
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
    /// Headers that must be absent (or not match).
    #[serde(default)]
    pub without_headers: BTreeMap<String, StringMatch>,
    /// Query parameters.
    #[serde(default)]
    pub query_params: BTreeMap<String, StringMatch>,
    /// Compare the URI case-insensitively.
    #[serde(default)]
    pub ignore_uri_case: bool,
    /// The service port.
    #[serde(default)]
    pub port: Option<Port>,
    /// Labels the source workload must carry.
    #[serde(default)]
    pub source_labels: Labels,
    /// The source workload's namespace.
    #[serde(default)]
    pub source_namespace: Option<String>,
    /// Gateways (accepted; meshkit is a sidecar).
    #[serde(default)]
    pub gateways: Vec<String>,
}

/// One of `exact`, `prefix` or `regex` (validation requires exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct StringMatch {
    /// Equal to.
    #[serde(default)]
    pub exact: Option<String>,
    /// Starts with.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Matches the RE2 expression, anchored.
    #[serde(default)]
    pub regex: Option<String>,
}

/// `retries`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HttpRetry {
    /// Attempts after the first.
    #[serde(default)]
    pub attempts: u32,
    /// Timeout of each attempt.
    #[serde(default)]
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated conditions (`5xx,connect-failure,reset`, gRPC status
    /// names).
    #[serde(default)]
    pub retry_on: Option<String>,
    /// Retry on other localities.
    #[serde(default)]
    pub retry_remote_localities: Option<bool>,
}

/// `rewrite`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct HttpRewrite {
    /// Replaces the matched path prefix (or the whole path).
    #[serde(default)]
    pub uri: Option<String>,
    /// Replaces the authority.
    #[serde(default)]
    pub authority: Option<String>,
}

/// `redirect`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HttpRedirect {
    /// The new path.
    #[serde(default)]
    pub uri: Option<String>,
    /// The new authority.
    #[serde(default)]
    pub authority: Option<String>,
    /// The new port.
    #[serde(default)]
    pub port: Option<Port>,
    /// The new scheme.
    #[serde(default)]
    pub scheme: Option<String>,
    /// The status, 301 by default.
    #[serde(default)]
    pub redirect_code: Option<u16>,
}

/// `directResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DirectResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    #[serde(default)]
    pub body: Option<ResponseBody>,
}

/// A direct response's body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ResponseBody {
    /// Text.
    #[serde(default)]
    pub string: Option<String>,
    /// Base64 bytes.
    #[serde(default)]
    pub bytes: Option<String>,
}

/// `headers`: request and response manipulation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Headers {
    /// For the request to the upstream.
    #[serde(default)]
    pub request: Option<HeaderOperations>,
    /// For the response to the client.
    #[serde(default)]
    pub response: Option<HeaderOperations>,
}

/// Header operations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct HeaderOperations {
    /// Overwrite.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Append.
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    /// Remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `fault`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct HttpFault {
    /// Delay injection.
    #[serde(default)]
    pub delay: Option<FaultDelay>,
    /// Abort injection.
    #[serde(default)]
    pub abort: Option<FaultAbort>,
}

/// `fault.delay`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FaultDelay {
    /// The delay.
    #[serde(default)]
    pub fixed_delay: Option<Duration>,
    /// The share of requests delayed.
    #[serde(default)]
    pub percentage: Option<PercentValue>,
}

/// `fault.abort`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FaultAbort {
    /// The HTTP status to answer.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The gRPC status to answer.
    #[serde(default)]
    pub grpc_status: Option<String>,
    /// The share of requests aborted.
    #[serde(default)]
    pub percentage: Option<PercentValue>,
}
