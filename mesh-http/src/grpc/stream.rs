//! Messages over a streaming [`Body`]: reading them out of an HTTP/2
//! stream's DATA frames ([`Streaming`]) and writing them into one
//! ([`MessageSink`]), with the trailers that end the stream.
//!
//! Both directions of every gRPC call (unary or streaming, client or
//! server, and both legs of a proxy) are one of these over the body the
//! [`h2`] connection hands out or takes. Failures are reported
//! as the [`Status`] a gRPC application sees: a message over the limit is
//! `RESOURCE_EXHAUSTED`, a stream the peer reset with CANCEL is
//! `CANCELLED`, a broken connection `UNAVAILABLE`
//! ([`status_of_h2_error`]).

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use tokio_util::codec::Encoder;

use super::message::PREFIX_LEN;
use super::{Code, Message, MessageCodec, MessageError, Status};
use crate::body::{Body, BodyError, BodySender, Frame};
use crate::h1::HeaderMap;
use crate::h2;

/// Payloads at least this long are sent as a DATA frame of their own after
/// a 5-byte prefix frame, instead of being copied behind the prefix.
const COPY_BELOW: usize = 16 * 1024;

/// The status a gRPC application sees when its HTTP/2 stream failed with
/// `error`, by the gRPC HTTP/2 protocol's mapping: a RST_STREAM or GOAWAY
/// code through [`Code::from_h2_error_code`], a stream the server did not
/// process (refused, above its GOAWAY) or a connection that broke or
/// closed `UNAVAILABLE`, our own misuse `INTERNAL`.
pub fn status_of_h2_error(error: &h2::Error) -> Status {
    let code = match error {
        h2::Error::Reset { code, .. } | h2::Error::GoAway { code, .. } => {
            Code::from_h2_error_code(*code)
        }
        h2::Error::Protocol { .. } | h2::Error::Local { .. } => Code::Internal,
        _ => Code::Unavailable,
    };
    Status::new(code, error.to_string())
}

/// The status for a body that could not be read to its end: an HTTP/2
/// stream error as [`status_of_h2_error`], a producer that vanished
/// `CANCELLED` (the peer's task or connection went away mid-call), and a
/// broken connection `UNAVAILABLE`.
pub fn status_of_body_error(error: &BodyError) -> Status {
    match error {
        BodyError::Http2(e) => status_of_h2_error(e),
        BodyError::Aborted { .. } => Status::new(Code::Cancelled, error.to_string()),
        BodyError::TooLarge { .. } => Status::new(Code::ResourceExhausted, error.to_string()),
        BodyError::Io { .. } | BodyError::Malformed(_) => {
            Status::new(Code::Unavailable, error.to_string())
        }
    }
}

impl From<MessageError> for Status {
    /// A message that could not be read or written, as its gRPC status
    /// ([`MessageError::code`]) with the error's text.
    fn from(error: MessageError) -> Status {
        Status::new(error.code(), error.to_string())
    }
}

/// The messages of one direction of a call, read from a [`Body`], and
/// the trailers that end it.
///
/// A message that lies whole in one DATA frame is handed out as a view of
/// that frame, without copying; one that spans frames is gathered in a
/// buffer (its bytes must be contiguous). Memory stays bounded by the
/// codec's [`Limits`](super::Limits): a prefix announcing more is refused
/// before its payload arrives.
#[derive(Debug)]
pub struct Streaming {
    body: Body,
    codec: MessageCodec,
    /// The rest of the DATA frame being read.
    frame: Bytes,
    /// A message that spans frames, gathered.
    buf: BytesMut,
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl Streaming {
    /// Reads `body` with `codec` (whose peer side, limits and receive
    /// encoding apply).
    pub fn new(body: Body, codec: MessageCodec) -> Streaming {
        Streaming {
            body,
            codec,
            frame: Bytes::new(),
            buf: BytesMut::new(),
            trailers: None,
            ended: false,
        }
    }

    /// The next message as the application sees it (inflated when it was
    /// compressed); `Ok(None)` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        match self.raw_message().await? {
            Some(message) => Ok(Some(self.codec.open(message)?)),
            None => Ok(None),
        }
    }

    /// The next message as framed (flag and payload as they arrived), for
    /// a proxy that counts or inspects messages without inflating them.
    pub async fn raw_message(&mut self) -> Result<Option<Message>, Status> {
        loop {
            if self.buf.is_empty() {
                if let Some(message) = self.codec.split_message(&mut self.frame)? {
                    return Ok(Some(message));
                }
                if !self.frame.is_empty() {
                    self.buf.extend_from_slice(&self.frame);
                    self.frame.clear();
                }
            }
            if let Some(message) = self.codec.decode_message(&mut self.buf)? {
                if self.buf.is_empty() {
                    // Start the next message in a fresh frame view.
                    self.buf = BytesMut::new();
                }
                return Ok(Some(message));
            }
            if self.ended {
                self.codec.finish(&self.buf)?;
                return Ok(None);
            }
            match self.body.frame().await {
                None => self.ended = true,
                Some(Ok(Frame::Data(data))) => {
                    if self.buf.is_empty() && !self.codec.is_mid_message() {
                        self.frame = data;
                    } else {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Ok(Frame::Trailers(trailers))) => {
                    self.trailers = Some(trailers);
                    self.ended = true;
                }
                Some(Err(e)) => return Err(status_of_body_error(&e)),
            }
        }
    }

    /// Reads and drops the messages left, up to the end of the stream, so
    /// that the trailers are there.
    pub async fn drain(&mut self) -> Result<(), Status> {
        while self.raw_message().await?.is_some() {}
        Ok(())
    }

    /// Whether the stream has ended (the messages read so far may still
    /// hold unread ones: read until `Ok(None)`).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The trailers, once the stream ended with some.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The codec, with its limits and encodings.
    pub fn codec(&self) -> &MessageCodec {
        &self.codec
    }
}

