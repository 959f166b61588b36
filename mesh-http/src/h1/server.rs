//! The server connection driver: reads requests, calls a [`Service`],
//! writes responses, with keep-alive, pipelining, `Expect: 100-continue`,
//! a head-read timeout, and Upgrade/CONNECT handing over the raw stream.
//!
//! One task per connection. Requests are answered in order (pipelined
//! requests wait in the read buffer). While the service runs, the request
//! body is pumped into its [`Body`] one frame at a time; while the response
//! body is written, the rest of the request body keeps flowing, so a
//! service may stream one into the other. A request body the service did
//! not read is drained (up to [`ServerConfig::max_drain`]) so the
//! connection can be reused, or the connection is closed.

use std::io;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use mesh_core::{ErrorClass, PeekedStream, Side};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout, timeout_at};

use super::connection::{
    connection_options, connection_tokens, expects_continue, keeps_alive, wants_upgrade,
};
use super::decode::{BodyDecoder, Frame};
use super::encode::{BodyEncoder, EncodeError, encode_response_head};
use super::error::{Error, MessageKind};
use super::framing::{Framing, request_framing};
use super::head_reader::HeadReader;
use super::limits::Limits;
use super::message::{HeaderMap, RequestHead, ResponseHead, reason_phrase};
use super::parse::Version;
use super::pump::{BodyPump, READ_CHUNK};
use super::service::{Request, Response, Service};
use super::upgrade::{Io, OnUpgrade, Upgraded};
use crate::body::{Body, BodyError};

/// Settings of a server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Parser limits.
    pub limits: Limits,
    /// The longest a request head may take to arrive, from its first
    /// byte. A client that is slower gets 408 and the connection closes,
    /// so slow-loris clients cannot hold connections. Default 10 s.
    pub head_timeout: Duration,
    /// How long an idle keep-alive connection waits for the first byte of
    /// its next request before it closes quietly. Default 60 s.
    pub keep_alive_timeout: Duration,
    /// The most bytes of an unread request body read and discarded to keep
    /// the connection; beyond, it closes. Default 64 KiB.
    pub max_drain: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::DEFAULT,
            head_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            max_drain: 64 * 1024,
        }
    }
}

