//! Reads owned heads out of a growing read buffer, in linear time.
//!
//! Parsing a head again from its start each time a few more bytes arrive
//! costs time quadratic in its length: a client sending a 64 KiB head one
//! byte per packet would make the proxy do two billion byte steps. The
//! [`HeadReader`] keeps a cursor instead: it scans only the new bytes for a
//! line feed, and parses when a parse can tell something new — the first
//! look at a head, its first line end, a bare LF (an error), the empty line
//! that ends it, or a limit reached. That is at most five parses per head,
//! whatever the packet sizes, so the work stays linear.

use bytes::{Buf, Bytes, BytesMut};

use super::error::{Error, ErrorKind, MessageKind};
use super::limits::Limits;
use super::message::{HeaderMap, Method, RequestHead, ResponseHead};
use super::parse::{OffsetSink, Status, parse_request_with, parse_response_with};

/// Splits complete heads off the front of a read buffer.
///
/// ```
/// use bytes::BytesMut;
/// use mesh_http::h1::{HeadReader, Limits};
///
/// let mut reader = HeadReader::new(Limits::DEFAULT);
/// let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n"[..]);
/// assert!(reader.read_request(&mut buf)?.is_none());
/// buf.extend_from_slice(b"\r\nbody");
/// let head = reader.read_request(&mut buf)?.expect("complete");
/// assert_eq!(head.headers.get("host").unwrap(), "a");
/// assert_eq!(&buf[..], b"body");
/// # Ok::<(), mesh_http::h1::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HeadReader {
    limits: Limits,
    /// Bytes of the current head already searched for line feeds.
    scanned: usize,
    /// Whether the current head was parsed at least once.
    attempted: bool,
    /// Whether a line feed of the current head was seen.
    newline_seen: bool,
    /// Bytes examined so far (searched or parsed).
    steps: u64,
    offsets: Vec<[usize; 4]>,
}

impl HeadReader {
    /// A reader enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        HeadReader {
            limits,
            scanned: 0,
            attempted: false,
            newline_seen: false,
            steps: 0,
            offsets: Vec::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes examined (searched or parsed) since the reader was made; the
    /// test that proves the work linear reads this.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether part of a head has been seen (so a connection closing now
    /// closes in the middle of a message).
    pub fn in_progress(&self) -> bool {
        self.attempted
    }

    fn reset(&mut self) {
        self.scanned = 0;
        self.attempted = false;
        self.newline_seen = false;
    }

    /// Whether parsing `buf` now can tell something a parse at its last
    /// length could not.
    fn worth_parsing(&mut self, buf: &[u8], message: MessageKind) -> bool {
        let bare_lf = self.limits.allow_bare_lf;
        let from = self.scanned.saturating_sub(3).min(buf.len());
        let mut worth = !self.attempted;
        for nl in memchr::memchr_iter(b'\n', &buf[from..]).map(|i| from + i) {
            let prev = |k: usize| nl.checked_sub(k).map(|i| buf[i]);
            let after_cr = prev(1) == Some(b'\r');
            let ends_head =
                (after_cr && prev(2) == Some(b'\n')) || (bare_lf && prev(1) == Some(b'\n'));
            if ends_head || !self.newline_seen || (!after_cr && !bare_lf) {
                worth = true;
            }
            self.newline_seen = true;
        }
        self.steps += (buf.len() - from) as u64;
        self.scanned = buf.len();
        worth
            || buf.len() >= self.limits.max_head_bytes
            || (message == MessageKind::Request
                && !self.newline_seen
                && buf.len() >= self.limits.max_request_line)
    }

    /// Drops the empty lines a client may send before a request line
    /// (RFC 9112 §2.2).
    fn skip_empty_lines(&mut self, buf: &mut BytesMut) {
        if self.attempted {
            return;
        }
        loop {
            match &buf[..] {
                [b'\r', b'\n', ..] => buf.advance(2),
                [b'\n', ..] if self.limits.allow_bare_lf => buf.advance(1),
                _ => return,
            }
            self.steps += 1;
        }
    }

    /// Takes a complete request head off the front of `buf`, or returns
    /// `None` until one has arrived.
    pub fn read_request(&mut self, buf: &mut BytesMut) -> Result<Option<RequestHead>, Error> {
        self.skip_empty_lines(buf);
        if buf.is_empty() || !self.worth_parsing(buf, MessageKind::Request) {
            return Ok(None);
        }
        self.attempted = true;
        self.steps += buf.len() as u64;
        self.offsets.clear();
        let base = buf.as_ptr() as usize;
        let mut sink = OffsetSink {
            base,
            fields: &mut self.offsets,
            cap: self.limits.max_headers,
        };
        let ((method, target, version), end) =
            match parse_request_with(&buf[..], &mut sink, &self.limits) {
                Ok(Status::Complete(((m, t, v), end))) => {
                    let at = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
                    ((at(m), at(t), v), end)
                }
                Ok(Status::Partial) => return Ok(None),
                Err(kind) => return Err(Error::request(kind)),
            };
        let head = buf.split_to(end).freeze();
        self.reset();
        let slice = |(start, len): (usize, usize)| head.slice(start..start + len);
        Ok(Some(RequestHead {
            method: Method::from_parsed(slice(method)),
            target: slice(target),
            version,
            headers: HeaderMap::from_offsets(&head, &self.offsets),
        }))
    }

