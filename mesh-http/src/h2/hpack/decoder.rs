//! The HPACK decoder (RFC 7541 §3, §6).

use bytes::{Bytes, BytesMut};
use mesh_core::Side;

use super::field::{ENTRY_OVERHEAD, Field};
use super::list::{HeaderList, Str};
use super::table::{DynamicTable, Name};
use super::{HpackError, HpackErrorKind, huffman, integer, static_table};

/// Limits of a [`Decoder`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// Our SETTINGS_HEADER_TABLE_SIZE in effect: the largest dynamic table
    /// the peer's encoder may use. Default 4 096, the RFC's initial value.
    pub max_table_size: usize,
    /// The largest decoded header list (RFC 9113 size: name + value + 32
    /// per field) we accept; our SETTINGS_MAX_HEADER_LIST_SIZE, enforced.
    /// Default 64 KiB.
    pub max_header_list_size: usize,
}

impl Limits {
    /// The RFC's initial dynamic table size.
    pub const DEFAULT_TABLE_SIZE: usize = 4096;
    /// The default header list cap.
    pub const DEFAULT_HEADER_LIST_SIZE: usize = 64 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_table_size: Self::DEFAULT_TABLE_SIZE,
            max_header_list_size: Self::DEFAULT_HEADER_LIST_SIZE,
        }
    }
}

/// Decodes the header blocks of one direction of a connection.
///
/// A block is decoded whole (HEADERS and its CONTINUATION fragments
/// joined, as RFC 9113 §4.3 requires), in the order blocks arrive, since
/// each may change the dynamic table the next one refers to.
///
/// [`Decoder::decode`] hands out names and values as `Bytes`: a plain
/// literal is a slice of the block itself (no copy), a static-table string
/// is static, and the dynamic table's strings and Huffman strings are
/// copied (decoded) into one buffer per block, allocated a chunk at a time,
/// and sliced from it. [`Decoder::decode_list`] copies every string but the
/// static ones into a reusable [`HeaderList`] instead, taking no reference
/// count at all. Memory is bounded by the limits: the table by our
/// SETTINGS_HEADER_TABLE_SIZE, the decoded list by
/// [`Limits::max_header_list_size`] (a block that refers to a large table
/// entry thousands of times is an error once the list passes the cap, not
/// an allocation), and every buffer by the block's own length.
#[derive(Debug)]
pub struct Decoder {
    peer: Side,
    table: DynamicTable,
    max_table_size: usize,
    /// We lowered the setting below the table's size: the next block must
    /// start with a size update to at most this.
    required_update: Option<usize>,
    max_list: usize,
    /// Where [`Decoder::decode_with`] decodes a block before handing out
    /// its fields.
    scratch: HeaderList,
}

impl Decoder {
    /// A decoder for blocks sent by `peer` (whom errors are attributed to).
    pub fn new(peer: Side, limits: Limits) -> Decoder {
        let mut d = Decoder {
            peer,
            table: DynamicTable::new(Limits::DEFAULT_TABLE_SIZE),
            max_table_size: Limits::DEFAULT_TABLE_SIZE,
            required_update: None,
            max_list: limits.max_header_list_size,
            scratch: HeaderList::new(),
        };
        d.set_max_table_size(limits.max_table_size);
        d
    }

