//! The scanner: the one RESP parser of this crate. It validates a frame
//! header by header, records a compact index of it (the tape: one
//! [`Node`] per frame, with payload ranges and subtree sizes), and keeps a
//! cursor between reads so that no byte is looked at twice.
//!
//! The cursor is the position validated so far, a stack with the number
//! of frames each open aggregate still expects, and where an unfinished
//! line's terminator search or an unfinished payload resumes. A 10,000
//! element array arriving one element per read is thus scanned once in
//! total, not once per read; a 512 MiB bulk string arriving in pieces
//! costs one comparison per read. Only a length or count header cut in
//! the middle is read again, and those are at most 22 bytes.
//!
//! When the frame is complete, its bytes and its tape make a
//! [`RawFrame`](super::RawFrame); nothing is parsed twice.

use super::codec::DecoderConfig;
use super::error::{Fault, Limit, Malformed};
use super::inline;
use super::parse::{self, Stop};

/// The type of one tape node, as RESP2/RESP3 name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `+`.
    SimpleString,
    /// `-`.
    Error,
    /// `:`.
    Integer,
    /// `$`.
    BulkString,
    /// `$-1`.
    NullBulkString,
    /// `*`.
    Array,
    /// `*-1`.
    NullArray,
    /// `_`.
    Null,
    /// `#`.
    Boolean,
    /// `,`.
    Double,
    /// `(`.
    BigNumber,
    /// `!`.
    BulkError,
    /// `=`.
    Verbatim,
    /// `%`.
    Map,
    /// `~`.
    Set,
    /// `|`.
    Attribute,
    /// `>`.
    Push,
}

/// One frame on the tape.
///
/// For strings `a..b` is the payload's range in the frame's bytes
/// (for verbatim strings including the `xxx:` prefix); for integers and
/// booleans `a` is the value; for aggregates `a` is the count (pairs for
/// maps and attributes). `next` is the index of the node after this
/// frame's subtree, so that siblings are found without walking children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) next: u32,
    pub(crate) a: u64,
    pub(crate) b: u64,
}

/// What [`Scanner::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The frame is complete: it is the first `len` bytes, its tape is in
    /// the scanner ([`Scanner::take_tape`]).
    Complete(usize),
    /// An inline command: its line is `..line_end`, the next frame starts
    /// at `next`.
    Inline { line_end: usize, next: usize },
    /// More bytes are needed; the cursor is saved.
    NeedMore,
}

/// An unfinished payload: the position after its CRLF, and where its
/// verbatim format prefix starts when it is a verbatim string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Payload {
    end: usize,
    verbatim: Option<usize>,
}

/// An open aggregate: frames it still expects, and its node.
#[derive(Debug, Clone, Copy)]
struct Open {
    left: u64,
    node: u32,
}

/// The open aggregates, innermost last: the first few inline (most
/// frames nest no deeper), the rest on the heap.
#[derive(Debug, Default)]
struct OpenStack {
    inline: [Option<Open>; 4],
    len: usize,
    spill: Vec<Open>,
}

impl OpenStack {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, open: Open) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = Some(open),
            None => self.spill.push(open),
        }
        self.len += 1;
    }

    fn last_mut(&mut self) -> Option<&mut Open> {
        let top = self.len.checked_sub(1)?;
        match self.inline.get_mut(top) {
            Some(slot) => slot.as_mut(),
            None => self.spill.last_mut(),
        }
    }

    fn pop(&mut self) {
        if self.len > self.inline.len() {
            self.spill.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }
}

/// The cursor into the frame at the front of the buffer, and its tape.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Bytes of the frame validated so far.
    pos: usize,
    /// The open aggregates, innermost last.
    open: OpenStack,
    /// Where the search for the current line's terminator resumes (0 when
    /// no line is in progress).
    line_from: usize,
    /// A payload whose header has been read.
    payload: Option<Payload>,
    /// The tape of the frame so far.
    tape: Vec<Node>,
    /// Parse steps taken: one per frame header looked at (a header cut by
    /// the end of a read counts again when it is read again), plus one per
    /// byte searched for a line terminator. Tests use it to prove linear
    /// work.
    pub(crate) steps: u64,
}

