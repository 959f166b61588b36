//! What can be wrong with an HTTP/1 message, and the status a proxy answers
//! with.
//!
//! Every fault is its own [`ErrorKind`] variant carrying where it was found
//! (the byte offset in the head or chunk line) or the values involved, so a
//! log line says exactly what the peer sent. The request-smuggling defences
//! of RFC 9112 §6.1–6.3 and §11.2 are separate variants
//! ([`ErrorKind::is_smuggling`] tells them apart), so they can be counted.
//!
//! An [`Error`] is a kind plus which message it was found in: a fault in a
//! request is the client's ([`Side::Downstream`]) and is answered with the
//! kind's 4xx/5xx status; a fault in a response is the upstream's
//! ([`Side::Upstream`]) and a proxy answers its client with 502.

use mesh_core::{ErrorClass, Side};

/// One thing that is wrong with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- start line -------------------------------------------------
    /// The method is empty or has a byte that is not a `tchar`.
    #[error("invalid method byte at offset {offset}")]
    InvalidMethod {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The request-target is empty or has a byte outside `%x21-7E`.
    #[error("invalid request-target byte at offset {offset}")]
    InvalidTarget {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The request-target's form does not fit the method (RFC 9112 §3.2):
    /// CONNECT takes only authority-form, `*` only goes with OPTIONS, and
    /// other targets are origin-form (`/...`) or absolute-form (`scheme:`).
    #[error("request-target form does not fit the method")]
    TargetForm,
    /// The HTTP-version is malformed.
    #[error("invalid HTTP version at offset {offset}")]
    InvalidVersion {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// A well-formed HTTP-version other than 1.0 and 1.1.
    #[error("unsupported HTTP version {major}.{minor}")]
    UnsupportedVersion {
        /// The major version digit.
        major: u8,
        /// The minor version digit.
        minor: u8,
    },
    /// The status code is not three digits from 100 to 599.
    #[error("invalid status code at offset {offset}")]
    InvalidStatus {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The reason phrase has a control byte.
    #[error("invalid reason phrase byte at offset {offset}")]
    InvalidReason {
        /// Offset of the offending byte.
        offset: usize,
    },

    // ---- fields -----------------------------------------------------
    /// A field name is empty or has a byte that is not a `tchar`.
    #[error("invalid field name byte at offset {offset}")]
    InvalidHeaderName {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// Whitespace between a field name and its colon (RFC 9112 §5.1:
    /// must be rejected, it is a smuggling vector).
    #[error("whitespace between field name and colon at offset {offset}")]
    WhitespaceBeforeColon {
        /// Offset of the whitespace.
        offset: usize,
    },
    /// A line starts with whitespace: obsolete line folding, which a
    /// server must reject (RFC 9112 §5.2).
    #[error("obsolete line folding at offset {offset}")]
    ObsFold {
        /// Offset of the folded line.
        offset: usize,
    },
    /// A control byte other than HTAB in a field value.
    #[error("invalid field value byte {byte:#04x} at offset {offset}")]
    InvalidHeaderValue {
        /// Offset of the offending byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// NUL in a field value (RFC 9110 §5.5: dangerous, reject).
    #[error("NUL in field value at offset {offset}")]
    NulInValue {
        /// Offset of the NUL.
        offset: usize,
    },
    /// A CR not followed by LF.
    #[error("bare CR at offset {offset}")]
    BareCr {
        /// Offset of the CR.
        offset: usize,
    },
    /// A LF without CR, while [`Limits::allow_bare_lf`](super::Limits) is off.
    #[error("bare LF line ending at offset {offset}")]
    BareLf {
        /// Offset of the LF.
        offset: usize,
    },

    // ---- limits -----------------------------------------------------
    /// The request line is longer than the limit (414).
    #[error("request line longer than {limit} bytes")]
    RequestLineTooLong {
        /// The limit.
        limit: usize,
    },
    /// The head is longer than the limit (431).
    #[error("head longer than {limit} bytes")]
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header (or trailer) fields than the limit (431).
    #[error("more than {limit} fields")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },

    // ---- framing (RFC 9112 §6) -------------------------------------------
    /// Transfer-Encoding and Content-Length in one message (§6.1, §6.3).
    #[error("Transfer-Encoding together with Content-Length")]
    TransferEncodingWithContentLength,
    /// Content-Length fields (or list members) with different values.
    #[error("Content-Length values differ: {first} and {second}")]
    ConflictingContentLength {
        /// The first value.
        first: u64,
        /// The first value that differs from it.
        second: u64,
    },
    /// Content-Length given more than once, even with one value.
    #[error("Content-Length {value} given more than once")]
    RepeatedContentLength {
        /// The value.
        value: u64,
    },
    /// A Content-Length that is not a decimal number that fits in 64 bits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// A request whose Transfer-Encoding does not end in chunked (§6.3:
    /// its length cannot be determined).
    #[error("request Transfer-Encoding does not end in chunked")]
    TransferEncodingNotChunked,
    /// chunked applied more than once (§6.1).
    #[error("chunked applied more than once")]
    RepeatedChunked,
    /// Transfer-Encoding with a malformed list.
    #[error("malformed Transfer-Encoding")]
    InvalidTransferEncoding,
    /// A transfer coding this codec does not know (501).
    #[error("unknown transfer coding")]
    UnknownTransferCoding,
    /// Transfer-Encoding in an HTTP/1.0 message (§6.1: faulty framing).
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,

    // ---- chunked bodies (RFC 9112 §7.1) ----------------------------------
    /// A chunk size that is not hexadecimal or does not fit in 64 bits.
    #[error("invalid chunk size at offset {offset} of the chunk line")]
    InvalidChunkSize {
        /// Offset in the chunk-size line.
        offset: usize,
    },
    /// A chunk extension that does not follow the grammar.
    #[error("invalid chunk extension at offset {offset} of the chunk line")]
    InvalidChunkExtension {
        /// Offset in the chunk-size line.
        offset: usize,
    },
    /// A chunk-size line longer than the limit.
    #[error("chunk-size line longer than {limit} bytes")]
    ChunkLineTooLong {
        /// The limit.
        limit: usize,
    },
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    InvalidChunkTerminator,
    /// A trailer section longer than the limit.
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The connection ended in the middle of a head.
    #[error("connection closed in the middle of a head")]
    IncompleteHead,
    /// The connection ended before the body did.
    #[error("connection closed {remaining} body bytes early")]
    IncompleteBody {
        /// Bytes still expected (0 when the length is unknown, as in a
        /// chunked body).
        remaining: u64,
    },
}

impl ErrorKind {
    /// The status a server answers a request with this fault with.
    pub const fn status(&self) -> u16 {
        match self {
            ErrorKind::RequestLineTooLong { .. } => 414,
            ErrorKind::HeadTooLarge { .. } | ErrorKind::TooManyHeaders { .. } => 431,
            ErrorKind::UnsupportedVersion { .. } => 505,
            ErrorKind::UnknownTransferCoding => 501,
            _ => 400,
        }
    }

    /// Whether this is one of the request-smuggling defences (ambiguous
    /// framing or line endings that another parser could read otherwise).
    pub const fn is_smuggling(&self) -> bool {
        matches!(
            self,
            ErrorKind::WhitespaceBeforeColon { .. }
                | ErrorKind::ObsFold { .. }
                | ErrorKind::NulInValue { .. }
                | ErrorKind::BareCr { .. }
                | ErrorKind::BareLf { .. }
                | ErrorKind::TransferEncodingWithContentLength
                | ErrorKind::ConflictingContentLength { .. }
                | ErrorKind::RepeatedContentLength { .. }
                | ErrorKind::InvalidContentLength
                | ErrorKind::TransferEncodingNotChunked
                | ErrorKind::RepeatedChunked
                | ErrorKind::TransferEncodingInHttp10
                | ErrorKind::InvalidChunkSize { .. }
        )
    }
}

/// Which kind of message an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request: from the client.
    Request,
    /// A response: from the upstream.
    Response,
}

impl MessageKind {
    /// The side a fault in this kind of message is blamed on.
    pub const fn side(self) -> Side {
        match self {
            MessageKind::Request => Side::Downstream,
            MessageKind::Response => Side::Upstream,
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MessageKind::Request => "request",
            MessageKind::Response => "response",
        })
    }
}

/// A malformed or over-limit HTTP/1 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed HTTP/1 {message}: {kind}")]
pub struct Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Where it was found.
    pub message: MessageKind,
}

impl Error {
    /// A fault in a request.
    pub const fn request(kind: ErrorKind) -> Self {
        Error {
            kind,
            message: MessageKind::Request,
        }
    }

    /// A fault in a response.
    pub const fn response(kind: ErrorKind) -> Self {
        Error {
            kind,
            message: MessageKind::Response,
        }
    }

    /// The status a proxy answers its client with: the kind's status for a
    /// bad request, 502 (Bad Gateway) for a bad response.
    pub const fn status(&self) -> u16 {
        match self.message {
            MessageKind::Request => self.kind.status(),
            MessageKind::Response => 502,
        }
    }
}

impl ErrorClass for Error {
    fn side(&self) -> Side {
        self.message.side()
    }

    /// A malformed request is not retried, and a malformed response means
    /// the request reached the upstream: never safe.
    fn retry_safe(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_sides() {
        let e = Error::request(ErrorKind::RequestLineTooLong { limit: 8192 });
        assert_eq!(e.status(), 414);
        assert_eq!(e.side(), Side::Downstream);
        assert!(!e.retry_safe());
        assert_eq!(
            Error::request(ErrorKind::TooManyHeaders { limit: 100 }).status(),
            431
        );
        assert_eq!(
            Error::request(ErrorKind::HeadTooLarge { limit: 1 }).status(),
            431
        );
        assert_eq!(
            Error::request(ErrorKind::UnsupportedVersion { major: 2, minor: 0 }).status(),
            505
        );
        assert_eq!(
            Error::request(ErrorKind::UnknownTransferCoding).status(),
            501
        );
        let e = Error::response(ErrorKind::BareLf { offset: 3 });
        assert_eq!(e.status(), 502);
        assert_eq!(e.side(), Side::Upstream);
        assert_eq!(
            e.to_string(),
            "malformed HTTP/1 response: bare LF line ending at offset 3"
        );
        assert!(ErrorKind::TransferEncodingWithContentLength.is_smuggling());
        assert!(!ErrorKind::InvalidMethod { offset: 0 }.is_smuggling());
    }
}
