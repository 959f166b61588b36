//! Local replies: the gRPC answers a proxy gives itself.
//!
//! When a proxy cannot or must not forward a gRPC request (no healthy
//! upstream, a limit reached, the deadline gone, no route, denied by
//! policy), the client still expects a gRPC response, not an HTTP error
//! page: HTTP status 200, `content-type: application/grpc`, and the status
//! in the same HEADERS frame, which ends the stream (a *trailers-only*
//! response). [`LocalReply`] builds exactly that, as header fields for the
//! connection layer or as a ready HEADERS frame.

use bytes::BytesMut;

use super::{CONTENT_TYPE, Code, Status};
use crate::h1::HeaderMap;
use crate::h2::frame::{Headers, StreamId};
use crate::h2::hpack::{Encoder, Field};

/// A trailers-only gRPC response carrying a status; see the
/// [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    /// The status sent.
    pub status: Status,
}

impl LocalReply {
    /// A reply with any status.
    pub fn new(status: Status) -> LocalReply {
        LocalReply { status }
    }

    fn with(code: Code, message: impl Into<String>) -> LocalReply {
        LocalReply::new(Status::new(code, message))
    }

    /// `UNAVAILABLE`: no healthy upstream, connect failure, circuit open.
    /// Retryable by default policies (`unavailable`).
    pub fn unavailable(message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::Unavailable, message)
    }

    /// `RESOURCE_EXHAUSTED`: a rate limit or a pool limit was reached, or
    /// a message exceeded the maximum size.
    pub fn resource_exhausted(message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::ResourceExhausted, message)
    }

    /// `DEADLINE_EXCEEDED`: the request's `grpc-timeout` (or the route's
    /// timeout) expired before an upstream answered.
    pub fn deadline_exceeded(message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::DeadlineExceeded, message)
    }

    /// `UNIMPLEMENTED`: no route for the method, or an unsupported
    /// `grpc-encoding`.
    pub fn unimplemented(message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::Unimplemented, message)
    }

    /// `PERMISSION_DENIED`: an authorization policy refused the call.
    pub fn permission_denied(message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::PermissionDenied, message)
    }

    /// The reply for a request a proxy would answer with HTTP status
    /// `http_status` if it were not gRPC (Envoy's rule for local replies):
    /// the code by gRPC's HTTP mapping ([`Code::from_http_status`]).
    pub fn from_http_status(http_status: u16, message: impl Into<String>) -> LocalReply {
        LocalReply::with(Code::from_http_status(http_status), message)
    }

    /// The response's fields: `:status: 200`, `content-type:
    /// application/grpc`, then the status ([`Status::write_fields`]).
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = vec![
            Field::new(":status", "200"),
            Field::new("content-type", CONTENT_TYPE),
        ];
        self.status.write_fields(&mut fields);
        fields
    }

    /// The regular fields of the response for a connection layer that
    /// keeps `:status` apart (as a number, 200): `content-type:
    /// application/grpc` and the status. Sent with an empty body, the
    /// response goes out as one HEADERS frame with END_STREAM.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4);
        let _ = headers.append("content-type", CONTENT_TYPE);
        self.status.write_fields(&mut headers);
        headers
    }

    /// The response as one HEADERS frame on `stream_id` with END_STREAM
    /// and END_HEADERS set, its block encoded with the connection's
    /// `encoder`. (The frame codec splits a block larger than the peer's
    /// frame size into CONTINUATION frames.)
    pub fn headers_frame(&self, stream_id: StreamId, encoder: &mut Encoder) -> Headers {
        let mut block = BytesMut::new();
        encoder.encode(&self.fields(), &mut block);
        Headers {
            end_stream: true,
            ..Headers::new(stream_id, block.freeze())
        }
    }
}

impl From<Status> for LocalReply {
    fn from(status: Status) -> LocalReply {
        LocalReply::new(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::{ResponseStatus, StatusSource};

    #[test]
    fn each_reply_is_trailers_only() {
        let replies = [
            (
                LocalReply::unavailable("no healthy upstream"),
                Code::Unavailable,
                "14",
            ),
            (
                LocalReply::resource_exhausted("overflow"),
                Code::ResourceExhausted,
                "8",
            ),
            (
                LocalReply::deadline_exceeded("deadline exceeded"),
                Code::DeadlineExceeded,
                "4",
            ),
            (
                LocalReply::unimplemented("no route"),
                Code::Unimplemented,
                "12",
            ),
            (
                LocalReply::permission_denied("RBAC: access denied"),
                Code::PermissionDenied,
                "7",
            ),
            (
                LocalReply::from_http_status(503, "x"),
                Code::Unavailable,
                "14",
            ),
        ];
        for (reply, code, number) in replies {
            let fields = reply.fields();
            assert_eq!(fields[0], Field::new(":status", "200"));
            assert_eq!(fields[1], Field::new("content-type", "application/grpc"));
            assert_eq!(fields[2], Field::new("grpc-status", number));
            let read = ResponseStatus::read(200, &fields, None);
            assert_eq!(read.source, StatusSource::Headers);
            assert_eq!(read.status, reply.status);
            assert_eq!(read.status.code, code);
            let headers = reply.headers();
            assert_eq!(headers.get("content-type").unwrap(), "application/grpc");
            assert_eq!(
                ResponseStatus::read(200, &headers, None).status,
                reply.status
            );
        }
    }
}
