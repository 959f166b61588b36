//! Length-prefixed messages: the body of every gRPC stream.
//!
//! Each message is a 5-byte prefix (a flag byte, 1 when the message is
//! compressed, then the length as a 32-bit big-endian number) followed by
//! that many bytes. Messages do not line up with HTTP/2 DATA frames: one
//! frame may hold several messages, and one message may span many frames.
//!
//! [`MessageCodec`] reads them with `tokio_util`'s [`Decoder`] out of a
//! `BytesMut` the caller fills with DATA payloads:
//!
//! - each payload is split out of the buffer as frozen [`Bytes`], never
//!   copied (a compressed one is inflated, which is a copy by nature);
//! - the length is checked against [`Limits::max_message_size`] as soon as
//!   the prefix is there, before the payload arrives, and no memory is
//!   reserved for it in advance: a peer announcing 4 GiB costs nothing;
//! - inflating stops as soon as the output passes the same limit;
//! - the input may be cut anywhere: a partial prefix or payload is
//!   `Ok(None)`. Once the prefix is read the codec remembers it, so every
//!   further call until the message is complete costs one comparison, and
//!   total work stays linear however finely the message arrives.
//!
//! [`MessageCodec::decode_message`] yields the [`Message`] as framed
//! (compressed flag and payload as they were), for a proxy that counts or
//! inspects messages without inflating them; [`Decoder::decode`] yields the
//! message as the application sees it.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use tokio_util::codec::{Decoder, Encoder};

use super::Code;
use super::compression::{self, Encoding, InflateError};

/// Bytes of the prefix: the flag and the 4-byte length.
pub const PREFIX_LEN: usize = 5;

/// The compressed-flag value of an uncompressed message.
const FLAG_PLAIN: u8 = 0;
/// The compressed-flag value of a compressed message.
const FLAG_COMPRESSED: u8 = 1;

/// Limits of a [`MessageCodec`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The largest message accepted, in bytes: both the length on the wire
    /// and, for a compressed message, the inflated size. Default 4 MiB,
    /// gRPC's default maximum receive message size; a larger message is
    /// `RESOURCE_EXHAUSTED`.
    pub max_message_size: usize,
}

impl Limits {
    /// gRPC's default maximum receive message size: 4 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// One message as framed on the wire.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Message {
    /// The compressed flag: the payload is compressed with the stream's
    /// `grpc-encoding`.
    pub compressed: bool,
    /// The payload as sent: a slice of the read buffer.
    pub payload: Bytes,
}

impl Message {
    /// An uncompressed message.
    pub fn new(payload: impl Into<Bytes>) -> Message {
        Message {
            compressed: false,
            payload: payload.into(),
        }
    }

    /// The bytes this message takes on the wire, prefix included.
    pub fn wire_len(&self) -> usize {
        PREFIX_LEN + self.payload.len()
    }
}

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (gRPC {code}, {side})", code = self.code())]
pub struct MessageError {
    side: Side,
    #[source]
    kind: MessageErrorKind,
}

/// What exactly was wrong, with the values involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageErrorKind {
    /// The prefix announces a message above the limit.
    #[error("message of {length} bytes exceeds the maximum message size {max}")]
    TooLarge {
        /// The announced length.
        length: usize,
        /// [`Limits::max_message_size`].
        max: usize,
    },
    /// A compressed message inflates to more than the limit.
    #[error(
        "compressed message of {compressed} bytes inflates past the maximum message size {max}"
    )]
    InflatesTooLarge {
        /// The compressed length.
        compressed: usize,
        /// [`Limits::max_message_size`].
        max: usize,
    },
    /// The flag byte is neither 0 nor 1 (the other bits are reserved).
    #[error("invalid message flags 0x{flags:02x}")]
    BadFlags {
        /// The flag byte.
        flags: u8,
    },
    /// A message is flagged compressed, but the stream declared no
    /// `grpc-encoding` (the spec makes this INTERNAL).
    #[error("compressed message on a stream without grpc-encoding")]
    CompressedWithoutEncoding,
    /// A compressed message is not valid in its encoding.
    #[error("corrupt {} message: {source}", encoding.as_str())]
    Corrupt {
        /// The stream's encoding.
        encoding: Encoding,
        /// What the decompressor said.
        source: io::Error,
    },
    /// The stream ended inside a message.
    #[error("stream ended inside a message: {have} of {need} bytes of its {part}")]
    Truncated {
        /// `"prefix"` or `"payload"`.
        part: &'static str,
        /// Bytes that arrived.
        have: usize,
        /// Bytes that were needed.
        need: usize,
    },
    /// We were asked to send a message whose length does not fit in the
    /// 32-bit prefix.
    #[error("cannot send a message of {length} bytes: the prefix holds at most 4 GiB - 1")]
    SendTooLarge {
        /// The payload length (after compression).
        length: usize,
    },
    /// Reading or writing the transport failed.
    #[error("message I/O failed: {0}")]
    Io(io::Error),
}

