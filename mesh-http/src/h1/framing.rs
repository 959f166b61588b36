//! How long a body is (RFC 9112 §6.3), with the request-smuggling
//! defences of §6.1–6.3 and §11.2.
//!
//! Two parsers that disagree on where a body ends let an attacker hide a
//! second request inside the first; the defence is to refuse every message
//! whose framing two reasonable parsers could read differently:
//!
//! | message | verdict |
//! | --- | --- |
//! | Transfer-Encoding and Content-Length | [`ErrorKind::TransferEncodingWithContentLength`] |
//! | Content-Length values that differ | [`ErrorKind::ConflictingContentLength`] |
//! | Content-Length given twice, even equal | [`ErrorKind::RepeatedContentLength`] |
//! | Content-Length not 1*DIGIT in 64 bits | [`ErrorKind::InvalidContentLength`] |
//! | request Transfer-Encoding not ending in chunked | [`ErrorKind::TransferEncodingNotChunked`] |
//! | chunked twice | [`ErrorKind::RepeatedChunked`] |
//! | Transfer-Encoding in HTTP/1.0 | [`ErrorKind::TransferEncodingInHttp10`] |
//! | unknown transfer coding | [`ErrorKind::UnknownTransferCoding`] (501) |
//!
//! Bare LF, bare CR, NUL and whitespace before the colon are refused by
//! the head parser; invalid chunk sizes by the chunked decoder.

use super::error::ErrorKind;
use super::grammar;
use super::parse::Version;

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// There is no body: a request without Content-Length or
    /// Transfer-Encoding, or a response that cannot have one (to HEAD, 1xx,
    /// 204, 304, a 2xx to CONNECT).
    Empty,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes (responses only).
    Close,
}

/// Field names compared case-insensitively.
fn is(name: &[u8], expected: &str) -> bool {
    name.eq_ignore_ascii_case(expected.as_bytes())
}

/// Transfer codings a recipient may see before `chunked` and pass on.
fn known_coding(name: &[u8]) -> bool {
    [
        "gzip",
        "x-gzip",
        "deflate",
        "compress",
        "x-compress",
        "br",
        "zstd",
    ]
    .iter()
    .any(|k| is(name, k))
}

/// What the framing fields of a message say, before the message kind's
/// rules are applied.
#[derive(Debug, Default)]
struct FramingFields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
}

/// Reads Content-Length and Transfer-Encoding, refusing every ambiguity.
fn read_fields<'a>(
    version: Version,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<FramingFields, ErrorKind> {
    let mut out = FramingFields::default();
    let mut chunked_seen = false;
    for (name, value) in headers {
        if is(name, "content-length") {
            let mut outcome = Ok(());
            let parsed = grammar::list(value, grammar::digits, |digits| {
                let n = parse_decimal(digits).ok_or(())?;
                outcome = match out.content_length {
                    None => Ok(()),
                    Some(first) if first == n => Err(ErrorKind::RepeatedContentLength { value: n }),
                    Some(first) => Err(ErrorKind::ConflictingContentLength { first, second: n }),
                };
                out.content_length = Some(n);
                outcome.map_err(|_| ())
            });
            outcome?;
            parsed.map_err(|()| ErrorKind::InvalidContentLength)?;
            if out.content_length.is_none() {
                // An empty value or only commas.
                return Err(ErrorKind::InvalidContentLength);
            }
        } else if is(name, "transfer-encoding") {
            out.transfer_encoding = true;
            let mut outcome = Ok(());
            let mut any = false;
            let parsed = grammar::transfer_codings(value, |coding| {
                any = true;
                outcome = if chunked_seen {
                    // Anything after chunked (chunked again included) means
                    // chunked is not the final coding, or is applied twice.
                    if is(coding, "chunked") {
                        Err(ErrorKind::RepeatedChunked)
                    } else {
                        Ok(())
                    }
                } else if is(coding, "chunked") {
                    chunked_seen = true;
                    Ok(())
                } else if known_coding(coding) {
                    Ok(())
                } else {
                    Err(ErrorKind::UnknownTransferCoding)
                };
                out.chunked_last = is(coding, "chunked");
                outcome.map_err(|_| ())
            });
            outcome?;
            parsed.map_err(|()| ErrorKind::InvalidTransferEncoding)?;
            if !any {
                return Err(ErrorKind::InvalidTransferEncoding);
            }
        }
    }
    if out.transfer_encoding {
        if out.content_length.is_some() {
            return Err(ErrorKind::TransferEncodingWithContentLength);
        }
        if version == Version::Http10 {
            return Err(ErrorKind::TransferEncodingInHttp10);
        }
    }
    Ok(out)
}

/// A decimal Content-Length that fits in 64 bits.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.checked_sub(b'0')?))
    })
}

/// The framing of a request body (RFC 9112 §6.3, rules 3–6).
///
/// ```
/// use mesh_http::h1::{request_framing, ErrorKind, Framing, Version};
///
/// let te = (&b"Transfer-Encoding"[..], &b"chunked"[..]);
/// let cl = (&b"Content-Length"[..], &b"5"[..]);
/// assert_eq!(request_framing(Version::Http11, [te]), Ok(Framing::Chunked));
/// assert_eq!(request_framing(Version::Http11, [cl]), Ok(Framing::Length(5)));
/// assert_eq!(
///     request_framing(Version::Http11, [te, cl]),
///     Err(ErrorKind::TransferEncodingWithContentLength)
/// );
/// ```
pub fn request_framing<'a>(
    version: Version,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Framing, ErrorKind> {
    let fields = read_fields(version, headers)?;
    if fields.transfer_encoding {
        return if fields.chunked_last {
            Ok(Framing::Chunked)
        } else {
            Err(ErrorKind::TransferEncodingNotChunked)
        };
    }
    Ok(match fields.content_length {
        Some(0) | None => Framing::Empty,
        Some(n) => Framing::Length(n),
    })
}

