//! What the stream handles ask of the connection: opening and accepting
//! streams, sending heads, bodies and trailers within the peer's windows,
//! reading bodies (which reopens our windows), and the scheduler that
//! turns queued bodies into DATA frames.

use std::borrow::Cow;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use tokio::time::Instant;

use super::flow::{RecvWindow, SendWindow};
use super::stream::Stream;
use super::validate::{declared_length, is_connection_specific};
use super::{Core, Role, Shutdown};
use crate::body::Frame as BodyFrame;
use crate::h1::HeaderMap;
use crate::h2::frame::{Data, Headers, StreamId};
use crate::h2::hpack::{ENTRY_OVERHEAD, FieldRef};
use crate::h2::message::{RequestHead, ResponseHead};
use crate::h2::{Error, ErrorCode};

/// A field on its way into a header block, its name lower-cased.
struct OutField<'a> {
    name: Cow<'a, [u8]>,
    value: &'a [u8],
    sensitive: bool,
}

/// A response head handed to the client.
#[derive(Debug)]
pub(crate) struct Arrived {
    pub(crate) head: ResponseHead,
    /// The head ended the stream.
    pub(crate) end: bool,
    /// The body's declared length.
    pub(crate) size: Option<u64>,
}

/// A request handed to the server.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) id: StreamId,
    pub(crate) head: RequestHead,
    /// The request has no body.
    pub(crate) end: bool,
}

/// The error for a handle whose stream is gone from the map (it can only
/// be after the connection ended).
fn gone(side: Side) -> Error {
    Error::Closed { side }
}

impl Core {
    // ---- encoding ---------------------------------------------------------

