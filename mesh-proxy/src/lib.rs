//! The sidecar data path as a library: what `mesh-sidecar` runs, reusable
//! by a custom proxy.
//!
//! mesh-core holds the vocabulary and the configuration model, and the
//! protocol and policy crates each own one concern; this crate composes
//! them into a proxy: [`mesh_resilience`] clusters with [`mesh_tls`] mTLS,
//! sniffers from `mesh-http` and `mesh-codecs`, and the Istio
//! configuration of [`mesh_core::config`]. (mesh-core cannot do this
//! itself: the crates it would compose depend on it.)
//!
//! - [`Proxy`]: listeners from the configuration (explicit `Sidecar`
//!   ingress and egress ports, and the transparent-capture ports 15001 and
//!   15006 that read `SO_ORIGINAL_DST`, see [`capture`]), each with a cap on
//!   open connections, a per-connection buffer budget and a local rate
//!   limit; hot reload ([`Proxy::reload`]: a new snapshot is built and
//!   swapped in atomically, listeners opened and closed, established
//!   connections kept); graceful drain ([`Proxy::drain`]).
//! - [`inbound`]: PeerAuthentication `STRICT` / `PERMISSIVE` / `DISABLE`
//!   ([`inbound::classify`]), mesh mTLS termination, AuthorizationPolicy at
//!   the connection level, forwarding to the application.
//! - [`outbound`]: the destination service (listener hosts or original
//!   destination), the VirtualService TCP route, and [`upstream`]
//!   clusters: pool limits, connect timeout, load balancing, outlier
//!   ejection on connect failures, DNS re-resolution
//!   ([`resolve::Resolve`] is injectable), and mesh mTLS origination with
//!   Istio's SNI and ALPN and the endpoint's SPIFFE identity checked.
//! - [`metrics`]: Istio's TCP families (source labels from the peer's
//!   identity), detection outcomes and latency, certificate expiry;
//!   [`access_log`]: Istio's text or JSON line per connection;
//!   [`admin`]: `/ready`, `/stats/prometheus`, `/config_dump`, `/clusters`,
//!   `/logging`, `/quitquitquit`.
//!
//! # Example
//!
//! Two proxies on loopback: `web`'s forwards its egress port over mesh
//! mTLS to `echo`'s, which checks `web`'s identity (STRICT) and hands the
//! bytes to the echo application.
//!
//! ```
//! use std::sync::Arc;
//! use mesh_core::config::{LoadOptions, load_str};
//! use mesh_proxy::{Proxy, ProxyOptions};
//! use mesh_tls::{CertStore, TrustDomain, dev_ca::DevCa};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # type Error = Box<dyn std::error::Error + Send + Sync>;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! // The application: echoes one message.
//! let app = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app_addr = app.local_addr()?;
//! tokio::spawn(async move {
//!     let (mut s, _) = app.accept().await?;
//!     let mut buf = [0u8; 5];
//!     s.read_exact(&mut buf).await?;
//!     s.write_all(&buf).await
//! });
//! let free = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
//! let (inbound, egress, unused) = (free()?.port(), free()?.port(), free()?.port());
//!
//! // Certificates from a development CA.
//! let td = TrustDomain::new("cluster.local")?;
//! let ca = DevCa::new(&td)?;
//! let certs = |sa: &str| -> Result<Arc<CertStore>, Error> {
//!     let cert = ca.issue(&td.istio_id("shop", sa)?)?;
//!     let bundle = ca.bundle_pem().as_bytes();
//!     Ok(CertStore::from_pem(cert.chain_pem.as_bytes(), cert.key_pem.as_bytes(), bundle)?)
//! };
//! let start = |yaml: String, sa: &str| -> Result<Proxy, Error> {
//!     let config = load_str("inline.yaml", &yaml, &LoadOptions::default())?.config;
//!     let options = ProxyOptions { certs: Some(certs(sa)?), ..ProxyOptions::default() };
//!     Ok(Proxy::new(config, options)?)
//! };
//!
//! let echo = start(format!(r#"
//! apiVersion: meshkit.dev/v1alpha1
//! kind: SidecarProxy
//! metadata: {{name: echo, namespace: shop}}
//! spec: {{identity: {{serviceAccount: echo, labels: {{app: echo}}}}}}
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: Sidecar
//! metadata: {{name: echo, namespace: shop}}
//! spec:
//!   ingress:
//!   - {{port: {{number: {inbound}, name: tcp}}, bind: 127.0.0.1, captureMode: NONE, defaultEndpoint: "{app_addr}"}}
//!   egress:
//!   - {{port: {{number: {unused}}}, bind: 127.0.0.1, captureMode: NONE, hosts: ["~/*"]}}
//! ---
//! apiVersion: security.istio.io/v1
//! kind: PeerAuthentication
//! metadata: {{name: default, namespace: shop}}
//! spec: {{mtls: {{mode: STRICT}}}}
//! "#), "echo")?;
//! let web = start(format!(r#"
//! apiVersion: meshkit.dev/v1alpha1
//! kind: SidecarProxy
//! metadata: {{name: web, namespace: shop}}
//! spec: {{identity: {{serviceAccount: web}}}}
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: Sidecar
//! metadata: {{name: web, namespace: shop}}
//! spec:
//!   egress:
//!   - {{port: {{number: {egress}}}, bind: 127.0.0.1, captureMode: NONE, hosts: [./echo.shop.svc.cluster.local]}}
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: ServiceEntry
//! metadata: {{name: echo, namespace: shop}}
//! spec:
//!   hosts: [echo.shop.svc.cluster.local]
//!   ports: [{{number: 7000, name: tcp, targetPort: {inbound}}}]
//!   resolution: STATIC
//!   endpoints: [{{address: 127.0.0.1, serviceAccount: echo}}]
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: DestinationRule
//! metadata: {{name: echo, namespace: shop}}
//! spec: {{host: echo.shop.svc.cluster.local, trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}}}
//! "#), "web")?;
//! echo.start().await?;
//! web.start().await?;
//!
//! // The web application reaches echo through its sidecar.
//! let mut s = tokio::net::TcpStream::connect(("127.0.0.1", egress)).await?;
//! s.write_all(b"hello").await?;
//! let mut back = [0u8; 5];
//! s.read_exact(&mut back).await?;
//! assert_eq!(&back, b"hello");
//! assert!(web.encode_metrics().contains("istio_tcp_connections_opened_total{reporter=\"source\""));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod capture;
mod conn;
pub mod drain;
pub mod error;
pub mod inbound;
pub mod io;
pub mod metrics;
pub mod outbound;
pub mod proxy;
pub mod resolve;
pub mod snapshot;
pub mod upstream;

pub use access_log::{AccessLog, AccessLogEntry};
pub use admin::{Admin, EnvFilterControl, LogControl};
pub use conn::Metered;
pub use drain::{Drain, DrainSummary};
pub use error::ProxyError;
pub use proxy::{Proxy, ProxyOptions, ReloadSummary};
pub use resolve::{Resolve, StaticResolver, SystemResolver};
pub use snapshot::{ListenerKey, ListenerRole, Snapshot};
pub use upstream::{ClusterKey, ConnectFailure, Connectors, UpstreamCluster};

/// The README's examples, compiled and run as doc tests (here, where every
/// crate they use is a dependency).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
