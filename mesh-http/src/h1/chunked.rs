//! Chunked transfer coding (RFC 9112 §7.1): the chunk-size line parser and
//! the streaming decoder state.
//!
//! The decoder never buffers chunk data: it splits whatever part of the
//! current chunk is in the read buffer off as a frozen [`Bytes`] at once.
//! Only a chunk-size line (bounded by [`Limits::max_chunk_line`]) or the
//! trailer section (bounded by [`Limits::max_trailer_bytes`]) waits in the
//! buffer, and the search for their end keeps a cursor, so bytes that
//! arrive one at a time are each looked at a bounded number of times.

use bytes::{Buf, Bytes, BytesMut};

use super::chars::{hex_value, is_ows, is_qdtext, is_quoted_pair_byte, token_run};
use super::error::ErrorKind;
use super::limits::Limits;
use super::message::HeaderMap;
use super::parse::{OffsetSink, Status, fields};

/// The most hex digits a chunk size may have: 16 fill 64 bits.
const MAX_SIZE_DIGITS: usize = 16;

/// Parses one chunk-size line, `chunk-size [ chunk-ext ] CRLF`, at the
/// start of `buf`. Returns the line's length and the chunk's size.
///
/// Extensions are checked against the grammar and then ignored, as RFC
/// 9112 asks of a recipient that does not know them. The size must be hex
/// digits only (no sign, no `0x`, no whitespace before the line end) and
/// fit in 64 bits.
///
/// ```
/// use mesh_http::h1::{parse_chunk_size, Limits, Status};
/// let limits = Limits::DEFAULT;
/// assert_eq!(parse_chunk_size(b"1f;name=val\r\ndata", &limits), Ok(Status::Complete((13, 31))));
/// assert_eq!(parse_chunk_size(b"1f", &limits), Ok(Status::Partial));
/// assert!(parse_chunk_size(b"1g\r\n", &limits).is_err());
/// ```
#[inline]
pub fn parse_chunk_size(buf: &[u8], limits: &Limits) -> Result<Status<(usize, u64)>, ErrorKind> {
    let mut size = 0u64;
    let mut digits = 0usize;
    for &b in buf.iter().take(MAX_SIZE_DIGITS) {
        let Some(d) = hex_value(b) else { break };
        size = (size << 4) | u64::from(d);
        digits += 1;
    }
    let rest = &buf[digits..];
    if digits == MAX_SIZE_DIGITS && rest.first().is_some_and(|&b| hex_value(b).is_some()) {
        return Err(ErrorKind::InvalidChunkSize { offset: digits });
    }
    let len = match rest {
        [b'\r', b'\n', ..] => digits + 2,
        [] | [b'\r'] => return Ok(Status::Partial),
        _ if digits == 0 => return Err(ErrorKind::InvalidChunkSize { offset: 0 }),
        [b'\r', ..] => return Err(ErrorKind::BareCr { offset: digits }),
        [b'\n', ..] if limits.allow_bare_lf => digits + 1,
        [b'\n', ..] => return Err(ErrorKind::BareLf { offset: digits }),
        [b';' | b' ' | b'\t', ..] => return extension_line(buf, digits, size, limits),
        _ => return Err(ErrorKind::InvalidChunkSize { offset: digits }),
    };
    if digits == 0 {
        return Err(ErrorKind::InvalidChunkSize { offset: 0 });
    }
    check_line_len(len, limits)?;
    Ok(Status::Complete((len, size)))
}

fn check_line_len(len: usize, limits: &Limits) -> Result<(), ErrorKind> {
    if len > limits.max_chunk_line {
        Err(ErrorKind::ChunkLineTooLong {
            limit: limits.max_chunk_line,
        })
    } else {
        Ok(())
    }
}

/// The rest of a chunk-size line that has extensions after `digits`.
fn extension_line(
    buf: &[u8],
    digits: usize,
    size: u64,
    limits: &Limits,
) -> Result<Status<(usize, u64)>, ErrorKind> {
    let ext = &buf[digits..];
    let end = match scan_chunk_ext(ext) {
        Ext::End(end) => digits + end,
        Ext::NeedMore => {
            check_line_len(buf.len() + 1, limits)?;
            return Ok(Status::Partial);
        }
        Ext::Bad(at) => {
            return Err(ErrorKind::InvalidChunkExtension {
                offset: digits + at,
            });
        }
    };
    let len = match &buf[end..] {
        [b'\r', b'\n', ..] => end + 2,
        [b'\r'] => {
            check_line_len(end + 2, limits)?;
            return Ok(Status::Partial);
        }
        [b'\r', ..] => return Err(ErrorKind::BareCr { offset: end }),
        [b'\n', ..] if limits.allow_bare_lf => end + 1,
        [b'\n', ..] => return Err(ErrorKind::BareLf { offset: end }),
        _ => return Err(ErrorKind::InvalidChunkExtension { offset: end }),
    };
    check_line_len(len, limits)?;
    Ok(Status::Complete((len, size)))
}

