//! The effective configuration: every resource indexed by namespace and
//! name, the service registry, and the lookups a sidecar makes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::authorization_policy::AuthorizationPolicySpec;
use super::destination_rule::{DestinationRuleSpec, EffectivePolicy};
use super::error::Diagnostic;
use super::kube_service::KubeServiceSpec;
use super::load::LoadOptions;
use super::meshkit::{
    CircuitBreakerSpec, DEFAULT_ADMIN_ADDRESS, DEFAULT_PROXY_INBOUND_LISTEN_PORT,
    DEFAULT_PROXY_LISTEN_PORT, Direction, LocalRateLimitSpec, MeshSettings, SidecarProxySpec,
    TokenBucket,
};
use super::meta::{Labels, labels_match};
use super::peer_authentication::{MtlsMode, PeerAuthenticationSpec};
use super::registry::{
    self, EndpointAddress, PortTarget, ServiceInfo, ServicePortInfo, WorkloadInstance,
};
use super::resource::{AnyResource, Resource};
use super::service_entry::{Resolution, ServiceEntrySpec, WorkloadEntrySpec};
use super::sidecar::{Bind, CaptureMode, Endpoint, OutboundMode, SidecarHost, SidecarSpec};
use super::values::{Duration, host_matches};
use super::virtual_service::{Destination, RouteDestination, VirtualServiceSpec};
use crate::port_name::PortMode;

mod clusters;
mod identity;
mod listeners;
mod routing;

/// Resources of one kind by `namespace/name`.
pub type Index<S> = BTreeMap<String, Resource<S>>;

/// Mesh-wide settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MeshContext {
    /// Policies here apply to the whole mesh.
    pub root_namespace: String,
    /// Suffix of Kubernetes service hosts.
    pub cluster_domain: String,
}

/// A workload as policies see it: the selectors of `Sidecar`,
/// `PeerAuthentication` and `AuthorizationPolicy` match its namespace and
/// labels; metric labels come from its name and labels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Workload {
    /// The workload name (`reviews-v1`), when known.
    pub name: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The service account.
    pub service_account: Option<String>,
    /// The labels.
    pub labels: Labels,
    /// The trust domain of its identity.
    pub trust_domain: Option<String>,
}

impl Workload {
    /// A workload in `namespace` with `labels`.
    pub fn new(namespace: impl Into<String>, labels: Labels) -> Self {
        Workload {
            namespace: namespace.into(),
            labels,
            ..Workload::default()
        }
    }

    /// The SPIFFE principal as authorization policies write it
    /// (`cluster.local/ns/NS/sa/SA`), when the service account is known.
    pub fn principal(&self) -> Option<String> {
        let sa = self.service_account.as_deref()?;
        let td = self.trust_domain.as_deref().unwrap_or("cluster.local");
        Some(format!("{td}/ns/{}/sa/{sa}", self.namespace))
    }
}

/// The validated, indexed configuration.
///
/// Built by the loader ([`super::load_paths`]); every lookup is a pure
/// function of it, so a proxy can swap a new one in atomically on reload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EffectiveConfig {
    /// Mesh-wide settings.
    pub mesh: MeshContext,
    /// This sidecar's own settings, when a `SidecarProxy` is configured.
    pub proxy: Option<Resource<SidecarProxySpec>>,
    /// `Sidecar`s.
    pub sidecars: Index<SidecarSpec>,
    /// `ServiceEntry`s.
    pub service_entries: Index<ServiceEntrySpec>,
    /// `WorkloadEntry`s.
    pub workload_entries: Index<WorkloadEntrySpec>,
    /// Kubernetes `Service`s.
    pub services: Index<KubeServiceSpec>,
    /// `VirtualService`s.
    pub virtual_services: Index<VirtualServiceSpec>,
    /// `DestinationRule`s.
    pub destination_rules: Index<DestinationRuleSpec>,
    /// `PeerAuthentication`s.
    pub peer_authentications: Index<PeerAuthenticationSpec>,
    /// `AuthorizationPolicy`s.
    pub authorization_policies: Index<AuthorizationPolicySpec>,
    /// `LocalRateLimit`s.
    pub local_rate_limits: Index<LocalRateLimitSpec>,
    /// `CircuitBreaker`s.
    pub circuit_breakers: Index<CircuitBreakerSpec>,
    /// Services by fully qualified host (from ServiceEntry and Service).
    pub registry: BTreeMap<String, ServiceInfo>,
}

