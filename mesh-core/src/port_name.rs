//! Istio's port-name convention: a port named `<protocol>[-<suffix>]`, or a
//! Kubernetes `appProtocol`, declares the protocol spoken on it.
//!
//! [`parse_port_name`] parses one name; [`resolve_port`] decides what a
//! listener does with a port: use the declared protocol, run detection, or
//! treat the bytes as opaque TCP.

use crate::Protocol;

/// A protocol a port can declare, by Istio's names.
///
/// Several map to the same [`Protocol`]: `https` and `tls` are both TLS that
/// the proxy does not terminate, `mysql` is proxied as opaque TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PortProtocol {
    /// `http`: HTTP/1.x; a proxy still accepts the HTTP/2 preface here.
    Http,
    /// `http2`, or the `appProtocol` `kubernetes.io/h2c`.
    Http2,
    /// `https`: TLS originated by the application.
    Https,
    /// `grpc`.
    Grpc,
    /// `grpc-web`: gRPC-Web over HTTP/1.1 or HTTP/2.
    GrpcWeb,
    /// `tls`.
    Tls,
    /// `mongo`.
    Mongo,
    /// `redis`.
    Redis,
    /// `tcp`.
    Tcp,
    /// `mysql`: proxied as opaque TCP (the server speaks first).
    Mysql,
}

impl PortProtocol {
    /// The name the convention uses for this protocol.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortProtocol::Http => "http",
            PortProtocol::Http2 => "http2",
            PortProtocol::Https => "https",
            PortProtocol::Grpc => "grpc",
            PortProtocol::GrpcWeb => "grpc-web",
            PortProtocol::Tls => "tls",
            PortProtocol::Mongo => "mongo",
            PortProtocol::Redis => "redis",
            PortProtocol::Tcp => "tcp",
            PortProtocol::Mysql => "mysql",
        }
    }

    /// The protocol a proxy speaks on a port that declares this.
    pub const fn protocol(self) -> Protocol {
        match self {
            PortProtocol::Http | PortProtocol::GrpcWeb => Protocol::Http1,
            PortProtocol::Http2 => Protocol::Http2,
            PortProtocol::Grpc => Protocol::Grpc,
            PortProtocol::Https | PortProtocol::Tls => Protocol::Tls,
            PortProtocol::Mongo => Protocol::Mongo,
            PortProtocol::Redis => Protocol::Redis,
            PortProtocol::Tcp | PortProtocol::Mysql => Protocol::Tcp,
        }
    }

    /// Plain names in the order they are tried; `grpc-web` comes before
    /// `grpc` because it contains the hyphen the split would otherwise use.
    const PREFIXES: [PortProtocol; 10] = [
        PortProtocol::GrpcWeb,
        PortProtocol::Http2,
        PortProtocol::Https,
        PortProtocol::Http,
        PortProtocol::Grpc,
        PortProtocol::Tls,
        PortProtocol::Mongo,
        PortProtocol::Redis,
        PortProtocol::Tcp,
        PortProtocol::Mysql,
    ];
}

/// The Kubernetes `appProtocol` value for cleartext HTTP/2.
pub const APP_PROTOCOL_H2C: &str = "kubernetes.io/h2c";

/// A parsed port name: the declared protocol and the free-form suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortName<'a> {
    /// The protocol the name declares.
    pub protocol: PortProtocol,
    /// What follows the first `-` after the protocol, if anything
    /// (`primary` in `mongo-primary`). Borrowed from the input.
    pub suffix: Option<&'a str>,
}

/// Why a port name declares no protocol we proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortNameError {
    /// The name is empty.
    #[error("the port name is empty")]
    Empty,
    /// The name starts or ends with `-`, which Kubernetes refuses.
    #[error("port name {name:?} starts or ends with '-'")]
    Malformed {
        /// The name as given.
        name: String,
    },
    /// The prefix is not a protocol of the convention.
    #[error(
        "port name {name:?} does not start with a known protocol (http, http2, https, grpc, grpc-web, tls, mongo, redis, tcp, mysql)"
    )]
    UnknownProtocol {
        /// The name as given.
        name: String,
    },
    /// The port declares UDP; meshkit proxies TCP only.
    #[error("port {name:?} declares UDP, which this proxy does not carry (TCP only)")]
    Udp {
        /// The name as given.
        name: String,
    },
}

