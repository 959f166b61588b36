//! The zero-copy head parser: request line, status line and field section,
//! borrowed from the read buffer.
//!
//! # Why a hand-written scanner and not nom
//!
//! The grammar is RFC 9112's, written down once as nom combinators in
//! [`grammar`](super::grammar), where the cold list-valued fields and chunk
//! extensions are parsed. For the head itself nom was measured and lost:
//! the same grammar in nom (`tests/h1_proptest.rs`, fields stored in a
//! preallocated slice) took 1.7× to 3.1× httparse's time on the inputs of
//! the `http1_request_head` benchmark (3.1× on the browser request, whose
//! long values nom's `take_while` walks a byte at a time), where this
//! scanner takes 0.6× to 0.9×. This module is the same grammar as a hand-written scanner:
//! one pass, no backtracking, 16 bytes per step for values and targets
//! ([`chars`](super::chars)), and no validation left out (the tests compare
//! both on generated input).
//!
//! # Resumable
//!
//! Every function here returns [`Status::Partial`] for any prefix of a
//! message that could still become valid, and an error as soon as a byte
//! makes that impossible. A head is small and bounded by
//! [`Limits::max_head_bytes`], so the caller simply parses again from the
//! start with more bytes; [`HeadReader`](super::HeadReader) makes sure that
//! happens at most once per newly arrived head end, keeping the total work
//! linear.

use super::chars::{is_ows, target_run, token_run, value_run};
use super::error::{Error, ErrorKind, MessageKind};
use super::limits::Limits;

/// The outcome of parsing a prefix of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The whole thing was there.
    Complete(T),
    /// The bytes are a valid prefix; more are needed.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is `Complete`.
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// The HTTP versions this codec speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0: no chunked encoding, no keep-alive unless asked for.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// The version as it is written on the wire.
    pub const fn as_bytes(self) -> &'static [u8; 8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        }
    }
}

/// One field line: name and value, borrowed from the buffer. The value has
/// its leading and trailing whitespace removed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    /// The field name, as sent (a token: ASCII).
    pub name: &'b [u8],
    /// The field value, without surrounding whitespace.
    pub value: &'b [u8],
}

impl std::fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("name", &String::from_utf8_lossy(self.name))
            .field("value", &String::from_utf8_lossy(self.value))
            .finish()
    }
}

/// An empty field, to fill the storage handed to the parser.
pub const EMPTY_HEADER: Header<'static> = Header {
    name: b"",
    value: b"",
};

/// Finds the first field named `name` (case-insensitively).
pub fn find<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|h| h.value)
}

/// The four forms of a request-target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`: the usual form, to an origin server.
    Origin,
    /// `http://host/path`: to a proxy.
    Absolute,
    /// `host:port`: CONNECT only.
    Authority,
    /// `*`: OPTIONS only.
    Asterisk,
}

/// Classifies `target` for `method`, or `None` when the form does not fit
/// the method (RFC 9112 §3.2).
pub fn target_form(method: &[u8], target: &[u8]) -> Option<TargetForm> {
    if method == b"CONNECT" {
        return is_authority(target).then_some(TargetForm::Authority);
    }
    match target.first() {
        Some(b'/') => Some(TargetForm::Origin),
        Some(b'*') if target.len() == 1 => (method == b"OPTIONS").then_some(TargetForm::Asterisk),
        _ => is_absolute(target).then_some(TargetForm::Absolute),
    }
}

/// `scheme ":" ...` with `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_absolute(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `host ":" port`: a non-empty host without `/`, `?`, `#` or `@`, and a
/// decimal port.
fn is_authority(target: &[u8]) -> bool {
    let Some(colon) = target.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let (host, port) = (&target[..colon], &target[colon + 1..]);
    !host.is_empty()
        && !host.iter().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@'))
        && !port.is_empty()
        && port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
}

