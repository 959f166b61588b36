//! Checks beyond what parsing refuses: rules inside one resource (a
//! subset name used twice, weights that do not sum to 100) and
//! cross-references between resources (a route to a subset no
//! DestinationRule defines). Each finding names the field and its line.

use std::collections::{BTreeMap, BTreeSet};

use super::authorization_policy::{Action, AuthorizationPolicySpec};
use super::authz::known_condition_key;
use super::destination_rule::{
    ClientTlsSettings, ConnectionPoolSettings, DestinationRuleSpec, LoadBalancerSettings,
    OutlierDetection, TlsMode, TrafficPolicy,
};
use super::error::{Diagnostic, Severity};
use super::kube_service::KubeServiceSpec;
use super::meshkit::{CircuitBreakerSpec, LocalRateLimitSpec, SidecarProxySpec};
use super::model::{EffectiveConfig, Index};
use super::peer_authentication::PeerAuthenticationSpec;
use super::resource::Resource;
use super::service_entry::{Resolution, ServiceEntrySpec, WorkloadEntrySpec};
use super::sidecar::{CaptureMode, SidecarSpec};
use super::values::Duration;
use super::virtual_service::{HttpRoute, RouteDestination, StringMatch, VirtualServiceSpec};
use crate::port_name::{PortNameError, parse_port_name};

/// A diagnostic at `field` of resource `r`.
pub(crate) fn at<S>(r: &Resource<S>, field: &str, severity: Severity) -> Diagnostic {
    let full = if r.origin.base.is_empty() {
        field.to_owned()
    } else if field.is_empty() {
        r.origin.base.clone()
    } else {
        format!("{}.{field}", r.origin.base)
    };
    let mut d = Diagnostic::new(severity, &r.origin.file, "");
    d.document = Some(r.origin.document);
    d.position = Some(r.origin.locate(field));
    d.field = Some(full);
    d
}

/// Adds `r` to `index`, refusing a second resource of the same kind,
/// namespace and name.
pub(crate) fn insert<S>(
    index: &mut Index<S>,
    r: Resource<S>,
    kind: &str,
    out: &mut Vec<Diagnostic>,
) {
    let key = format!("{}/{}", r.namespace(), r.name());
    if let Some(first) = index.get(&key) {
        let mut d = at(&r, "metadata.name", Severity::Error);
        d.resource = Some(format!("{kind} {key}"));
        d.message = format!(
            "{kind} {key} is defined twice; the first is in {} document {}",
            first.origin.file, first.origin.document
        );
        out.push(d);
        return;
    }
    index.insert(key, r);
}

/// At most one `SidecarProxy`: it describes this process.
pub(crate) fn single_proxy(proxies: &Index<SidecarProxySpec>, out: &mut Vec<Diagnostic>) {
    for r in proxies.values().skip(1) {
        let mut d = at(r, "", Severity::Error);
        d.resource = Some(format!("SidecarProxy {}/{}", r.namespace(), r.name()));
        d.message = "only one SidecarProxy may be configured: it describes this sidecar".into();
        out.push(d);
    }
}

/// Collects findings for one resource.
struct Check<'a, S> {
    r: &'a Resource<S>,
    label: String,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a, S> Check<'a, S> {
    fn new(r: &'a Resource<S>, kind: &str, out: &'a mut Vec<Diagnostic>) -> Self {
        Check {
            r,
            label: format!("{kind} {}/{}", r.namespace(), r.name()),
            out,
        }
    }

    fn report(&mut self, severity: Severity, field: &str, message: impl Into<String>) {
        let mut d = at(self.r, field, severity);
        d.resource = Some(self.label.clone());
        d.message = message.into();
        self.out.push(d);
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.report(Severity::Error, field, message);
    }

    fn warn(&mut self, field: &str, message: impl Into<String>) {
        self.report(Severity::Warning, field, message);
    }

    /// Istio's minimum for timeouts and intervals.
    fn at_least_1ms(&mut self, field: &str, d: Option<Duration>) {
        if let Some(d) = d {
            if d.get() < std::time::Duration::from_millis(1) {
                self.error(field, format!("duration {d} must be at least 1ms"));
            }
        }
    }

    fn protocol(&mut self, field: &str, protocol: Option<&str>) {
        match protocol.map(parse_port_name) {
            None | Some(Ok(_)) => {}
            Some(Err(PortNameError::Udp { .. })) => {
                self.error(field, "UDP is not proxied; meshkit carries TCP only");
            }
            Some(Err(e)) => self.error(field, e.to_string()),
        }
    }
}

