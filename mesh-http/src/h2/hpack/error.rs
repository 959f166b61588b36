//! HPACK decoding errors.

use std::fmt;

use mesh_core::{ErrorClass, Side};

use super::huffman::HuffmanError;
use crate::h2::ErrorCode;

/// Why a header block could not be decoded.
///
/// Every kind but [`HpackErrorKind::HeaderListTooLarge`] leaves the
/// decoder's table out of step with the peer's encoder: a connection
/// error of type COMPRESSION_ERROR (RFC 9113 §4.3). An oversized header
/// list is reported only after the whole block was processed, so the
/// table stays in sync and only the stream fails.
#[derive(Debug)]
pub struct HpackError {
    side: Side,
    kind: HpackErrorKind,
}

/// What exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HpackErrorKind {
    /// The block ended inside a representation.
    Truncated {
        /// Which part was cut.
        what: &'static str,
    },
    /// An integer does not fit in 32 bits.
    IntegerOverflow,
    /// An index is 0 or beyond the static and dynamic tables.
    InvalidIndex {
        /// The index.
        index: u32,
        /// The number of valid indices (61 + dynamic entries).
        table_len: usize,
    },
    /// A Huffman-coded string is invalid.
    Huffman(HuffmanError),
    /// A dynamic table size update above our SETTINGS_HEADER_TABLE_SIZE.
    TableSizeTooLarge {
        /// The size the update asked for.
        size: u32,
        /// Our setting.
        max: usize,
    },
    /// A dynamic table size update after a header field (RFC 7541 §4.2
    /// allows them only at the start of a block).
    TableSizeUpdateNotFirst,
    /// We lowered SETTINGS_HEADER_TABLE_SIZE below the table's size and
    /// the next block did not start with a size update (RFC 7541 §4.2).
    TableSizeUpdateMissing {
        /// The setting the peer must comply with.
        max: usize,
    },
    /// The decoded header list exceeds our limit (its RFC 9113 size: name,
    /// value and 32 per field).
    HeaderListTooLarge {
        /// The size decoded before giving up (at least `limit + 1`).
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl HpackError {
    /// An error of `kind` attributed to `side`.
    pub fn new(side: Side, kind: HpackErrorKind) -> Self {
        HpackError { side, kind }
    }

    /// What was wrong.
    pub fn kind(&self) -> &HpackErrorKind {
        &self.kind
    }

    /// Whether only the stream the block belongs to fails (the decoder
    /// is still in sync): true for an oversized header list only.
    pub fn is_stream_error(&self) -> bool {
        matches!(self.kind, HpackErrorKind::HeaderListTooLarge { .. })
    }

    /// The RFC 9113 error code: COMPRESSION_ERROR for the connection, or
    /// for an oversized list PROTOCOL_ERROR on the stream (a server may
    /// answer 431 instead, RFC 9113 §10.5.1).
    pub fn code(&self) -> ErrorCode {
        if self.is_stream_error() {
            ErrorCode::PROTOCOL_ERROR
        } else {
            ErrorCode::COMPRESSION_ERROR
        }
    }
}

impl fmt::Display for HpackErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HpackErrorKind as K;
        match self {
            K::Truncated { what } => write!(f, "the header block ends inside {what}"),
            K::IntegerOverflow => f.write_str("an HPACK integer exceeds 32 bits"),
            K::InvalidIndex { index, table_len } => write!(
                f,
                "index {index} is not in the header table (1..={table_len})"
            ),
            K::Huffman(e) => fmt::Display::fmt(e, f),
            K::TableSizeTooLarge { size, max } => write!(
                f,
                "dynamic table size update to {size} exceeds SETTINGS_HEADER_TABLE_SIZE {max}"
            ),
            K::TableSizeUpdateNotFirst => {
                f.write_str("dynamic table size update after a header field")
            }
            K::TableSizeUpdateMissing { max } => write!(
                f,
                "the block does not start with the dynamic table size update required after SETTINGS_HEADER_TABLE_SIZE was lowered to {max}"
            ),
            K::HeaderListTooLarge { size, limit } => write!(
                f,
                "decoded header list of {size} bytes exceeds the limit of {limit}"
            ),
        }
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP/2 {}, {})", self.kind, self.code(), self.side)
    }
}

impl std::error::Error for HpackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            HpackErrorKind::Huffman(e) => Some(e),
            _ => None,
        }
    }
}

impl ErrorClass for HpackError {
    fn side(&self) -> Side {
        self.side
    }

    /// A block that cannot be decoded says nothing about what reached the
    /// application: never retry-safe.
    fn retry_safe(&self) -> bool {
        false
    }
}