/// A parsed request head, borrowing from the buffer (`'b`) and from the
/// field storage the caller handed in (`'h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedRequest<'b, 'h> {
    /// The method (a token).
    pub method: &'b [u8],
    /// The request-target, as sent.
    pub target: &'b [u8],
    /// The protocol version.
    pub version: Version,
    /// The field lines, in order.
    pub headers: &'h [Header<'b>],
}

impl<'b> ParsedRequest<'b, '_> {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find(self.headers, name)
    }

    /// The form of the request-target (checked while parsing, so this
    /// never fails on a parsed request).
    pub fn target_form(&self) -> TargetForm {
        target_form(self.method, self.target).unwrap_or(TargetForm::Origin)
    }
}

/// A parsed response head, borrowing like [`ParsedRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedResponse<'b, 'h> {
    /// The protocol version.
    pub version: Version,
    /// The status code, 100 to 599.
    pub status: u16,
    /// The reason phrase (possibly empty).
    pub reason: &'b [u8],
    /// The field lines, in order.
    pub headers: &'h [Header<'b>],
}

impl<'b> ParsedResponse<'b, '_> {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find(self.headers, name)
    }
}

/// Where the parser puts field lines. Two implementations: a slice of
/// [`Header`]s (the public, borrowing API) and a list of offsets (the owned
/// decoder, which turns them into `Bytes` after freezing the buffer).
pub(crate) trait FieldSink<'b> {
    /// Stores one field; `false` when there is no room.
    fn push(&mut self, name: &'b [u8], value: &'b [u8]) -> bool;
    /// How many fields fit.
    fn capacity(&self) -> usize;
}

/// Fills a caller's slice of headers.
pub(crate) struct SliceSink<'h, 'b> {
    pub(crate) slots: &'h mut [Header<'b>],
    pub(crate) len: usize,
}

impl<'b> FieldSink<'b> for SliceSink<'_, 'b> {
    #[inline(always)]
    fn push(&mut self, name: &'b [u8], value: &'b [u8]) -> bool {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = Header { name, value };
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// Records where each field is, as offsets into the buffer, so that the
/// owned decoders can slice `Bytes` out of it once it is frozen.
pub(crate) struct OffsetSink<'v> {
    /// The address of the buffer's first byte.
    pub(crate) base: usize,
    /// `(name start, name len, value start, value len)` of each field.
    pub(crate) fields: &'v mut Vec<[usize; 4]>,
    /// How many fields may be recorded.
    pub(crate) cap: usize,
}

impl<'b> FieldSink<'b> for OffsetSink<'_> {
    #[inline(always)]
    fn push(&mut self, name: &'b [u8], value: &'b [u8]) -> bool {
        if self.fields.len() == self.cap {
            return false;
        }
        let at = |s: &[u8]| (s.as_ptr() as usize).wrapping_sub(self.base);
        self.fields
            .push([at(name), name.len(), at(value), value.len()]);
        true
    }

    fn capacity(&self) -> usize {
        self.cap
    }
}

/// The outcome of the start line: method/target or status/reason, and the
/// offset where the fields begin.
struct RequestLine<'b> {
    method: &'b [u8],
    target: &'b [u8],
    version: Version,
    end: usize,
}

struct StatusLine<'b> {
    version: Version,
    status: u16,
    reason: &'b [u8],
    end: usize,
}

