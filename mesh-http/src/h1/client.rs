//! The client connection driver: one connection, one exchange at a time,
//! streaming request and response bodies.
//!
//! [`handshake`] splits a connection into a [`SendRequest`] handle and a
//! [`Connection`] task to spawn. The task writes each request while it
//! reads the response (a server may answer early), hands the response out
//! as soon as its head arrives, and then pumps its body one frame at a
//! time: a slow reader stops the task reading the socket (backpressure),
//! and dropping the body drains or closes the connection.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use mesh_core::{ConnectError, ErrorClass, PeekedStream, Side};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::connection::{connection_options, is_upgrade_response, keeps_alive};
use super::decode::{BodyDecoder, Frame};
use super::encode::{BodyEncoder, EncodeError, encode_request_head};
use super::error::{Error, MessageKind};
use super::framing::{Framing, response_framing};
use super::head_reader::HeadReader;
use super::limits::Limits;
use super::message::RequestHead;
use super::pump::{BodyPump, READ_CHUNK};
use super::service::{Request, Response};
use super::upgrade::{Io, OnUpgrade};
use crate::body::{Body, BodyError};

/// Settings of a client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Parser limits for responses.
    pub limits: Limits,
    /// Close the connection after it was idle (no exchange) this long.
    /// Default 90 s, below the 100 s nginx and most servers keep an idle
    /// connection, so the client closes first and never sends into a
    /// connection the server is closing.
    pub idle_timeout: Duration,
    /// The most bytes of a dropped response body read and discarded to
    /// reuse the connection; beyond, it closes. Default 64 KiB.
    pub max_drain: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: Limits::DEFAULT,
            idle_timeout: Duration::from_secs(90),
            max_drain: 64 * 1024,
        }
    }
}

/// Why an exchange with an upstream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting failed (from the pool); nothing was sent.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The connection ended before it took the request; nothing was sent.
    #[error("the upstream connection closed before the request was sent")]
    ConnectionClosed,
    /// Writing the request head failed, so the upstream cannot have acted
    /// on the request (an incomplete head is no request).
    #[error("writing the request head: {0}")]
    WriteHead(#[source] io::Error),
    /// The upstream closed the connection before the response head
    /// (Envoy's "upstream connection termination"): it may have acted on
    /// the request.
    #[error("the upstream closed the connection before responding")]
    UpstreamClosed,
    /// Reading or writing failed after the head was sent.
    #[error("upstream I/O: {0}")]
    Io(#[source] io::Error),
    /// The response was malformed.
    #[error(transparent)]
    Malformed(#[from] Error),
    /// The request body's source failed; the request was cut short.
    #[error("request body: {0}")]
    RequestBody(#[source] BodyError),
    /// The request body did not match its framing.
    #[error("request body: {0}")]
    Encode(#[source] EncodeError),
}

impl ErrorClass for ClientError {
    fn side(&self) -> Side {
        match self {
            ClientError::RequestBody(e) => e.side(),
            ClientError::Encode(e) => e.side(),
            _ => Side::Upstream,
        }
    }

    /// Safe exactly when the upstream cannot have seen a whole request
    /// head: a failed connect, a closed idle connection, a failed head
    /// write.
    fn retry_safe(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_) | ClientError::ConnectionClosed | ClientError::WriteHead(_)
        )
    }
}

/// A request waiting for the connection task, with where to answer.
pub(crate) struct Envelope {
    request: Request,
    reply: oneshot::Sender<Result<Response, ClientError>>,
}

/// Sends requests on one connection. Cheap to clone; exchanges on one
/// connection happen one after the other.
#[derive(Debug, Clone)]
pub struct SendRequest {
    tx: mpsc::Sender<Envelope>,
}

/// A response that will arrive on a connection that took the request.
pub(crate) struct ResponseFuture {
    rx: oneshot::Receiver<Result<Response, ClientError>>,
}

impl ResponseFuture {
    pub(crate) async fn wait(self) -> Result<Response, ClientError> {
        self.rx.await.unwrap_or(Err(ClientError::UpstreamClosed))
    }
}

impl SendRequest {
    /// Sends `request` and waits for the response head; the body streams
    /// afterwards.
    pub async fn send(&self, request: Request) -> Result<Response, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Envelope { request, reply })
            .await
            .map_err(|_| ClientError::ConnectionClosed)?;
        ResponseFuture { rx }.wait().await
    }

    /// Hands `request` to the connection if it is free now, else gives the
    /// request back (the pool then tries another connection).
    pub(crate) fn try_send(&self, request: Request) -> Result<ResponseFuture, Box<Request>> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Envelope { request, reply }) {
            Ok(()) => Ok(ResponseFuture { rx }),
            Err(mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e)) => {
                Err(Box::new(e.request))
            }
        }
    }

    /// Whether the connection task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Called by the connection task each time it is idle again after an
