//! The connection state machine, without I/O: streams and their states,
//! SETTINGS, flow control, header blocks, validation, hardening counters,
//! GOAWAY and timers.
//!
//! [`Core`] takes bytes read from the socket ([`Core::recv_bytes`]) and
//! queues the bytes to write ([`Core::take_output`]); the driver task
//! moves bytes between it and the socket, and the stream handles call its
//! methods under the connection's lock. Every rule of RFC 9113 §5 and §6
//! lives here, each protocol error with its exact code.

mod block;
mod floods;
mod flow;
mod recv;
mod send;
mod stream;
pub(crate) mod validate;
mod write;

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::task::Waker;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use tokio::time::Instant;

use self::block::Assembler;
use self::floods::{Flood, Floods};
use self::flow::{RecvWindow, SendWindow};
use self::stream::{Cause, State, Stream};
use self::write::WriteQueue;

pub(crate) use self::send::Accepted;
use super::config::{Config, DEFAULT_WINDOW};
use super::frame::{self, Frame, FrameCodec, GoAway, Ping, Settings, StreamId, WindowUpdate};
use super::{Error, ErrorCode, PREFACE, hpack};

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// We sent the preface and open odd streams.
    Client,
    /// We received the preface and accept the client's streams.
    Server,
}

/// A frame the peer got wrong: which stream or the connection, and the
/// code to send.
#[derive(Debug)]
pub(crate) enum Fault {
    /// A connection error: GOAWAY, and the connection ends.
    Conn(ErrorCode, Cow<'static, str>),
    /// A stream error: RST_STREAM, counted against the reset limit.
    Stream(StreamId, ErrorCode, Cow<'static, str>),
}

pub(crate) fn conn_fault(code: ErrorCode, reason: impl Into<Cow<'static, str>>) -> Fault {
    Fault::Conn(code, reason.into())
}

pub(crate) fn stream_fault(
    id: StreamId,
    code: ErrorCode,
    reason: impl Into<Cow<'static, str>>,
) -> Fault {
    Fault::Stream(id, code, reason.into())
}

/// How many closed streams are remembered, to tell a late frame on a
/// stream we reset (ignored) from one on a stream that ended (an error).
const CLOSED_MEMORY: usize = 256;

/// The opaque data of the PING that times the two-step GOAWAY.
const SHUTDOWN_PING: [u8; 8] = *b"meshgoaw";

/// A graceful shutdown in progress (RFC 9113 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    /// Not shutting down.
    No,
    /// GOAWAY with the largest stream id and a PING went out: streams in
    /// flight are still accepted until the PING comes back.
    Pinged { at: Instant },
    /// The final GOAWAY went out: streams above its last id are ignored,
    /// and the connection ends when the rest are done.
    Final,
}

/// Counters of what a connection holds, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnStats {
    /// Streams open or half-closed.
    pub active_streams: usize,
    /// Received body bytes waiting for their readers, all streams.
    pub recv_buffered: usize,
    /// Body bytes handed to streams, waiting for the peer's windows.
    pub send_buffered: usize,
    /// Bytes waiting to be written to the socket.
    pub write_buffered: usize,
    /// Streams the connection keeps state for: active ones, and closed
    /// ones whose body or handle the application still holds.
    pub streams: usize,
}

/// The state of one HTTP/2 connection.
#[derive(Debug)]
pub(crate) struct Core {
    role: Role,
    /// Who the peer is, for blame.
    peer: Side,
    config: Config,
    codec: FrameCodec,
    decoder: hpack::Decoder,
    encoder: hpack::Encoder,

    // SETTINGS.
    started: Instant,
    /// Our SETTINGS waits for its ACK since then.
    settings_sent: Option<Instant>,
    /// The peer's first SETTINGS arrived.
    peer_settings: bool,
    peer_max_streams: u32,
    peer_initial_window: u32,
    peer_max_header_list: u32,

    // Flow control of the connection.
    send_window: SendWindow,
    recv_window: RecvWindow,
    conn_stalled_since: Option<Instant>,

    // Streams.
    streams: HashMap<u32, Stream>,
    closed: VecDeque<(u32, Cause)>,
    last_peer_id: u32,
    next_local_id: u32,
    active_peer: u32,
    active_local: u32,
    block: Assembler,
    floods: Floods,

