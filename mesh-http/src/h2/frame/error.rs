//! Frame-level errors and the RFC 9113 error code each one maps to.

use std::fmt;
use std::io;

use mesh_core::{ErrorClass, Side};

use super::{FrameType, StreamId};
use crate::h2::ErrorCode;

/// Why a frame could not be read or written.
///
/// Every kind maps to the RFC 9113 error code the endpoint must send
/// ([`FrameError::code`]) and says whether only one stream is broken
/// ([`FrameError::stream_error`]) or the whole connection.
#[derive(Debug)]
pub struct FrameError {
    side: Side,
    kind: FrameErrorKind,
}

/// What exactly was wrong; each variant names the frame and the values.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrameErrorKind {
    /// The payload is longer than the maximum frame size we advertised.
    TooLarge {
        /// The frame type.
        kind: FrameType,
        /// The frame's stream.
        stream_id: StreamId,
        /// The payload length in the header.
        length: u32,
        /// Our SETTINGS_MAX_FRAME_SIZE.
        max: u32,
    },
    /// The payload length is wrong for the frame type (FRAME_SIZE_ERROR).
    BadLength {
        /// The frame type.
        kind: FrameType,
        /// The frame's stream.
        stream_id: StreamId,
        /// The payload length.
        length: u32,
        /// What the type requires.
        expected: &'static str,
    },
    /// A stream frame arrived on stream 0.
    NeedsStream {
        /// The frame type.
        kind: FrameType,
    },
    /// A connection frame arrived on a stream other than 0.
    NotOnConnection {
        /// The frame type.
        kind: FrameType,
        /// The stream it named.
        stream_id: StreamId,
    },
    /// The pad length does not fit in the payload.
    Padding {
        /// The frame type.
        kind: FrameType,
        /// The frame's stream.
        stream_id: StreamId,
        /// The pad length byte.
        pad_len: u8,
        /// The payload length.
        length: u32,
    },
    /// A PRIORITY or HEADERS frame makes a stream depend on itself.
    SelfDependency {
        /// The stream.
        stream_id: StreamId,
    },
    /// A WINDOW_UPDATE with an increment of 0.
    ZeroIncrement {
        /// The stream (0 for the connection window).
        stream_id: StreamId,
    },
    /// A SETTINGS parameter with a value the RFC forbids.
    InvalidSetting {
        /// The parameter id.
        id: u16,
        /// The value received.
        value: u32,
    },
    /// The connection did not start with the client preface.
    BadPreface,
    /// We were asked to send a frame the peer's limits or the RFC forbid.
    InvalidSend {
        /// The frame type.
        kind: FrameType,
        /// The frame's stream.
        stream_id: StreamId,
        /// Why it cannot be sent.
        reason: &'static str,
    },
    /// We were asked to send a payload above the peer's maximum frame size.
    SendTooLarge {
        /// The frame type.
        kind: FrameType,
        /// The frame's stream.
        stream_id: StreamId,
        /// The payload length.
        length: usize,
        /// The peer's SETTINGS_MAX_FRAME_SIZE.
        max: u32,
    },
    /// Reading or writing the transport failed.
    Io(io::Error),
}

