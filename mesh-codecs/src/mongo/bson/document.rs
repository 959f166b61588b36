//! The borrowed document, its elements, iteration and full validation.

use std::fmt;

use super::value::{Binary, CodeWithScope, DbPointer, Decimal128, ObjectId, Regex, Timestamp};
use super::{BsonError, ElementType, Value};

/// The smallest BSON document: a 4-byte length and the terminator.
pub const MIN_DOCUMENT_LEN: usize = 5;

/// The deepest nesting [`Document::validate`] accepts whatever limit it is
/// given: its stack of open documents is a fixed array of this many
/// entries, so validation never recurses and never allocates.
pub const MAX_DEPTH_CAP: usize = 1024;

/// A BSON document borrowed from a buffer, read lazily.
///
/// Creating one checks only the frame: the length prefix equals the bytes
/// given and the last byte is the terminator. Elements are checked as they
/// are read (type byte, key, the value's length against what is left);
/// values as they are converted ([`Element::value`]). Call
/// [`validate`](Self::validate) to check everything, nested documents
/// included, up to a depth limit. Nothing here allocates.
///
/// Lookups ([`get`](Self::get) and the typed getters) scan from the start:
/// BSON has no index. To read several fields, iterate once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    bytes: &'a [u8],
}

impl<'a> Document<'a> {
    /// The document in `bytes`, which must be exactly one document.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BsonError> {
        let doc = Self::from_prefix(bytes)?;
        if doc.bytes.len() != bytes.len() {
            return Err(BsonError::BadLength {
                what: "document",
                offset: 0,
                length: doc.bytes.len() as i64,
            });
        }
        Ok(doc)
    }

    /// The document at the start of `buf`, which may hold more after it
    /// (a document sequence, the documents of an OP_REPLY).
    pub fn from_prefix(buf: &'a [u8]) -> Result<Self, BsonError> {
        let Some(prefix) = read_i32(buf, 0) else {
            return Err(BsonError::Truncated {
                what: "document length",
                offset: 0,
                needed: 4,
                available: buf.len(),
            });
        };
        let len = usize::try_from(prefix).unwrap_or(0);
        if len < MIN_DOCUMENT_LEN {
            return Err(BsonError::BadLength {
                what: "document",
                offset: 0,
                length: i64::from(prefix),
            });
        }
        let Some(bytes) = buf.get(..len) else {
            return Err(BsonError::Truncated {
                what: "document",
                offset: 0,
                needed: len,
                available: buf.len(),
            });
        };
        if bytes[len - 1] != 0 {
            return Err(BsonError::MissingTerminator {
                what: "document",
                offset: len - 1,
            });
        }
        Ok(Document { bytes })
    }

    /// Wraps bytes whose length prefix and terminator were checked.
    pub(crate) const fn from_checked(bytes: &'a [u8]) -> Self {
        Document { bytes }
    }

    /// The document's bytes, length prefix and terminator included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the document has no elements.
    pub const fn is_empty(&self) -> bool {
        self.bytes.len() == MIN_DOCUMENT_LEN
    }

    /// Iterates the elements in order, checking each as it is reached.
    /// After an error the iterator ends.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            bytes: self.bytes,
            pos: 4,
            done: false,
        }
    }

    /// The first element (a command's name is its body's first key).
    pub fn first(&self) -> Result<Option<Element<'a>>, BsonError> {
        read_element(self.bytes, 4, self.bytes.len() - 1)
    }

    /// The first element named `key`, checking every element before it.
    pub fn get_element(&self, key: &str) -> Result<Option<Element<'a>>, BsonError> {
        let last = self.bytes.len() - 1;
        let mut pos = 4;
        while let Some(el) = read_element(self.bytes, pos, last)? {
            if el.key_bytes() == key.as_bytes() {
                return Ok(Some(el));
            }
            pos = el.end();
        }
        Ok(None)
    }

    /// The value of the first element named `key`.
    pub fn get(&self, key: &str) -> Result<Option<Value<'a>>, BsonError> {
        match self.get_element(key)? {
            Some(el) => el.value().map(Some),
            None => Ok(None),
        }
    }

    /// Checks the whole document: every element, every value, and nested
    /// documents and arrays (and code-with-scope scopes) no deeper than
    /// `max_depth` levels, counting this document as level 1 (so `{}` has
    /// depth 1 and `{a: {}}` depth 2). Limits above [`MAX_DEPTH_CAP`] are
    /// lowered to it.
    ///
    /// Array keys are checked as keys (UTF-8 C strings) but not for being
    /// "0", "1", ...: readers ignore them, and so does mongod.
    pub fn validate(&self, max_depth: usize) -> Result<(), BsonError> {
        let max_depth = max_depth.clamp(1, MAX_DEPTH_CAP);
        let bytes = self.bytes;
        // The terminator index of each open document, outermost first.
        let mut ends = [0u32; MAX_DEPTH_CAP];
        let mut depth = 1;
        ends[0] = last_index(bytes)?;
        let mut pos = 4;
        loop {
            let last = ends[depth - 1] as usize;
            let Some(el) = read_element(bytes, pos, last)? else {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
                pos = last + 1;
                continue;
            };
            let nested_start = match el.kind {
                ElementType::Document | ElementType::Array => el.start(),
                ElementType::JavaScriptWithScope => {
                    el.end() - el.read_code_w_s()?.scope.bytes.len()
                }
                _ => {
                    el.value()?;
                    pos = el.end();
                    continue;
                }
            };
            if depth >= max_depth {
                return Err(BsonError::TooDeep {
                    limit: max_depth,
                    offset: nested_start,
                });
            }
            // Nested documents end where their element ends, at most at
            // the message size, which fits u32 (checked by last_index).
            ends[depth] = (el.end() - 1) as u32;
            depth += 1;
            pos = nested_start + 4;
        }
    }
}