    // GOAWAY.
    goaway_sent: Option<StreamId>,
    goaway_received: Option<(StreamId, ErrorCode, Bytes)>,
    shutdown: Shutdown,

    // Output.
    out: WriteQueue,
    /// Bytes queued or handed to the driver and not yet written.
    unwritten: usize,
    /// Bytes ever queued / ever written, to know which control frames are
    /// still unwritten.
    queued_total: u64,
    written_total: u64,
    /// Where each unwritten control answer ends in the byte stream.
    control_ends: VecDeque<u64>,
    wake_driver: bool,

    // Life.
    failed: Option<Error>,
    finished: bool,
    eof: bool,

    // Server: streams waiting to be accepted.
    accept: VecDeque<StreamId>,
    accept_waker: Option<Waker>,
    acceptor: bool,
    accept_error_reported: bool,

    // Client: callers waiting for a stream slot, and live senders.
    open_waiters: Vec<Waker>,
    senders: usize,

    /// Streams with something to send now, in round-robin order.
    ready: VecDeque<StreamId>,
    idle_since: Option<Instant>,
}

impl Core {
    /// A new connection: queues the preface (client), our SETTINGS and the
    /// connection WINDOW_UPDATE.
    pub(crate) fn new(role: Role, config: Config) -> Core {
        let config = config.normalized();
        let now = Instant::now();
        let peer = match role {
            Role::Client => Side::Upstream,
            Role::Server => Side::Downstream,
        };
        let mut codec = FrameCodec::new(peer, frame::Limits::default());
        if role == Role::Server {
            codec = codec.expect_preface();
        }
        let limits = hpack::Limits {
            max_table_size: hpack::Limits::DEFAULT_TABLE_SIZE,
            max_header_list_size: config.limits.max_header_list_size as usize,
        };
        let mut core = Core {
            role,
            peer,
            codec,
            decoder: hpack::Decoder::new(peer, limits),
            encoder: hpack::Encoder::default(),
            started: now,
            settings_sent: Some(now),
            peer_settings: false,
            // Until the server's SETTINGS say otherwise, open at most the
            // RFC's recommended minimum it should allow.
            peer_max_streams: 100,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_header_list: u32::MAX,
            send_window: SendWindow::new(DEFAULT_WINDOW),
            recv_window: RecvWindow::new(DEFAULT_WINDOW, config.connection_window),
            conn_stalled_since: None,
            streams: HashMap::new(),
            closed: VecDeque::new(),
            last_peer_id: 0,
            next_local_id: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            active_peer: 0,
            active_local: 0,
            block: Assembler::new(
                config.limits.max_header_block_size,
                config.limits.max_continuation_frames,
            ),
            floods: Floods::new(&config.limits),
            goaway_sent: None,
            goaway_received: None,
            shutdown: Shutdown::No,
            out: WriteQueue::default(),
            unwritten: 0,
            queued_total: 0,
            written_total: 0,
            control_ends: VecDeque::new(),
            wake_driver: true,
            failed: None,
            finished: false,
            eof: false,
            accept: VecDeque::new(),
            accept_waker: None,
            acceptor: role == Role::Server,
            accept_error_reported: false,
            open_waiters: Vec::new(),
            senders: 0,
            ready: VecDeque::new(),
            idle_since: Some(now),
            config,
        };
        if role == Role::Client {
            core.out.push(Bytes::from_static(PREFACE));
            core.unwritten += PREFACE.len();
            core.queued_total += PREFACE.len() as u64;
        }
        let settings = Settings {
            enable_push: (role == Role::Client).then_some(false),
            max_concurrent_streams: Some(core.config.max_concurrent_streams),
            initial_window_size: Some(core.config.stream_window),
            max_frame_size: Some(core.config.max_frame_size),
            max_header_list_size: Some(core.config.limits.max_header_list_size),
            ..Settings::default()
        };
        core.queue(&settings.into());
        if let Some(inc) = core.recv_window.take_update() {
            core.queue(&WindowUpdate::new(StreamId::CONNECTION, inc).into());
        }
        core
    }