/// Why a server connection ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The request was malformed or over a limit; it was answered with
    /// [`Error::status`] and the connection closed.
    #[error("bad request: {0}")]
    BadRequest(#[source] Error),
    /// No complete head within [`ServerConfig::head_timeout`]; answered
    /// 408.
    #[error("no complete request head within {0:?}")]
    HeadTimeout(Duration),
    /// Reading or writing the connection failed.
    #[error("downstream I/O: {0}")]
    Io(#[source] io::Error),
    /// The service's response body failed (when forwarding, usually the
    /// upstream); the response was cut short.
    #[error("response body: {0}")]
    ResponseBody(#[source] BodyError),
    /// The service's response body did not match its framing.
    #[error("response body: {0}")]
    Encode(#[source] EncodeError),
}

impl ErrorClass for ServerError {
    fn side(&self) -> Side {
        match self {
            ServerError::BadRequest(_) | ServerError::HeadTimeout(_) | ServerError::Io(_) => {
                Side::Downstream
            }
            ServerError::ResponseBody(e) => e.side(),
            ServerError::Encode(e) => e.side(),
        }
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// What happens to the connection after an exchange.
enum Next {
    KeepAlive,
    Close,
    Upgrade(oneshot::Sender<Upgraded>),
}

struct Conn<'c, I> {
    rd: ReadHalf<I>,
    wr: WriteHalf<I>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    heads: HeadReader,
    config: &'c ServerConfig,
}

/// Serves requests on one connection until it closes, calling `service`
/// for each.
///
/// Returns `Ok` when the client closes between requests, an idle
/// keep-alive connection times out, a response asks to close, or the
/// connection was handed over after an upgrade.
///
/// ```no_run
/// use mesh_http::h1::{serve_connection, Request, Response, ServerConfig};
///
/// # async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// let config = ServerConfig::default();
/// loop {
///     let (socket, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let hello = |_req: Request| async { Response::with_status(200, "hello\n") };
///         let _ = serve_connection(socket, &hello, &config).await;
///     });
/// }
/// # }
/// ```
pub async fn serve_connection<I, S>(
    io: I,
    service: &S,
    config: &ServerConfig,
) -> Result<(), ServerError>
where
    I: Io,
    S: Service + ?Sized,
{
    let (rd, wr) = tokio::io::split(io);
    let mut conn = Conn {
        rd,
        wr,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: BytesMut::with_capacity(1024),
        heads: HeadReader::new(config.limits),
        config,
    };
    loop {
        let Some(head) = conn.read_head().await? else {
            let _ = conn.wr.shutdown().await;
            return Ok(());
        };
        match conn.exchange(head, service).await? {
            Next::KeepAlive => {}
            Next::Close => {
                let _ = conn.wr.shutdown().await;
                return Ok(());
            }
            Next::Upgrade(tx) => {
                let io = conn.rd.unsplit(conn.wr);
                let upgraded = PeekedStream::new(Box::new(io) as Box<dyn Io>, conn.rbuf.freeze());
                let _ = tx.send(upgraded);
                return Ok(());
            }
        }
    }
}

/// Rewrites the Connection field of a response: the service's own options
/// stay (they name its hop-by-hop fields), `close` and `keep-alive` are
/// the driver's to say.
fn set_connection_field(headers: &mut HeaderMap, keep_alive: bool, version: Version) {
    let mut options: Vec<Vec<u8>> = Vec::new();
    for value in headers.get_all("connection") {
        for token in connection_tokens(value) {
            if !token.eq_ignore_ascii_case(b"close") && !token.eq_ignore_ascii_case(b"keep-alive") {
                options.push(token.to_vec());
            }
        }
    }
    if !keep_alive {
        options.push(b"close".to_vec());
    } else if version == Version::Http10 {
        options.push(b"keep-alive".to_vec());
    }
    headers.remove("connection");
    if !options.is_empty() {
        let value = options.join(&b", "[..]);
        headers.push_unchecked("connection".into(), value.into());
    }
}

/// The framing-field length a head declares, if it declares one validly.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all("content-length");
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    std::str::from_utf8(first).ok()?.trim().parse().ok()
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<'_, I> {
    async fn fill(&mut self) -> io::Result<usize> {
        self.rbuf.reserve(READ_CHUNK);
        self.rd.read_buf(&mut self.rbuf).await
    }

    /// Writes a bodiless error response and closes the connection.
    async fn reply_error(&mut self, status: u16) {
        let mut out = BytesMut::with_capacity(96);
        out.put_slice(b"HTTP/1.1 ");
        out.put_slice(status.to_string().as_bytes());
        out.put_u8(b' ');
        out.put_slice(reason_phrase(status).as_bytes());
        out.put_slice(b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = self.wr.write_all(&out).await;
        let _ = self.wr.shutdown().await;
    }

    async fn bad_request(&mut self, error: Error) -> ServerError {
        self.reply_error(error.status()).await;
        ServerError::BadRequest(error)
    }

    /// The next request head; `None` when the connection should end
    /// quietly (closed or idle between requests).
    async fn read_head(&mut self) -> Result<Option<RequestHead>, ServerError> {
        if self.rbuf.is_empty() {
            match timeout(self.config.keep_alive_timeout, self.fill()).await {
                Err(_) | Ok(Ok(0)) => return Ok(None),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(ServerError::Io(e)),
            }
        }
        let deadline = Instant::now() + self.config.head_timeout;
        loop {
            match self.heads.read_request(&mut self.rbuf) {
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(e) => return Err(self.bad_request(e).await),
            }
            match timeout_at(deadline, self.fill()).await {
                Err(_) => {
                    self.reply_error(408).await;
                    return Err(ServerError::HeadTimeout(self.config.head_timeout));
                }
                Ok(Ok(0)) => {
                    return match self.heads.eof_error(&self.rbuf, MessageKind::Request) {
                        Some(e) => Err(ServerError::BadRequest(e)),
                        None => Ok(None),
                    };
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(ServerError::Io(e)),
            }
        }
    }

    async fn write_buffered(&mut self) -> Result<(), ServerError> {
        let out = self.wbuf.split();
        self.wr.write_all(&out).await.map_err(ServerError::Io)
    }

    async fn exchange<S: Service + ?Sized>(
        &mut self,
        head: RequestHead,
        service: &S,
    ) -> Result<Next, ServerError> {
        let framing = match request_framing(head.version, head.headers.pairs()) {
            Ok(f) => f,
            Err(kind) => return Err(self.bad_request(Error::request(kind)).await),
        };
        let version = head.version;
        let is_head = head.method.is_head();
        let is_connect = head.method.is_connect();
        let mut keep_alive = keeps_alive(version, connection_options(&head.headers));
        let expect = framing != Framing::Empty && expects_continue(&head);
        let (upgrade_tx, on_upgrade) = if wants_upgrade(&head) {
            let (tx, rx) = OnUpgrade::pair();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };

        let mut want = None;
        let (sender, body) = match framing {
            Framing::Empty => (None, Body::empty()),
            _ => {
                let size = match framing {
                    Framing::Length(n) => Some(n),
                    _ => None,
                };
                let (mut tx, body) = if expect {
                    Body::channel_with_want(size, Side::Downstream)
                } else {
                    Body::channel(size, Side::Downstream)
                };
                want = tx.take_want();
                (Some(tx), body)
            }
        };
        let decoder = BodyDecoder::new(framing, MessageKind::Request, self.config.limits);
        let mut pump = BodyPump::new(decoder, sender, Side::Downstream);
        let request = Request {
            head,
            body,
            upgrade: on_upgrade,
        };

        // Phase 1: run the service, feeding it the request body.
        let mut expect_pending = expect;
        let response = {
            let call = service.call(request);
            tokio::pin!(call);
            loop {
                enum Ev {
                    Response(Response),
                    Wanted(bool),
                    Pumped,
                }
                let ev = tokio::select! {
                    biased;
                    r = &mut call => Ev::Response(r),
                    w = async { want.as_mut()?.await.ok() }, if expect_pending => Ev::Wanted(w.is_some()),
                    _ = pump.step(&mut self.rd, &mut self.rbuf),
                        if !expect_pending && pump.is_active() => Ev::Pumped,
                };
                match ev {
                    Ev::Response(r) => break r,
                    Ev::Wanted(wanted) => {
                        expect_pending = false;
                        want = None;
                        if !wanted {
                            // The service dropped the body unread.
                            pump.abandon();
                        } else {
                            self.wr
                                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                                .await
                                .map_err(ServerError::Io)?;
                        }
                    }
                    Ev::Pumped => {}
                }
            }
        };

        // Phase 2: the response head. A service that answers while still
        // holding an unread body it was asked to wait for (it streams the
        // body into its response, say) gets the 100 Continue first; one
        // that dropped the body does not.
        if expect_pending {
            let body_alive = match want.as_mut().map(|w| w.try_recv()) {
                Some(Ok(())) | Some(Err(oneshot::error::TryRecvError::Empty)) => true,
                Some(Err(oneshot::error::TryRecvError::Closed)) | None => false,
            };
            if body_alive {
                expect_pending = false;
                self.wr
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .map_err(ServerError::Io)?;
            } else {
                pump.abandon();
            }
        }
        let Response {
            head: mut rhead,
            body: mut rbody,
            ..
        } = response;
        let status = rhead.status;
        let upgrading = upgrade_tx.is_some()
            && if is_connect {
                (200..300).contains(&status)
            } else {
                status == 101
            };
        if !upgrading && (100..200).contains(&status) {
            // An interim status as the final answer: a service bug.
            rhead = ResponseHead::new(500);
            rbody = Body::empty();
            keep_alive = false;
        }
        let status = rhead.status;
        if connection_options(&rhead.headers).close {
            keep_alive = false;
        }
        let no_body = is_head || status == 204 || status == 304 || upgrading;
        let (head_framing, body_framing) = if no_body {
            let announced = if is_head || status == 304 {
                declared_length(&rhead.headers).or(rbody.size_hint().filter(|&n| n > 0))
            } else {
                None
            };
            (
                announced.map_or(Framing::Empty, Framing::Length),
                Framing::Empty,
            )
        } else {
            match rbody.size_hint() {
                Some(n) => (Framing::Length(n), Framing::Length(n)),
                None if version == Version::Http11 => (Framing::Chunked, Framing::Chunked),
                None => {
                    keep_alive = false;
                    (Framing::Close, Framing::Close)
                }
            }
        };
        if pump.is_failed() {
            // The request body was malformed: its end is unknown.
            keep_alive = false;
        }
        if expect_pending {
            // 100 Continue was never sent: the client may or may not send
            // the body, so this connection cannot carry another request.
            keep_alive = false;
        }
        if !upgrading {
            // Keep-Alive describes this connection, which is the driver's.
            rhead.headers.remove("keep-alive");
            set_connection_field(&mut rhead.headers, keep_alive, version);
        }
        encode_response_head(&rhead, head_framing, &mut self.wbuf);
        if let Some(tx) = upgrade_tx.filter(|_| upgrading) {
            self.write_buffered().await?;
            return Ok(Next::Upgrade(tx));
        }

        // Phase 3: the response body, while the request body keeps flowing.
        let mut enc = BodyEncoder::new(body_framing);
        if no_body {
            drop(rbody);
            self.write_buffered().await?;
        } else {
            if let Some(data) = rbody.take_full() {
                // One buffer: write it with the head, in one system call
                // when small.
                let mut encoded = enc.encode(Frame::Data(data)).map_err(ServerError::Encode)?;
                if bytes::Buf::remaining(&encoded) <= READ_CHUNK {
                    self.wbuf.put(&mut encoded);
                    self.write_buffered().await?;
                } else {
                    self.write_buffered().await?;
                    self.wr
                        .write_all_buf(&mut encoded)
                        .await
                        .map_err(ServerError::Io)?;
                }
            } else {
                self.write_buffered().await?;
            }
            loop {
                enum Ev {
                    Frame(Option<Result<Frame, BodyError>>),
                    Pumped,
                }
                let ev = tokio::select! {
                    biased;
                    f = rbody.frame() => Ev::Frame(f),
                    _ = pump.step(&mut self.rd, &mut self.rbuf),
                        if !expect_pending && pump.is_active() => Ev::Pumped,
                };
                match ev {
                    Ev::Frame(None) => {
                        let mut end = enc.finish().map_err(ServerError::Encode)?;
                        self.wr
                            .write_all_buf(&mut end)
                            .await
                            .map_err(ServerError::Io)?;
                        break;
                    }
                    Ev::Frame(Some(Ok(frame))) => {
                        let mut encoded = enc.encode(frame).map_err(ServerError::Encode)?;
                        self.wr
                            .write_all_buf(&mut encoded)
                            .await
                            .map_err(ServerError::Io)?;
                    }
                    Ev::Frame(Some(Err(e))) => return Err(ServerError::ResponseBody(e)),
                    Ev::Pumped => {}
                }
            }
        }
        self.wr.flush().await.map_err(ServerError::Io)?;

        // Phase 4: whatever of the request body the service left unread.
        if pump.is_failed() {
            return Ok(Next::Close);
        }
        if !pump.is_finished() {
            pump.abandon();
            if !keep_alive {
                return Ok(Next::Close);
            }
            let drained = timeout(
                self.config.keep_alive_timeout,
                pump.drain(&mut self.rd, &mut self.rbuf, self.config.max_drain),
            )
            .await
            .unwrap_or(false);
            if !drained {
                return Ok(Next::Close);
            }
        }
        Ok(if keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        })
    }
}
