//! The encoder's dynamic table, with hash indexes to find fields and
//! names in constant time.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::field::ENTRY_OVERHEAD;
use super::static_table;

/// An entry: name and value in one allocation.
#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
    name_hash: u64,
    field_hash: u64,
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len..]
    }

    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// The hashes of one field, computed once per field.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hashes {
    name: u64,
    field: u64,
}

impl Hashes {
    pub(super) fn of(name: &[u8], value: &[u8]) -> Hashes {
        let name = hash_bytes(0x9e37_79b9_7f4a_7c15, name);
        Hashes {
            name,
            field: hash_bytes(name, value),
        }
    }
}

/// The encoder's copy of the dynamic table the peer's decoder keeps.
///
/// Entries live in a ring, oldest first; every entry has an insertion
/// number, and its HPACK index follows from how many were inserted after
/// it. Two maps from a hash to the newest insertion number with that hash
/// (of the whole field, of the name) find candidates, and the candidate
/// is compared byte for byte, so a hash collision only costs compression,
/// never correctness, and no chain can grow (an attacker who chooses
/// header values cannot slow lookups down).
#[derive(Debug, Default)]
pub(super) struct EncoderTable {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
    inserted: u64,
    by_field: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    by_name: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
}

/// What the dynamic table offers for a field.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Found {
    /// The index of an entry with the same name and value.
    pub(super) field: Option<usize>,
    /// The index of an entry with the same name.
    pub(super) name: Option<usize>,
}

impl EncoderTable {
    pub(super) fn new(capacity: usize) -> Self {
        EncoderTable {
            capacity,
            ..EncoderTable::default()
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// The HPACK index of insertion number `seq`, if still in the table.
    fn index(&self, seq: u64) -> Option<usize> {
        let base = self.inserted - self.entries.len() as u64;
        let pos = seq.checked_sub(base)? as usize;
        (pos < self.entries.len()).then(|| static_table::LEN + (self.inserted - seq) as usize)
    }

    fn entry(&self, seq: u64) -> Option<&Entry> {
        let base = self.inserted - self.entries.len() as u64;
        self.entries.get(seq.checked_sub(base)? as usize)
    }

    pub(super) fn find(&self, name: &[u8], value: &[u8], h: Hashes) -> Found {
        let mut found = Found::default();
        if let Some(&seq) = self.by_field.get(&h.field) {
            if let Some(e) = self.entry(seq) {
                if e.name() == name && e.value() == value {
                    found.field = self.index(seq);
                    found.name = found.field;
                    return found;
                }
            }
        }
        if let Some(&seq) = self.by_name.get(&h.name) {
            if self.entry(seq).is_some_and(|e| e.name() == name) {
                found.name = self.index(seq);
            }
        }
        found
    }

    /// Inserts a field as the peer's decoder will (RFC 7541 §4.4).
    pub(super) fn insert(&mut self, name: &[u8], value: &[u8], h: Hashes) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.clear();
            return;
        }
        self.evict_to(self.capacity - size);
        let mut bytes = Vec::with_capacity(name.len() + value.len());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(value);
        let seq = self.inserted;
        self.inserted += 1;
        self.entries.push_back(Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: name.len(),
            name_hash: h.name,
            field_hash: h.field,
        });
        self.size += size;
        self.by_field.insert(h.field, seq);
        self.by_name.insert(h.name, seq);
    }

    /// Changes the maximum size, evicting what no longer fits.
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.by_field.clear();
        self.by_name.clear();
        self.size = 0;
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let seq = self.inserted - self.entries.len() as u64;
            let Some(e) = self.entries.pop_front() else {
                self.size = 0;
                return;
            };
            self.size -= e.size();
            if self.by_field.get(&e.field_hash) == Some(&seq) {
                self.by_field.remove(&e.field_hash);
            }
            if self.by_name.get(&e.name_hash) == Some(&seq) {
                self.by_name.remove(&e.name_hash);
            }
        }
    }
}

/// A hasher for keys that already are well-mixed 64-bit hashes.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in anyway.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// A fast, non-cryptographic hash of `bytes` (8 bytes per step, then a
/// final avalanche so every bit of the result depends on every input bit).
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(t: &EncoderTable, n: &str, v: &str) -> (Option<usize>, Option<usize>) {
        let f = t.find(
            n.as_bytes(),
            v.as_bytes(),
            Hashes::of(n.as_bytes(), v.as_bytes()),
        );
        (f.field, f.name)
    }

    fn insert(t: &mut EncoderTable, n: &str, v: &str) {
        t.insert(
            n.as_bytes(),
            v.as_bytes(),
            Hashes::of(n.as_bytes(), v.as_bytes()),
        );
    }

    #[test]
    fn indices_follow_insertions_and_evictions() {
        let mut t = EncoderTable::new(110);
        insert(&mut t, "a", "1"); // 34
        insert(&mut t, "b", "2"); // 68
        assert_eq!(find(&t, "a", "1"), (Some(63), Some(63)));
        assert_eq!(find(&t, "b", "2"), (Some(62), Some(62)));
        assert_eq!(find(&t, "b", "3"), (None, Some(62)));
        insert(&mut t, "a", "9"); // 102
        assert_eq!(find(&t, "a", "1"), (Some(64), Some(64)));
        // The name index points at the newest entry with that name.
        assert_eq!(find(&t, "a", "x"), (None, Some(62)));
        insert(&mut t, "c", "3"); // evicts a:1
        assert_eq!(find(&t, "a", "1"), (None, Some(63)));
        assert_eq!(t.size(), 102);
        t.set_capacity(34);
        assert_eq!(find(&t, "c", "3"), (Some(62), Some(62)));
        assert_eq!(find(&t, "a", "9"), (None, None));
        insert(&mut t, "long-name", "value"); // does not fit: empties
        assert!(t.is_empty());
        assert_eq!(find(&t, "c", "3"), (None, None));
    }
}
