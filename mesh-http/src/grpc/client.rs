//! A small gRPC client over an HTTP/2 [`SendRequest`]: calls of every
//! kind (unary, client, server and bidirectional streaming) as a
//! [`MessageSink`] for the request messages and a [`ResponseStream`] for
//! the response messages and the status.
//!
//! The client keeps gRPC's semantics at the HTTP/2 level and nothing
//! more: payloads are `Bytes` (encode them with the protobuf library of
//! your choice). It enforces the call's deadline itself, as gRPC clients
//! do: when it passes, the stream is cancelled (RST_STREAM CANCEL) and the
//! call ends with `DEADLINE_EXCEEDED`, whatever the server does.
//!
//! ```no_run
//! use std::time::Duration;
//! use bytes::Bytes;
//! use mesh_http::grpc::{client::Client, Code};
//! use mesh_http::h2::{client, Config};
//!
//! # async fn run(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
//! let (sender, connection) = client::handshake(stream, Config::default());
//! tokio::spawn(connection.run());
//! let grpc = Client::new(sender, "echo.default.svc").timeout(Some(Duration::from_secs(2)));
//! match grpc.unary("/echo.Echo/Say", Bytes::from_static(b"\x0a\x02hi")).await {
//!     Ok(reply) => println!("{} bytes", reply.len()),
//!     Err(status) if status.code == Code::Unavailable => println!("retry later"),
//!     Err(status) => println!("failed: {status}"),
//! }
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use mesh_core::Side;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::stream::{MessageSink, Streaming, status_of_h2_error};
use super::timeout;
use super::{
    CONTENT_TYPE, Code, Encoding, GRPC_ACCEPT_ENCODING, GRPC_ENCODING, Limits, MessageCodec,
    ResponseStatus, Status, StatusSource, is_grpc_request,
};
use crate::h1::Method;
use crate::h2::client::SendRequest;
use crate::h2::{self, Request, RequestHead, Response, ResponseHead};

/// Calls gRPC methods on one HTTP/2 connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    sender: SendRequest,
    scheme: &'static str,
    authority: Bytes,
    limits: Limits,
    encoding: Encoding,
    timeout: Option<Duration>,
}

impl Client {
    /// A client sending to `authority` (`:authority`, the service's host
    /// name) over `sender`'s connection; `http` scheme, no compression, no
    /// timeout, default [`Limits`].
    pub fn new(sender: SendRequest, authority: impl Into<Bytes>) -> Client {
        Client {
            sender,
            scheme: "http",
            authority: authority.into(),
            limits: Limits::default(),
            encoding: Encoding::Identity,
            timeout: None,
        }
    }

    /// The `:scheme` of requests (`https` over TLS).
    pub fn scheme(mut self, scheme: &'static str) -> Client {
        self.scheme = scheme;
        self
    }

    /// The timeout of each call, sent as `grpc-timeout` and enforced
    /// here; `None` for no deadline.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Client {
        self.timeout = timeout;
        self
    }

    /// The compression of request messages (`grpc-encoding`).
    pub fn encoding(mut self, encoding: Encoding) -> Client {
        self.encoding = encoding;
        self
    }

    /// The limits of response messages.
    pub fn limits(mut self, limits: Limits) -> Client {
        self.limits = limits;
        self
    }

    /// The head of a call to `path` (`/package.Service/Method`): `POST`,
    /// `content-type: application/grpc`, `te: trailers`, the client's
    /// `grpc-timeout` and `grpc-encoding`, and `grpc-accept-encoding`.
    /// Add metadata to its `headers` before [`start`](Self::start).
    pub fn request_head(&self, path: &str) -> Result<RequestHead, Status> {
        let mut head = RequestHead::new(
            Method::POST,
            self.scheme,
            self.authority.clone(),
            Bytes::copy_from_slice(path.as_bytes()),
        )
        .map_err(|e| Status::new(Code::Internal, format!("invalid call: {e}")))?;
        let h = &mut head.headers;
        // Fixed, valid field values: appending cannot fail.
        let _ = h.append("content-type", CONTENT_TYPE);
        let _ = h.append("te", "trailers");
        if self.encoding != Encoding::Identity {
            let _ = h.append(GRPC_ENCODING, self.encoding.as_str());
        }
        let _ = h.append(GRPC_ACCEPT_ENCODING, Encoding::ACCEPT);
        if let Some(t) = self.timeout {
            timeout::set_field(h, t);
        }
        Ok(head)
    }

    /// Starts a call with `head` (from [`request_head`](Self::request_head)):
    /// the stream opens at once, from a task of its own, so request
    /// messages may be sent before the response starts (as client and
    /// bidirectional streaming need). The call's deadline is the head's
    /// `grpc-timeout`, counted from now.
    ///
    /// End the request with [`MessageSink::finish`]; dropping the
    /// [`ResponseStream`] cancels the call.
    pub fn start(&self, head: RequestHead) -> (MessageSink, ResponseStream) {
        let deadline = timeout::from_fields(&head.headers).map(|t| Instant::now() + t);
        let encoding = Encoding::from_fields(&head.headers).unwrap_or_default();
        let codec = MessageCodec::new(Side::Upstream, self.limits).send_encoding(encoding);
        let (sink, body) = MessageSink::channel(codec);
        let sender = self.sender.clone();
        let task = tokio::spawn(async move { sender.send(Request::new(head, body)).await });
        let responses = ResponseStream {
            state: State::Waiting(task),
            deadline,
            limits: self.limits,
            head: None,
        };
        (sink, responses)
    }

    /// A unary call: one request message, one response message, or the
    /// call's status when it did not end `OK` with exactly one message.
    pub async fn unary(&self, path: &str, payload: Bytes) -> Result<Bytes, Status> {
        let (mut sink, mut responses) = self.start(self.request_head(path)?);
        match sink.send(payload).await {
            // The stream is gone: the server answered already (a
            // trailers-only refusal, say); the response says how.
            Err(status) if status.code == Code::Cancelled => {}
            Err(status) => return Err(status),
            Ok(()) => sink.finish().await,
        }
        let reply = responses.message().await?;
        match (reply, responses.message().await?) {
            (Some(reply), None) => Ok(reply),
            (None, _) => Err(Status::new(Code::Unimplemented, "no response message")),
            (Some(_), Some(_)) => Err(Status::new(
                Code::Unimplemented,
                "more than one response message",
            )),
        }
    }
}

