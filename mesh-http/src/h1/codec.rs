//! `tokio_util::codec` framing of whole HTTP/1 message streams, for users
//! who drive connections with `Framed` rather than the drivers of this
//! module.
//!
//! A message is a sequence of [`Message`] items: its head, its data (as
//! `Bytes` split from the read buffer, never copied), its trailers, and
//! [`Message::End`]. [`ServerCodec`] decodes requests and encodes
//! responses; [`ClientCodec`] encodes requests and decodes responses,
//! remembering each request's method so that the response to a HEAD has no
//! body. When encoding, the head's own Content-Length or
//! `Transfer-Encoding: chunked` field chooses the body framing.

use std::collections::VecDeque;
use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use tokio_util::codec::{Decoder, Encoder};

use super::decode::{BodyDecoder, Frame};
use super::encode::{BodyEncoder, EncodeError, encode_request_head, encode_response_head};
use super::error::{Error, MessageKind};
use super::framing::{Framing, request_framing, response_framing};
use super::head_reader::HeadReader;
use super::limits::Limits;
use super::message::{HeaderMap, Method, RequestHead, ResponseHead};
use super::parse::Version;

/// One item of a message stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<H> {
    /// The head.
    Head(H),
    /// Body bytes.
    Data(Bytes),
    /// Trailer fields (chunked bodies only).
    Trailers(HeaderMap),
    /// The end of the message.
    End,
}