/// exchange (the pool puts the connection back in its idle list).
pub(crate) type IdleHook = Box<dyn FnMut() + Send>;

/// The task that drives one client connection; spawn [`Connection::run`].
pub struct Connection<I> {
    io: I,
    rx: mpsc::Receiver<Envelope>,
    config: ClientConfig,
    on_idle: Option<IdleHook>,
}

impl<I> std::fmt::Debug for Connection<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Makes a client connection out of a connected stream.
///
/// ```no_run
/// use mesh_http::h1::{handshake, ClientConfig, Method, Request, RequestHead};
///
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let (sender, connection) = handshake(stream, ClientConfig::default());
/// tokio::spawn(connection.run());
/// let mut head = RequestHead::new(Method::GET, "/")?;
/// head.headers.append("host", "example.com")?;
/// let response = sender.send(Request::new(head, ())).await?;
/// let (body, _trailers) = response.body.collect(1 << 20).await?;
/// println!("{} {} bytes", response.head.status, body.len());
/// # Ok(()) }
/// ```
pub fn handshake<I: Io>(io: I, config: ClientConfig) -> (SendRequest, Connection<I>) {
    let (tx, rx) = mpsc::channel(1);
    (
        SendRequest { tx },
        Connection {
            io,
            rx,
            config,
            on_idle: None,
        },
    )
}

/// What happens to the connection after an exchange.
enum After {
    Reuse,
    Close,
    Upgraded,
}

struct Conn<I> {
    rd: Option<ReadHalf<I>>,
    wr: Option<WriteHalf<I>>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    heads: HeadReader,
    config: ClientConfig,
}

impl<I: Io> Connection<I> {
    pub(crate) fn with_idle_hook(mut self, hook: IdleHook) -> Self {
        self.on_idle = Some(hook);
        self
    }

    /// Runs the connection until it closes: the server closed it, it was
    /// idle for [`ClientConfig::idle_timeout`], every [`SendRequest`] was
    /// dropped, an exchange could not leave it reusable, or it was upgraded.
    pub async fn run(self) -> Result<(), ClientError> {
        let Connection {
            io,
            mut rx,
            config,
            mut on_idle,
        } = self;
        let (rd, wr) = tokio::io::split(io);
        let mut conn = Conn {
            rd: Some(rd),
            wr: Some(wr),
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(512),
            heads: HeadReader::new(config.limits),
            config,
        };
        loop {
            let Some(envelope) = conn.idle(&mut rx).await? else {
                conn.shutdown().await;
                return Ok(());
            };
            match conn.exchange(envelope).await {
                After::Reuse => {
                    if let Some(hook) = on_idle.as_mut() {
                        hook();
                    }
                }
                After::Close => {
                    conn.shutdown().await;
                    return Ok(());
                }
                After::Upgraded => return Ok(()),
            }
        }
    }
}

impl<I: Io> Conn<I> {
    async fn shutdown(&mut self) {
        if let Some(wr) = self.wr.as_mut() {
            let _ = wr.shutdown().await;
        }
    }