/// Runs every check over the indexed configuration.
pub(crate) fn validate(config: &EffectiveConfig, out: &mut Vec<Diagnostic>) {
    for r in config.sidecars.values() {
        sidecar(&mut Check::new(r, "Sidecar", out));
    }
    namespace_wide_unique(
        &config.sidecars,
        "Sidecar",
        |s| s.workload_selector.is_none(),
        out,
    );
    for r in config.service_entries.values() {
        service_entry(&mut Check::new(r, "ServiceEntry", out));
    }
    for r in config.workload_entries.values() {
        workload_entry(&mut Check::new(r, "WorkloadEntry", out));
    }
    for r in config.services.values() {
        kube_service(&mut Check::new(r, "Service", out));
    }
    for r in config.virtual_services.values() {
        virtual_service(config, &mut Check::new(r, "VirtualService", out));
    }
    for r in config.destination_rules.values() {
        destination_rule(&mut Check::new(r, "DestinationRule", out));
    }
    for r in config.peer_authentications.values() {
        peer_authentication(&mut Check::new(r, "PeerAuthentication", out));
    }
    namespace_wide_unique(
        &config.peer_authentications,
        "PeerAuthentication",
        |s| s.selector.is_none(),
        out,
    );
    for r in config.authorization_policies.values() {
        authorization_policy(&mut Check::new(r, "AuthorizationPolicy", out));
    }
    if let Some(r) = &config.proxy {
        sidecar_proxy(&mut Check::new(r, "SidecarProxy", out));
    }
    for r in config.local_rate_limits.values() {
        local_rate_limit(&mut Check::new(r, "LocalRateLimit", out));
    }
    for r in config.circuit_breakers.values() {
        circuit_breaker(&mut Check::new(r, "CircuitBreaker", out));
    }
}

/// Istio uses the oldest of several namespace-wide resources and ignores the
/// rest: say so.
fn namespace_wide_unique<S>(
    index: &Index<S>,
    kind: &str,
    namespace_wide: impl Fn(&S) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&str, &Resource<S>> = BTreeMap::new();
    for r in index.values().filter(|r| namespace_wide(&r.spec)) {
        if let Some(first) = seen.get(r.namespace()) {
            let mut c = Check::new(r, kind, out);
            c.warn(
                "",
                format!(
                    "namespace {} has several {kind}s without selector ({} too); only the oldest applies",
                    r.namespace(),
                    first.name()
                ),
            );
        } else {
            seen.insert(r.namespace(), r);
        }
    }
}

fn sidecar(c: &mut Check<'_, SidecarSpec>) {
    let spec = &c.r.spec;
    let mut ports = BTreeSet::new();
    for (i, ing) in spec.ingress.iter().enumerate() {
        let f = format!("spec.ingress[{i}]");
        if !ports.insert(ing.port.number) {
            c.error(
                &format!("{f}.port.number"),
                format!("ingress port {} is listed twice", ing.port.number),
            );
        }
        c.protocol(&format!("{f}.port.protocol"), ing.port.protocol.as_deref());
        if ing.tls.is_some() {
            c.warn(&format!("{f}.tls"), "ingress TLS settings are not supported by meshkit (it terminates mesh mTLS only); ignored");
        }
        if let Some(pool) = &ing.connection_pool {
            connection_pool(c, &format!("{f}.connectionPool"), pool);
        }
    }
    let mut ports = BTreeSet::new();
    let last = spec.egress.len().saturating_sub(1);
    for (i, eg) in spec.egress.iter().enumerate() {
        let f = format!("spec.egress[{i}]");
        if eg.hosts.is_empty() {
            c.error(
                &format!("{f}.hosts"),
                "an egress listener needs at least one namespace/host",
            );
        }
        match &eg.port {
            Some(p) => {
                if !ports.insert(p.number) {
                    c.error(
                        &format!("{f}.port.number"),
                        format!("egress port {} is listed twice", p.number),
                    );
                }
                c.protocol(&format!("{f}.port.protocol"), p.protocol.as_deref());
            }
            None => {
                if i != last {
                    c.error(
                        &f,
                        "the egress listener without port (the catch-all) must be the last one",
                    );
                }
                if eg.capture_mode == CaptureMode::None {
                    c.error(&format!("{f}.captureMode"), "the catch-all egress listener needs captured traffic; captureMode NONE requires a port");
                }
            }
        }
    }
    if let Some(pool) = &spec.inbound_connection_pool {
        connection_pool(c, "spec.inboundConnectionPool", pool);
    }
}