impl MessageError {
    /// An error of `kind`, attributed to `side`.
    pub fn new(side: Side, kind: MessageErrorKind) -> MessageError {
        MessageError { side, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &MessageErrorKind {
        &self.kind
    }

    /// The gRPC status to end the stream with: `RESOURCE_EXHAUSTED` for a
    /// message over a limit, `UNAVAILABLE` for a transport failure,
    /// `INTERNAL` for a malformed message (what gRPC implementations send).
    pub fn code(&self) -> Code {
        use MessageErrorKind as K;
        match &self.kind {
            K::TooLarge { .. } | K::InflatesTooLarge { .. } | K::SendTooLarge { .. } => {
                Code::ResourceExhausted
            }
            K::Io(_) => Code::Unavailable,
            K::BadFlags { .. }
            | K::CompressedWithoutEncoding
            | K::Corrupt { .. }
            | K::Truncated { .. } => Code::Internal,
        }
    }
}

impl From<io::Error> for MessageError {
    /// Transport errors reach the codec through `tokio_util`'s `Framed`,
    /// which does not say whose socket failed: they are attributed to
    /// [`Side::Internal`] here and re-attributed by the stream's owner.
    fn from(e: io::Error) -> Self {
        MessageError::new(Side::Internal, MessageErrorKind::Io(e))
    }
}

impl ErrorClass for MessageError {
    fn side(&self) -> Side {
        self.side
    }

    /// A bad message arrives after the request was sent (or is our own
    /// message we could not send mid-stream): never a safe retry.
    fn retry_safe(&self) -> bool {
        false
    }
}

/// Reads and writes the messages of one direction of a stream each way;
/// see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MessageCodec {
    peer: Side,
    limits: Limits,
    recv: Encoding,
    send: Encoding,
    /// The prefix of the message in progress, once read: (compressed, length).
    pending: Option<(bool, usize)>,
}

impl MessageCodec {
    /// A codec whose decode errors are attributed to `peer`
    /// ([`Side::Downstream`] for requests a server reads,
    /// [`Side::Upstream`] for responses a client reads). Both encodings
    /// start as identity.
    pub fn new(peer: Side, limits: Limits) -> MessageCodec {
        MessageCodec {
            peer,
            limits,
            recv: Encoding::Identity,
            send: Encoding::Identity,
            pending: None,
        }
    }

    /// The encoding the peer declared in its `grpc-encoding`: compressed
    /// messages are inflated with it.
    pub fn recv_encoding(mut self, encoding: Encoding) -> MessageCodec {
        self.recv = encoding;
        self
    }

