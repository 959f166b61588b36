//! The ALPN and SNI conventions of Istio's sidecars when they talk to each
//! other over mTLS.
//!
//! - ALPN: the client offers `istio-h2`, `istio-http/1.1` or
//!   `istio-http/1.0` (the inner protocol), then `istio`, then the plain
//!   name. An inbound port in permissive mode accepts both mesh mTLS and
//!   plaintext (or the application's own TLS); a ClientHello whose ALPN
//!   starts with `istio` is mesh traffic to terminate, anything else is
//!   passed to the application untouched.
//! - SNI: `outbound_.<port>_.<subset>_.<host>`, the name of the destination
//!   cluster, so the receiving sidecar (or a gateway in
//!   `AUTO_PASSTHROUGH` mode) knows the service, port and subset without
//!   decrypting anything.

use std::fmt;

use mesh_core::Protocol;

use crate::hello::ClientHello;

/// ALPN of mesh mTLS carrying HTTP/2 (gRPC included).
pub const ALPN_ISTIO_H2: &[u8] = b"istio-h2";
/// ALPN of mesh mTLS carrying HTTP/1.1.
pub const ALPN_ISTIO_HTTP11: &[u8] = b"istio-http/1.1";
/// ALPN of mesh mTLS carrying HTTP/1.0.
pub const ALPN_ISTIO_HTTP10: &[u8] = b"istio-http/1.0";
/// ALPN of mesh mTLS with an inner protocol that is not named (TCP,
/// Redis, MongoDB, or unknown).
pub const ALPN_ISTIO: &[u8] = b"istio";
/// Plain HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// Plain HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";
/// Plain HTTP/1.0.
pub const ALPN_HTTP10: &[u8] = b"http/1.0";

/// What an outbound sidecar offers for HTTP/2 and gRPC.
const CLIENT_H2: [&[u8]; 3] = [ALPN_ISTIO_H2, ALPN_ISTIO, ALPN_H2];
/// What an outbound sidecar offers for HTTP/1.1.
const CLIENT_HTTP11: [&[u8]; 3] = [ALPN_ISTIO_HTTP11, ALPN_ISTIO, ALPN_HTTP11];
/// What an outbound sidecar offers for HTTP/1.0.
const CLIENT_HTTP10: [&[u8]; 3] = [ALPN_ISTIO_HTTP10, ALPN_ISTIO, ALPN_HTTP10];
/// What an outbound sidecar offers for everything else.
const CLIENT_OTHER: [&[u8]; 1] = [ALPN_ISTIO];

/// What an inbound sidecar accepts, in its order of preference (rustls
/// picks the first of these that the client offers): the mesh names that
/// carry the inner protocol first, then bare `istio`, then plain names for
/// clients outside the mesh that were given a mesh certificate.
pub const SERVER_ALPN: [&[u8]; 7] = [
    ALPN_ISTIO_H2,
    ALPN_ISTIO_HTTP11,
    ALPN_ISTIO_HTTP10,
    ALPN_ISTIO,
    ALPN_H2,
    ALPN_HTTP11,
    ALPN_HTTP10,
];

/// The ALPN list an outbound sidecar offers for `protocol` (`None` when
/// the inner protocol is not known).
pub fn client_alpn(protocol: Option<Protocol>) -> &'static [&'static [u8]] {
    match protocol {
        Some(Protocol::Http2 | Protocol::Grpc) => &CLIENT_H2,
        Some(Protocol::Http1) => &CLIENT_HTTP11,
        _ => &CLIENT_OTHER,
    }
}

/// The ALPN list for HTTP/1.0, which [`Protocol`] does not tell apart from
/// HTTP/1.1.
pub fn client_alpn_http10() -> &'static [&'static [u8]] {
    &CLIENT_HTTP10
}

/// The inner protocol a negotiated ALPN name announces: HTTP/2 or HTTP/1
/// (mesh or plain names), `None` for `istio` and for names this crate does
/// not know (detect the protocol then).
pub fn inner_protocol(alpn: &[u8]) -> Option<Protocol> {
    match alpn {
        ALPN_ISTIO_H2 | ALPN_H2 => Some(Protocol::Http2),
        ALPN_ISTIO_HTTP11 | ALPN_ISTIO_HTTP10 | ALPN_HTTP11 | ALPN_HTTP10 => Some(Protocol::Http1),
        _ => None,
    }
}

/// Whether an ALPN name is one of the mesh's (`istio` or `istio-*`).
pub fn is_mesh_alpn(alpn: &[u8]) -> bool {
    alpn == ALPN_ISTIO || alpn.starts_with(b"istio-")
}

/// Whether a ClientHello comes from a mesh sidecar (it offers a mesh ALPN
/// name), so a permissive inbound port terminates it instead of passing
/// the application's own TLS through.
pub fn is_mesh_hello(hello: &ClientHello<'_>) -> bool {
    hello.alpn().any(is_mesh_alpn)
}

