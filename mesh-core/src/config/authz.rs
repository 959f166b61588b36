//! Connection-level evaluation of `AuthorizationPolicy`, with Istio's
//! semantics for TCP traffic.
//!
//! The policies that apply to a workload are the mesh-wide ones (root
//! namespace, no selector), the namespace-wide ones (its namespace, no
//! selector) and those whose selector matches its labels. Then:
//!
//! 1. if any `DENY` policy matches, the connection is denied;
//! 2. else if no `ALLOW` policy applies, it is allowed;
//! 3. else it is allowed only if some `ALLOW` policy matches.
//!
//! `AUDIT` policies never change the decision; the matching ones are
//! reported. A connection carries no HTTP request, so, as Istio does for
//! TCP: a rule that needs an HTTP-only attribute (methods, paths, hosts,
//! request principals, `request.*` conditions) never matches in an `ALLOW`
//! policy, while in a `DENY` policy those attributes are dropped and the
//! rest of the rule decides (denying more, never less). The request-level
//! proxy evaluates them per request.

use std::net::IpAddr;

use serde::Serialize;

use super::authorization_policy::{
    Action, AuthorizationPolicySpec, Condition, Operation, Rule, Source,
};
use super::meta::labels_match;
use super::model::{EffectiveConfig, Workload};
use super::resource::Resource;
use super::values::{IpBlock, Pattern};
use crate::spiffe::IstioPrincipal;

/// What is known about a connection when it is accepted.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ConnectionInfo<'a> {
    /// The peer's SPIFFE identity from mTLS (`spiffe://td/ns/NS/sa/SA` or
    /// without the scheme); `None` for plaintext.
    pub principal: Option<&'a str>,
    /// The peer's address.
    pub source_ip: Option<IpAddr>,
    /// The local address the connection was made to.
    pub destination_ip: Option<IpAddr>,
    /// The port the connection was made to (the workload's port).
    pub destination_port: u16,
    /// The SNI the peer sent, when it used TLS.
    pub sni: Option<&'a str>,
}

impl<'a> ConnectionInfo<'a> {
    /// A connection to `port`.
    pub fn new(destination_port: u16) -> Self {
        ConnectionInfo {
            destination_port,
            ..ConnectionInfo::default()
        }
    }

    /// With the peer's identity.
    pub fn principal(mut self, principal: &'a str) -> Self {
        self.principal = Some(principal);
        self
    }

    /// With the peer's address.
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// With the local address.
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

/// The outcome of [`EffectiveConfig::authorize`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuthzDecision {
    /// Whether the connection may proceed.
    pub allowed: bool,
    /// Why.
    pub reason: AuthzReason,
    /// `namespace/name` of the deciding policy, when one decided.
    pub policy: Option<String>,
    /// `namespace/name` of each matching `AUDIT` policy.
    pub audited: Vec<String>,
}

/// Why a connection was allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthzReason {
    /// A `DENY` policy matched.
    DenyMatched,
    /// No `ALLOW` policy applies to the workload.
    NoAllowPolicy,
    /// An `ALLOW` policy matched.
    AllowMatched,
    /// `ALLOW` policies apply and none matched.
    NoAllowMatched,
}

/// Attributes a `when` condition may name at the connection level.
pub(crate) const TCP_CONDITION_KEYS: &[&str] = &[
    "source.ip",
    "source.namespace",
    "source.principal",
    "remote.ip",
    "destination.ip",
    "destination.port",
    "connection.sni",
];

/// Whether `key` is a valid `when` key (connection-level or HTTP-only).
pub(crate) fn known_condition_key(key: &str) -> bool {
    TCP_CONDITION_KEYS.contains(&key) || http_only_key(key)
}

fn http_only_key(key: &str) -> bool {
    key.starts_with("request.headers[")
        || key.starts_with("request.auth.")
        || key == "request.auth.principal"
        || key.starts_with("request.regex.headers[")
        || key.starts_with("experimental.envoy.filters.")
}

/// How HTTP-only attributes are treated (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum HttpOnly {
    /// The rule cannot match.
    NeverMatches,
    /// The attribute is dropped.
    Dropped,
}

struct Attrs<'a> {
    principal: Option<&'a str>,
    namespace: Option<&'a str>,
    conn: &'a ConnectionInfo<'a>,
}

