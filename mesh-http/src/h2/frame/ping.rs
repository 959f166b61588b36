//! PING frames (RFC 9113 §6.7).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId, flags};

/// A PING frame: 8 opaque bytes that the peer echoes with ACK set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ping {
    /// This is the answer to a PING.
    pub ack: bool,
    /// The opaque data.
    pub payload: [u8; 8],
}

impl Ping {
    /// A PING to send.
    pub fn new(payload: [u8; 8]) -> Ping {
        Ping {
            ack: false,
            payload,
        }
    }

    /// The answer to this PING.
    pub fn to_ack(self) -> Ping {
        Ping {
            ack: true,
            payload: self.payload,
        }
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: 8,
            kind: FrameType::PING,
            flags: if self.ack { flags::ACK } else { 0 },
            stream_id: StreamId::CONNECTION,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Ping, FrameErrorKind> {
        if !head.stream_id.is_connection() {
            return Err(FrameErrorKind::NotOnConnection {
                kind: head.kind,
                stream_id: head.stream_id,
            });
        }
        let Ok(payload) = <[u8; 8]>::try_from(&payload[..]) else {
            return Err(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "PING must be 8 bytes",
            });
        };
        Ok(Ping {
            ack: head.has(flags::ACK),
            payload,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        dst.put_slice(&self.payload);
    }
}
