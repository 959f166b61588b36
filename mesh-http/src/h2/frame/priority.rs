//! PRIORITY frames and the priority block of HEADERS (RFC 9113 §5.3.2,
//! §6.3). RFC 9113 deprecates this scheme; the frames are still parsed
//! (and their errors detected) so that a proxy can pass them on or drop
//! them knowingly.

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId};

/// A stream dependency and weight.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PrioritySpec {
    /// The stream this one depends on.
    pub dependency: StreamId,
    /// Whether the dependency is exclusive.
    pub exclusive: bool,
    /// The weight as sent on the wire (the weight minus one, 0..=255).
    pub weight: u8,
}

impl PrioritySpec {
    /// The size of the block on the wire.
    pub const LEN: usize = 5;

    /// Reads the block from the first 5 bytes of `b` (the caller checked
    /// the length).
    pub(super) fn parse(b: &[u8; 5]) -> PrioritySpec {
        let dep = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        PrioritySpec {
            dependency: StreamId::new(dep),
            exclusive: dep >> 31 == 1,
            weight: b[4],
        }
    }

    /// Checks that `stream_id` does not depend on itself.
    pub(super) fn check(&self, stream_id: StreamId) -> Result<(), FrameErrorKind> {
        if self.dependency == stream_id {
            return Err(FrameErrorKind::SelfDependency { stream_id });
        }
        Ok(())
    }

    pub(super) fn put(&self, dst: &mut BytesMut) {
        let mut dep = self.dependency.get();
        if self.exclusive {
            dep |= 1 << 31;
        }
        dst.put_u32(dep);
        dst.put_u8(self.weight);
    }
}

/// A PRIORITY frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Priority {
    /// The stream whose priority changes (never 0).
    pub stream_id: StreamId,
    /// The new dependency and weight.
    pub spec: PrioritySpec,
}

impl Priority {
    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Priority, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        let Ok(b) = <&[u8; 5]>::try_from(&payload[..]) else {
            return Err(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "PRIORITY must be 5 bytes",
            });
        };
        let spec = PrioritySpec::parse(b);
        spec.check(head.stream_id)?;
        Ok(Priority {
            stream_id: head.stream_id,
            spec,
        })
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: PrioritySpec::LEN as u32,
            kind: FrameType::PRIORITY,
            flags: 0,
            stream_id: self.stream_id,
        }
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        self.spec.put(dst);
    }
}