impl Scanner {
    /// Forgets the cursor and the tape (after an error, or to reuse the
    /// scanner for another buffer).
    pub(crate) fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
        self.line_from = 0;
        self.payload = None;
        self.tape.clear();
    }

    /// Takes the tape of the frame just completed and readies the scanner
    /// for the next frame.
    pub(crate) fn take_tape(&mut self) -> Vec<Node> {
        let tape = std::mem::take(&mut self.tape);
        self.reset();
        tape
    }

    fn push(&mut self, kind: Kind, a: u64, b: u64) -> Result<u32, Fault> {
        let index = u32::try_from(self.tape.len())
            .ok()
            .filter(|i| *i < u32::MAX)
            .ok_or_else(|| {
                Fault::limit(
                    Limit::AggregateLen,
                    self.tape.len() as u64,
                    u64::from(u32::MAX - 1),
                )
            })?;
        self.tape.push(Node {
            kind,
            next: index + 1,
            a,
            b,
        });
        Ok(index)
    }

    /// Scans `buf` (which starts with the frame) from where the last call
    /// stopped.
    pub(crate) fn advance(&mut self, buf: &[u8], config: &DecoderConfig) -> Result<Scan, Fault> {
        let limits = &config.limits;
        loop {
            if let Some(payload) = self.payload {
                // Check the CRLF as soon as its bytes arrive, so that a
                // frame faults on the same prefixes however it is split.
                if buf.len() < payload.end - 2 {
                    return Ok(Scan::NeedMore);
                }
                match Self::payload_end(buf, payload.end, payload.verbatim) {
                    Ok(()) => {}
                    Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                    Err(Stop::Fault(f)) => return Err(f),
                }
                self.payload = None;
                self.pos = payload.end;
                if self.item_done() {
                    return Ok(Scan::Complete(self.pos));
                }
                continue;
            }
            let start = self.pos;
            let Some(&byte) = buf.get(start) else {
                return Ok(Scan::NeedMore);
            };
            self.steps += 1;
            if config.inline_commands && start == 0 && byte != b'*' {
                return self.inline(buf, config);
            }
            let body = start + 1;
            let parsed = match byte {
                b'$' | b'!' | b'=' => {
                    let max = limits.max_bulk_len;
                    match parse::length(buf, body, byte == b'$', Limit::BulkLen, max) {
                        Ok((None, next)) => self.push(Kind::NullBulkString, 0, 0).map(|_| next),
                        Ok((Some(n), next)) => {
                            if byte == b'=' && n < 4 {
                                return Err(Fault::malformed(Malformed::Verbatim, next));
                            }
                            let end = usize::try_from(n)
                                .ok()
                                .and_then(|n| next.checked_add(n)?.checked_add(2))
                                .ok_or(Fault::malformed(Malformed::Length, body))?;
                            let kind = match byte {
                                b'$' => Kind::BulkString,
                                b'!' => Kind::BulkError,
                                _ => Kind::Verbatim,
                            };
                            self.push(kind, next as u64, (end - 2) as u64)?;
                            let verbatim = (byte == b'=').then_some(next);
                            // The payload is often all here: finish it now.
                            match Self::payload_end(buf, end, verbatim) {
                                Ok(()) => Ok(end),
                                Err(Stop::Fault(f)) => Err(f),
                                Err(Stop::Incomplete) => {
                                    self.pos = next;
                                    self.payload = Some(Payload { end, verbatim });
                                    continue;
                                }
                            }
                        }
                        Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                        Err(Stop::Fault(f)) => return Err(f),
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let max = limits.max_aggregate_len;
                    match parse::length(buf, body, byte == b'*', Limit::AggregateLen, max) {
                        Ok((None, next)) => self.push(Kind::NullArray, 0, 0).map(|_| next),
                        Ok((Some(count), next)) => {
                            if self.open.len() >= limits.max_depth {
                                return Err(Fault::limit(
                                    Limit::Depth,
                                    self.open.len() as u64 + 1,
                                    limits.max_depth as u64,
                                ));
                            }
                            let (kind, frames) = match byte {
                                b'*' => (Kind::Array, count),
                                b'~' => (Kind::Set, count),
                                b'>' => (Kind::Push, count),
                                b'%' => (Kind::Map, count.saturating_mul(2)),
                                _ => (Kind::Attribute, count.saturating_mul(2).saturating_add(1)),
                            };
                            // Room for the elements, as far as the bytes
                            // already here can hold them (3 bytes at least
                            // each): never what a length merely declares.
                            let room = (buf.len() - next) / 3;
                            self.tape.reserve(
                                1 + usize::try_from(frames).unwrap_or(usize::MAX).min(room),
                            );
                            let node = self.push(kind, count, 0)?;
                            if frames > 0 {
                                self.pos = next;
                                self.open.push(Open { left: frames, node });
                                continue;
                            }
                            Ok(next)
                        }
                        Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                        Err(Stop::Fault(f)) => return Err(f),
                    }
                }
                b':' => match parse::integer(buf, body, Malformed::Integer) {
                    Ok((v, next)) => self.push(Kind::Integer, v as u64, 0).map(|_| next),
                    Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                    Err(Stop::Fault(f)) => return Err(f),
                },
                b'_' => match parse::crlf(buf, body) {
                    Ok(next) => self.push(Kind::Null, 0, 0).map(|_| next),
                    Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                    Err(Stop::Fault(f)) => return Err(f),
                },
                b'#' => match parse::boolean(buf, body) {
                    Ok((v, next)) => self.push(Kind::Boolean, u64::from(v), 0).map(|_| next),
                    Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                    Err(Stop::Fault(f)) => return Err(f),
                },
                b'+' | b'-' | b',' | b'(' => {
                    match self.line(buf, byte, body, limits.max_line_len)? {
                        Some(cr) => {
                            let kind = match byte {
                                b'+' => Kind::SimpleString,
                                b'-' => Kind::Error,
                                b',' => Kind::Double,
                                _ => Kind::BigNumber,
                            };
                            self.push(kind, body as u64, cr as u64).map(|_| cr + 2)
                        }
                        None => return Ok(Scan::NeedMore),
                    }
                }
                other => return Err(Fault::malformed(Malformed::UnknownType(other), start)),
            };
            self.pos = parsed?;
            if self.item_done() {
                return Ok(Scan::Complete(self.pos));
            }
        }
    }

    /// Checks the CRLF that ends a payload at `end` (and the format prefix
    /// of a verbatim string that starts at `verbatim`).
    #[inline]
    fn payload_end(buf: &[u8], end: usize, verbatim: Option<usize>) -> Result<(), Stop> {
        parse::crlf(buf, end - 2)?;
        if let Some(at) = verbatim {
            parse::verbatim_format(&buf[at..end - 2], at)?;
        }
        Ok(())
    }

    /// Scans a simple line, resuming the terminator search: the index of
    /// its CR, or `None` while it is incomplete.
    fn line(
        &mut self,
        buf: &[u8],
        kind: u8,
        body: usize,
        max: usize,
    ) -> Result<Option<usize>, Fault> {
        let from = self.line_from.max(body);
        match parse::line_end(buf, body, from, max)? {
            Ok(cr) => {
                self.steps += (cr - from) as u64;
                self.line_from = 0;
                match kind {
                    b',' => parse::check_double(&buf[body..cr], body)?,
                    b'(' => parse::check_big_number(&buf[body..cr], body)?,
                    _ => {}
                }
                Ok(Some(cr))
            }
            Err(resume) => {
                self.steps += (resume - from) as u64;
                self.line_from = resume;
                Ok(None)
            }
        }
    }

    /// Scans an inline command, resuming the newline search.
    fn inline(&mut self, buf: &[u8], config: &DecoderConfig) -> Result<Scan, Fault> {
        let from = self.line_from;
        match inline::line_from(buf, from, &config.limits)? {
            Ok((line_end, next)) => {
                self.steps += (next - from) as u64;
                self.line_from = 0;
                Ok(Scan::Inline { line_end, next })
            }
            Err(resume) => {
                self.steps += (resume - from) as u64;
                self.line_from = resume;
                Ok(Scan::NeedMore)
            }
        }
    }

    /// Counts one finished frame against the open aggregates, closing
    /// those it completes; true when that finished the top-level frame.
    #[inline]
    fn item_done(&mut self) -> bool {
        while let Some(open) = self.open.last_mut() {
            open.left -= 1;
            if open.left > 0 {
                return false;
            }
            let node = open.node as usize;
            self.open.pop();
            // The tape never exceeds u32::MAX nodes (see `push`).
            self.tape[node].next = self.tape.len() as u32;
        }
        true
    }
}
