//! CONTINUATION frames (RFC 9113 §6.10).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId, flags};

/// A CONTINUATION frame: the next fragment of a field block begun by
/// HEADERS or PUSH_PROMISE on the same stream.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Continuation {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The field block fragment.
    pub block: Bytes,
    /// The field block is complete.
    pub end_headers: bool,
}

impl Continuation {
    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: self.block.len() as u32,
            kind: FrameType::CONTINUATION,
            flags: if self.end_headers {
                flags::END_HEADERS
            } else {
                0
            },
            stream_id: self.stream_id,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Continuation, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        Ok(Continuation {
            stream_id: head.stream_id,
            block: payload,
            end_headers: head.has(flags::END_HEADERS),
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        dst.put_slice(&self.block);
    }
}
