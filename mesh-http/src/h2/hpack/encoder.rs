//! The HPACK encoder (RFC 7541 §6), with a proxy's indexing policy.

use bytes::{BufMut, BytesMut};

use super::encoder_table::{EncoderTable, Hashes, Key};
use super::field::{ENTRY_OVERHEAD, FieldRef};
use super::static_table;
use super::words::Words;
use super::{huffman, integer};

/// Which literals the encoder adds to the dynamic table.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Indexing {
    /// Index what is likely to repeat on the connection: not fields larger
    /// than 3/4 of the table (they would flush it), and not the names whose
    /// values are usually unique per message (`:path`, `content-length`,
    /// `etag`, `location`, `set-cookie`, `age`, `if-modified-since`,
    /// `if-none-match`), which would only evict useful entries.
    #[default]
    Selective,
    /// Index every literal that fits in the table (the strategy of the
    /// RFC 7541 Appendix C examples).
    All,
    /// Never use the dynamic table (a stateless encoder).
    Never,
}

/// How an [`Encoder`] encodes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EncoderConfig {
    /// The largest dynamic table we use, whatever the peer allows: the
    /// table actually used is the smaller of this and the peer's
    /// SETTINGS_HEADER_TABLE_SIZE. Default 4 096.
    pub max_table_size: usize,
    /// Huffman-code a string when that is strictly shorter. Default on.
    pub huffman: bool,
    /// Which literals to index.
    pub indexing: Indexing,
    /// Encode `authorization`, `proxy-authorization` and `cookie` values
    /// shorter than 20 bytes as never-indexed, even when the caller did not
    /// mark them: they are secrets, or short enough to guess through the
    /// compression ratio (CRIME-style attacks, RFC 7541 §7.1). Default on.
    pub sensitive_defaults: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            max_table_size: 4096,
            huffman: true,
            indexing: Indexing::Selective,
            sensitive_defaults: true,
        }
    }
}

/// Static indices of the names [`Indexing::Selective`] does not index:
/// `:path` (4), `age` (21), `content-length` (28), `etag` (34),
/// `if-modified-since` (40), `if-none-match` (41), `location` (46) and
/// `set-cookie` (55). All are static names, so a name's static index
/// decides, with no string comparison.
const USUALLY_UNIQUE: [bool; 62] = {
    let mut t = [false; 62];
    let unique = [4, 21, 28, 34, 40, 41, 46, 55];
    let mut i = 0;
    while i < unique.len() {
        t[unique[i]] = true;
        i += 1;
    }
    t
};

/// Whether a field is encoded never-indexed by default (see
/// [`EncoderConfig::sensitive_defaults`]), by the static index of its
/// name: `authorization` (23), `proxy-authorization` (49), and `cookie`
/// (32) when shorter than 20 bytes.
fn sensitive(static_name: usize, value: &[u8]) -> bool {
    match static_name {
        23 | 49 => true,
        32 => value.len() < 20,
        _ => false,
    }
}

/// Encodes the header blocks of one direction of a connection.
///
/// Fields marked never-indexed (by the caller, by the decoder that read
/// them, or by the sensitive defaults) are always sent as never-indexed
/// literals, so a proxy that decodes and re-encodes keeps them out of
/// every table on the path (RFC 7541 §6.2.3, §7.1.3).
#[derive(Debug)]
pub struct Encoder {
    config: EncoderConfig,
    table: EncoderTable,
    peer_max: usize,
    /// Size updates owed at the start of the next block: the smallest
    /// size since the last block and the final one.
    pending: Option<(usize, usize)>,
    /// Where short strings are Huffman-coded before the shorter of code
    /// and string is written: kept, so it is zeroed once, not per string
    /// (the coder overwrites every byte it later reads).
    scratch: Box<huffman::ShortBuf>,
}

impl Encoder {
    /// The RFC's initial SETTINGS_HEADER_TABLE_SIZE.
    const INITIAL_PEER_MAX: usize = 4096;