/// The index of the terminator, as u32; documents are at most i32::MAX long.
fn last_index(bytes: &[u8]) -> Result<u32, BsonError> {
    u32::try_from(bytes.len() - 1).map_err(|_| BsonError::TooLarge { len: bytes.len() })
}

macro_rules! typed_getters {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty, $variant:ident;)*) => {
        impl<'a> Document<'a> {
            $(
                $(#[$doc])*
                ///
                /// `Ok(None)` when the key is absent; an
                /// [`UnexpectedType`](BsonError::UnexpectedType) error when
                /// its value has another type.
                pub fn $name(&self, key: &str) -> Result<Option<$ty>, BsonError> {
                    let Some(el) = self.get_element(key)? else {
                        return Ok(None);
                    };
                    match el.value()? {
                        Value::$variant(v) => Ok(Some(v)),
                        other => Err(BsonError::UnexpectedType {
                            expected: ElementType::$variant,
                            found: other.element_type(),
                            offset: el.offset(),
                        }),
                    }
                }
            )*
        }
    };
}

typed_getters! {
    /// The double named `key`.
    get_f64 -> f64, Double;
    /// The string named `key`.
    get_str -> &'a str, String;
    /// The embedded document named `key`.
    get_document -> Document<'a>, Document;
    /// The array named `key`.
    get_array -> super::Array<'a>, Array;
    /// The binary data named `key`.
    get_binary -> Binary<'a>, Binary;
    /// The ObjectId named `key`.
    get_object_id -> ObjectId, ObjectId;
    /// The boolean named `key`.
    get_bool -> bool, Boolean;
    /// The datetime (milliseconds since the epoch) named `key`.
    get_datetime -> i64, DateTime;
    /// The regular expression named `key`.
    get_regex -> Regex<'a>, Regex;
    /// The DBPointer named `key`.
    get_db_pointer -> DbPointer<'a>, DbPointer;
    /// The JavaScript code named `key`.
    get_javascript -> &'a str, JavaScript;
    /// The symbol named `key`.
    get_symbol -> &'a str, Symbol;
    /// The code with scope named `key`.
    get_code_with_scope -> CodeWithScope<'a>, JavaScriptWithScope;
    /// The 32-bit integer named `key`.
    get_i32 -> i32, Int32;
    /// The timestamp named `key`.
    get_timestamp -> Timestamp, Timestamp;
    /// The 64-bit integer named `key`.
    get_i64 -> i64, Int64;
    /// The decimal named `key`.
    get_decimal128 -> Decimal128, Decimal128;
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for el in self.iter() {
            match el {
                Ok(el) => match el.value() {
                    Ok(v) => map.entry(&el.key(), &v),
                    Err(e) => map.entry(&el.key(), &e),
                },
                Err(e) => map.entry(&"<malformed>", &e),
            };
        }
        map.finish()
    }
}

