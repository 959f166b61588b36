//! The streaming body both HTTP drivers hand out and take: a request or
//! response body is the same [`Body`] whether it came from an HTTP/1
//! connection, an HTTP/2 stream, or the application, so a proxy forwards
//! one into the other without converting.
//!
//! A body read from an HTTP/1 connection is fed by the driver through a
//! bounded channel of two frames: the driver reads more from the socket
//! only while fewer than two frames wait, so a slow consumer slows the
//! sender down through TCP flow control instead of filling memory. That is
//! the backpressure of both directions of a forwarded exchange. (Two, not
//! one, so that the end of a body can be queued behind its last data frame
//! and the connection reused before the reader took both.)
//!
//! A body read from an HTTP/2 stream is fed by the connection task into the
//! stream's receive buffer, which the stream's flow-control window bounds:
//! the window is reopened (WINDOW_UPDATE) only as the reader takes data, so
//! the peer slows down with the reader, and other streams of the same
//! connection are not held up.

use std::io;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use tokio::sync::{mpsc, oneshot};

use crate::h1::{Error, HeaderMap};

/// A piece of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Body bytes.
    Data(Bytes),
    /// The trailer fields of a chunked body (sent after the last data).
    Trailers(HeaderMap),
}

impl Frame {
    /// The bytes of a data frame.
    pub fn data(&self) -> Option<&Bytes> {
        match self {
            Frame::Data(b) => Some(b),
            Frame::Trailers(_) => None,
        }
    }
}

/// Why a body could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body's framing was malformed, or the connection ended before it
    /// did ([`ErrorKind::IncompleteBody`](crate::h1::ErrorKind::IncompleteBody)).
    #[error(transparent)]
    Malformed(#[from] Error),
    /// Reading the connection failed.
    #[error("reading the {side} connection: {source}")]
    Io {
        /// Whose connection.
        side: Side,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The producer went away before ending the body (its connection or
    /// task ended).
    #[error("the {side} body was abandoned before its end")]
    Aborted {
        /// Who was producing it.
        side: Side,
    },
    /// [`Body::collect`] met more bytes than its limit.
    #[error("body longer than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The HTTP/2 stream carrying the body was reset or its connection
    /// failed; the error says by whom and with which code.
    #[error(transparent)]
    Http2(#[from] crate::h2::Error),
}

impl ErrorClass for BodyError {
    fn side(&self) -> Side {
        match self {
            BodyError::Malformed(e) => e.side(),
            BodyError::Io { side, .. } | BodyError::Aborted { side } => *side,
            BodyError::TooLarge { .. } => Side::Internal,
            BodyError::Http2(e) => e.side(),
        }
    }

    /// A body that failed part-way was (at least partly) consumed, so the
    /// exchange cannot be replayed from it.
    fn retry_safe(&self) -> bool {
        false
    }
}

/// How many items a body channel holds.
const CHANNEL_FRAMES: usize = 2;

/// What travels through a body channel.
#[derive(Debug)]
pub(crate) enum Item {
    Frame(Frame),
    End,
    Error(BodyError),
}

/// A body fed by something other than a channel: an HTTP/2 stream's
/// receive buffer. Polled by [`Body::frame`] like the channel is.
pub(crate) trait Source: Send + Sync {
    /// The next frame, `None` at the end of the body.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame, BodyError>>>;

    /// Whether the source is known to have nothing (more) to give.
    fn is_end_stream(&self) -> bool;
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    Stream {
        rx: mpsc::Receiver<Item>,
        want: Option<oneshot::Sender<()>>,
        side: Side,
        ended: bool,
    },
    Source(Box<dyn Source>),
}

/// A message body: empty, one buffer, or a stream of [`Frame`]s.
pub struct Body {
    kind: Kind,
    size: Option<u64>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Stream { .. } => "stream",
            Kind::Source(_) => "source",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("size", &self.size)
            .finish()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::full(b)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::full(Bytes::from(s))
    }
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: Kind::Empty,
            size: Some(0),
        }
    }

    /// A body of one buffer (sent with a Content-Length).
    pub fn full(data: impl Into<Bytes>) -> Body {
        let data = data.into();
        Body {
            size: Some(data.len() as u64),
            kind: Kind::Full(Some(data)),
        }
    }

    /// A streamed body and the sender that feeds it. `size` is the exact
    /// length when known (sent as Content-Length, else chunked); `side`
    /// says whom an abandoned stream is blamed on.
    pub fn channel(size: Option<u64>, side: Side) -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(CHANNEL_FRAMES);
        let body = Body {
            kind: Kind::Stream {
                rx,
                want: None,
                side,
                ended: false,
            },
            size,
        };
        (BodySender { tx, want: None }, body)
    }

    /// Like [`Body::channel`], with a signal to the sender when the body
    /// is first read or dropped: the server driver sends
    /// `100 Continue` only then.
    pub(crate) fn channel_with_want(size: Option<u64>, side: Side) -> (BodySender, Body) {
        let (mut tx, mut body) = Body::channel(size, side);
        let (want_tx, want_rx) = oneshot::channel();
        if let Kind::Stream { want, .. } = &mut body.kind {
            *want = Some(want_tx);
        }
        tx.want = Some(want_rx);
        (tx, body)
    }

    /// A body read from `source`; `size` as for [`Body::channel`].
    pub(crate) fn from_source(source: Box<dyn Source>, size: Option<u64>) -> Body {
        Body {
            kind: Kind::Source(source),
            size,
        }
    }

    /// The exact length, when known before reading.
    pub fn size_hint(&self) -> Option<u64> {
        self.size
    }

    /// Whether the body is known to have nothing (more) to give.
    pub fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(data) => data.is_none(),
            Kind::Stream { ended, .. } => *ended,
            Kind::Source(s) => s.is_end_stream(),
        }
    }

    /// The data of a [`Body::full`] body, taken out (the body is then
    /// empty); `None` for other bodies.
    pub(crate) fn take_full(&mut self) -> Option<Bytes> {
        match &mut self.kind {
            Kind::Full(data) => data.take(),
            _ => None,
        }
    }

    /// The next frame, `None` at the end of the body.
    pub async fn frame(&mut self) -> Option<Result<Frame, BodyError>> {
        match &mut self.kind {
            Kind::Empty => None,
            Kind::Full(data) => data.take().map(|d| Ok(Frame::Data(d))),
            Kind::Stream {
                rx,
                want,
                side,
                ended,
            } => {
                if *ended {
                    return None;
                }
                if let Some(w) = want.take() {
                    let _ = w.send(());
                }
                match rx.recv().await {
                    Some(Item::Frame(f)) => Some(Ok(f)),
                    Some(Item::End) => {
                        *ended = true;
                        None
                    }
                    Some(Item::Error(e)) => {
                        *ended = true;
                        Some(Err(e))
                    }
                    None => {
                        *ended = true;
                        Some(Err(BodyError::Aborted { side: *side }))
                    }
                }
            }
            Kind::Source(source) => std::future::poll_fn(|cx| source.poll_frame(cx)).await,
        }
    }

    /// Reads the whole body into one buffer, refusing more than `limit`
    /// bytes; returns the data and the trailers, if any.
    pub async fn collect(mut self, limit: usize) -> Result<(Bytes, Option<HeaderMap>), BodyError> {
        let mut out = BytesMut::new();
        let mut trailers = None;
        while let Some(frame) = self.frame().await {
            match frame? {
                Frame::Data(d) => {
                    if out.len() + d.len() > limit {
                        return Err(BodyError::TooLarge { limit });
                    }
                    if out.is_empty() {
                        // One frame: hand it back without copying.
                        out = BytesMut::from(&d[..]);
                    } else {
                        out.extend_from_slice(&d);
                    }
                }
                Frame::Trailers(t) => trailers = Some(t),
            }
        }
        Ok((out.freeze(), trailers))
    }
}

