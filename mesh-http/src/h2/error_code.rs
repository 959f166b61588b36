//! RFC 9113 §7 error codes, as carried by RST_STREAM and GOAWAY and as the
//! verdict of every frame-level and HPACK error.

use std::fmt;

/// An HTTP/2 error code (RFC 9113 §7).
///
/// A newtype rather than an enum: the RFC says unknown codes must not
/// trigger special behaviour but must survive (a proxy logs them and may
/// pass them on), so any `u32` is representable and the known ones are
/// associated constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(u32);

impl ErrorCode {
    /// Graceful shutdown, or a stream closed without an error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// The peer broke the protocol; no more specific code applies.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error of the endpoint.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer broke flow control.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// SETTINGS were not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived for a stream that was already half-closed.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any application processing, so a
    /// retry is safe.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The HPACK state of the connection cannot be kept in sync.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// The CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer generates excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// The transport's security properties are not enough.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// The request must be sent over HTTP/1.1.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The code with this wire value (known or not).
    pub const fn from_u32(code: u32) -> ErrorCode {
        ErrorCode(code)
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// The RFC's name for a known code, `None` for others.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        ErrorCode(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_ERROR(0x{:x})", self.0),
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknown_codes() {
        assert_eq!(ErrorCode::FRAME_SIZE_ERROR.to_string(), "FRAME_SIZE_ERROR");
        assert_eq!(ErrorCode::from_u32(0xd), ErrorCode::HTTP_1_1_REQUIRED);
        assert_eq!(ErrorCode::from(0x1234).to_string(), "UNKNOWN_ERROR(0x1234)");
        assert_eq!(u32::from(ErrorCode::CANCEL), 8);
        for code in 0..=0xd {
            assert!(ErrorCode::from_u32(code).name().is_some());
        }
        assert_eq!(ErrorCode::from_u32(0xe).name(), None);
    }
}
