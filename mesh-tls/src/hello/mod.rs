//! A zero-copy parser of the TLS ClientHello: what a proxy needs to route
//! TLS it does not terminate (SNI), to tell mesh mTLS from an application's
//! own TLS (ALPN), and to fingerprint clients (JA3).
//!
//! [`parse`] reads the record layer and the handshake message from the
//! first bytes of a connection. It is resumable in the simplest way: a
//! ClientHello is bounded ([`Limits::max_hello_len`], 16 KiB by default),
//! so a prefix that stops anywhere inside it gives [`Status::Partial`] and
//! the caller calls again with more bytes. Bytes that cannot start a
//! ClientHello are an error from the first wrong byte on (the content type
//! at byte 0, the version at bytes 1-2, the handshake type at byte 5).
//!
//! The view borrows the input when the ClientHello sits in one record (the
//! rule); a ClientHello split across several records is gathered into one
//! buffer once it is complete. Accessors return slices of that body.
//!
//! ```
//! use mesh_tls::hello::{self, Limits, Status};
//!
//! # let input: &[u8] = &[];
//! match hello::parse(input, &Limits::default()) {
//!     Ok(Status::Complete(hello, _consumed)) => {
//!         println!("sni={:?} alpn={:?}", hello.server_name(), hello.alpn().collect::<Vec<_>>());
//!     }
//!     Ok(Status::Partial) => { /* read more */ }
//!     Err(e) => println!("not a ClientHello: {e}"),
//! }
//! ```

mod ja3;
mod parse;
mod record;

use std::borrow::Cow;

use mesh_core::{ErrorClass, Side};

pub use ja3::is_grease;

/// Limits of [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest ClientHello body accepted, checked as soon as its length
    /// field arrives. Default 16 KiB: real ClientHellos are 200 bytes to a
    /// few KiB (post-quantum key shares included), and mesh-core's detector
    /// reads at most 16 KiB anyway.
    pub max_hello_len: usize,
    /// The most records the ClientHello may be split across. Default 64:
    /// splitting is legal but rare (some clients put a large ClientHello in
    /// two records); many tiny records only cost the receiver work.
    pub max_records: usize,
}

impl Limits {
    /// The default [`Limits::max_hello_len`].
    pub const DEFAULT_MAX_HELLO_LEN: usize = 16 * 1024;
    /// The default [`Limits::max_records`].
    pub const DEFAULT_MAX_RECORDS: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hello_len: Self::DEFAULT_MAX_HELLO_LEN,
            max_records: Self::DEFAULT_MAX_RECORDS,
        }
    }
}

/// The result of a parse that may need more input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// Parsed; the second field is how many input bytes the ClientHello
    /// took (up to its last byte; a record may go on after it).
    Complete(T, usize),
    /// The input ends inside the ClientHello: call again with more.
    Partial,
}

/// Why the input is not a ClientHello this parser accepts.
///
/// The client sent it, so every error is [`Side::Downstream`]; none is a
/// reason to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HelloError {
    /// A record that is not a handshake record (content type 22).
    #[error("record content type {content_type} is not handshake (22)")]
    NotHandshake {
        /// The content type found.
        content_type: u8,
    },
    /// A record version outside 0x0300..=0x0304.
    #[error("record version {version:#06x} is not TLS")]
    RecordVersion {
        /// The version found.
        version: u16,
    },
    /// A record with no payload (RFC 8446 forbids empty handshake records).
    #[error("empty handshake record at byte {at}")]
    EmptyRecord {
        /// The offset of its header in the input.
        at: usize,
    },
    /// A record longer than the protocol allows.
    #[error("record of {len} bytes exceeds the maximum of {max}")]
    RecordTooLong {
        /// Its declared length.
        len: usize,
        /// The protocol's maximum.
        max: usize,
    },
    /// The first handshake message is not a ClientHello.
    #[error("handshake message type {msg_type} is not ClientHello (1)")]
    NotClientHello {
        /// The message type found.
        msg_type: u8,
    },
    /// The ClientHello is longer than [`Limits::max_hello_len`].
    #[error("ClientHello of {len} bytes exceeds the limit of {limit} (Limits::max_hello_len)")]
    TooLong {
        /// Its declared length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The ClientHello is split across more than [`Limits::max_records`].
    #[error("ClientHello split across more than {limit} records (Limits::max_records)")]
    TooManyRecords {
        /// The limit.
        limit: usize,
    },
    /// A length that does not fit what encloses it, or a field that breaks
    /// its own rules.
    #[error("malformed ClientHello field {field}")]
    Malformed {
        /// Which field.
        field: &'static str,
    },
    /// One of the extensions this parser reports appears twice.
    #[error("extension {ext_type} appears twice")]
    DuplicateExtension {
        /// Its type.
        ext_type: u16,
    },
}

impl ErrorClass for HelloError {
    fn side(&self) -> Side {
        Side::Downstream
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// A byte range of the ClientHello body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Offsets fit in `u32`: the body is at most 2^24 bytes.
    pub(crate) fn new(start: usize, len: usize) -> Self {
        Span {
            start: start as u32,
            len: len as u32,
        }
    }

    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    pub(crate) fn len(self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(self) -> bool {
        self.len == 0
    }

    pub(crate) fn offset(self, by: usize) -> Self {
        Span::new(self.start() + by, self.len())
    }

    pub(crate) fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.start()..self.start() + self.len()]
    }
}

