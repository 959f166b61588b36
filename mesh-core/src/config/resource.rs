//! A parsed resource with its metadata and where it came from.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::authorization_policy::AuthorizationPolicySpec;
use super::destination_rule::DestinationRuleSpec;
use super::kube_service::KubeServiceSpec;
use super::meshkit::{CircuitBreakerSpec, LocalRateLimitSpec, SidecarProxySpec};
use super::meta::ObjectMeta;
use super::node::{Node, Position};
use super::peer_authentication::PeerAuthenticationSpec;
use super::service_entry::{ServiceEntrySpec, WorkloadEntrySpec};
use super::sidecar::SidecarSpec;
use super::virtual_service::VirtualServiceSpec;

/// The kinds meshkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum Kind {
    /// Istio `Sidecar`.
    Sidecar,
    /// Istio `ServiceEntry`.
    ServiceEntry,
    /// Istio `WorkloadEntry`.
    WorkloadEntry,
    /// Kubernetes `Service`.
    Service,
    /// Istio `VirtualService`.
    VirtualService,
    /// Istio `DestinationRule`.
    DestinationRule,
    /// Istio `PeerAuthentication`.
    PeerAuthentication,
    /// Istio `AuthorizationPolicy`.
    AuthorizationPolicy,
    /// meshkit `SidecarProxy`.
    SidecarProxy,
    /// meshkit `LocalRateLimit`.
    LocalRateLimit,
    /// meshkit `CircuitBreaker`.
    CircuitBreaker,
}

impl Kind {
    /// The `kind:` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Sidecar => "Sidecar",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::WorkloadEntry => "WorkloadEntry",
            Kind::Service => "Service",
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::PeerAuthentication => "PeerAuthentication",
            Kind::AuthorizationPolicy => "AuthorizationPolicy",
            Kind::SidecarProxy => "SidecarProxy",
            Kind::LocalRateLimit => "LocalRateLimit",
            Kind::CircuitBreaker => "CircuitBreaker",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a resource was written: file, document and position, kept so that
/// validation after parsing can still point at a line.
#[derive(Clone, Serialize)]
pub struct Origin {
    /// The file (or source name).
    pub file: String,
    /// The 1-based document index in the file.
    pub document: usize,
    /// Where the document's root starts.
    pub position: Position,
    /// The path of the resource inside the document (`items[2]` in a
    /// `List`), empty for a top-level resource.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub base: String,
    #[serde(skip)]
    pub(crate) tree: Arc<Node>,
}

impl Origin {
    /// The position of a field path of this resource (or of its deepest
    /// existing parent).
    pub(crate) fn locate(&self, field: &str) -> Position {
        if self.base.is_empty() {
            self.tree.locate(field)
        } else if field.is_empty() {
            self.tree.locate(&self.base)
        } else {
            self.tree.locate(&format!("{}.{field}", self.base))
        }
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}@{}", self.file, self.document, self.position)
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file && self.document == other.document && self.base == other.base
    }
}

/// One resource of kind `S`: its metadata, spec and origin. The namespace
/// in `metadata` is always set (the loader's default fills it in).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Resource<S> {
    /// `apiVersion` as written.
    pub api_version: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: S,
    /// Where it was written.
    pub origin: Origin,
}

impl<S> Resource<S> {
    /// The namespace.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace()
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

/// A resource of any kind, as the loader produces them.
#[derive(Debug, Clone, PartialEq)]
// Resources are few and short-lived in the loader: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AnyResource {
    Sidecar(Resource<SidecarSpec>),
    ServiceEntry(Resource<ServiceEntrySpec>),
    WorkloadEntry(Resource<WorkloadEntrySpec>),
    Service(Resource<KubeServiceSpec>),
    VirtualService(Resource<VirtualServiceSpec>),
    DestinationRule(Resource<DestinationRuleSpec>),
    PeerAuthentication(Resource<PeerAuthenticationSpec>),
    AuthorizationPolicy(Resource<AuthorizationPolicySpec>),
    SidecarProxy(Resource<SidecarProxySpec>),
    LocalRateLimit(Resource<LocalRateLimitSpec>),
    CircuitBreaker(Resource<CircuitBreakerSpec>),
}
