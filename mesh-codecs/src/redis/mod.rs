//! Redis's RESP2 and RESP3: a zero-copy codec, command introspection,
//! cluster slots, RESP3-to-RESP2 reply conversion and a sniffer.
//!
//! - [`RawFrame`] and [`RawRespCodec`]: what a proxy reads and forwards. A
//!   frame is the `Bytes` it arrived in (split off the read buffer, never
//!   copied) plus the index the validating scan recorded; its command
//!   name, keys and every other element are read through borrowed views
//!   ([`FrameRef`], [`RawRequest`]) without copying or reference counting,
//!   and it is forwarded as is.
//! - [`Frame`] and [`RespCodec`]: every RESP2 and RESP3 type as an owned
//!   tree whose strings are `Bytes` slices of the input, to match on and
//!   to build replies; [`Frame::encode`] and [`encode_command`] write.
//! - Decoding is resumable at any byte and linear: one scanner validates
//!   each header once and keeps a cursor (open aggregates, where a line or
//!   payload resumes) between reads; [`RawFrame::decode`] and
//!   [`decode_frame`] decode from a `Bytes` in one shot.
//! - [`Limits`] and [`DecoderConfig`]: Redis's own bounds by default;
//!   inline commands only where requests are expected.
//! - [`command`] and [`Command`]: the command table of Redis 7 (arity,
//!   flags, legacy key positions, key specs), key extraction for any
//!   command, and which commands a proxy may split by key.
//! - [`slot`] and [`hash_tag`]: Redis Cluster hashing.
//! - [`to_resp2`]: a RESP3 reply as Redis would have sent it to a RESP2
//!   client.
//! - [`RespSniffer`]: recognises a client's first request.
//!
//! ```
//! use bytes::BytesMut;
//! use mesh_codecs::redis::{slot, Frame, RawRespCodec};
//! use tokio_util::codec::Decoder;
//!
//! let mut codec = RawRespCodec::requests();
//! let mut buf = BytesMut::from(&b"*3\r\n$3\r\nset\r\n$9\r\n{user}:42\r\n$2\r\nhi\r\nPING\r\n"[..]);
//! let frame = codec.decode(&mut buf).unwrap().unwrap();
//! let request = frame.request().unwrap();
//! let set = request.command().unwrap();
//! assert!(set.is_write());
//! let keys: Vec<&[u8]> = set.keys(&request).collect();
//! assert_eq!(keys, [&b"{user}:42"[..]]);
//! assert_eq!(slot(keys[0]), slot(b"user"));
//! // Forwarded exactly as received.
//! assert!(frame.as_bytes().starts_with(b"*3\r\n$3\r\nset"));
//! // Inline commands become arrays of bulk strings.
//! let ping = codec.decode(&mut buf).unwrap().unwrap();
//! assert_eq!(ping.to_frame(), Frame::command(["PING"]));
//! assert_eq!(ping.as_bytes(), b"*1\r\n$4\r\nPING\r\n");
//! ```

mod codec;
mod command;
mod convert;
mod encode;
mod error;
mod frame;
mod inline;
mod limits;
mod parse;
mod raw;
mod scan;
mod slot;
mod sniff;

pub use codec::{DecoderConfig, RawRespCodec, RespCodec, decode_frame};
pub use command::{
    Args, BeginSearch, Command, CommandFlags, FindKeys, KeySpec, Keys, Request, SplitReply,
    command, commands,
};
pub use convert::{to_resp2, to_resp2_exec};
pub use encode::encode_command;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Limit, Malformed};
pub use frame::Frame;
pub use limits::Limits;
pub use raw::{Children, FrameRef, RawFrame, RawRequest};
pub use scan::Kind;
pub use slot::{SLOTS, crc16, hash_tag, slot};
pub use sniff::RespSniffer;
