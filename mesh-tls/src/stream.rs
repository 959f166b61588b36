//! An established mTLS stream and what the handshake established.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use mesh_core::Protocol;
use rustls::{CipherSuite, CommonState, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::handshake::HandshakeError;
use crate::istio;
use crate::spiffe::SpiffeId;
use crate::svid;
use crate::verify::{PeerRole, VerifyError, VerifyErrorKind};

/// What the handshake established about the peer: for authorization,
/// logs and metrics (Istio's `source_principal`/`destination_principal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's SPIFFE id (from its verified certificate).
    pub identity: SpiffeId,
    /// The negotiated ALPN name, if any.
    pub alpn: Option<Vec<u8>>,
    /// The SNI: the name the client sent (on a server) or the name this
    /// client sent (on a client); `None` when there was none.
    pub server_name: Option<String>,
    /// The negotiated TLS version.
    pub version: Option<ProtocolVersion>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<CipherSuite>,
}

impl PeerInfo {
    /// The inner protocol the ALPN name announces (see
    /// [`istio::inner_protocol`]); `None`: detect it.
    pub fn inner_protocol(&self) -> Option<Protocol> {
        self.alpn.as_deref().and_then(istio::inner_protocol)
    }

    /// Reads the peer's identity from a finished handshake.
    pub(crate) fn from_state(
        state: &CommonState,
        server_name: Option<String>,
        peer: PeerRole,
    ) -> Result<PeerInfo, HandshakeError> {
        let missing =
            || HandshakeError::Verify(VerifyError::new(peer, VerifyErrorKind::MissingCertificate));
        let leaf = state
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(missing)?;
        // The verifier accepted this certificate, so it parses; this reads
        // the id again rather than trusting a side channel.
        let identity = svid::inspect(leaf)
            .map_err(|e| HandshakeError::Verify(VerifyError::new(peer, VerifyErrorKind::Svid(e))))?
            .id;
        Ok(PeerInfo {
            identity,
            alpn: state.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
            version: state.protocol_version(),
            cipher_suite: state.negotiated_cipher_suite().map(|s| s.suite()),
        })
    }
}

/// A stream after a successful mTLS handshake, either end.
///
/// Reads and writes go through TLS; [`MtlsStream::peer`] tells who is on
/// the other end. This is the `Io` of [`crate::MtlsConnector`], so a proxy
/// generic over `mesh_core::Connect` can still reach the identity when it
/// knows the concrete type.
#[derive(Debug)]
pub struct MtlsStream<S> {
    inner: tokio_rustls::TlsStream<S>,
    peer: PeerInfo,
}

impl<S> MtlsStream<S> {
    pub(crate) fn new(inner: tokio_rustls::TlsStream<S>, peer: PeerInfo) -> Self {
        MtlsStream { inner, peer }
    }

    /// What the handshake established about the peer.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The peer's SPIFFE id.
    pub fn peer_identity(&self) -> &SpiffeId {
        &self.peer.identity
    }

    /// The transport and the TLS state.
    pub fn get_ref(&self) -> (&S, &CommonState) {
        self.inner.get_ref()
    }

    /// The tokio-rustls stream.
    pub fn into_inner(self) -> tokio_rustls::TlsStream<S> {
        self.inner
    }
}

impl<S> mesh_core::PeerIdentity for MtlsStream<S> {
    fn peer_identity(&self) -> Option<&SpiffeId> {
        Some(&self.peer.identity)
    }

    fn negotiated_alpn(&self) -> Option<&[u8]> {
        self.peer.alpn.as_deref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MtlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MtlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
