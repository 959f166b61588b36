//! HTTP/2 message validation (RFC 9113 §8.1-§8.3): what turns a decoded
//! field list into a request head, a response head or trailers.
//!
//! A message that fails is *malformed*: a stream error of type
//! PROTOCOL_ERROR. These checks are what keep an HTTP/2 to HTTP/1
//! translation from becoming a desync: a field name with a colon or upper
//! case, a value with CR, LF or NUL, a connection-specific field
//! (`transfer-encoding`, `connection`, ...), `te` other than `trailers`, a
//! `:path` with spaces, or a `content-length` that the DATA frames do not
//! match (checked by the stream as DATA arrives) would each let one
//! request turn into two on the HTTP/1 side (H2.TE, H2.CL, header
//! injection).
//!
//! Beyond the RFC's minimum, names must be tokens and values field-values
//! (RFC 9110 §5.1, §5.5), as RFC 9113 §8.2.1 recommends, and `host` must
//! agree with `:authority` (§8.3.1).

use std::borrow::Cow;

use bytes::Bytes;

use crate::h1::chars::{is_tchar, is_value_byte};
use crate::h1::{Field, HeaderMap, Method};
use crate::h2::classify::parse_length;
use crate::h2::hpack;
use crate::h2::message::{RequestHead, ResponseHead};

/// Why a message is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) Cow<'static, str>);

fn bad(reason: impl Into<Cow<'static, str>>) -> Malformed {
    Malformed(reason.into())
}

/// Fields HTTP/2 forbids because they describe one HTTP/1 connection
/// (RFC 9113 §8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"transfer-encoding",
    b"upgrade",
];

/// Whether `name` is connection-specific (`te` aside): never sent, and
/// malformed when received.
pub(crate) fn is_connection_specific(name: &[u8]) -> bool {
    CONNECTION_SPECIFIC
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c))
}

fn name_text(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn check_name(name: &[u8]) -> Result<(), Malformed> {
    if name.is_empty() {
        return Err(bad("empty field name"));
    }
    if name.iter().any(u8::is_ascii_uppercase) {
        return Err(bad(format!(
            "field name {:?} has upper case",
            name_text(name)
        )));
    }
    if !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad(format!(
            "field name {:?} is not a token",
            name_text(name)
        )));
    }
    Ok(())
}

fn check_value(name: &[u8], value: &[u8]) -> Result<(), Malformed> {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if !value.iter().all(|&b| is_value_byte(b)) {
        return Err(bad(format!(
            "field {:?} has a value with CR, LF, NUL or another control byte",
            name_text(name)
        )));
    }
    if edge(value.first()) || edge(value.last()) {
        return Err(bad(format!(
            "field {:?} has a value with surrounding whitespace",
            name_text(name)
        )));
    }
    Ok(())
}

/// What the regular fields of one section said about framing and routing.
#[derive(Default)]
struct Regular {
    headers: HeaderMap,
    content_length: Option<u64>,
    host: Option<Bytes>,
}

impl Regular {
    fn add(&mut self, f: hpack::Field) -> Result<(), Malformed> {
        check_name(&f.name)?;
        check_value(&f.name, &f.value)?;
        if is_connection_specific(&f.name) {
            return Err(bad(format!(
                "connection-specific field {:?}",
                name_text(&f.name)
            )));
        }
        match &f.name[..] {
            b"te" if !f.value.eq_ignore_ascii_case(b"trailers") => {
                return Err(bad("te other than \"trailers\""));
            }
            b"content-length" => {
                let Some(n) = parse_length(&f.value) else {
                    return Err(bad("content-length is not a decimal number"));
                };
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(bad("content-length values differ"));
                }
                self.content_length = Some(n);
            }
            b"host" => {
                if self.host.is_some() {
                    return Err(bad("more than one host field"));
                }
                self.host = Some(f.value.clone());
            }
            _ => {}
        }
        self.headers.push_field(Field {
            name: f.name,
            value: f.value,
            sensitive: f.never_indexed,
        });
        Ok(())
    }
}

