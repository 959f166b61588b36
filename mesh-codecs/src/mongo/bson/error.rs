//! What can be wrong with BSON bytes.

use super::ElementType;

/// A malformed BSON document, or a value of another type than asked for.
///
/// Offsets are relative to the start of the document being read, so a log
/// line can point at the byte; `what` names the part being read (a key, a
/// string, a nested document...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BsonError {
    /// Fewer bytes than the smallest document (5) or than the length
    /// prefix says.
    #[error(
        "BSON document truncated: {what} needs {needed} bytes at offset {offset}, {available} available"
    )]
    Truncated {
        /// The part that did not fit.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes are left.
        available: usize,
    },
    /// A length prefix that is negative, too small for its type, or
    /// different from the bytes given.
    #[error("BSON {what} at offset {offset} has invalid length {length}")]
    BadLength {
        /// The part whose length is wrong.
        what: &'static str,
        /// Where the length prefix is.
        offset: usize,
        /// The length read.
        length: i64,
    },
    /// A document, string or code that does not end with its NUL byte, or
    /// a document whose elements end before its terminator.
    #[error("BSON {what} at offset {offset} is not NUL-terminated")]
    MissingTerminator {
        /// The part without its terminator.
        what: &'static str,
        /// Where the terminator should be.
        offset: usize,
    },
    /// A key or regular-expression part without its NUL byte.
    #[error("BSON {what} at offset {offset} is an unterminated C string")]
    UnterminatedCString {
        /// The part being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A key, string, code, symbol, regular expression or namespace that is
    /// not UTF-8.
    #[error("BSON {what} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// The part being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// An element type byte that BSON does not define.
    #[error("unknown BSON element type 0x{tag:02x} at offset {offset}")]
    UnknownType {
        /// The type byte.
        tag: u8,
        /// Where it is.
        offset: usize,
    },
    /// A boolean byte other than 0 or 1.
    #[error("BSON boolean at offset {offset} has value {value}, not 0 or 1")]
    InvalidBool {
        /// The byte read.
        value: u8,
        /// Where it is.
        offset: usize,
    },
    /// Documents nested deeper than the limit allows.
    #[error("BSON nesting deeper than the limit of {limit} at offset {offset}")]
    TooDeep {
        /// The depth limit.
        limit: usize,
        /// The offset of the document that went over it.
        offset: usize,
    },
    /// A typed accessor found the key with a value of another type.
    #[error("BSON value at offset {offset} is {found:?}, expected {expected:?}")]
    UnexpectedType {
        /// The type asked for.
        expected: ElementType,
        /// The type found.
        found: ElementType,
        /// Where the element starts.
        offset: usize,
    },
    /// A key or regular-expression part given to the writer contains a NUL
    /// byte, which a BSON C string cannot hold.
    #[error("BSON {what} contains a NUL byte")]
    ContainsNul {
        /// The part being written.
        what: &'static str,
    },
    /// A document or string being written exceeds BSON's 2 GiB length limit.
    #[error("BSON value of {len} bytes exceeds the i32 length limit")]
    TooLarge {
        /// The length that did not fit.
        len: usize,
    },
}
