//! Mutual TLS between sidecars, on rustls with the ring provider.
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
pub mod spiffe;
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