    /// An encoder; the peer's table size starts at the RFC's 4 096.
    pub fn new(config: EncoderConfig) -> Encoder {
        let size = config.max_table_size.min(Self::INITIAL_PEER_MAX);
        Encoder {
            config,
            table: EncoderTable::new(size),
            peer_max: Self::INITIAL_PEER_MAX,
            pending: (size != Self::INITIAL_PEER_MAX).then_some((size, size)),
            scratch: Box::new([0; _]),
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE, when its SETTINGS arrive.
    /// The next block starts with the size updates this makes necessary.
    pub fn set_peer_max_table_size(&mut self, peer_max: usize) {
        if peer_max == self.peer_max {
            return;
        }
        self.peer_max = peer_max;
        let size = self.config.max_table_size.min(peer_max);
        self.table.set_capacity(size);
        let smallest = self.pending.map_or(size, |(s, _)| s.min(size));
        self.pending = Some((smallest, size));
    }

    /// The dynamic table size in use.
    pub fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Encodes one header block (a whole header list) into `dst`.
    pub fn encode<'a, I>(&mut self, fields: I, dst: &mut BytesMut)
    where
        I: IntoIterator,
        I::Item: Into<FieldRef<'a>>,
    {
        if let Some((smallest, last)) = self.pending.take() {
            if smallest < last {
                integer::encode(dst, 0x20, 5, smallest);
            }
            integer::encode(dst, 0x20, 5, last);
        }
        for field in fields {
            self.encode_field(field.into(), dst);
        }
    }

    fn encode_field(&mut self, f: FieldRef<'_>, dst: &mut BytesMut) {
        let (nw, vw) = (Words::of(f.name), Words::of(f.value));
        let key = Key {
            name: f.name,
            nw: &nw,
            value: f.value,
            vw: &vw,
        };
        let hashes = Hashes::of(key);
        // The dynamic table first: an entry found there was indexed, so it
        // is not in the static table, and not sensitive (that depends on
        // the field and the configuration alone) unless the caller says so.
        if !f.never_indexed {
            if let Some(i) = self.table.find_field(key, hashes) {
                integer::encode(dst, 0x80, 7, i);
                return;
            }
        }
        let stat = static_table::find(f.name, &nw, &vw);
        let never = f.never_indexed
            || self.config.sensitive_defaults && stat.name.is_some_and(|i| sensitive(i, f.value));
        if let (Some(i), false) = (stat.field, never) {
            integer::encode(dst, 0x80, 7, i);
            return;
        }
        let index = !never && self.should_index(&f, stat.name);
        // Never indexed, with incremental indexing, or without indexing.
        let high = if never {
            0x10
        } else if index {
            0x40
        } else {
            0x00
        };
        let name = stat.name.or_else(|| self.table.find_name(key, hashes));
        self.literal(dst, high, name, &f);
        if index {
            self.table.insert(key, hashes, stat.name.is_some());
        }
    }

    fn should_index(&self, f: &FieldRef<'_>, static_name: Option<usize>) -> bool {
        let size = f.name.len() + f.value.len() + ENTRY_OVERHEAD;
        match self.config.indexing {
            Indexing::Never => false,
            Indexing::All => size <= self.table.capacity(),
            Indexing::Selective => {
                size <= self.table.capacity() / 4 * 3
                    && !static_name.is_some_and(|i| USUALLY_UNIQUE[i])
            }
        }
    }

    /// A literal representation: `high` is its pattern (0x40 with
    /// incremental indexing and a 6-bit index; 0x10 never indexed or 0x00
    /// without indexing, both with a 4-bit index).
    #[inline]
    fn literal(&mut self, dst: &mut BytesMut, high: u8, name: Option<usize>, f: &FieldRef<'_>) {
        let bits = if high == 0x40 { 6 } else { 4 };
        match name {
            Some(i) => integer::encode(dst, high, bits, i),
            None => {
                dst.put_u8(high);
                self.string(dst, f.name);
            }
        }
        self.string(dst, f.value);
    }

    #[inline]
    fn string(&mut self, dst: &mut BytesMut, s: &[u8]) {
        if self.config.huffman {
            if s.len() <= huffman::SHORT {
                // One pass: code it, keep it if shorter.
                let buf = &mut *self.scratch;
                let len = huffman::encode_short(s, buf);
                if len < s.len() {
                    integer::encode(dst, 0x80, 7, len);
                    // A fixed-size copy (inlined, no branch on the length
                    // inside `memcpy`), trimmed to the code.
                    let at = dst.len();
                    if len <= 64 {
                        dst.extend_from_slice(&buf[..64]);
                    } else {
                        dst.extend_from_slice(&buf[..huffman::SHORT]);
                    }
                    dst.truncate(at + len);
                    return;
                }
            } else {
                let len = huffman::encoded_len(s);
                if len < s.len() {
                    integer::encode(dst, 0x80, 7, len);
                    huffman::encode_sized(s, len, dst);
                    return;
                }
            }
        }
        integer::encode(dst, 0, 7, s.len());
        dst.put_slice(s);
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new(EncoderConfig::default())
    }
}