    /// The encoding we declared in our `grpc-encoding`: every message we
    /// encode from `Bytes` is compressed with it (identity sends plain).
    pub fn send_encoding(mut self, encoding: Encoding) -> MessageCodec {
        self.send = encoding;
        self
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether a message has begun but not completed: at the end of the
    /// stream that is a truncated message.
    pub fn is_mid_message(&self) -> bool {
        self.pending.is_some()
    }

    fn error(&self, kind: MessageErrorKind) -> MessageError {
        MessageError::new(self.peer, kind)
    }

    /// Splits the next message out of `buf`, as framed, without inflating
    /// it: `Ok(None)` until it is complete.
    #[inline]
    pub fn decode_message(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, MessageError> {
        if let Some((compressed, len)) = self.pending {
            if buf.len() < len {
                return Ok(None);
            }
            self.pending = None;
            return Ok(Some(Message {
                compressed,
                payload: buf.split_to(len).freeze(),
            }));
        }
        let Some((compressed, len)) = self.read_prefix(buf)? else {
            return Ok(None);
        };
        if buf.len() - PREFIX_LEN >= len {
            // The whole message is there (the common case): one split, and
            // the prefix dropped from the frozen view.
            let mut payload = buf.split_to(PREFIX_LEN + len).freeze();
            payload.advance(PREFIX_LEN);
            return Ok(Some(Message {
                compressed,
                payload,
            }));
        }
        // Consume the prefix and remember it: until the payload is whole,
        // each call is one comparison.
        buf.advance(PREFIX_LEN);
        self.pending = Some((compressed, len));
        Ok(None)
    }

    /// The prefix at the start of `buf`, checked (flags, limit); `None`
    /// while fewer than [`PREFIX_LEN`] bytes are there.
    #[inline]
    fn read_prefix(&self, buf: &[u8]) -> Result<Option<(bool, usize)>, MessageError> {
        let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let compressed = match prefix[0] {
            FLAG_PLAIN => false,
            FLAG_COMPRESSED => true,
            flags => return Err(self.error(MessageErrorKind::BadFlags { flags })),
        };
        let [_, a, b, c, d] = *prefix;
        let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
        if len > self.limits.max_message_size {
            return Err(self.error(MessageErrorKind::TooLarge {
                length: len,
                max: self.limits.max_message_size,
            }));
        }
        Ok(Some((compressed, len)))
    }

    /// Splits the next message out of a frozen buffer (an HTTP/2 DATA
    /// payload) when the whole message is there: a view of `data`, no
    /// copy. `Ok(None)` leaves `data` untouched; the caller then copies
    /// what is left into a `BytesMut` and goes on with
    /// [`decode_message`](Self::decode_message), which is also the only
    /// way to continue while [`is_mid_message`](Self::is_mid_message).
    #[inline]
    pub fn split_message(&mut self, data: &mut Bytes) -> Result<Option<Message>, MessageError> {
        if self.pending.is_some() {
            return Ok(None);
        }
        let Some((compressed, len)) = self.read_prefix(data)? else {
            return Ok(None);
        };
        if data.len() - PREFIX_LEN < len {
            return Ok(None);
        }
        let mut payload = data.split_to(PREFIX_LEN + len);
        payload.advance(PREFIX_LEN);
        Ok(Some(Message {
            compressed,
            payload,
        }))
    }

    /// A framed message as the application sees it: inflated if its flag
    /// says compressed, the payload itself otherwise.
    #[inline]
    pub fn open(&self, message: Message) -> Result<Bytes, MessageError> {
        if !message.compressed {
            return Ok(message.payload);
        }
        match self.recv {
            Encoding::Identity => Err(self.error(MessageErrorKind::CompressedWithoutEncoding)),
            Encoding::Gzip => compression::gunzip(&message.payload, self.limits.max_message_size)
                .map_err(|e| {
                    self.error(match e {
                        InflateError::TooLarge => MessageErrorKind::InflatesTooLarge {
                            compressed: message.payload.len(),
                            max: self.limits.max_message_size,
                        },
                        InflateError::Corrupt(source) => MessageErrorKind::Corrupt {
                            encoding: Encoding::Gzip,
                            source,
                        },
                    })
                }),
        }
    }

    /// The error for a stream that ended with `buf` left over, if any.
    fn truncated(&self, buf: &BytesMut) -> Option<MessageError> {
        let (part, need) = match self.pending {
            Some((_, len)) => ("payload", len),
            None if !buf.is_empty() => ("prefix", PREFIX_LEN),
            None => return None,
        };
        Some(self.error(MessageErrorKind::Truncated {
            part,
            have: buf.len(),
            need,
        }))
    }

    /// Checks the end of the stream for raw decoding: [`Self::decode_message`]
    /// until `None`, then this, which fails if a message was cut off.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), MessageError> {
        self.truncated(buf).map_or(Ok(()), Err)
    }
}

impl Decoder for MessageCodec {
    type Item = Bytes;
    type Error = MessageError;

