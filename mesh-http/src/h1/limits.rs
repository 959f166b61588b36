//! The limits every HTTP/1 decoder enforces, with their defaults.

/// Bounds on what a peer may make the codec buffer, and the one strictness
/// switch (bare LF line endings).
///
/// Every limit is checked before the bytes it bounds are buffered any
/// further: a head that is not complete within [`Limits::max_head_bytes`]
/// is an error as soon as that many bytes have arrived, not when the head
/// ends. Exceeding a limit is a typed error whose status is the one a
/// server answers with (414 for the request line, 431 for the head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest head (start line, fields and the empty line), in bytes.
    /// Default 64 KiB, as hyper and Envoy; larger heads get 431.
    pub max_head_bytes: usize,
    /// The most header fields (and trailer fields) of one message.
    /// Default 100, Envoy's default; more get 431.
    pub max_headers: usize,
    /// The longest request line, in bytes, including its line ending.
    /// Default 8 KiB, as nginx's `large_client_header_buffers`; longer
    /// request lines get 414 (URI Too Long).
    pub max_request_line: usize,
    /// The longest chunk-size line (size, extensions and CRLF). Default
    /// 4 KiB: extensions are rare and a long run of them is an attack on
    /// the decoder's time, not a use.
    pub max_chunk_line: usize,
    /// The largest trailer section of a chunked body. Default 16 KiB.
    pub max_trailer_bytes: usize,
    /// Accept a bare LF as a line ending in heads and chunk lines.
    ///
    /// RFC 9112 §2.2 allows a recipient to accept it, but a proxy that does
    /// while its upstream does not (or the reverse) splits a message in two
    /// places, which is how request smuggling works. Off by default; turn
    /// it on only towards peers known to send bare LF.
    pub allow_bare_lf: bool,
}

impl Limits {
    /// The defaults, as a constant.
    pub const DEFAULT: Limits = Limits {
        max_head_bytes: 64 * 1024,
        max_headers: 100,
        max_request_line: 8 * 1024,
        max_chunk_line: 4 * 1024,
        max_trailer_bytes: 16 * 1024,
        allow_bare_lf: false,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
