//! Writing heads and bodies: the inverse of the parser and the body
//! decoder.
//!
//! Head fields are written as they are held (names keep their case);
//! the framing fields are not taken from the head but from the
//! [`Framing`] the caller chose, so a head can never announce one length
//! while the body encoder sends another. Body data is not copied: an
//! [`Encoded`] is a [`Buf`] of the chunk-size line, the data [`Bytes`] and
//! the chunk's CRLF, ready for a vectored write.

use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};

use super::decode::Frame;
use super::framing::Framing;
use super::message::{HeaderMap, RequestHead, ResponseHead};

/// Whether a field is one of the framing fields the encoder writes itself.
fn is_framing_field(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding")
}

fn put_fields(headers: &HeaderMap, framing: Framing, dst: &mut BytesMut) {
    for f in headers {
        if is_framing_field(&f.name) {
            continue;
        }
        dst.put_slice(&f.name);
        dst.put_slice(b": ");
        dst.put_slice(&f.value);
        dst.put_slice(b"\r\n");
    }
    match framing {
        Framing::Length(n) => {
            dst.put_slice(b"content-length: ");
            put_decimal(n, dst);
            dst.put_slice(b"\r\n");
        }
        Framing::Chunked => dst.put_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Empty | Framing::Close => {}
    }
    dst.put_slice(b"\r\n");
}

fn put_decimal(n: u64, dst: &mut BytesMut) {
    dst.put_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Writes a request head. Its own Content-Length and Transfer-Encoding
/// fields are replaced by the one `framing` calls for (none for
/// [`Framing::Empty`]).
pub fn encode_request_head(head: &RequestHead, framing: Framing, dst: &mut BytesMut) {
    dst.reserve(64 + head.target.len() + head.headers.len() * 32);
    dst.put_slice(head.method.as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(&head.target);
    dst.put_u8(b' ');
    dst.put_slice(head.version.as_bytes());
    dst.put_slice(b"\r\n");
    put_fields(&head.headers, framing, dst);
}

/// Writes a response head, replacing its framing fields like
/// [`encode_request_head`]. For a response without a body that still
/// announces a length (to HEAD, a 304), pass that length as
/// [`Framing::Length`] and use an empty body encoder.
pub fn encode_response_head(head: &ResponseHead, framing: Framing, dst: &mut BytesMut) {
    dst.reserve(64 + head.reason.len() + head.headers.len() * 32);
    dst.put_slice(head.version.as_bytes());
    dst.put_u8(b' ');
    let status = head.status.min(999);
    dst.put_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]);
    dst.put_u8(b' ');
    dst.put_slice(&head.reason);
    dst.put_slice(b"\r\n");
    put_fields(&head.headers, framing, dst);
}

/// A body that the encoder cannot send as framed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// More data than the Content-Length announced.
    #[error("body longer than its Content-Length {declared}")]
    TooLong {
        /// The announced length.
        declared: u64,
    },
    /// The body ended before its Content-Length was reached.
    #[error("body ended {remaining} bytes short of its Content-Length")]
    TooShort {
        /// Bytes missing.
        remaining: u64,
    },
    /// Data for a message that cannot have a body.
    #[error("body data for a message without a body")]
    NoBodyAllowed,
    /// A frame after the end of the body.
    #[error("body frame after the end of the body")]
    AfterEnd,
    /// Writing failed (only through the `tokio_util` `Encoder`, whose
    /// `Framed` writer reports I/O errors as the encoder's error type).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ErrorClass for EncodeError {
    /// The body's source (our caller) broke its own framing; an I/O error
    /// is the peer being written to, which only the caller knows, so it is
    /// reported as internal too.
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// The bytes of one encoded frame: the chunk-size line (if chunked), the
/// data, and the chunk's CRLF, as one [`Buf`] that writes without copying
/// the data.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    prefix: [u8; 18],
    prefix_start: usize,
    prefix_end: usize,
    data: Bytes,
    suffix: &'static [u8],
}

impl Encoded {
    fn data(data: Bytes) -> Self {
        Encoded {
            data,
            ..Encoded::default()
        }
    }

    fn chunk(data: Bytes) -> Self {
        let mut prefix = [0u8; 18];
        let len = data.len() as u64;
        let digits = (16 - (len.leading_zeros() / 4) as usize).max(1);
        for (i, slot) in prefix[..digits].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - i);
            *slot = b"0123456789abcdef"[((len >> shift) & 0xf) as usize];
        }
        prefix[digits] = b'\r';
        prefix[digits + 1] = b'\n';
        Encoded {
            prefix,
            prefix_start: 0,
            prefix_end: digits + 2,
            data,
            suffix: b"\r\n",
        }
    }

    fn fixed(bytes: &'static [u8]) -> Self {
        Encoded {
            suffix: bytes,
            ..Encoded::default()
        }
    }
}

