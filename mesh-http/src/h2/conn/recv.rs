//! What the connection does with each frame it receives (RFC 9113 §5.1,
//! §6), with the exact error code for each rule.

use bytes::BytesMut;

use super::block::{Block, BlockError};
use super::floods::Flood;
use super::flow::{RecvWindow, SendWindow};
use super::stream::{Cause, State, Stream};
use super::validate::{self, Malformed};
use super::{Core, Fault, Role, SHUTDOWN_PING, Shutdown, conn_fault, peek_head, stream_fault};
use crate::h2::frame::{
    Continuation, Data, Frame, FrameType, GoAway, Headers, Ping, RstStream, Settings, StreamId,
    WindowUpdate,
};
use crate::h2::{Error, ErrorCode, hpack};
use tokio_util::codec::Decoder;

/// Where a frame's stream stands.
enum Known {
    /// Open or half-closed.
    Active,
    /// Closed (how, if remembered).
    Closed(Option<Cause>),
    /// Never opened, and its id is above every id of its initiator.
    Idle,
}

fn malformed(id: StreamId) -> impl FnOnce(Malformed) -> Fault {
    move |m| stream_fault(id, ErrorCode::PROTOCOL_ERROR, m.0)
}

impl Core {
    /// Processes every complete frame in `buf` (the driver's read
    /// buffer). Stops at the first connection error; stream errors reset
    /// their stream and processing goes on.
    pub(crate) fn recv_bytes(&mut self, buf: &mut BytesMut) {
        loop {
            if self.failed.is_some() {
                buf.clear();
                return;
            }
            let head = peek_head(buf);
            match self.codec.decode(buf) {
                Ok(Some(frame)) => {
                    if let Err(fault) = self.recv_frame(frame) {
                        self.fault(fault);
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let reason = e.to_string();
                    // A frame that carries a field block cannot be skipped
                    // without breaking HPACK, and nothing may come between
                    // HEADERS and its CONTINUATION: connection errors,
                    // whatever the frame layer says.
                    let scoped = head.filter(|h| {
                        !h.kind.carries_field_block() && self.block.expecting().is_none()
                    });
                    match (e.stream_error(), scoped) {
                        (Some(id), Some(h)) => {
                            if h.kind == FrameType::DATA {
                                // The peer counted the frame against the
                                // connection window: so do we, and give it
                                // back at once.
                                let len = h.length as usize;
                                if self.recv_window.receive(len).is_err() {
                                    self.fail_connection(
                                        ErrorCode::FLOW_CONTROL_ERROR,
                                        "DATA beyond the connection window",
                                    );
                                    continue;
                                }
                                self.release_conn(len);
                            }
                            self.fault(stream_fault(id, e.code(), reason));
                        }
                        _ => self.fault(conn_fault(e.code(), reason)),
                    }
                }
            }
        }
    }

    fn recv_frame(&mut self, frame: Frame) -> Result<(), Fault> {
        if !self.peer_settings && !matches!(&frame, Frame::Settings(s) if !s.ack) {
            return Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                format!(
                    "the peer's first frame is {}, not SETTINGS",
                    frame.head().kind
                ),
            ));
        }
        if let Some(expect) = self.block.expecting() {
            if !matches!(&frame, Frame::Continuation(c) if c.stream_id == expect) {
                return Err(conn_fault(
                    ErrorCode::PROTOCOL_ERROR,
                    format!(
                        "{} frame on stream {} inside the field block of stream {expect}",
                        frame.head().kind,
                        frame.stream_id()
                    ),
                ));
            }
        }
        match frame {
            Frame::Data(d) => self.recv_data(d),
            Frame::Headers(h) => self.recv_headers(h),
            Frame::Continuation(c) => self.recv_continuation(c),
            // RFC 9113 deprecates priorities; the frame layer checked them.
            Frame::Priority(_) => Ok(()),
            Frame::RstStream(r) => self.recv_reset(r),
            Frame::Settings(s) => self.recv_settings(s),
            Frame::PushPromise(p) => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                match self.role {
                    Role::Server => format!("PUSH_PROMISE from a client on stream {}", p.stream_id),
                    Role::Client => "PUSH_PROMISE although we disabled push".to_owned(),
                },
            )),
            Frame::Ping(p) => self.recv_ping(p),
            Frame::GoAway(g) => {
                self.recv_goaway(g);
                Ok(())
            }
            Frame::WindowUpdate(w) => self.recv_window_update(w),
            // Extensions we do not know are ignored (RFC 9113 §5.5).
            Frame::Unknown(_) => Ok(()),
        }
    }

    fn lookup(&self, id: StreamId) -> Known {
        if let Some(s) = self.streams.get(&id.get()) {
            return match s.state {
                State::Closed(c) => Known::Closed(Some(c)),
                _ => Known::Active,
            };
        }
        let opened = if self.is_peer_initiated(id) {
            id.get() <= self.last_peer_id
        } else {
            id.get() < self.next_local_id
        };
        if opened {
            Known::Closed(self.closed_cause(id.get()))
        } else {
            Known::Idle
        }
    }

    /// A DATA or HEADERS frame on a closed stream (RFC 9113 §5.1).
    fn on_closed(&self, id: StreamId, cause: Option<Cause>, kind: FrameType) -> Result<(), Fault> {
        match cause {
            // We reset it: the peer may not have seen that yet.
            Some(Cause::LocalReset) => Ok(()),
            Some(Cause::PeerReset) => Err(stream_fault(
                id,
                ErrorCode::STREAM_CLOSED,
                format!("{kind} on stream {id} after the peer reset it"),
            )),
            Some(Cause::Ended) => Err(conn_fault(
                ErrorCode::STREAM_CLOSED,
                format!("{kind} on stream {id}, closed after END_STREAM"),
            )),
            None => Err(stream_fault(
                id,
                ErrorCode::STREAM_CLOSED,
                format!("{kind} on closed stream {id}"),
            )),
        }
    }

    fn recv_data(&mut self, d: Data) -> Result<(), Fault> {
        let id = d.stream_id;
        let len = d.flow_controlled_len();
        if let Err(e) = self.recv_window.receive(len) {
            return Err(conn_fault(
                ErrorCode::FLOW_CONTROL_ERROR,
                format!(
                    "DATA of {} bytes on stream {id} exceeds the connection window of {}",
                    e.len, e.window
                ),
            ));
        }
        if d.data.is_empty() && !d.end_stream && !self.count(Flood::EmptyData) {
            return Ok(());
        }
        match self.lookup(id) {
            Known::Idle => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                format!("DATA on idle stream {id}"),
            )),
            Known::Closed(cause) => {
                self.release_conn(len);
                self.on_closed(id, cause, FrameType::DATA)
            }
            Known::Active => self.recv_stream_data(d, len),
        }
    }

    fn recv_stream_data(&mut self, d: Data, len: usize) -> Result<(), Fault> {
        let id = d.stream_id;
        let role = self.role;
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return Ok(());
        };
        let check = (|| {
            if !s.state.recv_open() {
                return Err(stream_fault(
                    id,
                    ErrorCode::STREAM_CLOSED,
                    format!("DATA on stream {id} after END_STREAM"),
                ));
            }
            if role == Role::Client && !s.head.got_final {
                return Err(stream_fault(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    format!("DATA on stream {id} before the response head"),
                ));
            }
            if let Err(e) = s.recv.window.receive(len) {
                return Err(stream_fault(
                    id,
                    ErrorCode::FLOW_CONTROL_ERROR,
                    format!(
                        "DATA of {} bytes exceeds the window of {} of stream {id}",
                        e.len, e.window
                    ),
                ));
            }
            let n = d.data.len() as u64;
            if s.no_body && n > 0 {
                return Err(stream_fault(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    format!("DATA on stream {id}, whose response has no body"),
                ));
            }
            s.recv.received += n;
            if let Some(expected) = s.recv.expected {
                let received = s.recv.received;
                if received > expected || d.end_stream && received != expected {
                    return Err(stream_fault(
                        id,
                        ErrorCode::PROTOCOL_ERROR,
                        format!(
                            "content-length {expected} but {received}{} bytes of DATA on stream {id}",
                            if d.end_stream { "" } else { " or more" }
                        ),
                    ));
                }
            }
            Ok(())
        })();
        if let Err(fault) = check {
            self.release_conn(len);
            return Err(fault);
        }
        let data_len = d.data.len();
        let keep = s.recv.reader;
        if keep && data_len > 0 {
            s.recv.push(d.data);
        }
        let was_active = s.state.is_active();
        if d.end_stream {
            s.state.recv_end();
        }
        s.recv.wake();
        let discard = if keep { len - data_len } else { len };
        self.after_change(id.get(), was_active);
        self.release(id.get(), discard);
        Ok(())
    }

    fn recv_headers(&mut self, h: Headers) -> Result<(), Fault> {
        let block = self.block.headers(h).map_err(block_fault)?;
        match block {
            Some(b) => self.recv_block(b),
            None => Ok(()),
        }
    }

    fn recv_continuation(&mut self, c: Continuation) -> Result<(), Fault> {
        let block = self.block.continuation(c).map_err(block_fault)?;
        match block {
            Some(b) => self.recv_block(b),
            None => Ok(()),
        }
    }

    /// A complete field block: decoded first whatever becomes of the
    /// stream (HPACK state is the connection's), then applied.
    fn recv_block(&mut self, b: Block) -> Result<(), Fault> {
        let id = b.stream_id;
        let mut fields = Vec::new();
        let too_large = match self.decoder.decode(&b.fragment, &mut fields) {
            Ok(()) => None,
            // The decoder stayed in sync: only this stream fails.
            Err(e) if e.is_stream_error() => Some(e.to_string()),
            Err(e) => return Err(conn_fault(e.code(), e.to_string())),
        };
        match self.lookup(id) {
            Known::Idle if self.is_peer_initiated(id) && self.role == Role::Server => {
                self.last_peer_id = id.get();
                self.open_peer_stream(id, b.end_stream, fields, too_large)
            }
            Known::Idle => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                match self.role {
                    Role::Server => format!("HEADERS on stream {id}, which a client cannot open"),
                    Role::Client => {
                        format!("HEADERS on stream {id}, which we did not open (push is disabled)")
                    }
                },
            )),
            Known::Closed(None) if self.is_peer_initiated(id) => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                format!(
                    "HEADERS on stream {id}, not above the last stream {} the peer opened",
                    self.last_peer_id
                ),
            )),
            Known::Closed(cause) => self.on_closed(id, cause, FrameType::HEADERS),
            Known::Active => self.recv_block_on_stream(id, b.end_stream, fields, too_large),
        }
    }

    /// A client opens a stream.
    fn open_peer_stream(
        &mut self,
        id: StreamId,
        end_stream: bool,
        fields: Vec<hpack::Field>,
        too_large: Option<String>,
    ) -> Result<(), Fault> {
        let beyond_goaway = self.goaway_sent.is_some_and(|last| id > last);
        if beyond_goaway || !self.acceptor {
            // Not processed: the peer may retry it elsewhere.
            self.queue_control(&RstStream::new(id, ErrorCode::REFUSED_STREAM).into());
            self.remember_closed(id.get(), Cause::LocalReset);
            return Ok(());
        }
        if let Some(reason) = too_large {
            return Err(stream_fault(id, ErrorCode::PROTOCOL_ERROR, reason));
        }
        if self.active_peer >= self.config.max_concurrent_streams {
            return Err(stream_fault(
                id,
                ErrorCode::REFUSED_STREAM,
                format!(
                    "stream {id} beyond SETTINGS_MAX_CONCURRENT_STREAMS {}",
                    self.config.max_concurrent_streams
                ),
            ));
        }
        let head = validate::request(fields).map_err(malformed(id))?;
        let expected = validate::declared_length(&head.headers);
        if end_stream && expected.is_some_and(|n| n > 0) {
            return Err(stream_fault(
                id,
                ErrorCode::PROTOCOL_ERROR,
                format!(
                    "content-length {} but stream {id} ended with its head",
                    expected.unwrap_or_default()
                ),
            ));
        }
        let window = self.config.stream_window;
        let mut s = Stream::new(
            id,
            RecvWindow::new(window, window),
            SendWindow::new(self.peer_initial_window),
        );
        s.recv.expected = expected;
        s.head_request = head.method.is_head();
        s.head.request = Some(head);
        s.unaccepted = true;
        s.send.writer = true;
        if end_stream {
            s.state.recv_end();
            s.recv.reader = false;
        }
        self.streams.insert(id.get(), s);
        self.active_peer += 1;
        self.idle_since = None;
        self.accept.push_back(id);
        if let Some(w) = self.accept_waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// A field block on an open stream: a response head (client), or
    /// trailers.
    fn recv_block_on_stream(
        &mut self,
        id: StreamId,
        end_stream: bool,
        fields: Vec<hpack::Field>,
        too_large: Option<String>,
    ) -> Result<(), Fault> {
        let role = self.role;
        let max_informational = self.config.limits.max_informational;
        let Some(s) = self.streams.get_mut(&id.get()) else {
            return Ok(());
        };
        if !s.state.recv_open() {
            return Err(stream_fault(
                id,
                ErrorCode::STREAM_CLOSED,
                format!("HEADERS on stream {id} after END_STREAM"),
            ));
        }
        if let Some(reason) = too_large {
            return Err(stream_fault(id, ErrorCode::PROTOCOL_ERROR, reason));
        }
        if role == Role::Client && !s.head.got_final {
            let head = validate::response(fields).map_err(malformed(id))?;
            if (100..200).contains(&head.status) {
                if end_stream {
                    return Err(stream_fault(
                        id,
                        ErrorCode::PROTOCOL_ERROR,
                        format!("informational response ends stream {id}"),
                    ));
                }
                s.head.informational += 1;
                if s.head.informational > max_informational {
                    return Err(stream_fault(
                        id,
                        ErrorCode::ENHANCE_YOUR_CALM,
                        format!("more than {max_informational} informational responses"),
                    ));
                }
                return Ok(());
            }
            s.head.got_final = true;
            s.no_body = s.head_request || head.status == 204 || head.status == 304;
            s.recv.expected = if s.no_body {
                None
            } else {
                validate::declared_length(&head.headers)
            };
            if end_stream && s.recv.expected.is_some_and(|n| n > 0) {
                return Err(stream_fault(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    format!("content-length but response on stream {id} ended with its head"),
                ));
            }
            s.head.response = Some(head);
            s.head.end = end_stream;
            s.recv.reader = !end_stream;
            if let Some(w) = s.head.waker.take() {
                w.wake();
            }
        } else {
            // Trailers.
            if !end_stream {
                return Err(stream_fault(
                    id,
                    ErrorCode::PROTOCOL_ERROR,
                    format!("trailers without END_STREAM on stream {id}"),
                ));
            }
            let trailers = validate::trailers(fields).map_err(malformed(id))?;
            if let Some(expected) = s.recv.expected {
                if s.recv.received != expected {
                    return Err(stream_fault(
                        id,
                        ErrorCode::PROTOCOL_ERROR,
                        format!(
                            "content-length {expected} but {} bytes of DATA on stream {id}",
                            s.recv.received
                        ),
                    ));
                }
            }
            if s.recv.reader {
                s.recv.trailers = Some(trailers);
            }
        }
        let was_active = s.state.is_active();
        if end_stream {
            s.state.recv_end();
            s.recv.wake();
        }
        self.after_change(id.get(), was_active);
        Ok(())
    }

    fn recv_reset(&mut self, r: RstStream) -> Result<(), Fault> {
        let id = r.stream_id;
        match self.lookup(id) {
            Known::Idle => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                format!("RST_STREAM on idle stream {id}"),
            )),
            // Never answered: that would loop (RFC 9113 §5.4.2).
            Known::Closed(_) => Ok(()),
            Known::Active => {
                if !self.count(Flood::Resets) {
                    return Ok(());
                }
                let peer = self.peer;
                let Some(s) = self.streams.get_mut(&id.get()) else {
                    return Ok(());
                };
                s.state = State::Closed(Cause::PeerReset);
                s.error.get_or_insert(Error::Reset {
                    side: peer,
                    code: r.code,
                });
                s.send.queue.clear();
                s.send.buffered = 0;
                s.wake_all();
                if s.unaccepted {
                    // Reset before the application saw it: never handed out.
                    s.unaccepted = false;
                    s.recv.reader = false;
                    s.send.writer = false;
                    self.accept.retain(|&a| a != id);
                }
                self.after_change(id.get(), true);
                Ok(())
            }
        }
    }

    fn recv_settings(&mut self, s: Settings) -> Result<(), Fault> {
        if s.ack {
            if self.settings_sent.take().is_some() {
                self.codec
                    .set_max_recv_frame_size(self.config.max_frame_size);
            }
            return Ok(());
        }
        if !self.count(Flood::Settings) {
            return Ok(());
        }
        let first = !self.peer_settings;
        self.peer_settings = true;
        if self.role == Role::Client && s.enable_push == Some(true) {
            return Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                "a server sent SETTINGS_ENABLE_PUSH 1",
            ));
        }
        if let Some(size) = s.header_table_size {
            self.encoder.set_peer_max_table_size(size as usize);
        }
        match s.max_concurrent_streams {
            Some(n) => self.peer_max_streams = n,
            None if first => self.peer_max_streams = u32::MAX,
            None => {}
        }
        for w in self.open_waiters.drain(..) {
            w.wake();
        }
        if let Some(size) = s.initial_window_size {
            let delta = i64::from(size) - i64::from(self.peer_initial_window);
            self.peer_initial_window = size;
            let mut overflow = None;
            for st in self.streams.values_mut() {
                if st.send.window.adjust(delta).is_err() {
                    overflow = Some(st.id);
                }
            }
            if let Some(id) = overflow {
                return Err(conn_fault(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    format!(
                        "SETTINGS_INITIAL_WINDOW_SIZE {size} overflows the window of stream {id}"
                    ),
                ));
            }
            if delta > 0 {
                self.mark_all_ready();
            }
        }
        if let Some(size) = s.max_frame_size {
            self.codec.set_max_send_frame_size(size);
        }
        if let Some(size) = s.max_header_list_size {
            self.peer_max_header_list = size;
        }
        self.queue_control(&Settings::ack().into());
        Ok(())
    }

    fn recv_ping(&mut self, p: Ping) -> Result<(), Fault> {
        if p.ack {
            if p.payload == SHUTDOWN_PING && matches!(self.shutdown, Shutdown::Pinged { .. }) {
                self.final_goaway();
            }
            return Ok(());
        }
        if self.count(Flood::Pings) {
            self.queue_control(&p.to_ack().into());
        }
        Ok(())
    }

    fn recv_goaway(&mut self, g: GoAway) {
        let last = match &self.goaway_received {
            // The last stream id may only go down.
            Some((prev, ..)) => g.last_stream_id.min(*prev),
            None => g.last_stream_id,
        };
        if g.code != ErrorCode::NO_ERROR {
            tracing::debug!(peer = %self.peer, code = %g.code, "HTTP/2 GOAWAY received");
        }
        self.goaway_received = Some((last, g.code, g.debug_data));
        let peer = self.peer;
        let refused: Vec<u32> = self
            .streams
            .values()
            .filter(|s| s.state.is_active() && !self.is_peer_initiated(s.id) && s.id > last)
            .map(|s| s.id.get())
            .collect();
        for id in refused {
            if let Some(s) = self.streams.get_mut(&id) {
                s.state = State::Closed(Cause::LocalReset);
                s.error.get_or_insert(Error::Unprocessed {
                    side: peer,
                    reason: "the stream is above the last stream id of the peer's GOAWAY",
                });
                s.send.queue.clear();
                s.send.buffered = 0;
                s.wake_all();
                self.after_change(id, true);
            }
        }
        self.wake_waiters();
        self.wake_driver = true;
    }

    fn recv_window_update(&mut self, w: WindowUpdate) -> Result<(), Fault> {
        let id = w.stream_id;
        if id.is_connection() {
            if self.send_window.increase(w.increment).is_err() {
                return Err(conn_fault(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    format!(
                        "WINDOW_UPDATE of {} overflows the connection window",
                        w.increment
                    ),
                ));
            }
            self.conn_stalled_since = None;
            self.mark_all_ready();
            return Ok(());
        }
        match self.lookup(id) {
            Known::Idle => Err(conn_fault(
                ErrorCode::PROTOCOL_ERROR,
                format!("WINDOW_UPDATE on idle stream {id}"),
            )),
            Known::Closed(_) => Ok(()),
            Known::Active => {
                let Some(s) = self.streams.get_mut(&id.get()) else {
                    return Ok(());
                };
                if s.send.window.increase(w.increment).is_err() {
                    return Err(stream_fault(
                        id,
                        ErrorCode::FLOW_CONTROL_ERROR,
                        format!(
                            "WINDOW_UPDATE of {} overflows the window of stream {id}",
                            w.increment
                        ),
                    ));
                }
                s.send.stalled_since = None;
                self.mark_ready(id);
                Ok(())
            }
        }
    }
}

fn block_fault(e: BlockError) -> Fault {
    match e {
        BlockError::UnexpectedContinuation { stream_id } => conn_fault(
            ErrorCode::PROTOCOL_ERROR,
            format!("CONTINUATION on stream {stream_id} without a field block to continue"),
        ),
        BlockError::TooLarge { size, limit } => conn_fault(
            ErrorCode::ENHANCE_YOUR_CALM,
            format!("field block of {size} bytes exceeds the limit of {limit}"),
        ),
        BlockError::TooManyFrames { limit } => conn_fault(
            ErrorCode::ENHANCE_YOUR_CALM,
            format!("field block in more than {limit} CONTINUATION frames"),
        ),
    }
}
