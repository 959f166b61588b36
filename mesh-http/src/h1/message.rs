//! Owned message heads: what the connection drivers hand out and take.
//!
//! Parsed heads share the read buffer: every name, value and target is a
//! [`Bytes`] slice of the frozen head, so no byte is copied. Fields added
//! by a proxy are checked when added, so a head built here can always be
//! written without producing a second message (no CR, LF or NUL in a
//! value, token names).

use bytes::Bytes;

use super::chars::{is_tchar, is_value_byte};
use super::parse::Version;

/// A field name or value that cannot be written into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidField {
    /// The name is empty or not a token.
    #[error("invalid field name {0:?}")]
    Name(String),
    /// The value has CR, LF, NUL or another control byte.
    #[error("invalid value for field {0:?}")]
    Value(String),
    /// The method is empty or not a token.
    #[error("invalid method {0:?}")]
    Method(String),
    /// The request-target is empty or has a byte outside `%x21-7E`.
    #[error("invalid request-target {0:?}")]
    Target(String),
}

impl mesh_core::ErrorClass for InvalidField {
    fn side(&self) -> mesh_core::Side {
        mesh_core::Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

fn is_token(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_tchar(c))
}

fn is_value(b: &[u8]) -> bool {
    b.iter().all(|&c| is_value_byte(c))
        && !b.first().is_some_and(|&c| c == b' ' || c == b'\t')
        && !b.last().is_some_and(|&c| c == b' ' || c == b'\t')
}

/// One field line.
#[derive(Clone, PartialEq, Eq)]
pub struct Field {
    /// The name, as sent.
    pub name: Bytes,
    /// The value, without surrounding whitespace.
    pub value: Bytes,
    /// The field is a secret that compression must never index: it arrived
    /// as an HPACK never-indexed literal (RFC 7541 §6.2.3), or the
    /// application marked it so. HTTP/1 ignores the flag; HTTP/2 sends the
    /// field never-indexed again, as an intermediary must (§7.1.3).
    pub sensitive: bool,
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.sensitive {
            return write!(f, "{}: <sensitive>", String::from_utf8_lossy(&self.name));
        }
        write!(
            f,
            "{}: {}",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.value)
        )
    }
}

/// The field lines of a head or trailer section, in order, with
/// case-insensitive lookup.
///
/// A list rather than a map: HTTP/1 keeps order and repetition, and heads
/// are small, so a linear scan beats hashing for the few lookups a proxy
/// makes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    fields: Vec<Field>,
}

impl std::fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.fields).finish()
    }
}

impl HeaderMap {
    /// An empty list.
    pub fn new() -> Self {
        HeaderMap::default()
    }