/// The framing of a response body (RFC 9112 §6.3, rules 1–7), given the
/// request's method and the response's status.
pub fn response_framing<'a>(
    request_method: &[u8],
    status: u16,
    version: Version,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Framing, ErrorKind> {
    if request_method == b"HEAD"
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (request_method == b"CONNECT" && (200..300).contains(&status))
    {
        return Ok(Framing::Empty);
    }
    let fields = read_fields(version, headers)?;
    if fields.transfer_encoding {
        return Ok(if fields.chunked_last {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    Ok(match fields.content_length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields<'a> = &'a [(&'a str, &'a str)];

    fn req(fields: &[(&str, &str)]) -> Result<Framing, ErrorKind> {
        request_framing(
            Version::Http11,
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        )
    }

    fn res(method: &str, status: u16, fields: &[(&str, &str)]) -> Result<Framing, ErrorKind> {
        response_framing(
            method.as_bytes(),
            status,
            Version::Http11,
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        )
    }

    #[test]
    fn request_rules() {
        use ErrorKind::*;
        let table: &[(Fields<'_>, Result<Framing, ErrorKind>)] = &[
            (&[], Ok(Framing::Empty)),
            (&[("Content-Length", "0")], Ok(Framing::Empty)),
            (&[("content-length", "42")], Ok(Framing::Length(42))),
            (&[("Transfer-Encoding", "chunked")], Ok(Framing::Chunked)),
            (
                &[("Transfer-Encoding", "gzip, chunked")],
                Ok(Framing::Chunked),
            ),
            (
                &[
                    ("Transfer-Encoding", "gzip"),
                    ("Transfer-Encoding", "chunked"),
                ],
                Ok(Framing::Chunked),
            ),
            (&[("Transfer-Encoding", "CHUNKED")], Ok(Framing::Chunked)),
            // Smuggling: each its own error.
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                Err(TransferEncodingWithContentLength),
            ),
            (
                &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                Err(TransferEncodingWithContentLength),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "6")],
                Err(ConflictingContentLength {
                    first: 5,
                    second: 6,
                }),
            ),
            (
                &[("Content-Length", "5, 6")],
                Err(ConflictingContentLength {
                    first: 5,
                    second: 6,
                }),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "5")],
                Err(RepeatedContentLength { value: 5 }),
            ),
            (
                &[("Content-Length", "5,5")],
                Err(RepeatedContentLength { value: 5 }),
            ),
            (&[("Content-Length", "-1")], Err(InvalidContentLength)),
            (&[("Content-Length", "+5")], Err(InvalidContentLength)),
            (&[("Content-Length", "5 5")], Err(InvalidContentLength)),
            (&[("Content-Length", "0x10")], Err(InvalidContentLength)),
            (&[("Content-Length", "")], Err(InvalidContentLength)),
            (
                &[("Content-Length", "18446744073709551616")],
                Err(InvalidContentLength),
            ),
            (
                &[("Transfer-Encoding", "gzip")],
                Err(TransferEncodingNotChunked),
            ),
            (
                &[("Transfer-Encoding", "chunked, gzip")],
                Err(TransferEncodingNotChunked),
            ),
            (
                &[("Transfer-Encoding", "chunked, chunked")],
                Err(RepeatedChunked),
            ),
            (
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("Transfer-Encoding", "chunked"),
                ],
                Err(RepeatedChunked),
            ),
            (
                &[("Transfer-Encoding", "xchunked")],
                Err(UnknownTransferCoding),
            ),
            (
                &[("Transfer-Encoding", "chunked ;")],
                Err(InvalidTransferEncoding),
            ),
            (
                &[("Transfer-Encoding", "\"chunked\"")],
                Err(InvalidTransferEncoding),
            ),
            (&[("Transfer-Encoding", "")], Err(InvalidTransferEncoding)),
        ];
        for (fields, expected) in table {
            assert_eq!(req(fields), *expected, "{fields:?}");
        }
        assert_eq!(
            request_framing(
                Version::Http10,
                [(&b"Transfer-Encoding"[..], &b"chunked"[..])]
            ),
            Err(TransferEncodingInHttp10)
        );
        let max = u64::MAX.to_string();
        assert_eq!(
            req(&[("Content-Length", &max)]),
            Ok(Framing::Length(u64::MAX))
        );
    }

    #[test]
    fn response_rules() {
        let cl = [("Content-Length", "10")];
        assert_eq!(res("HEAD", 200, &cl), Ok(Framing::Empty));
        assert_eq!(res("GET", 204, &cl), Ok(Framing::Empty));
        assert_eq!(res("GET", 304, &cl), Ok(Framing::Empty));
        assert_eq!(res("GET", 101, &[]), Ok(Framing::Empty));
        assert_eq!(res("GET", 100, &[]), Ok(Framing::Empty));
        assert_eq!(res("CONNECT", 200, &cl), Ok(Framing::Empty));
        assert_eq!(res("CONNECT", 407, &cl), Ok(Framing::Length(10)));
        assert_eq!(res("GET", 200, &cl), Ok(Framing::Length(10)));
        assert_eq!(res("GET", 200, &[]), Ok(Framing::Close));
        assert_eq!(
            res("GET", 200, &[("Transfer-Encoding", "gzip")]),
            Ok(Framing::Close)
        );
        assert_eq!(
            res("GET", 200, &[("Transfer-Encoding", "chunked")]),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            res(
                "GET",
                200,
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]
            ),
            Err(ErrorKind::TransferEncodingWithContentLength)
        );
    }
}