    #[inline]
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, MessageError> {
        match self.decode_message(buf)? {
            Some(message) => self.open(message).map(Some),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, MessageError> {
        match self.decode(buf)? {
            Some(message) => Ok(Some(message)),
            None => self.finish(buf).map(|()| None),
        }
    }
}

impl MessageCodec {
    /// Whether messages are sent uncompressed.
    pub(crate) fn sends_identity(&self) -> bool {
        self.send == Encoding::Identity
    }

    /// Writes a prefix for a payload of `len` bytes.
    pub(crate) fn put_prefix(
        &self,
        compressed: bool,
        len: usize,
        dst: &mut BytesMut,
    ) -> Result<(), MessageError> {
        let length = u32::try_from(len).map_err(|_| {
            MessageError::new(
                Side::Internal,
                MessageErrorKind::SendTooLarge { length: len },
            )
        })?;
        dst.put_u8(if compressed {
            FLAG_COMPRESSED
        } else {
            FLAG_PLAIN
        });
        dst.put_u32(length);
        Ok(())
    }
}

impl Encoder<Bytes> for MessageCodec {
    type Error = MessageError;

    /// Frames `payload`, compressed with our send encoding.
    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), MessageError> {
        <Self as Encoder<&[u8]>>::encode(self, &payload, dst)
    }
}

impl Encoder<&[u8]> for MessageCodec {
    type Error = MessageError;

    /// Frames `payload`, compressed with our send encoding.
    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), MessageError> {
        match self.send {
            Encoding::Identity => {
                self.put_prefix(false, payload.len(), dst)?;
                dst.put_slice(payload);
            }
            Encoding::Gzip => {
                let start = dst.len();
                dst.put_slice(&[FLAG_COMPRESSED, 0, 0, 0, 0]);
                compression::gzip(payload, dst);
                let len = dst.len() - start - PREFIX_LEN;
                let Ok(length) = u32::try_from(len) else {
                    dst.truncate(start);
                    return Err(MessageError::new(
                        Side::Internal,
                        MessageErrorKind::SendTooLarge { length: len },
                    ));
                };
                dst[start + 1..start + PREFIX_LEN].copy_from_slice(&length.to_be_bytes());
            }
        }
        Ok(())
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = MessageError;

    /// Frames a message as it is (a proxy forwarding what it read): the
    /// flag and payload are written unchanged, whatever our send encoding.
    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), MessageError> {
        self.put_prefix(message.compressed, message.payload.len(), dst)?;
        dst.put_slice(&message.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> MessageCodec {
        MessageCodec::new(Side::Downstream, Limits::default())
    }

    #[test]
    fn spec_vectors() {
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x05hello\x00\x00\x00\x00\x00"[..]);
        let mut c = codec();
        assert_eq!(c.decode(&mut buf).unwrap().unwrap(), "hello");
        // A 0-byte message is a message.
        assert_eq!(c.decode(&mut buf).unwrap().unwrap(), "");
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
        assert_eq!(c.decode_eof(&mut buf).unwrap(), None);

        let mut out = BytesMut::new();
        c.encode(Bytes::from_static(b"hello"), &mut out).unwrap();
        c.encode(Bytes::new(), &mut out).unwrap();
        assert_eq!(&out[..], b"\x00\x00\x00\x00\x05hello\x00\x00\x00\x00\x00");
    }

    #[test]
    fn payload_is_a_slice_of_the_buffer() {
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x03abc"[..]);
        let base = buf.as_ptr() as usize;
        let m = codec().decode(&mut buf).unwrap().unwrap();
        assert_eq!(m.as_ptr() as usize, base + PREFIX_LEN, "no copy");
    }

    #[test]
    fn limit_checked_at_the_prefix() {
        let mut c = MessageCodec::new(
            Side::Upstream,
            Limits {
                max_message_size: 4,
            },
        );
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x05"[..]);
        let e = c.decode(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            MessageErrorKind::TooLarge { length: 5, max: 4 }
        ));
        assert_eq!(
            (e.code(), e.side()),
            (Code::ResourceExhausted, Side::Upstream)
        );
        assert!(!e.retry_safe());
        // The largest prefix a peer can send costs nothing either.
        let mut buf = BytesMut::from(&b"\x00\xff\xff\xff\xff"[..]);
        let e = codec().decode(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), MessageErrorKind::TooLarge { length, .. } if *length == u32::MAX as usize),
            "{e}"
        );
        // Exactly at the limit is fine.
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x04abcd"[..]);
        assert_eq!(c.decode(&mut buf).unwrap().unwrap(), "abcd");
    }

