//! The decoders' error: what was wrong, where, and whose fault it is.

use std::io;

use mesh_core::{ErrorClass, Side};

use super::bson::BsonError;
use super::{Compressor, OpCode};

/// A MongoDB message that could not be decoded, with the side it came
/// from (the decoder is told whether it reads a client or a server).
///
/// No decode error is [`retry_safe`](ErrorClass::retry_safe): a malformed
/// message is malformed again when resent, and an I/O error may have cut a
/// request the server already received.
#[derive(Debug, thiserror::Error)]
#[error("MongoDB message from the {side}: {kind}")]
pub struct MongoError {
    side: Side,
    #[source]
    kind: MongoErrorKind,
}

impl MongoError {
    /// An error attributed to `side`.
    pub fn new(side: Side, kind: MongoErrorKind) -> Self {
        MongoError { side, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &MongoErrorKind {
        &self.kind
    }

    /// The same error attributed to another side.
    pub fn with_side(mut self, side: Side) -> Self {
        self.side = side;
        self
    }
}

impl ErrorClass for MongoError {
    fn side(&self) -> Side {
        self.side
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

impl From<MongoErrorKind> for MongoError {
    /// Attributes the error to the client; decoders of server traffic say
    /// [`Side::Upstream`] with [`MongoError::with_side`].
    fn from(kind: MongoErrorKind) -> Self {
        MongoError::new(Side::Downstream, kind)
    }
}

impl From<io::Error> for MongoError {
    fn from(e: io::Error) -> Self {
        MongoErrorKind::Io(e).into()
    }
}

/// What was wrong with a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MongoErrorKind {
    /// The header's length is below what the opcode needs (or, before the
    /// opcode has arrived, below what any message needs).
    #[error("message length {length} is below the {min} bytes the message needs ({op:?})")]
    TooShort {
        /// The declared length.
        length: i64,
        /// The least the message needs, header included.
        min: usize,
        /// The opcode, when it had arrived.
        op: Option<OpCode>,
    },
    /// The header's length is over [`Limits::max_message_size`](super::Limits).
    #[error("message length {length} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The declared length.
        length: i64,
        /// The limit.
        limit: usize,
    },
    /// An opcode MongoDB does not define (or has removed).
    #[error("unknown opcode {op_code}")]
    UnknownOpCode {
        /// The header's opcode.
        op_code: i32,
    },
    /// A defined opcode where it cannot be: OP_COMPRESSED inside
    /// OP_COMPRESSED.
    #[error("{op} cannot be {context}")]
    UnexpectedOpCode {
        /// The opcode.
        op: OpCode,
        /// Where it was found.
        context: &'static str,
    },
    /// The message's structure is wrong: a field runs past the end, bytes
    /// are left over, a count disagrees with the contents.
    #[error("malformed {op}: {what} at offset {offset}")]
    Malformed {
        /// The opcode.
        op: OpCode,
        /// What is wrong.
        what: &'static str,
        /// Where, from the start of the message (header included).
        offset: usize,
    },
    /// A BSON document in the message is malformed (or nested too deep).
    #[error("malformed {op} {what} document at offset {offset}: {source}")]
    Bson {
        /// The opcode.
        op: OpCode,
        /// Which document (`body`, `query`, `selector`, ...).
        what: &'static str,
        /// Where the document starts, from the start of the message; the
        /// source's offsets are relative to the document.
        offset: usize,
        /// What is wrong with it.
        #[source]
        source: BsonError,
    },
    /// OP_MSG flag bits 0-15 that the protocol does not define are set:
    /// such bits are required to be understood, so the message must be
    /// rejected.
    #[error("OP_MSG has unknown required flag bits set: 0x{flags:08x}")]
    UnknownRequiredFlags {
        /// All the flag bits.
        flags: u32,
    },
    /// OP_MSG without its one body (kind 0) section, or with two.
    #[error("OP_MSG has {count} body sections, not exactly one")]
    BodySections {
        /// How many kind 0 sections there were.
        count: usize,
    },
    /// An OP_MSG section kind other than 0 or 1.
    #[error("OP_MSG section of unknown kind {kind} at offset {offset}")]
    UnknownSectionKind {
        /// The kind byte.
        kind: u8,
        /// Where it is.
        offset: usize,
    },
    /// The OP_MSG CRC-32C checksum does not match the message.
    #[error("OP_MSG checksum 0x{found:08x} does not match the computed 0x{computed:08x}")]
    ChecksumMismatch {
        /// The checksum in the message.
        found: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// An OP_COMPRESSED compressor id that MongoDB does not define.
    #[error("unknown compressor id {id}")]
    UnknownCompressor {
        /// The id.
        id: u8,
    },
    /// The compressed data is corrupt.
    #[error("{compressor} data is corrupt: {source}")]
    Decompress {
        /// The compressor.
        compressor: Compressor,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
    /// The uncompressed size (declared, or found while decompressing) is
    /// over [`Limits::max_decompressed_size`](super::Limits) or, for
    /// snappy, more than its format can expand the compressed bytes to.
    #[error("{compressor} message inflates to {size} bytes, over the limit of {limit}")]
    DecompressedTooLarge {
        /// The compressor.
        compressor: Compressor,
        /// The size declared or reached.
        size: i64,
        /// The limit applied.
        limit: usize,
    },
    /// The decompressed message is not the size its header declared.
    #[error("{compressor} message declared {declared} bytes uncompressed but inflated to {actual}")]
    DecompressedSizeMismatch {
        /// The compressor.
        compressor: Compressor,
        /// The declared uncompressed size.
        declared: usize,
        /// The actual size.
        actual: usize,
    },
    /// Reading or writing the connection failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
}