impl EffectiveConfig {
    /// The policies that apply to `workload`, in namespace/name order.
    pub fn authorization_policies_for<'a>(
        &'a self,
        workload: &'a Workload,
    ) -> impl Iterator<Item = &'a Resource<AuthorizationPolicySpec>> + 'a {
        self.authorization_policies.values().filter(move |p| {
            let ns = p.namespace();
            match &p.spec.selector {
                None => ns == self.mesh.root_namespace || ns == workload.namespace,
                Some(sel) => {
                    ns == workload.namespace && labels_match(&sel.match_labels, &workload.labels)
                }
            }
        })
    }

    /// Decides whether a connection to `workload` may proceed; see the
    /// [module docs](super::authz).
    pub fn authorize(&self, workload: &Workload, conn: &ConnectionInfo<'_>) -> AuthzDecision {
        let principal = conn
            .principal
            .map(|p| p.strip_prefix("spiffe://").unwrap_or(p));
        let attrs = Attrs {
            principal,
            namespace: principal
                .and_then(IstioPrincipal::parse)
                .map(|id| id.namespace),
            conn,
        };
        let name =
            |p: &Resource<AuthorizationPolicySpec>| format!("{}/{}", p.namespace(), p.name());
        let policies: Vec<_> = self.authorization_policies_for(workload).collect();
        let audited = policies
            .iter()
            .filter(|p| {
                p.spec.action == Action::Audit && policy_matches(p, &attrs, HttpOnly::NeverMatches)
            })
            .map(|p| name(p))
            .collect();
        let decision = |allowed, reason, policy| AuthzDecision {
            allowed,
            reason,
            policy,
            audited,
        };
        if let Some(p) = policies
            .iter()
            .find(|p| p.spec.action == Action::Deny && policy_matches(p, &attrs, HttpOnly::Dropped))
        {
            return decision(false, AuthzReason::DenyMatched, Some(name(p)));
        }
        let mut allow = policies
            .iter()
            .filter(|p| p.spec.action == Action::Allow)
            .peekable();
        if allow.peek().is_none() {
            return decision(true, AuthzReason::NoAllowPolicy, None);
        }
        match allow.find(|p| policy_matches(p, &attrs, HttpOnly::NeverMatches)) {
            Some(p) => decision(true, AuthzReason::AllowMatched, Some(name(p))),
            None => decision(false, AuthzReason::NoAllowMatched, None),
        }
    }
}

fn policy_matches(p: &Resource<AuthorizationPolicySpec>, a: &Attrs<'_>, http: HttpOnly) -> bool {
    p.spec.rules.iter().any(|r| rule_matches(r, a, http))
}

fn rule_matches(rule: &Rule, a: &Attrs<'_>, http: HttpOnly) -> bool {
    (rule.from.is_empty() || rule.from.iter().any(|f| source_matches(&f.source, a, http)))
        && (rule.to.is_empty()
            || rule
                .to
                .iter()
                .any(|t| operation_matches(&t.operation, a, http)))
        && rule.when.iter().all(|c| condition_matches(c, a, http))
}

/// `values` must match (when given) and `not_values` must not.
fn field<T>(values: &[T], not_values: &[T], matches: impl Fn(&T) -> bool) -> bool {
    (values.is_empty() || values.iter().any(&matches)) && !not_values.iter().any(matches)
}

fn pattern_field(values: &[Pattern], not_values: &[Pattern], value: Option<&str>) -> bool {
    field(values, not_values, |p| value.is_some_and(|v| p.matches(v)))
}

fn ip_field(values: &[IpBlock], not_values: &[IpBlock], ip: Option<IpAddr>) -> bool {
    field(values, not_values, |b| ip.is_some_and(|ip| b.contains(ip)))
}

fn http_field(present: bool, http: HttpOnly) -> bool {
    !present || http == HttpOnly::Dropped
}

fn source_matches(s: &Source, a: &Attrs<'_>, http: HttpOnly) -> bool {
    pattern_field(&s.principals, &s.not_principals, a.principal)
        && pattern_field(&s.namespaces, &s.not_namespaces, a.namespace)
        && ip_field(&s.ip_blocks, &s.not_ip_blocks, a.conn.source_ip)
        && ip_field(
            &s.remote_ip_blocks,
            &s.not_remote_ip_blocks,
            a.conn.source_ip,
        )
        && http_field(
            !s.request_principals.is_empty() || !s.not_request_principals.is_empty(),
            http,
        )
}

fn operation_matches(o: &Operation, a: &Attrs<'_>, http: HttpOnly) -> bool {
    let port = a.conn.destination_port.to_string();
    field(&o.ports, &o.not_ports, |p| *p == port)
        && http_field(
            !(o.hosts.is_empty()
                && o.not_hosts.is_empty()
                && o.methods.is_empty()
                && o.not_methods.is_empty()
                && o.paths.is_empty()
                && o.not_paths.is_empty()),
            http,
        )
}

fn condition_matches(c: &Condition, a: &Attrs<'_>, http: HttpOnly) -> bool {
    let text = |values: &[String], value: Option<&str>| {
        field(values, &[], |v| {
            value.is_some_and(|x| Pattern::parse(v).is_ok_and(|p| p.matches(x)))
        })
    };
    let ip = |values: &[String], ip: Option<IpAddr>| {
        field(values, &[], |v| {
            ip.is_some_and(|ip| IpBlock::parse(v).is_ok_and(|b| b.contains(ip)))
        })
    };
    let port = a.conn.destination_port.to_string();
    let check = |values: &[String]| -> bool {
        match c.key.as_str() {
            "source.principal" => text(values, a.principal),
            "source.namespace" => text(values, a.namespace),
            "source.ip" | "remote.ip" => ip(values, a.conn.source_ip),
            "destination.ip" => ip(values, a.conn.destination_ip),
            "destination.port" => values.contains(&port),
            "connection.sni" => text(values, a.conn.sni),
            _ => false,
        }
    };
    if !TCP_CONDITION_KEYS.contains(&c.key.as_str()) {
        return http_field(true, http);
    }
    (c.values.is_empty() || check(&c.values)) && (c.not_values.is_empty() || !check(&c.not_values))
}
