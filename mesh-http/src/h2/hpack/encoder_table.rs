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
    /// The name as read into words (only compared for names outside the
    /// static table) and the value.
    name: Words,
    value: Words,
    field_hash: u64,
    /// `None` for names of the static table, which are never looked up
    /// in the dynamic one (the static index is as short and never evicted).
    name_hash: Option<u64>,
    /// The name's static index, or 0: equal indices mean equal names, so
    /// the name need not be compared.
    static_name: u8,
}

/// The hashes of one field, computed once per field.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hashes {
    name: Option<u64>,
    field: u64,
    static_name: u8,
}

impl Hashes {
    /// The hashes of field `f`; `static_name` is its name's static index,
    /// if it has one: then the name need not be hashed.
    #[inline]
    pub(super) fn of(static_name: Option<usize>, f: Key<'_>) -> Hashes {
        let (nw, vw) = (f.nw, f.vw);
        let name = match static_name {
            Some(i) => {
                return Hashes {
                    name: None,
                    field: vw.hash(i as u64),
                    static_name: i as u8,
                };
            }
            None => nw.hash(SEED),
        };
        Hashes {
            name: Some(name),
            field: vw.hash(name),
            static_name: 0,
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
/// of the short strings most names and values are). Two hash indexes (of whole fields,
/// and of names not in the static table), two-way set-associative, hold
/// the insertion numbers of the two newest entries per set; a candidate is
/// compared byte for byte, so a collision only costs compression, never
/// correctness, no chain can grow (an attacker who picks header values
/// cannot slow the encoder down), and eviction needs no index update (a
/// reference to an evicted entry is simply stale).
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

/// What the dynamic table offers for a field.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Found {
    /// The index of an entry with the same name and value.
    pub(super) field: Option<usize>,
    /// The index of an entry with the same name (only for names not in
    /// the static table).
    pub(super) name: Option<usize>,
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

    /// The entries for `name: value` (read as `nw` and `vw`, hashed as `h`).
    #[inline]
    pub(super) fn find(&self, f: Key<'_>, h: Hashes) -> Found {
        let mut found = Found::default();
        for slot in self.field_slots[Self::set(&self.field_slots, h.field)] {
            let Some((seq, e)) = self.live(slot) else {
                continue;
            };
            if e.field_hash != h.field {
                continue;
            }
            let same_name = if h.static_name != 0 {
                e.static_name == h.static_name
            } else {
                self.same_name(e, f.name, f.nw)
            };
            if same_name && e.value == *f.vw && (f.vw.len <= EXACT || self.bytes(e).1 == f.value) {
                found.field = Some(self.index(seq));
                return found;
            }
        }
        if let Some(nh) = h.name {
            for slot in self.name_slots[Self::set(&self.name_slots, nh)] {
                if let Some((seq, e)) = self.live(slot) {
                    if e.name_hash == Some(nh) && self.same_name(e, f.name, f.nw) {
                        found.name = Some(self.index(seq));
                        break;
                    }
                }
            }
        }
        found
    }

    /// Inserts a field as the peer's decoder will (RFC 7541 §4.4).
    pub(super) fn insert(&mut self, f: Key<'_>, h: Hashes) {
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
            static_name: h.static_name,
        });
        self.size += size;
        Self::put(&mut self.field_slots, h.field, seq);
        if let Some(nh) = h.name {
            Self::put(&mut self.name_slots, nh, seq);
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
                if let Some(nh) = e.name_hash {
                    Self::put(&mut self.name_slots, nh, seq);
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
    fn with_key<R>(n: &str, v: &str, use_it: impl FnOnce(Key<'_>, Hashes) -> R) -> R {
        let (n, v) = (n.as_bytes(), v.as_bytes());
        let (nw, vw) = (Words::of(n), Words::of(v));
        let static_name = static_table::find(n, &nw, &vw).name;
        let key = Key {
            name: n,
            nw: &nw,
            value: v,
            vw: &vw,
        };
        use_it(key, Hashes::of(static_name, key))
    }

    fn find(t: &EncoderTable, n: &str, v: &str) -> (Option<usize>, Option<usize>) {
        let f = with_key(n, v, |k, h| t.find(k, h));
        (f.field, f.name)
    }

    fn insert(t: &mut EncoderTable, n: &str, v: &str) {
        with_key(n, v, |k, h| t.insert(k, h));
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
