//! The Istio and Kubernetes configuration a sidecar reads, validated and
//! indexed (cargo feature `config`).
//!
//! Users keep the YAML they have: `Sidecar`, `ServiceEntry`,
//! `WorkloadEntry`, `VirtualService`, `DestinationRule`
//! (`networking.istio.io`), `PeerAuthentication`, `AuthorizationPolicy`
//! (`security.istio.io`) and Kubernetes `Service`. meshkit adds kinds in
//! its own group ([`meshkit::GROUP`]) only where Istio has none:
//! `SidecarProxy` (identity, admin address, certificate paths, listener
//! limits, detection deadlines), `LocalRateLimit` and `CircuitBreaker`.
//!
//! - [`load_paths`], [`load_str`] and [`Loader`] read files, directories
//!   and multi-document YAML (serde-saphyr, duplicate keys refused, sizes
//!   bounded by [`LoadLimits`]). A bad value is an error that names the
//!   file, the document, the line and the field path; an unknown field is a
//!   warning; an unknown kind is skipped with a note. See [`load`].
//! - [`EffectiveConfig`] holds every resource by `namespace/name` and
//!   answers what a proxy asks: [`listeners`](EffectiveConfig::listeners),
//!   [`cluster`](EffectiveConfig::cluster) (endpoints and merged
//!   DestinationRule policy for a host, port and subset),
//!   [`tcp_route`](EffectiveConfig::tcp_route),
//!   [`mtls_mode`](EffectiveConfig::mtls_mode) (PeerAuthentication
//!   precedence), [`authorize`](EffectiveConfig::authorize)
//!   (AuthorizationPolicy at the connection level, see [`authz`]),
//!   [`workload_for_principal`](EffectiveConfig::workload_for_principal)
//!   (metric source labels) and [`to_json`](EffectiveConfig::to_json) (a
//!   config dump, secrets redacted).
//!
//! # Example
//!
//! ```
//! use mesh_core::config::{ConnectionInfo, LoadOptions, MtlsMode, RouteQuery, load_str};
//!
//! let yaml = r#"
//! apiVersion: meshkit.dev/v1alpha1
//! kind: SidecarProxy
//! metadata: {name: reviews, namespace: shop}
//! spec:
//!   identity: {serviceAccount: reviews, labels: {app: reviews}}
//! ---
//! apiVersion: security.istio.io/v1
//! kind: PeerAuthentication
//! metadata: {name: default, namespace: shop}
//! spec:
//!   mtls: {mode: STRICT}
//! ---
//! apiVersion: security.istio.io/v1
//! kind: AuthorizationPolicy
//! metadata: {name: from-frontend, namespace: shop}
//! spec:
//!   selector: {matchLabels: {app: reviews}}
//!   rules:
//!   - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
//! "#;
//! let loaded = load_str("inline.yaml", yaml, &LoadOptions::default()).unwrap();
//! let config = &loaded.config;
//! let me = config.local_workload().unwrap();
//! assert_eq!(config.mtls_mode(&me, 9080).mode, MtlsMode::Strict);
//!
//! let frontend = ConnectionInfo::new(9080).principal("spiffe://cluster.local/ns/shop/sa/frontend");
//! assert!(config.authorize(&me, &frontend).allowed);
//! let other = ConnectionInfo::new(9080).principal("spiffe://cluster.local/ns/shop/sa/other");
//! assert!(!config.authorize(&me, &other).allowed);
//!
//! // No VirtualService: the default route is the host itself.
//! let route = config.tcp_route(&RouteQuery::new("ratings", 9080).source(&me));
//! assert_eq!(route.destinations[0].host, "ratings.shop.svc.cluster.local");
//! ```

pub mod authorization_policy;
pub mod authz;
pub(crate) mod de;
pub mod destination_rule;
pub mod error;
pub mod kube_service;
pub mod load;
pub mod meshkit;
pub mod meta;
pub mod model;
pub(crate) mod node;
pub mod peer_authentication;
pub mod registry;
pub mod resource;
pub mod service_entry;
pub mod sidecar;
mod validate;
pub mod values;
pub mod virtual_service;

pub use authz::{AuthzDecision, AuthzReason, ConnectionInfo};
pub use error::{ConfigError, Diagnostic, Severity};
pub use load::{LoadLimits, LoadOptions, Loaded, Loader, load_paths, load_str};
pub use model::{
    Cluster, ClusterEndpoint, EffectiveConfig, Listener, MtlsDecision, Route, RouteQuery,
    WeightedDestination, Workload,
};
pub use node::Position;
pub use peer_authentication::MtlsMode;
pub use resource::{Kind, Origin, Resource};
pub use values::{Duration, Host, IpBlock, Pattern, Port, Redacted};
