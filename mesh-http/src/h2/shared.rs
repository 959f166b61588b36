//! What the driver task and the stream handles share: the connection state
//! behind a lock, and the signal that wakes the driver. Also the two body
//! adaptors: a stream's receive side as a [`Body`] source, and the pump
//! that feeds a [`Body`] into a stream's send side.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::Notify;

use super::conn::{ConnStats, Core};
use super::frame::StreamId;
use super::{Error, ErrorCode};
use crate::body::{Body, BodyError, Frame, Source};
use crate::h1::HeaderMap;

/// The connection state and the driver's wake-up signal.
#[derive(Debug)]
pub(crate) struct Shared {
    core: Mutex<Core>,
    driver: Notify,
}

impl Shared {
    pub(crate) fn new(core: Core) -> Arc<Shared> {
        Arc::new(Shared {
            core: Mutex::new(core),
            driver: Notify::new(),
        })
    }

    /// The state, for the driver. A panic while the lock was held cannot
    /// leave the state half-updated in a way that matters more than
    /// failing, so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state and wakes the driver if `f` queued work.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let (r, wake) = {
            let mut core = self.lock();
            let r = f(&mut core);
            (r, core.take_wake())
        };
        if wake {
            self.driver.notify_one();
        }
        r
    }

    /// Resolves when a handle queued work for the driver.
    pub(crate) async fn notified(&self) {
        self.driver.notified().await;
    }

    pub(crate) fn stats(&self) -> ConnStats {
        self.lock().stats()
    }
}

/// A stream's receive side as a [`Body`]: reading a frame reopens the
/// flow-control windows by its size; dropping the body discards the rest.
pub(crate) struct RecvBody {
    shared: Arc<Shared>,
    id: StreamId,
    done: bool,
}

impl RecvBody {
    /// The body of stream `id`; `size` is its content-length, if declared.
    pub(crate) fn body(shared: Arc<Shared>, id: StreamId, size: Option<u64>) -> Body {
        Body::from_source(
            Box::new(RecvBody {
                shared,
                id,
                done: false,
            }),
            size,
        )
    }
}

impl Source for RecvBody {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame, BodyError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let id = self.id;
        let polled = self.shared.with(|c| c.poll_data(id, cx));
        match polled {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(BodyError::Http2(e))))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.shared.lock().recv_finished(self.id)
    }
}

impl Drop for RecvBody {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.with(|c| c.drop_reader(id));
    }
}

/// The send side of a stream, held by whoever writes its body.
pub(crate) struct SendStream {
    shared: Arc<Shared>,
    id: StreamId,
}

impl SendStream {
    /// The writer of stream `id` (the stream already counts it).
    pub(crate) fn new(shared: Arc<Shared>, id: StreamId) -> SendStream {
        SendStream { shared, id }
    }

    /// Waits until the stream's send buffer has room.
    pub(crate) async fn ready(&self) -> Result<(), Error> {
        let id = self.id;
        std::future::poll_fn(|cx| self.shared.with(|c| c.poll_capacity(id, cx))).await
    }

    /// Waits until the stream can no longer send.
    pub(crate) async fn closed(&self) {
        let id = self.id;
        std::future::poll_fn(|cx| self.shared.with(|c| c.poll_send_closed(id, cx))).await;
    }

    /// Queues data (the windows decide when it goes out).
    pub(crate) fn push(&self, data: Bytes, end: bool) -> Result<(), Error> {
        let id = self.id;
        self.shared.with(|c| c.push_data(id, data, end))
    }

    /// Ends the body with trailers.
    pub(crate) fn trailers(&self, trailers: HeaderMap) -> Result<(), Error> {
        let id = self.id;
        self.shared.with(|c| c.push_trailers(id, trailers))
    }

    /// Resets the stream.
    pub(crate) fn reset(&self, code: ErrorCode) {
        let id = self.id;
        self.shared.with(|c| c.reset_by_app(id, code));
    }
}

impl Drop for SendStream {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.with(|c| c.drop_writer(id));
    }
}

/// Feeds `body` into a stream: waits for room in the stream's send buffer
/// before it reads each frame, so a stream whose peer reads slowly stops
/// reading its source (end-to-end backpressure with a bounded buffer).
/// A body that fails resets the stream (INTERNAL_ERROR); a stream that is
/// reset stops the pump, and dropping the source tells its producer.
pub(crate) async fn pump(mut body: Body, tx: SendStream) {
    loop {
        if tx.ready().await.is_err() {
            return;
        }
        let frame = tokio::select! {
            biased;
            () = tx.closed() => return,
            frame = body.frame() => frame,
        };
        let result = match frame {
            None => tx.push(Bytes::new(), true),
            Some(Ok(Frame::Data(data))) => {
                // A source that knows it is done lets the last DATA frame
                // carry END_STREAM.
                let end = body.is_end_stream();
                match tx.push(data, end) {
                    Ok(()) if end => return,
                    other => other,
                }
            }
            Some(Ok(Frame::Trailers(t))) => tx.trailers(t),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "HTTP/2 body source failed; resetting the stream");
                tx.reset(ErrorCode::INTERNAL_ERROR);
                return;
            }
        };
        if result.is_err() {
            return;
        }
    }
}

/// Sends `body` on stream `id` of `shared`: a body held in memory is
/// queued whole; an empty one needs nothing (the head carried
/// END_STREAM); any other is pumped by a task of its own.
pub(crate) fn send_body(shared: &Arc<Shared>, id: StreamId, mut body: Body) -> Result<(), Error> {
    let tx = SendStream::new(shared.clone(), id);
    if let Some(data) = body.take_full() {
        return tx.push(data, true);
    }
    if body.is_end_stream() {
        return tx.push(Bytes::new(), true);
    }
    tokio::spawn(pump(body, tx));
    Ok(())
}