/// A listener this sidecar should open.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Listener {
    /// Inbound (to the workload) or outbound (from it).
    pub direction: Direction,
    /// The port; `None` for the catch-all outbound listener of captured
    /// traffic (the original destination decides).
    pub port: Option<u16>,
    /// The bind address, when configured.
    pub bind: Option<Bind>,
    /// How traffic arrives.
    pub capture: CaptureMode,
    /// Declared protocol, detection or opaque.
    #[serde(serialize_with = "registry::serialize_mode")]
    pub mode: PortMode,
    /// Inbound: where to forward.
    pub default_endpoint: Option<Endpoint>,
    /// Outbound: which hosts are reachable (`namespace/host`).
    pub hosts: Vec<SidecarHost>,
    /// Open connections allowed.
    pub max_connections: Option<u32>,
    /// Bytes buffered per connection.
    pub buffer_bytes_per_connection: Option<u32>,
    /// The detection deadline.
    pub detection_timeout: Option<Duration>,
    /// The local rate limit, when one applies.
    pub rate_limit: Option<TokenBucket>,
    /// What configured it (`Sidecar ns/name ingress[0]`, `Service ns/name`).
    pub source: String,
}

/// Where a connection goes: the destinations of the first matching route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Route {
    /// `namespace/name` of the VirtualService, `None` for the default route
    /// (the requested host and port, weight 100).
    pub virtual_service: Option<String>,
    /// The index of the route in its `tcp` or `tls` list.
    pub index: Option<usize>,
    /// Destinations with weights summing to 100 (or a single one).
    pub destinations: Vec<WeightedDestination>,
}

/// A route destination with its host made fully qualified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WeightedDestination {
    /// The fully qualified host.
    pub host: String,
    /// The subset.
    pub subset: Option<String>,
    /// The service port.
    pub port: u16,
    /// The weight, 0–100.
    pub weight: u32,
}

/// What a route lookup knows about a connection.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RouteQuery<'a> {
    /// The destination host (fully qualified or short, relative to the
    /// source's namespace).
    pub host: &'a str,
    /// The destination (service) port.
    pub port: u16,
    /// The source workload, for `sourceLabels` and `sourceNamespace`.
    pub source: Option<&'a Workload>,
    /// The original destination IP, for `destinationSubnets`.
    pub destination_ip: Option<IpAddr>,
    /// The TLS SNI, for `tls` routes.
    pub sni: Option<&'a str>,
}

impl<'a> RouteQuery<'a> {
    /// A query for `host` and `port`.
    pub fn new(host: &'a str, port: u16) -> Self {
        RouteQuery {
            host,
            port,
            ..RouteQuery::default()
        }
    }

    /// With the source workload.
    pub fn source(mut self, source: &'a Workload) -> Self {
        self.source = Some(source);
        self
    }

    /// With the original destination address.
    pub fn destination_ip(mut self, ip: IpAddr) -> Self {
        self.destination_ip = Some(ip);
        self
    }

    /// With the SNI.
    pub fn sni(mut self, sni: &'a str) -> Self {
        self.sni = Some(sni);
        self
    }
}

/// The upstream endpoints and policy for one host, port and subset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Cluster {
    /// The fully qualified host.
    pub host: String,
    /// The service port.
    pub port: u16,
    /// The subset.
    pub subset: Option<String>,
    /// What the port speaks.
    #[serde(serialize_with = "registry::serialize_mode")]
    pub mode: PortMode,
    /// How endpoints are found (`DNS`: re-resolve the addresses).
    pub resolution: Resolution,
    /// Outside the mesh: no mesh mTLS.
    pub mesh_external: bool,
    /// Endpoints (for a subset, those with its labels).
    pub endpoints: Vec<ClusterEndpoint>,
    /// The merged DestinationRule policy.
    pub policy: EffectivePolicy,
    /// The consecutive-failure breaker, when configured.
    pub circuit_breaker: Option<CircuitBreakerSpec>,
}

impl Cluster {
    /// A cluster without endpoints and with the default policy: `host:port`,
    /// opaque, resolution `NONE` (a proxy passes such traffic through to
    /// the original destination), outside the mesh. For clusters a proxy
    /// makes itself, such as Istio's `PassthroughCluster`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Cluster {
            host: host.into(),
            port,
            subset: None,
            mode: PortMode::Opaque,
            resolution: Resolution::None,
            mesh_external: true,
            endpoints: Vec::new(),
            policy: EffectivePolicy::default(),
            circuit_breaker: None,
        }
    }
}

