//! Frames of types RFC 9113 does not define (extensions, §5.5).

use bytes::{BufMut, Bytes, BytesMut};

use super::Head;

/// A frame of an unknown type. The RFC says to ignore and discard it; it
/// is handed up rather than dropped inside the codec because it still
/// matters to the connection (one between HEADERS and CONTINUATION is a
/// PROTOCOL_ERROR) and because a proxy may forward extensions it knows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Unknown {
    /// The header as received.
    pub head: Head,
    /// The payload, uninterpreted.
    pub payload: Bytes,
}

impl Unknown {
    pub(super) fn encode(&self, dst: &mut BytesMut) {
        let mut head = self.head;
        head.length = self.payload.len() as u32;
        dst.put_slice(&head.to_bytes());
        dst.put_slice(&self.payload);
    }
}