/// Parses a request head.
///
/// Fields go into `headers`; at most `min(headers.len(), limits.max_headers)`
/// are accepted. On success returns the request and the length of the head
/// (the body, if any, starts there).
///
/// ```
/// use mesh_http::h1::{parse_request, Limits, Status, Version, EMPTY_HEADER};
///
/// let mut headers = [EMPTY_HEADER; 16];
/// let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
/// let Status::Complete((req, len)) = parse_request(buf, &mut headers, &Limits::DEFAULT)?
/// else { unreachable!() };
/// assert_eq!((req.method, req.target, req.version), (&b"GET"[..], &b"/index.html"[..], Version::Http11));
/// assert_eq!(req.header("host"), Some(&b"example.com"[..]));
/// assert_eq!(len, buf.len());
/// # Ok::<(), mesh_http::h1::Error>(())
/// ```
#[inline]
pub fn parse_request<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Status<(ParsedRequest<'b, 'h>, usize)>, Error> {
    let mut sink = SliceSink {
        slots: headers,
        len: 0,
    };
    match parse_request_with(buf, &mut sink, limits) {
        Ok(Status::Complete((line, end))) => {
            let n = sink.len;
            let headers: &'h [Header<'b>] = sink.slots;
            Ok(Status::Complete((
                ParsedRequest {
                    method: line.0,
                    target: line.1,
                    version: line.2,
                    headers: &headers[..n],
                },
                end,
            )))
        }
        Ok(Status::Partial) => Ok(Status::Partial),
        Err(kind) => Err(Error::request(kind)),
    }
}

/// The request line's parts: method, target, version.
pub(crate) type RequestParts<'b> = (&'b [u8], &'b [u8], Version);

/// [`parse_request`] into any sink; the error is the bare kind.
#[inline(always)]
pub(crate) fn parse_request_with<'b, S: FieldSink<'b>>(
    buf: &'b [u8],
    sink: &mut S,
    limits: &Limits,
) -> Result<Status<(RequestParts<'b>, usize)>, ErrorKind> {
    let line = match request_line(buf, limits.allow_bare_lf) {
        Ok(Status::Complete(line)) => line,
        Ok(Status::Partial) => {
            if buf.len() >= limits.max_request_line {
                return Err(ErrorKind::RequestLineTooLong {
                    limit: limits.max_request_line,
                });
            }
            return Ok(Status::Partial);
        }
        Err(e) => return Err(e),
    };
    if line.end > limits.max_request_line {
        return Err(ErrorKind::RequestLineTooLong {
            limit: limits.max_request_line,
        });
    }
    if target_form(line.method, line.target).is_none() {
        return Err(ErrorKind::TargetForm);
    }
    match fields(buf, line.end, sink, limits)? {
        Status::Complete(end) => Ok(Status::Complete((
            (line.method, line.target, line.version),
            end,
        ))),
        Status::Partial => Ok(Status::Partial),
    }
}

/// Parses a response head, like [`parse_request`].
///
/// ```
/// use mesh_http::h1::{parse_response, Limits, Status, EMPTY_HEADER};
///
/// let mut headers = [EMPTY_HEADER; 16];
/// let buf = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
/// let Status::Complete((res, _)) = parse_response(buf, &mut headers, &Limits::DEFAULT)?
/// else { unreachable!() };
/// assert_eq!((res.status, res.reason), (404, &b"Not Found"[..]));
/// # Ok::<(), mesh_http::h1::Error>(())
/// ```
#[inline]
pub fn parse_response<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<Status<(ParsedResponse<'b, 'h>, usize)>, Error> {
    let mut sink = SliceSink {
        slots: headers,
        len: 0,
    };
    match parse_response_with(buf, &mut sink, limits) {
        Ok(Status::Complete(((version, status, reason), end))) => {
            let n = sink.len;
            let headers: &'h [Header<'b>] = sink.slots;
            Ok(Status::Complete((
                ParsedResponse {
                    version,
                    status,
                    reason,
                    headers: &headers[..n],
                },
                end,
            )))
        }
        Ok(Status::Partial) => Ok(Status::Partial),
        Err(kind) => Err(Error::response(kind)),
    }
}

/// The status line's parts: version, status, reason.
pub(crate) type StatusParts<'b> = (Version, u16, &'b [u8]);

/// [`parse_response`] into any sink; the error is the bare kind.
#[inline(always)]
pub(crate) fn parse_response_with<'b, S: FieldSink<'b>>(
    buf: &'b [u8],
    sink: &mut S,
    limits: &Limits,
) -> Result<Status<(StatusParts<'b>, usize)>, ErrorKind> {
    let line = match status_line(buf, limits.allow_bare_lf)? {
        Status::Complete(line) => line,
        Status::Partial => return partial_head(buf, limits),
    };
    match fields(buf, line.end, sink, limits)? {
        Status::Complete(end) => Ok(Status::Complete((
            (line.version, line.status, line.reason),
            end,
        ))),
        Status::Partial => Ok(Status::Partial),
    }
}