fn service_entry(c: &mut Check<'_, ServiceEntrySpec>) {
    let spec = &c.r.spec;
    if spec.hosts.is_empty() {
        c.error("spec.hosts", "a ServiceEntry needs at least one host");
    }
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let f = format!("spec.ports[{i}]");
        if !names.insert(p.name.as_str()) {
            c.error(
                &format!("{f}.name"),
                format!("port name {:?} is used twice", p.name),
            );
        }
        if !numbers.insert(p.number) {
            c.error(
                &format!("{f}.number"),
                format!("port {} is listed twice", p.number),
            );
        }
        c.protocol(&format!("{f}.protocol"), p.protocol.as_deref());
    }
    if !spec.endpoints.is_empty() && spec.workload_selector.is_some() {
        c.error(
            "spec.workloadSelector",
            "endpoints and workloadSelector cannot both be set",
        );
    }
    match spec.resolution {
        Resolution::None if !spec.endpoints.is_empty() => {
            c.error("spec.endpoints", "resolution NONE passes traffic to its original destination; endpoints are not allowed");
        }
        Resolution::Dns | Resolution::DnsRoundRobin if spec.endpoints.is_empty() => {
            for (i, h) in spec.hosts.iter().enumerate() {
                if h.is_wildcard() {
                    c.error(
                        &format!("spec.hosts[{i}]"),
                        format!("wildcard host {h} cannot be resolved by DNS; list endpoints"),
                    );
                }
            }
        }
        _ => {}
    }
    for (i, ep) in spec.endpoints.iter().enumerate() {
        let f = format!("spec.endpoints[{i}]");
        match ep.address.as_deref() {
            None => c.error(&format!("{f}.address"), "an endpoint needs an address"),
            Some(a) if spec.resolution == Resolution::Static => {
                if a.parse::<std::net::IpAddr>().is_err() && !a.starts_with("unix://") {
                    c.error(
                        &format!("{f}.address"),
                        format!("resolution STATIC needs IP addresses (or unix://), not {a:?}"),
                    );
                }
            }
            Some(_) => {}
        }
        for name in ep.ports.keys() {
            if !names.contains(name.as_str()) {
                c.error(
                    &format!("{f}.ports.{name}"),
                    format!("{name:?} is not the name of a port of this ServiceEntry"),
                );
            }
        }
    }
}

fn workload_entry(c: &mut Check<'_, WorkloadEntrySpec>) {
    match c.r.spec.address.as_deref() {
        None | Some("") => c.error("spec.address", "a WorkloadEntry needs an address"),
        _ => {}
    }
}

fn kube_service(c: &mut Check<'_, KubeServiceSpec>) {
    let ports = &c.r.spec.ports;
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let f = format!("spec.ports[{i}]");
        match &p.name {
            None if ports.len() > 1 => c.error(
                &format!("{f}.name"),
                "every port needs a name when a Service has several",
            ),
            Some(n) if !names.insert(n.as_str()) => c.error(
                &format!("{f}.name"),
                format!("port name {n:?} is used twice"),
            ),
            _ => {}
        }
        let transport = p.protocol.as_deref().unwrap_or("TCP");
        if !numbers.insert((p.port, transport.to_ascii_uppercase())) {
            c.error(
                &format!("{f}.port"),
                format!("port {}/{transport} is listed twice", p.port),
            );
        }
        if !transport.eq_ignore_ascii_case("TCP") {
            c.warn(
                &format!("{f}.protocol"),
                format!("{transport} is not proxied; meshkit carries TCP only"),
            );
        }
        if let Some(app) = p.app_protocol.as_deref() {
            if let Err(PortNameError::Udp { .. }) = parse_port_name(app) {
                c.error(
                    &format!("{f}.appProtocol"),
                    "UDP is not proxied; meshkit carries TCP only",
                );
            }
        }
    }
}