    /// Encodes a field block (pseudo-header fields first) and queues it as
    /// HEADERS (and CONTINUATION). Connection-specific fields, `te` other
    /// than `trailers`, and (when `skip_host`) `host` are not sent; names
    /// are sent in lower case; sensitive fields never-indexed.
    fn write_headers(
        &mut self,
        id: StreamId,
        pseudo: &[(&'static [u8], &[u8])],
        headers: &HeaderMap,
        end_stream: bool,
        skip_host: bool,
    ) -> Result<(), Error> {
        let mut names: Vec<OutField<'_>> = Vec::with_capacity(headers.len());
        for f in headers {
            let name = &f.name[..];
            if is_connection_specific(name)
                || name.eq_ignore_ascii_case(b"te") && !f.value.eq_ignore_ascii_case(b"trailers")
                || skip_host && name.eq_ignore_ascii_case(b"host")
            {
                continue;
            }
            let name = if name.iter().any(u8::is_ascii_uppercase) {
                Cow::Owned(name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(name)
            };
            names.push(OutField {
                name,
                value: &f.value[..],
                sensitive: f.sensitive,
            });
        }
        let size: usize = pseudo
            .iter()
            .map(|(n, v)| n.len() + v.len() + ENTRY_OVERHEAD)
            .chain(
                names
                    .iter()
                    .map(|f| f.name.len() + f.value.len() + ENTRY_OVERHEAD),
            )
            .sum();
        if size > self.peer_max_header_list as usize {
            return Err(Error::local(format!(
                "a header list of {size} bytes exceeds the peer's SETTINGS_MAX_HEADER_LIST_SIZE {}",
                self.peer_max_header_list
            )));
        }
        let fields = pseudo
            .iter()
            .map(|(n, v)| FieldRef::new(n, v))
            .chain(names.iter().map(|f| FieldRef {
                name: &f.name,
                value: f.value,
                never_indexed: f.sensitive,
            }));
        let mut block = BytesMut::new();
        self.encoder.encode(fields, &mut block);
        let mut frame = Headers::new(id, block.freeze());
        frame.end_stream = end_stream;
        self.queue(&frame.into());
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn queue_data(&mut self, d: Data) {
        let head = d.head().to_bytes();
        let before = self.out.tail().len();
        self.out.tail().extend_from_slice(&head);
        self.out.commit(before);
        let n = head.len() + d.data.len();
        self.out.push(d.data);
        self.unwritten += n;
        self.queued_total += n as u64;
        self.wake_driver = true;
    }

    // ---- the scheduler ----------------------------------------------------

    /// Puts stream `id` in the ready queue if it can send now; notes when
    /// its data starts waiting for a closed window.
    pub(super) fn mark_ready(&mut self, id: StreamId) {
        let conn = self.send_window.available();
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return;
        };
        if s.send.buffered > 0 && s.send.window.available() == 0 && s.state.send_open() {
            s.send.stalled_since.get_or_insert_with(Instant::now);
        }
        if !s.send.ready && s.sendable(conn) {
            s.send.ready = true;
            self.ready.push_back(id);
            self.wake_driver = true;
        }
    }

    pub(super) fn mark_all_ready(&mut self) {
        let ids: Vec<StreamId> = self
            .streams
            .values()
            .filter(|s| s.send.buffered > 0 || s.send.end)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.mark_ready(id);
        }
    }

    /// Turns queued bodies into DATA frames, one frame per stream in
    /// turn, as far as the windows and the write buffer allow.
    pub(crate) fn schedule(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let max_frame = self.codec.max_send_frame_size() as usize;
        while self.unwritten < self.config.write_buffer {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let conn = self.send_window.available();
            let Some(s) = self.streams.get_mut(&id.get()) else {
                continue;
            };
            s.send.ready = false;
            if !s.sendable(conn) {
                continue;
            }
            let was_active = s.state.is_active();
            if s.send.buffered > 0 {
                let n = s
                    .send
                    .queue
                    .front()
                    .map_or(0, Bytes::len)
                    .min(s.send.window.available())
                    .min(conn)
                    .min(max_frame);
                let chunk = match s.send.queue.front_mut() {
                    Some(front) if front.len() > n => front.split_to(n),
                    _ => s.send.queue.pop_front().unwrap_or_default(),
                };
                s.send.buffered -= chunk.len();
                s.send.window.consume(chunk.len());
                s.send.stalled_since = None;
                let end = s.send.buffered == 0 && s.send.end && s.send.trailers.is_none();
                if end {
                    s.state.send_end();
                }
                s.send.wake();
                self.send_window.consume(chunk.len());
                let mut frame = Data::new(id, chunk);
                frame.end_stream = end;
                self.queue_data(frame);
                if end {
                    self.after_change(id.get(), was_active);
                } else {
                    self.mark_ready(id);
                }
            } else {
                let trailers = s.send.trailers.take();
                s.state.send_end();
                match trailers {
                    Some(t) => {
                        if self.write_headers(id, &[], &t, true, false).is_err() {
                            // Too large for the peer: end the stream plainly.
                            if self.failed.is_some() {
                                return;
                            }
                            let mut frame = Data::new(id, Bytes::new());
                            frame.end_stream = true;
                            self.queue_data(frame);
                        }
                    }
                    None => {
                        let mut frame = Data::new(id, Bytes::new());
                        frame.end_stream = true;
                        self.queue_data(frame);
                    }
                }
                self.after_change(id.get(), was_active);
            }
        }
        let blocked = self.send_window.available() == 0
            && self
                .streams
                .values()
                .any(|s| s.send.buffered > 0 && s.state.send_open());
        if !blocked {
            self.conn_stalled_since = None;
        } else if self.conn_stalled_since.is_none() {
            self.conn_stalled_since = Some(Instant::now());
        }
    }

    // ---- client -----------------------------------------------------------

    /// A `SendRequest` handle was made.
    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    /// A `SendRequest` handle went away.
    pub(crate) fn drop_sender(&mut self) {
        self.senders = self.senders.saturating_sub(1);
        self.wake_driver = true;
    }

    /// Opens a stream for `head` once the peer's concurrency limit allows:
    /// queues its HEADERS (with END_STREAM when `end_stream`). `writer`:
    /// a body writer will feed the stream.
    pub(crate) fn poll_open(
        &mut self,
        cx: &mut Context<'_>,
        head: &RequestHead,
        end_stream: bool,
        writer: bool,
    ) -> Poll<Result<StreamId, Error>> {
        let unprocessed = |reason| {
            Poll::Ready(Err(Error::Unprocessed {
                side: self.peer,
                reason,
            }))
        };
        if self.unusable().is_some() {
            return unprocessed("the connection closed before the stream was opened");
        }
        if self.goaway_received.is_some() || self.shutdown != Shutdown::No {
            return unprocessed("the connection is going away");
        }
        if self.next_local_id > StreamId::MAX.get() {
            return unprocessed("the connection used up its stream ids");
        }
        if self.active_local >= self.peer_max_streams {
            self.open_waiters.push(cx.waker().clone());
            return Poll::Pending;
        }
        let authority = head
            .authority
            .as_ref()
            .or_else(|| head.headers.get("host"))
            .cloned();
        let connect = head.method.is_connect();
        let mut pseudo: Vec<(&'static [u8], &[u8])> = vec![(b":method", head.method.as_bytes())];
        match (&head.scheme, &head.path) {
            (Some(scheme), Some(path)) => {
                pseudo.push((b":scheme", scheme));
                if let Some(a) = &authority {
                    pseudo.push((b":authority", a));
                }
                pseudo.push((b":path", path));
            }
            _ if connect => match &authority {
                Some(a) => pseudo.push((b":authority", a)),
                None => return Poll::Ready(Err(Error::local("CONNECT without an authority"))),
            },
            _ => return Poll::Ready(Err(Error::local("a request without :scheme or :path"))),
        }
        let id = StreamId::new(self.next_local_id);
        self.next_local_id += 2;
        if let Err(e) = self.write_headers(id, &pseudo, &head.headers, end_stream, true) {
            return Poll::Ready(Err(e));
        }
        let window = self.config.stream_window;
        let mut s = Stream::new(
            id,
            RecvWindow::new(window, window),
            SendWindow::new(self.peer_initial_window),
        );
        s.recv.reader = false;
        s.head.waiting = true;
        s.head_request = head.method.is_head();
        s.send.writer = writer;
        s.send.declared = declared_length(&head.headers);
        if end_stream {
            s.state.send_end();
        }
        self.streams.insert(id.get(), s);
        self.active_local += 1;
        self.idle_since = None;
        Poll::Ready(Ok(id))
    }

    /// The response head of stream `id`, whether it ended the stream, and
    /// the body's declared length.
    pub(crate) fn poll_response(
        &mut self,
        id: StreamId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Arrived, Error>> {
        let peer = self.peer;
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return Poll::Ready(Err(gone(peer)));
        };
        if let Some(head) = s.head.response.take() {
            s.head.waiting = false;
            return Poll::Ready(Ok(Arrived {
                head,
                end: s.head.end,
                size: s.recv.expected,
            }));
        }
        if let Some(e) = &s.error {
            return Poll::Ready(Err(e.clone()));
        }
        if !s.state.is_active() {
            return Poll::Ready(Err(gone(peer)));
        }
        s.head.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The caller stopped waiting for stream `id`'s response: the stream
    /// is cancelled.
    pub(crate) fn drop_response_waiter(&mut self, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return;
        };
        s.head.waiting = false;
        if s.head.response.take().is_some() {
            s.recv.reader = false;
            let n = s.recv.clear();
            self.release_conn(n);
        }
        self.cancel_if_active(id, ErrorCode::CANCEL);
    }

    fn cancel_if_active(&mut self, id: StreamId, code: ErrorCode) {
        let active = self
            .streams
            .get(&id.get())
            .is_some_and(|s| s.state.is_active());
        if active {
            let error = Error::local(format!("the stream was reset locally ({code})"));
            self.reset_stream(id, code, error, false);
        } else {
            self.maybe_remove(id.get());
        }
    }

    // ---- server -----------------------------------------------------------

    /// The next request: its stream, head, and whether it has no body.
    /// `None` once no more will come (the connection ended or is shutting
    /// down); an error once, if it failed.
    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Accepted, Error>>> {
        while let Some(id) = self.accept.pop_front() {
            let Some(s) = self.streams.get_mut(&id.get()) else {
                continue;
            };
            s.unaccepted = false;
            let Some(head) = s.head.request.take() else {
                continue;
            };
            return Poll::Ready(Some(Ok(Accepted {
                id,
                head,
                end: !s.recv.reader,
            })));
        }
        if let Some(e) = &self.failed {
            if !self.accept_error_reported {
                self.accept_error_reported = true;
                return Poll::Ready(Some(Err(e.clone())));
            }
            return Poll::Ready(None);
        }
        if self.finished
            || self.eof
            || self.goaway_received.is_some()
            || self.shutdown == Shutdown::Final
        {
            return Poll::Ready(None);
        }
        self.accept_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Nobody accepts streams any more: the ones waiting are refused, and
    /// the connection shuts down gracefully.
    pub(crate) fn drop_acceptor(&mut self) {
        self.acceptor = false;
        let waiting: Vec<StreamId> = self.accept.drain(..).collect();
        for id in waiting {
            if let Some(s) = self.streams.get_mut(&id.get()) {
                s.unaccepted = false;
                s.recv.reader = false;
                s.send.writer = false;
                s.head.request = None;
            }
            let error = Error::Unprocessed {
                side: self.peer,
                reason: "refused",
            };
            self.reset_stream(id, ErrorCode::REFUSED_STREAM, error, false);
        }
        self.start_shutdown();
    }

    /// Sends the response head of stream `id`; returns whether a body
    /// follows (not after END_STREAM, nor for HEAD, 204 and 304).
    pub(crate) fn send_response(
        &mut self,
        id: StreamId,
        head: &ResponseHead,
        end_stream: bool,
    ) -> Result<bool, Error> {
        let peer = self.peer;
        if let Some(e) = self.unusable() {
            return Err(e);
        }
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return Err(gone(peer));
        };
        if let Some(e) = &s.error {
            return Err(e.clone());
        }
        if s.head.responded || !s.state.send_open() {
            return Err(Error::local("the stream already has a response"));
        }
        if !(200..=599).contains(&head.status) {
            return Err(Error::local(format!(
                "status {} cannot be a final response",
                head.status
            )));
        }
        let no_body = s.head_request || head.status == 204 || head.status == 304;
        let end = end_stream || no_body;
        let declared = if no_body {
            None
        } else {
            declared_length(&head.headers)
        };
        if end && declared.is_some_and(|n| n > 0) {
            return Err(Error::local("a content-length with an empty body"));
        }
        s.head.responded = true;
        s.no_body = no_body;
        s.send.declared = declared;
        let status = head.status.to_string();
        self.write_headers(
            id,
            &[(b":status", status.as_bytes())],
            &head.headers,
            end,
            false,
        )?;
        if end {
            if let Some(s) = self.streams.get_mut(&id.get()) {
                let was_active = s.state.is_active();
                s.state.send_end();
                s.send.writer = false;
                self.after_change(id.get(), was_active);
            }
        }
        Ok(!end)
    }

    /// The `Respond` handle of stream `id` went away without responding.
    pub(crate) fn drop_responder(&mut self, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return;
        };
        s.send.writer = false;
        if s.state.send_open() {
            self.cancel_if_active(id, ErrorCode::INTERNAL_ERROR);
        } else {
            self.maybe_remove(id.get());
        }
    }

    // ---- sending bodies ---------------------------------------------------

    fn sendable_stream(&mut self, id: StreamId) -> Result<&mut Stream, Error> {
        let peer = self.peer;
        if let Some(e) = self.unusable() {
            if !self.streams.contains_key(&id.get()) {
                return Err(e);
            }
        }
        let s = self.streams.get_mut(&id.get()).ok_or_else(|| gone(peer))?;
        if let Some(e) = &s.error {
            return Err(e.clone());
        }
        if !s.state.send_open() || s.send.end {
            return Err(Error::local("the stream's body already ended"));
        }
        Ok(s)
    }

    /// Ready once stream `id` has room in its send buffer.
    pub(crate) fn poll_capacity(
        &mut self,
        id: StreamId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let cap = self.config.stream_send_buffer;
        match self.sendable_stream(id) {
            Err(e) => Poll::Ready(Err(e)),
            Ok(s) if s.send.buffered < cap => Poll::Ready(Ok(())),
            Ok(s) => {
                s.send.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Ready once stream `id` can no longer send (reset, failed, gone).
    pub(crate) fn poll_send_closed(&mut self, id: StreamId, cx: &mut Context<'_>) -> Poll<()> {
        match self.sendable_stream(id) {
            Err(_) => Poll::Ready(()),
            Ok(s) => {
                s.send.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Hands body bytes to stream `id` (and ends the body with `end`).
    pub(crate) fn push_data(&mut self, id: StreamId, data: Bytes, end: bool) -> Result<(), Error> {
        let s = self.sendable_stream(id)?;
        s.send.total += data.len() as u64;
        if let Some(declared) = s.send.declared {
            let total = s.send.total;
            if total > declared || end && total != declared {
                let error = Error::local(format!(
                    "a body of {total}{} bytes for a content-length of {declared}",
                    if end { "" } else { " or more" }
                ));
                self.reset_stream(id, ErrorCode::INTERNAL_ERROR, error.clone(), false);
                return Err(error);
            }
        }
        if !data.is_empty() {
            s.send.buffered += data.len();
            s.send.queue.push_back(data);
        }
        if end {
            s.send.end = true;
        }
        self.mark_ready(id);
        Ok(())
    }

    /// Ends stream `id`'s body with trailers.
    pub(crate) fn push_trailers(&mut self, id: StreamId, trailers: HeaderMap) -> Result<(), Error> {
        let s = self.sendable_stream(id)?;
        if let Some(declared) = s.send.declared {
            if s.send.total != declared {
                let error = Error::local(format!(
                    "a body of {} bytes for a content-length of {declared}",
                    s.send.total
                ));
                self.reset_stream(id, ErrorCode::INTERNAL_ERROR, error.clone(), false);
                return Err(error);
            }
        }
        s.send.trailers = Some(trailers);
        s.send.end = true;
        self.mark_ready(id);
        Ok(())
    }

    /// The writer of stream `id` went away; a body it did not end is
    /// cancelled.
    pub(crate) fn drop_writer(&mut self, id: StreamId) {
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return;
        };
        s.send.writer = false;
        if s.state.send_open() && !s.send.end {
            self.cancel_if_active(id, ErrorCode::CANCEL);
        } else {
            self.maybe_remove(id.get());
        }
    }

    /// The application resets stream `id` with `code`.
    pub(crate) fn reset_by_app(&mut self, id: StreamId, code: ErrorCode) {
        self.cancel_if_active(id, code);
    }

    // ---- receiving bodies -------------------------------------------------

    /// The next piece of stream `id`'s body: data (reopening the windows
    /// by its size), then trailers, then the end or the stream's error.
    pub(crate) fn poll_data(
        &mut self,
        id: StreamId,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame, Error>>> {
        let peer = self.peer;
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return Poll::Ready(Some(Err(gone(peer))));
        };
        if let Some(data) = s.recv.pop() {
            let n = data.len();
            self.release(id.get(), n);
            return Poll::Ready(Some(Ok(BodyFrame::Data(data))));
        }
        if let Some(t) = s.recv.trailers.take() {
            return Poll::Ready(Some(Ok(BodyFrame::Trailers(t))));
        }
        if let Some(e) = &s.error {
            return Poll::Ready(Some(Err(e.clone())));
        }
        if !s.state.recv_open() {
            return Poll::Ready(None);
        }
        s.recv.waker = Some(cx.waker().clone());
        if let Some(e) = self.unusable() {
            return Poll::Ready(Some(Err(e)));
        }
        Poll::Pending
    }

    /// Whether stream `id`'s body has nothing more to give.
    pub(crate) fn recv_finished(&self, id: StreamId) -> bool {
        self.streams.get(&id.get()).is_none_or(|s| {
            s.recv.buffered == 0
                && s.recv.trailers.is_none()
                && s.error.is_none()
                && !s.state.recv_open()
        })
    }

    /// The reader of stream `id` went away: what it did not read is
    /// discarded and given back to the windows. A client cancels the
    /// stream; a server lets its response finish, then tells the client to
    /// stop sending (RST_STREAM NO_ERROR, RFC 9113 §8.1).
    pub(crate) fn drop_reader(&mut self, id: StreamId) {
        let role = self.role;
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return;
        };
        s.recv.reader = false;
        s.recv.trailers = None;
        let n = s.recv.clear();
        let recv_open = s.state.recv_open();
        let was_active = s.state.is_active();
        self.release_conn(n);
        if recv_open && role == Role::Client {
            self.cancel_if_active(id, ErrorCode::CANCEL);
        } else {
            self.after_change(id.get(), was_active);
        }
    }
}
