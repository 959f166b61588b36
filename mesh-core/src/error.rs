//! The error convention shared by every meshkit crate.
//!
//! A proxy must decide two things about any failure: whom to blame (which
//! response flag, which metric, whether to eject an endpoint) and whether it
//! may try again. So every error type of the workspace is a `thiserror`
//! enum or struct that implements [`ErrorClass`]:
//!
//! - [`ErrorClass::side`]: [`Side::Downstream`] when the client sent
//!   something wrong or went away, [`Side::Upstream`] when the endpoint
//!   failed, [`Side::Internal`] for the proxy's own limits and bugs.
//! - [`ErrorClass::retry_safe`]: `true` only when the request provably did
//!   not reach the upstream application (a refused connection, a stream the
//!   peer refused with REFUSED_STREAM, a GOAWAY below the stream id). A
//!   retry policy may still decide not to retry; it must never retry when
//!   this is `false` unless the request is idempotent and replayable.
//!
//! Errors carry the context a log line needs (the address, the limit and
//! the value that exceeded it, the field that was malformed) in their
//! fields and `Display`, and keep the underlying error as `source()`.

/// Which party a failure is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client: malformed input, a reset, a timeout waiting for it.
    Downstream,
    /// The upstream endpoint: refused, reset, malformed response, timeout.
    Upstream,
    /// This proxy: a limit of its own, a configuration gap, a bug.
    Internal,
}

impl Side {
    /// A lower-case name for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Downstream => "downstream",
            Side::Upstream => "upstream",
            Side::Internal => "internal",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every error type of the workspace; see the
/// [module docs](self).
pub trait ErrorClass: std::error::Error {
    /// Which party the failure is attributed to.
    fn side(&self) -> Side;

    /// Whether the request certainly did not reach the upstream application,
    /// so sending it again cannot apply it twice.
    fn retry_safe(&self) -> bool;
}