impl<'a> IntoIterator for Document<'a> {
    type Item = Result<Element<'a>, BsonError>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// One element of a document: its key, its type, and where its value is.
/// The value is converted (and checked) only by [`value`](Self::value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The document (the top-level one, during validation).
    bytes: &'a [u8],
    /// Where the type byte is; the key follows it. Positions are u32
    /// (documents are at most i32::MAX long) to keep the element small
    /// enough to travel in registers.
    offset: u32,
    /// The key's length; checked to be UTF-8 when the element was read.
    key_len: u32,
    /// Where the value ends.
    end: u32,
    kind: ElementType,
}

impl<'a> Element<'a> {
    /// The key.
    pub fn key(&self) -> &'a str {
        // Checked when the element was read; converting again is the only
        // way to a `&str` without unsafe code, so it is done only here.
        std::str::from_utf8(self.key_bytes()).unwrap_or_default()
    }

    /// The key's bytes (UTF-8, checked when the element was read):
    /// comparing them costs no conversion.
    pub fn key_bytes(&self) -> &'a [u8] {
        let at = self.offset as usize + 1;
        &self.bytes[at..at + self.key_len as usize]
    }

    /// Where the value starts.
    const fn start(&self) -> usize {
        self.offset as usize + 2 + self.key_len as usize
    }

    /// Where the value ends (where the next element starts).
    const fn end(&self) -> usize {
        self.end as usize
    }

    /// The type of the value.
    pub const fn element_type(&self) -> ElementType {
        self.kind
    }

    /// Where the element (its type byte) starts within the document.
    pub const fn offset(&self) -> usize {
        self.offset as usize
    }

    /// The value's bytes as they are on the wire.
    pub fn raw_value(&self) -> &'a [u8] {
        &self.bytes[self.start()..self.end()]
    }

    /// The value, checked as its type requires.
    pub fn value(&self) -> Result<Value<'a>, BsonError> {
        let b = self.bytes;
        let s = self.start();
        Ok(match self.kind {
            ElementType::Double => Value::Double(f64::from_le_bytes(fixed(b, s))),
            ElementType::String => Value::String(self.read_string(s, "string")?),
            ElementType::Document => Value::Document(Document::from_checked(self.raw_value())),
            ElementType::Array => Value::Array(super::Array::from_document(
                Document::from_checked(self.raw_value()),
            )),
            ElementType::Binary => Value::Binary(self.read_binary()?),
            ElementType::Undefined => Value::Undefined,
            ElementType::ObjectId => Value::ObjectId(ObjectId(fixed(b, s))),
            ElementType::Boolean => match b[s] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                value => return Err(BsonError::InvalidBool { value, offset: s }),
            },
            ElementType::DateTime => Value::DateTime(i64::from_le_bytes(fixed(b, s))),
            ElementType::Null => Value::Null,
            ElementType::Regex => {
                let (pattern, p_len) = read_cstr(b, s, self.end(), "regex pattern")?;
                let (options, _) = read_cstr(b, s + p_len + 1, self.end(), "regex options")?;
                Value::Regex(Regex { pattern, options })
            }
            ElementType::DbPointer => Value::DbPointer(DbPointer {
                namespace: self.read_string(s, "DBPointer namespace")?,
                id: ObjectId(fixed(b, self.end() - 12)),
            }),
            ElementType::JavaScript => Value::JavaScript(self.read_string(s, "JavaScript code")?),
            ElementType::Symbol => Value::Symbol(self.read_string(s, "symbol")?),
            ElementType::JavaScriptWithScope => Value::JavaScriptWithScope(self.read_code_w_s()?),
            ElementType::Int32 => Value::Int32(i32::from_le_bytes(fixed(b, s))),
            ElementType::Timestamp => Value::Timestamp(Timestamp {
                increment: u32::from_le_bytes(fixed(b, s)),
                time: u32::from_le_bytes(fixed(b, s + 4)),
            }),
            ElementType::Int64 => Value::Int64(i64::from_le_bytes(fixed(b, s))),
            ElementType::Decimal128 => Value::Decimal128(Decimal128(fixed(b, s))),
            ElementType::MinKey => Value::MinKey,
            ElementType::MaxKey => Value::MaxKey,
        })
    }

    /// A length-prefixed string at `at`, whose length and terminator the
    /// element reader checked; here its UTF-8 is.
    fn read_string(&self, at: usize, what: &'static str) -> Result<&'a str, BsonError> {
        let len = read_i32(self.bytes, at).unwrap_or(1) as usize;
        let raw = &self.bytes[at + 4..at + 4 + len - 1];
        std::str::from_utf8(raw).map_err(|_| BsonError::InvalidUtf8 { what, offset: at })
    }

    fn read_binary(&self) -> Result<Binary<'a>, BsonError> {
        let subtype = self.bytes[self.start() + 4];
        let data = &self.bytes[self.start() + 5..self.end()];
        if subtype != Binary::OLD {
            return Ok(Binary {
                subtype,
                bytes: data,
            });
        }
        // The old subtype repeats the data's length inside the data.
        let inner = read_i32(data, 0).map(i64::from);
        match inner {
            Some(n) if n >= 0 && n as usize == data.len() - 4 => Ok(Binary {
                subtype,
                bytes: &data[4..],
            }),
            _ => Err(BsonError::BadLength {
                what: "old binary inner length",
                offset: self.start() + 5,
                length: inner.unwrap_or(-1),
            }),
        }
    }

    fn read_code_w_s(&self) -> Result<CodeWithScope<'a>, BsonError> {
        // Total length (checked by the element reader), then a string, then
        // a document that must end exactly where the total says.
        let s = self.start();
        let str_at = s + 4;
        let end = self.end();
        let str_len = read_i32(self.bytes, str_at).map_or(-1, i64::from);
        let room = (end - str_at - 4) as i64 - MIN_DOCUMENT_LEN as i64;
        if str_len < 1 || str_len > room {
            return Err(BsonError::BadLength {
                what: "code with scope string",
                offset: str_at,
                length: str_len,
            });
        }
        let scope_at = str_at + 4 + str_len as usize;
        if self.bytes[scope_at - 1] != 0 {
            return Err(BsonError::MissingTerminator {
                what: "code with scope string",
                offset: scope_at - 1,
            });
        }
        let code = self.read_string(str_at, "code with scope string")?;
        let scope =
            Document::new(&self.bytes[scope_at..end]).map_err(|_| BsonError::BadLength {
                what: "code with scope scope",
                offset: scope_at,
                length: read_i32(self.bytes, scope_at).map_or(-1, i64::from),
            })?;
        Ok(CodeWithScope { code, scope })
    }
}

