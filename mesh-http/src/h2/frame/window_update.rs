//! WINDOW_UPDATE frames (RFC 9113 §6.9).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId};

/// A WINDOW_UPDATE frame: the sender can take `increment` more bytes of
/// DATA on the stream (or on the connection, for stream 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection window.
    pub stream_id: StreamId,
    /// The increment, 1..=2^31-1.
    pub increment: u32,
}

impl WindowUpdate {
    /// The largest increment (and window) there is.
    pub const MAX_INCREMENT: u32 = (1 << 31) - 1;

    /// An update of `increment` for `stream_id`.
    pub fn new(stream_id: StreamId, increment: u32) -> WindowUpdate {
        WindowUpdate {
            stream_id,
            increment,
        }
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: 4,
            kind: FrameType::WINDOW_UPDATE,
            flags: 0,
            stream_id: self.stream_id,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<WindowUpdate, FrameErrorKind> {
        let Ok(b) = <[u8; 4]>::try_from(&payload[..]) else {
            return Err(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "WINDOW_UPDATE must be 4 bytes",
            });
        };
        let increment = u32::from_be_bytes(b) & Self::MAX_INCREMENT;
        if increment == 0 {
            return Err(FrameErrorKind::ZeroIncrement {
                stream_id: head.stream_id,
            });
        }
        Ok(WindowUpdate {
            stream_id: head.stream_id,
            increment,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        dst.put_u32(self.increment & Self::MAX_INCREMENT);
    }
}
