//! HEADERS frames (RFC 9113 §6.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, PrioritySpec, StreamId, flags, pad};

/// A HEADERS frame: opens a stream (or sends trailers) with the first
/// fragment of an HPACK field block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Headers {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The field block fragment, without padding and priority: a slice of
    /// the read buffer, to be joined with any CONTINUATION fragments and
    /// handed to the HPACK decoder.
    pub block: Bytes,
    /// The sender's last frame on this stream.
    pub end_stream: bool,
    /// The field block is complete (no CONTINUATION follows).
    pub end_headers: bool,
    /// The deprecated priority block, if the PRIORITY flag was set.
    pub priority: Option<PrioritySpec>,
    /// The pad length, if padded.
    pub padding: Option<u8>,
}

impl Headers {
    /// A complete, unpadded field block without priority.
    pub fn new(stream_id: StreamId, block: Bytes) -> Headers {
        Headers {
            stream_id,
            block,
            end_stream: false,
            end_headers: true,
            priority: None,
            padding: None,
        }
    }

    /// Bytes of the payload besides the block: padding and priority.
    pub(super) fn overhead(&self) -> usize {
        pad::overhead(self.padding) + self.priority.map_or(0, |_| PrioritySpec::LEN)
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        let mut f = 0;
        if self.end_stream {
            f |= flags::END_STREAM;
        }
        if self.end_headers {
            f |= flags::END_HEADERS;
        }
        if self.padding.is_some() {
            f |= flags::PADDED;
        }
        if self.priority.is_some() {
            f |= flags::PRIORITY;
        }
        Head {
            length: (self.block.len() + self.overhead()) as u32,
            kind: FrameType::HEADERS,
            flags: f,
            stream_id: self.stream_id,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Headers, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        let has_priority = head.has(flags::PRIORITY);
        let fixed = if has_priority { PrioritySpec::LEN } else { 0 };
        let (mut block, padding) = pad::strip(head, payload, fixed)?;
        let priority = if has_priority {
            let spec = block.first_chunk::<5>().map(PrioritySpec::parse).ok_or(
                FrameErrorKind::BadLength {
                    kind: head.kind,
                    stream_id: head.stream_id,
                    length: head.length,
                    expected: "the priority block does not fit",
                },
            )?;
            bytes::Buf::advance(&mut block, PrioritySpec::LEN);
            spec.check(head.stream_id)?;
            Some(spec)
        } else {
            None
        };
        Ok(Headers {
            stream_id: head.stream_id,
            block,
            end_stream: head.has(flags::END_STREAM),
            end_headers: head.has(flags::END_HEADERS),
            priority,
            padding,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        pad::put_len(dst, self.padding);
        if let Some(p) = &self.priority {
            p.put(dst);
        }
        dst.put_slice(&self.block);
        pad::put_pad(dst, self.padding);
    }
}
