//! GOAWAY frames (RFC 9113 §6.8).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId};
use crate::h2::ErrorCode;

/// A GOAWAY frame: the sender stops accepting streams above
/// `last_stream_id`; streams at or below it may still complete.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GoAway {
    /// The highest peer-initiated stream the sender processed or might.
    pub last_stream_id: StreamId,
    /// Why the connection is closing.
    pub code: ErrorCode,
    /// Opaque diagnostic data (a slice of the read buffer).
    pub debug_data: Bytes,
}

impl GoAway {
    /// A GOAWAY without debug data.
    pub fn new(last_stream_id: StreamId, code: ErrorCode) -> GoAway {
        GoAway {
            last_stream_id,
            code,
            debug_data: Bytes::new(),
        }
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: (8 + self.debug_data.len()) as u32,
            kind: FrameType::GOAWAY,
            flags: 0,
            stream_id: StreamId::CONNECTION,
        }
    }

    pub(super) fn decode(head: &Head, mut payload: Bytes) -> Result<GoAway, FrameErrorKind> {
        if !head.stream_id.is_connection() {
            return Err(FrameErrorKind::NotOnConnection {
                kind: head.kind,
                stream_id: head.stream_id,
            });
        }
        let Some(b) = payload.first_chunk::<8>() else {
            return Err(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "GOAWAY needs at least 8 bytes",
            });
        };
        let last = StreamId::new(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let code = ErrorCode::from_u32(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
        bytes::Buf::advance(&mut payload, 8);
        Ok(GoAway {
            last_stream_id: last,
            code,
            debug_data: payload,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        dst.put_u32(self.last_stream_id.get());
        dst.put_u32(self.code.as_u32());
        dst.put_slice(&self.debug_data);
    }
}