    /// Takes a complete response head off the front of `buf`, or returns
    /// `None` until one has arrived.
    pub fn read_response(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseHead>, Error> {
        if buf.is_empty() || !self.worth_parsing(buf, MessageKind::Response) {
            return Ok(None);
        }
        self.attempted = true;
        self.steps += buf.len() as u64;
        self.offsets.clear();
        let base = buf.as_ptr() as usize;
        let mut sink = OffsetSink {
            base,
            fields: &mut self.offsets,
            cap: self.limits.max_headers,
        };
        let ((version, status, reason), end) =
            match parse_response_with(&buf[..], &mut sink, &self.limits) {
                Ok(Status::Complete(((v, s, r), end))) => {
                    ((v, s, (r.as_ptr() as usize - base, r.len())), end)
                }
                Ok(Status::Partial) => return Ok(None),
                Err(kind) => return Err(Error::response(kind)),
            };
        let head: Bytes = buf.split_to(end).freeze();
        self.reset();
        Ok(Some(ResponseHead {
            version,
            status,
            reason: head.slice(reason.0..reason.0 + reason.1),
            headers: HeaderMap::from_offsets(&head, &self.offsets),
        }))
    }

    /// The error for a connection that closed in the middle of a head, if
    /// it did.
    pub fn eof_error(&self, buf: &[u8], message: MessageKind) -> Option<Error> {
        (!buf.is_empty() || self.attempted).then_some(Error {
            kind: ErrorKind::IncompleteHead,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_at_a_time_is_linear() {
        let mut head = b"GET /x HTTP/1.1\r\n".to_vec();
        for i in 0..99 {
            head.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(500)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert!(head.len() > 50_000);
        let mut reader = HeadReader::new(Limits::DEFAULT);
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in &head {
            buf.extend_from_slice(&[b]);
            if let Some(h) = reader.read_request(&mut buf).unwrap() {
                got = Some(h);
            }
        }
        let got = got.expect("complete at the last byte");
        assert_eq!(got.headers.len(), 99);
        let n = head.len() as u64;
        // Each byte is searched a few times (a 3-byte overlap) and the head
        // is parsed at most five times; a re-parse per byte would be n²/2.
        assert!(
            reader.steps() <= 10 * n,
            "{} steps for {n} bytes",
            reader.steps()
        );
    }

    #[test]
    fn garbage_is_refused_on_the_first_look() {
        let mut reader = HeadReader::new(Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"\x16\x03\x01"[..]);
        let err = reader.read_request(&mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidMethod { offset: 0 });
    }

    #[test]
    fn a_bare_lf_in_the_fields_is_refused_when_it_arrives() {
        let mut reader = HeadReader::new(Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nA: b"[..]);
        assert!(reader.read_request(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"\nC: d");
        let err = reader.read_request(&mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BareLf { offset: 20 });
    }

    #[test]
    fn request_line_limit_without_a_line_end() {
        let limits = Limits {
            max_request_line: 64,
            ..Limits::DEFAULT
        };
        let mut reader = HeadReader::new(limits);
        let mut buf = BytesMut::from(&b"GET /"[..]);
        assert!(reader.read_request(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&[b'a'; 100]);
        let err = reader.read_request(&mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::RequestLineTooLong { limit: 64 });
        assert_eq!(err.status(), 414);
    }

    #[test]
    fn leading_empty_lines_and_pipelining() {
        let mut reader = HeadReader::new(Limits::DEFAULT);
        let mut buf =
            BytesMut::from(&b"\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"[..]);
        let a = reader.read_request(&mut buf).unwrap().unwrap();
        let b = reader.read_request(&mut buf).unwrap().unwrap();
        assert_eq!((&a.target[..], &b.target[..]), (&b"/a"[..], &b"/b"[..]));
        assert!(buf.is_empty());
    }

    #[test]
    fn response_heads() {
        let mut reader = HeadReader::new(Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
        let head = reader.read_response(&mut buf).unwrap().unwrap();
        assert_eq!((head.status, &head.reason[..]), (200, &b"OK"[..]));
        assert_eq!(head.headers.get("content-length").unwrap(), "2");
        assert_eq!(&buf[..], b"hi");
    }
}
