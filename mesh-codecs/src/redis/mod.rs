//! Redis's RESP2 and RESP3: a zero-copy codec, command introspection,
//! cluster slots, RESP3-to-RESP2 reply conversion and a sniffer.
//!
//! - [`Frame`]: every RESP2 and RESP3 type, strings held as `Bytes` sliced
//!   from the input.
//! - [`RespCodec`]: `tokio_util` framing, resumable at any byte with a
//!   cursor so work stays linear; [`decode_frame`] decodes from a `Bytes`
//!   in one shot; [`Frame::encode`] and [`encode_command`] write.
//! - [`Limits`] and [`DecoderConfig`]: Redis's own bounds by default;
//!   inline commands only where requests are expected.
//! - [`Command`] and [`command`]: the command table of Redis 7 (arity,
//!   flags, key specs), key extraction for any command, and which
//!   commands a proxy may split by key.
//! - [`slot`] and [`hash_tag`]: Redis Cluster hashing.
//! - [`to_resp2`]: a RESP3 reply as Redis would have sent it to a RESP2
//!   client.
//! - [`RespSniffer`]: recognises a client's first request.
//!
//! ```
//! use bytes::BytesMut;
//! use mesh_codecs::redis::{command, slot, Frame, RespCodec, Request};
//! use tokio_util::codec::Decoder;
//!
//! let mut codec = RespCodec::requests();
//! let mut buf = BytesMut::from(&b"*3\r\n$3\r\nset\r\n$9\r\n{user}:42\r\n$2\r\nhi\r\nPING\r\n"[..]);
//! let frame = codec.decode(&mut buf).unwrap().unwrap();
//! let request = Request::new(&frame).unwrap();
//! let set = command(request.name()).unwrap();
//! assert!(set.is_write());
//! let keys: Vec<&[u8]> = set.keys(&request).collect();
//! assert_eq!(keys, [&b"{user}:42"[..]]);
//! assert_eq!(slot(keys[0]), slot(b"user"));
//! // Inline commands are decoded as arrays of bulk strings.
//! assert_eq!(codec.decode(&mut buf).unwrap(), Some(Frame::command(["PING"])));
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
mod read;
mod scan;
mod slot;
mod sniff;

pub use codec::{DecoderConfig, RespCodec};
pub use command::{
    Args, BeginSearch, Command, CommandFlags, FindKeys, KeySpec, Keys, Request, SplitReply,
    command, commands,
};
pub use convert::{to_resp2, to_resp2_exec};
pub use encode::encode_command;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Limit, Malformed};
pub use frame::Frame;
pub use limits::Limits;
pub use read::decode_frame;
pub use slot::{SLOTS, crc16, hash_tag, slot};
pub use sniff::RespSniffer;
