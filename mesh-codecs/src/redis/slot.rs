//! Redis Cluster key hashing: hash tags and the slot of a key.
//!
//! A key belongs to slot `CRC16(key) mod 16384`, where CRC16 is the
//! XMODEM variant (polynomial 0x1021, initial value 0). When the key holds
//! a hash tag, only the tag is hashed, so that related keys can be put on
//! one node: the tag is what lies between the first `{` and the first `}`
//! after it, if that is not empty.

/// The number of slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

const TABLE: [u16; 256] = table();

const fn table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC16/XMODEM of `data`, as Redis Cluster computes it.
///
/// ```
/// assert_eq!(mesh_codecs::redis::crc16(b"123456789"), 0x31c3);
/// ```
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 8) as u8) ^ b)]
    })
}

/// The part of `key` that is hashed: its hash tag, or the whole key when
/// there is none (no `{`, no `}` after it, or nothing between them).
///
/// ```
/// use mesh_codecs::redis::hash_tag;
///
/// assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
/// assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
/// assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
/// ```
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = memchr::memchr(b'{', key) else {
        return key;
    };
    let tag = &key[open + 1..];
    match memchr::memchr(b'}', tag) {
        Some(len) if len > 0 => &tag[..len],
        _ => key,
    }
}

/// The cluster slot of `key`, hash tags considered.
///
/// ```
/// use mesh_codecs::redis::slot;
///
/// assert_eq!(slot(b"123456789"), 12739);
/// assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
/// ```
pub fn slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOTS
}
