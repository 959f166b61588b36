//! DATA frames (RFC 9113 §6.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId, flags, pad};

/// A DATA frame: a piece of a stream's body.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Data {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The body bytes, without padding: a slice of the read buffer.
    pub data: Bytes,
    /// The sender's last frame on this stream.
    pub end_stream: bool,
    /// The pad length, when the frame was (or is to be) padded. Kept
    /// because padding counts against flow control.
    pub padding: Option<u8>,
}

impl Data {
    /// An unpadded DATA frame that does not end the stream.
    pub fn new(stream_id: StreamId, data: Bytes) -> Data {
        Data {
            stream_id,
            data,
            end_stream: false,
            padding: None,
        }
    }

    /// The whole payload length, padding included: what flow control
    /// charges for this frame (RFC 9113 §6.9.1).
    pub fn flow_controlled_len(&self) -> usize {
        self.data.len() + pad::overhead(self.padding)
    }

    /// The header to send before the payload; with [`Data::payload_prefix`]
    /// and the data itself it lets a writer send the body without copying
    /// it (vectored writes).
    pub fn head(&self) -> Head {
        let mut f = 0;
        if self.end_stream {
            f |= flags::END_STREAM;
        }
        if self.padding.is_some() {
            f |= flags::PADDED;
        }
        Head {
            length: self.flow_controlled_len() as u32,
            kind: FrameType::DATA,
            flags: f,
            stream_id: self.stream_id,
        }
    }

    /// The pad length byte that precedes the data in a padded frame (empty
    /// when unpadded); the padding that follows is that many zero bytes.
    pub fn payload_prefix(&self) -> &'static [u8] {
        const BYTES: [u8; 256] = {
            let mut b = [0u8; 256];
            let mut i = 0;
            while i < 256 {
                b[i] = i as u8;
                i += 1;
            }
            b
        };
        match self.padding {
            Some(p) => &BYTES[usize::from(p)..usize::from(p) + 1],
            None => &[],
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Data, FrameErrorKind> {
        if head.stream_id.is_connection() {
            return Err(FrameErrorKind::NeedsStream { kind: head.kind });
        }
        let (data, padding) = pad::strip(head, payload, 0)?;
        Ok(Data {
            stream_id: head.stream_id,
            data,
            end_stream: head.has(flags::END_STREAM),
            padding,
        })
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        pad::put_len(dst, self.padding);
        dst.put_slice(&self.data);
        pad::put_pad(dst, self.padding);
    }
}