/// The elements of a document, in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Element<'a>, BsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match read_element(self.bytes, self.pos, self.bytes.len() - 1) {
            Ok(Some(el)) => {
                self.pos = el.end();
                Some(Ok(el))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Iter<'_> {}

/// A little-endian i32 at `at`, if four bytes are there.
#[inline]
pub(crate) fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    let end = at.checked_add(4)?;
    let s = b.get(at..end)?;
    Some(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// `N` bytes at `at`, which the element reader checked are there.
#[inline]
fn fixed<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

/// A NUL-terminated UTF-8 string starting at `at`, ending before `limit`;
/// returns it and its length without the NUL.
#[inline]
fn read_cstr<'a>(
    b: &'a [u8],
    at: usize,
    limit: usize,
    what: &'static str,
) -> Result<(&'a str, usize), BsonError> {
    let region = b.get(at..limit).unwrap_or(&[]);
    let Some(len) = find_nul(region) else {
        return Err(BsonError::UnterminatedCString { what, offset: at });
    };
    let s = std::str::from_utf8(&region[..len])
        .map_err(|_| BsonError::InvalidUtf8 { what, offset: at })?;
    Ok((s, len))
}

/// A key: a NUL-terminated string starting at `at`, ending before
/// `limit`, checked to be UTF-8. ASCII keys (nearly all) are proved UTF-8
/// by `is_ascii`, which is inlined and word-at-a-time; others go through
/// the full check.
#[inline]
fn read_key(b: &[u8], at: usize, limit: usize) -> Result<&[u8], BsonError> {
    let region = b.get(at..limit).unwrap_or(&[]);
    let Some(len) = find_nul(region) else {
        return Err(bad_key(at, false));
    };
    let key = &region[..len];
    if !key.is_ascii() && std::str::from_utf8(key).is_err() {
        return Err(bad_key(at, true));
    }
    Ok(key)
}

#[cold]
fn bad_key(offset: usize, terminated: bool) -> BsonError {
    if terminated {
        BsonError::InvalidUtf8 {
            what: "key",
            offset,
        }
    } else {
        BsonError::UnterminatedCString {
            what: "key",
            offset,
        }
    }
}

/// The index of the first NUL byte. Keys are short, so the first 32 bytes
/// are searched a word at a time in place (the zero-byte test of Hacker's
/// Delight, whose lowest flagged byte is exact), which beats setting up a
/// vectorised search; beyond them `memchr` takes over.
#[inline]
fn find_nul(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const INLINE: usize = 32;
    let mut i = 0;
    while i < INLINE {
        let Some(Ok(word)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) else {
            return b[i..].iter().position(|&c| c == 0).map(|p| p + i);
        };
        let w = u64::from_le_bytes(word);
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr(0, &b[i..]).map(|p| p + i)
}

/// The element starting at `pos` in a document whose terminator is at
/// `last`, or `None` at the terminator. Checks the type byte, the key, and
/// that the value's length fits before `last`.
#[inline]
pub(crate) fn read_element(
    bytes: &[u8],
    pos: usize,
    last: usize,
) -> Result<Option<Element<'_>>, BsonError> {
    if pos >= last {
        return Ok(None);
    }
    let tag = bytes[pos];
    let Some(kind) = ElementType::from_u8(tag) else {
        return Err(bad_tag(tag, pos));
    };
    let key_len = read_key(bytes, pos + 1, last)?.len();
    let start = pos + 2 + key_len;
    let room = last - start;
    let size = match kind.fixed_size() {
        Some(n) => n,
        None => value_size(bytes, kind, start, last)?,
    };
    if size > room {
        return Err(truncated("value", start, size, room));
    }
    // Positions fit u32: documents are at most i32::MAX bytes long, and
    // validation's top-level document is one too.
    Ok(Some(Element {
        bytes,
        offset: pos as u32,
        key_len: key_len as u32,
        end: (start + size) as u32,
        kind,
    }))
}

#[cold]
fn bad_tag(tag: u8, offset: usize) -> BsonError {
    if tag == 0 {
        BsonError::MissingTerminator {
            what: "document (elements end early)",
            offset,
        }
    } else {
        BsonError::UnknownType { tag, offset }
    }
}

#[cold]
fn truncated(what: &'static str, offset: usize, needed: usize, available: usize) -> BsonError {
    BsonError::Truncated {
        what,
        offset,
        needed,
        available,
    }
}

/// The size of a variable-length value at `start`; the caller checks it
/// fits before `last` unless this function already had to.
#[inline]
fn value_size(
    bytes: &[u8],
    kind: ElementType,
    start: usize,
    last: usize,
) -> Result<usize, BsonError> {
    let room = last - start;
    let prefix = |what| {
        read_i32(bytes, start)
            .filter(|_| room >= 4)
            .ok_or(BsonError::Truncated {
                what,
                offset: start,
                needed: 4,
                available: room,
            })
    };
    match kind {
        ElementType::String | ElementType::JavaScript | ElementType::Symbol => {
            string_size(bytes, prefix("string length")?, start, room)
        }
        ElementType::DbPointer => {
            Ok(string_size(bytes, prefix("DBPointer length")?, start, room)? + 12)
        }
        ElementType::Document | ElementType::Array => {
            let len = prefix("document length")?;
            let size = usize::try_from(len).unwrap_or(0);
            if size < MIN_DOCUMENT_LEN {
                return Err(BsonError::BadLength {
                    what: "embedded document",
                    offset: start,
                    length: i64::from(len),
                });
            }
            if size <= room && bytes[start + size - 1] != 0 {
                return Err(BsonError::MissingTerminator {
                    what: "embedded document",
                    offset: start + size - 1,
                });
            }
            Ok(size)
        }
        ElementType::Binary => {
            let len = prefix("binary length")?;
            match usize::try_from(len) {
                Ok(n) => Ok(n + 5),
                Err(_) => Err(BsonError::BadLength {
                    what: "binary",
                    offset: start,
                    length: i64::from(len),
                }),
            }
        }
        ElementType::Regex => {
            let (_, p) = read_cstr(bytes, start, last, "regex pattern")?;
            let (_, o) = read_cstr(bytes, start + p + 1, last, "regex options")?;
            Ok(p + o + 2)
        }
        ElementType::JavaScriptWithScope => {
            let len = prefix("code with scope length")?;
            // Length, an empty string (4 + 1), an empty document.
            match usize::try_from(len) {
                Ok(n) if n >= 4 + 5 + MIN_DOCUMENT_LEN => Ok(n),
                _ => Err(BsonError::BadLength {
                    what: "code with scope",
                    offset: start,
                    length: i64::from(len),
                }),
            }
        }
        // Fixed sizes are handled by the caller.
        _ => Ok(kind.fixed_size().unwrap_or(0)),
    }
}

#[inline]
fn string_size(bytes: &[u8], len: i32, start: usize, room: usize) -> Result<usize, BsonError> {
    let n = match usize::try_from(len) {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(BsonError::BadLength {
                what: "string",
                offset: start,
                length: i64::from(len),
            });
        }
    };
    let size = n + 4;
    if size <= room && bytes[start + size - 1] != 0 {
        return Err(BsonError::MissingTerminator {
            what: "string",
            offset: start + size - 1,
        });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::find_nul;
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time search finds what a byte loop finds, at any
        /// position and alignment, including 0x80 and 0x01 bytes that
        /// trip naive zero-byte tests.
        #[test]
        fn find_nul_matches_a_byte_loop(
            bytes in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1u8), Just(0x80u8), Just(0xffu8), any::<u8>()],
                0..80,
            ),
        ) {
            prop_assert_eq!(find_nul(&bytes), bytes.iter().position(|&b| b == 0));
        }
    }
}
