//! Why an HTTP/2 connection or stream failed, who is to blame, and whether
//! the request may be retried.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use mesh_core::{ErrorClass, Side};

use super::ErrorCode;

/// An HTTP/2 connection or stream error.
///
/// Cheap to clone (a connection's error is handed to every stream it
/// ends). `side` is who caused it: the peer ([`Side::Downstream`] on a
/// server connection, [`Side::Upstream`] on a client one), or
/// [`Side::Internal`] for our own misuse of the API.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol or a limit; we ended the stream
    /// (RST_STREAM) or the connection (GOAWAY) with `code`.
    #[error("the {side} broke HTTP/2 ({code}): {reason}")]
    Protocol {
        /// The peer.
        side: Side,
        /// The code we sent.
        code: ErrorCode,
        /// What exactly was wrong, with the values involved.
        reason: Cow<'static, str>,
    },
    /// The peer reset the stream (RST_STREAM).
    #[error("the {side} reset the stream ({code})")]
    Reset {
        /// The peer.
        side: Side,
        /// Its code.
        code: ErrorCode,
    },
    /// The peer ended the connection with an error (GOAWAY with a code
    /// other than NO_ERROR), or it closed while this stream was open.
    #[error(
        "the {side} closed the connection with GOAWAY {code}{}",
        debug_text(debug)
    )]
    GoAway {
        /// The peer.
        side: Side,
        /// Its code.
        code: ErrorCode,
        /// The GOAWAY's debug data.
        debug: Bytes,
    },
    /// The peer did not process the stream: it refused it (REFUSED_STREAM),
    /// or its GOAWAY's last stream id is below it, or the connection closed
    /// before the stream was opened. The request may be retried as is.
    #[error("the {side} did not process the stream: {reason}")]
    Unprocessed {
        /// The peer.
        side: Side,
        /// Why.
        reason: &'static str,
    },
    /// A timer expired: SETTINGS acknowledgement, a flow-control window the
    /// peer kept closed.
    #[error("the {side} timed out: {what}")]
    Timeout {
        /// The peer.
        side: Side,
        /// What it did not do in time.
        what: &'static str,
    },
    /// Reading or writing the transport failed.
    #[error("{side} connection I/O: {source}")]
    Io {
        /// Whose connection.
        side: Side,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The connection closed (the peer closed it, or it ended after a
    /// graceful shutdown) while the stream still needed it.
    #[error("the {side} connection closed")]
    Closed {
        /// The peer.
        side: Side,
    },
    /// We were asked to do something HTTP/2 does not allow (an invalid
    /// head to send, a body longer than its content-length).
    #[error("invalid use of an HTTP/2 stream: {reason}")]
    Local {
        /// What was wrong.
        reason: Cow<'static, str>,
    },
}

fn debug_text(debug: &Bytes) -> String {
    if debug.is_empty() {
        String::new()
    } else {
        format!(": {}", String::from_utf8_lossy(debug))
    }
}

impl Error {
    /// A protocol error by `side` with `code`.
    pub(crate) fn protocol(
        side: Side,
        code: ErrorCode,
        reason: impl Into<Cow<'static, str>>,
    ) -> Error {
        Error::Protocol {
            side,
            code,
            reason: reason.into(),
        }
    }

    /// An I/O error on `side`'s connection.
    pub(crate) fn io(side: Side, e: io::Error) -> Error {
        Error::Io {
            side,
            source: Arc::new(e),
        }
    }

    /// Our own misuse.
    pub(crate) fn local(reason: impl Into<Cow<'static, str>>) -> Error {
        Error::Local {
            reason: reason.into(),
        }
    }

    /// The HTTP/2 error code that goes with the error, when one does: the
    /// code we sent, or the peer's.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Protocol { code, .. }
            | Error::Reset { code, .. }
            | Error::GoAway { code, .. } => Some(*code),
            Error::Unprocessed { .. } => Some(ErrorCode::REFUSED_STREAM),
            Error::Timeout { .. } => None,
            Error::Io { .. } | Error::Closed { .. } | Error::Local { .. } => None,
        }
    }
}

impl ErrorClass for Error {
    fn side(&self) -> Side {
        match self {
            Error::Protocol { side, .. }
            | Error::Reset { side, .. }
            | Error::GoAway { side, .. }
            | Error::Unprocessed { side, .. }
            | Error::Timeout { side, .. }
            | Error::Io { side, .. }
            | Error::Closed { side } => *side,
            Error::Local { .. } => Side::Internal,
        }
    }

    /// Safe only when the peer certainly did not process the stream:
    /// REFUSED_STREAM, a stream above the peer's GOAWAY, or a connection
    /// that closed before the stream was opened (RFC 9113 §8.7).
    fn retry_safe(&self) -> bool {
        match self {
            Error::Unprocessed { .. } => true,
            Error::Reset { code, .. } => *code == ErrorCode::REFUSED_STREAM,
            _ => false,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io { source, .. } => io::Error::new(source.kind(), source),
            other => io::Error::other(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_codes() {
        let e = Error::protocol(Side::Downstream, ErrorCode::FLOW_CONTROL_ERROR, "window");
        assert_eq!(e.side(), Side::Downstream);
        assert_eq!(e.code(), Some(ErrorCode::FLOW_CONTROL_ERROR));
        assert!(!e.retry_safe());
        assert!(
            Error::Reset {
                side: Side::Upstream,
                code: ErrorCode::REFUSED_STREAM
            }
            .retry_safe()
        );
        assert!(
            Error::Unprocessed {
                side: Side::Upstream,
                reason: "above GOAWAY"
            }
            .retry_safe()
        );
        let g = Error::GoAway {
            side: Side::Upstream,
            code: ErrorCode::ENHANCE_YOUR_CALM,
            debug: Bytes::from_static(b"too many resets"),
        };
        assert_eq!(
            g.to_string(),
            "the upstream closed the connection with GOAWAY ENHANCE_YOUR_CALM: too many resets"
        );
        assert_eq!(Error::local("x").side(), Side::Internal);
    }
}
