//! One stream: its RFC 9113 §5.1 state, its windows, its receive buffer
//! and what waits to be sent.

use std::collections::VecDeque;
use std::task::Waker;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use super::flow::{RecvWindow, SendWindow};
use crate::h1::HeaderMap;
use crate::h2::Error;
use crate::h2::frame::StreamId;
use crate::h2::message::{RequestHead, ResponseHead};

/// How a closed stream ended: decides what a late frame on it means
/// (RFC 9113 §5.1, "closed").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Both sides sent END_STREAM: any further frame but PRIORITY,
    /// WINDOW_UPDATE and RST_STREAM is a connection error STREAM_CLOSED.
    Ended,
    /// The peer sent RST_STREAM: further frames are a stream error
    /// STREAM_CLOSED.
    PeerReset,
    /// We sent RST_STREAM (or ignored the stream after GOAWAY): the peer
    /// may have sent frames before it saw that, so they are ignored
    /// (DATA still counts against the connection window).
    LocalReset,
}

/// The states of RFC 9113 §5.1 a stream in the map can be in. (Idle
/// streams are not in the map; reserved ones do not exist, since push is
/// disabled.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Done.
    Closed(Cause),
}

impl State {
    /// The peer may still send DATA and trailers.
    pub(crate) fn recv_open(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    /// We may still send.
    pub(crate) fn send_open(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }

    /// Counts against MAX_CONCURRENT_STREAMS (open or half-closed).
    pub(crate) fn is_active(self) -> bool {
        !matches!(self, State::Closed(_))
    }

    /// The peer sent END_STREAM.
    pub(crate) fn recv_end(&mut self) {
        *self = match *self {
            State::Open => State::HalfClosedRemote,
            State::HalfClosedLocal => State::Closed(Cause::Ended),
            other => other,
        };
    }

    /// We sent END_STREAM.
    pub(crate) fn send_end(&mut self) {
        *self = match *self {
            State::Open => State::HalfClosedLocal,
            State::HalfClosedRemote => State::Closed(Cause::Ended),
            other => other,
        };
    }
}

/// Data frames smaller than this are copied into the receive buffer
/// instead of kept as slices of the read buffer: a slice keeps its whole
/// read allocation alive, and many tiny frames would otherwise pin many
/// allocations for a few bytes each.
pub(crate) const COPY_BELOW: usize = 4096;

/// The receive side of a stream.
#[derive(Debug)]
pub(crate) struct Recv {
    pub(crate) window: RecvWindow,
    /// Data not yet taken by the reader.
    pub(crate) queue: VecDeque<Bytes>,
    /// A buffer that joins small frames before they are queued.
    pub(crate) small: BytesMut,
    /// Bytes in `queue` and `small`.
    pub(crate) buffered: usize,
    pub(crate) trailers: Option<HeaderMap>,
    /// The declared content-length, checked against the DATA received.
    pub(crate) expected: Option<u64>,
    pub(crate) received: u64,
    /// A reader exists (or will: a request not yet accepted, a response
    /// not yet handed out); without one, data is discarded as it arrives.
    pub(crate) reader: bool,
    pub(crate) waker: Option<Waker>,
}

impl Recv {
    pub(crate) fn new(window: RecvWindow) -> Recv {
        Recv {
            window,
            queue: VecDeque::new(),
            small: BytesMut::new(),
            buffered: 0,
            trailers: None,
            expected: None,
            received: 0,
            reader: true,
            waker: None,
        }
    }

    /// Queues data for the reader.
    pub(crate) fn push(&mut self, data: Bytes) {
        self.buffered += data.len();
        if data.len() < COPY_BELOW {
            self.small.extend_from_slice(&data);
            if self.small.len() >= COPY_BELOW {
                self.queue.push_back(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.queue.push_back(self.small.split().freeze());
            }
            self.queue.push_back(data);
        }
    }

    /// The next queued data.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let data = match self.queue.pop_front() {
            Some(d) => d,
            None if !self.small.is_empty() => self.small.split().freeze(),
            None => return None,
        };
        self.buffered -= data.len();
        Some(data)
    }

    /// Drops everything queued; returns how many bytes that was.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.buffered;
        self.queue.clear();
        self.small.clear();
        self.buffered = 0;
        n
    }

    pub(crate) fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// The send side of a stream.
#[derive(Debug)]
pub(crate) struct Send {
    pub(crate) window: SendWindow,
    /// Data the writer handed over, waiting for the windows.
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) buffered: usize,
    /// The writer is done: END_STREAM follows the queued data (with the
    /// trailers, if any).
    pub(crate) end: bool,
    pub(crate) trailers: Option<HeaderMap>,
    /// The content-length we declared, checked against what is sent.
    pub(crate) declared: Option<u64>,
    pub(crate) total: u64,
    /// A writer exists (a body pump, a `Respond` not yet used).
    pub(crate) writer: bool,
    pub(crate) waker: Option<Waker>,
    /// In the scheduler's ready queue.
    pub(crate) ready: bool,
    /// Data has been waiting for the stream's window since then.
    pub(crate) stalled_since: Option<Instant>,
}

