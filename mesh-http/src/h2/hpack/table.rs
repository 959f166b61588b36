//! The decoder's dynamic table (RFC 7541 §2.3.2, §4).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::field::ENTRY_OVERHEAD;

/// An entry's name: a static-table name (most names), or bytes of its own.
///
/// Kept apart so that handing out a static name builds a `Bytes` with
/// `Bytes::from_static` (no indirect call, no reference count) instead of
/// cloning one.
#[derive(Clone, Debug)]
pub(super) enum Name {
    /// A name of the static table.
    Static(&'static [u8]),
    /// A literal name, owned by the table.
    Owned(Bytes),
}

impl Name {
    pub(super) fn len(&self) -> usize {
        match self {
            Name::Static(s) => s.len(),
            Name::Owned(b) => b.len(),
        }
    }

    pub(super) fn to_bytes(&self) -> Bytes {
        match self {
            Name::Static(s) => Bytes::from_static(s),
            Name::Owned(b) => b.clone(),
        }
    }
}

/// How much the entry arena allocates at a time.
const ARENA_CHUNK: usize = 4096;

/// The dynamic table of a decoder: newest entry first.
///
/// Entries own their bytes: inserting copies (or decodes) the name and
/// value into an arena of 4 KiB chunks, so an entry never keeps a whole
/// read buffer alive, and the memory a table holds stays within about
/// twice its size plus one chunk (chunks die in insertion order, as
/// entries are evicted).
#[derive(Debug)]
pub(super) struct DynamicTable {
    entries: VecDeque<(Name, Bytes)>,
    size: usize,
    capacity: usize,
    arena: BytesMut,
}

impl DynamicTable {
    pub(super) fn new(capacity: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            capacity,
            arena: BytesMut::new(),
        }
    }

    /// The entry at 0-based dynamic index `i` (0 is the newest).
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&(Name, Bytes)> {
        self.entries.get(i)
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
        self.evict_to(capacity);
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            match self.entries.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + ENTRY_OVERHEAD,
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// The buffer a new entry's bytes are written to, with room for
    /// `additional` more bytes (a fresh chunk when the current one is full).
    pub(super) fn arena(&mut self, additional: usize) -> &mut BytesMut {
        if self.arena.capacity() - self.arena.len() < additional {
            let mut fresh = BytesMut::with_capacity(additional.max(ARENA_CHUNK) + self.arena.len());
            fresh.extend_from_slice(&self.arena);
            self.arena = fresh;
        }
        &mut self.arena
    }

    /// Takes what was written to the arena since the last entry.
    pub(super) fn take_arena(&mut self) -> Bytes {
        self.arena.split().freeze()
    }

    /// Inserts an entry (RFC 7541 §4.4): evicts the oldest entries until
    /// it fits; an entry larger than the table empties it and is dropped.
    pub(super) fn insert(&mut self, name: Name, value: Bytes) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.capacity - size);
        self.size += size;
        self.entries.push_front((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_order_and_oversized_entries() {
        let mut t = DynamicTable::new(100);
        t.insert(Name::Static(b"a"), Bytes::from_static(b"1")); // 34
        t.insert(Name::Static(b"b"), Bytes::from_static(b"2")); // 68
        assert_eq!((t.len(), t.size()), (2, 68));
        assert_eq!(t.get(0).unwrap().0.to_bytes(), "b");
        t.insert(Name::Static(b"c"), Bytes::from_static(b"3")); // evicts a
        assert_eq!((t.len(), t.size()), (2, 68));
        assert_eq!(t.get(1).unwrap().0.to_bytes(), "b");
        t.set_capacity(40);
        assert_eq!((t.len(), t.size()), (1, 34));
        assert_eq!(t.get(0).unwrap().0.to_bytes(), "c");
        t.insert(Name::Owned(Bytes::from(vec![b'x'; 10])), Bytes::new()); // 42 > 40
        assert_eq!((t.len(), t.size()), (0, 0));
        t.set_capacity(0);
        t.insert(Name::Static(b"a"), Bytes::new());
        assert_eq!(t.len(), 0);
    }
}
