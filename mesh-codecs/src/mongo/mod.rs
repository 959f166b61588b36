//! The MongoDB wire protocol: every opcode, OP_COMPRESSED, a zero-copy
//! BSON reader, message summaries, and a sniffer.
//!
//! - [`MongoCodec`]: a `tokio_util` codec yielding [`Message`]s split
//!   from the read buffer without copying; resumable at any byte, linear
//!   in the bytes received, validated within [`Limits`] (message size,
//!   BSON depth, decompressed size). OP_COMPRESSED (noop, snappy, zlib,
//!   zstd) is decompressed so it reads like any other message.
//! - [`parse`]: the same, borrowing a `&[u8]`.
//! - [`Op`]: the parsed views: [`OpMsg`] (flag bits, body and document
//!   sequences, verified CRC-32C), [`OpQuery`], [`OpReply`], [`OpInsert`],
//!   [`OpUpdate`], [`OpDelete`], [`OpGetMore`], [`OpKillCursors`],
//!   [`OpCompressed`].
//! - [`bson`]: lazy, validating, allocation-free documents with typed
//!   accessors for every BSON type.
//! - [`Summary`]: command, database, collection, session, transaction,
//!   read preference, comment, counts, sizes and reply status, read in
//!   one pass; [`Pairing`] matches replies to requests.
//! - [`MongoSniffer`]: recognises a client's first message.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use mesh_codecs::mongo::bson::{DocumentBuf, Value};
//! use mesh_codecs::mongo::{Compressor, Limits, MongoCodec, OpMsgBuilder};
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! // What a driver sends: a find, compressed with zstd.
//! let mut body = DocumentBuf::new();
//! body.append("find", Value::String("users"))?
//!     .append("filter", Value::Document(DocumentBuf::new().as_document()))?
//!     .append("$db", Value::String("app"))?;
//! let msg = OpMsgBuilder::new(1, 0).body(body.as_document()).build()?;
//! let mut wire = BytesMut::new();
//! let mut codec = MongoCodec::new(Limits::default());
//! codec.encode(msg.compress(Compressor::Zstd)?, &mut wire)?;
//!
//! // What a proxy reads: half the message first, then the rest.
//! let rest = wire.split_off(wire.len() / 2);
//! assert!(codec.decode(&mut wire)?.is_none());
//! wire.unsplit(rest);
//! let msg = codec.decode(&mut wire)?.expect("a whole message");
//! let summary = msg.summary()?;
//! assert_eq!(summary.command, Some("find"));
//! assert_eq!((summary.database, summary.collection), (Some("app"), Some("users")));
//! assert_eq!(summary.compressor, Some(Compressor::Zstd));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bson;
mod codec;
mod compression;
mod error;
mod header;
mod legacy;
mod limits;
mod message;
mod op_msg;
mod sniff;
mod summary;
mod wire;

pub use codec::{CodecStats, MongoCodec};
pub use compression::Compressor;
pub use error::{MongoError, MongoErrorKind};
pub use header::{HEADER_LEN, Header, OpCode};
pub use legacy::{
    OpDelete, OpGetMore, OpInsert, OpKillCursors, OpQuery, OpReply, OpUpdate,
    REPLY_CURSOR_NOT_FOUND, REPLY_QUERY_FAILURE, split_namespace,
};
pub use limits::{Limits, Validation};
pub use message::{Message, Op, OpCompressed, Parsed, Status, parse};
pub use op_msg::{
    DocumentSequence, MsgFlags, OpMsg, OpMsgBuilder, SECTION_BODY, SECTION_SEQUENCE, Section,
    Sections,
};
pub use sniff::MongoSniffer;
pub use summary::{Direction, Pairing, ReplyStatus, Summary};
pub use wire::DocumentIter;
