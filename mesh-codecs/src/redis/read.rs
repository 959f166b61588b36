//! The one-shot reader: builds a [`Frame`] directly from a `Bytes` that
//! holds it, slicing every payload out of that buffer.
//!
//! This is the fast path. It restarts from the frame's first byte when it
//! runs out of input, which is fine when the frame is known to be complete
//! (the codec runs it after [`super::scan`] has found the frame's end) or
//! small; [`decode_frame`] exposes it for callers that hold a `Bytes`.

use bytes::Bytes;

use super::codec::DecoderConfig;
use super::error::{DecodeError, Fault, Limit, Malformed};
use super::frame::Frame;
use super::inline;
use super::limits::Limits;
use super::parse::{self, Parsed, Stop};

/// The smallest encoding of one element (`_\r\n`, `+\r\n`): an aggregate
/// never reserves room for more elements than the remaining bytes can hold.
const MIN_ELEMENT_LEN: usize = 3;

/// Decodes the first frame of `buf`, zero-copy: the frame's strings are
/// slices of `buf`. Returns the frame and how many bytes it took, or
/// `None` when `buf` ends inside the frame (then nothing is kept: call
/// again with more bytes, or use [`RespCodec`](super::RespCodec), which
/// keeps a cursor so that a large frame arriving in pieces is read once).
///
/// With [`DecoderConfig::inline_commands`], a frame that does not start
/// with `*` is an inline command (empty lines are skipped and counted).
///
/// ```
/// use bytes::Bytes;
/// use mesh_codecs::redis::{decode_frame, DecoderConfig, Frame};
///
/// let buf = Bytes::from_static(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n+OK");
/// let (frame, used) = decode_frame(&buf, &DecoderConfig::default()).unwrap().unwrap();
/// assert_eq!(frame, Frame::command(["GET", "k"]));
/// assert_eq!(used, 20);
/// assert!(decode_frame(&buf.slice(used..), &DecoderConfig::default()).unwrap().is_none());
/// ```
pub fn decode_frame(
    buf: &Bytes,
    config: &DecoderConfig,
) -> Result<Option<(Frame, usize)>, DecodeError> {
    let mut skipped = 0;
    loop {
        let rest;
        let src = if skipped == 0 {
            buf
        } else {
            rest = buf.slice(skipped..);
            &rest
        };
        if config.inline_commands && src.first().is_some_and(|&b| b != b'*') {
            match inline::line(src, &config.limits)
                .map_err(|f| DecodeError::from_fault(f, config.peer))?
            {
                None => return Ok(None),
                Some((line_end, next)) => match inline::command(src, line_end)
                    .map_err(|f| DecodeError::from_fault(f, config.peer))?
                {
                    Some(frame) => return Ok(Some((frame, skipped + next))),
                    None => {
                        skipped += next;
                        continue;
                    }
                },
            }
        }
        let mut reader = Reader::new(src, &config.limits);
        return match reader.frame(0) {
            Ok(frame) => Ok(Some((frame, skipped + reader.pos))),
            Err(Stop::Incomplete) => Ok(None),
            Err(Stop::Fault(f)) => Err(DecodeError::from_fault(f, config.peer)),
        };
    }
}

