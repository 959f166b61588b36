//! The client end: [`mesh_core::Connect`] over mutual TLS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mesh_core::{Connect, ConnectError, ConnectErrorKind, Target, TcpConnector};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{ConfigError, TlsVersions, build_client_config};
use crate::handshake::HandshakeError;
use crate::istio;
use crate::spiffe::{SpiffeId, SpiffeIdError, TrustDomain};
use crate::store::CertStore;
use crate::stream::{MtlsStream, PeerInfo};
use crate::verify::{PeerPolicy, PeerRole};

/// Settings of [`MtlsConnector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// TLS versions. Default TLS 1.3 only.
    pub versions: TlsVersions,
    /// Trust domains servers may be in; empty (the default) means the
    /// workload's own.
    pub trust_domains: Vec<TrustDomain>,
    /// Give up on a handshake after this long. Default 10 s.
    pub handshake_timeout: Duration,
    /// Resume TLS sessions with servers seen before (fewer round trips
    /// and no signature; the server's identity is the one verified when the
    /// session was made). Default on.
    pub session_resumption: bool,
    /// How many client configurations (one per distinct allow-list of
    /// peer identities) to keep. Default 1024; when full, the cache starts
    /// over.
    pub max_cached_configs: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            versions: TlsVersions::default(),
            trust_domains: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            session_resumption: true,
            max_cached_configs: 1024,
        }
    }
}

type ConfigCache = HashMap<Arc<[Arc<str>]>, Arc<ClientConfig>>;

/// Dials upstreams over mTLS: connects with the inner connector (plain TCP
/// by default), then runs the client handshake with
///
/// - SNI from [`Target::server_name`] (none when unset: the address is
///   used as the rustls server name, which sends no SNI),
/// - ALPN from [`Target::protocol`] ([`istio::client_alpn`]),
/// - the server checked against the bundle, the trust domains and
///   [`Target::peer_identities`] (empty: any id of the trust domains).
///
/// The allow-list is enforced inside the handshake, by the verifier, so a
/// wrong server never sees this workload's client certificate accepted.
/// One rustls configuration is built per distinct allow-list and cached
/// (each keeps its own session cache, so a resumed session was verified
/// against the same allow-list).
pub struct MtlsConnector<C = TcpConnector> {
    inner: C,
    store: Arc<CertStore>,
    options: ClientOptions,
    configs: Mutex<ConfigCache>,
}

impl<C> std::fmt::Debug for MtlsConnector<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlsConnector")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl MtlsConnector<TcpConnector> {
    /// An mTLS connector over plain TCP with default socket settings.
    pub fn new(store: Arc<CertStore>, options: ClientOptions) -> Self {
        MtlsConnector::with_connector(TcpConnector::default(), store, options)
    }
}

/// Why a target's settings could not become a client configuration.
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error("peer identity allow-list: {0}")]
    Identity(#[from] SpiffeIdError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl<C> MtlsConnector<C> {
    /// An mTLS connector over another connector (one with a source
    /// address, a proxy protocol, ...).
    pub fn with_connector(inner: C, store: Arc<CertStore>, options: ClientOptions) -> Self {
        MtlsConnector {
            inner,
            store,
            options,
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// The store whose material this connector presents.
    pub fn store(&self) -> &Arc<CertStore> {
        &self.store
    }

    fn config_for(&self, ids: &Arc<[Arc<str>]>) -> Result<Arc<ClientConfig>, TargetError> {
        let mut cache = self.configs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(config) = cache.get(ids) {
            return Ok(config.clone());
        }
        let allowed = ids
            .iter()
            .map(|s| SpiffeId::new(s))
            .collect::<Result<Vec<_>, _>>()?;
        let policy =
            PeerPolicy::allow(allowed).with_trust_domains(self.options.trust_domains.clone());
        let mut config = build_client_config(&self.store, self.options.versions, policy)?;
        if !self.options.session_resumption {
            config.resumption = rustls::client::Resumption::disabled();
        }
        let config = Arc::new(config);
        if cache.len() >= self.options.max_cached_configs {
            cache.clear();
        }
        cache.insert(ids.clone(), config.clone());
        Ok(config)
    }

    /// Runs the client handshake for `target` over an already connected
    /// `stream`.
    pub async fn handshake<S>(
        &self,
        stream: S,
        target: &Target,
    ) -> Result<MtlsStream<S>, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let addr = target.addr;
        let config = self
            .config_for(&target.peer_identities)
            .map_err(|e| match e {
                TargetError::Identity(e) => {
                    ConnectError::new(addr, ConnectErrorKind::PeerIdentity, e)
                }
                TargetError::Config(e) => ConnectError::new(addr, ConnectErrorKind::Tls, e),
            })?;
        let name = server_name(target).map_err(|e| connect_error(addr, e))?;
        let alpn = istio::client_alpn(target.protocol)
            .iter()
            .map(|a| a.to_vec())
            .collect();
        let sni = target.server_name.as_deref().map(str::to_owned);
        let connector = tokio_rustls::TlsConnector::from(config);
        let handshake = connector.with_alpn(alpn).connect(name, stream);
        let peer = PeerRole::Server;
        let tls = match tokio::time::timeout(self.options.handshake_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(connect_error(addr, HandshakeError::from_io(e, peer))),
            Err(_) => {
                let e = HandshakeError::Timeout {
                    peer,
                    after: self.options.handshake_timeout,
                };
                return Err(connect_error(addr, e));
            }
        };
        let info =
            PeerInfo::from_state(tls.get_ref().1, sni, peer).map_err(|e| connect_error(addr, e))?;
        Ok(MtlsStream::new(tokio_rustls::TlsStream::Client(tls), info))
    }
}

fn server_name(target: &Target) -> Result<ServerName<'static>, HandshakeError> {
    match target.server_name.as_deref() {
        Some(name) => {
            ServerName::try_from(name.to_owned()).map_err(|_| HandshakeError::ServerName {
                name: name.to_owned(),
            })
        }
        None => Ok(ServerName::IpAddress(target.addr.ip().into())),
    }
}

/// A connect error of the kind a proxy reports for this handshake failure.
fn connect_error(addr: SocketAddr, e: HandshakeError) -> ConnectError {
    let kind = match &e {
        HandshakeError::Verify(v) if v.is_identity() => ConnectErrorKind::PeerIdentity,
        HandshakeError::Timeout { .. } => ConnectErrorKind::Timeout,
        HandshakeError::Io { .. } => ConnectErrorKind::Io,
        _ => ConnectErrorKind::Tls,
    };
    ConnectError::new(addr, kind, e)
}

impl<C> Connect for MtlsConnector<C>
where
    C: Connect,
{
    type Io = MtlsStream<C::Io>;

    async fn connect(&self, target: &Target) -> Result<Self::Io, ConnectError> {
        let stream = self.inner.connect(target).await?;
        self.handshake(stream, target).await
    }
}
