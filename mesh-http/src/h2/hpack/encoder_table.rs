//! The encoder's dynamic table, with hash indexes to find fields and
//! names in constant time.

use std::collections::VecDeque;

use super::field::ENTRY_OVERHEAD;
use super::static_table;
use super::words::{EXACT, SEED, Words};

/// An entry: its name and value as words, where the bytes the words do not
/// determine are in the arena, and its hashes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Absolute position in the arena (see `EncoderTable::base`) of the
    /// name's bytes, followed by the value's; only strings longer than
    /// [`EXACT`] are kept there (see [`kept`]).
    at: u64,
    /// The name and the value as read into words.
    name: Words,
    value: Words,
    field_hash: u64,
    /// Only looked up for names outside the static table (the static index
    /// is as short and never evicted): those of the static table are never
    /// put in the name index.
    name_hash: u64,
    /// Whether the name is in the static table.
    static_name: bool,
}

/// The hashes of one field, computed once per field, from its words alone:
/// the dynamic table is probed before the static one is looked up, so that
/// a field found there (the most common case on a connection) costs no
/// static lookup.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hashes {
    name: u64,
    field: u64,
}

impl Hashes {
    /// The hashes of field `f`.
    #[inline]
    pub(super) fn of(f: Key<'_>) -> Hashes {
        let name = f.nw.hash(SEED);
        Hashes {
            name,
            field: f.vw.hash(name),
        }
    }
}

/// The encoder's copy of the dynamic table the peer's decoder keeps.
///
/// Entries are kept oldest first, each with an insertion number; an
/// entry's HPACK index follows from how many were inserted after it.
/// Names and values are compared by their [`Words`]; the bytes of those
/// longer than the words determine live in one arena that is appended to
/// and compacted now and then (no allocation per entry, and no copy at all
/// of the short strings most names and values are). Two hash indexes (of
/// whole fields, and of names not in the static table), two-way
/// set-associative, hold the insertion numbers of the two newest entries
/// per set; a candidate is compared byte for byte, so a collision only
/// costs compression, never correctness, no chain can grow (an attacker
/// who picks header values cannot slow the encoder down), and eviction
/// needs no index update (a reference to an evicted entry is simply
/// stale).
#[derive(Debug, Default)]
pub(super) struct EncoderTable {
    entries: VecDeque<Entry>,
    arena: Vec<u8>,
    /// The absolute position of `arena[0]`.
    base: u64,
    size: usize,
    capacity: usize,
    inserted: u64,
    /// Insertion number + 1 of the two newest entries per set (0: empty).
    field_slots: Vec<[u64; 2]>,
    name_slots: Vec<[u64; 2]>,
}

/// A field with its name and value read as [`Words`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Key<'a> {
    pub(super) name: &'a [u8],
    pub(super) nw: &'a Words,
    pub(super) value: &'a [u8],
    pub(super) vw: &'a Words,
}