/// The SNI a sidecar sends to reach a service: the destination cluster in
/// Istio's `outbound_.<port>_.<subset>_.<host>` form (the subset is empty
/// when there is none: `outbound_.9080_._.reviews.default.svc.cluster.local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutboundSni<'a> {
    /// The service port.
    pub port: u16,
    /// The subset (a DestinationRule subset name), empty for none.
    pub subset: &'a str,
    /// The service's host name.
    pub host: &'a str,
}

/// The direction prefix and the separator of Istio's cluster names.
const OUTBOUND_PREFIX: &str = "outbound_.";
const SEPARATOR: &str = "_.";

impl<'a> OutboundSni<'a> {
    /// The SNI for `port` of `host`, optionally a subset.
    pub fn new(port: u16, subset: Option<&'a str>, host: &'a str) -> Self {
        OutboundSni {
            port,
            subset: subset.unwrap_or(""),
            host,
        }
    }

    /// Parses an SNI in the outbound form; `None` for any other name (an
    /// application's own SNI, an inbound cluster name, a malformed port).
    pub fn parse(sni: &'a str) -> Option<Self> {
        let rest = sni.strip_prefix(OUTBOUND_PREFIX)?;
        let (port, rest) = rest.split_once(SEPARATOR)?;
        let (subset, host) = rest.split_once(SEPARATOR)?;
        if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(OutboundSni {
            port: port.parse().ok()?,
            subset,
            host,
        })
    }

    /// The subset, if there is one.
    pub fn subset(&self) -> Option<&'a str> {
        (!self.subset.is_empty()).then_some(self.subset)
    }
}

impl fmt::Display for OutboundSni<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{OUTBOUND_PREFIX}{}{SEPARATOR}{}{SEPARATOR}{}",
            self.port, self.subset, self.host
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_forms() {
        for (s, port, subset, host) in [
            (
                "outbound_.9080_._.reviews.default.svc.cluster.local",
                9080,
                None,
                "reviews.default.svc.cluster.local",
            ),
            (
                "outbound_.9080_.v1_.reviews.default.svc.cluster.local",
                9080,
                Some("v1"),
                "reviews.default.svc.cluster.local",
            ),
            (
                "outbound_.6379_.canary-2_.redis",
                6379,
                Some("canary-2"),
                "redis",
            ),
        ] {
            let sni = OutboundSni::parse(s).unwrap();
            assert_eq!((sni.port, sni.subset(), sni.host), (port, subset, host));
            assert_eq!(sni.to_string(), s);
            assert_eq!(OutboundSni::new(port, subset, host), sni);
        }
        for bad in [
            "reviews.default.svc.cluster.local",
            "inbound_.9080_._.reviews",
            "outbound_.x_._.reviews",
            "outbound_.99999_._.reviews",
            "outbound_.9080_._.",
            "outbound_._._.reviews",
            "outbound_.9080_.v1",
            "outbound_.+80_._.reviews",
        ] {
            assert_eq!(OutboundSni::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sni_is_a_valid_server_name_for_rustls() {
        let sni = OutboundSni::new(9080, None, "reviews.default.svc.cluster.local").to_string();
        assert!(rustls_pki_types::ServerName::try_from(sni).is_ok());
    }

    #[test]
    fn alpn_by_protocol() {
        assert_eq!(
            client_alpn(Some(Protocol::Grpc)),
            &[b"istio-h2".as_slice(), b"istio", b"h2"]
        );
        assert_eq!(client_alpn(Some(Protocol::Http2))[0], b"istio-h2");
        assert_eq!(client_alpn(Some(Protocol::Http1))[0], b"istio-http/1.1");
        assert_eq!(client_alpn_http10()[0], b"istio-http/1.0");
        assert_eq!(client_alpn(Some(Protocol::Redis)), &[b"istio".as_slice()]);
        assert_eq!(client_alpn(None), &[b"istio".as_slice()]);
        for list in [
            client_alpn(Some(Protocol::Http2)),
            client_alpn(Some(Protocol::Http1)),
            client_alpn_http10(),
            client_alpn(None),
        ] {
            // The server picks the name that carries the inner protocol.
            let chosen = SERVER_ALPN.iter().find(|s| list.contains(s)).unwrap();
            assert_eq!(*chosen, list[0]);
            assert!(is_mesh_alpn(chosen));
        }
        assert_eq!(inner_protocol(b"istio-h2"), Some(Protocol::Http2));
        assert_eq!(inner_protocol(b"istio-http/1.0"), Some(Protocol::Http1));
        assert_eq!(inner_protocol(b"http/1.1"), Some(Protocol::Http1));
        assert_eq!(inner_protocol(b"istio"), None);
        assert!(!is_mesh_alpn(b"h2"));
        assert!(!is_mesh_alpn(b"istiox"));
        assert!(is_mesh_alpn(b"istio-peer-exchange"));
    }
}