impl FrameError {
    /// An error of `kind`, attributed to `side`.
    pub fn new(side: Side, kind: FrameErrorKind) -> Self {
        FrameError { side, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &FrameErrorKind {
        &self.kind
    }

    /// The RFC 9113 error code to send in RST_STREAM or GOAWAY.
    pub fn code(&self) -> ErrorCode {
        use FrameErrorKind as K;
        match &self.kind {
            K::TooLarge { .. } | K::BadLength { .. } => ErrorCode::FRAME_SIZE_ERROR,
            K::InvalidSetting { id, .. } if *id == super::settings::id::INITIAL_WINDOW_SIZE => {
                ErrorCode::FLOW_CONTROL_ERROR
            }
            K::NeedsStream { .. }
            | K::NotOnConnection { .. }
            | K::Padding { .. }
            | K::SelfDependency { .. }
            | K::ZeroIncrement { .. }
            | K::InvalidSetting { .. }
            | K::BadPreface => ErrorCode::PROTOCOL_ERROR,
            K::InvalidSend { .. } | K::SendTooLarge { .. } | K::Io(_) => ErrorCode::INTERNAL_ERROR,
        }
    }

    /// `Some(stream)` when the RFC lets the endpoint reset only that stream
    /// (RST_STREAM with [`code`](Self::code)) and keep the connection;
    /// `None` for a connection error (GOAWAY).
    ///
    /// Stream errors are: an oversized or malformed frame that cannot
    /// change connection state (DATA, PRIORITY, an extension frame) on a
    /// stream, a stream that depends on itself, and a zero WINDOW_UPDATE
    /// increment on a stream. After a stream error the codec has consumed
    /// (or will skip) the frame, and decoding may go on.
    pub fn stream_error(&self) -> Option<StreamId> {
        use FrameErrorKind as K;
        match &self.kind {
            K::TooLarge {
                kind, stream_id, ..
            }
            | K::BadLength {
                kind, stream_id, ..
            } if !stream_id.is_connection() && stream_scoped(*kind) => Some(*stream_id),
            K::SelfDependency { stream_id } => Some(*stream_id),
            K::ZeroIncrement { stream_id } if !stream_id.is_connection() => Some(*stream_id),
            _ => None,
        }
    }
}

/// Frame types whose errors on a stream do not touch connection state:
/// DATA, PRIORITY and extension frames (RFC 9113 §4.2).
pub(super) const fn stream_scoped(kind: FrameType) -> bool {
    matches!(kind.as_u8(), 0x0 | 0x2) || !kind.is_known()
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FrameErrorKind as K;
        match self {
            K::TooLarge {
                kind,
                stream_id,
                length,
                max,
            } => write!(
                f,
                "{kind} frame of {length} bytes on stream {stream_id} exceeds the maximum frame size {max}"
            ),
            K::BadLength {
                kind,
                stream_id,
                length,
                expected,
            } => write!(
                f,
                "{kind} frame on stream {stream_id} has a payload of {length} bytes; {expected}"
            ),
            K::NeedsStream { kind } => write!(f, "{kind} frame on stream 0 must name a stream"),
            K::NotOnConnection { kind, stream_id } => {
                write!(
                    f,
                    "{kind} frame must be on stream 0, not on stream {stream_id}"
                )
            }
            K::Padding {
                kind,
                stream_id,
                pad_len,
                length,
            } => write!(
                f,
                "{kind} frame on stream {stream_id}: {pad_len} bytes of padding do not fit in a payload of {length} bytes"
            ),
            K::SelfDependency { stream_id } => write!(f, "stream {stream_id} depends on itself"),
            K::ZeroIncrement { stream_id } => {
                write!(
                    f,
                    "WINDOW_UPDATE on stream {stream_id} with an increment of 0"
                )
            }
            K::InvalidSetting { id, value } => write!(
                f,
                "SETTINGS parameter {} (0x{id:x}) has an invalid value {value}",
                super::settings::id::name(*id).unwrap_or("unknown")
            ),
            K::BadPreface => {
                f.write_str("the connection did not start with the HTTP/2 client preface")
            }
            K::InvalidSend {
                kind,
                stream_id,
                reason,
            } => write!(f, "cannot send {kind} on stream {stream_id}: {reason}"),
            K::SendTooLarge {
                kind,
                stream_id,
                length,
                max,
            } => write!(
                f,
                "cannot send a {kind} payload of {length} bytes on stream {stream_id}: the peer's maximum frame size is {max}"
            ),
            K::Io(e) => write!(f, "frame I/O failed: {e}"),
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP/2 {}, {})", self.kind, self.code(), self.side)
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            FrameErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    /// Transport errors reach the codec through `tokio_util`'s `Framed`,
    /// which does not say whose socket failed: they are attributed to
    /// [`Side::Internal`] here and re-attributed by the connection that
    /// owns the socket.
    fn from(e: io::Error) -> Self {
        FrameError::new(Side::Internal, FrameErrorKind::Io(e))
    }
}

impl ErrorClass for FrameError {
    fn side(&self) -> Side {
        self.side
    }

    /// A malformed frame says nothing about whether an earlier request
    /// reached the application, so no frame error makes a retry safe.
    fn retry_safe(&self) -> bool {
        false
    }
}