/// Writes the messages of one direction of a call into a [`Body`]
/// channel, and ends it (with trailers on the server side).
#[derive(Debug)]
pub struct MessageSink {
    tx: BodySender,
    codec: MessageCodec,
}

impl MessageSink {
    /// Writes into `tx` with `codec` (whose send encoding applies).
    pub fn new(tx: BodySender, codec: MessageCodec) -> MessageSink {
        MessageSink { tx, codec }
    }

    /// A sink and the body it feeds (of unknown length, so it streams),
    /// for a request or response of a gRPC call.
    pub fn channel(codec: MessageCodec) -> (MessageSink, Body) {
        let (tx, body) = Body::channel(None, Side::Internal);
        (MessageSink::new(tx, codec), body)
    }

    /// Sends one message, compressed with the codec's send encoding. Waits
    /// while the stream's send buffer is full (the peer's flow control),
    /// so a slow peer slows the sender down. Fails with `CANCELLED` once
    /// the stream is gone (the peer reset it, the call ended; on a client,
    /// the response side then has the call's real status).
    pub async fn send(&mut self, payload: Bytes) -> Result<(), Status> {
        if self.codec.sends_identity() && payload.len() >= COPY_BELOW {
            let mut prefix = BytesMut::with_capacity(PREFIX_LEN);
            self.codec.put_prefix(false, payload.len(), &mut prefix)?;
            self.send_data(prefix.freeze()).await?;
            return self.send_data(payload).await;
        }
        let mut buf = BytesMut::with_capacity(PREFIX_LEN + payload.len());
        self.codec.encode(payload, &mut buf)?;
        self.send_data(buf.freeze()).await
    }

    /// Sends a message as framed (a proxy relaying what it read).
    pub async fn send_raw(&mut self, message: Message) -> Result<(), Status> {
        let mut buf = BytesMut::with_capacity(message.wire_len());
        self.codec.encode(message, &mut buf)?;
        self.send_data(buf.freeze()).await
    }

    async fn send_data(&mut self, data: Bytes) -> Result<(), Status> {
        self.tx
            .send_data(data)
            .await
            .map_err(|_| Status::new(Code::Cancelled, "the stream was closed"))
    }

    /// Ends the stream without trailers: the end of a client's request
    /// (half-close). Nothing to report if the stream is already gone: a
    /// server may end the call before reading the whole request, and the
    /// response side says how the call ended.
    pub async fn finish(self) {
        let _ = self.tx.finish().await;
    }

    /// Ends the stream with trailers carrying `status` and any `extra`
    /// trailing metadata: the end of a server's response.
    pub async fn finish_with(mut self, status: &Status, extra: HeaderMap) -> Result<(), Status> {
        let mut trailers = extra;
        status.write_fields(&mut trailers);
        self.tx
            .send(Frame::Trailers(trailers))
            .await
            .map_err(|_| Status::new(Code::Cancelled, "the stream was closed"))?;
        self.finish().await;
        Ok(())
    }

    /// Whether the receiving side is gone (the stream was reset or the
    /// call ended): nothing more will be delivered.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Abandons the stream: the connection resets it.
    pub async fn abort(self, status: &Status) {
        let error = BodyError::Aborted {
            side: Side::Internal,
        };
        tracing::debug!(%status, "aborting a gRPC stream");
        self.tx.abort(error).await;
    }
}