    /// Our SETTINGS_HEADER_TABLE_SIZE took effect (the peer acknowledged
    /// it). If it is below the table's current size, the peer's next block
    /// must start with a size update to at most the smallest value set
    /// since its last block (RFC 7541 §4.2); a block that does not is a
    /// COMPRESSION_ERROR.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
        if size < self.table.capacity() {
            self.required_update = Some(self.required_update.map_or(size, |r| r.min(size)));
        }
    }

    /// Our SETTINGS_MAX_HEADER_LIST_SIZE.
    pub fn set_max_header_list_size(&mut self, size: usize) {
        self.max_list = size;
    }

    /// The setting the peer's size updates are checked against.
    pub fn max_table_size(&self) -> usize {
        self.max_table_size
    }

    /// The dynamic table's current maximum size (the last size update).
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The dynamic table's current size (RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Decodes one complete header block and appends its fields to `dst`.
    ///
    /// On an error nothing more is appended; what was appended before it
    /// stays (the caller drops the request or the connection anyway).
    pub fn decode(&mut self, block: &Bytes, dst: &mut Vec<Field>) -> Result<(), HpackError> {
        let mut list = std::mem::take(&mut self.scratch);
        let result = self.decode_bytes(block, &mut list);
        dst.extend(list.drain_fields());
        self.scratch = list;
        result
    }

    /// Decodes one complete header block and hands each field to `emit`
    /// in order: for callers that fill their own header map.
    ///
    /// The fields are handed out once the block is decoded; on an error,
    /// those decoded before it are.
    pub fn decode_with(
        &mut self,
        block: &Bytes,
        emit: impl FnMut(Field),
    ) -> Result<(), HpackError> {
        let mut list = std::mem::take(&mut self.scratch);
        let result = self.decode_bytes(block, &mut list);
        list.drain_fields().for_each(emit);
        self.scratch = list;
        result
    }

    /// Decodes one complete header block and appends its fields to `list`,
    /// which copies their bytes into its own buffer: no `Bytes` and no
    /// reference counts per field, and nothing allocated once the list's
    /// buffers have grown (see [`HeaderList`]).
    ///
    /// On an error nothing more is appended; what was appended before it
    /// stays.
    pub fn decode_list(&mut self, block: &[u8], list: &mut HeaderList) -> Result<(), HpackError> {
        self.decode_block::<false>(block, list)
            .map_err(|kind| HpackError::new(self.peer, kind))
    }

    /// Decodes into the internal list, plain literals referring to `block`.
    fn decode_bytes(&mut self, block: &Bytes, list: &mut HeaderList) -> Result<(), HpackError> {
        list.set_block(block);
        self.decode_block::<true>(block, list)
            .map_err(|kind| HpackError::new(self.peer, kind))
    }

    /// `SLICE`: plain literals become [`Str::Block`] (the list holds the
    /// block) rather than copies.
    fn decode_block<const SLICE: bool>(
        &mut self,
        buf: &[u8],
        out: &mut HeaderList,
    ) -> Result<(), HpackErrorKind> {
        let mut pos = 0;
        if let Some(max) = self.required_update.take() {
            match buf.first() {
                Some(b) if b & 0xe0 == 0x20 => {
                    let size = integer::decode::<5>(buf, &mut pos)?;
                    self.update_size(size, max)?;
                }
                _ => {
                    self.required_update = Some(max);
                    return Err(HpackErrorKind::TableSizeUpdateMissing { max });
                }
            }
        }
        while let Some(b) = buf.get(pos) {
            if b & 0xe0 != 0x20 {
                break;
            }
            let size = integer::decode::<5>(buf, &mut pos)?;
            self.update_size(size, self.max_table_size)?;
        }
        let mut list = ListSize {
            size: 0,
            limit: self.max_list,
        };
        while let Some(&b) = buf.get(pos) {
            if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = integer::decode::<7>(buf, &mut pos)?;
                let entry = self.entry(index)?;
                if list.admit(entry.len()) {
                    let (name, value) = match entry {
                        Entry::Static(n, v) => (Str::Static(n), Str::Static(v)),
                        Entry::Dynamic(n, v) => (name_str(out, n), out.put(v)),
                    };
                    out.emit(name, value, false);
                }
            } else if b & 0x40 != 0 {
                // Literal with incremental indexing (§6.2.1): the table
                // must see it even when the list is already too large.
                let index = integer::decode::<6>(buf, &mut pos)?;
                let (static_name, at, name_len) = self.indexed_literal(buf, &mut pos, index)?;
                let stored = self.table.since(at);
                let (name, value) = match static_name {
                    Some(n) => (Name::Static(n), stored),
                    None => {
                        let (n, v) = stored.split_at(name_len.min(stored.len()));
                        (Name::Owned(n), v)
                    }
                };
                if list.admit(name.len() + value.len()) {
                    let n = name_str(out, name);
                    let v = out.put(value);
                    out.emit(n, v, false);
                }
                self.table.insert(static_name, at, name_len);
            } else if b & 0x20 != 0 {
                return Err(HpackErrorKind::TableSizeUpdateNotFirst);
            } else {
                // Literal without indexing (§6.2.2) or never indexed (§6.2.3).
                let never_indexed = b & 0x10 != 0;
                let index = integer::decode::<4>(buf, &mut pos)?;
                if list.over() {
                    // Nothing of it will be used: skip the strings.
                    if index == 0 {
                        skip_string(buf, &mut pos)?;
                    } else {
                        self.entry(index)?;
                    }
                    skip_string(buf, &mut pos)?;
                    continue;
                }
                let name = if index == 0 {
                    wire_str::<SLICE>(out, buf, &mut pos)?
                } else {
                    match self.entry(index)? {
                        Entry::Static(n, _) => Str::Static(n),
                        Entry::Dynamic(n, _) => name_str(out, n),
                    }
                };
                let value = wire_str::<SLICE>(out, buf, &mut pos)?;
                if list.admit(name.len() + value.len()) {
                    out.emit(name, value, never_indexed);
                }
            }
        }
        if list.over() {
            return Err(HpackErrorKind::HeaderListTooLarge {
                size: list.size,
                limit: list.limit,
            });
        }
        Ok(())
    }

    fn update_size(&mut self, size: u32, max: usize) -> Result<(), HpackErrorKind> {
        if size as usize > max {
            return Err(HpackErrorKind::TableSizeTooLarge { size, max });
        }
        self.table.set_capacity(size as usize);
        Ok(())
    }

    /// The table entry at 1-based `index`.
    #[inline]
    fn entry(&self, index: u32) -> Result<Entry<'_>, HpackErrorKind> {
        let i = index as usize;
        let found = if i <= static_table::LEN {
            static_table::raw(i).map(|(n, v)| Entry::Static(n, v))
        } else {
            self.table
                .get(i - static_table::LEN - 1)
                .map(|(n, v)| Entry::Dynamic(n, v))
        };
        found.ok_or_else(|| self.invalid(index))
    }

    fn invalid(&self, index: u32) -> HpackErrorKind {
        HpackErrorKind::InvalidIndex {
            index,
            table_len: static_table::LEN + self.table.len(),
        }
    }

    /// Reads the name (if literal or a dynamic entry's) and the value of a
    /// literal with incremental indexing straight into the table's buffer,
    /// for the entry to own: the static name if the name is one, where the
    /// bytes begin, and the name's length.
    fn indexed_literal(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        index: u32,
    ) -> Result<(Option<&'static [u8]>, usize, usize), HpackErrorKind> {
        let at = self.table.end();
        let read = self.read_entry(buf, pos, index);
        if read.is_err() {
            self.table.discard(at);
        }
        read.map(|(static_name, name_len)| (static_name, at, name_len))
    }

    fn read_entry(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        index: u32,
    ) -> Result<(Option<&'static [u8]>, usize), HpackErrorKind> {
        let i = index as usize;
        let name = if index == 0 {
            let (raw, huffman) = string_bytes(buf, pos)?;
            (None, put_string(self.table.pending(), raw, huffman)?)
        } else if i <= static_table::LEN {
            match static_table::raw(i) {
                Some((n, _)) => (Some(n), n.len()),
                None => return Err(self.invalid(index)),
            }
        } else {
            match self.table.copy_name(i - static_table::LEN - 1) {
                Some(name) => name,
                None => return Err(self.invalid(index)),
            }
        };
        let (raw, huffman) = string_bytes(buf, pos)?;
        put_string(self.table.pending(), raw, huffman)?;
        Ok(name)
    }
}