/// A recursive-descent reader over one buffer.
pub(crate) struct Reader<'a> {
    src: &'a Bytes,
    buf: &'a [u8],
    /// The next byte to read.
    pub(crate) pos: usize,
    limits: &'a Limits,
    /// Parse steps taken: one per frame header, plus one per byte searched
    /// for the end of a simple line. Tests use it to prove linear work.
    pub(crate) steps: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(src: &'a Bytes, limits: &'a Limits) -> Reader<'a> {
        Reader {
            src,
            buf: src.as_ref(),
            pos: 0,
            limits,
            steps: 0,
        }
    }

    /// Reads one frame at `depth` (0 for a top-level frame).
    pub(crate) fn frame(&mut self, depth: usize) -> Parsed<Frame> {
        self.steps += 1;
        let start = self.pos;
        let Some(&kind) = self.buf.get(start) else {
            return Err(Stop::Incomplete);
        };
        self.pos = start + 1;
        Ok(match kind {
            b'$' => match self.length(true, Limit::BulkLen, self.limits.max_bulk_len)? {
                None => Frame::NullBulkString,
                Some(n) => Frame::BulkString(self.payload(n)?),
            },
            b'*' => match self.count(depth, true)? {
                None => Frame::NullArray,
                Some(n) => Frame::Array(self.elements(n, depth)?),
            },
            b':' => {
                let (v, next) = parse::integer(self.buf, self.pos, Malformed::Integer)?;
                self.pos = next;
                Frame::Integer(v)
            }
            b'+' => Frame::SimpleString(self.line()?),
            b'-' => Frame::Error(self.line()?),
            b'_' => {
                self.pos = parse::crlf(self.buf, self.pos)?;
                Frame::Null
            }
            b'#' => {
                let (v, next) = parse::boolean(self.buf, self.pos)?;
                self.pos = next;
                Frame::Boolean(v)
            }
            b',' => {
                let text = self.line()?;
                parse::check_double(&text, start + 1)?;
                Frame::Double(text)
            }
            b'(' => {
                let text = self.line()?;
                parse::check_big_number(&text, start + 1)?;
                Frame::BigNumber(text)
            }
            b'!' => match self.length(false, Limit::BulkLen, self.limits.max_bulk_len)? {
                Some(n) => Frame::BulkError(self.payload(n)?),
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            b'=' => match self.length(false, Limit::BulkLen, self.limits.max_bulk_len)? {
                Some(n) if n < 4 => return Err(parse::malformed(Malformed::Verbatim, self.pos)),
                Some(n) => {
                    let at = self.pos;
                    let payload = self.payload(n)?;
                    let format = parse::verbatim_format(&payload, at)?;
                    Frame::Verbatim {
                        format,
                        text: payload.slice(4..),
                    }
                }
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            b'~' => match self.count(depth, false)? {
                Some(n) => Frame::Set(self.elements(n, depth)?),
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            b'>' => match self.count(depth, false)? {
                Some(n) => Frame::Push(self.elements(n, depth)?),
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            b'%' => match self.count(depth, false)? {
                Some(n) => Frame::Map(self.pairs(n, depth)?),
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            b'|' => match self.count(depth, false)? {
                Some(n) => {
                    let attributes = self.pairs(n, depth)?;
                    let frame = Box::new(self.frame(depth + 1)?);
                    Frame::Attribute { attributes, frame }
                }
                None => return Err(parse::malformed(Malformed::NegativeLength, start + 1)),
            },
            other => return Err(parse::malformed(Malformed::UnknownType(other), start)),
        })
    }

    #[inline]
    fn length(&mut self, nullable: bool, limit: Limit, max: u64) -> Parsed<Option<u64>> {
        let (n, next) = parse::length(self.buf, self.pos, nullable, limit, max)?;
        self.pos = next;
        Ok(n)
    }

    /// Reads an aggregate's count (pairs for maps) and checks the depth
    /// it opens.
    #[inline]
    fn count(&mut self, depth: usize, nullable: bool) -> Parsed<Option<usize>> {
        let max = self.limits.max_aggregate_len;
        let Some(n) = self.length(nullable, Limit::AggregateLen, max)? else {
            return Ok(None);
        };
        if depth >= self.limits.max_depth {
            let fault = Fault::limit(Limit::Depth, depth as u64 + 1, self.limits.max_depth as u64);
            return Err(Stop::Fault(fault));
        }
        // The count is bounded by the limit; on a 32-bit target it may
        // still not fit, and then the frame cannot be held anyway.
        usize::try_from(n)
            .map(Some)
            .map_err(|_| Stop::Fault(Fault::limit(Limit::AggregateLen, n, max)))
    }

    #[inline]
    fn payload(&mut self, n: u64) -> Parsed<Bytes> {
        let start = self.pos;
        let next = parse::payload(self.buf, start, n)?;
        self.pos = next;
        Ok(self.src.slice(start..next - 2))
    }

    #[inline]
    fn line(&mut self) -> Parsed<Bytes> {
        let start = self.pos;
        match parse::line_end(self.buf, start, start, self.limits.max_line_len)? {
            Ok(cr) => {
                self.steps += (cr - start) as u64;
                self.pos = cr + 2;
                Ok(self.src.slice(start..cr))
            }
            Err(_) => Err(Stop::Incomplete),
        }
    }

    fn elements(&mut self, n: usize, depth: usize) -> Parsed<Vec<Frame>> {
        let room = (self.buf.len() - self.pos) / MIN_ELEMENT_LEN;
        let mut items = Vec::with_capacity(n.min(room));
        for _ in 0..n {
            items.push(self.frame(depth + 1)?);
        }
        Ok(items)
    }

    fn pairs(&mut self, n: usize, depth: usize) -> Parsed<Vec<(Frame, Frame)>> {
        let room = (self.buf.len() - self.pos) / (2 * MIN_ELEMENT_LEN);
        let mut items = Vec::with_capacity(n.min(room));
        for _ in 0..n {
            let key = self.frame(depth + 1)?;
            let value = self.frame(depth + 1)?;
            items.push((key, value));
        }
        Ok(items)
    }
}