fn virtual_service(config: &EffectiveConfig, c: &mut Check<'_, VirtualServiceSpec>) {
    let spec = &c.r.spec;
    if spec.hosts.is_empty() {
        c.error("spec.hosts", "a VirtualService needs at least one host");
    }
    for (i, route) in spec.tcp.iter().enumerate() {
        destinations(config, c, &format!("spec.tcp[{i}].route"), &route.route);
    }
    for (i, route) in spec.tls.iter().enumerate() {
        let f = format!("spec.tls[{i}]");
        if route.matches.is_empty() {
            c.error(
                &format!("{f}.match"),
                "a TLS route needs at least one match with sniHosts",
            );
        }
        for (j, m) in route.matches.iter().enumerate() {
            if m.sni_hosts.is_empty() {
                c.error(
                    &format!("{f}.match[{j}].sniHosts"),
                    "sniHosts must not be empty",
                );
            }
            for (k, sni) in m.sni_hosts.iter().enumerate() {
                let sni_fq = config.fqdn(sni.as_str(), c.r.namespace());
                let covered = spec.hosts.iter().any(|h| {
                    let h = config.fqdn(h.as_str(), c.r.namespace());
                    super::values::host_matches(&h, &sni_fq)
                        || super::values::host_matches(&sni_fq, &h)
                });
                if !covered {
                    c.error(
                        &format!("{f}.match[{j}].sniHosts[{k}]"),
                        format!("SNI host {sni} is not one of the VirtualService's hosts"),
                    );
                }
            }
        }
        destinations(config, c, &format!("{f}.route"), &route.route);
    }
    for (i, route) in spec.http.iter().enumerate() {
        http_route(config, c, &format!("spec.http[{i}]"), route);
    }
}

fn http_route(
    config: &EffectiveConfig,
    c: &mut Check<'_, VirtualServiceSpec>,
    f: &str,
    route: &HttpRoute,
) {
    let actions = usize::from(!route.route.is_empty())
        + usize::from(route.redirect.is_some())
        + usize::from(route.direct_response.is_some());
    if actions != 1 {
        c.error(
            f,
            "an HTTP route needs exactly one of route, redirect and directResponse",
        );
    }
    for (j, m) in route.matches.iter().enumerate() {
        let mf = format!("{f}.match[{j}]");
        for (name, sm) in [
            ("uri", &m.uri),
            ("scheme", &m.scheme),
            ("method", &m.method),
            ("authority", &m.authority),
        ] {
            if let Some(sm) = sm {
                string_match(c, &format!("{mf}.{name}"), sm);
            }
        }
        for (group, map) in [
            ("headers", &m.headers),
            ("withoutHeaders", &m.without_headers),
            ("queryParams", &m.query_params),
        ] {
            for (k, sm) in map {
                let kf = super::load::join_field(&format!("{mf}.{group}"), k);
                if group != "queryParams" && k.bytes().any(|b| b.is_ascii_uppercase()) {
                    c.error(&kf, format!("header name {k:?} must be lower-case"));
                }
                string_match(c, &kf, sm);
            }
        }
    }
    destinations(config, c, &format!("{f}.route"), &route.route);
    if let Some(retries) = &route.retries {
        c.at_least_1ms(
            &format!("{f}.retries.perTryTimeout"),
            retries.per_try_timeout,
        );
    }
    if let Some(dr) = &route.direct_response {
        if !(200..=599).contains(&dr.status) {
            c.error(
                &format!("{f}.directResponse.status"),
                format!("status {} is not an HTTP status 200-599", dr.status),
            );
        }
    }
    if let Some(redirect) = &route.redirect {
        if let Some(code) = redirect.redirect_code {
            if !matches!(code, 301 | 302 | 303 | 307 | 308) {
                c.error(
                    &format!("{f}.redirect.redirectCode"),
                    format!("{code} is not a redirect status"),
                );
            }
        }
    }
}

fn string_match(c: &mut Check<'_, VirtualServiceSpec>, f: &str, sm: &StringMatch) {
    let set = [&sm.exact, &sm.prefix, &sm.regex]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if set != 1 {
        c.error(
            f,
            "a string match needs exactly one of exact, prefix and regex",
        );
    }
}