impl Buf for Encoded {
    fn remaining(&self) -> usize {
        (self.prefix_end - self.prefix_start) + self.data.len() + self.suffix.len()
    }

    fn chunk(&self) -> &[u8] {
        if self.prefix_start < self.prefix_end {
            &self.prefix[self.prefix_start..self.prefix_end]
        } else if !self.data.is_empty() {
            &self.data
        } else {
            self.suffix
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        let p = (self.prefix_end - self.prefix_start).min(cnt);
        self.prefix_start += p;
        cnt -= p;
        let d = self.data.len().min(cnt);
        self.data.advance(d);
        cnt -= d;
        let s = self.suffix.len().min(cnt);
        self.suffix = &self.suffix[s..];
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let parts = [
            &self.prefix[self.prefix_start..self.prefix_end],
            &self.data[..],
            self.suffix,
        ];
        let mut n = 0;
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some(slot) = dst.get_mut(n) else { break };
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Length { remaining: u64, declared: u64 },
    Chunked,
    Close,
    Empty,
    Done,
}

/// Frames body data for the wire.
///
/// ```
/// use bytes::{Buf, Bytes};
/// use mesh_http::h1::{BodyEncoder, Frame, Framing};
///
/// let mut enc = BodyEncoder::new(Framing::Chunked);
/// let mut wire = Vec::new();
/// for frame in [Frame::Data(Bytes::from("Wiki")), Frame::Data(Bytes::from("pedia"))] {
///     let mut out = enc.encode(frame)?;
///     wire.extend_from_slice(&out.copy_to_bytes(out.remaining()));
/// }
/// let mut end = enc.finish()?;
/// wire.extend_from_slice(&end.copy_to_bytes(end.remaining()));
/// assert_eq!(wire, b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n");
/// # Ok::<(), mesh_http::h1::EncodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    kind: Kind,
}

impl BodyEncoder {
    /// An encoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        let kind = match framing {
            Framing::Empty | Framing::Length(0) => Kind::Empty,
            Framing::Length(n) => Kind::Length {
                remaining: n,
                declared: n,
            },
            Framing::Chunked => Kind::Chunked,
            Framing::Close => Kind::Close,
        };
        BodyEncoder { kind }
    }

    /// Whether the body is complete (nothing more may be encoded).
    pub fn is_done(&self) -> bool {
        match self.kind {
            Kind::Done | Kind::Empty => true,
            Kind::Length { remaining, .. } => remaining == 0,
            Kind::Chunked | Kind::Close => false,
        }
    }

    /// Encodes one frame. Empty data frames produce nothing (an empty chunk
    /// would end a chunked body). Trailers end a chunked body and are
    /// dropped for other framings, which cannot carry them (RFC 9110 §6.5
    /// lets a recipient discard them).
    pub fn encode(&mut self, frame: Frame) -> Result<Encoded, EncodeError> {
        match frame {
            Frame::Data(data) => self.encode_data(data),
            Frame::Trailers(trailers) => self.encode_trailers(&trailers),
        }
    }

    fn encode_data(&mut self, data: Bytes) -> Result<Encoded, EncodeError> {
        if data.is_empty() {
            return Ok(Encoded::default());
        }
        match &mut self.kind {
            Kind::Length {
                remaining,
                declared,
            } => {
                let n = data.len() as u64;
                if n > *remaining {
                    return Err(EncodeError::TooLong {
                        declared: *declared,
                    });
                }
                *remaining -= n;
                Ok(Encoded::data(data))
            }
            Kind::Chunked => Ok(Encoded::chunk(data)),
            Kind::Close => Ok(Encoded::data(data)),
            Kind::Empty => Err(EncodeError::NoBodyAllowed),
            Kind::Done => Err(EncodeError::AfterEnd),
        }
    }

    fn encode_trailers(&mut self, trailers: &HeaderMap) -> Result<Encoded, EncodeError> {
        match self.kind {
            Kind::Chunked => {
                let mut out = BytesMut::with_capacity(8 + trailers.len() * 32);
                out.put_slice(b"0\r\n");
                put_fields(trailers, Framing::Empty, &mut out);
                self.kind = Kind::Done;
                Ok(Encoded::data(out.freeze()))
            }
            Kind::Done => Err(EncodeError::AfterEnd),
            _ => Ok(Encoded::default()),
        }
    }

    /// Ends the body: the last chunk of a chunked body, a check that a
    /// Content-Length body was complete, nothing otherwise.
    pub fn finish(&mut self) -> Result<Encoded, EncodeError> {
        let out = match self.kind {
            Kind::Chunked => Encoded::fixed(b"0\r\n\r\n"),
            Kind::Length { remaining, .. } if remaining > 0 => {
                return Err(EncodeError::TooShort { remaining });
            }
            _ => Encoded::default(),
        };
        self.kind = Kind::Done;
        Ok(out)
    }
}