    /// Waits for the next request while watching the idle connection: the
    /// server closing it, or sending bytes nobody asked for, ends it.
    async fn idle(
        &mut self,
        rx: &mut mpsc::Receiver<Envelope>,
    ) -> Result<Option<Envelope>, ClientError> {
        if !self.rbuf.is_empty() {
            // Bytes after the last response: the connection is out of step.
            return Ok(None);
        }
        let idle = self.config.idle_timeout;
        let Some(rd) = self.rd.as_mut() else {
            return Ok(None);
        };
        let mut probe = [0u8; 1];
        tokio::select! {
            biased;
            envelope = rx.recv() => Ok(envelope),
            r = rd.read(&mut probe) => match r {
                Ok(_) => Ok(None),
                Err(e) => Err(ClientError::Io(e)),
            },
            _ = tokio::time::sleep(idle) => Ok(None),
        }
    }

    async fn exchange(&mut self, envelope: Envelope) -> After {
        let Envelope { request, reply } = envelope;
        let Request {
            head,
            body: mut req_body,
            ..
        } = request;
        let framing = request_body_framing(&head, &req_body);
        encode_request_head(&head, framing, &mut self.wbuf);
        let out = self.wbuf.split();
        let (Some(rd), Some(wr)) = (self.rd.as_mut(), self.wr.as_mut()) else {
            let _ = reply.send(Err(ClientError::ConnectionClosed));
            return After::Close;
        };
        if let Err(e) = wr.write_all(&out).await {
            let _ = reply.send(Err(ClientError::WriteHead(e)));
            return After::Close;
        }
        let request_close = !keeps_alive(head.version, connection_options(&head.headers));

        // Phase 1: the request body, until the response head arrives.
        let mut enc = BodyEncoder::new(framing);
        let mut sent_all = framing == Framing::Empty;
        if let Some(data) = req_body.take_full() {
            if let Err(e) = write_frame(wr, &mut enc, Frame::Data(data)).await {
                let _ = reply.send(Err(e));
                return After::Close;
            }
        }
        let response_head = loop {
            match self.heads.read_response(&mut self.rbuf) {
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => continue,
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(e) => {
                    let _ = reply.send(Err(ClientError::Malformed(e)));
                    return After::Close;
                }
            }
            enum Ev {
                Read(io::Result<usize>),
                Frame(Option<Result<Frame, BodyError>>),
            }
            self.rbuf.reserve(READ_CHUNK);
            let ev = tokio::select! {
                biased;
                r = rd.read_buf(&mut self.rbuf) => Ev::Read(r),
                f = req_body.frame(), if !sent_all => Ev::Frame(f),
            };
            match ev {
                Ev::Read(Ok(0)) => {
                    let error = match self.heads.eof_error(&self.rbuf, MessageKind::Response) {
                        Some(e) => ClientError::Malformed(e),
                        None => ClientError::UpstreamClosed,
                    };
                    let _ = reply.send(Err(error));
                    return After::Close;
                }
                Ev::Read(Ok(_)) => {}
                Ev::Read(Err(e)) => {
                    let _ = reply.send(Err(ClientError::Io(e)));
                    return After::Close;
                }
                Ev::Frame(frame) => {
                    let result = match frame {
                        Some(Ok(frame)) => write_frame(wr, &mut enc, frame).await,
                        None => {
                            sent_all = true;
                            finish(wr, &mut enc).await
                        }
                        Some(Err(e)) => Err(ClientError::RequestBody(e)),
                    };
                    if let Err(e) = result {
                        let _ = reply.send(Err(e));
                        return After::Close;
                    }
                }
            }
        };

        // The response head: framing, upgrade, and the body channel.
        let framing = match response_framing(
            head.method.as_bytes(),
            response_head.status,
            response_head.version,
            response_head.headers.pairs(),
        ) {
            Ok(f) => f,
            Err(kind) => {
                let _ = reply.send(Err(ClientError::Malformed(Error::response(kind))));
                return After::Close;
            }
        };
        let response_close = !keeps_alive(
            response_head.version,
            connection_options(&response_head.headers),
        );
        if is_upgrade_response(&head, &response_head) {
            let (tx, on_upgrade) = OnUpgrade::pair();
            let response = Response {
                head: response_head,
                body: Body::empty(),
                upgrade: Some(on_upgrade),
            };
            if reply.send(Ok(response)).is_ok() {
                if let (Some(rd), Some(wr)) = (self.rd.take(), self.wr.take()) {
                    let io = rd.unsplit(wr);
                    let rest = self.rbuf.split().freeze();
                    let _ = tx.send(PeekedStream::new(Box::new(io) as Box<dyn Io>, rest));
                }
            }
            return After::Upgraded;
        }
        let (sender, body) = match framing {
            Framing::Empty => (None, Body::empty()),
            Framing::Length(n) => {
                let (tx, body) = Body::channel(Some(n), Side::Upstream);
                (Some(tx), body)
            }
            _ => {
                let (tx, body) = Body::channel(None, Side::Upstream);
                (Some(tx), body)
            }
        };
        let decoder = BodyDecoder::new(framing, MessageKind::Response, self.config.limits);
        let mut pump = BodyPump::new(decoder, sender, Side::Upstream);
        let response = Response {
            head: response_head,
            body,
            upgrade: None,
        };
        if reply.send(Ok(response)).is_err() {
            // Nobody waits for the response: its body is not wanted.
            pump.abandon();
        }

        // Phase 2: the rest of the request body, and the response body.
        // The connection is free once the whole response is read off the
        // socket and queued for the reader (at most two frames wait).
        let reusable = !request_close && !response_close && framing != Framing::Close;
        while pump.is_active() || !sent_all {
            enum Ev {
                Frame(Option<Result<Frame, BodyError>>),
                Pumped,
            }
            let ev = tokio::select! {
                biased;
                _ = pump.step(rd, &mut self.rbuf), if pump.is_active() => Ev::Pumped,
                f = req_body.frame(), if !sent_all => Ev::Frame(f),
            };
            match ev {
                Ev::Pumped => {
                    if pump.is_finished() && !sent_all {
                        // The server answered before taking the whole
                        // request body: stop sending, the connection is
                        // out of step.
                        return After::Close;
                    }
                }
                Ev::Frame(frame) => {
                    let result = match frame {
                        Some(Ok(frame)) => write_frame(wr, &mut enc, frame).await,
                        None => {
                            sent_all = true;
                            finish(wr, &mut enc).await
                        }
                        Some(Err(e)) => Err(ClientError::RequestBody(e)),
                    };
                    if result.is_err() {
                        pump.abandon();
                        return After::Close;
                    }
                }
            }
        }
        if pump.is_failed() || !reusable {
            return After::Close;
        }
        if !pump.is_finished() {
            let max = self.config.max_drain;
            if !pump.drain(rd, &mut self.rbuf, max).await {
                return After::Close;
            }
        }
        After::Reuse
    }
}

/// How a request body is framed: its exact size as Content-Length, chunked
/// when unknown, and no framing field for an empty body of a method that
/// does not usually carry one.
fn request_body_framing(head: &RequestHead, body: &Body) -> Framing {
    match body.size_hint() {
        Some(0) => {
            if matches!(head.method.as_bytes(), b"POST" | b"PUT" | b"PATCH") {
                Framing::Length(0)
            } else {
                Framing::Empty
            }
        }
        Some(n) => Framing::Length(n),
        None => Framing::Chunked,
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(
    wr: &mut W,
    enc: &mut BodyEncoder,
    frame: Frame,
) -> Result<(), ClientError> {
    let mut encoded = enc.encode(frame).map_err(ClientError::Encode)?;
    wr.write_all_buf(&mut encoded)
        .await
        .map_err(ClientError::Io)
}

async fn finish<W: AsyncWrite + Unpin>(
    wr: &mut W,
    enc: &mut BodyEncoder,
) -> Result<(), ClientError> {
    let mut end = enc.finish().map_err(ClientError::Encode)?;
    wr.write_all_buf(&mut end).await.map_err(ClientError::Io)?;
    wr.flush().await.map_err(ClientError::Io)
}
