//! HTTP/2 requests and responses: heads whose pseudo-header fields are
//! typed fields, with the field list and the [`Body`] shared with HTTP/1.

use bytes::Bytes;

use super::classify::{self, StreamClass};
use crate::body::Body;
use crate::h1::{HeaderMap, InvalidField, Method};

/// The head of an HTTP/2 request.
///
/// The pseudo-header fields are fields of the struct; `headers` holds the
/// regular fields only. A head received from a peer has passed every check
/// of RFC 9113 §8 (see the [module docs](super)); one built here is checked
/// when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `:method`.
    pub method: Method,
    /// `:scheme` (absent only for CONNECT).
    pub scheme: Option<Bytes>,
    /// `:authority`: the target host (and port). A client that leaves it
    /// out but has a `host` field sends that as `:authority`.
    pub authority: Option<Bytes>,
    /// `:path` (absent only for CONNECT).
    pub path: Option<Bytes>,
    /// The regular fields, names in lower case when received.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// A request for `scheme://authority path`, without fields. The path
    /// must be visible ASCII (`%x21-7E`) and start with `/` (or be `*`).
    pub fn new(
        method: Method,
        scheme: &'static str,
        authority: impl Into<Bytes>,
        path: impl Into<Bytes>,
    ) -> Result<RequestHead, InvalidField> {
        let path = path.into();
        let visible = |b: &Bytes| !b.is_empty() && b.iter().all(|&c| (0x21..=0x7e).contains(&c));
        if !visible(&path) || !(path.starts_with(b"/") || &path[..] == b"*") {
            return Err(InvalidField::Target(
                String::from_utf8_lossy(&path).into_owned(),
            ));
        }
        let authority = authority.into();
        if !visible(&authority) {
            return Err(InvalidField::Value(":authority".into()));
        }
        Ok(RequestHead {
            method,
            scheme: Some(Bytes::from_static(scheme.as_bytes())),
            authority: Some(authority),
            path: Some(path),
            headers: HeaderMap::new(),
        })
    }

    /// What the stream carries: gRPC is decided per stream by the
    /// request's `content-type` (`application/grpc*`).
    pub fn class(&self) -> StreamClass {
        classify::classify(&self.headers)
    }

    /// The `content-length`, when present and valid (received heads were
    /// checked: several values must agree).
    pub fn content_length(&self) -> Option<u64> {
        classify::content_length(&self.headers)
    }
}

/// The head of an HTTP/2 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// `:status`.
    pub status: u16,
    /// The regular fields.
    pub headers: HeaderMap,
}

impl ResponseHead {
    /// A response head with `status` and no fields.
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            headers: HeaderMap::new(),
        }
    }

    /// What the stream carries, by the response's `content-type`.
    pub fn class(&self) -> StreamClass {
        classify::classify(&self.headers)
    }
}

/// An HTTP/2 request: head and body. Trailers, if any, are the body's last
/// frame ([`Frame::Trailers`](crate::body::Frame::Trailers)).
#[derive(Debug)]
pub struct Request {
    /// The head.
    pub head: RequestHead,
    /// The body.
    pub body: Body,
}

impl Request {
    /// A request from its parts.
    pub fn new(head: RequestHead, body: impl Into<Body>) -> Request {
        Request {
            head,
            body: body.into(),
        }
    }
}

/// An HTTP/2 response: head and body.
///
/// A response whose body is known to be empty ([`Body::empty`]) is sent as
/// one HEADERS frame with END_STREAM: that is a gRPC trailers-only response
/// when its fields carry `grpc-status`.
#[derive(Debug)]
pub struct Response {
    /// The head.
    pub head: ResponseHead,
    /// The body.
    pub body: Body,
}

impl Response {
    /// A response from its parts.
    pub fn new(head: ResponseHead, body: impl Into<Body>) -> Response {
        Response {
            head,
            body: body.into(),
        }
    }

    /// A response with `status`, no fields and `body`.
    pub fn with_status(status: u16, body: impl Into<Body>) -> Response {
        Response::new(ResponseHead::new(status), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_check_their_path() {
        let h = RequestHead::new(Method::GET, "http", "example.com", "/a?b").unwrap();
        assert_eq!(h.path.as_deref(), Some(&b"/a?b"[..]));
        assert!(RequestHead::new(Method::GET, "http", "example.com", "/a b").is_err());
        assert!(RequestHead::new(Method::GET, "http", "example.com", "a").is_err());
        assert!(RequestHead::new(Method::OPTIONS, "http", "example.com", "*").is_ok());
        assert!(RequestHead::new(Method::GET, "http", "exa mple", "/").is_err());
    }
}
