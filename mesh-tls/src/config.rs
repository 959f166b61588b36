//! rustls configurations for mesh mTLS, on the ring provider.
//!
//! The provider is named explicitly in every builder
//! (`builder_with_provider(ring_provider())`); this crate never installs or
//! relies on a process-wide default provider, so it cannot pick up
//! aws-lc-rs or whatever another crate installed.
//!
//! Certificates are resolved, and peers verified, against the
//! [`CertStore`]'s current material at each handshake: a rotation needs no
//! new configuration.

use std::sync::Arc;
use std::time::Duration;

use mesh_core::{ErrorClass, Side};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig, SignatureScheme, SupportedProtocolVersion};

use crate::istio;
use crate::store::CertStore;
use crate::verify::{PeerPolicy, SpiffeClientVerifier, SpiffeServerVerifier};

/// The ring crypto provider, as every configuration of this crate uses it.
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which TLS versions to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.3 only: what sidecars speak to each other.
    #[default]
    Tls13,
    /// TLS 1.3, and TLS 1.2 for peers that cannot do better (older
    /// proxies, some client libraries).
    Tls12And13,
}

impl TlsVersions {
    /// The rustls versions.
    pub fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            TlsVersions::Tls13 => &TLS13,
            TlsVersions::Tls12And13 => &BOTH,
        }
    }
}

/// rustls rejected a configuration (a version the provider lacks).
#[derive(Debug, thiserror::Error)]
#[error("rustls refused the TLS configuration: {0}")]
pub struct ConfigError(#[from] pub rustls::Error);

impl ErrorClass for ConfigError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// Settings of an mTLS server (an inbound listener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// TLS versions. Default TLS 1.3 only.
    pub versions: TlsVersions,
    /// ALPN names accepted, in order of preference. Default
    /// [`istio::SERVER_ALPN`]. A client that offers ALPN but none of these
    /// is refused (`no_application_protocol`); one that offers none is
    /// accepted.
    pub alpn: Vec<Vec<u8>>,
    /// Which clients are accepted. Default: any id of the own trust domain.
    pub peers: PeerPolicy,
    /// Give up on a handshake after this long. Default 10 s.
    pub handshake_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            versions: TlsVersions::default(),
            alpn: istio::SERVER_ALPN.iter().map(|a| a.to_vec()).collect(),
            peers: PeerPolicy::default(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A rustls server configuration: the store's certificate, client
/// certificates required and checked by [`SpiffeClientVerifier`].
pub fn server_config(
    store: &Arc<CertStore>,
    options: &ServerOptions,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let verifier = SpiffeClientVerifier::new(store.clone(), options.peers.clone());
    let mut config = ServerConfig::builder_with_provider(store.provider().clone())
        .with_protocol_versions(options.versions.versions())?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(StoreResolver(store.clone())));
    config.alpn_protocols = options.alpn.clone();
    Ok(Arc::new(config))
}

/// A rustls client configuration: the store's certificate as the client
/// certificate, servers checked by [`SpiffeServerVerifier`] with `peers`.
/// ALPN is left empty: it is set per connection from the inner protocol.
pub fn client_config(
    store: &Arc<CertStore>,
    versions: TlsVersions,
    peers: PeerPolicy,
) -> Result<Arc<ClientConfig>, ConfigError> {
    build_client_config(store, versions, peers).map(Arc::new)
}

pub(crate) fn build_client_config(
    store: &Arc<CertStore>,
    versions: TlsVersions,
    peers: PeerPolicy,
) -> Result<ClientConfig, ConfigError> {
    let verifier = SpiffeServerVerifier::new(store.clone(), peers);
    Ok(
        ClientConfig::builder_with_provider(store.provider().clone())
            .with_protocol_versions(versions.versions())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(StoreResolver(store.clone()))),
    )
}

/// Presents the store's current certificate, on both sides.
#[derive(Debug)]
struct StoreResolver(Arc<CertStore>);

impl ResolvesServerCert for StoreResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current().certified_key().clone())
    }
}

impl ResolvesClientCert for StoreResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current().certified_key().clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
