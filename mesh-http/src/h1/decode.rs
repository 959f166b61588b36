//! The streaming body decoder: Content-Length, chunked and close-delimited
//! bodies, handed out as [`Bytes`] split from the read buffer.

use bytes::BytesMut;

use super::chunked::{Chunk, ChunkedDecoder};
use super::error::{Error, ErrorKind, MessageKind};
use super::framing::Framing;
use super::limits::Limits;

pub use crate::body::Frame;

#[derive(Debug, Clone)]
enum Kind {
    Length { remaining: u64 },
    Chunked(Box<ChunkedDecoder>),
    Close { done: bool },
}

/// Decodes one message body from a read buffer.
///
/// Each call to [`BodyDecoder::decode`] hands out what is available: a
/// [`Frame::Data`] split off the front of the buffer without copying, the
/// trailers, or `None` when it needs more bytes — or when the body is
/// complete, which [`BodyDecoder::is_done`] tells apart. Bytes after the
/// body (a pipelined message) stay in the buffer.
///
/// ```
/// use bytes::BytesMut;
/// use mesh_http::h1::{BodyDecoder, Frame, Framing, Limits, MessageKind};
///
/// let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
/// let mut buf = BytesMut::from(&b"4\r\nWiki\r\n0\r\n\r\nGET /next"[..]);
/// assert_eq!(dec.decode(&mut buf)?, Some(Frame::Data("Wiki".into())));
/// assert_eq!(dec.decode(&mut buf)?, None);
/// assert!(dec.is_done());
/// assert_eq!(&buf[..], b"GET /next");
/// # Ok::<(), mesh_http::h1::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    kind: Kind,
    message: MessageKind,
}

impl BodyDecoder {
    /// A decoder for a body with this framing, in this kind of message
    /// (which decides whom errors blame).
    pub fn new(framing: Framing, message: MessageKind, limits: Limits) -> Self {
        let kind = match framing {
            Framing::Empty => Kind::Length { remaining: 0 },
            Framing::Length(n) => Kind::Length { remaining: n },
            Framing::Chunked => Kind::Chunked(Box::new(ChunkedDecoder::new(limits))),
            Framing::Close => Kind::Close { done: false },
        };
        BodyDecoder { kind, message }
    }

    /// Whether the whole body was decoded.
    pub fn is_done(&self) -> bool {
        match &self.kind {
            Kind::Length { remaining } => *remaining == 0,
            Kind::Chunked(c) => c.is_done(),
            Kind::Close { done } => *done,
        }
    }

    /// The bytes still expected, when the framing says (Content-Length).
    pub fn remaining(&self) -> Option<u64> {
        match &self.kind {
            Kind::Length { remaining } => Some(*remaining),
            _ => None,
        }
    }

    /// Bytes the chunked decoder examined so far (0 for other framings).
    /// Exposed so tests can prove the work linear in the input.
    pub fn steps(&self) -> u64 {
        match &self.kind {
            Kind::Chunked(c) => c.steps(),
            _ => 0,
        }
    }

