//! Istio `ServiceEntry` and `WorkloadEntry` (`networking.istio.io`): services
//! and workloads that are not Kubernetes pods, with their endpoints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::{Labels, WorkloadSelector};
use super::values::{Host, IpBlock, Port};

/// The `spec` of a `ServiceEntry`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceEntrySpec {
    /// Host names of the service (required).
    pub hosts: Vec<Host>,
    /// Virtual IPs or CIDR blocks of the service.
    #[serde(default)]
    pub addresses: Vec<IpBlock>,
    /// Ports of the service.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// Inside or outside the mesh (decides whether mTLS is expected).
    #[serde(default)]
    pub location: Option<MeshLocation>,
    /// How endpoints are found.
    #[serde(default)]
    pub resolution: Resolution,
    /// Endpoints listed inline.
    #[serde(default)]
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Select `WorkloadEntry` objects (same namespace) as endpoints instead.
    #[serde(default)]
    pub workload_selector: Option<WorkloadSelector>,
    /// Namespaces the entry is visible to (accepted; meshkit has one view).
    #[serde(default)]
    pub export_to: Vec<String>,
    /// Identities the endpoints may present.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
}

/// A port of a `ServiceEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServicePort {
    /// The port number of the service.
    pub number: Port,
    /// The declared protocol (`HTTP`, `TCP`, `TLS`, ...).
    #[serde(default)]
    pub protocol: Option<String>,
    /// The port's name (required, unique within the entry).
    pub name: String,
    /// The port on the endpoints, when it differs.
    #[serde(default)]
    pub target_port: Option<Port>,
}

/// `location` of a `ServiceEntry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeshLocation {
    /// Outside the mesh: no mesh mTLS.
    MeshExternal,
    /// Part of the mesh.
    MeshInternal,
}

/// `resolution` of a `ServiceEntry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Pass through to the original destination address.
    #[default]
    None,
    /// The endpoints' addresses are IPs.
    Static,
    /// Resolve the endpoints' addresses (or the hosts) by DNS, re-resolving.
    Dns,
    /// Like `DNS`, with one address used at a time.
    DnsRoundRobin,
}

/// The `spec` of a `WorkloadEntry`, also used inline as a `ServiceEntry`
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkloadEntrySpec {
    /// IP, host name (for DNS resolution) or `unix://` path.
    #[serde(default)]
    pub address: Option<String>,
    /// Port per service-port name, when it differs from the service's.
    #[serde(default)]
    pub ports: BTreeMap<String, Port>,
    /// Labels of the workload (subsets and selectors match them).
    #[serde(default)]
    pub labels: Labels,
    /// The network the endpoint is on.
    #[serde(default)]
    pub network: Option<String>,
    /// `region/zone/subzone`.
    #[serde(default)]
    pub locality: Option<String>,
    /// Load-balancing weight (0 means the default, 1).
    #[serde(default)]
    pub weight: Option<u32>,
    /// The workload's service account (its SPIFFE identity's last segment).
    #[serde(default)]
    pub service_account: Option<String>,
}