enum State {
    Waiting(JoinHandle<Result<Response, h2::Error>>),
    Open(Streaming),
    Done {
        status: Status,
        source: Option<StatusSource>,
    },
}

/// The response side of a call: its head, messages and status.
pub struct ResponseStream {
    state: State,
    deadline: Option<Instant>,
    limits: Limits,
    head: Option<ResponseHead>,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Waiting(_) => "waiting",
            State::Open(_) => "open",
            State::Done { .. } => "done",
        };
        f.debug_struct("ResponseStream")
            .field("state", &state)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Drop for ResponseStream {
    fn drop(&mut self) {
        if let State::Waiting(task) = &self.state {
            task.abort();
        }
    }
}

/// `fut`, or `DEADLINE_EXCEEDED` when `deadline` passes first.
async fn timed<T>(deadline: Option<Instant>, fut: impl Future<Output = T>) -> Result<T, Status> {
    match deadline {
        None => Ok(fut.await),
        Some(at) => tokio::time::timeout_at(at, fut)
            .await
            .map_err(|_| Status::new(Code::DeadlineExceeded, "deadline exceeded")),
    }
}

impl ResponseStream {
    /// The response head (initial metadata), waiting for it if needed;
    /// `None` when the call failed before one arrived.
    pub async fn head(&mut self) -> Option<&ResponseHead> {
        if let State::Waiting(_) = self.state {
            self.advance().await;
        }
        self.head.as_ref()
    }

    /// The next response message; `Ok(None)` when the call ended `OK`,
    /// and the status when it ended otherwise (from the trailers, a
    /// trailers-only response, the HTTP status, the stream's failure or
    /// the deadline).
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            match &mut self.state {
                State::Waiting(_) => self.advance().await,
                State::Open(messages) => match timed(self.deadline, messages.message()).await {
                    Ok(Ok(Some(m))) => return Ok(Some(m)),
                    Ok(Ok(None)) => {
                        let status = match &self.head {
                            Some(head) => ResponseStatus::read(
                                head.status,
                                &head.headers,
                                messages.trailers(),
                            ),
                            None => ResponseStatus::read(200, &crate::h1::HeaderMap::new(), None),
                        };
                        self.done(status.status, Some(status.source));
                    }
                    Ok(Err(status)) | Err(status) => self.done(status, None),
                },
                State::Done { status, .. } => {
                    return if status.code == Code::Ok {
                        Ok(None)
                    } else {
                        Err(status.clone())
                    };
                }
            }
        }
    }

    /// Reads the call to its end (dropping messages left) and returns its
    /// status, `OK` included.
    pub async fn status(&mut self) -> Status {
        loop {
            match self.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return Status::ok(),
                Err(status) => return status,
            }
        }
    }

    /// Where the final status was read: trailers, a trailers-only
    /// response's headers, or the HTTP status; `None` before the end, or
    /// when the status was made here (deadline, transport failure).
    pub fn status_source(&self) -> Option<StatusSource> {
        match &self.state {
            State::Done { source, .. } => *source,
            _ => None,
        }
    }

    fn done(&mut self, status: Status, source: Option<StatusSource>) {
        // Dropping a stream that is still open cancels it; a stream still
        // being opened is cancelled with its task.
        if let State::Waiting(task) = &self.state {
            task.abort();
        }
        self.state = State::Done { status, source };
    }

    /// Waits for the response head and opens the message stream.
    async fn advance(&mut self) {
        let State::Waiting(task) = &mut self.state else {
            return;
        };
        let response = match timed(self.deadline, task).await {
            Err(status) => return self.done(status, None),
            Ok(Err(join)) => {
                return self.done(
                    Status::new(Code::Internal, format!("call task failed: {join}")),
                    None,
                );
            }
            Ok(Ok(Err(e))) => return self.done(status_of_h2_error(&e), None),
            Ok(Ok(Ok(response))) => response,
        };
        let Response { head, body } = response;
        let trailers_only = Status::from_fields(&head.headers).is_some();
        if head.status != 200 || trailers_only {
            let status = ResponseStatus::read(head.status, &head.headers, None);
            self.head = Some(head);
            return self.done(status.status, Some(status.source));
        }
        if !is_grpc_request(&head.headers) {
            self.head = Some(head);
            return self.done(
                Status::new(Code::Unknown, "response content-type is not gRPC"),
                None,
            );
        }
        let encoding = match Encoding::from_fields(&head.headers) {
            Ok(e) => e,
            Err(e) => {
                self.head = Some(head);
                return self.done(Status::new(Code::Internal, e.to_string()), None);
            }
        };
        let codec = MessageCodec::new(Side::Upstream, self.limits).recv_encoding(encoding);
        self.head = Some(head);
        self.state = State::Open(Streaming::new(body, codec));
    }
}