/// Weights, and the subsets and hosts the destinations name.
fn destinations(
    config: &EffectiveConfig,
    c: &mut Check<'_, VirtualServiceSpec>,
    f: &str,
    route: &[RouteDestination],
) {
    if route.len() > 1 {
        let sum: u64 = route.iter().map(|d| u64::from(d.weight.unwrap_or(0))).sum();
        if sum != 100 {
            c.error(
                f,
                format!("the weights of the destinations sum to {sum}, not 100"),
            );
        }
    }
    for (i, d) in route.iter().enumerate() {
        let df = format!("{f}[{i}]");
        if let Some(w) = d.weight.filter(|w| *w > 100) {
            c.error(&format!("{df}.weight"), format!("weight {w} is above 100"));
        }
        let host = config.destination_host(&d.destination, c.r.namespace());
        if host.starts_with('*') {
            c.error(
                &format!("{df}.destination.host"),
                "a destination host cannot be a wildcard",
            );
            continue;
        }
        let service = config.registry.get(&host);
        if service.is_none() {
            c.warn(
                &format!("{df}.destination.host"),
                format!("host {host} is not defined by any ServiceEntry or Service"),
            );
        }
        if let (Some(svc), Some(p)) = (service, d.destination.port) {
            if svc.port(p.number.get()).is_none() {
                c.error(
                    &format!("{df}.destination.port.number"),
                    format!("{host} has no port {}", p.number),
                );
            }
        }
        if let Some(subset) = &d.destination.subset {
            let defined = config
                .destination_rule_for(&host, None)
                .or_else(|| {
                    config
                        .destination_rules
                        .values()
                        .find(|dr| config.fqdn(dr.spec.host.as_str(), dr.namespace()) == host)
                })
                .is_some_and(|dr| dr.spec.subsets.iter().any(|s| &s.name == subset));
            if !defined {
                c.error(
                    &format!("{df}.destination.subset"),
                    format!("subset {subset:?} of {host} is not defined by any DestinationRule"),
                );
            }
        }
    }
}

fn destination_rule(c: &mut Check<'_, DestinationRuleSpec>) {
    let spec = &c.r.spec;
    if let Some(p) = &spec.traffic_policy {
        traffic_policy(c, "spec.trafficPolicy", p);
    }
    let mut names = BTreeSet::new();
    for (i, s) in spec.subsets.iter().enumerate() {
        let f = format!("spec.subsets[{i}]");
        if s.name.is_empty() {
            c.error(&format!("{f}.name"), "a subset needs a name");
        } else if !names.insert(s.name.as_str()) {
            c.error(
                &format!("{f}.name"),
                format!("subset {:?} is defined twice", s.name),
            );
        }
        if let Some(p) = &s.traffic_policy {
            traffic_policy(c, &format!("{f}.trafficPolicy"), p);
        }
    }
}

fn traffic_policy(c: &mut Check<'_, DestinationRuleSpec>, f: &str, p: &TrafficPolicy) {
    policy_parts(
        c,
        f,
        p.load_balancer.as_ref(),
        p.connection_pool.as_ref(),
        p.outlier_detection.as_ref(),
        p.tls.as_ref(),
    );
    let mut ports = BTreeSet::new();
    for (i, level) in p.port_level_settings.iter().enumerate() {
        let lf = format!("{f}.portLevelSettings[{i}]");
        if !ports.insert(level.port.number) {
            c.error(
                &format!("{lf}.port.number"),
                format!("port {} has two port-level settings", level.port.number),
            );
        }
        policy_parts(
            c,
            &lf,
            level.load_balancer.as_ref(),
            level.connection_pool.as_ref(),
            level.outlier_detection.as_ref(),
            level.tls.as_ref(),
        );
    }
}

fn policy_parts(
    c: &mut Check<'_, DestinationRuleSpec>,
    f: &str,
    lb: Option<&LoadBalancerSettings>,
    pool: Option<&ConnectionPoolSettings>,
    outlier: Option<&OutlierDetection>,
    tls: Option<&ClientTlsSettings>,
) {
    if let Some(lb) = lb {
        load_balancer(c, &format!("{f}.loadBalancer"), lb);
    }
    if let Some(pool) = pool {
        connection_pool(c, &format!("{f}.connectionPool"), pool);
    }
    if let Some(o) = outlier {
        let of = format!("{f}.outlierDetection");
        c.at_least_1ms(&format!("{of}.interval"), o.interval);
        c.at_least_1ms(&format!("{of}.baseEjectionTime"), o.base_ejection_time);
    }
    if let Some(tls) = tls {
        let tf = format!("{f}.tls");
        if tls.mode == TlsMode::Mutual && tls.credential_name.is_none() {
            if tls.client_certificate.is_none() {
                c.error(
                    &format!("{tf}.clientCertificate"),
                    "mode MUTUAL needs clientCertificate (or credentialName)",
                );
            }
            if tls.private_key.is_none() {
                c.error(
                    &format!("{tf}.privateKey"),
                    "mode MUTUAL needs privateKey (or credentialName)",
                );
            }
        }
        if tls.mode == TlsMode::IstioMutual
            && (tls.client_certificate.is_some()
                || tls.private_key.is_some()
                || tls.ca_certificates.is_some())
        {
            c.error(&tf, "mode ISTIO_MUTUAL uses the mesh certificates; clientCertificate, privateKey and caCertificates must be empty");
        }
    }
}

