//! Listener lookups: which ports a workload's sidecar listens on, how it
//! treats each, and the local rate limits on them.

use super::*;

impl EffectiveConfig {
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
                            Some(crate::config::kube_service::TargetPort::Number(n)) => n.get(),
                            // A named container port: the workload's port numbers are
                            // not in the config, so this port cannot be listened on.
                            Some(crate::config::kube_service::TargetPort::Name(_)) => continue,
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
}
