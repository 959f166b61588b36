//! PUSH_PROMISE frames (RFC 9113 §6.6).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId, flags, pad};

/// A PUSH_PROMISE frame: a server reserves a stream for a pushed response
/// and sends the request's field block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PushPromise {
    /// The stream the promise is associated with (never 0).
    pub stream_id: StreamId,
    /// The stream the server reserves.
    pub promised_id: StreamId,
    /// The field block fragment, without padding.
    pub block: Bytes,
    /// The field block is complete (no CONTINUATION follows).
    pub end_headers: bool,
    /// The pad length, if padded.
    pub padding: Option<u8>,
}

impl PushPromise {
    /// Bytes of the payload besides the block.
    pub(super) fn overhead(&self) -> usize {
        pad::overhead(self.padding) + 4
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        let mut f = 0;
        if self.end_headers {
            f |= flags::END_HEADERS;
        }
        if self.padding.is_some() {
            f |= flags::PADDED;
        }
        Head {
            length: (self.block.len() + self.overhead()) as u32,
            kind: FrameType::PUSH_PROMISE,
            flags: f,
            stream_id: self.stream_id,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<PushPromise, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        let (mut block, padding) = pad::strip(head, payload, 4)?;
        let promised = block
            .first_chunk::<4>()
            .map(|b| StreamId::new(u32::from_be_bytes(*b)))
            .ok_or(FrameErrorKind::BadLength {
                kind: head.kind,
                stream_id: head.stream_id,
                length: head.length,
                expected: "the promised stream id does not fit",
            })?;
        bytes::Buf::advance(&mut block, 4);
        Ok(PushPromise {
            stream_id: head.stream_id,
            promised_id: promised,
            block,
            end_headers: head.has(flags::END_HEADERS),
            padding,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        pad::put_len(dst, self.padding);
        dst.put_u32(self.promised_id.get());
        dst.put_slice(&self.block);
        pad::put_pad(dst, self.padding);
    }
}
