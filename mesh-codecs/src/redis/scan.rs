//! The resumable scanner: finds where a frame ends without building it,
//! keeping a cursor between reads so that no byte is looked at twice.
//!
//! The cursor is the position validated so far, a stack with the number
//! of frames each open aggregate still expects, and where an unfinished
//! line's terminator search or an unfinished payload resumes. A 10,000
//! element array arriving one element per read is thus scanned once in
//! total, not once per read; a 512 MiB bulk string arriving in pieces
//! costs one comparison per read. Only a length or count header cut in
//! the middle is read again, and those are at most 22 bytes.
//!
//! The scanner validates exactly what [`super::read`] does (both use
//! [`super::parse`]), so once it has found a frame's end the reader builds
//! the frame in one pass without running out of input.

use super::codec::DecoderConfig;
use super::error::{Fault, Limit, Malformed};
use super::inline;
use super::parse::{self, Stop};

/// What [`Scanner::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The frame is complete: it is the first `len` bytes.
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

/// The cursor into the frame at the front of the buffer.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Bytes of the frame validated so far.
    pos: usize,
    /// Frames still expected by each open aggregate, innermost last.
    open: Vec<u64>,
    /// Where the search for the current line's terminator resumes (0 when
    /// no line is in progress).
    line_from: usize,
    /// A payload whose header has been read.
    payload: Option<Payload>,
    /// Parse steps taken (see [`super::read::Reader::steps`]).
    pub(crate) steps: u64,
}

impl Scanner {
    /// Forgets the cursor: the frame it described was taken (or the
    /// stream failed).
    pub(crate) fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
        self.line_from = 0;
        self.payload = None;
    }

    /// Scans `buf` (which starts with the frame) from where the last call
    /// stopped.
    pub(crate) fn advance(&mut self, buf: &[u8], config: &DecoderConfig) -> Result<Scan, Fault> {
        let limits = &config.limits;
        loop {
            if let Some(payload) = self.payload {
                // Check the CRLF as soon as its bytes arrive, as the reader
                // does, so that both fault on the same prefixes.
                if buf.len() < payload.end - 2 {
                    return Ok(Scan::NeedMore);
                }
                match parse::crlf(buf, payload.end - 2) {
                    Ok(_) => {}
                    Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                    Err(Stop::Fault(f)) => return Err(f),
                }
                if let Some(at) = payload.verbatim {
                    parse::verbatim_format(&buf[at..payload.end - 2], at)?;
                }
                self.payload = None;
                self.pos = payload.end;
                if self.item_done() {
                    return Ok(Scan::Complete(self.pos));
                }
                continue;
            }
            let start = self.pos;
            let Some(&kind) = buf.get(start) else {
                return Ok(Scan::NeedMore);
            };
            self.steps += 1;
            if config.inline_commands && start == 0 && kind != b'*' {
                return self.inline(buf, config);
            }
            let body = start + 1;
            let parsed = match kind {
                b'$' | b'!' | b'=' => {
                    match parse::length(
                        buf,
                        body,
                        kind == b'$',
                        Limit::BulkLen,
                        limits.max_bulk_len,
                    ) {
                        Ok((None, next)) => Ok(Some(next)),
                        Ok((Some(n), next)) => {
                            if kind == b'=' && n < 4 {
                                return Err(Fault::malformed(Malformed::Verbatim, next));
                            }
                            let end = usize::try_from(n)
                                .ok()
                                .and_then(|n| next.checked_add(n)?.checked_add(2))
                                .ok_or(Fault::malformed(Malformed::Length, body))?;
                            self.pos = next;
                            self.payload = Some(Payload {
                                end,
                                verbatim: (kind == b'=').then_some(next),
                            });
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let nullable = kind == b'*';
                    match parse::length(
                        buf,
                        body,
                        nullable,
                        Limit::AggregateLen,
                        limits.max_aggregate_len,
                    ) {
                        Ok((count, next)) => {
                            if count.is_some() && self.open.len() >= limits.max_depth {
                                return Err(Fault::limit(
                                    Limit::Depth,
                                    self.open.len() as u64 + 1,
                                    limits.max_depth as u64,
                                ));
                            }
                            let frames = match (kind, count) {
                                (_, None) => 0,
                                (b'%', Some(n)) => n.saturating_mul(2),
                                (b'|', Some(n)) => n.saturating_mul(2).saturating_add(1),
                                (_, Some(n)) => n,
                            };
                            if frames > 0 {
                                self.pos = next;
                                self.open.push(frames);
                                continue;
                            }
                            Ok(Some(next))
                        }
                        Err(e) => Err(e),
                    }
                }
                b':' => parse::integer(buf, body, Malformed::Integer).map(|(_, next)| Some(next)),
                b'_' => parse::crlf(buf, body).map(Some),
                b'#' => parse::boolean(buf, body).map(|(_, next)| Some(next)),
                b'+' | b'-' | b',' | b'(' => self.line(buf, kind, body, limits.max_line_len),
                other => return Err(Fault::malformed(Malformed::UnknownType(other), start)),
            };
            match parsed {
                Ok(Some(next)) => {
                    self.pos = next;
                    if self.item_done() {
                        return Ok(Scan::Complete(self.pos));
                    }
                }
                Ok(None) | Err(Stop::Incomplete) => return Ok(Scan::NeedMore),
                Err(Stop::Fault(f)) => return Err(f),
            }
        }
    }

    /// Scans a simple line, resuming the terminator search.
    fn line(
        &mut self,
        buf: &[u8],
        kind: u8,
        body: usize,
        max: usize,
    ) -> Result<Option<usize>, Stop> {
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
                Ok(Some(cr + 2))
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

    /// Counts one finished frame against the open aggregates; true when
    /// that finished the top-level frame.
    fn item_done(&mut self) -> bool {
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }
}