impl EncoderTable {
    pub(super) fn new(capacity: usize) -> Self {
        let mut t = EncoderTable::default();
        t.set_capacity(capacity);
        t
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    fn first_seq(&self) -> u64 {
        self.inserted - self.entries.len() as u64
    }

    /// The live entry with insertion number `slot - 1`. An empty slot (0)
    /// and an evicted entry both wrap around to a position past the end,
    /// so one bounds check rejects either.
    #[inline]
    fn live(&self, slot: u64) -> Option<(u64, &Entry)> {
        let seq = slot.wrapping_sub(1);
        let e = self
            .entries
            .get(seq.wrapping_sub(self.first_seq()) as usize)?;
        Some((seq, e))
    }

    /// The kept bytes of an entry's name and value (empty where the words
    /// determine the string).
    #[inline]
    fn bytes(&self, e: &Entry) -> (&[u8], &[u8]) {
        let at = (e.at - self.base) as usize;
        let name_end = at + kept(&e.name);
        let end = name_end + kept(&e.value);
        (&self.arena[at..name_end], &self.arena[name_end..end])
    }

    /// Whether entry `e` holds the name read as `nw`.
    #[inline(always)]
    fn same_name(&self, e: &Entry, name: &[u8], nw: &Words) -> bool {
        e.name == *nw && (nw.len <= EXACT || self.bytes(e).0 == name)
    }

    /// The HPACK index of insertion number `seq`.
    fn index(&self, seq: u64) -> usize {
        static_table::LEN + (self.inserted - seq) as usize
    }

    fn set(sets: &[[u64; 2]], hash: u64) -> usize {
        // The top bits: `Words::hash` mixes them best.
        (hash >> 40) as usize & (sets.len() - 1)
    }

    /// Records insertion number `seq` as the newest of its set.
    fn put(sets: &mut [[u64; 2]], hash: u64, seq: u64) {
        let i = Self::set(sets, hash);
        let set = &mut sets[i];
        set[1] = set[0];
        set[0] = seq + 1;
    }

    /// The index of an entry `name: value` (read as `nw` and `vw`, hashed
    /// as `h`).
    #[inline]
    pub(super) fn find_field(&self, f: Key<'_>, h: Hashes) -> Option<usize> {
        for slot in self.field_slots[Self::set(&self.field_slots, h.field)] {
            let Some((seq, e)) = self.live(slot) else {
                continue;
            };
            // Not `same_name` and then the value: one test covers the
            // common case of a short name and a short value, where the
            // words decide alone (going through `same_name` measured about
            // 8 % slower over the whole encoder).
            if e.field_hash == h.field
                && e.name == *f.nw
                && e.value == *f.vw
                && (f.nw.len <= EXACT && f.vw.len <= EXACT || {
                    let (name, value) = self.bytes(e);
                    (f.nw.len <= EXACT || name == f.name) && (f.vw.len <= EXACT || value == f.value)
                })
            {
                return Some(self.index(seq));
            }
        }
        None
    }

    /// The index of the newest entry with the name of `f`, a name outside
    /// the static table.
    #[inline]
    pub(super) fn find_name(&self, f: Key<'_>, h: Hashes) -> Option<usize> {
        for slot in self.name_slots[Self::set(&self.name_slots, h.name)] {
            if let Some((seq, e)) = self.live(slot) {
                if e.name_hash == h.name && self.same_name(e, f.name, f.nw) {
                    return Some(self.index(seq));
                }
            }
        }
        None
    }

    /// Inserts a field as the peer's decoder will (RFC 7541 §4.4);
    /// `static_name` tells whether its name is in the static table (then it
    /// is not put in the name index).
    pub(super) fn insert(&mut self, f: Key<'_>, h: Hashes, static_name: bool) {
        let (name, value) = (f.name, f.value);
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.capacity - size);
        // Keep the arena within twice the table: drop the evicted prefix
        // when it grows past that (amortised O(1) per byte).
        let (name_kept, value_kept) = (kept(f.nw), kept(f.vw));
        if self.arena.len() + name_kept + value_kept > 2 * self.capacity.max(2048) {
            let live = self
                .entries
                .front()
                .map_or(self.base + self.arena.len() as u64, |e| e.at);
            self.arena.drain(..(live - self.base) as usize);
            self.base = live;
        }
        let at = self.base + self.arena.len() as u64;
        if name_kept > 0 {
            self.arena.extend_from_slice(name);
        }
        if value_kept > 0 {
            self.arena.extend_from_slice(value);
        }
        let seq = self.inserted;
        self.inserted += 1;
        self.entries.push_back(Entry {
            at,
            name: *f.nw,
            value: *f.vw,
            field_hash: h.field,
            name_hash: h.name,
            static_name,
        });
        self.size += size;
        Self::put(&mut self.field_slots, h.field, seq);
        if !static_name {
            Self::put(&mut self.name_slots, h.name, seq);
        }
    }

    /// Changes the maximum size, evicting what no longer fits, and sizes
    /// the indexes for the most entries the table can hold.
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
        // At most capacity / 32 entries; two-way sets with room for four
        // times that keep lost entries (lost compression) rare.
        let sets = (capacity / 16).clamp(8, 1 << 15).next_power_of_two();
        if sets != self.field_slots.len() {
            self.field_slots = vec![[0; 2]; sets];
            self.name_slots = vec![[0; 2]; sets];
            let first = self.first_seq();
            for (i, e) in self.entries.iter().enumerate() {
                let seq = first + i as u64;
                Self::put(&mut self.field_slots, e.field_hash, seq);
                if !e.static_name {
                    Self::put(&mut self.name_slots, e.name_hash, seq);
                }
            }
        }
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some(e) = self.entries.pop_front() else {
                self.size = 0;
                return;
            };
            self.size -= e.name.len + e.value.len + ENTRY_OVERHEAD;
        }
    }
}

