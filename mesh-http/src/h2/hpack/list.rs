//! A decoded header list that keeps all its bytes in one buffer.

use bytes::{Bytes, BytesMut};

use super::field::{ENTRY_OVERHEAD, Field, FieldRef};

/// One string of a list: a static-table string, or bytes in the buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Str {
    /// A string of the static table: nothing copied.
    Static(&'static [u8]),
    /// `len` bytes at `at` in the list's buffer.
    Buf { at: usize, len: usize },
    /// `len` bytes at `at` in the block being decoded (a plain literal,
    /// when the decoder hands out `Bytes` fields: they are slices of it).
    Block { at: usize, len: usize },
}

impl Str {
    #[inline]
    pub(super) fn len(&self) -> usize {
        match *self {
            Str::Static(s) => s.len(),
            Str::Buf { len, .. } | Str::Block { len, .. } => len,
        }
    }
}

/// Where one field's name and value are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Span {
    name: Str,
    value: Str,
    never_indexed: bool,
}

/// The size of the buffers `Bytes` fields are split from: a fresh one is
/// allocated when less than a quarter of the last one is left.
const CHUNK: usize = 4096;

/// A header list decoded by [`Decoder::decode_list`], or built with
/// [`HeaderList::push`]: the fields in order, their bytes copied into one
/// buffer the list owns (static-table strings are not copied).
///
/// Where a `Bytes` per name and value costs a reference count taken and
/// later dropped for each, a `HeaderList` copies the few bytes instead and
/// lends [`FieldRef`]s, so decoding touches no shared counter. Reused with
/// [`HeaderList::clear`], it allocates nothing once its buffers have grown.
/// A proxy that checks headers and re-encodes them can pass it straight to
/// [`Encoder::encode`](super::Encoder::encode); [`HeaderList::into_fields`]
/// turns it into `Bytes` fields without copying when they must be kept.
///
/// [`Decoder::decode_list`]: super::Decoder::decode_list
#[derive(Clone, Default)]
pub struct HeaderList {
    buf: BytesMut,
    fields: Vec<Span>,
    /// The block [`Str::Block`] strings are in: set only while the decoder
    /// makes `Bytes` fields, which slice it instead of copying.
    block: Bytes,
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> HeaderList {
        HeaderList::default()
    }

    /// An empty list with room for `fields` fields of `bytes` bytes in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> HeaderList {
        HeaderList {
            buf: BytesMut::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
            ..HeaderList::default()
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.fields.clear();
        self.block = Bytes::new();
    }

    /// The field at `index`.
    pub fn get(&self, index: usize) -> Option<FieldRef<'_>> {
        self.fields.get(index).map(|s| self.field(s))
    }

    /// The fields in order.
    pub fn iter(&self) -> HeaderListIter<'_> {
        HeaderListIter {
            list: self,
            spans: self.fields.iter(),
        }
    }

    /// Appends a field.
    pub fn push<'a>(&mut self, field: impl Into<FieldRef<'a>>) {
        let f = field.into();
        let name = self.put(f.name);
        let value = self.put(f.value);
        self.emit(name, value, f.never_indexed);
    }

    /// The size RFC 9113 gives the list (name + value + 32 per field): what
    /// SETTINGS_MAX_HEADER_LIST_SIZE limits.
    pub fn size(&self) -> usize {
        self.fields
            .iter()
            .map(|s| s.name.len() + s.value.len() + ENTRY_OVERHEAD)
            .sum()
    }

    /// The fields as `Bytes` fields: slices of the list's buffer (no copy),
    /// or static.
    pub fn into_fields(mut self) -> Vec<Field> {
        self.drain_fields().collect()
    }

    /// Hands out every field as a `Bytes` field (slices of one frozen
    /// buffer, or static) and empties the list.
    pub(super) fn drain_fields(&mut self) -> impl ExactSizeIterator<Item = Field> + '_ {
        // Nothing copied (all static or slices of the block): no buffer to
        // share, and no reference count to take.
        let buf = if self.buf.is_empty() {
            Bytes::new()
        } else {
            let buf = self.buf.split().freeze();
            if self.buf.capacity() < CHUNK / 4 {
                self.buf = BytesMut::with_capacity(CHUNK);
            }
            buf
        };
        let block = std::mem::take(&mut self.block);
        self.fields.drain(..).map(move |s| {
            let bytes = |s: Str| match s {
                Str::Static(s) => Bytes::from_static(s),
                Str::Buf { at, len } => buf.slice(at..at + len),
                Str::Block { at, len } => block.slice(at..at + len),
            };
            Field {
                name: bytes(s.name),
                value: bytes(s.value),
                never_indexed: s.never_indexed,
            }
        })
    }

    /// Copies a string into the buffer.
    #[inline]
    pub(super) fn put(&mut self, s: &[u8]) -> Str {
        let at = self.buf.len();
        self.buf.extend_from_slice(s);
        Str::Buf { at, len: s.len() }
    }

    /// Refers plain literals to `block` instead of copying them, until the
    /// fields are drained.
    pub(super) fn set_block(&mut self, block: &Bytes) {
        self.block = block.clone();
    }

    /// The buffer, for the decoder to write a string to.
    #[inline]
    pub(super) fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends a field whose strings are in place.
    #[inline]
    pub(super) fn emit(&mut self, name: Str, value: Str, never_indexed: bool) {
        self.fields.push(Span {
            name,
            value,
            never_indexed,
        });
    }

    fn bytes(&self, s: Str) -> &[u8] {
        match s {
            Str::Static(s) => s,
            Str::Buf { at, len } => self.buf.get(at..at + len).unwrap_or_default(),
            Str::Block { at, len } => self.block.get(at..at + len).unwrap_or_default(),
        }
    }

    fn field(&self, s: &Span) -> FieldRef<'_> {
        FieldRef {
            name: self.bytes(s.name),
            value: self.bytes(s.value),
            never_indexed: s.never_indexed,
        }
    }
}

