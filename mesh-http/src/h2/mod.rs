//! HTTP/2: the frame codec (RFC 9113), HPACK (RFC 7541) and the client
//! preface sniffer.
//!
//! This is the codec layer; the connection layer (stream states, flow
//! control, drivers) builds on it. The pieces:
//!
//! - [`frame`]: every frame type, [`frame::Head::parse`] for a borrowing
//!   look at a frame header, and [`frame::FrameCodec`] for `tokio_util`
//!   framing with zero-copy payloads.
//! - [`hpack`]: the header compression [`hpack::Decoder`] (limits on the
//!   table size and on the decoded header list) and [`hpack::Encoder`]
//!   (Huffman when shorter, never-indexed fields preserved).
//! - [`PrefaceSniffer`]: detection of h2c connections by their preface.
//! - [`ErrorCode`]: the RFC 9113 error codes every error maps to.

mod error_code;
pub mod frame;
pub mod hpack;
mod preface;

pub use error_code::ErrorCode;
pub use preface::{PREFACE, PrefaceSniffer};