/// Why a codec could not decode or encode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The peer's message was malformed.
    #[error(transparent)]
    Malformed(#[from] Error),
    /// The message to encode did not match its own framing.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ErrorClass for CodecError {
    fn side(&self) -> Side {
        match self {
            CodecError::Malformed(e) => e.side(),
            CodecError::Encode(e) => e.side(),
            CodecError::Io(_) => Side::Internal,
        }
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// The framing an outgoing head announces with its own fields.
fn declared_framing(headers: &HeaderMap) -> Option<Framing> {
    let chunked = headers
        .get_all("transfer-encoding")
        .any(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    if chunked {
        return Some(Framing::Chunked);
    }
    let length = headers.get("content-length")?;
    std::str::from_utf8(length)
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Framing::Length)
}

/// The body half of a decoder: the current body, if one is being read.
#[derive(Debug, Default)]
struct BodyState {
    body: Option<BodyDecoder>,
}

impl BodyState {
    fn decode<H>(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Option<Message<H>>, Error> {
        let Some(body) = self.body.as_mut() else {
            return Ok(None);
        };
        let frame = if eof {
            body.decode_eof(buf)?
        } else {
            body.decode(buf)?
        };
        match frame {
            Some(Frame::Data(d)) => Ok(Some(Message::Data(d))),
            Some(Frame::Trailers(t)) => Ok(Some(Message::Trailers(t))),
            None if body.is_done() => {
                self.body = None;
                Ok(Some(Message::End))
            }
            None => Ok(None),
        }
    }
}

/// The encoding half: the current body encoder.
#[derive(Debug, Default)]
struct EncodeState {
    body: Option<BodyEncoder>,
}

impl EncodeState {
    fn encode<H>(&mut self, item: Message<H>, dst: &mut BytesMut) -> Result<Option<H>, CodecError> {
        match item {
            Message::Head(h) => return Ok(Some(h)),
            Message::Data(d) => {
                let enc = self.body.as_mut().ok_or(EncodeError::AfterEnd)?;
                dst.put(enc.encode(Frame::Data(d))?);
            }
            Message::Trailers(t) => {
                let enc = self.body.as_mut().ok_or(EncodeError::AfterEnd)?;
                dst.put(enc.encode(Frame::Trailers(t))?);
            }
            Message::End => {
                let mut enc = self.body.take().ok_or(EncodeError::AfterEnd)?;
                dst.put(enc.finish()?);
            }
        }
        Ok(None)
    }
}

/// Decodes requests and encodes responses.
#[derive(Debug)]
pub struct ServerCodec {
    heads: HeadReader,
    limits: Limits,
    decoding: BodyState,
    encoding: EncodeState,
    /// Methods of requests not answered yet, oldest first.
    methods: VecDeque<Method>,
}

impl ServerCodec {
    /// A codec enforcing `limits` on requests.
    pub fn new(limits: Limits) -> Self {
        ServerCodec {
            heads: HeadReader::new(limits),
            limits,
            decoding: BodyState::default(),
            encoding: EncodeState::default(),
            methods: VecDeque::new(),
        }
    }
}

impl Decoder for ServerCodec {
    type Item = Message<RequestHead>;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if self.decoding.body.is_some() {
            return Ok(self.decoding.decode(buf, false)?);
        }
        let Some(head) = self.heads.read_request(buf)? else {
            return Ok(None);
        };
        let framing =
            request_framing(head.version, head.headers.pairs()).map_err(Error::request)?;
        self.decoding.body = Some(BodyDecoder::new(framing, MessageKind::Request, self.limits));
        self.methods.push_back(head.method.clone());
        Ok(Some(Message::Head(head)))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if self.decoding.body.is_some() {
            return Ok(self.decoding.decode(buf, true)?);
        }
        match self.decode(buf)? {
            Some(item) => Ok(Some(item)),
            None => match self.heads.eof_error(buf, MessageKind::Request) {
                Some(e) => Err(e.into()),
                None => Ok(None),
            },
        }
    }
}

impl Encoder<Message<ResponseHead>> for ServerCodec {
    type Error = CodecError;

    fn encode(
        &mut self,
        item: Message<ResponseHead>,
        dst: &mut BytesMut,
    ) -> Result<(), CodecError> {
        let Some(head) = self.encoding.encode(item, dst)? else {
            return Ok(());
        };
        let interim = (100..200).contains(&head.status) && head.status != 101;
        let method = if interim {
            self.methods.front().cloned()
        } else {
            self.methods.pop_front()
        }
        .unwrap_or(Method::GET);
        let no_body = method.is_head()
            || (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304
            || (method.is_connect() && (200..300).contains(&head.status));
        let declared = declared_framing(&head.headers);
        let (head_framing, body_framing) = if no_body {
            (
                declared
                    .filter(|f| matches!(f, Framing::Length(_)))
                    .unwrap_or(Framing::Empty),
                Framing::Empty,
            )
        } else {
            let f = declared.unwrap_or(Framing::Close);
            (f, f)
        };
        encode_response_head(&head, head_framing, dst);
        self.encoding.body = Some(BodyEncoder::new(body_framing));
        Ok(())
    }
}

/// Encodes requests and decodes responses.
#[derive(Debug)]
pub struct ClientCodec {
    heads: HeadReader,
    limits: Limits,
    decoding: BodyState,
    encoding: EncodeState,
    /// Methods of requests sent and not answered yet, oldest first.
    methods: VecDeque<Method>,
}

impl ClientCodec {
    /// A codec enforcing `limits` on responses.
    pub fn new(limits: Limits) -> Self {
        ClientCodec {
            heads: HeadReader::new(limits),
            limits,
            decoding: BodyState::default(),
            encoding: EncodeState::default(),
            methods: VecDeque::new(),
        }
    }
}

impl Encoder<Message<RequestHead>> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message<RequestHead>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let Some(head) = self.encoding.encode(item, dst)? else {
            return Ok(());
        };
        let framing = declared_framing(&head.headers).unwrap_or(Framing::Empty);
        let framing = if head.version == Version::Http10 && framing == Framing::Chunked {
            return Err(EncodeError::NoBodyAllowed.into());
        } else {
            framing
        };
        encode_request_head(&head, framing, dst);
        self.methods.push_back(head.method.clone());
        self.encoding.body = Some(BodyEncoder::new(framing));
        Ok(())
    }
}

impl Decoder for ClientCodec {
    type Item = Message<ResponseHead>;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if self.decoding.body.is_some() {
            return Ok(self.decoding.decode(buf, false)?);
        }
        let Some(head) = self.heads.read_response(buf)? else {
            return Ok(None);
        };
        let interim = (100..200).contains(&head.status) && head.status != 101;
        let method = if interim {
            self.methods.front().cloned()
        } else {
            self.methods.pop_front()
        }
        .unwrap_or(Method::GET);
        let framing = response_framing(
            method.as_bytes(),
            head.status,
            head.version,
            head.headers.pairs(),
        )
        .map_err(Error::response)?;
        self.decoding.body = Some(BodyDecoder::new(
            framing,
            MessageKind::Response,
            self.limits,
        ));
        Ok(Some(Message::Head(head)))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        if self.decoding.body.is_some() {
            return Ok(self.decoding.decode(buf, true)?);
        }
        match self.decode(buf)? {
            Some(item) => Ok(Some(item)),
            None => match self.heads.eof_error(buf, MessageKind::Response) {
                Some(e) => Err(e.into()),
                None => Ok(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<D: Decoder>(codec: &mut D, buf: &mut BytesMut) -> Vec<D::Item>
    where
        D::Error: std::fmt::Debug,
    {
        let mut out = Vec::new();
        while let Some(item) = codec.decode(buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn a_pipelined_conversation_through_both_codecs() {
        let limits = Limits::DEFAULT;
        let mut client = ClientCodec::new(limits);
        let mut server = ServerCodec::new(limits);
        let mut wire = BytesMut::new();

        let mut post = RequestHead::new(Method::POST, "/p").unwrap();
        post.headers.append("transfer-encoding", "chunked").unwrap();
        for item in [
            Message::Head(RequestHead::new(Method::HEAD, "/h").unwrap()),
            Message::End,
            Message::Head(post),
            Message::Data(Bytes::from_static(b"abc")),
            Message::End,
        ] {
            client.encode(item, &mut wire).unwrap();
        }
        let got = drain(&mut server, &mut wire);
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(matches!(&got[0], Message::Head(h) if h.method.is_head()));
        assert_eq!(got[1], Message::End);
        assert_eq!(got[3], Message::Data(Bytes::from_static(b"abc")));
        assert_eq!(got[4], Message::End);

        let mut ok = ResponseHead::new(200);
        ok.headers.append("content-length", "5").unwrap();
        let mut chunked = ResponseHead::new(200);
        chunked
            .headers
            .append("transfer-encoding", "chunked")
            .unwrap();
        let mut back = BytesMut::new();
        for item in [
            // To the HEAD: a length, no body.
            Message::Head(ok),
            Message::End,
            Message::Head(chunked),
            Message::Data(Bytes::from_static(b"xyz")),
            Message::End,
        ] {
            server.encode(item, &mut back).unwrap();
        }
        assert!(back.starts_with(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 200 OK"));
        let got = drain(&mut client, &mut back);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[1], Message::End, "the response to HEAD has no body");
        assert_eq!(got[3], Message::Data(Bytes::from_static(b"xyz")));
        assert!(back.is_empty());
    }

    #[test]
    fn errors_carry_their_side() {
        let mut server = ServerCodec::new(Limits::DEFAULT);
        let mut buf = BytesMut::from(
            &b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
        );
        let err = server.decode(&mut buf).unwrap_err();
        assert_eq!(err.side(), Side::Downstream);
        let mut client = ClientCodec::new(Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"[..]);
        assert!(matches!(
            client.decode(&mut buf).unwrap(),
            Some(Message::Head(_))
        ));
        assert!(matches!(
            client.decode(&mut buf).unwrap(),
            Some(Message::Data(_))
        ));
        let err = client.decode_eof(&mut buf).unwrap_err();
        assert_eq!(err.side(), Side::Upstream);
    }
}