/// One upstream endpoint of a [`Cluster`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClusterEndpoint {
    /// The address.
    pub address: EndpointAddress,
    /// The port on the endpoint.
    pub port: u16,
    /// The workload's labels.
    pub labels: Labels,
    /// The workload's namespace.
    pub namespace: String,
    /// The service account (the SPIFFE identity to expect).
    pub service_account: Option<String>,
    /// Load-balancing weight.
    pub weight: u32,
}

/// The effective mTLS mode and the policy that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MtlsDecision {
    /// `STRICT`, `PERMISSIVE` or `DISABLE` (never `UNSET`).
    pub mode: MtlsMode,
    /// `namespace/name` of the deciding policy (`None`: the default,
    /// PERMISSIVE).
    pub policy: Option<String>,
    /// Whether the port-level setting decided.
    pub port_level: bool,
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Orders policies by age (creation time, then namespace/name), as Istio
/// picks the oldest of several that apply at the same level.
fn age_key<S>(r: &Resource<S>) -> (Option<&str>, &str, &str) {
    (
        // RFC 3339 times compare as text; "~" sorts after every digit, so a
        // policy without a timestamp counts as the newest.
        r.metadata.creation_timestamp.as_deref().or(Some("~")),
        r.namespace(),
        r.name(),
    )
}

impl EffectiveConfig {
    /// Indexes resources and validates them; returns the config and the
    /// diagnostics (errors make the loader refuse it).
    pub(crate) fn build(
        resources: Vec<AnyResource>,
        options: &LoadOptions,
    ) -> (Self, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let mut config = EffectiveConfig {
            mesh: MeshContext {
                root_namespace: options.root_namespace.clone(),
                cluster_domain: options.cluster_domain.clone(),
            },
            proxy: None,
            sidecars: Index::new(),
            service_entries: Index::new(),
            workload_entries: Index::new(),
            services: Index::new(),
            virtual_services: Index::new(),
            destination_rules: Index::new(),
            peer_authentications: Index::new(),
            authorization_policies: Index::new(),
            local_rate_limits: Index::new(),
            circuit_breakers: Index::new(),
            registry: BTreeMap::new(),
        };
        let mut proxies = Index::new();
        for resource in resources {
            use super::validate::insert;
            let d = &mut diagnostics;
            match resource {
                AnyResource::Sidecar(r) => insert(&mut config.sidecars, r, "Sidecar", d),
                AnyResource::ServiceEntry(r) => {
                    insert(&mut config.service_entries, r, "ServiceEntry", d)
                }
                AnyResource::WorkloadEntry(r) => {
                    insert(&mut config.workload_entries, r, "WorkloadEntry", d)
                }
                AnyResource::Service(r) => insert(&mut config.services, r, "Service", d),
                AnyResource::VirtualService(r) => {
                    insert(&mut config.virtual_services, r, "VirtualService", d)
                }
                AnyResource::DestinationRule(r) => {
                    insert(&mut config.destination_rules, r, "DestinationRule", d)
                }
                AnyResource::PeerAuthentication(r) => {
                    insert(&mut config.peer_authentications, r, "PeerAuthentication", d)
                }
                AnyResource::AuthorizationPolicy(r) => insert(
                    &mut config.authorization_policies,
                    r,
                    "AuthorizationPolicy",
                    d,
                ),
                AnyResource::SidecarProxy(r) => insert(&mut proxies, r, "SidecarProxy", d),
                AnyResource::LocalRateLimit(r) => {
                    insert(&mut config.local_rate_limits, r, "LocalRateLimit", d)
                }
                AnyResource::CircuitBreaker(r) => {
                    insert(&mut config.circuit_breakers, r, "CircuitBreaker", d)
                }
            }
        }
        super::validate::single_proxy(&proxies, &mut diagnostics);
        config.proxy = proxies.into_values().next();
        if let Some(mesh) = config.proxy.as_ref().and_then(|p| p.spec.mesh.as_ref()) {
            if let Some(ns) = &mesh.root_namespace {
                config.mesh.root_namespace.clone_from(ns);
            }
            if let Some(domain) = &mesh.cluster_domain {
                config.mesh.cluster_domain.clone_from(domain);
            }
        }
        config.registry = config.build_registry(&mut diagnostics);
        super::validate::validate(&config, &mut diagnostics);
        (config, diagnostics)
    }