/// A table entry found by index.
enum Entry<'a> {
    /// A static entry.
    Static(&'static [u8], &'static [u8]),
    /// A dynamic entry.
    Dynamic(Name<'a>, &'a [u8]),
}

impl Entry<'_> {
    /// Name and value lengths.
    #[inline]
    fn len(&self) -> usize {
        match self {
            Entry::Static(n, v) => n.len() + v.len(),
            Entry::Dynamic(n, v) => n.len() + v.len(),
        }
    }
}

/// The running size of the decoded header list against its cap.
struct ListSize {
    size: usize,
    limit: usize,
}

impl ListSize {
    /// Adds a field; whether it is still within the cap (and so emitted).
    #[inline]
    fn admit(&mut self, len: usize) -> bool {
        self.size = self.size.saturating_add(len + ENTRY_OVERHEAD);
        self.size <= self.limit
    }

    fn over(&self) -> bool {
        self.size > self.limit
    }
}

/// The raw bytes of the string literal at `pos` and its Huffman flag.
#[inline]
fn string_bytes<'b>(buf: &'b [u8], pos: &mut usize) -> Result<(&'b [u8], bool), HpackErrorKind> {
    let Some(&first) = buf.get(*pos) else {
        return Err(HpackErrorKind::Truncated {
            what: "a string length",
        });
    };
    let len = integer::decode::<7>(buf, pos)? as usize;
    let start = *pos;
    let raw = buf
        .get(start..start.saturating_add(len))
        .ok_or(HpackErrorKind::Truncated { what: "a string" })?;
    *pos = start + len;
    Ok((raw, first & 0x80 != 0))
}

fn skip_string(buf: &[u8], pos: &mut usize) -> Result<(), HpackErrorKind> {
    string_bytes(buf, pos).map(|_| ())
}

/// A table entry's name in the list: static, or copied.
#[inline]
fn name_str(out: &mut HeaderList, name: Name<'_>) -> Str {
    match name {
        Name::Static(s) => Str::Static(s),
        Name::Owned(b) => out.put(b),
    }
}

/// Reads the string literal at `pos` into the list.
#[inline]
fn wire_str<const SLICE: bool>(
    out: &mut HeaderList,
    buf: &[u8],
    pos: &mut usize,
) -> Result<Str, HpackErrorKind> {
    let (raw, huffman) = string_bytes(buf, pos)?;
    if SLICE && !huffman {
        return Ok(Str::Block {
            at: *pos - raw.len(),
            len: raw.len(),
        });
    }
    let at = out.buf().len();
    let len = put_string(out.buf(), raw, huffman)?;
    Ok(Str::Buf { at, len })
}

/// Appends a string literal's decoded bytes to `dst`; returns how many.
#[inline]
fn put_string(dst: &mut BytesMut, raw: &[u8], huffman: bool) -> Result<usize, HpackErrorKind> {
    if !huffman {
        dst.extend_from_slice(raw);
        return Ok(raw.len());
    }
    let start = dst.len();
    dst.resize(start + huffman::max_decoded_len(raw.len()), 0);
    let n = huffman::decode(raw, &mut dst[start..]).map_err(HpackErrorKind::Huffman)?;
    dst.truncate(start + n);
    Ok(n)
}
