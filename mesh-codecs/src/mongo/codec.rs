//! The owned framing: a `tokio_util` codec over `BytesMut`.

use bytes::{BufMut, BytesMut};
use mesh_core::Side;
use tokio_util::codec::{Decoder, Encoder};

use super::message::{check_header, decode_frame};
use super::{Limits, Message, MongoError};

/// Bytes asked of the read buffer at a time while a message is incomplete:
/// the buffer grows as bytes arrive, never by a length the peer declared.
const RESERVE_CHUNK: usize = 64 * 1024;

/// Decodes MongoDB messages from a byte stream and encodes them back.
///
/// - Resumable: a message cut at any byte is `Ok(None)` until the rest
///   arrives. While a message is incomplete each call reads only its
///   header (16 bytes), so total work is linear in the bytes received
///   ([`CodecStats`] counts it).
/// - Zero copy: a complete message is split off the buffer and frozen
///   into [`bytes::Bytes`]; views borrow from it. Only OP_COMPRESSED
///   allocates, for the decompressed message, within
///   [`Limits::max_decompressed_size`].
/// - Validated as the [`Limits`] say before a message is returned; a bad
///   message is a [`MongoError`] attributed to the side the codec reads.
///
/// The encoder writes each message as it arrived on the wire (compressed
/// or not), which is what a relay forwards.
#[derive(Debug, Clone)]
pub struct MongoCodec {
    limits: Limits,
    side: Side,
    stats: CodecStats,
}

/// What a codec has done: enough to prove (and monitor) that decoding is
/// linear in the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodecStats {
    /// Calls to `decode`.
    pub decode_calls: u64,
    /// Header bytes inspected by calls that found no complete message.
    pub header_bytes_inspected: u64,
    /// Bytes of complete messages parsed and validated (wire bytes, plus
    /// the decompressed bytes of OP_COMPRESSED).
    pub bytes_parsed: u64,
    /// Messages decoded.
    pub messages: u64,
}

impl MongoCodec {
    /// A codec for messages from clients (errors are
    /// [`Side::Downstream`]).
    pub fn new(limits: Limits) -> Self {
        MongoCodec {
            limits,
            side: Side::Downstream,
            stats: CodecStats::default(),
        }
    }

    /// A codec for messages from servers (errors are [`Side::Upstream`]).
    pub fn upstream(limits: Limits) -> Self {
        MongoCodec {
            side: Side::Upstream,
            ..Self::new(limits)
        }
    }

    /// The limits.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the codec has done so far.
    pub const fn stats(&self) -> CodecStats {
        self.stats
    }
}

impl Default for MongoCodec {
    /// A client-side codec with the default limits.
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Decoder for MongoCodec {
    type Item = Message;
    type Error = MongoError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, MongoError> {
        self.stats.decode_calls += 1;
        let side = self.side;
        let header = check_header(buf, &self.limits).map_err(|k| MongoError::new(side, k))?;
        let Some((_, _, len)) = header else {
            self.stats.header_bytes_inspected += buf.len().min(super::HEADER_LEN) as u64;
            return Ok(None);
        };
        if buf.len() < len {
            self.stats.header_bytes_inspected += super::HEADER_LEN as u64;
            buf.reserve((len - buf.len()).min(RESERVE_CHUNK));
            return Ok(None);
        }
        let frame = buf.split_to(len).freeze();
        let msg = decode_frame(frame, &self.limits).map_err(|e| e.with_side(side))?;
        self.stats.messages += 1;
        self.stats.bytes_parsed += msg.wire_bytes().len() as u64;
        if msg.compressor().is_some() {
            self.stats.bytes_parsed += msg.as_bytes().len() as u64;
        }
        Ok(Some(msg))
    }
}

impl Encoder<Message> for MongoCodec {
    type Error = MongoError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), MongoError> {
        dst.put_slice(msg.wire_bytes());
        Ok(())
    }
}

impl Encoder<&Message> for MongoCodec {
    type Error = MongoError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), MongoError> {
        dst.put_slice(msg.wire_bytes());
        Ok(())
    }
}