    fn build_registry(&self, diagnostics: &mut Vec<Diagnostic>) -> BTreeMap<String, ServiceInfo> {
        let mut out: BTreeMap<String, ServiceInfo> = BTreeMap::new();
        let entries = || {
            self.workload_entries
                .values()
                .map(|r| (r.name(), r.namespace(), &r.spec))
        };
        for svc in self.services.values() {
            let ns = svc.namespace();
            let host = format!("{}.{ns}.svc.{}", svc.name(), self.mesh.cluster_domain);
            let ports = svc
                .spec
                .ports
                .iter()
                .filter(|p| {
                    p.protocol
                        .as_deref()
                        .is_none_or(|t| t.eq_ignore_ascii_case("TCP"))
                })
                .map(|p| ServicePortInfo {
                    number: p.port.get(),
                    name: p.name.clone(),
                    mode: registry::port_mode(
                        p.port.get(),
                        p.name.as_deref(),
                        p.app_protocol.as_deref(),
                    ),
                    target: registry::k8s_target(&p.target_port),
                })
                .collect();
            let info = ServiceInfo {
                host: host.clone(),
                namespace: ns.to_owned(),
                kind: super::resource::Kind::Service,
                name: svc.name().to_owned(),
                ports,
                addresses: svc
                    .spec
                    .cluster_ip
                    .iter()
                    .filter(|ip| *ip != "None")
                    .cloned()
                    .collect(),
                resolution: Resolution::Static,
                mesh_external: false,
                instances: registry::select_instances(entries(), ns, &svc.spec.selector),
            };
            out.insert(host, info);
        }
        for se in self.service_entries.values() {
            let ns = se.namespace();
            let instances: Vec<WorkloadInstance> = match &se.spec.workload_selector {
                Some(sel) => registry::select_instances(entries(), ns, &sel.labels),
                None => se
                    .spec
                    .endpoints
                    .iter()
                    .enumerate()
                    .map(|(i, ep)| {
                        registry::instance_from_entry(
                            format!("{}/endpoints[{i}]", se.name()),
                            ns,
                            ep,
                        )
                    })
                    .collect(),
            };
            let ports: Vec<ServicePortInfo> = se
                .spec
                .ports
                .iter()
                .map(|p| ServicePortInfo {
                    number: p.number.get(),
                    name: Some(p.name.clone()),
                    mode: registry::port_mode(p.number.get(), Some(&p.name), p.protocol.as_deref()),
                    target: p
                        .target_port
                        .map_or(PortTarget::Same, |t| PortTarget::Number(t.get())),
                })
                .collect();
            for host in &se.spec.hosts {
                let fqdn = self.fqdn(host.as_str(), ns);
                if let Some(existing) = out.get(&fqdn) {
                    let mut d =
                        super::validate::at(se, "spec.hosts", super::error::Severity::Warning);
                    d.message = format!(
                        "host {fqdn} is already defined by {} {}/{}; this definition is ignored",
                        existing.kind, existing.namespace, existing.name
                    );
                    diagnostics.push(d);
                    continue;
                }
                out.insert(
                    fqdn.clone(),
                    ServiceInfo {
                        host: fqdn,
                        namespace: ns.to_owned(),
                        kind: super::resource::Kind::ServiceEntry,
                        name: se.name().to_owned(),
                        ports: ports.clone(),
                        addresses: se.spec.addresses.iter().map(ToString::to_string).collect(),
                        resolution: se.spec.resolution,
                        mesh_external: registry::location_external(se.spec.location),
                        instances: instances.clone(),
                    },
                );
            }
        }
        out
    }

    /// The fully qualified form of `host` written in `namespace`: a name
    /// without dots is a Kubernetes short name
    /// (`reviews` → `reviews.NS.svc.cluster.local`); anything else is kept.
    pub fn fqdn(&self, host: &str, namespace: &str) -> String {
        if host == "*" || host.contains('.') {
            host.to_ascii_lowercase()
        } else {
            format!(
                "{}.{namespace}.svc.{}",
                host.to_ascii_lowercase(),
                self.mesh.cluster_domain
            )
        }
    }