    /// An empty list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        HeaderMap {
            fields: Vec::with_capacity(n),
        }
    }

    /// Adds a field the parser already validated.
    pub(crate) fn push_unchecked(&mut self, name: Bytes, value: Bytes) {
        self.fields.push(Field {
            name,
            value,
            sensitive: false,
        });
    }

    /// Adds a field another codec already validated (HTTP/2's decoder).
    pub(crate) fn push_field(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// The fields recorded by the parser as offsets into `frozen`.
    pub(crate) fn from_offsets(frozen: &Bytes, offsets: &[[usize; 4]]) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(offsets.len());
        for &[ns, nl, vs, vl] in offsets {
            map.push_unchecked(frozen.slice(ns..ns + nl), frozen.slice(vs..vs + vl));
        }
        map
    }

    /// Appends a field after checking that it can be written safely.
    pub fn append(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<&mut Self, InvalidField> {
        self.append_field(name.into(), value.into(), false)
    }

    /// Appends a secret field (a credential, a session cookie) after
    /// checking it: HTTP/2 sends it as a never-indexed literal, so no
    /// compression table on the path holds it.
    pub fn append_sensitive(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<&mut Self, InvalidField> {
        self.append_field(name.into(), value.into(), true)
    }

    fn append_field(
        &mut self,
        name: Bytes,
        value: Bytes,
        sensitive: bool,
    ) -> Result<&mut Self, InvalidField> {
        if !is_token(&name) {
            return Err(InvalidField::Name(
                String::from_utf8_lossy(&name).into_owned(),
            ));
        }
        if !is_value(&value) {
            return Err(InvalidField::Value(
                String::from_utf8_lossy(&name).into_owned(),
            ));
        }
        self.fields.push(Field {
            name,
            value,
            sensitive,
        });
        Ok(self)
    }

    /// Replaces every field named `name` with one field.
    pub fn insert(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<&mut Self, InvalidField> {
        let name = name.into();
        let value = value.into();
        // Validate before removing anything.
        if !is_token(&name) {
            return Err(InvalidField::Name(
                String::from_utf8_lossy(&name).into_owned(),
            ));
        }
        if !is_value(&value) {
            return Err(InvalidField::Value(
                String::from_utf8_lossy(&name).into_owned(),
            ));
        }
        self.remove_bytes(&name);
        self.fields.push(Field {
            name,
            value,
            sensitive: false,
        });
        Ok(self)
    }

    /// The number of field lines.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field line, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Field> {
        self.fields.iter()
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| &f.value)
    }

    /// The values of every field named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| &f.value)
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field named `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        self.remove_bytes(name.as_bytes())
    }

    fn remove_bytes(&mut self, name: &[u8]) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
        before - self.fields.len()
    }

    /// Keeps only the fields for which `keep` says yes.
    pub fn retain(&mut self, keep: impl FnMut(&Field) -> bool) {
        self.fields.retain(keep);
    }

    /// The borrowed `(name, value)` pairs, for the framing analysis.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.fields.iter().map(|f| (&f.name[..], &f.value[..]))
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = &'a Field;
    type IntoIter = std::slice::Iter<'a, Field>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

/// A request method: a token, compared case-sensitively (RFC 9110 §9.1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Bytes);

impl Method {
    /// GET.
    pub const GET: Method = Method(Bytes::from_static(b"GET"));
    /// HEAD: the response has no body, whatever its framing fields say.
    pub const HEAD: Method = Method(Bytes::from_static(b"HEAD"));
    /// POST.
    pub const POST: Method = Method(Bytes::from_static(b"POST"));
    /// PUT.
    pub const PUT: Method = Method(Bytes::from_static(b"PUT"));
    /// DELETE.
    pub const DELETE: Method = Method(Bytes::from_static(b"DELETE"));
    /// CONNECT: a 2xx response turns the connection into a tunnel.
    pub const CONNECT: Method = Method(Bytes::from_static(b"CONNECT"));
    /// OPTIONS.
    pub const OPTIONS: Method = Method(Bytes::from_static(b"OPTIONS"));
    /// TRACE.
    pub const TRACE: Method = Method(Bytes::from_static(b"TRACE"));
    /// PATCH.
    pub const PATCH: Method = Method(Bytes::from_static(b"PATCH"));

    /// A method from its name, which must be a token.
    pub fn from_bytes(name: impl Into<Bytes>) -> Result<Method, InvalidField> {
        let name = name.into();
        if is_token(&name) {
            Ok(Method(name))
        } else {
            Err(InvalidField::Method(
                String::from_utf8_lossy(&name).into_owned(),
            ))
        }
    }

    pub(crate) fn from_parsed(name: Bytes) -> Method {
        Method(name)
    }

    /// The name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is HEAD.
    pub fn is_head(&self) -> bool {
        self.0[..] == b"HEAD"[..]
    }

    /// Whether this is CONNECT.
    pub fn is_connect(&self) -> bool {
        self.0[..] == b"CONNECT"[..]
    }

    /// Whether the method is idempotent (RFC 9110 §9.2.2), so a retry
    /// policy may repeat it.
    pub fn is_idempotent(&self) -> bool {
        matches!(
            &self.0[..],
            b"GET" | b"HEAD" | b"PUT" | b"DELETE" | b"OPTIONS" | b"TRACE"
        )
    }
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// The head of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request-target, as sent.
    pub target: Bytes,
    /// The version.
    pub version: Version,
    /// The fields.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// An HTTP/1.1 request head without fields.
    pub fn new(method: Method, target: impl Into<Bytes>) -> Result<Self, InvalidField> {
        let target = target.into();
        if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(InvalidField::Target(
                String::from_utf8_lossy(&target).into_owned(),
            ));
        }
        Ok(RequestHead {
            method,
            target,
            version: Version::Http11,
            headers: HeaderMap::new(),
        })
    }
}

/// The head of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The version.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: Bytes,
    /// The fields.
    pub headers: HeaderMap,
}

impl ResponseHead {
    /// An HTTP/1.1 response head with the status's usual reason phrase.
    pub fn new(status: u16) -> Self {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: Bytes::from_static(reason_phrase(status).as_bytes()),
            headers: HeaderMap::new(),
        }
    }
}

/// The usual reason phrase of a status code (RFC 9110 §15), or "" for a
/// code without one.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_checks_and_finds() {
        let mut h = HeaderMap::new();
        h.append("Host", "example.com").unwrap();
        h.append("X-A", "1").unwrap().append("x-a", "2").unwrap();
        assert_eq!(h.get("host").unwrap(), "example.com");
        assert_eq!(h.get_all("X-a").collect::<Vec<_>>(), ["1", "2"]);
        assert!(matches!(
            h.append("Bad Name", "v"),
            Err(InvalidField::Name(_))
        ));
        assert!(matches!(
            h.append("X", "a\r\nInjected: 1"),
            Err(InvalidField::Value(_))
        ));
        assert!(matches!(
            h.append("X", "nul\0"),
            Err(InvalidField::Value(_))
        ));
        assert!(matches!(
            h.append("X", " padded"),
            Err(InvalidField::Value(_))
        ));
        h.insert("x-a", "3").unwrap();
        assert_eq!(h.get_all("x-a").collect::<Vec<_>>(), ["3"]);
        assert_eq!(h.remove("X-A"), 1);
        assert_eq!(h.len(), 1);
        assert!(Method::from_bytes("GE T").is_err());
        assert!(Method::from_bytes("PURGE").unwrap().as_bytes() == b"PURGE");
        assert!(RequestHead::new(Method::GET, "/a b").is_err());
        assert!(Method::PUT.is_idempotent() && !Method::POST.is_idempotent());
        assert_eq!(ResponseHead::new(404).reason, "Not Found");
    }
}
