//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B): a table-driven
//! decoder that consumes a whole byte per step, and an encoder.

mod code;
mod decode;
mod encode;

pub use decode::{HuffmanError, decode, decode_to_vec, max_decoded_len};
pub(crate) use encode::{SHORT, ShortBuf, encode_short, encode_sized};
pub use encode::{encode, encoded_len};
