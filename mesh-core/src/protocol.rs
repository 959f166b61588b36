//! The application protocols a mesh proxy tells apart.

use std::fmt;
use std::str::FromStr;

/// An application protocol, as a proxy decides it for a connection (or, for
/// [`Protocol::Grpc`], for a stream of an HTTP/2 connection).
///
/// `Display` and `FromStr` use the lower-case names Istio uses in telemetry
/// and configuration (`http`, `http2`, `grpc`, `redis`, `mongo`, `tls`,
/// `tcp`). Parsing is case-insensitive, so `HTTP2` and `Http2` are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol {
    /// HTTP/1.0 or HTTP/1.1.
    Http1,
    /// HTTP/2, cleartext (h2c) or after TLS termination.
    Http2,
    /// gRPC: a property of an HTTP/2 stream (`content-type: application/grpc*`),
    /// never detected per connection.
    Grpc,
    /// Redis RESP2 or RESP3.
    Redis,
    /// The MongoDB wire protocol.
    Mongo,
    /// TLS that this proxy does not terminate (passed through, routed by SNI).
    Tls,
    /// Opaque TCP: bytes are copied, never interpreted.
    Tcp,
}

impl Protocol {
    /// Every protocol, in declaration order.
    pub const ALL: [Protocol; 7] = [
        Protocol::Http1,
        Protocol::Http2,
        Protocol::Grpc,
        Protocol::Redis,
        Protocol::Mongo,
        Protocol::Tls,
        Protocol::Tcp,
    ];

    /// The lower-case name Istio uses for this protocol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Http1 => "http",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
            Protocol::Redis => "redis",
            Protocol::Mongo => "mongo",
            Protocol::Tls => "tls",
            Protocol::Tcp => "tcp",
        }
    }

    /// Whether the protocol is HTTP of some version (gRPC included), so
    /// request-level routing, retries and telemetry apply.
    pub const fn is_http(self) -> bool {
        matches!(self, Protocol::Http1 | Protocol::Http2 | Protocol::Grpc)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Protocol::from_str`]: the name is not one of Istio's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown protocol name {name:?} (expected one of http, http2, grpc, redis, mongo, tls, tcp)"
)]
pub struct UnknownProtocol {
    /// The name that was given.
    pub name: String,
}

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProtocol { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.to_string().parse::<Protocol>(), Ok(p));
            assert_eq!(p.as_str().to_ascii_uppercase().parse::<Protocol>(), Ok(p));
        }
    }

    #[test]
    fn istio_names() {
        assert_eq!(Protocol::Http1.to_string(), "http");
        assert_eq!(Protocol::Http2.to_string(), "http2");
        assert_eq!(Protocol::Grpc.to_string(), "grpc");
        assert_eq!(Protocol::Tcp.to_string(), "tcp");
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        let err = "quic".parse::<Protocol>().unwrap_err();
        assert_eq!(err.name, "quic");
        assert!(err.to_string().contains("\"quic\""));
        assert!("".parse::<Protocol>().is_err());
    }

    #[test]
    fn http_family() {
        assert!(Protocol::Grpc.is_http());
        assert!(!Protocol::Redis.is_http());
    }
}
