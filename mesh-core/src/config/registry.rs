//! The service registry: every service host with its ports and workload
//! instances, from `ServiceEntry`, `WorkloadEntry` and Kubernetes `Service`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Serialize, Serializer};

use super::kube_service::TargetPort;
use super::meta::{Labels, labels_match};
use super::resource::Kind;
use super::service_entry::{MeshLocation, Resolution, WorkloadEntrySpec};
use crate::port_name::{PortMode, UndeclaredPort, default_opaque_ports, resolve_port};

/// A service known to the mesh, under one host name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceInfo {
    /// The fully qualified host (`reviews.bookinfo.svc.cluster.local`).
    pub host: String,
    /// The namespace of the defining resource.
    pub namespace: String,
    /// The defining kind (`ServiceEntry` or `Service`).
    pub kind: Kind,
    /// The defining resource's name.
    pub name: String,
    /// The ports, with what a listener does on each.
    pub ports: Vec<ServicePortInfo>,
    /// Virtual IPs or CIDR blocks.
    pub addresses: Vec<String>,
    /// How endpoints are found; Kubernetes services are `STATIC` over the
    /// selected workloads.
    pub resolution: Resolution,
    /// Outside the mesh: no mesh mTLS to it.
    pub mesh_external: bool,
    /// The workload instances behind the service.
    pub instances: Vec<WorkloadInstance>,
}

impl ServiceInfo {
    /// The port with this number.
    pub fn port(&self, number: u16) -> Option<&ServicePortInfo> {
        self.ports.iter().find(|p| p.number == number)
    }
}

/// A port of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServicePortInfo {
    /// The service port.
    pub number: u16,
    /// The port's name.
    pub name: Option<String>,
    /// Declared protocol, detection, or opaque TCP
    /// ([`crate::port_name::resolve_port`] over the name and the declared
    /// protocol or `appProtocol`).
    #[serde(serialize_with = "serialize_mode")]
    pub mode: PortMode,
    /// Where the port lands on the workloads.
    pub target: PortTarget,
}

/// Where a service port lands on a workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PortTarget {
    /// The same number.
    Same,
    /// Another number.
    Number(u16),
    /// A named port of the workload (`WorkloadEntry.ports`).
    Name(String),
}

/// One workload instance (a `WorkloadEntry`, or an inline `ServiceEntry`
/// endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WorkloadInstance {
    /// The `WorkloadEntry` name, or `<serviceentry>/endpoints[i]`.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its address, when it has one.
    pub address: Option<EndpointAddress>,
    /// Port numbers by service-port name.
    pub ports: BTreeMap<String, u16>,
    /// Labels.
    pub labels: Labels,
    /// Service account.
    pub service_account: Option<String>,
    /// Load-balancing weight (at least 1).
    pub weight: u32,
}

/// The address of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EndpointAddress {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name, resolved (and re-resolved) by the proxy.
    Dns(String),
    /// A Unix domain socket path.
    Unix(String),
}

impl EndpointAddress {
    pub(crate) fn parse(text: &str) -> Self {
        if let Some(path) = text.strip_prefix("unix://") {
            EndpointAddress::Unix(path.to_owned())
        } else if let Ok(ip) = text.parse() {
            EndpointAddress::Ip(ip)
        } else {
            EndpointAddress::Dns(text.to_ascii_lowercase())
        }
    }
}

impl std::fmt::Display for EndpointAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointAddress::Ip(ip) => ip.fmt(f),
            EndpointAddress::Dns(name) => f.write_str(name),
            EndpointAddress::Unix(path) => write!(f, "unix://{path}"),
        }
    }
}

impl Serialize for EndpointAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub(crate) fn serialize_mode<S: Serializer>(mode: &PortMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(mode_name(*mode))
}

pub(crate) fn mode_name(mode: PortMode) -> &'static str {
    match mode {
        PortMode::Declared(p) => p.as_str(),
        PortMode::Detect => "detect",
        PortMode::Opaque => "opaque",
    }
}

/// The mode of a port from its number, name and declared protocol; an
/// invalid declaration (UDP) is refused by validation, so here it falls
/// back to detection.
pub(crate) fn port_mode(number: u16, name: Option<&str>, protocol: Option<&str>) -> PortMode {
    resolve_port(
        number,
        name,
        protocol,
        UndeclaredPort::Detect,
        &default_opaque_ports(),
    )
    .unwrap_or(PortMode::Detect)
}

pub(crate) fn instance_from_entry(
    name: String,
    namespace: &str,
    spec: &WorkloadEntrySpec,
) -> WorkloadInstance {
    WorkloadInstance {
        name,
        namespace: namespace.to_owned(),
        address: spec.address.as_deref().map(EndpointAddress::parse),
        ports: spec
            .ports
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect(),
        labels: spec.labels.clone(),
        service_account: spec.service_account.clone(),
        weight: spec.weight.filter(|w| *w > 0).unwrap_or(1),
    }
}

pub(crate) fn location_external(location: Option<MeshLocation>) -> bool {
    matches!(location, Some(MeshLocation::MeshExternal))
}

pub(crate) fn k8s_target(target: &Option<TargetPort>) -> PortTarget {
    match target {
        None => PortTarget::Same,
        Some(TargetPort::Number(p)) => PortTarget::Number(p.get()),
        Some(TargetPort::Name(n)) => PortTarget::Name(n.clone()),
    }
}

/// Instances among `entries` (name, namespace, spec) in `namespace` whose
/// labels carry all of `selector`; an empty selector selects nothing (a
/// Kubernetes service without selector has manually managed endpoints).
pub(crate) fn select_instances<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str, &'a WorkloadEntrySpec)>,
    namespace: &str,
    selector: &Labels,
) -> Vec<WorkloadInstance> {
    if selector.is_empty() {
        return Vec::new();
    }
    entries
        .filter(|(_, ns, spec)| *ns == namespace && labels_match(selector, &spec.labels))
        .map(|(name, ns, spec)| instance_from_entry(name.to_owned(), ns, spec))
        .collect()
}
