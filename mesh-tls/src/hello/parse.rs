//! The ClientHello body (RFC 8446 section 4.1.2, RFC 5246 section 7.4.1.2):
//! every length is checked against what encloses it, and the extensions
//! the sniffer reports are validated down to their last byte.

use super::{ClientHello, HelloError, Span};

/// `server_name` (RFC 6066).
pub(crate) const EXT_SERVER_NAME: u16 = 0;
/// `supported_groups` (RFC 8422, RFC 8446).
pub(crate) const EXT_SUPPORTED_GROUPS: u16 = 10;
/// `ec_point_formats` (RFC 8422).
pub(crate) const EXT_EC_POINT_FORMATS: u16 = 11;
/// `application_layer_protocol_negotiation` (RFC 7301).
pub(crate) const EXT_ALPN: u16 = 16;
/// `supported_versions` (RFC 8446).
pub(crate) const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// The `host_name` entry of a server name list.
const NAME_TYPE_HOST_NAME: u8 = 0;
/// The length of `Random`.
const RANDOM_LEN: usize = 32;
/// The longest legacy session id.
const MAX_SESSION_ID_LEN: usize = 32;

/// A reader over the body that hands out spans (offsets), never copies.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<Span, HelloError> {
        if n > self.remaining() {
            return Err(HelloError::Malformed { field });
        }
        let span = Span::new(self.pos, n);
        self.pos += n;
        Ok(span)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, HelloError> {
        let span = self.take(1, field)?;
        Ok(self.buf[span.start()])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, HelloError> {
        let span = self.take(2, field)?;
        let s = span.start();
        Ok(u16::from_be_bytes([self.buf[s], self.buf[s + 1]]))
    }

    /// A vector with a one-byte length prefix.
    fn vec8(&mut self, field: &'static str) -> Result<Span, HelloError> {
        let n = self.u8(field)?;
        self.take(usize::from(n), field)
    }

    /// A vector with a two-byte length prefix.
    fn vec16(&mut self, field: &'static str) -> Result<Span, HelloError> {
        let n = self.u16(field)?;
        self.take(usize::from(n), field)
    }
}

/// The spans of the fields a ClientHello view exposes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    pub legacy_version: u16,
    pub random: Span,
    pub session_id: Span,
    pub cipher_suites: Span,
    pub compression_methods: Span,
    pub extensions: Span,
    pub server_name: Option<Span>,
    pub alpn: Option<Span>,
    pub supported_versions: Option<Span>,
    pub supported_groups: Option<Span>,
    pub ec_point_formats: Option<Span>,
}

/// Parses a complete ClientHello body.
pub(crate) fn parse_body(body: &[u8]) -> Result<Fields, HelloError> {
    let mut c = Cursor::new(body);
    let mut f = Fields {
        legacy_version: c.u16("legacy_version")?,
        random: c.take(RANDOM_LEN, "random")?,
        ..Fields::default()
    };
    if f.legacy_version >> 8 != 3 {
        return Err(HelloError::Malformed {
            field: "legacy_version",
        });
    }
    f.session_id = c.vec8("legacy_session_id")?;
    if f.session_id.len() > MAX_SESSION_ID_LEN {
        return Err(HelloError::Malformed {
            field: "legacy_session_id",
        });
    }
    f.cipher_suites = c.vec16("cipher_suites")?;
    if f.cipher_suites.len() < 2 || f.cipher_suites.len() % 2 != 0 {
        return Err(HelloError::Malformed {
            field: "cipher_suites",
        });
    }
    f.compression_methods = c.vec8("legacy_compression_methods")?;
    if f.compression_methods.is_empty() {
        return Err(HelloError::Malformed {
            field: "legacy_compression_methods",
        });
    }
    if c.remaining() == 0 {
        // A TLS 1.2 (or older) ClientHello may end here, with no extensions.
        f.extensions = Span::new(c.pos, 0);
        return Ok(f);
    }
    f.extensions = c.vec16("extensions")?;
    if c.remaining() != 0 {
        return Err(HelloError::Malformed {
            field: "extensions",
        });
    }
    parse_extensions(body, &mut f)?;
    Ok(f)
}

const fn malformed(field: &'static str) -> HelloError {
    HelloError::Malformed { field }
}

