//! Handing a connection over after `101 Switching Protocols` or a 2xx to
//! CONNECT: the raw stream, with the bytes already read replayed first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use mesh_core::{ErrorClass, PeekedStream, Side};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

/// Any byte stream the drivers can hand over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The taken-over connection: bytes the driver had read past the head come
/// first, then the socket.
pub type Upgraded = PeekedStream<Box<dyn Io>>;

/// The connection was not handed over: the response was not an upgrade,
/// or the driver failed before writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was not upgraded")]
pub struct UpgradeFailed;

impl ErrorClass for UpgradeFailed {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// Resolves to the [`Upgraded`] connection once the driver wrote the
/// response that switches protocols.
pub struct OnUpgrade {
    rx: oneshot::Receiver<Upgraded>,
}

impl std::fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

impl OnUpgrade {
    pub(crate) fn pair() -> (oneshot::Sender<Upgraded>, OnUpgrade) {
        let (tx, rx) = oneshot::channel();
        (tx, OnUpgrade { rx })
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeFailed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| UpgradeFailed))
    }
}