/// Parses a field section on its own (a trailer section), starting at the
/// beginning of `buf`. Returns the fields and the length including the
/// final empty line.
pub fn parse_fields<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
    message: MessageKind,
) -> Result<Status<(&'h [Header<'b>], usize)>, Error> {
    let mut sink = SliceSink {
        slots: headers,
        len: 0,
    };
    match fields(buf, 0, &mut sink, limits) {
        Ok(Status::Complete(end)) => {
            let n = sink.len;
            let headers: &'h [Header<'b>] = sink.slots;
            Ok(Status::Complete((&headers[..n], end)))
        }
        Ok(Status::Partial) => Ok(Status::Partial),
        Err(kind) => Err(Error { kind, message }),
    }
}

/// A head that is not complete yet: an error once it is already longer
/// than the limit, `Partial` otherwise.
#[inline(always)]
fn partial_head<T>(buf: &[u8], limits: &Limits) -> Result<Status<T>, ErrorKind> {
    if buf.len() >= limits.max_head_bytes {
        Err(ErrorKind::HeadTooLarge {
            limit: limits.max_head_bytes,
        })
    } else {
        Ok(Status::Partial)
    }
}

/// The offset of the rest of the buffer.
#[inline(always)]
fn at(buf: &[u8], rest: &[u8]) -> usize {
    buf.len() - rest.len()
}

/// Consumes a line ending at the start of `rest`: the rest after it,
/// `None` when more bytes are needed, or the error for a bare CR / LF.
#[inline(always)]
fn line_end<'b>(
    buf: &'b [u8],
    rest: &'b [u8],
    bare_lf: bool,
) -> Result<Option<&'b [u8]>, ErrorKind> {
    match rest {
        [b'\r', b'\n', tail @ ..] => Ok(Some(tail)),
        [b'\r'] | [] => Ok(None),
        [b'\n', tail @ ..] if bare_lf => Ok(Some(tail)),
        [b'\n', ..] => Err(ErrorKind::BareLf {
            offset: at(buf, rest),
        }),
        _ => Err(ErrorKind::BareCr {
            offset: at(buf, rest),
        }),
    }
}

