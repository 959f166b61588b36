//! Type-erased streams and connectors, so one proxy can dial plain TCP for
//! one endpoint and mesh mTLS for the next without being generic over both.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mesh_core::{Connect, ConnectError, PeerIdentity, Target};
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream that can tell who its peer is.
pub trait Io: AsyncRead + AsyncWrite + PeerIdentity + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + PeerIdentity + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

impl PeerIdentity for BoxIo {
    fn peer_identity(&self) -> Option<&mesh_core::SpiffeId> {
        (**self).peer_identity()
    }

    fn negotiated_alpn(&self) -> Option<&[u8]> {
        (**self).negotiated_alpn()
    }
}

/// A boxed future, for the object-safe [`DynConnect`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An object-safe [`Connect`]: every `Connect` is one (blanket impl), so a
/// cluster holds `Arc<dyn DynConnect>` and tests inject failing or
/// recording connectors.
pub trait DynConnect: Send + Sync + 'static {
    /// Opens a stream to `target`.
    fn connect_dyn<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Result<BoxIo, ConnectError>>;
}

impl<C: Connect> DynConnect for C {
    fn connect_dyn<'a>(&'a self, target: &'a Target) -> BoxFuture<'a, Result<BoxIo, ConnectError>> {
        Box::pin(async move {
            let io = self.connect(target).await?;
            Ok(Box::new(io) as BoxIo)
        })
    }
}

/// A shared, type-erased connector.
pub type SharedConnector = Arc<dyn DynConnect>;
