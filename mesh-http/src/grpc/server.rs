//! Serving gRPC on an HTTP/2 server connection: what a handler needs to
//! take a request apart and answer it correctly.
//!
//! [`ServerCall::accept`] checks a request is a gRPC call (else the HTTP
//! answer gRPC prescribes: 415 for another `content-type`, 405 for a method
//! other than POST, `UNIMPLEMENTED` for a `grpc-encoding` we cannot read)
//! and hands out its messages as a [`Streaming`] and its deadline.
//! [`ServerCall::respond`] starts the response (head now, messages as the
//! handler sends them, the status in the trailers); an answer without
//! messages is a trailers-only [`LocalReply::response`]. [`until_deadline`]
//! answers `DEADLINE_EXCEEDED` when a handler is slower than the call's
//! deadline.
//!
//! ```
//! use mesh_http::grpc::server::ServerCall;
//! use mesh_http::grpc::{Limits, LocalReply, Status};
//! use mesh_http::h1::HeaderMap;
//! use mesh_http::h2::{Request, Response};
//!
//! // An echo: every request message comes back, then OK.
//! async fn echo(request: Request) -> Response {
//!     let (call, mut messages) = match ServerCall::accept(request, Limits::default()) {
//!         Ok(call) => call,
//!         Err(refusal) => return refusal,
//!     };
//!     if call.method() != b"/echo.Echo/Say" {
//!         return LocalReply::unimplemented("no such method").response();
//!     }
//!     let (mut sink, response) = call.respond(call.recv_encoding());
//!     tokio::spawn(async move {
//!         let status = loop {
//!             match messages.message().await {
//!                 Ok(Some(m)) => {
//!                     if let Err(status) = sink.send(m).await {
//!                         break status;
//!                     }
//!                 }
//!                 Ok(None) => break Status::ok(),
//!                 Err(status) => break status,
//!             }
//!         };
//!         let _ = sink.finish_with(&status, HeaderMap::new()).await;
//!     });
//!     response
//! }
//! ```

use std::future::Future;

use mesh_core::Side;

use super::stream::{MessageSink, Streaming};
use super::{
    CONTENT_TYPE, Deadline, Encoding, GRPC_ACCEPT_ENCODING, GRPC_ENCODING, Limits, LocalReply,
    MessageCodec, is_grpc_request,
};
use crate::body::Body;
use crate::h1::Method;
use crate::h2::{Request, RequestHead, Response, ResponseHead};

/// An accepted gRPC call: its request head and deadline.
#[derive(Debug)]
pub struct ServerCall {
    head: RequestHead,
    deadline: Option<Deadline>,
    recv: Encoding,
    limits: Limits,
}

impl ServerCall {
    /// Takes a request apart into the call and its request messages, read
    /// within `limits`; the deadline starts now. A request that is not a
    /// gRPC call is answered as gRPC says: `Err` holds that response
    /// (HTTP 415 for a `content-type` that is not gRPC, 405 for a method
    /// other than POST, a trailers-only `UNIMPLEMENTED` listing
    /// `grpc-accept-encoding` for a compression we cannot read).
    pub fn accept(request: Request, limits: Limits) -> Result<(ServerCall, Streaming), Response> {
        let Request { head, body } = request;
        if !is_grpc_request(&head.headers) {
            return Err(Response::with_status(415, Body::empty()));
        }
        if head.method != Method::POST {
            return Err(Response::with_status(405, Body::empty()));
        }
        let recv = match Encoding::from_fields(&head.headers) {
            Ok(e) => e,
            Err(e) => {
                let mut response = LocalReply::unimplemented(e.to_string()).response();
                let _ = response
                    .head
                    .headers
                    .append(GRPC_ACCEPT_ENCODING, Encoding::ACCEPT);
                return Err(response);
            }
        };
        let deadline = Deadline::from_fields(Default::default(), &head.headers);
        let codec = MessageCodec::new(Side::Downstream, limits).recv_encoding(recv);
        let call = ServerCall {
            head,
            deadline,
            recv,
            limits,
        };
        Ok((call, Streaming::new(body, codec)))
    }

    /// The request head: the metadata is in its `headers`.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The method called: the `:path`, `/package.Service/Method`.
    pub fn method(&self) -> &[u8] {
        self.head.path.as_deref().unwrap_or_default()
    }

    /// The call's deadline from its `grpc-timeout`, on tokio's clock.
    pub fn deadline(&self) -> Option<&Deadline> {
        self.deadline.as_ref()
    }

    /// The compression of the request messages.
    pub fn recv_encoding(&self) -> Encoding {
        self.recv
    }

    /// Whether the client accepts `encoding` for the response (listed in
    /// its `grpc-accept-encoding`; identity always is).
    pub fn accepts(&self, encoding: Encoding) -> bool {
        encoding == Encoding::Identity
            || self
                .head
                .headers
                .get_all(GRPC_ACCEPT_ENCODING)
                .flat_map(|v| v.split(|&b| b == b','))
                .any(|name| {
                    name.trim_ascii()
                        .eq_ignore_ascii_case(encoding.as_str().as_bytes())
                })
    }

    /// Starts the response: status 200, `content-type: application/grpc`
    /// and `grpc-encoding` (when `encoding` is not identity and the client
    /// accepts it; else identity is used). Return the [`Response`] from the
    /// handler; send the messages into the sink and end it with
    /// [`MessageSink::finish_with`] and the status.
    pub fn respond(&self, encoding: Encoding) -> (MessageSink, Response) {
        let encoding = if self.accepts(encoding) {
            encoding
        } else {
            Encoding::Identity
        };
        let mut head = ResponseHead::new(200);
        // Fixed, valid field values: appending cannot fail.
        let _ = head.headers.append("content-type", CONTENT_TYPE);
        if encoding != Encoding::Identity {
            let _ = head.headers.append(GRPC_ENCODING, encoding.as_str());
        }
        let _ = head.headers.append(GRPC_ACCEPT_ENCODING, Encoding::ACCEPT);
        let codec = MessageCodec::new(Side::Downstream, self.limits).send_encoding(encoding);
        let (sink, body) = MessageSink::channel(codec);
        (sink, Response::new(head, body))
    }
}

/// The handler's response, or a trailers-only `DEADLINE_EXCEEDED` if the
/// deadline passes before the handler answers (the handler's future is
/// dropped). Without a deadline, the handler's response.
pub async fn until_deadline(
    deadline: Option<&Deadline>,
    answer: impl Future<Output = Response>,
) -> Response {
    match deadline {
        None => answer.await,
        Some(deadline) => tokio::select! {
            response = answer => response,
            () = deadline.expired() => LocalReply::deadline_exceeded("deadline exceeded").response(),
        },
    }
}

impl LocalReply {
    /// The reply as an HTTP/2 [`Response`]: status 200, the fields of
    /// [`LocalReply::headers`] and an empty body, so the connection sends
    /// one HEADERS frame with END_STREAM (trailers-only).
    pub fn response(&self) -> Response {
        Response::new(
            ResponseHead {
                status: 200,
                headers: self.headers(),
            },
            Body::empty(),
        )
    }
}

impl From<LocalReply> for Response {
    fn from(reply: LocalReply) -> Response {
        reply.response()
    }
}