/// `HTTP/1.0` or `HTTP/1.1` at the start of `rest`, and the rest after it.
#[inline(always)]
fn version<'b>(buf: &'b [u8], rest: &'b [u8]) -> Result<Status<(Version, &'b [u8])>, ErrorKind> {
    if let Some((head, tail)) = rest.split_first_chunk::<8>() {
        return match head {
            b"HTTP/1.1" => Ok(Status::Complete((Version::Http11, tail))),
            b"HTTP/1.0" => Ok(Status::Complete((Version::Http10, tail))),
            [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                if major.is_ascii_digit() && minor.is_ascii_digit() =>
            {
                Err(ErrorKind::UnsupportedVersion {
                    major: major - b'0',
                    minor: minor - b'0',
                })
            }
            _ => Err(version_error(buf, rest)),
        };
    }
    // A prefix: fine while it matches `HTTP/` DIGIT `.`.
    const SHAPE: &[u8] = b"HTTP/1.";
    for (i, &b) in rest.iter().enumerate() {
        let ok = match SHAPE.get(i) {
            Some(&b'1') => b.is_ascii_digit(),
            Some(&expected) => b == expected,
            None => b.is_ascii_digit(),
        };
        if !ok {
            return Err(ErrorKind::InvalidVersion {
                offset: at(buf, rest) + i,
            });
        }
    }
    Ok(Status::Partial)
}

#[cold]
fn version_error(buf: &[u8], rest: &[u8]) -> ErrorKind {
    const SHAPE: &[u8] = b"HTTP/1.1";
    let i = rest
        .iter()
        .zip(SHAPE)
        .position(|(&b, &s)| {
            if s == b'1' {
                !b.is_ascii_digit()
            } else {
                b != s
            }
        })
        .unwrap_or(0);
    ErrorKind::InvalidVersion {
        offset: at(buf, rest) + i,
    }
}

#[inline(always)]
fn request_line(buf: &[u8], bare_lf: bool) -> Result<Status<RequestLine<'_>>, ErrorKind> {
    let mut rest = buf;
    // RFC 9112 §2.2: ignore empty lines before the request line.
    loop {
        match rest {
            [b'\r' | b'\n', ..] => match line_end(buf, rest, bare_lf)? {
                Some(tail) => rest = tail,
                None => return Ok(Status::Partial),
            },
            [] => return Ok(Status::Partial),
            _ => break,
        }
    }
    let (method, tail) = match rest {
        [b'G', b'E', b'T', b' ', tail @ ..] => (&rest[..3], tail),
        [b'P', b'O', b'S', b'T', b' ', tail @ ..] => (&rest[..4], tail),
        _ => {
            let n = token_run(rest);
            match rest.get(n) {
                None => return Ok(Status::Partial),
                Some(b' ') if n > 0 => (&rest[..n], &rest[n + 1..]),
                Some(_) => {
                    return Err(ErrorKind::InvalidMethod {
                        offset: at(buf, rest) + n,
                    });
                }
            }
        }
    };
    rest = tail;
    let n = target_run(rest);
    let target = match rest.get(n) {
        None => return Ok(Status::Partial),
        Some(b' ') if n > 0 => &rest[..n],
        Some(_) => {
            return Err(ErrorKind::InvalidTarget {
                offset: at(buf, rest) + n,
            });
        }
    };
    rest = &rest[n + 1..];
    let (version, tail) = match version(buf, rest)? {
        Status::Complete(v) => v,
        Status::Partial => return Ok(Status::Partial),
    };
    let Some(tail) = line_end(buf, tail, bare_lf)? else {
        return Ok(Status::Partial);
    };
    Ok(Status::Complete(RequestLine {
        method,
        target,
        version,
        end: at(buf, tail),
    }))
}

#[inline(always)]
fn status_line(buf: &[u8], bare_lf: bool) -> Result<Status<StatusLine<'_>>, ErrorKind> {
    let (version, rest) = match version(buf, buf)? {
        Status::Complete(v) => v,
        Status::Partial => return Ok(Status::Partial),
    };
    // SP 3DIGIT, first digit 1 to 5.
    let code = match rest {
        [b' ', a @ b'1'..=b'5', b, c, ..] if b.is_ascii_digit() && c.is_ascii_digit() => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => {
            // A prefix of a valid status, or the offset of the bad byte.
            let shape_ok = |i: usize, b: u8| match i {
                0 => b == b' ',
                1 => (b'1'..=b'5').contains(&b),
                _ => b.is_ascii_digit(),
            };
            let bad = rest
                .iter()
                .take(4)
                .enumerate()
                .find(|&(i, &b)| !shape_ok(i, b));
            return match bad {
                Some((i, _)) => Err(ErrorKind::InvalidStatus {
                    offset: at(buf, rest) + i,
                }),
                None => Ok(Status::Partial),
            };
        }
    };
    let rest = &rest[4..];
    // [ SP reason-phrase ] line-end; a missing reason (and its space) is
    // accepted, as every client does.
    let (reason, rest) = match rest {
        [b' ', tail @ ..] => {
            let n = value_run(tail);
            (&tail[..n], &tail[n..])
        }
        _ => (&rest[..0], rest),
    };
    match rest.first() {
        None | Some(b'\r' | b'\n') => {}
        Some(_) => {
            return Err(ErrorKind::InvalidReason {
                offset: at(buf, rest),
            });
        }
    }
    let Some(tail) = line_end(buf, rest, bare_lf)? else {
        return Ok(Status::Partial);
    };
    Ok(Status::Complete(StatusLine {
        version,
        status: code,
        reason,
        end: at(buf, tail),
    }))
}

