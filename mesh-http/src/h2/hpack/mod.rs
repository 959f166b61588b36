//! HPACK header compression (RFC 7541).
//!
//! - [`Decoder`] decodes whole header blocks into [`Field`]s whose bytes
//!   are `Bytes` (slices of the block where the wire allows it), or into a
//!   reusable [`HeaderList`] that keeps every decoded byte in one buffer
//!   (no reference count per field), enforcing the dynamic table size we
//!   advertised, the ordering rules of table size updates, and a cap on
//!   the decoded header list.
//! - [`Encoder`] picks, per field, an index, a literal with or without
//!   indexing, or a never-indexed literal (kept for fields that arrived
//!   never-indexed and by default for credentials and short cookies), and
//!   Huffman-codes strings when that is shorter.
//! - [`huffman`] holds the Huffman code: a decoder driven by a generated
//!   state table that consumes a byte per step, and an encoder.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use mesh_core::Side;
//! use mesh_http::h2::hpack::{Decoder, Encoder, Field, Limits};
//!
//! let mut encoder = Encoder::default();
//! let mut decoder = Decoder::new(Side::Downstream, Limits::default());
//! let fields = [
//!     Field::new(":method", "GET"),
//!     Field::new(":path", "/api/v1/items"),
//!     Field::new("authorization", "Bearer secret"),
//! ];
//! let mut block = BytesMut::new();
//! encoder.encode(&fields, &mut block);
//! let mut decoded = Vec::new();
//! decoder.decode(&block.freeze(), &mut decoded).unwrap();
//! assert_eq!(decoded[1].value, "/api/v1/items");
//! // Credentials are never indexed by default, and stay so downstream.
//! assert!(decoded[2].never_indexed);
//! ```

mod decoder;
mod encoder;
mod encoder_table;
mod error;
mod field;
pub mod huffman;
mod integer;
mod list;
mod static_table;
mod table;
mod words;

pub use decoder::{Decoder, Limits};
pub use encoder::{Encoder, EncoderConfig, Indexing};
pub use error::{HpackError, HpackErrorKind};
pub use field::{ENTRY_OVERHEAD, Field, FieldRef};
pub use list::{HeaderList, HeaderListIter};
