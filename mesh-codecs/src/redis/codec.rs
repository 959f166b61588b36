//! The `tokio_util` codecs: [`RawRespCodec`] yields [`RawFrame`]s (what a
//! proxy forwards), [`RespCodec`] yields owned [`Frame`] trees.

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use tokio_util::codec::{Decoder, Encoder};

use super::error::{DecodeError, EncodeError, Fault};
use super::frame::Frame;
use super::inline;
use super::limits::Limits;
use super::raw::RawFrame;
use super::scan::{Scan, Scanner};

/// How a decoder reads one side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// The bounds on what the peer may send. Default: Redis's own.
    pub limits: Limits,
    /// Whose bytes these are: malformed input is blamed on this side.
    /// Default [`Side::Downstream`].
    pub peer: Side,
    /// Whether a frame that does not start with `*` is an inline command
    /// (`PING\r\n`), as Redis reads requests. Turn it on only where the
    /// bytes are known to be Redis requests (a port named `redis`), never
    /// for replies. Default off.
    pub inline_commands: bool,
}

impl DecoderConfig {
    /// For reading a client's requests, as a Redis server does: inline
    /// commands accepted, errors blamed on the downstream.
    pub fn requests() -> DecoderConfig {
        DecoderConfig {
            limits: Limits::default(),
            peer: Side::Downstream,
            inline_commands: true,
        }
    }

    /// For reading a server's replies: every RESP2 and RESP3 type, no
    /// inline commands, errors blamed on the upstream.
    pub fn replies() -> DecoderConfig {
        DecoderConfig {
            limits: Limits::default(),
            peer: Side::Upstream,
            inline_commands: false,
        }
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            limits: Limits::default(),
            peer: Side::Downstream,
            inline_commands: false,
        }
    }
}

/// Decodes the first frame of `buf` as an owned [`Frame`], zero-copy:
/// its strings are slices of `buf`. Returns the frame and how many bytes
/// it took, or `None` when `buf` ends inside the frame. See
/// [`RawFrame::decode`], which this builds on.
///
/// ```
/// use bytes::Bytes;
/// use mesh_codecs::redis::{decode_frame, DecoderConfig, Frame};
///
/// let buf = Bytes::from_static(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n+OK");
/// let (frame, used) = decode_frame(&buf, &DecoderConfig::default()).unwrap().unwrap();
/// assert_eq!(frame, Frame::command(["GET", "k"]));
/// assert_eq!(used, 20);
/// assert!(decode_frame(&buf.slice(used..), &DecoderConfig::default()).unwrap().is_none());
/// ```
pub fn decode_frame(
    buf: &Bytes,
    config: &DecoderConfig,
) -> Result<Option<(Frame, usize)>, DecodeError> {
    super::raw::decode_owned(buf, config)
}

/// A RESP2/RESP3 codec for `tokio_util::codec::Framed` that yields
/// [`RawFrame`]s: each frame's bytes, split off the read buffer and
/// frozen, with the index the scanner built. Encodes `RawFrame`s by
/// writing their bytes, so a proxy forwards what it decoded unchanged.
///
/// Decoding is resumable at any byte and linear: a frame cut anywhere
/// yields `Ok(None)`, and the codec keeps a cursor (see the `scan` module
/// docs) so that a large aggregate arriving in many reads is scanned once.
/// After an error the stream is not RESP any more: drop the connection.
#[derive(Debug, Default)]
pub struct RawRespCodec {
    config: DecoderConfig,
    scanner: Scanner,
}

impl RawRespCodec {
    /// A codec with this configuration.
    pub fn new(config: DecoderConfig) -> RawRespCodec {
        RawRespCodec {
            config,
            scanner: Scanner::default(),
        }
    }

    /// A codec for a client's requests ([`DecoderConfig::requests`]).
    pub fn requests() -> RawRespCodec {
        RawRespCodec::new(DecoderConfig::requests())
    }

