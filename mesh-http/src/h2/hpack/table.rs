//! The decoder's dynamic table (RFC 7541 §2.3.2, §4).

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};

use super::field::ENTRY_OVERHEAD;

/// The buffer's capacity kept however small the table is.
const ARENA_MIN: usize = 4096;

/// An entry's name: a static-table name (most names), or bytes the table
/// holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Name<'a> {
    /// A name of the static table.
    Static(&'static [u8]),
    /// A literal name, in the table's buffer.
    Owned(&'a [u8]),
}

impl Name<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Name::Static(s) => s.len(),
            Name::Owned(b) => b.len(),
        }
    }
}

/// Where an entry's bytes are: its name (unless static) and then its
/// value, at an absolute position of the table's byte stream.
#[derive(Clone, Copy, Debug)]
struct Entry {
    static_name: Option<&'static [u8]>,
    at: usize,
    name_len: usize,
    value_len: usize,
}

/// The dynamic table of a decoder: newest entry first.
///
/// Entries own their bytes, copied (or Huffman-decoded) into one buffer in
/// insertion order. Since the oldest entry is always evicted first, its
/// bytes are always at the front of the buffer: evicting advances past
/// them, and the buffer reuses the space in front when it next needs room.
/// So the table holds no reference counts and never keeps a read buffer
/// alive, and its buffer stays within a few times its size (four times in
/// the test, and an oversized literal's room is let go).
#[derive(Debug)]
pub(super) struct DynamicTable {
    entries: VecDeque<Entry>,
    /// The entries' bytes; `buf[0]` is at absolute position `base`.
    buf: BytesMut,
    base: usize,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    pub(super) fn new(capacity: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            buf: BytesMut::new(),
            base: 0,
            size: 0,
            capacity,
        }
    }

    /// The entry at 0-based dynamic index `i` (0 is the newest).
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<(Name<'_>, &[u8])> {
        let e = self.entries.get(i)?;
        let at = e.at - self.base;
        Some(match e.static_name {
            Some(name) => (Name::Static(name), self.bytes(at, e.value_len)),
            None => (
                Name::Owned(self.bytes(at, e.name_len)),
                self.bytes(at + e.name_len, e.value_len),
            ),
        })
    }

    #[inline]
    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        self.buf.get(at..at + len).unwrap_or_default()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Applies a dynamic table size update: evicts until the entries fit.
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity, self.end());
    }

    /// Evicts the oldest entries until the size is at most `limit`, and
    /// releases their bytes: everything before the oldest entry left, or
    /// before `tail` (the absolute position of bytes still wanted) when
    /// none is.
    fn evict_to(&mut self, limit: usize, tail: usize) {
        if self.size <= limit {
            return;
        }
        while self.size > limit {
            let Some(e) = self.entries.pop_back() else {
                self.size = 0;
                break;
            };
            self.size -= e.name_len + e.value_len + ENTRY_OVERHEAD;
        }
        let keep = self.entries.back().map_or(tail, |e| e.at);
        let gone = keep.saturating_sub(self.base).min(self.buf.len());
        self.buf.advance(gone);
        self.base += gone;
    }

    /// The buffer a new entry's bytes are appended to.
    pub(super) fn pending(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The absolute position of the end of the buffer: where the next
    /// entry's bytes begin.
    pub(super) fn end(&self) -> usize {
        self.base + self.buf.len()
    }

    /// The bytes appended since absolute position `at`.
    pub(super) fn since(&self, at: usize) -> &[u8] {
        self.buf.get(at - self.base..).unwrap_or_default()
    }

    /// Drops the bytes appended since absolute position `at` (an entry
    /// that failed to decode).
    pub(super) fn discard(&mut self, at: usize) {
        self.buf.truncate(at - self.base);
    }

    /// Appends the name of the entry at dynamic index `i` for a new entry
    /// (which may evict the old one): its length, and the name itself if
    /// static (then nothing is appended).
    pub(super) fn copy_name(&mut self, i: usize) -> Option<(Option<&'static [u8]>, usize)> {
        let e = *self.entries.get(i)?;
        if e.static_name.is_some() {
            return Some((e.static_name, e.name_len));
        }
        let from = e.at - self.base;
        let end = self.buf.len();
        self.buf.resize(end + e.name_len, 0);
        self.buf.copy_within(from..from + e.name_len, end);
        Some((None, e.name_len))
    }

    /// Inserts the entry whose bytes were appended from absolute position
    /// `at` (RFC 7541 §4.4): the name (unless `static_name`) and then the
    /// value. Evicts the oldest entries until it fits; an entry larger
    /// than the table empties it and is dropped.
    pub(super) fn insert(
        &mut self,
        static_name: Option<&'static [u8]>,
        at: usize,
        name_len: usize,
    ) {
        let stored = self.end() - at;
        let value_len = stored - if static_name.is_some() { 0 } else { name_len };
        let size = name_len + value_len + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            self.base += self.buf.len();
            self.buf.clear();
            if self.buf.capacity() > 4 * self.capacity.max(ARENA_MIN) {
                // A huge literal passed through: do not keep its room.
                self.buf = BytesMut::new();
            }
            return;
        }
        self.evict_to(self.capacity - size, at);
        self.size += size;
        self.entries.push_front(Entry {
            static_name,
            at,
            name_len,
            value_len,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(t: &mut DynamicTable, name: Name<'_>, value: &[u8]) {
        let at = t.end();
        let static_name = match name {
            Name::Static(s) => Some(s),
            Name::Owned(n) => {
                t.pending().extend_from_slice(n);
                None
            }
        };
        t.pending().extend_from_slice(value);
        t.insert(static_name, at, name.len());
    }

    #[test]
    fn eviction_order_and_oversized_entries() {
        let mut t = DynamicTable::new(100);
        insert(&mut t, Name::Static(b"a"), b"1"); // 34
        insert(&mut t, Name::Owned(b"b"), b"2"); // 68
        assert_eq!((t.len(), t.size()), (2, 68));
        assert_eq!(t.get(0), Some((Name::Owned(b"b"), &b"2"[..])));
        insert(&mut t, Name::Static(b"c"), b"3"); // evicts a
        assert_eq!((t.len(), t.size()), (2, 68));
        assert_eq!(t.get(1), Some((Name::Owned(b"b"), &b"2"[..])));
        assert_eq!(t.get(0), Some((Name::Static(b"c"), &b"3"[..])));
        t.set_capacity(40);
        assert_eq!((t.len(), t.size()), (1, 34));
        assert_eq!(t.get(0), Some((Name::Static(b"c"), &b"3"[..])));
        insert(&mut t, Name::Owned(&[b'x'; 10]), b""); // 42 > 40
        assert_eq!((t.len(), t.size()), (0, 0));
        assert_eq!(t.buf.len(), 0);
        t.set_capacity(0);
        insert(&mut t, Name::Static(b"a"), b"");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn an_oversized_literal_does_not_keep_its_room() {
        let mut t = DynamicTable::new(4096);
        insert(&mut t, Name::Owned(b"x-big"), &vec![b'v'; 1 << 20]);
        assert_eq!(t.len(), 0);
        assert!(t.buf.capacity() <= 4 * 4096, "{}", t.buf.capacity());
        insert(&mut t, Name::Owned(b"x-small"), b"v");
        assert_eq!(t.get(0), Some((Name::Owned(b"x-small"), &b"v"[..])));
    }

    #[test]
    fn the_buffer_stays_bounded_as_entries_cycle() {
        let mut t = DynamicTable::new(4096);
        for i in 0..100_000u32 {
            let value = i.to_string().repeat(1 + (i as usize % 40));
            insert(&mut t, Name::Owned(b"x-name"), value.as_bytes());
            let (name, got) = t.get(0).unwrap();
            assert_eq!((name, got), (Name::Owned(b"x-name"), value.as_bytes()));
            assert!(t.buf.capacity() <= 4 * 4096, "{}", t.buf.capacity());
        }
        // The oldest entry still reads back intact after many wrap-arounds.
        let last = t.len() - 1;
        assert!(t.get(last).is_some());
    }
}