    // ---- output ---------------------------------------------------------

    /// Encodes `frame` into the output. Frames we build are always valid
    /// for the codec; a failure would be a bug, reported as an internal
    /// connection error rather than a panic.
    fn queue(&mut self, frame: &Frame) {
        let before = self.out.tail().len();
        let result = self.codec.write(frame, self.out.tail());
        self.out.commit(before);
        let n = self.out.tail().len() - before;
        self.unwritten += n;
        self.queued_total += n as u64;
        self.wake_driver = true;
        if let Err(e) = result {
            self.fail_connection(ErrorCode::INTERNAL_ERROR, format!("encoding a frame: {e}"));
        }
    }

    /// Queues a frame that answers the peer (an acknowledgement, a reset):
    /// these are the ones a peer that does not read can pile up.
    fn queue_control(&mut self, frame: &Frame) {
        self.queue(frame);
        self.control_ends.push_back(self.queued_total);
        if self.control_ends.len() > self.config.limits.max_pending_control && self.failed.is_none()
        {
            let limit = self.config.limits.max_pending_control;
            self.fail_connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                format!("more than {limit} answers to the peer wait unread"),
            );
        }
    }

    /// Moves everything queued to the driver's write list.
    pub(crate) fn take_output(&mut self, dst: &mut VecDeque<Bytes>) {
        self.out.drain_into(dst);
    }

    /// The driver wrote `n` bytes.
    pub(crate) fn written(&mut self, n: usize) {
        self.unwritten = self.unwritten.saturating_sub(n);
        self.written_total += n as u64;
        while self
            .control_ends
            .front()
            .is_some_and(|&end| end <= self.written_total)
        {
            self.control_ends.pop_front();
        }
    }

    /// Whether a handle queued something the driver must act on; resets
    /// the flag.
    pub(crate) fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake_driver)
    }

    // ---- errors ---------------------------------------------------------

    /// Applies a fault: RST_STREAM for a stream error, GOAWAY for a
    /// connection error.
    fn fault(&mut self, fault: Fault) {
        match fault {
            Fault::Conn(code, reason) => self.fail_connection(code, reason),
            Fault::Stream(id, code, reason) => {
                let error = if code == ErrorCode::REFUSED_STREAM {
                    Error::Unprocessed {
                        side: self.peer,
                        reason: "refused",
                    }
                } else {
                    Error::protocol(self.peer, code, reason)
                };
                self.reset_stream(id, code, error, true);
            }
        }
    }

    /// Ends the connection with GOAWAY `code`: every stream fails with the
    /// error, and nothing more is read.
    pub(crate) fn fail_connection(
        &mut self,
        code: ErrorCode,
        reason: impl Into<Cow<'static, str>>,
    ) {
        let reason = reason.into();
        let error = Error::protocol(self.peer, code, reason.clone());
        self.fail_with(code, reason, error);
    }

    /// Ends the connection with GOAWAY `code` and `reason` as its debug
    /// data; streams and the connection's `run` fail with `error`.
    fn fail_with(&mut self, code: ErrorCode, reason: Cow<'static, str>, error: Error) {
        if self.failed.is_some() {
            return;
        }
        tracing::debug!(peer = %self.peer, %code, %reason, "HTTP/2 connection error");
        let mut debug = reason.as_bytes().to_vec();
        debug.truncate(256);
        let goaway = GoAway {
            last_stream_id: StreamId::new(self.last_peer_id),
            code,
            debug_data: Bytes::from(debug),
        };
        self.goaway_sent = Some(goaway.last_stream_id);
        self.failed = Some(error.clone());
        self.queue(&goaway.into());
        self.fail_streams(&error);
    }

    /// Fails every stream still active with `error`.
    fn fail_streams(&mut self, error: &Error) {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            if s.state.is_active() {
                s.error.get_or_insert_with(|| error.clone());
                let was_active = true;
                s.state = State::Closed(Cause::LocalReset);
                s.send.queue.clear();
                s.send.buffered = 0;
                s.wake_all();
                self.after_change(id, was_active);
            }
        }
        self.wake_waiters();
    }

    fn wake_waiters(&mut self) {
        if let Some(w) = self.accept_waker.take() {
            w.wake();
        }
        for w in self.open_waiters.drain(..) {
            w.wake();
        }
    }

    /// Resets stream `id` with `code` (RST_STREAM) and fails its handles
    /// with `error`. `provoked`: the peer caused it, so it counts against
    /// the reset limit (MadeYouReset).
    fn reset_stream(&mut self, id: StreamId, code: ErrorCode, error: Error, provoked: bool) {
        if self.failed.is_some() || provoked && !self.count(Flood::Resets) {
            return;
        }
        self.queue_control(&frame::RstStream::new(id, code).into());
        let mut released = 0;
        if let Some(s) = self.streams.get_mut(&id.get()) {
            let was_active = s.state.is_active();
            if was_active {
                s.state = State::Closed(Cause::LocalReset);
            }
            s.error.get_or_insert(error);
            released = s.recv.clear();
            s.send.queue.clear();
            s.send.buffered = 0;
            s.wake_all();
            self.after_change(id.get(), was_active);
        } else {
            self.remember_closed(id.get(), Cause::LocalReset);
        }
        self.release_conn(released);
    }

    /// Counts one event against its rate limit; over it, GOAWAY
    /// ENHANCE_YOUR_CALM.
    fn count(&mut self, kind: Flood) -> bool {
        match self.floods.count(kind) {
            Ok(()) => true,
            Err(limit) => {
                self.fail_connection(
                    ErrorCode::ENHANCE_YOUR_CALM,
                    format!(
                        "more than {} {} per {:?}",
                        limit.max,
                        kind.name(),
                        limit.per
                    ),
                );
                false
            }
        }
    }

    // ---- streams --------------------------------------------------------

    /// Whether the peer opens streams with ids of this parity.
    fn is_peer_initiated(&self, id: StreamId) -> bool {
        match self.role {
            Role::Server => id.is_client_initiated(),
            Role::Client => !id.is_client_initiated(),
        }
    }

    fn remember_closed(&mut self, id: u32, cause: Cause) {
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((id, cause));
    }

    fn closed_cause(&self, id: u32) -> Option<Cause> {
        self.closed
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|&(_, c)| c)
    }

    /// Bookkeeping after a stream's state may have changed: the counts of
    /// active streams, the closed record, waking callers waiting for a
    /// slot, the server's reset of a request body nobody reads once the
    /// response is complete, and removing a stream nothing refers to.
    fn after_change(&mut self, id: u32, was_active: bool) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        // A server whose response is complete, while the request body is
        // still coming and nobody reads it, tells the client to stop
        // (RFC 9113 §8.1).
        let cut_short = self.role == Role::Server
            && s.state == State::HalfClosedLocal
            && !s.recv.reader
            && self.failed.is_none();
        if cut_short {
            s.state = State::Closed(Cause::LocalReset);
            self.queue_control(
                &frame::RstStream::new(StreamId::new(id), ErrorCode::NO_ERROR).into(),
            );
        }
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if was_active && !s.state.is_active() {
            let cause = match s.state {
                State::Closed(c) => c,
                _ => Cause::Ended,
            };
            s.send.stalled_since = None;
            if self.is_peer_initiated(StreamId::new(id)) {
                self.active_peer = self.active_peer.saturating_sub(1);
            } else {
                self.active_local = self.active_local.saturating_sub(1);
                for w in self.open_waiters.drain(..) {
                    w.wake();
                }
            }
            self.remember_closed(id, cause);
            if self.active_peer + self.active_local == 0 {
                self.idle_since = Some(Instant::now());
            }
            self.wake_driver = true;
        }
        self.maybe_remove(id);
    }

    /// Drops a closed stream nothing refers to.
    fn maybe_remove(&mut self, id: u32) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| !s.state.is_active() && s.is_unreferenced())
        {
            self.streams.remove(&id);
        }
    }

    /// Gives `n` bytes back to the connection window (data read or
    /// discarded), sending WINDOW_UPDATE when due.
    fn release_conn(&mut self, n: usize) {
        if n == 0 || self.failed.is_some() {
            return;
        }
        self.recv_window.release(n);
        if let Some(inc) = self.recv_window.take_update() {
            self.queue(&WindowUpdate::new(StreamId::CONNECTION, inc).into());
        }
    }

    /// Gives `n` bytes back to stream `id`'s window and the connection's.
    fn release(&mut self, id: u32, n: usize) {
        if n == 0 {
            return;
        }
        if let Some(s) = self.streams.get_mut(&id) {
            s.recv.window.release(n);
            if s.state.recv_open() {
                if let Some(inc) = s.recv.window.take_update() {
                    let frame = WindowUpdate::new(StreamId::new(id), inc).into();
                    if self.failed.is_none() {
                        self.queue(&frame);
                    }
                }
            }
        }
        self.release_conn(n);
    }

    // ---- lifecycle ------------------------------------------------------

    /// Starts a graceful shutdown: the server sends GOAWAY with the largest
    /// id and a PING, then (when the PING returns) the GOAWAY with the last
    /// stream it will process; the client sends one GOAWAY. Streams in
    /// flight complete; then the connection ends.
    pub(crate) fn start_shutdown(&mut self) {
        if self.failed.is_some() || self.shutdown != Shutdown::No {
            return;
        }
        match self.role {
            Role::Server => {
                self.queue(&GoAway::new(StreamId::MAX, ErrorCode::NO_ERROR).into());
                self.queue(&Ping::new(SHUTDOWN_PING).into());
                self.goaway_sent = Some(StreamId::MAX);
                self.shutdown = Shutdown::Pinged { at: Instant::now() };
            }
            Role::Client => self.final_goaway(),
        }
        self.wake_waiters();
    }

    fn final_goaway(&mut self) {
        let last = StreamId::new(self.last_peer_id);
        self.queue(&GoAway::new(last, ErrorCode::NO_ERROR).into());
        self.goaway_sent = Some(last);
        self.shutdown = Shutdown::Final;
        self.wake_waiters();
    }

    /// Whether the connection has nothing left to do once its output is
    /// written: it failed, the peer closed, or a shutdown (ours, the
    /// peer's, or a client whose senders are all gone) has drained.
    pub(crate) fn check_done(&mut self) -> bool {
        if self.failed.is_some() || self.eof {
            return true;
        }
        let idle = self.active_peer + self.active_local == 0;
        if !idle {
            return false;
        }
        if self.role == Role::Client && self.senders == 0 && self.shutdown == Shutdown::No {
            self.start_shutdown();
        }
        self.shutdown == Shutdown::Final || self.goaway_received.is_some()
    }

    /// Whether no new stream can be opened.
    pub(crate) fn is_closed_for_streams(&self) -> bool {
        self.unusable().is_some() || self.goaway_received.is_some() || self.shutdown != Shutdown::No
    }

    /// Whether the connection failed (nothing more is read).
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// What the connection's end means for its `run` future.
    pub(crate) fn outcome(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => match &self.goaway_received {
                Some((_, code, debug)) if *code != ErrorCode::NO_ERROR => Err(Error::GoAway {
                    side: self.peer,
                    code: *code,
                    debug: debug.clone(),
                }),
                _ => Ok(()),
            },
        }
    }

    /// The peer closed its side of the transport.
    pub(crate) fn on_eof(&mut self) {
        self.eof = true;
        let error = match &self.goaway_received {
            Some((_, code, debug)) if *code != ErrorCode::NO_ERROR => Error::GoAway {
                side: self.peer,
                code: *code,
                debug: debug.clone(),
            },
            _ => Error::Closed { side: self.peer },
        };
        if self.active_peer + self.active_local > 0 || self.block.expecting().is_some() {
            // Streams were cut short: the connection did not end cleanly.
            tracing::debug!(peer = %self.peer, "HTTP/2 peer closed with streams open");
            self.failed.get_or_insert_with(|| error.clone());
        }
        self.fail_streams(&error);
    }

    /// Reading or writing the transport failed.
    pub(crate) fn on_io_error(&mut self, error: std::io::Error) {
        let error = Error::io(self.peer, error);
        if self.failed.is_none() {
            self.failed = Some(error.clone());
        }
        self.fail_streams(&error);
    }

    /// The driver is gone: every handle gets an error from now on.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
        let error = match &self.failed {
            Some(e) => e.clone(),
            None => Error::Closed { side: self.peer },
        };
        self.fail_streams(&error);
    }

    /// The error for a handle that finds the connection unusable.
    fn unusable(&self) -> Option<Error> {
        if let Some(e) = &self.failed {
            return Some(e.clone());
        }
        (self.finished || self.eof).then_some(Error::Closed { side: self.peer })
    }

    // ---- timers -----------------------------------------------------------

    /// When [`Core::on_timer`] must run next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.failed.is_some() {
            return None;
        }
        let timeout = self.config.settings_timeout;
        let stall = self.config.send_window_timeout;
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(t) = self.settings_sent {
            at(t + timeout);
        }
        if !self.peer_settings {
            at(self.started + timeout);
        }
        if let Some(t) = self.conn_stalled_since {
            at(t + stall);
        }
        for s in self.streams.values() {
            if let Some(t) = s.send.stalled_since {
                at(t + stall);
            }
        }
        if let Shutdown::Pinged { at: t } = self.shutdown {
            at(t + self.config.shutdown_ping_timeout);
        }
        if let (Some(idle), Some(t)) = (self.config.idle_timeout, self.idle_since) {
            if self.shutdown == Shutdown::No && self.active_peer + self.active_local == 0 {
                at(t + idle);
            }
        }
        next
    }

    /// Acts on every timer that expired by now.
    pub(crate) fn on_timer(&mut self) {
        let now = Instant::now();
        let timeout = self.config.settings_timeout;
        if self.settings_sent.is_some_and(|t| now >= t + timeout) {
            self.fail_timeout(ErrorCode::SETTINGS_TIMEOUT, "acknowledging our SETTINGS");
            return;
        }
        if !self.peer_settings && now >= self.started + timeout {
            self.fail_timeout(ErrorCode::SETTINGS_TIMEOUT, "sending its SETTINGS");
            return;
        }
        let stall = self.config.send_window_timeout;
        if self.conn_stalled_since.is_some_and(|t| now >= t + stall) {
            self.fail_timeout(
                ErrorCode::ENHANCE_YOUR_CALM,
                "opening the connection's flow-control window",
            );
            return;
        }
        let stalled: Vec<u32> = self
            .streams
            .values()
            .filter(|s| s.send.stalled_since.is_some_and(|t| now >= t + stall))
            .map(|s| s.id.get())
            .collect();
        for id in stalled {
            let error = Error::Timeout {
                side: self.peer,
                what: "opening the stream's flow-control window",
            };
            self.reset_stream(StreamId::new(id), ErrorCode::CANCEL, error, false);
        }
        if let Shutdown::Pinged { at } = self.shutdown {
            if now >= at + self.config.shutdown_ping_timeout {
                self.final_goaway();
            }
        }
        if let (Some(idle), Some(t)) = (self.config.idle_timeout, self.idle_since) {
            let idle_now = self.active_peer + self.active_local == 0;
            if idle_now && self.shutdown == Shutdown::No && now >= t + idle {
                match self.role {
                    Role::Server => self.final_goaway(),
                    Role::Client => self.start_shutdown(),
                }
            }
        }
    }

    /// A timer expired: GOAWAY `code`, and the error says what the peer
    /// did not do.
    fn fail_timeout(&mut self, code: ErrorCode, what: &'static str) {
        let error = Error::Timeout {
            side: self.peer,
            what,
        };
        self.fail_with(code, format!("the peer timed out {what}").into(), error);
    }

    // ---- stats --------------------------------------------------------------

    /// What the connection holds right now.
    pub(crate) fn stats(&self) -> ConnStats {
        let mut stats = ConnStats {
            active_streams: (self.active_peer + self.active_local) as usize,
            write_buffered: self.unwritten,
            streams: self.streams.len(),
            ..ConnStats::default()
        };
        for s in self.streams.values() {
            stats.recv_buffered += s.recv.buffered;
            stats.send_buffered += s.send.buffered;
        }
        stats
    }
}

/// Reads a frame header ahead of the codec, to know the type of a frame
/// the codec rejects.
fn peek_head(buf: &BytesMut) -> Option<frame::Head> {
    frame::Head::parse(buf)
}
