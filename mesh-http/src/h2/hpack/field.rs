//! Header fields as HPACK produces and consumes them.

use bytes::Bytes;

/// The per-entry overhead RFC 7541 §4.1 adds to name and value lengths,
/// both for the dynamic table and for SETTINGS_MAX_HEADER_LIST_SIZE.
pub const ENTRY_OVERHEAD: usize = 32;

/// A decoded header field. Name and value are `Bytes` slices of the
/// header block, of a table entry, or of the decoder's Huffman buffer:
/// cheap to clone and to keep.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field name, as sent (HPACK does not validate or lower-case it;
    /// that is the HTTP/2 semantic layer's job).
    pub name: Bytes,
    /// The field value.
    pub value: Bytes,
    /// The sender marked the field never-indexed (RFC 7541 §6.2.3): it is
    /// sensitive, and every hop must re-encode it never-indexed too. The
    /// [`Encoder`](super::Encoder) does so.
    pub never_indexed: bool,
}

impl Field {
    /// A field that may be indexed.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Field {
        Field {
            name: name.into(),
            value: value.into(),
            never_indexed: false,
        }
    }

    /// A field that must never be indexed (a secret).
    pub fn sensitive(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Field {
        Field {
            never_indexed: true,
            ..Field::new(name, value)
        }
    }

    /// The size RFC 7541 §4.1 gives the field: name, value and 32.
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }

    /// A borrowed view, for the encoder.
    pub fn as_ref(&self) -> FieldRef<'_> {
        FieldRef {
            name: &self.name,
            value: &self.value,
            never_indexed: self.never_indexed,
        }
    }
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Field");
        d.field("name", &self.name);
        if self.never_indexed {
            // Never-indexed values are secrets: keep them out of logs.
            d.field("value", &"<sensitive>");
        } else {
            d.field("value", &self.value);
        }
        d.field("never_indexed", &self.never_indexed).finish()
    }
}

/// A header field to encode, borrowed from wherever the caller keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FieldRef<'a> {
    /// The field name.
    pub name: &'a [u8],
    /// The field value.
    pub value: &'a [u8],
    /// Encode as never-indexed whatever the encoder's policy says.
    pub never_indexed: bool,
}

impl<'a> FieldRef<'a> {
    /// A field that may be indexed.
    pub fn new(name: &'a [u8], value: &'a [u8]) -> Self {
        FieldRef {
            name,
            value,
            never_indexed: false,
        }
    }
}

impl<'a> From<&'a Field> for FieldRef<'a> {
    fn from(f: &'a Field) -> Self {
        f.as_ref()
    }
}

impl<'a> From<(&'a [u8], &'a [u8])> for FieldRef<'a> {
    fn from((name, value): (&'a [u8], &'a [u8])) -> Self {
        FieldRef::new(name, value)
    }
}

impl<'a> From<(&'a str, &'a str)> for FieldRef<'a> {
    fn from((name, value): (&'a str, &'a str)) -> Self {
        FieldRef::new(name.as_bytes(), value.as_bytes())
    }
}

impl<'a> From<&'a (Vec<u8>, Vec<u8>)> for FieldRef<'a> {
    fn from((name, value): &'a (Vec<u8>, Vec<u8>)) -> Self {
        FieldRef::new(name, value)
    }
}
