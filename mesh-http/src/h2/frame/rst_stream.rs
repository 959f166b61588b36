//! RST_STREAM frames (RFC 9113 §6.4).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId};
use crate::h2::ErrorCode;

/// An RST_STREAM frame: ends one stream at once, with an error code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RstStream {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// Why the stream ends.
    pub code: ErrorCode,
}

impl RstStream {
    /// A reset of `stream_id` with `code`.
    pub fn new(stream_id: StreamId, code: ErrorCode) -> RstStream {
        RstStream { stream_id, code }
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: 4,
            kind: FrameType::RST_STREAM,
            flags: 0,
            stream_id: self.stream_id,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<RstStream, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        let Ok(b) = <[u8; 4]>::try_from(&payload[..]) else {
            return Err(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "RST_STREAM must be 4 bytes",
            });
        };
        Ok(RstStream {
            stream_id: head.stream_id,
            code: ErrorCode::from_u32(u32::from_be_bytes(b)),
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        dst.put_u32(self.code.as_u32());
    }
}