    /// A codec for a server's replies ([`DecoderConfig::replies`]).
    pub fn replies() -> RawRespCodec {
        RawRespCodec::new(DecoderConfig::replies())
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Parse steps taken so far: one per frame header looked at (a header
    /// cut by the end of a read counts again when it is read again) plus
    /// one per byte searched for a line terminator. Work is linear when
    /// this grows in proportion to the bytes decoded, however they were
    /// split into reads.
    pub fn steps(&self) -> u64 {
        self.scanner.steps
    }

    fn fail(&mut self, fault: Fault) -> DecodeError {
        self.scanner.reset();
        DecodeError::from_fault(fault, self.config.peer)
    }
}

impl Decoder for RawRespCodec {
    type Item = RawFrame;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        loop {
            let scan = match self.scanner.advance(src, &self.config) {
                Ok(scan) => scan,
                Err(fault) => return Err(self.fail(fault)),
            };
            match scan {
                Scan::NeedMore => return Ok(None),
                Scan::Complete(len) => {
                    let bytes = src.split_to(len).freeze();
                    return Ok(Some(RawFrame::new(bytes, self.scanner.take_tape())));
                }
                Scan::Inline { line_end, next } => {
                    self.scanner.reset();
                    let line = src.split_to(next).freeze();
                    match inline::command(&line, line_end) {
                        Ok(Some(args)) => return Ok(Some(RawFrame::command(args))),
                        Ok(None) => continue,
                        Err(fault) => return Err(self.fail(fault)),
                    }
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<RawFrame>, DecodeError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(DecodeError::from(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the stream ended inside a RESP frame ({} bytes)", buf.len()),
            ))
            .with_peer(self.config.peer)),
        }
    }
}

impl Encoder<RawFrame> for RawRespCodec {
    type Error = EncodeError;

    fn encode(&mut self, frame: RawFrame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        dst.extend_from_slice(frame.as_bytes());
        Ok(())
    }
}

impl Encoder<&RawFrame> for RawRespCodec {
    type Error = EncodeError;

    fn encode(&mut self, frame: &RawFrame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        dst.extend_from_slice(frame.as_bytes());
        Ok(())
    }
}

/// A RESP2/RESP3 codec for `tokio_util::codec::Framed` that yields owned
/// [`Frame`] trees, whose strings are slices of the read buffer, and
/// encodes `Frame`s. It decodes exactly as [`RawRespCodec`] does (same
/// cursor, same linear work) and then builds the tree from the index,
/// without parsing again.
///
/// ```
/// use bytes::BytesMut;
/// use mesh_codecs::redis::{Frame, RespCodec};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = RespCodec::default();
/// let mut buf = BytesMut::new();
/// codec.encode(Frame::command(["SET", "k", "v"]), &mut buf).unwrap();
/// let tail = buf.split_off(7);
/// assert_eq!(codec.decode(&mut buf).unwrap(), None);
/// buf.unsplit(tail);
/// assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::command(["SET", "k", "v"])));
/// ```
#[derive(Debug, Default)]
pub struct RespCodec {
    raw: RawRespCodec,
}

impl RespCodec {
    /// A codec with this configuration.
    pub fn new(config: DecoderConfig) -> RespCodec {
        RespCodec {
            raw: RawRespCodec::new(config),
        }
    }

    /// A codec for a client's requests ([`DecoderConfig::requests`]).
    pub fn requests() -> RespCodec {
        RespCodec::new(DecoderConfig::requests())
    }

    /// A codec for a server's replies ([`DecoderConfig::replies`]).
    pub fn replies() -> RespCodec {
        RespCodec::new(DecoderConfig::replies())
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        self.raw.config()
    }

    /// Parse steps taken so far; see [`RawRespCodec::steps`].
    pub fn steps(&self) -> u64 {
        self.raw.steps()
    }
}

impl Decoder for RespCodec {
    type Item = Frame;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        Ok(self.raw.decode(src)?.map(|raw| raw.to_frame()))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        Ok(self.raw.decode_eof(buf)?.map(|raw| raw.to_frame()))
    }
}

impl Encoder<Frame> for RespCodec {
    type Error = EncodeError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        frame.encode(dst)
    }
}

impl Encoder<&Frame> for RespCodec {
    type Error = EncodeError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        frame.encode(dst)
    }
}