/// Lists are equal when their fields are, however their bytes are kept.
impl PartialEq for HeaderList {
    fn eq(&self, other: &HeaderList) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for HeaderList {}

impl std::fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for field in self {
            let name = String::from_utf8_lossy(field.name);
            if field.never_indexed {
                // Never-indexed values are secrets: keep them out of logs.
                l.entry(&(name, "<sensitive>"));
            } else {
                l.entry(&(name, String::from_utf8_lossy(field.value)));
            }
        }
        l.finish()
    }
}

impl<'l> IntoIterator for &'l HeaderList {
    type Item = FieldRef<'l>;
    type IntoIter = HeaderListIter<'l>;

    fn into_iter(self) -> HeaderListIter<'l> {
        self.iter()
    }
}

impl<'a, F: Into<FieldRef<'a>>> FromIterator<F> for HeaderList {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> HeaderList {
        let mut list = HeaderList::new();
        for f in iter {
            list.push(f);
        }
        list
    }
}

/// The fields of a [`HeaderList`], in order.
#[derive(Clone, Debug)]
pub struct HeaderListIter<'l> {
    list: &'l HeaderList,
    spans: std::slice::Iter<'l, Span>,
}

impl<'l> Iterator for HeaderListIter<'l> {
    type Item = FieldRef<'l>;

    fn next(&mut self) -> Option<FieldRef<'l>> {
        self.spans.next().map(|s| self.list.field(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for HeaderListIter<'_> {}

impl<'l> DoubleEndedIterator for HeaderListIter<'l> {
    fn next_back(&mut self) -> Option<FieldRef<'l>> {
        self.spans.next_back().map(|s| self.list.field(s))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use mesh_core::Side;

    use super::*;
    use crate::h2::hpack::{Decoder, Encoder, EncoderConfig, Limits};

    #[test]
    fn push_get_iterate_and_convert() {
        let mut list = HeaderList::with_capacity(4, 64);
        list.push((":method", "GET"));
        list.push(FieldRef {
            name: b"authorization",
            value: b"secret",
            never_indexed: true,
        });
        assert_eq!(list.len(), 2);
        assert_eq!(list.get(0), Some(FieldRef::new(b":method", b"GET")));
        assert_eq!(list.get(2), None);
        assert_eq!(list.size(), 7 + 3 + 32 + 13 + 6 + 32);
        let names: Vec<&[u8]> = list.iter().rev().map(|f| f.name).collect();
        assert_eq!(names, [&b"authorization"[..], b":method"]);
        // Secrets stay out of logs.
        let shown = format!("{list:?}");
        assert!(
            shown.contains("<sensitive>") && !shown.contains("secret"),
            "{shown}"
        );
        // Equality is by fields, not by how the bytes are kept.
        let decoded: HeaderList = list.iter().rev().rev().collect();
        assert_eq!(decoded, list);
        let mut other = list.clone();
        other.push((":path", "/"));
        assert_ne!(other, list);
        let fields = list.clone().into_fields();
        assert_eq!(
            fields,
            [
                Field::new(":method", "GET"),
                Field::sensitive("authorization", "secret")
            ]
        );
        list.clear();
        assert!(list.is_empty() && list.iter().next().is_none());
    }

    #[test]
    fn a_decoded_list_re_encodes_as_it_came() {
        let sent: HeaderList = [
            (":path", "/a"),
            ("x-long-custom-header-name", "a value long enough to copy"),
            ("x-long-custom-header-name", "a value long enough to copy"),
        ]
        .into_iter()
        .collect();
        let mut encoder = Encoder::new(EncoderConfig::default());
        let mut wire = BytesMut::new();
        encoder.encode(&sent, &mut wire);
        let mut decoder = Decoder::new(Side::Downstream, Limits::default());
        let mut got = HeaderList::new();
        decoder.decode_list(&wire, &mut got).unwrap();
        // Static strings are kept apart from copied ones: still equal.
        assert_eq!(got, sent);
        // The same list decoded again, from the dynamic table this time.
        wire.clear();
        encoder.encode(&sent, &mut wire);
        got.clear();
        decoder.decode_list(&wire, &mut got).unwrap();
        assert_eq!(got, sent);
    }
}
