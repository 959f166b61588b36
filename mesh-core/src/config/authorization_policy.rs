//! Istio `AuthorizationPolicy` (`security.istio.io`): who may connect to a
//! workload. Evaluation is in [`super::authz`].

use serde::{Deserialize, Serialize};

use super::meta::LabelSelector;
use super::values::{Ignored, IpBlock, Pattern};

/// The `spec` of an `AuthorizationPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuthorizationPolicySpec {
    /// The workloads; absent means the namespace (or, in the root namespace,
    /// the mesh).
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// What a match does (default `ALLOW`).
    #[serde(default)]
    pub action: Action,
    /// Rules, any of which matches; none means the policy matches nothing
    /// (an `ALLOW` policy with no rules therefore denies everything).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The external authorizer of a `CUSTOM` policy.
    #[serde(default, skip_serializing)]
    pub provider: Option<Ignored>,
    /// Gateway targets (accepted; meshkit is a sidecar).
    #[serde(default, skip_serializing)]
    pub target_ref: Option<Ignored>,
    /// Gateway targets (accepted; meshkit is a sidecar).
    #[serde(default, skip_serializing)]
    pub target_refs: Option<Ignored>,
}

/// `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Allow a matching request; when any ALLOW policy applies, others are
    /// denied.
    #[default]
    Allow,
    /// Deny a matching request (evaluated before ALLOW).
    Deny,
    /// Log a matching request; no effect on the decision.
    Audit,
    /// Delegate to an external authorizer (not supported by meshkit: a
    /// validation error, so that nothing is allowed by mistake).
    Custom,
}

/// `rules[]`: `from`, `to` and `when`, all of which must match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Rule {
    /// Sources, any of which matches; none means any source.
    #[serde(default)]
    pub from: Vec<From>,
    /// Operations, any of which matches; none means any operation.
    #[serde(default)]
    pub to: Vec<To>,
    /// Conditions, all of which must match.
    #[serde(default)]
    pub when: Vec<Condition>,
}

/// `from[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct From {
    /// The source.
    pub source: Source,
}

/// `to[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct To {
    /// The operation.
    pub operation: Operation,
}

/// `source`: every set field must match; within a field, any value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Source {
    /// Peer identities (`cluster.local/ns/foo/sa/bar`, with `*` wildcards);
    /// need mTLS.
    #[serde(default)]
    pub principals: Vec<Pattern>,
    /// Peer identities that must not match.
    #[serde(default)]
    pub not_principals: Vec<Pattern>,
    /// JWT principals (HTTP only).
    #[serde(default)]
    pub request_principals: Vec<Pattern>,
    /// JWT principals that must not match (HTTP only).
    #[serde(default)]
    pub not_request_principals: Vec<Pattern>,
    /// The peer's namespace, from its identity; needs mTLS.
    #[serde(default)]
    pub namespaces: Vec<Pattern>,
    /// Namespaces that must not match.
    #[serde(default)]
    pub not_namespaces: Vec<Pattern>,
    /// The peer's IP address.
    #[serde(default)]
    pub ip_blocks: Vec<IpBlock>,
    /// Addresses that must not match.
    #[serde(default)]
    pub not_ip_blocks: Vec<IpBlock>,
    /// The original client address (`X-Forwarded-For`); for plain TCP, the
    /// peer's address.
    #[serde(default)]
    pub remote_ip_blocks: Vec<IpBlock>,
    /// Remote addresses that must not match.
    #[serde(default)]
    pub not_remote_ip_blocks: Vec<IpBlock>,
}

/// `operation`: every set field must match; within a field, any value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Operation {
    /// Destination ports, as strings (`"8080"`).
    #[serde(default)]
    pub ports: Vec<String>,
    /// Ports that must not match.
    #[serde(default)]
    pub not_ports: Vec<String>,
    /// Hosts (HTTP only).
    #[serde(default)]
    pub hosts: Vec<Pattern>,
    /// Hosts that must not match (HTTP only).
    #[serde(default)]
    pub not_hosts: Vec<Pattern>,
    /// Methods (HTTP only).
    #[serde(default)]
    pub methods: Vec<Pattern>,
    /// Methods that must not match (HTTP only).
    #[serde(default)]
    pub not_methods: Vec<Pattern>,
    /// Paths (HTTP only).
    #[serde(default)]
    pub paths: Vec<Pattern>,
    /// Paths that must not match (HTTP only).
    #[serde(default)]
    pub not_paths: Vec<Pattern>,
}

/// `when[]`: an attribute `key` and its accepted `values`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Condition {
    /// The attribute (`source.ip`, `request.headers[x-user]`, ...).
    pub key: String,
    /// Values, any of which matches.
    #[serde(default)]
    pub values: Vec<String>,
    /// Values that must not match.
    #[serde(default)]
    pub not_values: Vec<String>,
}
