//! Istio `Sidecar` (`networking.istio.io`): which ports this proxy listens
//! on, inbound and outbound, and which hosts it may reach.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::destination_rule::ConnectionPoolSettings;
use super::meta::WorkloadSelector;
use super::values::{Host, Ignored, Port};

/// The `spec` of a `Sidecar`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SidecarSpec {
    /// Which workloads this applies to; absent means every workload of the
    /// namespace (at most one such `Sidecar` per namespace).
    #[serde(default)]
    pub workload_selector: Option<WorkloadSelector>,
    /// Inbound listeners: traffic to the workload.
    #[serde(default)]
    pub ingress: Vec<IngressListener>,
    /// Outbound listeners: traffic from the workload.
    #[serde(default)]
    pub egress: Vec<EgressListener>,
    /// What happens to outbound traffic to hosts the config does not know.
    #[serde(default)]
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
    /// Limits for the connections from this proxy to its own workload.
    #[serde(default)]
    pub inbound_connection_pool: Option<ConnectionPoolSettings>,
}

/// A port of a `Sidecar` listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SidecarPort {
    /// The port number.
    pub number: Port,
    /// The declared protocol (`HTTP`, `TCP`, `GRPC`, ... as Istio spells
    /// it); wins over the name.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The port's name, which declares the protocol by Istio's convention
    /// (`http-web`, `redis`).
    #[serde(default)]
    pub name: Option<String>,
    /// Unused by Istio on Sidecar ports; accepted for completeness.
    #[serde(default)]
    pub target_port: Option<Port>,
}

/// How traffic reaches a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureMode {
    /// Whatever the environment does (iptables redirection in Kubernetes).
    #[default]
    Default,
    /// Redirected by iptables: the listener reads the original destination.
    Iptables,
    /// Not captured: the application connects to the listener explicitly.
    None,
}

/// `ingress[]` of a `Sidecar`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IngressListener {
    /// The port to listen on.
    pub port: SidecarPort,
    /// The address to bind; defaults to all addresses with capture and to
    /// loopback-free defaults decided by the embedder otherwise.
    #[serde(default)]
    pub bind: Option<Bind>,
    /// How traffic reaches this listener.
    #[serde(default)]
    pub capture_mode: CaptureMode,
    /// Where accepted traffic goes: the application's address
    /// (`127.0.0.1:8080`) or a Unix socket (`unix:///var/run/app.sock`).
    #[serde(default)]
    pub default_endpoint: Option<Endpoint>,
    /// Server TLS settings of the listener (parsed; meshkit terminates mesh
    /// mTLS only, so a warning says it is ignored).
    #[serde(default, skip_serializing)]
    pub tls: Option<Ignored>,
    /// Limits for connections to the application on this port.
    #[serde(default)]
    pub connection_pool: Option<ConnectionPoolSettings>,
}

/// `egress[]` of a `Sidecar`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EgressListener {
    /// The port; absent means the catch-all outbound listener.
    #[serde(default)]
    pub port: Option<SidecarPort>,
    /// The address to bind (`127.0.0.1` for an explicit listener).
    #[serde(default)]
    pub bind: Option<Bind>,
    /// How traffic reaches this listener.
    #[serde(default)]
    pub capture_mode: CaptureMode,
    /// Which services are reachable, as `namespace/host` (required).
    pub hosts: Vec<SidecarHost>,
}

/// `outboundTrafficPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OutboundTrafficPolicy {
    /// `ALLOW_ANY` (default) passes traffic to unknown hosts through;
    /// `REGISTRY_ONLY` refuses it.
    #[serde(default)]
    pub mode: OutboundMode,
}

/// `outboundTrafficPolicy.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundMode {
    /// Unknown destinations are passed through.
    #[default]
    AllowAny,
    /// Only destinations in the registry (ServiceEntry, Service) are reached.
    RegistryOnly,
}

/// A listener's bind address: an IP, or a Unix socket path (`unix://...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// An IP address.
    Ip(IpAddr),
    /// A Unix domain socket path (after `unix://`; `@name` is abstract).
    Unix(String),
}

impl Bind {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            return if path.is_empty() {
                Err("unix:// needs a path".into())
            } else {
                Ok(Bind::Unix(path.to_owned()))
            };
        }
        text.parse()
            .map(Bind::Ip)
            .map_err(|_| format!("bind {text:?} is neither an IP address nor unix://PATH"))
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bind::Ip(ip) => ip.fmt(f),
            Bind::Unix(path) => write!(f, "unix://{path}"),
        }
    }
}

impl Serialize for Bind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Bind::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// Where an ingress listener forwards: `IP:port` or `unix://PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A socket address (`127.0.0.1:8080`, `[::1]:8080`).
    Socket(SocketAddr),
    /// A Unix domain socket path.
    Unix(String),
}

impl Endpoint {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            return if path.is_empty() {
                Err("unix:// needs a path".into())
            } else {
                Ok(Endpoint::Unix(path.to_owned()))
            };
        }
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| format!("endpoint {text:?} is neither IP:PORT nor unix://PATH"))?;
        if addr.port() == 0 {
            return Err(format!("endpoint {text:?} has port 0"));
        }
        Ok(Endpoint::Socket(addr))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Socket(addr) => addr.fmt(f),
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Endpoint::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// Which namespaces a `namespace/host` entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// `*`: every namespace.
    Any,
    /// `.`: the `Sidecar`'s own namespace.
    Own,
    /// `~`: no namespace (nothing is imported).
    None,
    /// A named namespace.
    Named(String),
}

/// An egress `hosts` entry: `namespace/dnsName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarHost {
    /// The namespace part.
    pub namespace: NamespaceScope,
    /// The host part (`*`, `*.example.com` or a name).
    pub host: Host,
}

impl SidecarHost {
    /// Parses `namespace/host`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((ns, host)) = text.split_once('/') else {
            return Err(format!(
                "egress host {text:?} must be namespace/host (\"*/*\", \"./reviews\", \"prod/*.svc.cluster.local\")"
            ));
        };
        let namespace = match ns {
            "*" => NamespaceScope::Any,
            "." => NamespaceScope::Own,
            "~" => NamespaceScope::None,
            "" => return Err(format!("egress host {text:?} has an empty namespace")),
            name => NamespaceScope::Named(name.to_owned()),
        };
        let host = Host::parse(host).map_err(|e| format!("egress host {text:?}: {e}"))?;
        Ok(SidecarHost { namespace, host })
    }

    /// Whether a service `host` in `namespace` is covered, for a `Sidecar`
    /// in `own_namespace`.
    pub fn covers(&self, own_namespace: &str, namespace: &str, host: &str) -> bool {
        let ns_ok = match &self.namespace {
            NamespaceScope::Any => true,
            NamespaceScope::Own => namespace == own_namespace,
            NamespaceScope::None => false,
            NamespaceScope::Named(n) => n == namespace,
        };
        ns_ok && self.host.matches(host)
    }
}

impl fmt::Display for SidecarHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            NamespaceScope::Any => f.write_str("*")?,
            NamespaceScope::Own => f.write_str(".")?,
            NamespaceScope::None => f.write_str("~")?,
            NamespaceScope::Named(n) => f.write_str(n)?,
        }
        write!(f, "/{}", self.host)
    }
}

impl Serialize for SidecarHost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SidecarHost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SidecarHost::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}
