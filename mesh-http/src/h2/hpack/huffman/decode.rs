//! Table-driven Huffman decoding: one table lookup per input byte.
//!
//! The decoder is a finite state machine whose states are the 256 inner
//! nodes of the Huffman tree (a prefix of a code not yet complete). For
//! every state and every input byte, a table generated at compile time
//! says which state follows, which symbols (at most two: codes are at
//! least 5 bits long) were completed on the way, whether the EOS symbol
//! was hit (an error inside a string), and whether the state is a valid
//! end (the bits since the last symbol are a prefix of EOS, i.e. all ones,
//! and fewer than 8: RFC 7541 §5.2 padding).
//!
//! The trade-off: 8 bits per step needs 256 × 256 four-byte entries
//! (256 KiB of read-only data) and walks the input once with no branches
//! per symbol; a 4-bit table would fit in 12 KiB but needs two dependent
//! lookups per byte.

use super::code::{CODES, EOS, LENGTHS};

/// Why a Huffman string is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HuffmanError {
    /// The EOS symbol appeared inside the string.
    #[error("the Huffman string contains the EOS symbol")]
    Eos,
    /// The string ends with more than 7 bits of padding, or padding that
    /// is not a prefix of EOS.
    #[error("the Huffman string ends with invalid padding")]
    Padding,
}

const ROOT: u16 = 0;
/// Child references at or above this are leaves: `LEAF + symbol`.
const LEAF: u16 = 256;

/// The Huffman tree: `[left, right]` children of each inner node.
const fn tree() -> [[u16; 2]; 256] {
    let mut child = [[0u16; 2]; 256];
    // Node 0 is the root and never anyone's child, so 0 means "unset".
    let mut next: u16 = 1;
    let mut sym = 0;
    while sym <= EOS {
        let code = CODES[sym];
        let len = LENGTHS[sym];
        let mut node = ROOT as usize;
        let mut i = len;
        while i > 1 {
            i -= 1;
            let bit = ((code >> i) & 1) as usize;
            if child[node][bit] == 0 {
                child[node][bit] = next;
                next += 1;
            }
            node = child[node][bit] as usize;
        }
        child[node][(code & 1) as usize] = LEAF + sym as u16;
        sym += 1;
    }
    child
}

const SYM1_SHIFT: u32 = 8;
const SYM2_SHIFT: u32 = 16;
const COUNT_SHIFT: u32 = 24;
/// The state after this step is a valid end of string.
const ACCEPT: u32 = 1 << 26;
/// EOS was decoded in this step.
const FAIL: u32 = 1 << 27;

/// `TABLE[state << 8 | byte]`: next state (bits 0..8), first and second
/// symbol (8..16, 16..24), symbol count (24..26), [`ACCEPT`], [`FAIL`].
static TABLE: [u32; 256 * 256] = table();

const fn table() -> [u32; 256 * 256] {
    let tree = tree();
    // States on the all-ones path from the root, up to 7 bits deep, are
    // valid ends: what remains is padding.
    let mut accept = [false; 256];
    let mut node = ROOT as usize;
    let mut depth = 0;
    while depth < 8 {
        accept[node] = true;
        node = tree[node][1] as usize;
        depth += 1;
    }
    let mut table = [0u32; 256 * 256];
    let mut state = 0;
    while state < 256 {
        let mut byte = 0;
        while byte < 256 {
            let mut node = state;
            let mut syms = [0u32; 2];
            let mut count = 0;
            let mut fail = false;
            let mut bit = 8;
            while bit > 0 {
                bit -= 1;
                let c = tree[node][(byte >> bit) & 1];
                if c >= LEAF {
                    let sym = (c - LEAF) as usize;
                    if sym == EOS {
                        fail = true;
                    } else {
                        syms[count] = sym as u32;
                        count += 1;
                    }
                    node = ROOT as usize;
                } else {
                    node = c as usize;
                }
            }
            let mut e = node as u32
                | syms[0] << SYM1_SHIFT
                | syms[1] << SYM2_SHIFT
                | (count as u32) << COUNT_SHIFT;
            if accept[node] {
                e |= ACCEPT;
            }
            if fail {
                e |= FAIL;
            }
            table[state << 8 | byte] = e;
            byte += 1;
        }
        state += 1;
    }
    table
}

/// The most bytes `len` bytes of Huffman code can decode to (plus the
/// slack [`decode`] writes past the end), for sizing the output.
pub const fn max_decoded_len(len: usize) -> usize {
    len * 8 / 5 + 2
}

/// Decodes `src` into `dst` and returns the decoded length. `dst` must
/// hold at least [`max_decoded_len`]`(src.len())` bytes; its bytes past
/// the returned length are unspecified.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<usize, HuffmanError> {
    let dst = &mut dst[..max_decoded_len(src.len())];
    let mut state = 0usize;
    let mut n = 0usize;
    let mut flags = ACCEPT;
    for &b in src {
        let e = TABLE[state << 8 | usize::from(b)];
        // Both symbol slots are written every step; `count` says how many
        // are real. `n + 2 <= dst.len()` holds since at most 8/5 of a
        // symbol is completed per input byte.
        if let Some(out) = dst.get_mut(n..n + 2) {
            out[0] = (e >> SYM1_SHIFT) as u8;
            out[1] = (e >> SYM2_SHIFT) as u8;
        }
        n += (e >> COUNT_SHIFT & 3) as usize;
        state = (e & 0xff) as usize;
        flags = (flags & FAIL) | e;
    }
    if flags & FAIL != 0 {
        return Err(HuffmanError::Eos);
    }
    if flags & ACCEPT == 0 {
        return Err(HuffmanError::Padding);
    }
    Ok(n)
}

/// Decodes `src` into a new vector (a convenience for tests and tools;
/// the HPACK decoder decodes into its own buffer).
pub fn decode_to_vec(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
    let mut out = vec![0; max_decoded_len(src.len())];
    let n = decode(src, &mut out)?;
    out.truncate(n);
    Ok(out)
}