/// The field section starting at `start`, up to and including the empty
/// line; returns where the head ends.
#[inline(always)]
pub(crate) fn fields<'b, S: FieldSink<'b>>(
    buf: &'b [u8],
    start: usize,
    sink: &mut S,
    limits: &Limits,
) -> Result<Status<usize>, ErrorKind> {
    let bare_lf = limits.allow_bare_lf;
    let max = limits.max_headers.min(sink.capacity());
    let mut count = 0usize;
    let mut rest = buf.get(start..).unwrap_or_default();
    loop {
        // A field name, most of the time; else the empty line that ends
        // the head, or an error.
        let n = token_run(rest);
        match rest.get(n) {
            Some(b':') if n > 0 => {}
            _ if n == 0 => return line_start(buf, rest, limits),
            None => return partial_head(buf, limits),
            Some(&b) => {
                let offset = at(buf, rest) + n;
                return Err(if is_ows(b) {
                    ErrorKind::WhitespaceBeforeColon { offset }
                } else {
                    ErrorKind::InvalidHeaderName { offset }
                });
            }
        }
        let name = &rest[..n];
        rest = &rest[n + 1..];
        while let [b' ' | b'\t', tail @ ..] = rest {
            rest = tail;
        }
        let n = value_run(rest);
        let mut value = &rest[..n];
        rest = match &rest[n..] {
            [b'\r', b'\n', tail @ ..] => tail,
            [b'\r'] | [] => return partial_head(buf, limits),
            [b'\n', tail @ ..] if bare_lf => tail,
            other => return Err(value_end_error(buf, other)),
        };
        while let [init @ .., b' ' | b'\t'] = value {
            value = init;
        }
        if count == max || !sink.push(name, value) {
            return Err(ErrorKind::TooManyHeaders { limit: max });
        }
        count += 1;
    }
}

/// What a line that does not start with a field name is: the empty line
/// that ends the head, a prefix of it, or an error.
#[inline(always)]
fn line_start(buf: &[u8], rest: &[u8], limits: &Limits) -> Result<Status<usize>, ErrorKind> {
    let offset = at(buf, rest);
    match rest {
        [b'\r', b'\n', tail @ ..] => complete_head(buf, tail, limits),
        [b'\r'] | [] => partial_head(buf, limits),
        [b'\n', tail @ ..] if limits.allow_bare_lf => complete_head(buf, tail, limits),
        [b'\n', ..] => Err(ErrorKind::BareLf { offset }),
        [b'\r', ..] => Err(ErrorKind::BareCr { offset }),
        [b' ' | b'\t', ..] => Err(ErrorKind::ObsFold { offset }),
        _ => Err(ErrorKind::InvalidHeaderName { offset }),
    }
}

/// The head is complete at `tail`: its length, unless over the limit.
#[inline(always)]
fn complete_head(buf: &[u8], tail: &[u8], limits: &Limits) -> Result<Status<usize>, ErrorKind> {
    let end = at(buf, tail);
    if end > limits.max_head_bytes {
        return Err(ErrorKind::HeadTooLarge {
            limit: limits.max_head_bytes,
        });
    }
    Ok(Status::Complete(end))
}

/// What is wrong with the byte that ended a field value.
#[cold]
fn value_end_error(buf: &[u8], rest: &[u8]) -> ErrorKind {
    let offset = at(buf, rest);
    match rest {
        [b'\r', ..] => ErrorKind::BareCr { offset },
        [b'\n', ..] => ErrorKind::BareLf { offset },
        [0, ..] => ErrorKind::NulInValue { offset },
        [byte, ..] => ErrorKind::InvalidHeaderValue {
            offset,
            byte: *byte,
        },
        [] => ErrorKind::InvalidHeaderValue { offset, byte: 0 },
    }
}
