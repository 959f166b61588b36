//! The bounds a RESP decoder enforces on what a peer may send.
//!
//! A proxy decodes bytes from parties it does not trust, so every length a
//! peer declares is checked against a limit before anything is done with
//! it, and nothing is ever allocated in proportion to a declared length:
//! aggregates grow as their elements arrive, bulk payloads are sliced out
//! of the input once they are there. The defaults are the ones Redis
//! itself enforces, so that nothing a real Redis sends or accepts is
//! refused.

/// Limits of one decoder. `Limits::default()` is what Redis enforces.
///
/// ```
/// use mesh_codecs::redis::Limits;
///
/// let strict = Limits { max_bulk_len: 1 << 20, ..Limits::default() };
/// assert_eq!(strict.max_depth, Limits::DEFAULT_MAX_DEPTH);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string, bulk error or verbatim string, in bytes.
    /// Default 512 MiB, Redis's `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// The most elements of one array, set or push, and the most pairs of
    /// one map or attribute. Default `i32::MAX`, the largest multibulk
    /// length Redis accepts.
    pub max_aggregate_len: u64,
    /// How deeply aggregates may nest (an attribute counts as one level).
    /// Default 128.
    pub max_depth: usize,
    /// The longest simple string, simple error, double or big number line,
    /// in bytes, without its CRLF. Redis bounds none of these; the default
    /// is the bulk limit, so that a line is never refused where the same
    /// text as a bulk string would be accepted.
    pub max_line_len: usize,
    /// The longest inline command (`PING\r\n`, telnet style), including its
    /// line ending. Default 64 KiB, Redis's `PROTO_INLINE_MAX_SIZE`.
    pub max_inline_len: usize,
}

impl Limits {
    /// Redis's `proto-max-bulk-len` default.
    pub const DEFAULT_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
    /// Redis's largest multibulk length (`INT_MAX`).
    pub const DEFAULT_MAX_AGGREGATE_LEN: u64 = i32::MAX as u64;
    /// The default nesting depth.
    pub const DEFAULT_MAX_DEPTH: usize = 128;
    /// The default bound of a simple line (the bulk limit).
    pub const DEFAULT_MAX_LINE_LEN: usize = 512 * 1024 * 1024;
    /// Redis's `PROTO_INLINE_MAX_SIZE`.
    pub const DEFAULT_MAX_INLINE_LEN: usize = 64 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: Self::DEFAULT_MAX_BULK_LEN,
            max_aggregate_len: Self::DEFAULT_MAX_AGGREGATE_LEN,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_line_len: Self::DEFAULT_MAX_LINE_LEN,
            max_inline_len: Self::DEFAULT_MAX_INLINE_LEN,
        }
    }
}