/// Parses a port name or `appProtocol` value, case-insensitively.
///
/// `grpc-web` is matched before the name is split at its first hyphen, so
/// `grpc-web-foo` is gRPC-Web with suffix `foo` while `grpc-webx` is gRPC
/// with suffix `webx`. `kubernetes.io/h2c` is HTTP/2.
pub fn parse_port_name(name: &str) -> Result<PortName<'_>, PortNameError> {
    if name.is_empty() {
        return Err(PortNameError::Empty);
    }
    if name.eq_ignore_ascii_case(APP_PROTOCOL_H2C) {
        return Ok(PortName {
            protocol: PortProtocol::Http2,
            suffix: None,
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(PortNameError::Malformed {
            name: name.to_owned(),
        });
    }
    for protocol in PortProtocol::PREFIXES {
        if let Some(suffix) = strip_prefix_ignore_case(name, protocol.as_str()) {
            match suffix {
                "" => {
                    return Ok(PortName {
                        protocol,
                        suffix: None,
                    });
                }
                s if s.starts_with('-') => {
                    return Ok(PortName {
                        protocol,
                        suffix: Some(&s[1..]),
                    });
                }
                _ => {}
            }
        }
    }
    let prefix = name.split('-').next().unwrap_or(name);
    if prefix.eq_ignore_ascii_case("udp") {
        return Err(PortNameError::Udp {
            name: name.to_owned(),
        });
    }
    Err(PortNameError::UnknownProtocol {
        name: name.to_owned(),
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Ports that are opaque by default: never sniffed, because their protocol
/// is server-first (the client would wait for the server while the proxy
/// waits for the client) or is known not to be one we interpret.
///
/// Each entry is the port and the reason, for documentation and logs.
pub const DEFAULT_OPAQUE_PORTS: &[(u16, &str)] = &[
    (21, "FTP control: the server speaks first"),
    (
        22,
        "SSH: both sides send a banner; clients often wait for the server",
    ),
    (25, "SMTP: the server speaks first"),
    (53, "DNS over TCP: binary, never HTTP"),
    (110, "POP3: the server speaks first"),
    (143, "IMAP: the server speaks first"),
    (587, "SMTP submission: the server speaks first"),
    (3306, "MySQL: the server speaks first"),
    (4444, "Galera state transfer: MySQL cluster traffic"),
    (5432, "PostgreSQL: binary startup, never HTTP"),
    (9300, "Elasticsearch transport: binary"),
    (11211, "memcached: its text commands can look like HTTP"),
];

/// Whether `port` is in [`DEFAULT_OPAQUE_PORTS`].
pub fn is_default_opaque(port: u16) -> bool {
    DEFAULT_OPAQUE_PORTS.iter().any(|&(p, _)| p == port)
}

/// What to do with a port whose name declares no known protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UndeclaredPort {
    /// Run protocol detection (Istio's behaviour for unnamed ports).
    #[default]
    Detect,
    /// Proxy as opaque TCP without looking at the bytes.
    Tcp,
}

/// What a listener does with the bytes of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMode {
    /// The port declares its protocol; no detection.
    Declared(PortProtocol),
    /// Detect the protocol from the first bytes.
    Detect,
    /// Opaque TCP, never sniffed.
    Opaque,
}

/// Decides how a listener treats a port from its `appProtocol` (which wins,
/// as in Istio), its name, and the opaque-port list.
///
/// A name or `appProtocol` that declares UDP is an error. Anything else that
/// declares nothing known (no name, an unknown prefix, a malformed name)
/// follows `undeclared`, except that ports in `opaque_ports` are always
/// opaque when undeclared.
pub fn resolve_port(
    port: u16,
    name: Option<&str>,
    app_protocol: Option<&str>,
    undeclared: UndeclaredPort,
    opaque_ports: &[u16],
) -> Result<PortMode, PortNameError> {
    for candidate in [app_protocol, name].into_iter().flatten() {
        match parse_port_name(candidate) {
            Ok(parsed) => return Ok(PortMode::Declared(parsed.protocol)),
            Err(err @ PortNameError::Udp { .. }) => return Err(err),
            Err(_) => {}
        }
    }
    if opaque_ports.contains(&port) {
        return Ok(PortMode::Opaque);
    }
    Ok(match undeclared {
        UndeclaredPort::Detect => PortMode::Detect,
        UndeclaredPort::Tcp => PortMode::Opaque,
    })
}

/// The ports of [`DEFAULT_OPAQUE_PORTS`], for [`resolve_port`].
pub fn default_opaque_ports() -> Vec<u16> {
    DEFAULT_OPAQUE_PORTS.iter().map(|&(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prop_assert_eq;

    #[test]
    fn table_of_names() {
        use PortProtocol::*;
        let good: &[(&str, PortProtocol, Option<&str>)] = &[
            ("http", Http, None),
            ("HTTP", Http, None),
            ("http-api", Http, Some("api")),
            ("http2", Http2, None),
            ("http2-web", Http2, Some("web")),
            ("https", Https, None),
            ("https-admin", Https, Some("admin")),
            ("grpc", Grpc, None),
            ("GRPC", Grpc, None),
            ("grpc-web", GrpcWeb, None),
            ("gRPC-Web", GrpcWeb, None),
            ("grpc-web-ui", GrpcWeb, Some("ui")),
            ("grpc-webx", Grpc, Some("webx")),
            ("grpc-api", Grpc, Some("api")),
            ("tls", Tls, None),
            ("mongo", Mongo, None),
            ("mongo-primary", Mongo, Some("primary")),
            ("redis", Redis, None),
            ("Redis-cache", Redis, Some("cache")),
            ("tcp", Tcp, None),
            ("tcp-a-b", Tcp, Some("a-b")),
            ("mysql", Mysql, None),
            ("kubernetes.io/h2c", Http2, None),
            ("Kubernetes.IO/H2C", Http2, None),
        ];
        for &(name, protocol, suffix) in good {
            assert_eq!(
                parse_port_name(name),
                Ok(PortName { protocol, suffix }),
                "{name}"
            );
        }
    }

    #[test]
    fn bad_names() {
        assert_eq!(parse_port_name(""), Err(PortNameError::Empty));
        assert!(matches!(
            parse_port_name("-http"),
            Err(PortNameError::Malformed { .. })
        ));
        assert!(matches!(
            parse_port_name("http-"),
            Err(PortNameError::Malformed { .. })
        ));
        assert!(matches!(
            parse_port_name("udp-dns"),
            Err(PortNameError::Udp { .. })
        ));
        assert!(matches!(
            parse_port_name("UDP"),
            Err(PortNameError::Udp { .. })
        ));
        for unknown in [
            "httpx",
            "web",
            "http3",
            "grpcweb",
            "h2c",
            "kubernetes.io/ws",
            "mongodb",
        ] {
            assert!(
                matches!(
                    parse_port_name(unknown),
                    Err(PortNameError::UnknownProtocol { .. })
                ),
                "{unknown}"
            );
        }
    }

    #[test]
    fn mapping_to_protocols() {
        assert_eq!(PortProtocol::Https.protocol(), Protocol::Tls);
        assert_eq!(PortProtocol::Tls.protocol(), Protocol::Tls);
        assert_eq!(PortProtocol::Mysql.protocol(), Protocol::Tcp);
        assert_eq!(PortProtocol::Http.protocol(), Protocol::Http1);
        assert_eq!(PortProtocol::Http2.protocol(), Protocol::Http2);
        assert_eq!(PortProtocol::Grpc.protocol(), Protocol::Grpc);
    }

    #[test]
    fn resolution() {
        let opaque = default_opaque_ports();
        let detect = UndeclaredPort::Detect;
        assert_eq!(
            resolve_port(8080, Some("http-web"), None, detect, &opaque),
            Ok(PortMode::Declared(PortProtocol::Http))
        );
        // appProtocol wins over the name.
        assert_eq!(
            resolve_port(
                8080,
                Some("http"),
                Some("kubernetes.io/h2c"),
                detect,
                &opaque
            ),
            Ok(PortMode::Declared(PortProtocol::Http2))
        );
        assert_eq!(
            resolve_port(8080, None, None, detect, &opaque),
            Ok(PortMode::Detect)
        );
        assert_eq!(
            resolve_port(8080, Some("web"), None, UndeclaredPort::Tcp, &opaque),
            Ok(PortMode::Opaque)
        );
        assert_eq!(
            resolve_port(8080, Some("-http"), None, detect, &opaque),
            Ok(PortMode::Detect)
        );
        // Opaque ports are never sniffed, but a declaration still wins.
        assert_eq!(
            resolve_port(3306, None, None, detect, &opaque),
            Ok(PortMode::Opaque)
        );
        assert_eq!(
            resolve_port(25, Some("smtp"), None, detect, &opaque),
            Ok(PortMode::Opaque)
        );
        assert_eq!(
            resolve_port(5432, Some("tcp-pg"), None, detect, &opaque),
            Ok(PortMode::Declared(PortProtocol::Tcp))
        );
        assert!(matches!(
            resolve_port(53, Some("udp-dns"), None, detect, &opaque),
            Err(PortNameError::Udp { .. })
        ));
        assert!(is_default_opaque(25) && is_default_opaque(53) && is_default_opaque(3306));
        assert!(!is_default_opaque(80));
    }

    proptest::proptest! {
        #[test]
        fn any_name_parses_or_errs_without_panic(name in "\\PC{0,40}") {
            let _ = parse_port_name(&name);
        }

        #[test]
        fn declared_protocol_and_suffix_survive(
            idx in 0usize..PortProtocol::PREFIXES.len(),
            suffix in proptest::option::of("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"),
            upper in proptest::bool::ANY,
        ) {
            let protocol = PortProtocol::PREFIXES[idx];
            let mut name = protocol.as_str().to_owned();
            if let Some(s) = &suffix {
                name.push('-');
                name.push_str(s);
            }
            if upper {
                name = name.to_ascii_uppercase();
            }
            let parsed = parse_port_name(&name).unwrap();
            // `grpc-web...` is always gRPC-Web, whatever suffix `grpc` had.
            let web = protocol == PortProtocol::Grpc
                && suffix.as_deref().is_some_and(|s| s == "web" || s.starts_with("web-"));
            if web {
                prop_assert_eq!(parsed.protocol, PortProtocol::GrpcWeb);
            } else {
                prop_assert_eq!(parsed.protocol, protocol);
                prop_assert_eq!(
                    parsed.suffix.map(str::to_ascii_lowercase),
                    suffix.clone()
                );
            }
        }
    }
}
