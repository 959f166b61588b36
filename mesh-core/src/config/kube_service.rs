//! Kubernetes `Service` (`v1`): a name, ports whose names declare their
//! protocol, and a selector for the workloads behind it.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::meta::Labels;
use super::values::{Ignored, Port};

/// The `spec` of a Kubernetes `Service`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubeServiceSpec {
    /// The ports.
    #[serde(default)]
    pub ports: Vec<KubeServicePort>,
    /// Labels of the workloads behind the service.
    #[serde(default)]
    pub selector: Labels,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer`, `ExternalName`.
    #[serde(default, rename = "type")]
    pub service_type: Option<String>,
    /// The virtual IP (`None` for headless).
    #[serde(default, rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// The virtual IPs, one per family.
    #[serde(default, rename = "clusterIPs")]
    pub cluster_ips: Vec<String>,
    /// The DNS name for `ExternalName` services.
    #[serde(default)]
    pub external_name: Option<String>,
    #[serde(default, skip_serializing)]
    session_affinity: Ignored,
    #[serde(default, skip_serializing)]
    session_affinity_config: Ignored,
    #[serde(default, skip_serializing)]
    ip_families: Ignored,
    #[serde(default, skip_serializing)]
    ip_family_policy: Ignored,
    #[serde(default, skip_serializing)]
    internal_traffic_policy: Ignored,
    #[serde(default, skip_serializing)]
    external_traffic_policy: Ignored,
    #[serde(default, skip_serializing)]
    publish_not_ready_addresses: Ignored,
    #[serde(default, skip_serializing)]
    load_balancer_ip: Ignored,
    #[serde(default, skip_serializing)]
    load_balancer_source_ranges: Ignored,
    #[serde(default, skip_serializing)]
    load_balancer_class: Ignored,
    #[serde(default, skip_serializing)]
    allocate_load_balancer_node_ports: Ignored,
    #[serde(default, skip_serializing)]
    health_check_node_port: Ignored,
    #[serde(default, skip_serializing)]
    traffic_distribution: Ignored,
    #[serde(default, skip_serializing, rename = "externalIPs")]
    external_ips: Ignored,
}

/// A port of a Kubernetes `Service`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubeServicePort {
    /// The name; by Istio's convention it declares the protocol
    /// (`http-web`, `grpc`, `redis`). Required when there are several ports.
    #[serde(default)]
    pub name: Option<String>,
    /// The service port.
    pub port: Port,
    /// The port on the workloads: a number or the name of a container port.
    #[serde(default)]
    pub target_port: Option<TargetPort>,
    /// The transport: `TCP` (default), `UDP` or `SCTP`; only TCP is proxied.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The application protocol (`http`, `kubernetes.io/h2c`), which wins
    /// over the name.
    #[serde(default)]
    pub app_protocol: Option<String>,
    /// The node port, for `NodePort` services.
    #[serde(default)]
    pub node_port: Option<Port>,
}

/// `targetPort`: a number, or the name of a port on the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    /// A port number.
    Number(Port),
    /// A named container port.
    Name(String),
}

impl Serialize for TargetPort {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TargetPort::Number(p) => s.serialize_u16(p.get()),
            TargetPort::Name(n) => s.serialize_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for TargetPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TargetPort;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a port name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TargetPort, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TargetPort, E> {
                super::values::check_port(v)
                    .map(TargetPort::Number)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TargetPort, E> {
                let ok = !v.is_empty()
                    && v.len() <= 15
                    && v.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && v.bytes().any(|b| b.is_ascii_lowercase());
                if ok {
                    Ok(TargetPort::Name(v.to_owned()))
                } else {
                    Err(E::custom(format!(
                        "targetPort {v:?} is not a port name (1-15 lower-case letters, digits and '-')"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}
