//! The client side: multiplexed streams over one connection, opened on any
//! [`mesh_core::Connect`].
//!
//! [`handshake`] splits a connected stream into a [`SendRequest`] handle
//! (cheap to clone; every clone opens streams on the same connection) and
//! a [`Connection`] task to spawn. [`connect`] dials through a connector
//! first. A request waits while the server's SETTINGS_MAX_CONCURRENT_STREAMS
//! is reached; its body is sent as the server's windows allow while the
//! response streams back, so bidirectional streaming (gRPC) works.

use std::sync::Arc;

use mesh_core::{Connect, ConnectError, Target};
use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::{ConnStats, Core, Role};
use super::driver::Connection;
use super::frame::StreamId;
use super::message::{Request, Response};
use super::shared::{RecvBody, Shared, send_body};
use super::{Config, Error};
use crate::body::Body;

/// Starts the client side of a connection: queues the preface and our
/// SETTINGS, and returns the handle that opens streams and the task that
/// drives the connection (spawn [`Connection::run`]).
///
/// ```no_run
/// use mesh_http::h2::{client, Config, Request, RequestHead};
/// use mesh_http::h1::Method;
///
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let (sender, connection) = client::handshake(stream, Config::default());
/// tokio::spawn(connection.run());
/// let head = RequestHead::new(Method::GET, "http", "example.com", "/")?;
/// let response = sender.send(Request::new(head, ())).await?;
/// let (body, _trailers) = response.body.collect(1 << 20).await?;
/// println!("{} {} bytes", response.head.status, body.len());
/// # Ok(()) }
/// ```
pub fn handshake<I>(io: I, config: Config) -> (SendRequest, Connection<I>)
where
    I: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut core = Core::new(Role::Client, config);
    core.add_sender();
    let shared = Shared::new(core);
    (
        SendRequest {
            shared: shared.clone(),
        },
        Connection::new(io, shared),
    )
}

/// Dials `target` through `connector` and starts a client connection on
/// it (the connector decides plain TCP or mTLS).
pub async fn connect<C: Connect>(
    connector: &C,
    target: &Target,
    config: Config,
) -> Result<(SendRequest, Connection<C::Io>), ConnectError> {
    let io = connector.connect(target).await?;
    Ok(handshake(io, config))
}

/// Opens streams on one client connection. Cheap to clone; the connection
/// ends (GOAWAY NO_ERROR) once every clone is dropped and its streams are
/// done.
#[derive(Debug)]
pub struct SendRequest {
    shared: Arc<Shared>,
}

impl Clone for SendRequest {
    fn clone(&self) -> Self {
        self.shared.with(Core::add_sender);
        SendRequest {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for SendRequest {
    fn drop(&mut self) {
        self.shared.with(Core::drop_sender);
    }
}

/// Cancels a stream whose response nobody waits for any more.
struct Waiter<'a> {
    shared: &'a Shared,
    id: StreamId,
    armed: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.armed {
            let id = self.id;
            self.shared.with(|c| c.drop_response_waiter(id));
        }
    }
}

impl SendRequest {
    /// Sends `request` on a new stream and waits for the response head;
    /// the response body streams afterwards, while the request body may
    /// still be going out.
    ///
    /// Errors whose [`retry_safe`](mesh_core::ErrorClass::retry_safe) is
    /// true (the server refused the stream, its GOAWAY excluded it, or the
    /// connection closed before the stream was opened) mean the server did
    /// not process the request. Dropping the future cancels the stream
    /// (RST_STREAM CANCEL).
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        let Request { mut head, body } = request;
        super::server::declare_length(&mut head.headers, &body);
        let end = body.is_end_stream() && body.size_hint() == Some(0);
        let shared = &self.shared;
        let id =
            std::future::poll_fn(|cx| shared.with(|c| c.poll_open(cx, &head, end, !end))).await?;
        let mut waiter = Waiter {
            shared,
            id,
            armed: true,
        };
        if !end {
            send_body(shared, id, body)?;
        }
        let arrived = std::future::poll_fn(|cx| shared.with(|c| c.poll_response(id, cx))).await?;
        waiter.armed = false;
        let body = if arrived.end {
            Body::empty()
        } else {
            RecvBody::body(shared.clone(), id, arrived.size)
        };
        Ok(Response {
            head: arrived.head,
            body,
        })
    }

    /// Whether the connection can take no more streams (it failed, closed
    /// or is going away).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().is_closed_for_streams()
    }

    /// Sends GOAWAY: no new streams; the connection ends when the open
    /// ones are done.
    pub fn graceful_shutdown(&self) {
        self.shared.with(Core::start_shutdown);
    }

    /// What the connection holds right now.
    pub fn stats(&self) -> ConnStats {
        self.shared.stats()
    }
}