impl Send {
    pub(crate) fn new(window: SendWindow) -> Send {
        Send {
            window,
            queue: VecDeque::new(),
            buffered: 0,
            end: false,
            trailers: None,
            declared: None,
            total: 0,
            writer: false,
            waker: None,
            ready: false,
            stalled_since: None,
        }
    }

    pub(crate) fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// The heads of the stream's exchange on their way to the application.
#[derive(Debug, Default)]
pub(crate) struct Head {
    /// Server: the request head, until accepted.
    pub(crate) request: Option<RequestHead>,
    /// Server: the response head went out.
    pub(crate) responded: bool,
    /// The final response head, once it arrived (and until handed out).
    pub(crate) response: Option<ResponseHead>,
    /// The response head ended the stream.
    pub(crate) end: bool,
    /// Someone waits for the head.
    pub(crate) waiting: bool,
    /// Informational responses seen.
    pub(crate) informational: u32,
    /// The final head arrived (and trailers may follow).
    pub(crate) got_final: bool,
    pub(crate) waker: Option<Waker>,
}

/// A stream in the connection's map.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: StreamId,
    pub(crate) state: State,
    pub(crate) recv: Recv,
    pub(crate) send: Send,
    pub(crate) head: Head,
    /// The request was HEAD: its response has no body.
    pub(crate) head_request: bool,
    /// The response has no body (HEAD, 204, 304).
    pub(crate) no_body: bool,
    /// Why the stream failed, for every handle that asks.
    pub(crate) error: Option<Error>,
    /// In the server's accept queue.
    pub(crate) unaccepted: bool,
}

impl Stream {
    pub(crate) fn new(id: StreamId, recv: RecvWindow, send: SendWindow) -> Stream {
        Stream {
            id,
            state: State::Open,
            recv: Recv::new(recv),
            send: Send::new(send),
            head: Head::default(),
            head_request: false,
            no_body: false,
            error: None,
            unaccepted: false,
        }
    }

    /// Wakes every handle waiting on the stream.
    pub(crate) fn wake_all(&mut self) {
        self.recv.wake();
        self.send.wake();
        if let Some(w) = self.head.waker.take() {
            w.wake();
        }
    }

    /// Nothing refers to the stream any more: it may leave the map once
    /// closed.
    pub(crate) fn is_unreferenced(&self) -> bool {
        !self.recv.reader && !self.send.writer && !self.head.waiting && !self.unaccepted
    }

    /// The stream has something the scheduler can send now, given the
    /// connection window.
    pub(crate) fn sendable(&self, conn_window: usize) -> bool {
        if !self.state.send_open() {
            return false;
        }
        if self.send.buffered > 0 {
            self.send.window.available() > 0 && conn_window > 0
        } else {
            self.send.end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_transitions() {
        let mut s = State::Open;
        s.recv_end();
        assert_eq!(s, State::HalfClosedRemote);
        assert!(!s.recv_open() && s.send_open() && s.is_active());
        s.send_end();
        assert_eq!(s, State::Closed(Cause::Ended));
        assert!(!s.is_active());
        let mut s = State::Open;
        s.send_end();
        assert_eq!(s, State::HalfClosedLocal);
        assert!(s.recv_open() && !s.send_open());
        s.recv_end();
        assert_eq!(s, State::Closed(Cause::Ended));
        let mut s = State::Closed(Cause::PeerReset);
        s.recv_end();
        s.send_end();
        assert_eq!(s, State::Closed(Cause::PeerReset));
    }

    #[test]
    fn small_frames_are_joined_large_ones_kept() {
        let mut r = Recv::new(RecvWindow::new(1 << 20, 1 << 20));
        r.push(Bytes::from_static(b"ab"));
        r.push(Bytes::from_static(b"cd"));
        let big = Bytes::from(vec![7u8; COPY_BELOW]);
        r.push(big.clone());
        assert_eq!(r.buffered, 4 + COPY_BELOW);
        assert_eq!(&r.pop().unwrap()[..], b"abcd");
        let got = r.pop().unwrap();
        assert_eq!(got.as_ptr(), big.as_ptr(), "large frames are not copied");
        assert_eq!(r.pop(), None);
        assert_eq!(r.buffered, 0);
        r.push(Bytes::from_static(b"x"));
        assert_eq!(r.clear(), 1);
    }
}