/// A parsed ClientHello: the body (borrowed from the input when it sat in
/// one record) and the offsets of its fields.
///
/// Every accessor is a slice or an iterator over the body; nothing is
/// decoded twice and nothing is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello<'a> {
    body: Cow<'a, [u8]>,
    fields: parse::Fields,
}

impl<'a> ClientHello<'a> {
    /// The whole body, after the handshake header.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Whether the body borrows the input (the ClientHello sat in one
    /// record) rather than a buffer gathered from several.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.body, Cow::Borrowed(_))
    }

    /// An owned copy, for keeping beyond the input buffer.
    pub fn into_owned(self) -> ClientHello<'static> {
        ClientHello {
            body: Cow::Owned(self.body.into_owned()),
            fields: self.fields,
        }
    }

    /// `legacy_version`: 0x0303 for TLS 1.2 and 1.3 clients.
    pub fn legacy_version(&self) -> u16 {
        self.fields.legacy_version
    }

    /// The 32 random bytes.
    pub fn random(&self) -> &[u8] {
        self.fields.random.of(&self.body)
    }

    /// `legacy_session_id` (TLS 1.3 clients in middlebox compatibility
    /// mode send 32 random bytes here).
    pub fn session_id(&self) -> &[u8] {
        self.fields.session_id.of(&self.body)
    }

    /// The cipher suites offered, in the client's order (GREASE included).
    pub fn cipher_suites(&self) -> U16s<'_> {
        U16s(self.fields.cipher_suites.of(&self.body))
    }

    /// The compression methods offered (one zero byte in modern clients).
    pub fn compression_methods(&self) -> &[u8] {
        self.fields.compression_methods.of(&self.body)
    }

    /// Every extension as `(type, data)`, in the client's order.
    pub fn extensions(&self) -> Extensions<'_> {
        Extensions(self.fields.extensions.of(&self.body))
    }

    /// The `host_name` of the `server_name` extension, if any: ASCII,
    /// as the client sent it (no case folding).
    pub fn server_name(&self) -> Option<&str> {
        // Checked to be printable ASCII at parse time.
        self.fields
            .server_name
            .and_then(|s| std::str::from_utf8(s.of(&self.body)).ok())
    }

    /// Whether the client sent an ALPN extension.
    pub fn has_alpn(&self) -> bool {
        self.fields.alpn.is_some()
    }

    /// The ALPN protocol names offered, in the client's order (empty when
    /// there is no ALPN extension).
    pub fn alpn(&self) -> Alpn<'_> {
        Alpn(self.fields.alpn.map_or(&[][..], |s| s.of(&self.body)))
    }

    /// The versions of the `supported_versions` extension (empty when the
    /// client sent none, which means TLS 1.2 or older).
    pub fn supported_versions(&self) -> U16s<'_> {
        U16s(
            self.fields
                .supported_versions
                .map_or(&[][..], |s| s.of(&self.body)),
        )
    }

    /// The highest TLS version the client offers: the largest non-GREASE
    /// entry of `supported_versions`, else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.fields.legacy_version)
    }

    /// The groups of the `supported_groups` extension (empty if absent).
    pub fn supported_groups(&self) -> U16s<'_> {
        U16s(
            self.fields
                .supported_groups
                .map_or(&[][..], |s| s.of(&self.body)),
        )
    }

    /// The formats of the `ec_point_formats` extension (empty if absent).
    pub fn ec_point_formats(&self) -> &[u8] {
        self.fields
            .ec_point_formats
            .map_or(&[][..], |s| s.of(&self.body))
    }
}

/// Parses a ClientHello from the first bytes of a connection.
///
/// `Ok(Status::Partial)` for every strict prefix of a valid ClientHello;
/// an error as soon as the bytes cannot be one. Never panics, and never
/// allocates unless the ClientHello is split across records (then once, the
/// size of the body, after all of it arrived).
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Status<ClientHello<'a>>, HelloError> {
    match record::assemble(input, limits)? {
        record::Assembled::Partial => Ok(Status::Partial),
        record::Assembled::Complete { body, consumed } => {
            Ok(Status::Complete(ClientHello::from_body(body)?, consumed))
        }
    }
}

/// An iterator over a list of big-endian `u16` (cipher suites, versions,
/// groups).
#[derive(Debug, Clone)]
pub struct U16s<'a>(&'a [u8]);

impl Iterator for U16s<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let (head, rest) = self.0.split_first_chunk::<2>()?;
        self.0 = rest;
        Some(u16::from_be_bytes(*head))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() / 2;
        (n, Some(n))
    }
}

impl ExactSizeIterator for U16s<'_> {}

/// An iterator over the ALPN protocol names of a ClientHello.
#[derive(Debug, Clone)]
pub struct Alpn<'a>(&'a [u8]);

impl<'a> Iterator for Alpn<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Validated at parse time: every item fits.
        let (&len, rest) = self.0.split_first()?;
        let len = usize::from(len).min(rest.len());
        let (name, rest) = rest.split_at(len);
        self.0 = rest;
        Some(name)
    }
}

/// An iterator over the extensions of a ClientHello, as `(type, data)`.
#[derive(Debug, Clone)]
pub struct Extensions<'a>(&'a [u8]);

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        // Validated at parse time: every extension fits.
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        let ext_type = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]])).min(rest.len());
        let (data, rest) = rest.split_at(len);
        self.0 = rest;
        Some((ext_type, data))
    }
}

#[cfg(test)]
mod tests;