fn load_balancer<S>(c: &mut Check<'_, S>, f: &str, lb: &LoadBalancerSettings) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        c.error(f, "simple and consistentHash cannot both be set");
    }
    if let Some(h) = &lb.consistent_hash {
        let hf = format!("{f}.consistentHash");
        let keys = usize::from(h.http_header_name.is_some())
            + usize::from(h.http_cookie.is_some())
            + usize::from(h.use_source_ip == Some(true))
            + usize::from(h.http_query_parameter_name.is_some());
        if keys != 1 {
            c.error(&hf, "consistentHash needs exactly one of httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName");
        }
        if h.ring_hash.is_some() && h.maglev.is_some() {
            c.error(&hf, "ringHash and maglev cannot both be set");
        }
        if let Some(size) = h.maglev.and_then(|m| m.table_size) {
            if !is_prime(size) {
                c.error(
                    &format!("{hf}.maglev.tableSize"),
                    format!("the Maglev table size must be a prime, {size} is not"),
                );
            }
        }
        if let Some(cookie) = &h.http_cookie {
            if cookie.name.is_empty() {
                c.error(&format!("{hf}.httpCookie.name"), "the cookie needs a name");
            }
        }
    }
}

fn connection_pool<S>(c: &mut Check<'_, S>, f: &str, pool: &ConnectionPoolSettings) {
    if let Some(tcp) = &pool.tcp {
        c.at_least_1ms(&format!("{f}.tcp.connectTimeout"), tcp.connect_timeout);
        if let Some(ka) = &tcp.tcp_keepalive {
            c.at_least_1ms(&format!("{f}.tcp.tcpKeepalive.time"), ka.time);
            c.at_least_1ms(&format!("{f}.tcp.tcpKeepalive.interval"), ka.interval);
        }
    }
    if let Some(http) = &pool.http {
        if let Some(policy) = http.h2_upgrade_policy.as_deref() {
            if !matches!(policy, "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE") {
                c.error(
                    &format!("{f}.http.h2UpgradePolicy"),
                    format!("{policy:?} is not DEFAULT, DO_NOT_UPGRADE or UPGRADE"),
                );
            }
        }
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

fn peer_authentication(c: &mut Check<'_, PeerAuthenticationSpec>) {
    let spec = &c.r.spec;
    if !spec.port_level_mtls.is_empty() && spec.selector.is_none() {
        c.error(
            "spec.portLevelMtls",
            "portLevelMtls needs a selector (it names ports of specific workloads)",
        );
    }
    for port in spec.port_level_mtls.keys() {
        if *port == 0 {
            c.error("spec.portLevelMtls", "port 0 is out of range 1-65535");
        }
    }
}

fn authorization_policy(c: &mut Check<'_, AuthorizationPolicySpec>) {
    let spec = &c.r.spec;
    if spec.action == Action::Custom {
        c.error("spec.action", "CUSTOM (external authorization) is not supported by meshkit; refusing rather than allowing by mistake");
    }
    if spec.provider.is_some() && spec.action != Action::Custom {
        c.error("spec.provider", "provider is only for action CUSTOM");
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        let rf = format!("spec.rules[{i}]");
        for (j, to) in rule.to.iter().enumerate() {
            let of = format!("{rf}.to[{j}].operation");
            for (name, ports) in [
                ("ports", &to.operation.ports),
                ("notPorts", &to.operation.not_ports),
            ] {
                for (k, p) in ports.iter().enumerate() {
                    if p.parse::<u16>().ok().filter(|n| *n > 0).is_none() {
                        c.error(
                            &format!("{of}.{name}[{k}]"),
                            format!("{p:?} is not a port number 1-65535"),
                        );
                    }
                }
            }
        }
        for (j, cond) in rule.when.iter().enumerate() {
            let cf = format!("{rf}.when[{j}]");
            if !known_condition_key(&cond.key) {
                c.error(
                    &format!("{cf}.key"),
                    format!("{:?} is not a condition key Istio defines", cond.key),
                );
            }
            if cond.values.is_empty() && cond.not_values.is_empty() {
                c.error(&cf, "a condition needs values or notValues");
            }
            if cond.key == "destination.port" {
                for (k, v) in cond.values.iter().chain(&cond.not_values).enumerate() {
                    if v.parse::<u16>().ok().filter(|n| *n > 0).is_none() {
                        c.error(
                            &format!("{cf}.values[{k}]"),
                            format!("{v:?} is not a port number 1-65535"),
                        );
                    }
                }
            }
            if matches!(
                cond.key.as_str(),
                "source.ip" | "remote.ip" | "destination.ip"
            ) {
                for (k, v) in cond.values.iter().chain(&cond.not_values).enumerate() {
                    if let Err(e) = super::values::IpBlock::parse(v) {
                        c.error(&format!("{cf}.values[{k}]"), e);
                    }
                }
            }
        }
    }
}

fn sidecar_proxy(c: &mut Check<'_, SidecarProxySpec>) {
    let spec = &c.r.spec;
    if let Some(id) = &spec.identity {
        if id.service_account.is_empty() {
            c.error(
                "spec.identity.serviceAccount",
                "the service account must not be empty",
            );
        }
        if let Some(td) = &id.trust_domain {
            if td.is_empty() || td.contains('/') || td.contains(':') {
                c.error(
                    "spec.identity.trustDomain",
                    format!("{td:?} is not a trust domain (a DNS-like name)"),
                );
            }
        }
    }
    if let Some(addr) = spec.admin.as_ref().and_then(|a| a.address) {
        if !addr.ip().is_loopback() {
            c.warn("spec.admin.address", format!("the admin server on {addr} is reachable from outside this host; its endpoints include /quitquitquit"));
        }
    }
    if let Some(certs) = &spec.certificates {
        for (name, v) in [
            ("certChain", &certs.cert_chain),
            ("privateKey", &certs.private_key.0),
            ("rootCert", &certs.root_cert),
        ] {
            if v.is_empty() {
                c.error(
                    &format!("spec.certificates.{name}"),
                    "the path must not be empty",
                );
            }
        }
    }
    let mut ports = BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        if !ports.insert(p.port) {
            c.error(
                &format!("spec.ports[{i}].port"),
                format!("port {} is listed twice", p.port),
            );
        }
        c.at_least_1ms(
            &format!("spec.ports[{i}].detectionTimeout"),
            p.detection_timeout,
        );
        if p.max_connections == Some(0) {
            c.error(
                &format!("spec.ports[{i}].maxConnections"),
                "0 would refuse every connection",
            );
        }
    }
    if let Some(l) = &spec.listeners {
        c.at_least_1ms("spec.listeners.detectionTimeout", l.detection_timeout);
        if l.max_connections == Some(0) {
            c.error(
                "spec.listeners.maxConnections",
                "0 would refuse every connection",
            );
        }
    }
}

fn local_rate_limit(c: &mut Check<'_, LocalRateLimitSpec>) {
    let b = &c.r.spec.token_bucket;
    if b.max_tokens == 0 {
        c.error("spec.tokenBucket.maxTokens", "maxTokens must be at least 1");
    }
    if b.tokens_per_fill == Some(0) {
        c.error(
            "spec.tokenBucket.tokensPerFill",
            "tokensPerFill must be at least 1",
        );
    }
    if b.fill_interval.get() < std::time::Duration::from_millis(50) {
        c.error(
            "spec.tokenBucket.fillInterval",
            format!(
                "fillInterval {} is below Envoy's minimum of 50ms",
                b.fill_interval
            ),
        );
    }
}

fn circuit_breaker(c: &mut Check<'_, CircuitBreakerSpec>) {
    let spec = &c.r.spec;
    if spec.consecutive_failures == 0 {
        c.error(
            "spec.consecutiveFailures",
            "consecutiveFailures must be at least 1",
        );
    }
    c.at_least_1ms("spec.openDuration", Some(spec.open_duration));
    if spec.half_open_requests == Some(0) {
        c.error(
            "spec.halfOpenRequests",
            "halfOpenRequests must be at least 1",
        );
    }
}
