//! Dialing upstreams: the [`Connect`] trait every proxy in the workspace
//! takes, and its plain TCP implementation.
//!
//! Proxies are generic over `Connect`, so the same Redis or HTTP proxy runs
//! over plain TCP ([`TcpConnector`]) or over mutual TLS (the connector of
//! `mesh-tls`) without depending on the TLS crate.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Socket, TcpKeepalive, Type};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use crate::Protocol;
use crate::error::{ErrorClass, Side};
use crate::spiffe::SpiffeId;

/// Where to connect, and what the connector should expect of the peer.
///
/// Cheap to clone. Plain TCP uses only [`Target::addr`]; an mTLS connector
/// also uses the server name (SNI), the identities the peer may present, and
/// the inner protocol (which selects the ALPN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The endpoint's address.
    pub addr: SocketAddr,
    /// The name to present in SNI (for Istio, `outbound_.<port>_.<subset>_.<host>`).
    pub server_name: Option<Arc<str>>,
    /// The identities (SPIFFE ids) the peer may present; empty means any
    /// identity the connector's trust settings accept.
    pub peer_identities: Arc<[Arc<str>]>,
    /// The protocol that will run over the connection, if known.
    pub protocol: Option<Protocol>,
}

impl Target {
    /// A target with only an address.
    pub fn new(addr: SocketAddr) -> Self {
        Target {
            addr,
            server_name: None,
            peer_identities: Arc::from(Vec::new()),
            protocol: None,
        }
    }

    /// Sets the server name presented in SNI.
    pub fn with_server_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Sets the identities the peer may present.
    pub fn with_peer_identities<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Arc<str>>,
    {
        self.peer_identities = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the protocol that will run over the connection.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }
}

/// How a connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// No connection within the connect timeout.
    Timeout,
    /// The peer refused the connection.
    Refused,
    /// Any other I/O error while connecting or setting socket options.
    Io,
    /// The TLS handshake failed.
    Tls,
    /// The peer's identity is not one the target allows.
    PeerIdentity,
}

impl std::fmt::Display for ConnectErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectErrorKind::Timeout => "timed out",
            ConnectErrorKind::Refused => "refused",
            ConnectErrorKind::Io => "I/O error",
            ConnectErrorKind::Tls => "TLS handshake failed",
            ConnectErrorKind::PeerIdentity => "peer identity rejected",
        })
    }
}

/// A failed connection attempt. Always an upstream error, and always safe
/// to retry on another endpoint: nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("connect to {addr}: {kind}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
pub struct ConnectError {
    /// The address being dialled.
    pub addr: SocketAddr,
    /// What went wrong.
    pub kind: ConnectErrorKind,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConnectError {
    /// An error of `kind` for `addr`, caused by `source`.
    pub fn new(
        addr: SocketAddr,
        kind: ConnectErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ConnectError {
            addr,
            kind,
            source: Some(source.into()),
        }
    }

    fn io(addr: SocketAddr, err: io::Error) -> Self {
        let kind = if err.kind() == io::ErrorKind::ConnectionRefused {
            ConnectErrorKind::Refused
        } else {
            ConnectErrorKind::Io
        };
        ConnectError::new(addr, kind, err)
    }
}

impl ErrorClass for ConnectError {
    fn side(&self) -> Side {
        Side::Upstream
    }

    fn retry_safe(&self) -> bool {
        true
    }
}

/// What a transport knows about its peer once connected.
///
/// Every [`Connect::Io`] implements it, so a proxy that is generic over its
/// connector can still log, authorize and label metrics by the peer's
/// identity: plain TCP knows nothing (the defaults), the mTLS stream of
/// `mesh-tls` reports the verified SPIFFE id and the negotiated ALPN.
pub trait PeerIdentity {
    /// The peer's verified SPIFFE id, when the transport authenticated it.
    fn peer_identity(&self) -> Option<&SpiffeId> {
        None
    }

    /// The application protocol negotiated with ALPN, when there was one.
    fn negotiated_alpn(&self) -> Option<&[u8]> {
        None
    }
}

impl PeerIdentity for TcpStream {}

impl PeerIdentity for tokio::io::DuplexStream {}

impl<S: PeerIdentity> PeerIdentity for crate::PeekedStream<S> {
    fn peer_identity(&self) -> Option<&SpiffeId> {
        self.get_ref().peer_identity()
    }

