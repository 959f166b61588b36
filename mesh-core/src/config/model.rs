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

    /// Whether outbound traffic to unknown hosts is passed through
    /// (`ALLOW_ANY`, the default) or refused (`REGISTRY_ONLY`).
    pub fn outbound_mode(&self, workload: &Workload) -> OutboundMode {
        self.sidecar_for(workload)
            .and_then(|s| s.spec.outbound_traffic_policy.as_ref())
            .map_or(OutboundMode::AllowAny, |p| p.mode)
    }

    /// The listeners for `workload`.
    ///
    /// With a `Sidecar` that has `ingress` (or `egress`) entries, those
    /// decide. Without ingress entries, each port of every Kubernetes
    /// `Service` that selects the workload gives an inbound listener on its
    /// target port forwarding to `127.0.0.1:<target port>`. Without egress
    /// entries there is one catch-all outbound listener for captured
    /// traffic. Limits, detection deadlines and rate limits come from the
    /// `SidecarProxy` and `LocalRateLimit` resources.
    pub fn listeners(&self, workload: &Workload) -> Vec<Listener> {
        let mut out = Vec::new();
        let sidecar = self.sidecar_for(workload);
        let label = |s: &Resource<SidecarSpec>| format!("Sidecar {}/{}", s.namespace(), s.name());
        match sidecar.filter(|s| !s.spec.ingress.is_empty()) {
            Some(s) => {
                for (i, ing) in s.spec.ingress.iter().enumerate() {
                    let port = ing.port.number.get();
                    out.push(self.listener(
                        workload,
                        Direction::Inbound,
                        Some(port),
                        registry::port_mode(
                            port,
                            ing.port.name.as_deref(),
                            ing.port.protocol.as_deref(),
                        ),
                        ing.bind.clone(),
                        ing.capture_mode,
                        ing.default_endpoint.clone(),
                        Vec::new(),
                        format!("{} ingress[{i}]", label(s)),
                    ));
                }
            }
            None => {
                for svc in self.services.values() {
                    if svc.namespace() != workload.namespace
                        || svc.spec.selector.is_empty()
                        || !labels_match(&svc.spec.selector, &workload.labels)
                    {
                        continue;
                    }
                    for p in &svc.spec.ports {
                        if p.protocol
                            .as_deref()
                            .is_some_and(|t| !t.eq_ignore_ascii_case("TCP"))
                        {
                            continue;
                        }
                        let target = match &p.target_port {
                            None => p.port.get(),
                            Some(super::kube_service::TargetPort::Number(n)) => n.get(),
                            // A named container port: the workload's port numbers are
                            // not in the config, so this port cannot be listened on.
                            Some(super::kube_service::TargetPort::Name(_)) => continue,
                        };
                        if out.iter().any(|l: &Listener| {
                            l.port == Some(target) && l.direction == Direction::Inbound
                        }) {
                            continue;
                        }
                        out.push(self.listener(
                            workload,
                            Direction::Inbound,
                            Some(target),
                            registry::port_mode(
                                target,
                                p.name.as_deref(),
                                p.app_protocol.as_deref(),
                            ),
                            None,
                            CaptureMode::Default,
                            Some(Endpoint::Socket(std::net::SocketAddr::from((
                                [127, 0, 0, 1],
                                target,
                            )))),
                            Vec::new(),
                            format!("Service {}/{}", svc.namespace(), svc.name()),
                        ));
                    }
                }
            }
        }
        match sidecar.filter(|s| !s.spec.egress.is_empty()) {
            Some(s) => {
                for (i, eg) in s.spec.egress.iter().enumerate() {
                    let (port, mode) = match &eg.port {
                        Some(p) => {
                            let n = p.number.get();
                            let mode = if p.name.is_some() || p.protocol.is_some() {
                                registry::port_mode(n, p.name.as_deref(), p.protocol.as_deref())
                            } else {
                                self.outbound_port_mode(n)
                            };
                            (Some(n), mode)
                        }
                        None => (None, PortMode::Detect),
                    };
                    out.push(self.listener(
                        workload,
                        Direction::Outbound,
                        port,
                        mode,
                        eg.bind.clone(),
                        eg.capture_mode,
                        None,
                        eg.hosts.clone(),
                        format!("{} egress[{i}]", label(s)),
                    ));
                }
            }
            None => {
                let hosts = SidecarHost::parse("*/*")
                    .map(|h| vec![h])
                    .unwrap_or_default();
                out.push(self.listener(
                    workload,
                    Direction::Outbound,
                    None,
                    PortMode::Detect,
                    None,
                    CaptureMode::Default,
                    None,
                    hosts,
                    "default outbound".into(),
                ));
            }
        }
        out
    }

    /// What an outbound port speaks when its listener declares nothing: the
    /// protocol all registry services on that port agree on, else detection.
    pub fn outbound_port_mode(&self, port: u16) -> PortMode {
        let mut modes = self
            .services_on_port(port)
            .filter_map(|s| s.port(port))
            .map(|p| p.mode);
        match modes.next() {
            Some(first) if modes.all(|m| m == first) => first,
            _ => registry::port_mode(port, None, None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn listener(
        &self,
        workload: &Workload,
        direction: Direction,
        port: Option<u16>,
        mode: PortMode,
        bind: Option<Bind>,
        capture: CaptureMode,
        default_endpoint: Option<Endpoint>,
        hosts: Vec<SidecarHost>,
        source: String,
    ) -> Listener {
        let proxy = self.proxy.as_ref().map(|p| &p.spec);
        let defaults = proxy.and_then(|p| p.listeners);
        let per_port = port.and_then(|n| proxy?.ports.iter().find(|p| p.port.get() == n));
        Listener {
            direction,
            port,
            bind,
            capture,
            mode,
            default_endpoint,
            hosts,
            max_connections: per_port
                .and_then(|p| p.max_connections)
                .or(defaults.and_then(|d| d.max_connections)),
            buffer_bytes_per_connection: per_port
                .and_then(|p| p.buffer_bytes_per_connection)
                .or(defaults.and_then(|d| d.buffer_bytes_per_connection)),
            detection_timeout: per_port
                .and_then(|p| p.detection_timeout)
                .or(defaults.and_then(|d| d.detection_timeout)),
            rate_limit: self.local_rate_limit(workload, direction, port),
            source,
        }
    }

    /// The token bucket for a listener of `workload`: the oldest matching
    /// `LocalRateLimit` that names the port, else the oldest that names no
    /// port.
    pub fn local_rate_limit(
        &self,
        workload: &Workload,
        direction: Direction,
        port: Option<u16>,
    ) -> Option<TokenBucket> {
        let mut candidates: Vec<_> = self
            .local_rate_limits
            .values()
            .filter(|r| r.namespace() == workload.namespace && r.spec.direction == direction)
            .filter(|r| {
                r.spec
                    .workload_selector
                    .as_ref()
                    .is_none_or(|s| labels_match(&s.labels, &workload.labels))
            })
            .collect();
        candidates.sort_by_key(|r| age_key(r));
        let names_port = |r: &&&Resource<LocalRateLimitSpec>| {
            port.is_some_and(|p| r.spec.ports.iter().any(|q| q.get() == p))
        };
        candidates
            .iter()
            .find(names_port)
            .or_else(|| candidates.iter().find(|r| r.spec.ports.is_empty()))
            .map(|r| r.spec.token_bucket)
    }

    /// The VirtualServices that apply to `host` for sidecars, most specific
    /// first: exact host matches, then wildcards by length.
    fn virtual_services_for(&self, host: &str) -> Vec<(&Resource<VirtualServiceSpec>, usize)> {
        let mut found = Vec::new();
        for vs in self.virtual_services.values() {
            let for_mesh =
                vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh");
            if !for_mesh {
                continue;
            }
            let best = vs
                .spec
                .hosts
                .iter()
                .map(|h| self.fqdn(h.as_str(), vs.namespace()))
                .filter(|h| host_matches(h, host))
                .map(|h| {
                    if h.starts_with('*') {
                        h.len()
                    } else {
                        usize::MAX
                    }
                })
                .max();
            if let Some(score) = best {
                found.push((vs, score));
            }
        }
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| age_key(a.0).cmp(&age_key(b.0))));
        found
    }

    /// The route of a TCP connection to `query.host:query.port`: the first
    /// matching `tcp` route of the most specific VirtualService, or the
    /// default route (the host itself, weight 100).
    pub fn tcp_route(&self, query: &RouteQuery<'_>) -> Route {
        let namespace = query.source.map_or("default", |s| s.namespace.as_str());
        let host = self.fqdn(query.host, namespace);
        for (vs, _) in self.virtual_services_for(&host) {
            for (i, route) in vs.spec.tcp.iter().enumerate() {
                let matched = route.matches.is_empty()
                    || route.matches.iter().any(|m| {
                        m.port.is_none_or(|p| p.get() == query.port)
                            && source_matches(
                                &m.source_labels,
                                m.source_namespace.as_deref(),
                                query.source,
                            )
                            && subnet_matches(&m.destination_subnets, query.destination_ip)
                    });
                if matched {
                    return self.route_from(vs, i, &route.route, query.port);
                }
            }
        }
        default_route(host, query.port)
    }

    /// The route of TLS originated by the application, by SNI: the first
    /// matching `tls` route, or the default route.
    pub fn tls_route(&self, query: &RouteQuery<'_>) -> Route {
        let namespace = query.source.map_or("default", |s| s.namespace.as_str());
        let host = self.fqdn(query.host, namespace);
        let sni = query.sni.unwrap_or(&host);
        for (vs, _) in self.virtual_services_for(&host) {
            for (i, route) in vs.spec.tls.iter().enumerate() {
                let matched = route.matches.iter().any(|m| {
                    m.sni_hosts
                        .iter()
                        .any(|h| host_matches(&self.fqdn(h.as_str(), vs.namespace()), sni))
                        && m.port.is_none_or(|p| p.get() == query.port)
                        && source_matches(
                            &m.source_labels,
                            m.source_namespace.as_deref(),
                            query.source,
                        )
                        && subnet_matches(&m.destination_subnets, query.destination_ip)
                });
                if matched {
                    return self.route_from(vs, i, &route.route, query.port);
                }
            }
        }
        default_route(host, query.port)
    }

    fn route_from(
        &self,
        vs: &Resource<VirtualServiceSpec>,
        index: usize,
        route: &[RouteDestination],
        port: u16,
    ) -> Route {
        let single = route.len() == 1;
        Route {
            virtual_service: Some(key(vs.namespace(), vs.name())),
            index: Some(index),
            destinations: route
                .iter()
                .map(|d| WeightedDestination {
                    host: self.destination_host(&d.destination, vs.namespace()),
                    subset: d.destination.subset.clone(),
                    port: d.destination.port.map_or(port, |p| p.number.get()),
                    weight: if single { 100 } else { d.weight.unwrap_or(0) },
                })
                .collect(),
        }
    }

    pub(crate) fn destination_host(&self, d: &Destination, namespace: &str) -> String {
        self.fqdn(d.host.as_str(), namespace)
    }

    /// The `DestinationRule` for `host` as seen by `client` (when given,
    /// rules with a `workloadSelector` apply only to matching clients in
    /// their namespace): an exact host before wildcards, a longer wildcard
    /// before a shorter one; among equals the client's namespace, then the
    /// service's, then the root namespace, then the oldest.
    pub fn destination_rule_for(
        &self,
        host: &str,
        client: Option<&Workload>,
    ) -> Option<&Resource<DestinationRuleSpec>> {
        let service_ns = self.registry.get(host).map(|s| s.namespace.as_str());
        self.destination_rules
            .values()
            .filter(|dr| match (&dr.spec.workload_selector, client) {
                (None, _) => true,
                (Some(sel), Some(c)) => {
                    c.namespace == dr.namespace() && labels_match(&sel.labels, &c.labels)
                }
                (Some(_), None) => false,
            })
            .filter_map(|dr| {
                let pattern = self.fqdn(dr.spec.host.as_str(), dr.namespace());
                if !host_matches(&pattern, host) {
                    return None;
                }
                let specificity = if pattern.starts_with('*') {
                    pattern.len()
                } else {
                    usize::MAX
                };
                let ns = dr.namespace();
                let ns_rank = if client.is_some_and(|c| c.namespace == ns) {
                    0
                } else if service_ns == Some(ns) {
                    1
                } else if ns == self.mesh.root_namespace {
                    2
                } else {
                    3
                };
                Some((std::cmp::Reverse(specificity), ns_rank, age_key(dr), dr))
            })
            .min_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
            .map(|t| t.3)
    }

    /// The traffic policy for `host` (fully qualified), `subset` and
    /// `port`, merged as [`EffectivePolicy`] describes.
    pub fn traffic_policy(
        &self,
        host: &str,
        subset: Option<&str>,
        port: u16,
        client: Option<&Workload>,
    ) -> EffectivePolicy {
        let mut policy = EffectivePolicy::default();
        if let Some(dr) = self.destination_rule_for(host, client) {
            if let Some(p) = &dr.spec.traffic_policy {
                policy.apply(p, Some(port));
            }
            if let Some(sub) = subset.and_then(|s| dr.spec.subsets.iter().find(|x| x.name == s)) {
                if let Some(p) = &sub.traffic_policy {
                    policy.apply(p, Some(port));
                }
            }
        }
        policy
    }

    /// The upstream cluster for `host:port` and an optional subset: the
    /// endpoints (for a subset, those carrying its labels) with their port
    /// on the workload, and the merged policy. `None` when the host is not
    /// in the registry, the service has no such port, or the subset does
    /// not exist.
    pub fn cluster(
        &self,
        host: &str,
        port: u16,
        subset: Option<&str>,
        client: Option<&Workload>,
    ) -> Option<Cluster> {
        let service = self.registry.get(host)?;
        let service_port = service.port(port)?;
        let subset_labels = match subset {
            Some(name) => Some(
                &self
                    .destination_rule_for(host, client)?
                    .spec
                    .subsets
                    .iter()
                    .find(|s| s.name == name)?
                    .labels,
            ),
            None => None,
        };
        let mut endpoints: Vec<ClusterEndpoint> = service
            .instances
            .iter()
            .filter(|i| subset_labels.is_none_or(|l| labels_match(l, &i.labels)))
            .filter_map(|i| {
                let target = match &service_port.target {
                    PortTarget::Same => service_port
                        .name
                        .as_ref()
                        .and_then(|n| i.ports.get(n).copied())
                        .unwrap_or(port),
                    PortTarget::Number(n) => service_port
                        .name
                        .as_ref()
                        .and_then(|name| i.ports.get(name).copied())
                        .unwrap_or(*n),
                    PortTarget::Name(n) => *i.ports.get(n)?,
                };
                Some(ClusterEndpoint {
                    address: i.address.clone()?,
                    port: target,
                    labels: i.labels.clone(),
                    namespace: i.namespace.clone(),
                    service_account: i.service_account.clone(),
                    weight: i.weight,
                })
            })
            .collect();
        if endpoints.is_empty()
            && subset.is_none()
            && matches!(
                service.resolution,
                Resolution::Dns | Resolution::DnsRoundRobin
            )
            && !host.starts_with('*')
        {
            endpoints.push(ClusterEndpoint {
                address: EndpointAddress::Dns(host.to_owned()),
                port: match service_port.target {
                    PortTarget::Number(n) => n,
                    _ => port,
                },
                labels: Labels::new(),
                namespace: service.namespace.clone(),
                service_account: None,
                weight: 1,
            });
        }
        Some(Cluster {
            host: host.to_owned(),
            port,
            subset: subset.map(str::to_owned),
            mode: service_port.mode,
            resolution: service.resolution,
            mesh_external: service.mesh_external,
            endpoints,
            policy: self.traffic_policy(host, subset, port, client),
            circuit_breaker: self.circuit_breaker(host, port).cloned(),
        })
    }

    /// The `CircuitBreaker` for `host` (fully qualified) and `port`: one
    /// naming the port before one for all ports, exact hosts before
    /// wildcards.
    pub fn circuit_breaker(&self, host: &str, port: u16) -> Option<&CircuitBreakerSpec> {
        self.circuit_breakers
            .values()
            .filter(|cb| host_matches(&self.fqdn(cb.spec.host.as_str(), cb.namespace()), host))
            .filter(|cb| cb.spec.port.is_none_or(|p| p.get() == port))
            .min_by_key(|cb| {
                (
                    cb.spec.port.is_none(),
                    cb.spec.host.is_wildcard(),
                    age_key(cb),
                )
            })
            .map(|cb| &cb.spec)
    }

    /// The effective PeerAuthentication mode for `workload` on its `port`,
    /// by Istio's precedence: the workload-specific policy's port-level
    /// mode, then its mode, then the namespace-wide policy's, then the
    /// mesh-wide (root namespace) policy's; `UNSET` defers to the next;
    /// PERMISSIVE when nothing decides. Among several policies at one
    /// level the oldest wins.
    pub fn mtls_mode(&self, workload: &Workload, port: u16) -> MtlsDecision {
        let oldest = |ns: &str, with_selector: bool| {
            let mut v: Vec<_> = self
                .peer_authentications
                .values()
                .filter(|p| p.namespace() == ns)
                .filter(|p| match &p.spec.selector {
                    Some(sel) => with_selector && labels_match(&sel.match_labels, &workload.labels),
                    None => !with_selector,
                })
                .collect();
            v.sort_by_key(|r| age_key(r));
            v.into_iter().next()
        };
        let mesh = oldest(&self.mesh.root_namespace, false);
        let namespace = oldest(&workload.namespace, false);
        let specific = oldest(&workload.namespace, true);
        let mut decision = MtlsDecision {
            mode: MtlsMode::Permissive,
            policy: None,
            port_level: false,
        };
        for policy in [mesh, namespace, specific].into_iter().flatten() {
            if let Some(mode) = policy
                .spec
                .mtls
                .map(|m| m.mode)
                .filter(|m| *m != MtlsMode::Unset)
            {
                decision = MtlsDecision {
                    mode,
                    policy: Some(key(policy.namespace(), policy.name())),
                    port_level: false,
                };
            }
        }
        if let Some(policy) = specific {
            if let Some(m) = policy
                .spec
                .port_level_mtls
                .get(&port)
                .filter(|m| m.mode != MtlsMode::Unset)
            {
                decision = MtlsDecision {
                    mode: m.mode,
                    policy: Some(key(policy.namespace(), policy.name())),
                    port_level: true,
                };
            }
        }
        decision
    }

    /// The workload that config says runs as `service_account` in
    /// `namespace` (a `WorkloadEntry`, an inline `ServiceEntry` endpoint, or
    /// this sidecar's own identity), for the source labels of metrics.
    pub fn workload_by_service_account(
        &self,
        namespace: &str,
        service_account: &str,
    ) -> Option<Workload> {
        if let Some(local) = self.local_workload() {
            if local.namespace == namespace
                && local.service_account.as_deref() == Some(service_account)
            {
                return Some(local);
            }
        }
        let from_entry = |name: &str, ns: &str, spec: &WorkloadEntrySpec| Workload {
            name: Some(
                spec.labels
                    .get("service.istio.io/canonical-name")
                    .or_else(|| spec.labels.get("app"))
                    .cloned()
                    .unwrap_or_else(|| name.to_owned()),
            ),
            namespace: ns.to_owned(),
            service_account: spec.service_account.clone(),
            labels: spec.labels.clone(),
            trust_domain: None,
        };
        let matches = |ns: &str, spec: &WorkloadEntrySpec| {
            ns == namespace && spec.service_account.as_deref() == Some(service_account)
        };
        if let Some(we) = self
            .workload_entries
            .values()
            .find(|we| matches(we.namespace(), &we.spec))
        {
            return Some(from_entry(we.name(), we.namespace(), &we.spec));
        }
        self.service_entries.values().find_map(|se| {
            se.spec
                .endpoints
                .iter()
                .find(|ep| matches(se.namespace(), ep))
                .map(|ep| from_entry(se.name(), se.namespace(), ep))
        })
    }

    /// The workload of a peer's SPIFFE identity (`spiffe://td/ns/NS/sa/SA`
    /// or `td/ns/NS/sa/SA`).
    pub fn workload_for_principal(&self, principal: &str) -> Option<Workload> {
        let id = crate::spiffe::IstioPrincipal::parse(principal)?;
        let mut w = self.workload_by_service_account(id.namespace, id.service_account)?;
        w.trust_domain = Some(id.trust_domain.to_owned());
        Some(w)
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

fn default_route(host: String, port: u16) -> Route {
    Route {
        virtual_service: None,
        index: None,
        destinations: vec![WeightedDestination {
            host,
            subset: None,
            port,
            weight: 100,
        }],
    }
}

fn source_matches(labels: &Labels, namespace: Option<&str>, source: Option<&Workload>) -> bool {
    if labels.is_empty() && namespace.is_none() {
        return true;
    }
    let Some(source) = source else {
        return false;
    };
    labels_match(labels, &source.labels) && namespace.is_none_or(|ns| ns == source.namespace)
}

fn subnet_matches(subnets: &[super::values::IpBlock], ip: Option<IpAddr>) -> bool {
    subnets.is_empty() || ip.is_some_and(|ip| subnets.iter().any(|b| b.contains(ip)))
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
