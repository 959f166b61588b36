//! Identity lookups: the PeerAuthentication mode in force and the workload
//! behind a peer's service account or principal.

use super::*;

impl EffectiveConfig {
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
}