/// Where the extensions of a chunk-size line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// At this offset, the first byte that cannot continue them (the line
    /// end, if the line is valid).
    End(usize),
    /// The input ends inside them.
    NeedMore,
    /// The step starting at this offset breaks the grammar.
    Bad(usize),
}

/// Scans `chunk-ext` (RFC 9112 §7.1.1),
/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` with
/// `chunk-ext-val = token / quoted-string`, from the start of `ext`.
///
/// Hand-written: the nom rule in [`grammar`](super::grammar) took twice
/// httparse's time on the benchmark's extension line (httparse skips
/// extensions unchecked, up to the line feed); this scanner is the same
/// grammar (a property test compares them) in one pass that also finds the
/// line end.
fn scan_chunk_ext(ext: &[u8]) -> Ext {
    let skip_ows = |mut i: usize| {
        while ext.get(i).is_some_and(|&b| is_ows(b)) {
            i += 1;
        }
        i
    };
    let mut i = 0;
    loop {
        let step = i;
        let j = skip_ows(i);
        match ext.get(j) {
            None => return Ext::NeedMore,
            Some(b';') => {}
            // Whitespace that no `;` follows is not part of the grammar.
            Some(_) if j > step => return Ext::Bad(step),
            Some(_) => return Ext::End(step),
        }
        let k = skip_ows(j + 1);
        let name = token_run(&ext[k..]);
        if k + name == ext.len() {
            return Ext::NeedMore;
        }
        if name == 0 {
            return Ext::Bad(step);
        }
        i = k + name;
        // [ BWS "=" BWS value ]: when no value parses, the extension ends
        // after its name and the next step fails where it starts.
        let j = skip_ows(i);
        if j == ext.len() {
            return Ext::NeedMore;
        }
        if ext[j] == b'=' {
            let v = skip_ows(j + 1);
            match ext.get(v) {
                None => return Ext::NeedMore,
                Some(b'"') => match quoted_string_end(ext, v) {
                    Some(Ok(end)) => i = end,
                    Some(Err(())) => {}
                    None => return Ext::NeedMore,
                },
                Some(_) => {
                    let t = token_run(&ext[v..]);
                    if v + t == ext.len() {
                        return Ext::NeedMore;
                    }
                    if t > 0 {
                        i = v + t;
                    }
                }
            }
        }
    }
}

/// The end of the quoted-string that starts at `start` (a `"`): `Ok` past
/// its closing quote, `Err` at a byte it may not hold, `None` when the
/// input ends inside it.
fn quoted_string_end(s: &[u8], start: usize) -> Option<Result<usize, ()>> {
    let mut k = start + 1;
    loop {
        match *s.get(k)? {
            b'"' => return Some(Ok(k + 1)),
            b'\\' => match s.get(k + 1) {
                None => return None,
                Some(&b) if is_quoted_pair_byte(b) => k += 2,
                Some(_) => return Some(Err(())),
            },
            b if is_qdtext(b) => k += 1,
            _ => return Some(Err(())),
        }
    }
}

/// Checks the start of a chunk-size line whose end has not arrived: the
/// digits so far must be hex and at most 16, and what follows them must be
/// able to start an extension or a line end. Looks at 17 bytes at most.
fn check_size_prefix(buf: &[u8]) -> Result<(), ErrorKind> {
    let digits = buf
        .iter()
        .take(MAX_SIZE_DIGITS + 1)
        .take_while(|&&b| hex_value(b).is_some())
        .count();
    if digits > MAX_SIZE_DIGITS {
        return Err(ErrorKind::InvalidChunkSize { offset: digits - 1 });
    }
    match buf.get(digits) {
        None => Ok(()),
        Some(_) if digits == 0 => Err(ErrorKind::InvalidChunkSize { offset: 0 }),
        Some(b';' | b' ' | b'\t' | b'\r') => Ok(()),
        Some(_) => Err(ErrorKind::InvalidChunkSize { offset: digits }),
    }
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before a chunk-size line; `scanned` bytes were searched for its LF.
    Size { scanned: usize },
    /// Inside a chunk's data, with this many bytes to go.
    Data { remaining: u64 },
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: the trailer section; `scanned` bytes were
    /// searched for its end.
    Trailers { scanned: usize },
    /// The body is complete.
    Done,
}