impl tokio_util::codec::Encoder<Frame> for BodyEncoder {
    type Error = EncodeError;

    /// Copies the encoded frame into `dst` (for `Framed`; drivers write the
    /// [`Encoded`] buffer directly instead).
    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let encoded = BodyEncoder::encode(self, item)?;
        dst.put(encoded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::message::Method;

    fn bytes(mut e: Encoded) -> Vec<u8> {
        let b = e.copy_to_bytes(e.remaining());
        b.to_vec()
    }

    #[test]
    fn heads_replace_framing_fields() {
        let mut head = RequestHead::new(Method::POST, "/upload").unwrap();
        head.headers.append("Host", "a").unwrap();
        head.headers.append("Content-Length", "999").unwrap();
        head.headers.append("Transfer-Encoding", "gzip").unwrap();
        let mut out = BytesMut::new();
        encode_request_head(&head, Framing::Length(5), &mut out);
        assert_eq!(
            &out[..],
            b"POST /upload HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\n"
        );
        let mut res = ResponseHead::new(200);
        res.headers.append("Server", "mesh").unwrap();
        let mut out = BytesMut::new();
        encode_response_head(&res, Framing::Chunked, &mut out);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\nServer: mesh\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let mut out = BytesMut::new();
        encode_response_head(&ResponseHead::new(204), Framing::Empty, &mut out);
        assert_eq!(&out[..], b"HTTP/1.1 204 No Content\r\n\r\n");
        let mut out = BytesMut::new();
        put_decimal(0, &mut out);
        put_decimal(u64::MAX, &mut out);
        assert_eq!(&out[..], b"018446744073709551615");
    }

    #[test]
    fn chunk_prefixes() {
        for (len, prefix) in [
            (1usize, "1"),
            (15, "f"),
            (16, "10"),
            (255, "ff"),
            (4096, "1000"),
        ] {
            let e = Encoded::chunk(Bytes::from(vec![b'x'; len]));
            let out = bytes(e);
            assert!(out.starts_with(format!("{prefix}\r\n").as_bytes()), "{len}");
            assert!(out.ends_with(b"x\r\n"));
            assert_eq!(out.len(), prefix.len() + 2 + len + 2);
        }
    }

    #[test]
    fn vectored_parts_are_the_bytes() {
        let e = Encoded::chunk(Bytes::from_static(b"abc"));
        let mut slices = [IoSlice::new(&[]); 4];
        let n = e.chunks_vectored(&mut slices);
        assert_eq!(n, 3);
        let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.to_vec()).collect();
        assert_eq!(joined, b"3\r\nabc\r\n");
        let mut e = e;
        e.advance(4);
        assert_eq!(e.chunk(), b"bc");
    }

    #[test]
    fn length_is_enforced_and_trailers_end_chunked() {
        let mut enc = BodyEncoder::new(Framing::Length(3));
        assert_eq!(bytes(enc.encode(Frame::Data("ab".into())).unwrap()), b"ab");
        assert!(matches!(
            enc.encode(Frame::Data("cd".into())),
            Err(EncodeError::TooLong { declared: 3 })
        ));
        assert!(matches!(
            enc.finish(),
            Err(EncodeError::TooShort { remaining: 1 })
        ));
        let mut enc = BodyEncoder::new(Framing::Empty);
        assert!(matches!(
            enc.encode(Frame::Data("x".into())),
            Err(EncodeError::NoBodyAllowed)
        ));
        let mut enc = BodyEncoder::new(Framing::Chunked);
        let mut t = HeaderMap::new();
        t.append("grpc-status", "0").unwrap();
        assert_eq!(
            bytes(enc.encode(Frame::Trailers(t)).unwrap()),
            b"0\r\ngrpc-status: 0\r\n\r\n"
        );
        assert!(enc.is_done());
        assert_eq!(bytes(enc.finish().unwrap()), b"");
    }
}
