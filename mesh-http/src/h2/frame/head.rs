//! The 9-byte frame header (RFC 9113 §4.1), its frame types and flags.

use std::fmt;

use super::StreamId;

/// An HTTP/2 frame type (RFC 9113 §6).
///
/// A newtype over the wire byte: unknown types are legal (extensions) and
/// must be ignored, so they are carried, not rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameType(u8);

impl FrameType {
    /// DATA (§6.1).
    pub const DATA: FrameType = FrameType(0x0);
    /// HEADERS (§6.2).
    pub const HEADERS: FrameType = FrameType(0x1);
    /// PRIORITY (§6.3, deprecated but still parsed).
    pub const PRIORITY: FrameType = FrameType(0x2);
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: FrameType = FrameType(0x3);
    /// SETTINGS (§6.5).
    pub const SETTINGS: FrameType = FrameType(0x4);
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: FrameType = FrameType(0x5);
    /// PING (§6.7).
    pub const PING: FrameType = FrameType(0x6);
    /// GOAWAY (§6.8).
    pub const GOAWAY: FrameType = FrameType(0x7);
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: FrameType = FrameType(0x8);
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: FrameType = FrameType(0x9);

    /// The type with this wire value (known or not).
    pub const fn from_u8(t: u8) -> FrameType {
        FrameType(t)
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// Whether RFC 9113 defines this type (the rest are extensions).
    pub const fn is_known(self) -> bool {
        self.0 <= Self::CONTINUATION.0
    }

    /// Whether frames of this type carry a field block (HEADERS,
    /// PUSH_PROMISE, CONTINUATION): an error in them always breaks the
    /// connection's HPACK state, so it is a connection error.
    pub const fn carries_field_block(self) -> bool {
        matches!(self.0, 0x1 | 0x5 | 0x9)
    }

    /// The RFC's name of a known type, `None` for extensions.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "DATA",
            0x1 => "HEADERS",
            0x2 => "PRIORITY",
            0x3 => "RST_STREAM",
            0x4 => "SETTINGS",
            0x5 => "PUSH_PROMISE",
            0x6 => "PING",
            0x7 => "GOAWAY",
            0x8 => "WINDOW_UPDATE",
            0x9 => "CONTINUATION",
            _ => return None,
        })
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN(0x{:02x})", self.0),
        }
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The frame flags RFC 9113 defines. Which ones apply depends on the frame
/// type; the others must be ignored on receipt and left unset on sending,
/// so the typed frames keep only the flags that mean something to them.
pub mod flags {
    /// DATA, HEADERS: the last frame the sender sends on this stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: this frame acknowledges the peer's.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte and padding follow.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a stream dependency and weight precede the field block.
    pub const PRIORITY: u8 = 0x20;
}

/// A parsed frame header: what a reader needs to know before the payload.
///
/// Parsing borrows nothing and allocates nothing; [`Head::parse`] works on
/// any byte slice, so a connection can peek at the next frame in its read
/// buffer before deciding to take it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Head {
    /// The payload length (24 bits on the wire).
    pub length: u32,
    /// The frame type.
    pub kind: FrameType,
    /// The raw flags byte, unknown bits included.
    pub flags: u8,
    /// The stream the frame belongs to (reserved bit cleared).
    pub stream_id: StreamId,
}

impl Head {
    /// The size of a frame header on the wire.
    pub const LEN: usize = 9;
    /// The largest payload length the 24-bit field can carry.
    pub const MAX_LENGTH: u32 = (1 << 24) - 1;

    /// Parses the header at the start of `buf`, or `None` if `buf` holds
    /// fewer than [`Head::LEN`] bytes (every 9 bytes are a valid header).
    #[inline]
    pub fn parse(buf: &[u8]) -> Option<Head> {
        let h: &[u8; Self::LEN] = buf.get(..Self::LEN)?.try_into().ok()?;
        Some(Head {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: FrameType(h[3]),
            flags: h[4],
            stream_id: StreamId::new(u32::from_be_bytes([h[5], h[6], h[7], h[8]])),
        })
    }

    /// The header's wire form. `length` is truncated to 24 bits; callers
    /// (the frame encoders) check it against the maximum frame size first.
    #[inline]
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let l = self.length.to_be_bytes();
        let s = self.stream_id.get().to_be_bytes();
        [
            l[1],
            l[2],
            l[3],
            self.kind.0,
            self.flags,
            s[0],
            s[1],
            s[2],
            s[3],
        ]
    }

    /// Whether `flag` is set in the raw flags.
    #[inline]
    pub const fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let wire = [0x00, 0x01, 0x02, 0x01, 0x25, 0x80, 0x00, 0x00, 0x03, 0xff];
        let head = Head::parse(&wire).unwrap();
        assert_eq!(head.length, 0x102);
        assert_eq!(head.kind, FrameType::HEADERS);
        assert_eq!(head.flags, 0x25);
        // The reserved bit is ignored.
        assert_eq!(head.stream_id, StreamId::new(3));
        assert!(head.has(flags::END_STREAM | flags::END_HEADERS));
        assert!(!head.has(flags::PADDED));
        let mut again = wire;
        again[5] = 0;
        assert_eq!(head.to_bytes(), again[..9]);
        for len in 0..9 {
            assert_eq!(Head::parse(&wire[..len]), None);
        }
    }

    #[test]
    fn type_names() {
        assert_eq!(FrameType::GOAWAY.to_string(), "GOAWAY");
        assert_eq!(FrameType::from_u8(0xfa).to_string(), "UNKNOWN(0xfa)");
        assert!(FrameType::CONTINUATION.carries_field_block());
        assert!(!FrameType::DATA.carries_field_block());
        assert!(!FrameType::from_u8(10).is_known());
    }
}
