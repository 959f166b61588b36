//! gRPC over HTTP/2: what a proxy must understand to keep gRPC's
//! semantics exactly.
//!
//! gRPC is HTTP/2 with conventions: a request is a stream whose
//! `content-type` starts with `application/grpc` ([`is_grpc`]), its body is
//! a sequence of length-prefixed messages, and the outcome travels in
//! `grpc-status` / `grpc-message` fields of the trailers (or of the only
//! HEADERS frame, a *trailers-only* response). The pieces:
//!
//! - [`message`]: the 5-byte message prefix (compressed flag, big-endian
//!   length), a `tokio_util` codec that splits messages out of the read
//!   buffer as `Bytes` without copying, and gzip ([`Encoding`]) with the
//!   decompressed size bounded by the same limit as the wire size.
//! - [`status`]: the 17 [`Code`]s by number and by the names Istio writes
//!   (`UNAVAILABLE`), [`Status`] with `grpc-message` percent-encoding both
//!   ways and `grpc-status-details-bin` kept verbatim, and
//!   [`ResponseStatus::read`]: the status of a response from its trailers,
//!   else its headers, else its HTTP status.
//! - [`timeout`]: `grpc-timeout` parsed and written, and the [`Deadline`]
//!   a proxy keeps so it forwards the *remaining* time, not the original.
//! - [`reply`]: the trailers-only [`LocalReply`] a proxy sends when it
//!   answers itself (no upstream, overflow, deadline, no route, denied).
//! - [`retry`]: which gRPC statuses a [`RetryPolicy`] retries; the mapping
//!   from Envoy's `retry_on` names lives in one place,
//!   [`mesh_resilience::retry::RetryOn`], and this module only reads the
//!   status and the server's pushback out of a response for it.
//!
//! Over the [`h2`](crate::h2) connections:
//!
//! - [`stream`]: messages read out of a streaming body ([`Streaming`],
//!   zero-copy when a message lies in one DATA frame) and written into one
//!   ([`MessageSink`], ending with trailers), with transport failures
//!   mapped to gRPC statuses ([`status_of_h2_error`]).
//! - [`client`]: a small client ([`client::Client`]) for unary and
//!   streaming calls that reads the status from trailers, headers or the
//!   HTTP status and enforces the call's deadline.
//! - [`server`]: [`server::ServerCall`] takes a request apart (or refuses
//!   it as gRPC prescribes) and starts the response;
//!   [`LocalReply::response`] is a trailers-only answer.
//! - [`proxy`]: [`proxy::forward`] moves a call to an upstream with the
//!   remaining deadline rewritten in `grpc-timeout`, and bounds the
//!   exchange by it.
//!
//! Header fields are the HTTP/2 layer's [`Field`]s, so everything here
//! plugs into HEADERS frames decoded by [`crate::h2::hpack`].
//!
//! # Example
//!
//! A proxy reads a request's deadline, forwards what is left of it, and
//! frames the messages it sees:
//!
//! ```
//! use std::time::Duration;
//! use bytes::{Bytes, BytesMut};
//! use mesh_core::Side;
//! use mesh_http::grpc::{self, Deadline, Encoding, Limits, MessageCodec};
//! use mesh_http::h2::hpack::Field;
//! use mesh_resilience::clock::ManualClock;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let request = [
//!     Field::new("content-type", "application/grpc+proto"),
//!     Field::new("grpc-timeout", "2S"),
//!     Field::new("grpc-encoding", "gzip"),
//! ];
//! assert!(grpc::is_grpc_request(&request));
//!
//! // The deadline starts when the request arrives...
//! let clock = ManualClock::new();
//! let deadline = Deadline::from_fields(clock.clone(), &request).unwrap();
//! clock.advance(Duration::from_millis(500));
//! // ...and the upstream is given what is left.
//! let mut upstream = request.to_vec();
//! deadline.forward(&mut upstream);
//! assert_eq!(upstream[1].value, "1500000u");
//!
//! // Messages, gzip-compressed as the request's grpc-encoding says.
//! let encoding = Encoding::from_fields(&request)?;
//! let mut sender = MessageCodec::new(Side::Upstream, Limits::default()).send_encoding(encoding);
//! let mut wire = BytesMut::new();
//! sender.encode(Bytes::from_static(b"hello"), &mut wire)?;
//! let mut receiver = MessageCodec::new(Side::Downstream, Limits::default()).recv_encoding(encoding);
//! assert_eq!(receiver.decode(&mut wire)?.unwrap(), "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Field`]: crate::h2::hpack::Field
//! [`RetryPolicy`]: mesh_resilience::retry::RetryPolicy

