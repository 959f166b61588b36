//! Decode and encode errors, classified by the workspace convention
//! ([`mesh_core::ErrorClass`]).
//!
//! A malformed frame is blamed on the peer that sent it (the decoder is told
//! which side it reads, [`crate::redis::DecoderConfig::peer`]); a frame over
//! one of the proxy's own [`Limits`](crate::redis::Limits) is
//! [`Side::Internal`], since the peer may be within the protocol and the
//! proxy chose to refuse. No decode error is ever safe to retry: a request
//! that failed to decode is not a request, and a reply that failed to
//! decode was produced by an upstream that ran the command.

use std::fmt;
use std::io;

use mesh_core::{ErrorClass, Side};

/// Which limit a frame exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_bulk_len`](crate::redis::Limits::max_bulk_len).
    BulkLen,
    /// [`Limits::max_aggregate_len`](crate::redis::Limits::max_aggregate_len).
    AggregateLen,
    /// [`Limits::max_depth`](crate::redis::Limits::max_depth).
    Depth,
    /// [`Limits::max_line_len`](crate::redis::Limits::max_line_len).
    LineLen,
    /// [`Limits::max_inline_len`](crate::redis::Limits::max_inline_len).
    InlineLen,
}

impl Limit {
    /// A short name for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::BulkLen => "bulk length",
            Limit::AggregateLen => "aggregate length",
            Limit::Depth => "nesting depth",
            Limit::LineLen => "line length",
            Limit::InlineLen => "inline command length",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was wrong with a malformed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformed {
    /// A frame started with a byte that is no RESP2 or RESP3 type.
    UnknownType(u8),
    /// A length or count was not a decimal number of at most 20 digits.
    Length,
    /// A negative length other than `-1`, or `-1` where no null exists
    /// (RESP3 aggregates, bulk errors, verbatim strings).
    NegativeLength,
    /// A streamed RESP3 string or aggregate (`$?`, `*?`): Redis never
    /// sends them and this decoder does not reassemble them.
    Streamed,
    /// An integer was not a decimal `i64`.
    Integer,
    /// A boolean was neither `#t` nor `#f`.
    Boolean,
    /// A double was neither a decimal number nor `inf`, `-inf` or `nan`.
    Double,
    /// A big number was not an optionally signed run of digits.
    BigNumber,
    /// A verbatim string was shorter than its `xxx:` format prefix.
    Verbatim,
    /// A line or payload was not followed by CRLF.
    MissingCrlf,
    /// A simple line held a lone CR or LF.
    LineBreak,
    /// An inline command had an unterminated quote, or a closing quote
    /// followed by something other than a space.
    UnbalancedQuotes,
}

impl Malformed {
    /// A short description for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Malformed::UnknownType(_) => "unknown type byte",
            Malformed::Length => "invalid length",
            Malformed::NegativeLength => "invalid negative length",
            Malformed::Streamed => "streamed RESP3 type not supported",
            Malformed::Integer => "invalid integer",
            Malformed::Boolean => "invalid boolean",
            Malformed::Double => "invalid double",
            Malformed::BigNumber => "invalid big number",
            Malformed::Verbatim => "verbatim string without format",
            Malformed::MissingCrlf => "missing CRLF",
            Malformed::LineBreak => "CR or LF inside a line",
            Malformed::UnbalancedQuotes => "unbalanced quotes in inline command",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::UnknownType(b) => write!(f, "unknown type byte 0x{b:02x}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A parse failure without the side it is blamed on: what the parsers
/// return, cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Malformed { what: Malformed, offset: usize },
    Limit { limit: Limit, value: u64, max: u64 },
}

impl Fault {
    pub(crate) fn malformed(what: Malformed, offset: usize) -> Fault {
        Fault::Malformed { what, offset }
    }

    pub(crate) fn limit(limit: Limit, value: u64, max: u64) -> Fault {
        Fault::Limit { limit, value, max }
    }
}

/// What went wrong while decoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes are not RESP.
    #[error("malformed RESP: {what} at byte {offset} of the frame")]
    Malformed {
        /// What was wrong.
        what: Malformed,
        /// Where, counted from the first byte of the frame.
        offset: usize,
    },
    /// A declared length, a line or the nesting exceeded a limit.
    #[error("RESP {limit} of {value} exceeds the limit of {max}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The value seen (a declared length, or the bytes read so far).
        value: u64,
        /// The limit.
        max: u64,
    },
    /// Reading the transport failed (through `tokio_util`'s `Framed`).
    #[error("I/O error reading RESP")]
    Io(#[source] io::Error),
}

/// A decode failure, with the side it is blamed on.
#[derive(Debug, thiserror::Error)]
#[error("RESP from the {peer}: {kind}")]
pub struct DecodeError {
    #[source]
    kind: DecodeErrorKind,
    peer: Side,
}

impl DecodeError {
    pub(crate) fn from_fault(fault: Fault, peer: Side) -> DecodeError {
        let kind = match fault {
            Fault::Malformed { what, offset } => DecodeErrorKind::Malformed { what, offset },
            Fault::Limit { limit, value, max } => {
                DecodeErrorKind::LimitExceeded { limit, value, max }
            }
        };
        DecodeError { kind, peer }
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The peer whose bytes were being decoded.
    pub fn peer(&self) -> Side {
        self.peer
    }

    /// The same error read from another peer: `Framed` builds I/O errors
    /// through `From<io::Error>`, which cannot know the socket, and blames
    /// the downstream; a proxy reading an upstream re-attributes them here.
    pub fn with_peer(mut self, peer: Side) -> DecodeError {
        self.peer = peer;
        self
    }
}

impl From<io::Error> for DecodeError {
    fn from(e: io::Error) -> Self {
        DecodeError {
            kind: DecodeErrorKind::Io(e),
            peer: Side::Downstream,
        }
    }
}

impl ErrorClass for DecodeError {
    fn side(&self) -> Side {
        match self.kind {
            DecodeErrorKind::LimitExceeded { .. } => Side::Internal,
            DecodeErrorKind::Malformed { .. } | DecodeErrorKind::Io(_) => self.peer,
        }
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// An encode failure: the frame would not survive the trip, so it is not
/// written at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A simple string, simple error, double or big number held CR or LF,
    /// which would end the line early and let the rest be read as another
    /// frame (response splitting). Use a bulk string for binary data.
    #[error("a RESP {frame} cannot hold CR or LF")]
    LineBreak {
        /// The frame type, as RESP3 names it.
        frame: &'static str,
    },
    /// Writing the transport failed (through `tokio_util`'s `Framed`).
    #[error("I/O error writing RESP")]
    Io(#[from] io::Error),
}

impl ErrorClass for EncodeError {
    fn side(&self) -> Side {
        match self {
            EncodeError::LineBreak { .. } => Side::Internal,
            EncodeError::Io(_) => Side::Downstream,
        }
    }

    fn retry_safe(&self) -> bool {
        matches!(self, EncodeError::LineBreak { .. })
    }
}
