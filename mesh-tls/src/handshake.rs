//! Why a handshake failed, from either end.

use std::io;
use std::time::Duration;

use mesh_core::{ErrorClass, Side};
use rustls::AlertDescription;

use crate::verify::{PeerRole, VerifyError};

/// A failed mTLS handshake.
///
/// The variants tell apart what a proxy reports differently: the peer's
/// certificate was rejected here ([`HandshakeError::Verify`], with what was
/// expected and presented), the peer rejected us
/// ([`HandshakeError::Rejected`], with its alert), the protocol failed, the
/// transport failed, or the peer was too slow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's certificate was rejected.
    #[error(transparent)]
    Verify(VerifyError),
    /// The peer ended the handshake with an alert (it rejected our
    /// certificate, or found no common ALPN, version or cipher suite).
    #[error("the {peer} refused the TLS handshake with alert {alert:?}")]
    Rejected {
        /// The other end.
        peer: PeerRole,
        /// The alert it sent.
        alert: AlertDescription,
    },
    /// Any other TLS failure.
    #[error("TLS handshake with the {peer} failed: {source}")]
    Tls {
        /// The other end.
        peer: PeerRole,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// The transport failed (reset, closed mid-handshake).
    #[error("I/O error in the TLS handshake with the {peer}: {source}")]
    Io {
        /// The other end.
        peer: PeerRole,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The handshake took longer than allowed.
    #[error("TLS handshake with the {peer} timed out after {after:?}")]
    Timeout {
        /// The other end.
        peer: PeerRole,
        /// The limit.
        after: Duration,
    },
    /// The SNI of a target is not a valid server name.
    #[error("{name:?} is not a valid TLS server name")]
    ServerName {
        /// The name given.
        name: String,
    },
}

impl HandshakeError {
    /// Classifies the I/O error a tokio-rustls handshake returned (rustls
    /// errors travel inside it) for a handshake with `peer`.
    pub fn from_io(err: io::Error, peer: PeerRole) -> Self {
        let Some(tls) = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        else {
            return HandshakeError::Io { peer, source: err };
        };
        if let Some(v) = VerifyError::from_rustls(tls, peer) {
            return HandshakeError::Verify(v);
        }
        match tls {
            rustls::Error::AlertReceived(alert) => HandshakeError::Rejected {
                peer,
                alert: *alert,
            },
            other => HandshakeError::Tls {
                peer,
                source: other.clone(),
            },
        }
    }

    /// The peer of the failed handshake.
    pub fn peer(&self) -> Option<PeerRole> {
        match self {
            HandshakeError::Verify(v) => Some(v.peer),
            HandshakeError::Rejected { peer, .. }
            | HandshakeError::Tls { peer, .. }
            | HandshakeError::Io { peer, .. }
            | HandshakeError::Timeout { peer, .. } => Some(*peer),
            HandshakeError::ServerName { .. } => None,
        }
    }

    /// The certificate verification failure, if that is what this is.
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match self {
            HandshakeError::Verify(v) => Some(v),
            _ => None,
        }
    }
}

impl ErrorClass for HandshakeError {
    fn side(&self) -> Side {
        match self.peer() {
            Some(PeerRole::Client) => Side::Downstream,
            Some(PeerRole::Server) => Side::Upstream,
            None => Side::Internal,
        }
    }

    /// A client's handshake with a server sends no application data: safe
    /// to retry elsewhere.
    fn retry_safe(&self) -> bool {
        self.peer() == Some(PeerRole::Server)
    }
}
