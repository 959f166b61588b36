//! The server end: terminate mesh mTLS on an accepted stream.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{ConfigError, ServerOptions, server_config};
use crate::handshake::HandshakeError;
use crate::store::CertStore;
use crate::stream::{MtlsStream, PeerInfo};
use crate::verify::PeerRole;

/// Accepts mTLS connections: presents the store's certificate, requires
/// and verifies the client's, and reports who the client is.
#[derive(Clone)]
pub struct MtlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for MtlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl MtlsAcceptor {
    /// An acceptor over `store` with `options`.
    pub fn new(store: &Arc<CertStore>, options: &ServerOptions) -> Result<Self, ConfigError> {
        Ok(MtlsAcceptor::from_config(
            server_config(store, options)?,
            options.handshake_timeout,
        ))
    }

    /// An acceptor over a configuration built elsewhere (it must require
    /// client certificates for [`MtlsAcceptor::accept`] to succeed).
    pub fn from_config(config: Arc<ServerConfig>, handshake_timeout: Duration) -> Self {
        MtlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            handshake_timeout,
        }
    }

    /// Runs the server handshake on `stream` (a socket, or the
    /// `PeekedStream` the detector returned, which replays the
    /// ClientHello).
    pub async fn accept<S>(&self, stream: S) -> Result<MtlsStream<S>, HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let peer = PeerRole::Client;
        let handshake = self.acceptor.accept(stream);
        let tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(HandshakeError::from_io(e, peer)),
            Err(_) => {
                return Err(HandshakeError::Timeout {
                    peer,
                    after: self.handshake_timeout,
                });
            }
        };
        let (_, conn) = tls.get_ref();
        let sni = conn.server_name().map(str::to_owned);
        let info = PeerInfo::from_state(conn, sni, peer)?;
        Ok(MtlsStream::new(tokio_rustls::TlsStream::Server(tls), info))
    }
}
