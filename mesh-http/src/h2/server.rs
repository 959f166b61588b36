//! The server side: a connection that yields incoming streams (request
//! head, streaming body, trailers) and lets the caller answer each.
//!
//! [`handshake`] splits a connection into an [`Incoming`] stream of
//! requests and a [`Connection`] task to run. Each accepted request comes
//! with a [`Respond`] handle; responses may be sent in any order, from any
//! task, while other streams of the connection proceed. [`serve_connection`]
//! does all of that with a [`Service`], like its HTTP/1 counterpart.

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::{Accepted, ConnStats, Core, Role};
use super::driver::Connection;
use super::frame::StreamId;
use super::message::{Request, Response};
use super::shared::{RecvBody, Shared, send_body};
use super::{Config, Error, ErrorCode};
use crate::body::Body;

/// Starts the server side of a connection whose first bytes are (or will
/// be) the client preface: queues our SETTINGS and returns the stream of
/// requests and the task that drives the connection (spawn or await
/// [`Connection::run`]; nothing happens until it runs).
pub fn handshake<I>(io: I, config: Config) -> (Incoming, Connection<I>)
where
    I: AsyncRead + AsyncWrite + Send + Unpin,
{
    let shared = Shared::new(Core::new(Role::Server, config));
    (
        Incoming {
            shared: shared.clone(),
        },
        Connection::new(io, shared),
    )
}

/// The requests of one server connection.
///
/// Dropping it starts a graceful shutdown: requests not yet accepted are
/// refused (REFUSED_STREAM, safe to retry), and the connection ends when
/// the streams already accepted are done.
#[derive(Debug)]
pub struct Incoming {
    shared: Arc<Shared>,
}

impl Incoming {
    /// The next request and the handle to answer it; `None` once no more
    /// requests will come (the connection ended or is shutting down), an
    /// error once if it failed.
    pub async fn accept(&mut self) -> Option<Result<(Request, Respond), Error>> {
        let shared = &self.shared;
        let next = std::future::poll_fn(|cx| shared.with(|c| c.poll_accept(cx))).await?;
        Some(next.map(|accepted| {
            let Accepted { id, head, end } = accepted;
            let body = if end {
                Body::empty()
            } else {
                let size = head.content_length();
                RecvBody::body(shared.clone(), id, size)
            };
            let respond = Respond {
                shared: shared.clone(),
                id,
                used: false,
            };
            (Request { head, body }, respond)
        }))
    }

    /// Starts a graceful shutdown (RFC 9113 §6.8): GOAWAY with the largest
    /// stream id and a PING; when the PING returns (or after
    /// [`Config::shutdown_ping_timeout`]), GOAWAY with the last stream the
    /// connection will process. Streams up to it complete; then the
    /// connection ends.
    pub fn graceful_shutdown(&self) {
        self.shared.with(Core::start_shutdown);
    }

    /// What the connection holds right now.
    pub fn stats(&self) -> ConnStats {
        self.shared.stats()
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.shared.with(Core::drop_acceptor);
    }
}

/// Answers one request.
///
/// Dropping it without answering resets the stream (INTERNAL_ERROR).
#[derive(Debug)]
pub struct Respond {
    shared: Arc<Shared>,
    id: StreamId,
    used: bool,
}

impl Respond {
    /// The stream being answered.
    pub fn stream_id(&self) -> StreamId {
        self.id
    }

    /// Sends the response: its head at once (with END_STREAM when the body
    /// is empty, as for a gRPC trailers-only response), then its body as
    /// the peer's flow-control windows allow, from a task of its own. A
    /// body streamed from elsewhere is read only as fast as the client
    /// takes it. The status must be final (200 to 599); the response to a
    /// HEAD request, 204 and 304 are sent without body.
    pub fn send_response(mut self, response: Response) -> Result<(), Error> {
        self.used = true;
        let Response { mut head, body } = response;
        let end = body.is_end_stream() && body.size_hint() == Some(0);
        declare_length(&mut head.headers, &body);
        let id = self.id;
        let has_body = match self.shared.with(|c| c.send_response(id, &head, end)) {
            Ok(b) => b,
            Err(e) => {
                self.shared.with(|c| c.drop_responder(id));
                return Err(e);
            }
        };
        if has_body {
            send_body(&self.shared, id, body)
        } else {
            Ok(())
        }
    }

    /// Resets the stream with `code` instead of answering.
    pub fn send_reset(mut self, code: ErrorCode) {
        self.used = true;
        let id = self.id;
        self.shared.with(|c| {
            c.reset_by_app(id, code);
            c.drop_responder(id);
        });
    }
}

impl Drop for Respond {
    fn drop(&mut self) {
        if !self.used {
            let id = self.id;
            self.shared.with(|c| c.drop_responder(id));
        }
    }
}

/// Adds `content-length` for a body of known, non-zero size when the head
/// has none (an HTTP/1 upstream's chunked body has none, and needs none).
pub(crate) fn declare_length(headers: &mut crate::h1::HeaderMap, body: &Body) {
    if let Some(n) = body.size_hint().filter(|&n| n > 0) {
        if !headers.contains("content-length") {
            // A decimal number is a valid value: appending cannot fail.
            let _ = headers.append("content-length", n.to_string());
        }
    }
}

/// What a server connection calls for each request.
///
/// Closures `Fn(Request) -> impl Future<Output = Response>` are services.
/// The service's errors are its own to turn into responses (a proxy
/// answers 502 or a gRPC status, not a reset).
pub trait Service: Send + Sync {
    /// Answers one request.
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send;
}

impl<F, Fut> Service for F
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response> + Send,
{
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        self(request)
    }
}

/// Serves one connection: calls `service` for every request, concurrently
/// (the calls run on the connection's own task, so `service` need not be
/// `'static`), and returns when the connection ends.
///
/// ```no_run
/// use mesh_http::h2::{server, Config, Request, Response};
///
/// # async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// loop {
///     let (socket, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let hello = |_req: Request| async { Response::with_status(200, "hello\n") };
///         let _ = server::serve_connection(socket, &hello, Config::default()).await;
///     });
/// }
/// # }
/// ```
pub async fn serve_connection<I, S>(io: I, service: &S, config: Config) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Send + Unpin,
    S: Service + ?Sized,
{
    let (mut incoming, connection) = handshake(io, config);
    let run = connection.run();
    tokio::pin!(run);
    let mut calls = FuturesUnordered::new();
    let mut accepting = true;
    loop {
        tokio::select! {
            result = &mut run => return result,
            next = incoming.accept(), if accepting => match next {
                Some(Ok((request, respond))) => calls.push(async move {
                    let response = service.call(request).await;
                    // The client may have reset the stream meanwhile.
                    let _ = respond.send_response(response);
                }),
                Some(Err(_)) | None => accepting = false,
            },
            Some(()) = calls.next(), if !calls.is_empty() => {}
        }
    }
}
