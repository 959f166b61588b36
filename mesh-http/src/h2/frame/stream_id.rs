//! Stream identifiers (RFC 9113 §5.1.1).

use std::fmt;

/// A 31-bit stream identifier; 0 names the connection itself.
///
/// The reserved high bit of the wire field is dropped on the way in (the
/// RFC says it must be ignored) and never set on the way out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: frames that concern the whole connection.
    pub const CONNECTION: StreamId = StreamId(0);
    /// The largest stream id (2^31 - 1).
    pub const MAX: StreamId = StreamId(u32::MAX >> 1);

    /// The stream with this id; the reserved high bit is cleared, as a
    /// receiver must do with the wire field.
    pub const fn new(id: u32) -> StreamId {
        StreamId(id & Self::MAX.0)
    }

    /// The numeric id.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is stream 0 (the connection).
    pub const fn is_connection(self) -> bool {
        self.0 == 0
    }

    /// Whether a client opened the stream (odd ids); servers use even ids
    /// for pushed streams.
    pub const fn is_client_initiated(self) -> bool {
        self.0 & 1 == 1
    }
}

impl From<u32> for StreamId {
    fn from(id: u32) -> Self {
        StreamId::new(id)
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}