    #[test]
    fn flags() {
        for flags in [2u8, 0x80, 0xff] {
            let mut buf = BytesMut::from(&[flags, 0, 0, 0, 0][..]);
            let e = codec().decode(&mut buf).unwrap_err();
            assert!(matches!(e.kind(), MessageErrorKind::BadFlags { flags: f } if *f == flags));
            assert_eq!(e.code(), Code::Internal);
        }
        let mut buf = BytesMut::from(&b"\x01\x00\x00\x00\x01x"[..]);
        let e = codec().decode(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            MessageErrorKind::CompressedWithoutEncoding
        ));
        // Raw decoding hands the compressed message over as it is.
        let mut buf = BytesMut::from(&b"\x01\x00\x00\x00\x01x"[..]);
        let m = codec().decode_message(&mut buf).unwrap().unwrap();
        assert!(m.compressed && m.payload == "x");
    }

    #[test]
    fn gzip_both_ways() {
        let mut tx = codec().send_encoding(Encoding::Gzip);
        let mut rx = codec().recv_encoding(Encoding::Gzip);
        let text = b"abcabcabc".repeat(1000);
        let mut wire = BytesMut::new();
        tx.encode(Bytes::from(text.clone()), &mut wire).unwrap();
        assert_eq!(wire[0], 1);
        assert!(wire.len() < 200, "{}", wire.len());
        let len = u32::from_be_bytes(wire[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, wire.len() - PREFIX_LEN);
        // An uncompressed message on a gzip stream is fine too.
        codec()
            .encode(Bytes::from_static(b"plain"), &mut wire)
            .unwrap();
        assert_eq!(rx.decode(&mut wire).unwrap().unwrap(), text);
        assert_eq!(rx.decode(&mut wire).unwrap().unwrap(), "plain");
    }

    #[test]
    fn inflating_is_bounded() {
        let mut tx = codec().send_encoding(Encoding::Gzip);
        let mut wire = BytesMut::new();
        tx.encode(Bytes::from(vec![0u8; 1 << 20]), &mut wire)
            .unwrap();
        let mut rx = MessageCodec::new(
            Side::Upstream,
            Limits {
                max_message_size: 64 << 10,
            },
        )
        .recv_encoding(Encoding::Gzip);
        let e = rx.decode(&mut wire).unwrap_err();
        assert!(
            matches!(e.kind(), MessageErrorKind::InflatesTooLarge { max, .. } if *max == 64 << 10),
            "{e}"
        );
        assert_eq!(e.code(), Code::ResourceExhausted);

        let mut wire = BytesMut::from(&b"\x01\x00\x00\x00\x03abc"[..]);
        let e = codec()
            .recv_encoding(Encoding::Gzip)
            .decode(&mut wire)
            .unwrap_err();
        assert!(matches!(e.kind(), MessageErrorKind::Corrupt { .. }), "{e}");
    }

    #[test]
    fn truncation_at_eof() {
        let mut c = codec();
        let mut buf = BytesMut::from(&b"\x00\x00\x00"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        let e = c.decode_eof(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            MessageErrorKind::Truncated {
                part: "prefix",
                have: 3,
                need: 5
            }
        ));
        let mut c = codec();
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x09abc"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert!(c.is_mid_message());
        let e = c.decode_eof(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            MessageErrorKind::Truncated {
                part: "payload",
                have: 3,
                need: 9
            }
        ));
        assert_eq!(e.code(), Code::Internal);
    }

    #[test]
    fn raw_messages_pass_through_unchanged() {
        let mut c = codec().send_encoding(Encoding::Gzip);
        let m = Message {
            compressed: true,
            payload: Bytes::from_static(b"not really gzip"),
        };
        let mut out = BytesMut::new();
        c.encode(m.clone(), &mut out).unwrap();
        assert_eq!(out.len(), m.wire_len());
        assert_eq!(c.decode_message(&mut out).unwrap().unwrap(), m);
    }
}