fn set_once(slot: &mut Option<Bytes>, name: &'static str, value: Bytes) -> Result<(), Malformed> {
    if slot.is_some() {
        return Err(bad(format!("{name} appears twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3986 authority bytes: unreserved, pct-encoded, sub-delims, `:`,
/// `@`, `[` and `]`.
fn is_authority_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
        )
}

/// Checks that pseudo-header fields come before all regular fields, hands
/// each pseudo-header field to `pseudo` and checks and collects the
/// regular ones.
fn split(
    fields: Vec<hpack::Field>,
    mut pseudo: impl FnMut(hpack::Field) -> Result<(), Malformed>,
) -> Result<Regular, Malformed> {
    let mut regular = Regular::default();
    let mut seen_regular = false;
    for f in fields {
        if f.name.first() == Some(&b':') {
            if seen_regular {
                return Err(bad("pseudo-header field after a regular field"));
            }
            pseudo(f)?;
        } else {
            seen_regular = true;
            regular.add(f)?;
        }
    }
    Ok(regular)
}

/// Checks a request's fields and builds its head.
pub(crate) fn request(fields: Vec<hpack::Field>) -> Result<RequestHead, Malformed> {
    let (mut method, mut scheme, mut authority, mut path) = (None, None, None, None);
    let regular = split(fields, |f| {
        check_value(&f.name, &f.value)?;
        match &f.name[..] {
            b":method" => set_once(&mut method, ":method", f.value)?,
            b":scheme" => set_once(&mut scheme, ":scheme", f.value)?,
            b":authority" => set_once(&mut authority, ":authority", f.value)?,
            b":path" => set_once(&mut path, ":path", f.value)?,
            b":protocol" => return Err(bad(":protocol without extended CONNECT")),
            b":status" => return Err(bad(":status in a request")),
            other => {
                return Err(bad(format!(
                    "unknown pseudo-header field {:?}",
                    name_text(other)
                )));
            }
        }
        Ok(())
    })?;
    let method = method.ok_or_else(|| bad("no :method"))?;
    let method = Method::from_bytes(method).map_err(|_| bad(":method is not a token"))?;
    if let Some(a) = &authority {
        if a.is_empty() || !a.iter().all(|&b| is_authority_byte(b)) {
            return Err(bad(":authority has a byte an authority cannot have"));
        }
    }
    if method.is_connect() {
        if authority.is_none() {
            return Err(bad("CONNECT without :authority"));
        }
        if scheme.is_some() || path.is_some() {
            return Err(bad("CONNECT with :scheme or :path"));
        }
    } else {
        let s = scheme.as_ref().ok_or_else(|| bad("no :scheme"))?;
        if !is_scheme(s) {
            return Err(bad(":scheme is not a URI scheme"));
        }
        let p = path.as_ref().ok_or_else(|| bad("no :path"))?;
        if p.is_empty() {
            return Err(bad("empty :path"));
        }
        if !p.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(bad(":path has a space or a byte that is not visible ASCII"));
        }
        let http = s.eq_ignore_ascii_case(b"http") || s.eq_ignore_ascii_case(b"https");
        if http {
            let asterisk = &p[..] == b"*";
            if !(p.starts_with(b"/") || asterisk && method == Method::OPTIONS) {
                return Err(bad(":path must start with / (or be * for OPTIONS)"));
            }
            if authority.as_ref().is_some_and(|a| a.contains(&b'@')) {
                return Err(bad(":authority with userinfo"));
            }
        }
    }
    if let (Some(a), Some(h)) = (&authority, &regular.host) {
        if !a.eq_ignore_ascii_case(h) {
            return Err(bad("host and :authority differ"));
        }
    }
    Ok(RequestHead {
        method,
        scheme,
        authority,
        path,
        headers: regular.headers,
    })
}

/// Checks a response's fields and builds its head (informational ones
/// included: the caller tells them apart by status).
pub(crate) fn response(fields: Vec<hpack::Field>) -> Result<ResponseHead, Malformed> {
    let mut status = None;
    let regular = split(fields, |f| {
        match &f.name[..] {
            b":status" => set_once(&mut status, ":status", f.value)?,
            other => {
                return Err(bad(format!(
                    "pseudo-header field {:?} in a response",
                    name_text(other)
                )));
            }
        }
        Ok(())
    })?;
    let status = status.ok_or_else(|| bad("no :status"))?;
    let code = match &status[..] {
        [a @ b'1'..=b'5', b, c] if b.is_ascii_digit() && c.is_ascii_digit() => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(bad(":status is not a status code")),
    };
    if code == 101 {
        return Err(bad("101 Switching Protocols does not exist in HTTP/2"));
    }
    Ok(ResponseHead {
        status: code,
        headers: regular.headers,
    })
}

/// Checks a trailer section: no pseudo-header fields, and the rules of
/// regular fields.
pub(crate) fn trailers(fields: Vec<hpack::Field>) -> Result<HeaderMap, Malformed> {
    let mut regular = Regular::default();
    for f in fields {
        if f.name.first() == Some(&b':') {
            return Err(bad("pseudo-header field in trailers"));
        }
        regular.add(f)?;
    }
    Ok(regular.headers)
}

/// The content-length a checked head declares.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    crate::h2::classify::content_length(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<hpack::Field> {
        list.iter()
            .map(|(n, v)| hpack::Field::new(n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/"),
    ];

    fn req(extra: &[(&str, &str)]) -> Result<RequestHead, Malformed> {
        let mut list = GET.to_vec();
        list.extend_from_slice(extra);
        request(fields(&list))
    }

    #[test]
    fn a_good_request() {
        let h = req(&[
            ("accept", "*/*"),
            ("te", "trailers"),
            ("content-length", "5"),
        ])
        .unwrap();
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.authority.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(declared_length(&h.headers), Some(5));
        assert_eq!(h.headers.len(), 3);
        let c = request(fields(&[(":method", "CONNECT"), (":authority", "a:443")])).unwrap();
        assert!(c.path.is_none());
        let o = request(fields(&[
            (":method", "OPTIONS"),
            (":scheme", "http"),
            (":authority", "a"),
            (":path", "*"),
        ]));
        assert!(o.is_ok());
    }

    #[test]
    fn every_request_rule() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":method", "GET"),
                ],
                "twice",
            ),
            (&[(":scheme", "http"), (":path", "/")], "no :method"),
            (&[(":method", "GET"), (":path", "/")], "no :scheme"),
            (&[(":method", "GET"), (":scheme", "http")], "no :path"),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "")],
                "empty :path",
            ),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "/a b")],
                "space",
            ),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "a")],
                "start with",
            ),
            (
                &[(":method", "GET"), (":scheme", "http"), (":path", "*")],
                "start with",
            ),
            (
                &[(":method", "G T"), (":scheme", "http"), (":path", "/")],
                "token",
            ),
            (
                &[(":method", "GET"), (":scheme", "ht tp"), (":path", "/")],
                "scheme",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":foo", "x"),
                ],
                "unknown",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":status", "200"),
                ],
                ":status",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":protocol", "ws"),
                ],
                ":protocol",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    ("a", "b"),
                    (":path", "/"),
                ],
                "after a regular",
            ),
            (
                &[
                    (":method", "CONNECT"),
                    (":authority", "a:1"),
                    (":path", "/"),
                ],
                "CONNECT with",
            ),
            (&[(":method", "CONNECT")], "CONNECT without"),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "u@h"),
                ],
                "userinfo",
            ),
            (
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "a b"),
                ],
                "authority",
            ),
        ];
        for (list, want) in cases {
            let err = request(fields(list)).unwrap_err();
            assert!(
                err.0.contains(want),
                "{list:?}: {err:?} should say {want:?}"
            );
        }
        for (extra, want) in [
            (("Accept", "x"), "upper case"),
            (("a:b", "x"), "token"),
            (("a b", "x"), "token"),
            (("x", "a\r\nb"), "control"),
            (("x", "a\0b"), "control"),
            (("x", " a"), "whitespace"),
            (("x", "a\t"), "whitespace"),
            (("connection", "close"), "connection-specific"),
            (("keep-alive", "1"), "connection-specific"),
            (("proxy-connection", "1"), "connection-specific"),
            (("transfer-encoding", "chunked"), "connection-specific"),
            (("upgrade", "h2c"), "connection-specific"),
            (("te", "gzip"), "te other"),
            (("content-length", "x"), "decimal"),
            (("host", "other.example"), "differ"),
        ] {
            let err = req(&[extra]).unwrap_err();
            assert!(
                err.0.contains(want),
                "{extra:?}: {err:?} should say {want:?}"
            );
        }
        let err = req(&[("content-length", "1"), ("content-length", "2")]).unwrap_err();
        assert!(err.0.contains("differ"));
        assert!(req(&[("content-length", "1"), ("content-length", "1")]).is_ok());
        let err = req(&[("host", "example.com"), ("host", "example.com")]).unwrap_err();
        assert!(err.0.contains("more than one host"));
        assert!(req(&[("host", "EXAMPLE.com")]).is_ok());
    }

    #[test]
    fn responses_and_trailers() {
        let r = response(fields(&[(":status", "204"), ("x", "1")])).unwrap();
        assert_eq!(r.status, 204);
        for (list, want) in [
            (&[("x", "1")][..], "no :status"),
            (&[(":status", "20")], "status code"),
            (&[(":status", "600")], "status code"),
            (&[(":status", "2x0")], "status code"),
            (&[(":status", "101")], "101"),
            (&[(":status", "200"), (":status", "200")], "twice"),
            (&[(":status", "200"), (":path", "/")], "in a response"),
            (&[("x", "1"), (":status", "200")], "after a regular"),
        ] {
            let err = response(fields(list)).unwrap_err();
            assert!(err.0.contains(want), "{list:?}: {err:?}");
        }
        assert_eq!(trailers(fields(&[("grpc-status", "0")])).unwrap().len(), 1);
        assert!(trailers(fields(&[(":status", "200")])).is_err());
        assert!(trailers(fields(&[("Grpc-Status", "0")])).is_err());
    }

    #[test]
    fn never_indexed_fields_stay_sensitive() {
        let mut list = fields(&GET);
        list.push(hpack::Field::sensitive("authorization", "secret"));
        let h = request(list).unwrap();
        let f = h.headers.iter().next().unwrap();
        assert!(f.sensitive);
        assert!(!format!("{f:?}").contains("secret"));
    }
}