/// Feeds a [`Body::channel`].
#[derive(Debug)]
pub struct BodySender {
    tx: mpsc::Sender<Item>,
    want: Option<oneshot::Receiver<()>>,
}

/// The body's reader went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body's reader went away")]
pub struct ReceiverGone;

impl BodySender {
    /// Sends one frame, waiting while the channel is full.
    pub async fn send(&mut self, frame: Frame) -> Result<(), ReceiverGone> {
        self.tx
            .send(Item::Frame(frame))
            .await
            .map_err(|_| ReceiverGone)
    }

    /// Sends one data frame.
    pub async fn send_data(&mut self, data: impl Into<Bytes>) -> Result<(), ReceiverGone> {
        self.send(Frame::Data(data.into())).await
    }

    /// Ends the body normally.
    pub async fn finish(self) -> Result<(), ReceiverGone> {
        self.tx.send(Item::End).await.map_err(|_| ReceiverGone)
    }

    /// Ends the body with an error the reader will see.
    pub async fn abort(self, error: BodyError) {
        let _ = self.tx.send(Item::Error(error)).await;
    }

    /// Waits for room for one item, without taking it (cancel-safe; the
    /// drivers use this inside `select!`).
    pub(crate) async fn reserve(&self) -> Result<mpsc::Permit<'_, Item>, ReceiverGone> {
        self.tx.reserve().await.map_err(|_| ReceiverGone)
    }

    /// Takes the signal that resolves once the body is first read (`Ok`)
    /// or dropped unread (`Err`); `None` for a body made without one.
    pub(crate) fn take_want(&mut self) -> Option<oneshot::Receiver<()>> {
        self.want.take()
    }

    /// Whether the reader is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn channel_bodies_end_abort_and_collect() {
        let (mut tx, body) = Body::channel(None, Side::Upstream);
        let h = tokio::spawn(async move {
            tx.send_data("ab").await.unwrap();
            tx.send_data("cd").await.unwrap();
            let mut t = HeaderMap::new();
            t.append("x-t", "1").unwrap();
            tx.send(Frame::Trailers(t)).await.unwrap();
            tx.finish().await.unwrap();
        });
        let (data, trailers) = body.collect(10).await.unwrap();
        assert_eq!(&data[..], b"abcd");
        assert_eq!(trailers.unwrap().get("x-t").unwrap(), "1");
        h.await.unwrap();

        let (tx, mut body) = Body::channel(Some(3), Side::Upstream);
        drop(tx);
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(matches!(
            err,
            BodyError::Aborted {
                side: Side::Upstream
            }
        ));
        assert!(body.frame().await.is_none());

        let body = Body::full("hello");
        assert_eq!(body.size_hint(), Some(5));
        assert!(matches!(
            body.collect(3).await,
            Err(BodyError::TooLarge { limit: 3 })
        ));
    }

    #[tokio::test]
    async fn want_fires_on_first_read_or_drop() {
        let (mut tx, mut body) = Body::channel_with_want(Some(1), Side::Downstream);
        let want = tx.take_want().unwrap();
        let reader = tokio::spawn(async move { body.frame().await.map(|f| f.unwrap()) });
        want.await.unwrap();
        tx.send_data("x").await.unwrap();
        assert_eq!(reader.await.unwrap(), Some(Frame::Data("x".into())));

        let (mut tx, body) = Body::channel_with_want(Some(1), Side::Downstream);
        drop(body);
        assert!(tx.take_want().unwrap().await.is_err());
    }
}
