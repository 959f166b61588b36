//! Upstream lookups: `DestinationRule` traffic policies, clusters and the
//! meshkit circuit breaker for a host and port.

use super::*;

impl EffectiveConfig {
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
}
