//! Routing lookups: `VirtualService` TCP and TLS routes for a host and port.

use super::*;

impl EffectiveConfig {
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
                        l4_matches(
                            m.port,
                            &m.source_labels,
                            m.source_namespace.as_deref(),
                            &m.destination_subnets,
                            query,
                        )
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
                        && l4_matches(
                            m.port,
                            &m.source_labels,
                            m.source_namespace.as_deref(),
                            &m.destination_subnets,
                            query,
                        )
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

fn subnet_matches(subnets: &[crate::config::values::IpBlock], ip: Option<IpAddr>) -> bool {
    subnets.is_empty() || ip.is_some_and(|ip| subnets.iter().any(|b| b.contains(ip)))
}

/// The attributes TCP and TLS route matches share: the port, the source
/// workload's labels and namespace, and the destination subnets.
fn l4_matches(
    port: Option<crate::config::values::Port>,
    source_labels: &Labels,
    source_namespace: Option<&str>,
    subnets: &[crate::config::values::IpBlock],
    query: &RouteQuery<'_>,
) -> bool {
    port.is_none_or(|p| p.get() == query.port)
        && source_matches(source_labels, source_namespace, query.source)
        && subnet_matches(subnets, query.destination_ip)
}
