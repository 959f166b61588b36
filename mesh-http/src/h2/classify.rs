//! Per-stream classification for the layers above: is this stream gRPC?
//!
//! gRPC is a property of a stream, never of a connection: one HTTP/2
//! connection between sidecars carries gRPC and plain HTTP streams side by
//! side. A stream is gRPC when its `content-type` is `application/grpc`,
//! optionally followed by `+subtype` (`+proto`, `+json`) or parameters
//! (`;...`) — the rule of the gRPC HTTP/2 protocol document. gRPC-Web
//! (`application/grpc-web*`) is told apart: it is framed differently and
//! carries its trailers in the body. The gRPC layer reads `grpc-status`
//! from the response's trailers (or, for a trailers-only response, from
//! its head), which the connection hands out as they are.

use crate::h1::HeaderMap;

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamClass {
    /// Plain HTTP.
    Http,
    /// gRPC (`application/grpc`, `application/grpc+proto`, ...).
    Grpc,
    /// gRPC-Web (`application/grpc-web`, `application/grpc-web-text`, ...).
    GrpcWeb,
}

impl StreamClass {
    /// Whether the stream is gRPC proper (not gRPC-Web).
    pub fn is_grpc(self) -> bool {
        self == StreamClass::Grpc
    }
}

/// The class of a `content-type` value.
///
/// ```
/// use mesh_http::h2::{classify_content_type, StreamClass};
///
/// assert_eq!(classify_content_type(b"application/grpc"), StreamClass::Grpc);
/// assert_eq!(classify_content_type(b"application/grpc+proto"), StreamClass::Grpc);
/// assert_eq!(classify_content_type(b"Application/GRPC;charset=utf-8"), StreamClass::Grpc);
/// assert_eq!(classify_content_type(b"application/grpc-web+proto"), StreamClass::GrpcWeb);
/// assert_eq!(classify_content_type(b"application/grpcx"), StreamClass::Http);
/// assert_eq!(classify_content_type(b"application/json"), StreamClass::Http);
/// ```
pub fn classify_content_type(value: &[u8]) -> StreamClass {
    const GRPC: &[u8] = b"application/grpc";
    const WEB: &[u8] = b"-web";
    let Some(head) = value.get(..GRPC.len()) else {
        return StreamClass::Http;
    };
    if !head.eq_ignore_ascii_case(GRPC) {
        return StreamClass::Http;
    }
    let rest = &value[GRPC.len()..];
    let (class, rest) = match rest.get(..WEB.len()) {
        Some(w) if w.eq_ignore_ascii_case(WEB) => (StreamClass::GrpcWeb, &rest[WEB.len()..]),
        _ => (StreamClass::Grpc, rest),
    };
    match rest.first() {
        None | Some(b'+' | b';' | b' ' | b'\t') => class,
        // `application/grpc-web-text` is gRPC-Web too.
        Some(b'-') if class == StreamClass::GrpcWeb => class,
        _ => StreamClass::Http,
    }
}

/// The class of a message by its (first) `content-type` field.
pub fn classify(headers: &HeaderMap) -> StreamClass {
    headers
        .get("content-type")
        .map_or(StreamClass::Http, |v| classify_content_type(v))
}

/// The `content-length` of a head whose fields were checked: the first
/// value, parsed.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get("content-length")?;
    parse_length(v)
}

/// A decimal content-length of at most 19 digits (fits in `u64`).
pub(crate) fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for (v, want) in [
            (&b"application/grpc"[..], StreamClass::Grpc),
            (b"application/grpc+json", StreamClass::Grpc),
            (b"application/grpc;foo=bar", StreamClass::Grpc),
            (b"APPLICATION/GRPC", StreamClass::Grpc),
            (b"application/grpc-web", StreamClass::GrpcWeb),
            (b"application/grpc-web-text", StreamClass::GrpcWeb),
            (b"application/grpc-web+proto", StreamClass::GrpcWeb),
            (b"application/grpc-webx", StreamClass::Http),
            (b"application/grpc-", StreamClass::Http),
            (b"application/grp", StreamClass::Http),
            (b"text/plain", StreamClass::Http),
            (b"", StreamClass::Http),
        ] {
            assert_eq!(classify_content_type(v), want, "{v:?}");
        }
        let mut h = HeaderMap::new();
        assert_eq!(classify(&h), StreamClass::Http);
        h.append("content-type", "application/grpc").unwrap();
        assert!(classify(&h).is_grpc());
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_length(b"0"), Some(0));
        assert_eq!(parse_length(b"18446744073709551615"), None);
        assert_eq!(
            parse_length(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(parse_length(b"+1"), None);
        assert_eq!(parse_length(b""), None);
        assert_eq!(parse_length(b"1 "), None);
    }
}