pub mod client;
pub mod compression;
pub mod fields;
pub mod message;
pub mod proxy;
pub mod reply;
pub mod retry;
pub mod server;
pub mod status;
pub mod stream;
pub mod timeout;

pub use compression::{Encoding, UnsupportedEncoding};
pub use fields::{Fields, FieldsMut};
pub use message::{Limits, Message, MessageCodec, MessageError, MessageErrorKind};
pub use reply::LocalReply;
pub use status::{Code, ResponseStatus, Status, StatusSource};
pub use stream::{MessageSink, Streaming, status_of_body_error, status_of_h2_error};
pub use timeout::{Deadline, TimeoutValue};

/// `content-type` of gRPC; `application/grpc+proto`, `application/grpc+json`
/// and parameters after `;` are gRPC too ([`is_grpc`]).
pub const CONTENT_TYPE: &str = "application/grpc";
/// The status code field, in trailers or a trailers-only response.
pub const GRPC_STATUS: &str = "grpc-status";
/// The percent-encoded status message.
pub const GRPC_MESSAGE: &str = "grpc-message";
/// Rich error details (a base64 `google.rpc.Status`), passed through as is.
pub const GRPC_STATUS_DETAILS_BIN: &str = "grpc-status-details-bin";
/// The request's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";
/// The compression of the messages of one direction of a stream.
pub const GRPC_ENCODING: &str = "grpc-encoding";
/// The compressions the sender accepts.
pub const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";
/// How long a server asks a client to wait before retrying (gRFC A6).
pub const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";

/// Whether a `content-type` value is gRPC's: `application/grpc` exactly,
/// or followed by `+` (a sub-type such as `+proto`) or `;` (parameters).
/// ASCII case-insensitive, as media types are. gRPC-Web is not gRPC here.
///
/// gRPC is recognised per stream by this field, never per connection: one
/// HTTP/2 connection may carry gRPC and plain requests side by side. The
/// HTTP/2 layer decides it ([`crate::h2::classify_content_type`]); this is
/// its answer for plain gRPC.
pub fn is_grpc(content_type: &[u8]) -> bool {
    crate::h2::classify_content_type(content_type) == crate::h2::StreamClass::Grpc
}

/// Whether a request (or response) head says gRPC by its `content-type`.
pub fn is_grpc_request(fields: &(impl Fields + ?Sized)) -> bool {
    fields.field("content-type").is_some_and(|v| is_grpc(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::hpack::Field;

    #[test]
    fn content_types() {
        for yes in [
            &b"application/grpc"[..],
            b"application/grpc+proto",
            b"application/grpc+json",
            b"application/grpc;charset=utf-8",
            b"Application/GRPC",
        ] {
            assert!(is_grpc(yes), "{:?}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b""[..],
            b"application/grp",
            b"application/grpc-web",
            b"application/grpcx",
            b"application/json",
            b"text/grpc",
        ] {
            assert!(!is_grpc(no), "{:?}", String::from_utf8_lossy(no));
        }
        assert!(is_grpc_request(&[
            Field::new(":method", "POST"),
            Field::new("content-type", "application/grpc")
        ]));
        assert!(!is_grpc_request(&[Field::new(":method", "POST")]));
        let mut map = crate::h1::HeaderMap::new();
        map.append("Content-Type", "application/grpc+proto")
            .unwrap();
        assert!(is_grpc_request(&map));
    }
}