    /// Decodes from the front of `buf`. See the type's docs.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let message = self.message;
        match &mut self.kind {
            Kind::Length { remaining } => {
                if *remaining == 0 || buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                *remaining -= n as u64;
                Ok(Some(Frame::Data(buf.split_to(n).freeze())))
            }
            Kind::Chunked(c) => match c.decode(buf) {
                Ok(Some(Chunk::Data(d))) => Ok(Some(Frame::Data(d))),
                Ok(Some(Chunk::Trailers(t))) => Ok(Some(Frame::Trailers(t))),
                Ok(None) => Ok(None),
                Err(kind) => Err(Error { kind, message }),
            },
            Kind::Close { done } => {
                if *done || buf.is_empty() {
                    return Ok(None);
                }
                Ok(Some(Frame::Data(buf.split().freeze())))
            }
        }
    }

    /// Decodes after the connection closed: hands out what is left, ends a
    /// close-delimited body, and is an [`ErrorKind::IncompleteBody`] for a
    /// body that needed more.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if self.is_done() {
            return Ok(None);
        }
        match &mut self.kind {
            Kind::Close { done } => {
                *done = true;
                Ok(None)
            }
            Kind::Length { remaining } => Err(Error {
                kind: ErrorKind::IncompleteBody {
                    remaining: *remaining,
                },
                message: self.message,
            }),
            Kind::Chunked(_) => Err(Error {
                kind: ErrorKind::IncompleteBody { remaining: 0 },
                message: self.message,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(dec: &mut BodyDecoder, buf: &mut BytesMut) -> Result<Vec<Frame>, Error> {
        let mut out = Vec::new();
        while let Some(f) = dec.decode(buf)? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn length_body_leaves_the_next_message() {
        let mut dec = BodyDecoder::new(Framing::Length(5), MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"helloGET"[..]);
        let frames = drain(&mut dec, &mut buf).unwrap();
        assert_eq!(frames, [Frame::Data("hello".into())]);
        assert!(dec.is_done());
        assert_eq!(&buf[..], b"GET");
    }

    #[test]
    fn close_delimited_ends_at_eof() {
        let mut dec = BodyDecoder::new(Framing::Close, MessageKind::Response, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(
            dec.decode(&mut buf).unwrap(),
            Some(Frame::Data("abc".into()))
        );
        assert!(!dec.is_done());
        assert_eq!(dec.decode_eof(&mut buf).unwrap(), None);
        assert!(dec.is_done());
    }

    #[test]
    fn early_eof_is_an_incomplete_body_of_the_right_side() {
        let mut dec = BodyDecoder::new(Framing::Length(10), MessageKind::Response, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert!(dec.decode_eof(&mut buf).unwrap().is_some());
        let err = dec.decode_eof(&mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::IncompleteBody { remaining: 7 });
        assert_eq!(mesh_core::ErrorClass::side(&err), mesh_core::Side::Upstream);
        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"5\r\nab"[..]);
        assert!(dec.decode(&mut buf).unwrap().is_some());
        assert!(dec.decode_eof(&mut buf).is_err());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(
            &b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0;last\r\nExpires: never\r\nX-Sum: 12\r\n\r\nNEXT"
                [..],
        );
        let frames = drain(&mut dec, &mut buf).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], Frame::Data("Wiki".into()));
        assert_eq!(frames[1], Frame::Data("pedia".into()));
        let Frame::Trailers(t) = &frames[2] else {
            panic!()
        };
        assert_eq!(t.get("expires").unwrap(), "never");
        assert_eq!(t.get("x-sum").unwrap(), "12");
        assert!(dec.is_done());
        assert_eq!(&buf[..], b"NEXT");
    }

    #[test]
    fn chunk_data_is_not_copied() {
        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"6\r\nzerocp\r\n0\r\n\r\n"[..]);
        let start = buf.as_ptr() as usize;
        let Some(Frame::Data(d)) = dec.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(
            d.as_ptr() as usize,
            start + 3,
            "the frame points into the read buffer"
        );
    }

    #[test]
    fn bad_chunk_terminator_and_trailer_limits() {
        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"2\r\nabX\r\n"[..]);
        let err = drain(&mut dec, &mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidChunkTerminator);

        let limits = Limits {
            max_trailer_bytes: 32,
            ..Limits::DEFAULT
        };
        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, limits);
        let mut buf = BytesMut::from(&b"0\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..]);
        let err = drain(&mut dec, &mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TrailersTooLarge { limit: 32 });

        let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, Limits::DEFAULT);
        let mut buf = BytesMut::from(&b"0\r\nBad Name: x\r\n\r\n"[..]);
        let err = drain(&mut dec, &mut buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::WhitespaceBeforeColon { offset: 3 });
    }
}
