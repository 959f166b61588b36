//! Mutual TLS between sidecars, on rustls with the ring provider.
//!
//! Sidecars authenticate each other with SPIFFE identities
//! (`spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`): each
//! side presents an X.509-SVID and checks the other's chain against the
//! trust bundle, then its trust domain and an allow-list. A wrong peer
//! fails inside the handshake, with an error that names what was expected
//! and what was presented.
//!
//! - [`spiffe`]: ids and trust domains, validated at parse time.
//! - [`material`] and [`store`]: a workload's chain, key and bundle, loaded
//!   from PEM and checked (a key that does not match its certificate is a
//!   load error), swapped whole on reload; [`CertStore::watch`] reloads when
//!   the files change (a Kubernetes Secret's symlink swap included) and keeps
//!   the old material when the new one is broken.
//! - [`verify`]: the client and server certificate verifiers and the
//!   [`PeerPolicy`] they enforce; [`svid`] reads the id from a certificate.
//! - [`config`]: rustls server and client configurations over a store, with
//!   the ring provider named in every builder (never a process default),
//!   TLS 1.3, and TLS 1.2 by configuration.
//! - [`istio`]: the ALPN names (`istio-h2`, `istio-http/1.1`, ...) and the
//!   `outbound_.<port>_.<subset>_.<host>` SNI sidecars use between them.
//! - [`MtlsConnector`]: mesh-core's [`Connect`](mesh_core::Connect) over
//!   mTLS; [`MtlsAcceptor`]: the server end. Both give an [`MtlsStream`]
//!   that tells who the peer is ([`PeerInfo`]).
//! - [`hello`] and [`TlsSniffer`]: a zero-copy ClientHello parser (SNI,
//!   ALPN, versions, JA3) and the detector's TLS sniffer.
//! - [`dev_ca`]: a development CA issuing SPIFFE certificates (rcgen).
//!
//! # Example
//!
//! An inbound port that lets only `productpage` in, and `productpage`
//! reaching it as an Istio sidecar would:
//!
//! ```
//! use mesh_core::{Connect, Protocol, Target};
//! use mesh_tls::dev_ca::DevCa;
//! use mesh_tls::istio::OutboundSni;
//! use mesh_tls::{
//!     CertStore, ClientOptions, MtlsAcceptor, MtlsConnector, PeerPolicy, ServerOptions, SpiffeId,
//!     TrustDomain,
//! };
//!
//! # type Error = Box<dyn std::error::Error + Send + Sync>;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let td = TrustDomain::new("cluster.local")?;
//! let ca = DevCa::new(&td)?;
//! let reviews = td.istio_id("default", "reviews")?;
//! let productpage = td.istio_id("default", "productpage")?;
//! let store_for = |id: &SpiffeId| -> Result<_, Error> {
//!     let cert = ca.issue(id)?;
//!     let bundle = ca.bundle_pem().as_bytes();
//!     Ok(CertStore::from_pem(cert.chain_pem.as_bytes(), cert.key_pem.as_bytes(), bundle)?)
//! };
//!
//! // Inbound, on reviews' sidecar.
//! let options = ServerOptions {
//!     peers: PeerPolicy::allow([productpage.clone()]),
//!     ..ServerOptions::default()
//! };
//! let acceptor = MtlsAcceptor::new(&store_for(&reviews)?, &options)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let (socket, _) = listener.accept().await?;
//!     let tls = acceptor.accept(socket).await?;
//!     Ok::<_, Error>(tls.peer_identity().clone())
//! });
//!
//! // Outbound, on productpage's sidecar.
//! let connector = MtlsConnector::new(store_for(&productpage)?, ClientOptions::default());
//! let sni = OutboundSni::new(9080, None, "reviews.default.svc.cluster.local");
//! let target = Target::new(addr)
//!     .with_server_name(sni.to_string())
//!     .with_peer_identities([reviews.as_str()])
//!     .with_protocol(Protocol::Http2);
//! let stream = connector.connect(&target).await?;
//! assert_eq!(stream.peer_identity(), &reviews);
//! assert_eq!(stream.peer().alpn.as_deref(), Some(&b"istio-h2"[..]));
//! assert_eq!(server.await??, productpage);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod accept;
pub mod config;
pub mod connect;
pub mod dev_ca;
pub mod handshake;
pub mod hello;
pub mod istio;
pub mod material;
pub mod sniff;
pub use mesh_core::spiffe;
pub mod store;
pub mod stream;
pub mod svid;
pub mod verify;

pub use accept::MtlsAcceptor;
pub use config::{ServerOptions, TlsVersions};
pub use connect::{ClientOptions, MtlsConnector};
pub use handshake::HandshakeError;
pub use material::{CertPaths, LoadError, Material};
pub use sniff::TlsSniffer;
pub use spiffe::{SpiffeId, TrustDomain};
pub use store::CertStore;
pub use stream::{MtlsStream, PeerInfo};
pub use verify::{PeerPolicy, PeerRole, VerifyError, VerifyErrorKind};
