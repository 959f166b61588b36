//! [`RespCodec`]: RESP2/RESP3 framing for `tokio_util::codec::Framed`.

use bytes::BytesMut;
use mesh_core::Side;
use tokio_util::codec::{Decoder, Encoder};

use super::error::{DecodeError, EncodeError};
use super::frame::Frame;
use super::inline;
use super::limits::Limits;
use super::read::Reader;
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

/// A RESP2/RESP3 codec for `tokio_util::codec::Framed`: decodes [`Frame`]s
/// whose strings are slices of the read buffer, encodes `Frame`s.
///
/// Decoding is resumable at any byte and linear: a frame cut anywhere
/// yields `Ok(None)`, and the codec keeps a cursor (see the `scan` module
/// docs) so that a large aggregate arriving in many reads is not scanned
/// again from its start. Once the frame's end is known it is split off the
/// buffer, frozen, and built in one pass. After an error the stream is not
/// RESP any more: drop the connection.
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
    config: DecoderConfig,
    scanner: Scanner,
    steps: u64,
}

impl RespCodec {
    /// A codec with this configuration.
    pub fn new(config: DecoderConfig) -> RespCodec {
        RespCodec {
            config,
            scanner: Scanner::default(),
            steps: 0,
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
        &self.config
    }

    /// Parse steps taken so far: one per frame header looked at (a header
    /// cut by the end of a read counts again when it is read again) plus
    /// one per byte searched for a line terminator. Work is linear when
    /// this grows in proportion to the bytes decoded, however they were
    /// split into reads.
    pub fn steps(&self) -> u64 {
        self.steps + self.scanner.steps
    }

    fn fail(&mut self, fault: super::error::Fault) -> DecodeError {
        self.scanner.reset();
        DecodeError::from_fault(fault, self.config.peer)
    }
}

impl Decoder for RespCodec {
    type Item = Frame;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        loop {
            let scan = match self.scanner.advance(src, &self.config) {
                Ok(scan) => scan,
                Err(fault) => return Err(self.fail(fault)),
            };
            match scan {
                Scan::NeedMore => return Ok(None),
                Scan::Complete(len) => {
                    self.scanner.reset();
                    let bytes = src.split_to(len).freeze();
                    let mut reader = Reader::new(&bytes, &self.config.limits);
                    let result = reader.frame(0);
                    self.steps += reader.steps;
                    return match result {
                        Ok(frame) => Ok(Some(frame)),
                        // The scanner validated the frame; the reader
                        // accepts the same bytes. Keep the error typed
                        // rather than trusting that.
                        Err(super::parse::Stop::Fault(fault)) => Err(self.fail(fault)),
                        Err(super::parse::Stop::Incomplete) => Err(self.fail(
                            super::error::Fault::malformed(super::error::Malformed::Length, len),
                        )),
                    };
                }
                Scan::Inline { line_end, next } => {
                    self.scanner.reset();
                    let bytes = src.split_to(next).freeze();
                    match inline::command(&bytes, line_end) {
                        Ok(Some(frame)) => return Ok(Some(frame)),
                        Ok(None) => continue,
                        Err(fault) => return Err(self.fail(fault)),
                    }
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
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