    fn negotiated_alpn(&self) -> Option<&[u8]> {
        self.get_ref().negotiated_alpn()
    }
}

/// Opens streams to upstream endpoints.
///
/// Implementations decide the transport (plain TCP, mTLS); proxies only see
/// a byte stream, and what [`PeerIdentity`] tells of the peer.
pub trait Connect: Send + Sync + 'static {
    /// The stream a connection gives.
    type Io: AsyncRead + AsyncWrite + PeerIdentity + Send + Unpin + 'static;

    /// Opens a stream to `target`.
    fn connect(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Self::Io, ConnectError>> + Send;
}

impl<C: Connect> Connect for Arc<C> {
    type Io = C::Io;

    fn connect(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Self::Io, ConnectError>> + Send {
        (**self).connect(target)
    }
}

/// TCP keepalive probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub time: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Probes without an answer before the connection is dropped.
    pub retries: u32,
}

impl Default for Keepalive {
    /// Istio's defaults for upstream connections: probes after 300 s idle,
    /// every 75 s, 9 times.
    fn default() -> Self {
        Keepalive {
            time: Duration::from_secs(300),
            interval: Duration::from_secs(75),
            retries: 9,
        }
    }
}

/// Settings of [`TcpConnector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// Give up connecting after this long. Default 10 s (Envoy's default).
    pub connect_timeout: Duration,
    /// TCP keepalive, or `None` for the system default (off).
    pub keepalive: Option<Keepalive>,
    /// Disable Nagle's algorithm. Default on: proxies forward what they
    /// have at once.
    pub nodelay: bool,
    /// Bind the local side to this address first (for a source address such
    /// as `127.0.0.N` in tests, or a fixed egress address).
    pub bind: Option<SocketAddr>,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            connect_timeout: Duration::from_secs(10),
            keepalive: Some(Keepalive::default()),
            nodelay: true,
            bind: None,
        }
    }
}

/// Plain TCP [`Connect`], with a connect timeout, keepalive and nodelay set
/// through `socket2`.
#[derive(Debug, Clone, Default)]
pub struct TcpConnector {
    config: TcpConfig,
}

impl TcpConnector {
    /// A connector with these settings.
    pub fn new(config: TcpConfig) -> Self {
        TcpConnector { config }
    }

    /// The settings.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    fn socket(&self, addr: SocketAddr) -> io::Result<TcpSocket> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(self.config.nodelay)?;
        if let Some(ka) = self.config.keepalive {
            let params = TcpKeepalive::new()
                .with_time(ka.time)
                .with_interval(ka.interval)
                .with_retries(ka.retries);
            socket.set_tcp_keepalive(&params)?;
        }
        if let Some(bind) = self.config.bind {
            socket.bind(&bind.into())?;
        }
        Ok(TcpSocket::from_std_stream(std::net::TcpStream::from(
            socket,
        )))
    }
}

impl Connect for TcpConnector {
    type Io = TcpStream;

    async fn connect(&self, target: &Target) -> Result<TcpStream, ConnectError> {
        let addr = target.addr;
        let socket = self.socket(addr).map_err(|e| ConnectError::io(addr, e))?;
        match tokio::time::timeout(self.config.connect_timeout, socket.connect(addr)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(ConnectError::io(addr, e)),
            Err(_) => Err(ConnectError {
                addr,
                kind: ConnectErrorKind::Timeout,
                source: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn connects_with_options() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, peer) = listener.accept().await.unwrap();
            s.write_all(b"hi").await.unwrap();
            peer
        });
        let connector = TcpConnector::new(TcpConfig {
            bind: Some("127.0.0.3:0".parse().unwrap()),
            ..TcpConfig::default()
        });
        let mut stream = connector.connect(&Target::new(addr)).await.unwrap();
        assert!(stream.nodelay().unwrap());
        let mut got = [0u8; 2];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        let peer = server.await.unwrap();
        assert_eq!(peer.ip().to_string(), "127.0.0.3");
    }

    #[tokio::test]
    async fn refused_is_a_retry_safe_upstream_error() {
        // Bind then drop to find a port nobody listens on.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpConnector::default()
            .connect(&Target::new(addr))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ConnectErrorKind::Refused);
        assert_eq!(err.side(), Side::Upstream);
        assert!(err.retry_safe());
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    #[test]
    fn target_builders() {
        let t = Target::new("127.0.0.1:80".parse().unwrap())
            .with_server_name("outbound_.80_._.web.default.svc.cluster.local")
            .with_peer_identities(["spiffe://cluster.local/ns/default/sa/web"])
            .with_protocol(Protocol::Http1);
        assert_eq!(t.peer_identities.len(), 1);
        assert_eq!(t.protocol, Some(Protocol::Http1));
        assert!(t.server_name.as_deref().unwrap().starts_with("outbound_"));
    }
}