/// How many of a string's bytes the arena keeps: none when its words
/// determine it.
#[inline(always)]
fn kept(w: &Words) -> usize {
    if w.len > EXACT { w.len } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n: v` and hands its key and hashes to `use_it`.
    fn with_key<R>(n: &str, v: &str, use_it: impl FnOnce(Key<'_>, Hashes, bool) -> R) -> R {
        let (n, v) = (n.as_bytes(), v.as_bytes());
        let (nw, vw) = (Words::of(n), Words::of(v));
        let static_name = static_table::find(n, &nw, &vw).name.is_some();
        let key = Key {
            name: n,
            nw: &nw,
            value: v,
            vw: &vw,
        };
        use_it(key, Hashes::of(key), static_name)
    }

    fn find(t: &EncoderTable, n: &str, v: &str) -> (Option<usize>, Option<usize>) {
        with_key(n, v, |k, h, static_name| {
            let field = t.find_field(k, h);
            let name = if static_name || field.is_some() {
                None
            } else {
                t.find_name(k, h)
            };
            (field, name)
        })
    }

    fn insert(t: &mut EncoderTable, n: &str, v: &str) {
        with_key(n, v, |k, h, static_name| t.insert(k, h, static_name));
    }

    #[test]
    fn indices_follow_insertions_and_evictions() {
        let mut t = EncoderTable::new(110);
        insert(&mut t, "a", "1"); // 34
        insert(&mut t, "b", "2"); // 68
        assert_eq!(find(&t, "a", "1"), (Some(63), None));
        assert_eq!(find(&t, "b", "2"), (Some(62), None));
        assert_eq!(find(&t, "b", "3"), (None, Some(62)));
        insert(&mut t, "a", "9"); // 102
        assert_eq!(find(&t, "a", "1"), (Some(64), None));
        // The name index points at the newest entry with that name.
        assert_eq!(find(&t, "a", "x"), (None, Some(62)));
        insert(&mut t, "c", "3"); // evicts a:1
        assert_eq!(find(&t, "a", "1"), (None, Some(63)));
        assert_eq!(t.size(), 102);
        t.set_capacity(34);
        assert_eq!(find(&t, "c", "3"), (Some(62), None));
        assert_eq!(find(&t, "a", "9"), (None, None));
        insert(&mut t, "long-name", "value"); // does not fit: empties
        assert!(t.is_empty());
        assert_eq!(find(&t, "c", "3"), (None, None));
        // Static names are found by value only.
        t.set_capacity(4096);
        insert(&mut t, "user-agent", "x");
        assert_eq!(find(&t, "user-agent", "x"), (Some(62), None));
        assert_eq!(find(&t, "user-agent", "y"), (None, None));
    }

    #[test]
    fn the_arena_is_compacted_and_entries_stay_readable() {
        // Names and values longer than 16 bytes are kept in the arena and
        // compared byte for byte; shorter ones by their words alone.
        for (name, value) in [
            ("x-key", "value-"),
            ("x-key", "a-value-longer-than-sixteen-"),
            ("x-a-name-longer-than-sixteen", "value-"),
            (
                "x-a-name-longer-than-sixteen",
                "a-value-longer-than-sixteen-",
            ),
        ] {
            let mut t = EncoderTable::new(300);
            for i in 0..10_000 {
                let v = format!("{value}{i}");
                insert(&mut t, name, &v);
                assert_eq!(find(&t, name, &v), (Some(62), None));
                assert_eq!(find(&t, name, "other"), (None, Some(62)));
                // One byte changed outside the last 8: told apart (by the
                // digest in the words, else by the kept bytes).
                let mut twin = v.clone().into_bytes();
                if twin.len() > 16 {
                    twin[8] ^= 1;
                    let twin = String::from_utf8(twin).unwrap();
                    assert_eq!(find(&t, name, &twin), (None, Some(62)));
                }
                if i > 0 {
                    // Two ways per set: the next insertion never pushes an
                    // entry out of the index.
                    let prev = format!("{value}{}", i - 1);
                    assert_eq!(find(&t, name, &prev), (Some(63), None), "{i}");
                }
                assert!(t.arena.len() <= 2 * 2048 + 64);
            }
        }
    }
}
