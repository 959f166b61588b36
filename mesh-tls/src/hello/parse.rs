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

fn parse_extensions(body: &[u8], f: &mut Fields) -> Result<(), HelloError> {
    let mut c = Cursor::new(f.extensions.of(body));
    let base = f.extensions.start();
    // The extensions whose repetition we detect: the ones we report. (RFC
    // 8446 forbids any repetition; peers such as rustls reject it too.)
    let mut seen: u8 = 0;
    while c.remaining() > 0 {
        let ext_type = c.u16("extension")?;
        let data = c.vec16("extension")?;
        let span = Span::new(base + data.start(), data.len());
        let bit = match ext_type {
            EXT_SERVER_NAME => 1,
            EXT_SUPPORTED_GROUPS => 2,
            EXT_EC_POINT_FORMATS => 4,
            EXT_ALPN => 8,
            EXT_SUPPORTED_VERSIONS => 16,
            _ => 0,
        };
        if seen & bit != 0 {
            return Err(HelloError::DuplicateExtension { ext_type });
        }
        seen |= bit;
        let bytes = span.of(body);
        match ext_type {
            EXT_SERVER_NAME => f.server_name = host_name(bytes)?.map(|s| s.offset(span.start())),
            EXT_ALPN => f.alpn = Some(list16(bytes, 1, "alpn")?.offset(span.start())),
            EXT_SUPPORTED_VERSIONS => {
                f.supported_versions =
                    Some(list8(bytes, 2, "supported_versions")?.offset(span.start()))
            }
            EXT_SUPPORTED_GROUPS => {
                f.supported_groups =
                    Some(u16_list16(bytes, "supported_groups")?.offset(span.start()))
            }
            EXT_EC_POINT_FORMATS => {
                f.ec_point_formats = Some(list8(bytes, 1, "ec_point_formats")?.offset(span.start()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `host_name` of a `server_name` extension, relative to its data. An
/// extension with no host name (an empty list is allowed in a ServerHello,
/// not here) is malformed; other name types are skipped.
fn host_name(data: &[u8]) -> Result<Option<Span>, HelloError> {
    const FIELD: &str = "server_name";
    let mut c = Cursor::new(data);
    let list = c.vec16(FIELD)?;
    if c.remaining() != 0 || list.is_empty() {
        return Err(HelloError::Malformed { field: FIELD });
    }
    let mut c = Cursor::new(list.of(data));
    let mut found = None;
    while c.remaining() > 0 {
        let name_type = c.u8(FIELD)?;
        let name = c.vec16(FIELD)?.offset(list.start());
        if name_type == NAME_TYPE_HOST_NAME {
            let bytes = name.of(data);
            // RFC 6066: a DNS host name in ASCII; one name per type.
            if found.is_some()
                || bytes.is_empty()
                || !bytes.iter().all(|b| (0x21..0x7f).contains(b))
            {
                return Err(HelloError::Malformed { field: FIELD });
            }
            found = Some(name);
        }
    }
    Ok(found)
}

/// A two-byte-length list of one-byte-length non-empty items (ALPN's
/// `ProtocolNameList`); returns the span of the items.
fn list16(data: &[u8], min_item: usize, field: &'static str) -> Result<Span, HelloError> {
    let mut c = Cursor::new(data);
    let list = c.vec16(field)?;
    if c.remaining() != 0 || list.is_empty() {
        return Err(HelloError::Malformed { field });
    }
    let mut items = Cursor::new(list.of(data));
    while items.remaining() > 0 {
        if items.vec8(field)?.len() < min_item {
            return Err(HelloError::Malformed { field });
        }
    }
    Ok(list)
}

/// A one-byte-length list of items of `item` bytes, non-empty.
fn list8(data: &[u8], item: usize, field: &'static str) -> Result<Span, HelloError> {
    let mut c = Cursor::new(data);
    let list = c.vec8(field)?;
    if c.remaining() != 0 || list.is_empty() || list.len() % item != 0 {
        return Err(HelloError::Malformed { field });
    }
    Ok(list)
}

/// A two-byte-length list of `u16`, non-empty.
fn u16_list16(data: &[u8], field: &'static str) -> Result<Span, HelloError> {
    let mut c = Cursor::new(data);
    let list = c.vec16(field)?;
    if c.remaining() != 0 || list.is_empty() || list.len() % 2 != 0 {
        return Err(HelloError::Malformed { field });
    }
    Ok(list)
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