    /// This sidecar's workload, from the `SidecarProxy` identity.
    pub fn local_workload(&self) -> Option<Workload> {
        let proxy = self.proxy.as_ref()?;
        let id = proxy.spec.identity.as_ref()?;
        Some(Workload {
            name: id.workload_name.clone(),
            namespace: id
                .namespace
                .clone()
                .unwrap_or_else(|| proxy.namespace().to_owned()),
            service_account: Some(id.service_account.clone()),
            labels: id.labels.clone(),
            trust_domain: Some(
                id.trust_domain
                    .clone()
                    .unwrap_or_else(|| "cluster.local".into()),
            ),
        })
    }

    /// The mesh settings of the `SidecarProxy`, when it has some.
    pub fn mesh_settings(&self) -> Option<&MeshSettings> {
        self.proxy.as_ref().and_then(|p| p.spec.mesh.as_ref())
    }

    /// The ports of the capture listeners, outbound then inbound:
    /// configured, or Istio's 15001 and 15006.
    pub fn capture_ports(&self) -> (u16, u16) {
        let mesh = self.mesh_settings();
        (
            mesh.and_then(|m| m.proxy_listen_port)
                .map_or(DEFAULT_PROXY_LISTEN_PORT, |p| p.get()),
            mesh.and_then(|m| m.proxy_inbound_listen_port)
                .map_or(DEFAULT_PROXY_INBOUND_LISTEN_PORT, |p| p.get()),
        )
    }

    /// The admin address: configured, or loopback
    /// ([`DEFAULT_ADMIN_ADDRESS`]).
    pub fn admin_address(&self) -> std::net::SocketAddr {
        self.proxy
            .as_ref()
            .and_then(|p| p.spec.admin.as_ref())
            .and_then(|a| a.address)
            .unwrap_or(DEFAULT_ADMIN_ADDRESS)
    }

    /// The service registered under `host` (fully qualified, or short and
    /// relative to `namespace`).
    pub fn service(&self, host: &str, namespace: &str) -> Option<&ServiceInfo> {
        self.registry.get(&self.fqdn(host, namespace))
    }

    /// The services with a port `port`, for a listener that must decide
    /// what a port speaks.
    pub fn services_on_port(&self, port: u16) -> impl Iterator<Item = &ServiceInfo> {
        self.registry
            .values()
            .filter(move |s| s.port(port).is_some())
    }

    /// The `Sidecar` that applies to `workload`, as Istio chooses: the
    /// oldest one in its namespace whose selector matches it; else the one
    /// without selector in its namespace; else the one without selector in
    /// the root namespace.
    pub fn sidecar_for(&self, workload: &Workload) -> Option<&Resource<SidecarSpec>> {
        let in_ns = |ns: &str, selected: bool| {
            let mut found: Vec<_> = self
                .sidecars
                .values()
                .filter(|s| s.namespace() == ns)
                .filter(|s| match &s.spec.workload_selector {
                    Some(sel) => selected && labels_match(&sel.labels, &workload.labels),
                    None => !selected,
                })
                .collect();
            found.sort_by_key(|r| age_key(r));
            found.into_iter().next()
        };
        in_ns(&workload.namespace, true)
            .or_else(|| in_ns(&workload.namespace, false))
            .or_else(|| in_ns(&self.mesh.root_namespace, false))
    }

    /// The configuration as JSON for a config dump: every resource, the
    /// registry, and (with a `SidecarProxy` identity) this workload and its
    /// listeners; secrets redacted, empty and absent fields left out.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let (Some(local), serde_json::Value::Object(map)) = (self.local_workload(), &mut value) {
            let listeners = self.listeners(&local);
            map.insert(
                "listeners".into(),
                serde_json::to_value(listeners).unwrap_or(serde_json::Value::Null),
            );
            map.insert(
                "localWorkload".into(),
                serde_json::to_value(local).unwrap_or(serde_json::Value::Null),
            );
        }
        prune(&mut value);
        value
    }
}

/// Drops nulls and empty arrays and objects from object fields, so a dump
/// shows what was configured.
fn prune(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for v in map.values_mut() {
                prune(v);
            }
            map.retain(|_, v| match v {
                serde_json::Value::Null => false,
                serde_json::Value::Array(a) => !a.is_empty(),
                serde_json::Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}
