//! What the decoders accept: sizes, depth, and how much is validated.

/// How much of each BSON document the decoder checks before it hands a
/// message out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Validation {
    /// Every document of every message is validated completely (elements,
    /// values, nested documents to [`Limits::max_bson_depth`]), so a
    /// message that decodes is well formed throughout. The default: a
    /// proxy should not forward what the server would reject as corrupt.
    #[default]
    Full,
    /// Only the message structure and each document's frame (length
    /// prefix and terminator) are checked; elements are checked lazily as
    /// they are read. For observers that read a few fields of large
    /// messages and forward the bytes untouched.
    Frame,
}

/// Limits of the MongoDB decoders. Exceeding one is a typed error
/// ([`MongoErrorKind`](super::MongoErrorKind)), never a panic, and nothing
/// is allocated in proportion to a length read from the network before
/// that many bytes (or, for compressed messages, their compressed form)
/// have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// The largest message, header included. Default 48,000,000 bytes,
    /// mongod's `maxMessageSizeBytes`, which drivers learn from `hello`
    /// and never exceed.
    pub max_message_size: usize,
    /// The largest message after decompression, header included: a small
    /// `OP_COMPRESSED` message that declares or inflates to more is a
    /// decompression bomb and an error. Default 48,000,000 bytes, the same
    /// limit mongod applies to the uncompressed message.
    pub max_decompressed_size: usize,
    /// The deepest nesting of BSON documents and arrays, the top-level
    /// document counting as 1. Default 200, mongod's default
    /// `maxBSONDepth`; capped at [`MAX_DEPTH_CAP`](super::bson::MAX_DEPTH_CAP).
    pub max_bson_depth: usize,
    /// How much of each document is validated at decode time. Default
    /// [`Validation::Full`].
    pub validation: Validation,
}

impl Limits {
    /// The default [`max_message_size`](Self::max_message_size).
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;
    /// The default [`max_decompressed_size`](Self::max_decompressed_size).
    pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 48_000_000;
    /// The default [`max_bson_depth`](Self::max_bson_depth).
    pub const DEFAULT_MAX_BSON_DEPTH: usize = 200;

    /// These limits with another message size limit.
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// These limits with another decompressed size limit.
    pub const fn with_max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed_size = bytes;
        self
    }

    /// These limits with another depth limit.
    pub const fn with_max_bson_depth(mut self, depth: usize) -> Self {
        self.max_bson_depth = depth;
        self
    }

    /// These limits with another validation level.
    pub const fn with_validation(mut self, validation: Validation) -> Self {
        self.validation = validation;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            max_decompressed_size: Self::DEFAULT_MAX_DECOMPRESSED_SIZE,
            max_bson_depth: Self::DEFAULT_MAX_BSON_DEPTH,
            validation: Validation::Full,
        }
    }
}