fn parse_extensions(body: &[u8], f: &mut Fields) -> Result<(), HelloError> {
    const FIELD: &str = "extension";
    let mut rest = f.extensions.of(body);
    // The extensions whose repetition we detect: the ones we report. (RFC
    // 8446 forbids any repetition; peers such as rustls reject it too.)
    let mut seen: u8 = 0;
    while let Some((head, tail)) = rest.split_first_chunk::<4>() {
        let ext_type = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        if len > tail.len() {
            return Err(HelloError::Malformed { field: FIELD });
        }
        let (data, after) = tail.split_at(len);
        // Where `data` starts in the body.
        let start = body.len() - tail.len();
        rest = after;
        let (bit, slot, span) = match ext_type {
            EXT_SERVER_NAME => (1, &mut f.server_name, host_name(data)?),
            EXT_SUPPORTED_GROUPS => (
                2,
                &mut f.supported_groups,
                Some(u16_list16(data).ok_or(malformed("supported_groups"))?),
            ),
            EXT_EC_POINT_FORMATS => (
                4,
                &mut f.ec_point_formats,
                Some(list8(data, 1).ok_or(malformed("ec_point_formats"))?),
            ),
            EXT_ALPN => (
                8,
                &mut f.alpn,
                Some(list16(data, 1).ok_or(malformed("alpn"))?),
            ),
            EXT_SUPPORTED_VERSIONS => (
                16,
                &mut f.supported_versions,
                Some(list8(data, 2).ok_or(malformed("supported_versions"))?),
            ),
            _ => continue,
        };
        if seen & bit != 0 {
            return Err(HelloError::DuplicateExtension { ext_type });
        }
        seen |= bit;
        *slot = span.map(|s| s.offset(start));
    }
    if !rest.is_empty() {
        return Err(HelloError::Malformed { field: FIELD });
    }
    Ok(())
}

/// Splits a vector with a two-byte length off the front of `buf`.
fn split_vec16(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = buf.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// Splits a vector with a one-byte length off the front of `buf`.
fn split_vec8(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = buf.split_first()?;
    let len = usize::from(len);
    (len <= rest.len()).then(|| rest.split_at(len))
}

/// The `host_name` of a `server_name` extension, relative to its data. An
/// extension with no host name (an empty list is allowed in a ServerHello,
/// not here) is malformed; other name types are skipped.
fn host_name(data: &[u8]) -> Result<Option<Span>, HelloError> {
    const BAD: HelloError = HelloError::Malformed {
        field: "server_name",
    };
    let (list, rest) = split_vec16(data).ok_or(BAD)?;
    if !rest.is_empty() || list.is_empty() {
        return Err(BAD);
    }
    let mut items = list;
    let mut found = None;
    while let Some((&name_type, tail)) = items.split_first() {
        let (name, after) = split_vec16(tail).ok_or(BAD)?;
        if name_type == NAME_TYPE_HOST_NAME {
            // RFC 6066: a DNS host name in ASCII; one name per type.
            if found.is_some()
                || name.is_empty()
                || !name.iter().all(|b| b.wrapping_sub(0x21) < 0x5e)
            {
                return Err(BAD);
            }
            found = Some(Span::new(data.len() - tail.len() + 2, name.len()));
        }
        items = after;
    }
    Ok(found)
}

/// A two-byte-length list of one-byte-length items of at least `min_item`
/// bytes (ALPN's `ProtocolNameList`), non-empty; the span of the items.
fn list16(data: &[u8], min_item: usize) -> Option<Span> {
    let (list, rest) = split_vec16(data)?;
    if !rest.is_empty() || list.is_empty() {
        return None;
    }
    let mut items = list;
    while !items.is_empty() {
        let (item, after) = split_vec8(items)?;
        if item.len() < min_item {
            return None;
        }
        items = after;
    }
    Some(Span::new(2, list.len()))
}

/// A one-byte-length list of items of `item` bytes, non-empty.
fn list8(data: &[u8], item: usize) -> Option<Span> {
    let (list, rest) = split_vec8(data)?;
    (rest.is_empty() && !list.is_empty() && list.len() % item == 0)
        .then(|| Span::new(1, list.len()))
}

/// A two-byte-length list of `u16`, non-empty.
fn u16_list16(data: &[u8]) -> Option<Span> {
    let (list, rest) = split_vec16(data)?;
    (rest.is_empty() && !list.is_empty() && list.len() % 2 == 0).then(|| Span::new(2, list.len()))
}

impl ClientHello<'_> {
    /// Builds the view over a complete body.
    pub(crate) fn from_body(
        body: std::borrow::Cow<'_, [u8]>,
    ) -> Result<ClientHello<'_>, HelloError> {
        let fields = parse_body(&body)?;
        Ok(ClientHello { body, fields })
    }
}
