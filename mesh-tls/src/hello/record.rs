//! The record layer under a ClientHello: checks each record header and
//! gathers the handshake message, which may be split across records.
//!
//! The common case (the whole ClientHello in the first record) borrows the
//! body from the input. A ClientHello split across records is copied once
//! into a buffer of exactly its size, and only after every one of its bytes
//! has arrived, so nothing is allocated on the strength of a length field.

use std::borrow::Cow;

use super::{HelloError, Limits};

/// Record content type of handshake messages (RFC 8446, section 5.1).
pub(crate) const CONTENT_TYPE_HANDSHAKE: u8 = 22;
/// Handshake message type of a ClientHello (RFC 8446, section 4).
pub(crate) const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Content type, legacy version, length.
pub(crate) const RECORD_HEADER_LEN: usize = 5;
/// Message type and 24-bit length.
pub(crate) const HANDSHAKE_HEADER_LEN: usize = 4;
/// The largest plaintext record fragment (2^14 bytes, RFC 8446 section 5.1).
pub(crate) const MAX_FRAGMENT_LEN: usize = 1 << 14;

/// A ClientHello's body gathered from the records, or a request for more.
#[derive(Debug)]
pub(crate) enum Assembled<'a> {
    /// The input ends inside the ClientHello.
    Partial,
    /// The body (after the handshake header) and the input length up to
    /// the end of the ClientHello's last byte.
    Complete {
        body: Cow<'a, [u8]>,
        consumed: usize,
    },
}

/// Checks the bytes of a record header that have arrived (all of it, or a
/// prefix), so a stream that is not TLS is told apart at its first byte.
fn check_record_header(header: &[u8]) -> Result<(), HelloError> {
    match *header {
        [] => Ok(()),
        [content_type, ..] if content_type != CONTENT_TYPE_HANDSHAKE => {
            Err(HelloError::NotHandshake { content_type })
        }
        [_, major, ..] if major != 3 => Err(HelloError::RecordVersion {
            version: u16::from(major) << 8 | u16::from(header.get(2).copied().unwrap_or(0)),
        }),
        [_, _, minor, ..] if minor > 4 => Err(HelloError::RecordVersion {
            version: 0x0300 | u16::from(minor),
        }),
        _ => Ok(()),
    }
}

/// Walks the records of `input` and returns the ClientHello body once all
/// of it has arrived.
pub(crate) fn assemble<'a>(input: &'a [u8], limits: &Limits) -> Result<Assembled<'a>, HelloError> {
    let mut pos = 0;
    let mut records = 0;
    // The handshake header, as its bytes arrive (it may span records).
    let mut header = [0u8; HANDSHAKE_HEADER_LEN];
    // Bytes of the handshake message seen so far, header included.
    let mut seen = 0usize;
    // Length of the whole handshake message, header included, once known.
    let mut total: Option<usize> = None;
    loop {
        let rest = &input[pos..];
        check_record_header(&rest[..rest.len().min(RECORD_HEADER_LEN)])?;
        if rest.len() < RECORD_HEADER_LEN {
            return Ok(Assembled::Partial);
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if len == 0 {
            return Err(HelloError::EmptyRecord { at: pos });
        }
        if len > MAX_FRAGMENT_LEN {
            return Err(HelloError::RecordTooLong {
                len,
                max: MAX_FRAGMENT_LEN,
            });
        }
        records += 1;
        if records > limits.max_records {
            return Err(HelloError::TooManyRecords {
                limit: limits.max_records,
            });
        }
        let available = len.min(rest.len() - RECORD_HEADER_LEN);
        let fragment = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + available];
        let before = seen;
        for &b in fragment
            .iter()
            .take(HANDSHAKE_HEADER_LEN.saturating_sub(seen))
        {
            header[seen] = b;
            seen += 1;
            if seen == 1 && b != HANDSHAKE_CLIENT_HELLO {
                return Err(HelloError::NotClientHello { msg_type: b });
            }
        }
        seen = before + fragment.len();
        if total.is_none() && seen >= HANDSHAKE_HEADER_LEN {
            let body_len =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if body_len > limits.max_hello_len {
                return Err(HelloError::TooLong {
                    len: body_len,
                    limit: limits.max_hello_len,
                });
            }
            total = Some(HANDSHAKE_HEADER_LEN + body_len);
        }
        if let Some(total) = total.filter(|&t| seen >= t) {
            let consumed = pos + RECORD_HEADER_LEN + (total - before);
            let body = if records == 1 {
                Cow::Borrowed(&fragment[HANDSHAKE_HEADER_LEN..total])
            } else {
                Cow::Owned(gather(input, total))
            };
            return Ok(Assembled::Complete { body, consumed });
        }
        if available < len {
            return Ok(Assembled::Partial);
        }
        pos += RECORD_HEADER_LEN + len;
    }
}

/// Copies the handshake body (everything after its 4-byte header, `total`
/// bytes with the header) out of records that `assemble` already checked.
fn gather(input: &[u8], total: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(total - HANDSHAKE_HEADER_LEN);
    let mut skip = HANDSHAKE_HEADER_LEN;
    let mut pos = 0;
    while body.len() < total - HANDSHAKE_HEADER_LEN && pos + RECORD_HEADER_LEN <= input.len() {
        let len = usize::from(u16::from_be_bytes([input[pos + 3], input[pos + 4]]));
        let start = pos + RECORD_HEADER_LEN;
        let end = (start + len).min(input.len());
        let mut fragment = &input[start..end];
        let s = skip.min(fragment.len());
        fragment = &fragment[s..];
        skip -= s;
        let want = total - HANDSHAKE_HEADER_LEN - body.len();
        body.extend_from_slice(&fragment[..fragment.len().min(want)]);
        pos = start + len;
    }
    body
}