/// What one step of the chunked decoder produced.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Chunk data.
    Data(Bytes),
    /// The trailer section (only when it has fields).
    Trailers(HeaderMap),
}

/// The state of one chunked body.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    limits: Limits,
    /// Bytes examined (searched, parsed or split) so far: the test that
    /// proves the decoder linear reads this.
    steps: u64,
    offsets: Vec<[usize; 4]>,
}

impl ChunkedDecoder {
    pub(crate) fn new(limits: Limits) -> Self {
        ChunkedDecoder {
            state: State::Size { scanned: 0 },
            limits,
            steps: 0,
            offsets: Vec::new(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub(crate) fn steps(&self) -> u64 {
        self.steps
    }

    /// Decodes what it can from the front of `buf`: `Ok(None)` when more
    /// bytes are needed or the body is done (see [`Self::is_done`]).
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, ErrorKind> {
        loop {
            match self.state {
                State::Size { scanned } => {
                    // The buffer only grows between calls; clamp anyway, so
                    // a caller that consumed from it cannot make this panic.
                    let scanned = scanned.min(buf.len());
                    let Some(nl) = memchr::memchr(b'\n', &buf[scanned..]) else {
                        self.steps += (buf.len() - scanned) as u64 + 17;
                        check_size_prefix(buf)?;
                        if buf.len() >= self.limits.max_chunk_line {
                            return Err(ErrorKind::ChunkLineTooLong {
                                limit: self.limits.max_chunk_line,
                            });
                        }
                        self.state = State::Size { scanned: buf.len() };
                        return Ok(None);
                    };
                    let line_end = scanned + nl + 1;
                    self.steps += (nl + 1 + line_end) as u64;
                    let size = match parse_chunk_size(&buf[..line_end], &self.limits)? {
                        Status::Complete((len, size)) if len == line_end => size,
                        // The line ends at the first LF, so a complete parse
                        // ends there too; anything else is malformed.
                        _ => return Err(ErrorKind::InvalidChunkSize { offset: 0 }),
                    };
                    buf.advance(line_end);
                    self.state = if size == 0 {
                        State::Trailers { scanned: 0 }
                    } else {
                        State::Data { remaining: size }
                    };
                }
                State::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    self.steps += 1;
                    let data = buf.split_to(n).freeze();
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::DataEnd
                    } else {
                        State::Data { remaining }
                    };
                    return Ok(Some(Chunk::Data(data)));
                }
                State::DataEnd => {
                    self.steps += 2;
                    match &buf[..] {
                        [b'\r', b'\n', ..] => buf.advance(2),
                        [b'\n', ..] if self.limits.allow_bare_lf => buf.advance(1),
                        [] | [b'\r'] => return Ok(None),
                        _ => return Err(ErrorKind::InvalidChunkTerminator),
                    }
                    self.state = State::Size { scanned: 0 };
                }
                State::Trailers { scanned } => return self.trailers(buf, scanned),
                State::Done => return Ok(None),
            }
        }
    }

    /// The trailer section: an empty line, or fields up to an empty line.
    fn trailers(&mut self, buf: &mut BytesMut, scanned: usize) -> Result<Option<Chunk>, ErrorKind> {
        let bare_lf = self.limits.allow_bare_lf;
        match &buf[..] {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => {
                buf.advance(2);
                self.state = State::Done;
                return Ok(None);
            }
            [b'\n', ..] if bare_lf => {
                buf.advance(1);
                self.state = State::Done;
                return Ok(None);
            }
            _ => {}
        }
        // Search the new bytes for the LF that ends the empty line.
        let from = scanned.saturating_sub(2).min(buf.len());
        let mut end = None;
        for nl in memchr::memchr_iter(b'\n', &buf[from..]).map(|i| from + i) {
            let ends = (nl >= 2 && buf[nl - 1] == b'\r' && buf[nl - 2] == b'\n')
                || (bare_lf && nl >= 1 && buf[nl - 1] == b'\n');
            if ends {
                end = Some(nl + 1);
                break;
            }
        }
        self.steps += (buf.len() - from) as u64;
        let Some(end) = end else {
            if buf.len() > self.limits.max_trailer_bytes {
                return Err(ErrorKind::TrailersTooLarge {
                    limit: self.limits.max_trailer_bytes,
                });
            }
            self.state = State::Trailers { scanned: buf.len() };
            return Ok(None);
        };
        if end > self.limits.max_trailer_bytes {
            return Err(ErrorKind::TrailersTooLarge {
                limit: self.limits.max_trailer_bytes,
            });
        }
        self.steps += end as u64;
        self.offsets.clear();
        let section = &buf[..end];
        let mut sink = OffsetSink {
            base: section.as_ptr() as usize,
            fields: &mut self.offsets,
            cap: self.limits.max_headers,
        };
        let limits = Limits {
            max_head_bytes: self.limits.max_trailer_bytes,
            ..self.limits
        };
        match fields(section, 0, &mut sink, &limits)? {
            Status::Complete(len) if len == end => {}
            _ => {
                return Err(ErrorKind::InvalidHeaderName { offset: 0 });
            }
        }
        let frozen = buf.split_to(end).freeze();
        self.state = State::Done;
        Ok(Some(Chunk::Trailers(HeaderMap::from_offsets(
            &frozen,
            &self.offsets,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits::DEFAULT;

    type Expected = Result<Status<(usize, u64)>, ErrorKind>;

    #[test]
    fn chunk_size_lines() {
        use ErrorKind::*;
        let table: &[(&[u8], Expected)] = &[
            (b"0\r\n", Ok(Status::Complete((3, 0)))),
            (b"a\r\n", Ok(Status::Complete((3, 10)))),
            (b"FfFf\r\nxx", Ok(Status::Complete((6, 0xffff)))),
            (
                b"ffffffffffffffff\r\n",
                Ok(Status::Complete((18, u64::MAX))),
            ),
            (b"5;a=b\r\n", Ok(Status::Complete((7, 5)))),
            (b"5 ; a = \"b c\"\r\n", Ok(Status::Complete((15, 5)))),
            (b"5", Ok(Status::Partial)),
            (b"5\r", Ok(Status::Partial)),
            (b"5;a=b", Ok(Status::Partial)),
            (b"5;a=b\r", Ok(Status::Partial)),
            (b"", Ok(Status::Partial)),
            (
                b"10000000000000000\r\n",
                Err(InvalidChunkSize { offset: 16 }),
            ),
            (b"-1\r\n", Err(InvalidChunkSize { offset: 0 })),
            (b"0x5\r\n", Err(InvalidChunkSize { offset: 1 })),
            (b"+5\r\n", Err(InvalidChunkSize { offset: 0 })),
            (b"\r\n", Err(InvalidChunkSize { offset: 0 })),
            (b"5 \r\n", Err(InvalidChunkExtension { offset: 1 })),
            (b"5;\r\n", Err(InvalidChunkExtension { offset: 1 })),
            (b"5;a=\r\n", Err(InvalidChunkExtension { offset: 3 })),
            (b"5\n", Err(BareLf { offset: 1 })),
            (b"5;a\n", Err(BareLf { offset: 3 })),
            (b"5\rx", Err(BareCr { offset: 1 })),
            (b"5;a\rb\r\n", Err(BareCr { offset: 3 })),
        ];
        for (line, expected) in table {
            assert_eq!(
                parse_chunk_size(line, &L),
                *expected,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let lax = Limits {
            allow_bare_lf: true,
            ..L
        };
        assert_eq!(parse_chunk_size(b"5\n", &lax), Ok(Status::Complete((2, 5))));
        assert_eq!(
            parse_chunk_size(b"5;a\n", &lax),
            Ok(Status::Complete((4, 5)))
        );
        let long = [&b"5;a="[..], &vec![b'x'; 5000], b"\r\n"].concat();
        assert_eq!(
            parse_chunk_size(&long, &L),
            Err(ChunkLineTooLong { limit: 4096 })
        );
    }

    proptest::proptest! {
        /// The hand-written extension scanner is the nom grammar.
        #[test]
        fn extension_scanner_matches_the_grammar(ext in proptest::collection::vec(
            proptest::sample::select(vec![b';', b' ', b'\t', b'=', b'"', b'\\', b'a', b'Z', b'0', b'-', b',', 0x80, b'\r', 0x7f]),
            0..24,
        )) {
            // The scanner runs on a whole line; the grammar on the part
            // before its end.
            let line = [&ext[..], b"\r\n"].concat();
            let scanned = match scan_chunk_ext(&line) {
                Ext::End(end) if end == ext.len() => Ok(()),
                Ext::End(at) | Ext::Bad(at) => Err(at),
                Ext::NeedMore => Err(usize::MAX),
            };
            proptest::prop_assert_eq!(scanned, crate::h1::grammar::chunk_ext(&ext));
        }
    }

    #[test]
    fn prefix_checks_stop_garbage_early() {
        assert_eq!(check_size_prefix(b"12"), Ok(()));
        assert_eq!(check_size_prefix(b"12;"), Ok(()));
        assert!(check_size_prefix(b"12z").is_err());
        assert!(check_size_prefix(b"z").is_err());
        assert!(check_size_prefix(b"11111111111111111").is_err());
    }
}
