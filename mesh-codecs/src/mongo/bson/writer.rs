//! Building documents: for replies a proxy makes itself, for tests, and
//! for anyone who needs bytes the reader reads back.

use super::value::Binary;
use super::{Array, BsonError, Document, Value};

/// An owned BSON document that grows by appending elements. It is a
/// complete, valid document after every append, so it can be read with
/// [`as_document`](Self::as_document) at any time.
///
/// ```
/// use mesh_codecs::mongo::bson::{DocumentBuf, Value};
///
/// let mut reply = DocumentBuf::new();
/// reply.append("ok", Value::Double(0.0))?
///     .append("errmsg", Value::String("not primary"))?
///     .append("code", Value::Int32(10107))?;
/// assert_eq!(reply.as_document().get_i32("code")?, Some(10107));
/// # Ok::<(), mesh_codecs::mongo::bson::BsonError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentBuf {
    bytes: Vec<u8>,
}

impl Default for DocumentBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DocumentBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_document().fmt(f)
    }
}

impl DocumentBuf {
    /// An empty document.
    pub fn new() -> Self {
        DocumentBuf {
            bytes: vec![5, 0, 0, 0, 0],
        }
    }

    /// Appends `key: value`. Fails, leaving the document as it was, when
    /// the key (or a regex part) holds a NUL byte or the document would
    /// pass BSON's 2 GiB limit.
    pub fn append(&mut self, key: &str, value: Value<'_>) -> Result<&mut Self, BsonError> {
        let before = self.bytes.len();
        match self.try_append(key, value) {
            Ok(()) => Ok(self),
            Err(e) => {
                self.bytes.truncate(before - 1);
                self.bytes.push(0);
                Err(e)
            }
        }
    }

    fn try_append(&mut self, key: &str, value: Value<'_>) -> Result<(), BsonError> {
        let b = &mut self.bytes;
        b.pop(); // the terminator
        b.push(value.element_type() as u8);
        put_cstr(b, key, "key")?;
        match value {
            Value::Double(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::String(s) | Value::JavaScript(s) | Value::Symbol(s) => put_string(b, s)?,
            Value::Document(d) => b.extend_from_slice(d.as_bytes()),
            Value::Array(a) => b.extend_from_slice(a.as_bytes()),
            Value::Binary(Binary { subtype, bytes }) => {
                let old = subtype == Binary::OLD;
                let len = bytes.len() + if old { 4 } else { 0 };
                put_len(b, len)?;
                b.push(subtype);
                if old {
                    put_len(b, bytes.len())?;
                }
                b.extend_from_slice(bytes);
            }
            Value::Undefined | Value::Null | Value::MinKey | Value::MaxKey => {}
            Value::ObjectId(id) => b.extend_from_slice(&id.0),
            Value::Boolean(v) => b.push(u8::from(v)),
            Value::DateTime(v) | Value::Int64(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::Regex(r) => {
                put_cstr(b, r.pattern, "regex pattern")?;
                put_cstr(b, r.options, "regex options")?;
            }
            Value::DbPointer(p) => {
                put_string(b, p.namespace)?;
                b.extend_from_slice(&p.id.0);
            }
            Value::JavaScriptWithScope(c) => {
                let total = 4 + 4 + c.code.len() + 1 + c.scope.as_bytes().len();
                put_len(b, total)?;
                put_string(b, c.code)?;
                b.extend_from_slice(c.scope.as_bytes());
            }
            Value::Int32(v) => b.extend_from_slice(&v.to_le_bytes()),
            Value::Timestamp(t) => {
                b.extend_from_slice(&t.increment.to_le_bytes());
                b.extend_from_slice(&t.time.to_le_bytes());
            }
            Value::Decimal128(d) => b.extend_from_slice(&d.0),
        }
        b.push(0);
        let len = i32::try_from(b.len()).map_err(|_| BsonError::TooLarge { len: b.len() })?;
        b[..4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// The document as built so far.
    pub fn as_document(&self) -> Document<'_> {
        Document::from_checked(&self.bytes)
    }

    /// The document's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// An owned BSON array that grows by pushing values, keyed "0", "1", ...
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrayBuf {
    doc: DocumentBuf,
    len: usize,
}

impl ArrayBuf {
    /// An empty array.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a value.
    pub fn push(&mut self, value: Value<'_>) -> Result<&mut Self, BsonError> {
        // Array keys are the indices, formatted without allocating.
        let mut key = itoa::Buffer::new();
        self.doc.append(key.format(self.len), value)?;
        self.len += 1;
        Ok(self)
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The array as built so far.
    pub fn as_array(&self) -> Array<'_> {
        Array::from_document(self.doc.as_document())
    }

    /// The array's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.doc.as_bytes()
    }
}

fn put_len(b: &mut Vec<u8>, len: usize) -> Result<(), BsonError> {
    let n = i32::try_from(len).map_err(|_| BsonError::TooLarge { len })?;
    b.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_string(b: &mut Vec<u8>, s: &str) -> Result<(), BsonError> {
    put_len(b, s.len() + 1)?;
    b.extend_from_slice(s.as_bytes());
    b.push(0);
    Ok(())
}

fn put_cstr(b: &mut Vec<u8>, s: &str, what: &'static str) -> Result<(), BsonError> {
    if s.as_bytes().contains(&0) {
        return Err(BsonError::ContainsNul { what });
    }
    b.extend_from_slice(s.as_bytes());
    b.push(0);
    Ok(())
}
