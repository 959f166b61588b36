//! Whole messages: the borrowing parse, the parsed views, and the owned
//! [`Message`] the codec yields.

use bytes::Bytes;

use super::compression::decompress;
use super::legacy::{OpDelete, OpGetMore, OpInsert, OpKillCursors, OpQuery, OpReply, OpUpdate};
use super::wire::Reader;
use super::{
    Compressor, HEADER_LEN, Header, Limits, MongoError, MongoErrorKind, OpCode, OpMsg, Summary,
};

/// The answer of a borrowing parse over a prefix of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message was parsed.
    Complete(T),
    /// The buffer ends inside the message: read more and parse again.
    Partial,
}

/// A parsed message body, borrowing the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is documented on its type
pub enum Op<'a> {
    Msg(OpMsg<'a>),
    Query(OpQuery<'a>),
    Reply(OpReply<'a>),
    Insert(OpInsert<'a>),
    Update(OpUpdate<'a>),
    Delete(OpDelete<'a>),
    GetMore(OpGetMore<'a>),
    KillCursors(OpKillCursors<'a>),
    Compressed(OpCompressed<'a>),
}

/// OP_COMPRESSED (2012), before decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpCompressed<'a> {
    /// The opcode of the message inside.
    pub original_op_code: OpCode,
    /// The size of the message inside, without its header.
    pub uncompressed_size: usize,
    /// How it is compressed.
    pub compressor: Compressor,
    /// The compressed body.
    pub data: &'a [u8],
}

impl<'a> OpCompressed<'a> {
    fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = Reader::new(msg, HEADER_LEN, msg.len(), OpCode::Compressed, limits);
        let original = r.i32("originalOpcode")?;
        let original_op_code = OpCode::from_i32(original)
            .ok_or(MongoErrorKind::UnknownOpCode { op_code: original })?;
        if original_op_code == OpCode::Compressed {
            return Err(MongoErrorKind::UnexpectedOpCode {
                op: OpCode::Compressed,
                context: "compressed inside OP_COMPRESSED",
            });
        }
        let at = r.pos();
        let size = r.i32("uncompressedSize")?;
        let uncompressed_size = usize::try_from(size)
            .ok()
            .filter(|&s| s >= original_op_code.min_body_len())
            .ok_or_else(|| r.malformed("uncompressedSize", at))?;
        let id = r.u8("compressorId")?;
        let compressor = Compressor::from_id(id).ok_or(MongoErrorKind::UnknownCompressor { id })?;
        let data = &msg[r.pos()..];
        let inflated = uncompressed_size.saturating_add(HEADER_LEN);
        if inflated > limits.max_decompressed_size {
            return Err(MongoErrorKind::DecompressedTooLarge {
                compressor,
                size: inflated as i64,
                limit: limits.max_decompressed_size,
            });
        }
        Ok(OpCompressed {
            original_op_code,
            uncompressed_size,
            compressor,
            data,
        })
    }

    /// The message inside, header included (rebuilt from `header` with the
    /// original opcode and length), decompressed within the limits.
    pub fn decompress(&self, header: &Header) -> Result<Vec<u8>, MongoError> {
        let inner = Header {
            message_length: (self.uncompressed_size + HEADER_LEN) as i32,
            request_id: header.request_id,
            response_to: header.response_to,
            op_code: self.original_op_code.as_i32(),
        };
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&inner.to_bytes());
        decompress(self.compressor, self.data, self.uncompressed_size, &mut out)?;
        Ok(out)
    }
}

/// The shortest message of any opcode: a header and the smallest body
/// (OP_INSERT's flags and a one-byte namespace).
const MIN_MESSAGE_LEN: usize = HEADER_LEN + 5;

/// Checks the header at the start of `buf` as far as it has arrived:
/// with 4 bytes the length against the limits, with 16 the opcode and the
/// opcode's least length. Returns the header and opcode once 16 bytes are
/// there.
pub(crate) fn check_header(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Header, OpCode, usize)>, MongoErrorKind> {
    let Some(length) = super::bson::read_i32(buf, 0) else {
        return Ok(None);
    };
    let len = i64::from(length);
    if len < MIN_MESSAGE_LEN as i64 {
        return Err(MongoErrorKind::TooShort {
            length: len,
            min: MIN_MESSAGE_LEN,
            op: None,
        });
    }
    if len > limits.max_message_size as i64 {
        return Err(MongoErrorKind::TooLarge {
            length: len,
            limit: limits.max_message_size,
        });
    }
    let Some(header) = Header::parse(buf) else {
        return Ok(None);
    };
    let op = header.op_code().ok_or(MongoErrorKind::UnknownOpCode {
        op_code: header.op_code,
    })?;
    let min = HEADER_LEN + op.min_body_len();
    if len < min as i64 {
        return Err(MongoErrorKind::TooShort {
            length: len,
            min,
            op: Some(op),
        });
    }
    Ok(Some((header, op, len as usize)))
}

/// Parses the body of the complete message `msg` (header included).
pub(crate) fn parse_op<'a>(
    msg: &'a [u8],
    op: OpCode,
    limits: &'a Limits,
) -> Result<Op<'a>, MongoErrorKind> {
    Ok(match op {
        OpCode::Msg => Op::Msg(OpMsg::parse(msg, limits)?),
        OpCode::Query => Op::Query(OpQuery::parse(msg, limits)?),
        OpCode::Reply => Op::Reply(OpReply::parse(msg, limits)?),
        OpCode::Insert => Op::Insert(OpInsert::parse(msg, limits)?),
        OpCode::Update => Op::Update(OpUpdate::parse(msg, limits)?),
        OpCode::Delete => Op::Delete(OpDelete::parse(msg, limits)?),
        OpCode::GetMore => Op::GetMore(OpGetMore::parse(msg, limits)?),
        OpCode::KillCursors => Op::KillCursors(OpKillCursors::parse(msg, limits)?),
        OpCode::Compressed => Op::Compressed(OpCompressed::parse(msg, limits)?),
    })
}

/// One message parsed in place by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The header.
    pub header: Header,
    /// The body, parsed and validated as the limits say. OP_COMPRESSED is
    /// returned as is: decompressing needs an allocation, which
    /// [`OpCompressed::decompress`] or the codec make.
    pub op: Op<'a>,
    /// The message length: where the next message starts.
    pub len: usize,
}

/// Parses the message at the start of `buf` without copying: the
/// borrowing half of the codec. `Partial` until the whole message is in
/// `buf` (an invalid header is an error as soon as it is seen). Errors are
/// attributed to the client; use [`MongoError::with_side`] for servers.
pub fn parse<'a>(buf: &'a [u8], limits: &'a Limits) -> Result<Status<Parsed<'a>>, MongoError> {
    let Some((header, op, len)) = check_header(buf, limits)? else {
        return Ok(Status::Partial);
    };
    let Some(msg) = buf.get(..len) else {
        return Ok(Status::Partial);
    };
    let op = parse_op(msg, op, limits)?;
    Ok(Status::Complete(Parsed { header, op, len }))
}

/// One whole MongoDB message, owned: the frame split from the read buffer
/// without copying, or, for OP_COMPRESSED, the decompressed message beside
/// the compressed frame it came in.
///
/// A `Message` from the codec or [`Message::from_bytes`] was validated as
/// the [`Limits`] said; [`op`](Self::op) parses its views again, which
/// costs a walk over the section and document frames, not a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    header: Header,
    op_code: OpCode,
    bytes: Bytes,
    compressed: Option<(Compressor, Bytes)>,
}

impl Message {
    /// Validates one whole message (its header's length must be the
    /// length of `wire`), decompressing OP_COMPRESSED.
    pub fn from_bytes(wire: Bytes, limits: &Limits) -> Result<Message, MongoError> {
        let Some((_, _, len)) = check_header(&wire, limits)? else {
            return Err(MongoErrorKind::Malformed {
                op: OpCode::Msg,
                what: "message shorter than its header",
                offset: 0,
            }
            .into());
        };
        if len != wire.len() {
            return Err(MongoErrorKind::Malformed {
                op: Header::parse(&wire)
                    .and_then(|h| h.op_code())
                    .unwrap_or(OpCode::Msg),
                what: "message length differs from the bytes given",
                offset: 0,
            }
            .into());
        }
        decode_frame(wire, limits)
    }

    /// A message whose bytes the caller built correctly (the builders).
    pub(crate) fn from_trusted(header: Header, op_code: OpCode, bytes: Bytes) -> Message {
        Message {
            header,
            op_code,
            bytes,
            compressed: None,
        }
    }

    /// The header of the message (of the decompressed message, for one
    /// that came compressed).
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// The opcode (the original opcode, for one that came compressed).
    pub const fn op_code(&self) -> OpCode {
        self.op_code
    }

    /// The sender's id for this message.
    pub const fn request_id(&self) -> i32 {
        self.header.request_id
    }

    /// The id of the request this answers; 0 for a request.
    pub const fn response_to(&self) -> i32 {
        self.header.response_to
    }

    /// The message, header included, decompressed if it came compressed.
    pub const fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The bytes as they were on the wire: what a proxy forwards.
    pub fn wire_bytes(&self) -> &Bytes {
        self.compressed.as_ref().map_or(&self.bytes, |(_, b)| b)
    }

    /// The compressor, when the message came as OP_COMPRESSED.
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressed.as_ref().map(|(c, _)| *c)
    }

    /// The parsed body (never [`Op::Compressed`]: compressed messages are
    /// decompressed by the decoder).
    pub fn op(&self) -> Result<Op<'_>, MongoError> {
        static FRAME_ONLY: Limits = Limits {
            max_message_size: usize::MAX,
            max_decompressed_size: usize::MAX,
            max_bson_depth: super::bson::MAX_DEPTH_CAP,
            validation: super::Validation::Frame,
        };
        Ok(parse_op(&self.bytes, self.op_code, &FRAME_ONLY)?)
    }

    /// What an observer wants to know about the message (see [`Summary`]).
    pub fn summary(&self) -> Result<Summary<'_>, MongoError> {
        let op = self.op()?;
        let mut s = Summary::from_op(&self.header, &op)?;
        s.wire_len = self.wire_bytes().len();
        s.compressor = self.compressor();
        Ok(s)
    }

    /// The same message as OP_COMPRESSED with `compressor` (same ids), as
    /// a proxy that compresses towards a peer would send it.
    pub fn compress(&self, compressor: Compressor) -> Result<Message, MongoError> {
        let body = &self.bytes[HEADER_LEN..];
        let mut out = Vec::with_capacity(HEADER_LEN + 9 + body.len() / 2);
        out.extend_from_slice(&[0; HEADER_LEN]);
        out.extend_from_slice(&self.op_code.as_i32().to_le_bytes());
        out.extend_from_slice(&(body.len() as i32).to_le_bytes());
        out.push(compressor.id());
        compressor
            .compress(body, &mut out)
            .map_err(|source| MongoErrorKind::Decompress { compressor, source })?;
        let wire_header = Header {
            message_length: i32::try_from(out.len()).map_err(|_| MongoErrorKind::TooLarge {
                length: out.len() as i64,
                limit: i32::MAX as usize,
            })?,
            request_id: self.header.request_id,
            response_to: self.header.response_to,
            op_code: OpCode::Compressed.as_i32(),
        };
        out[..HEADER_LEN].copy_from_slice(&wire_header.to_bytes());
        Ok(Message {
            compressed: Some((compressor, out.into())),
            ..self.clone()
        })
    }
}

/// Validates the complete frame `wire` (its length checked against the
/// header and limits) and makes the message, decompressing if needed.
pub(crate) fn decode_frame(wire: Bytes, limits: &Limits) -> Result<Message, MongoError> {
    let Some((header, op_code, _)) = check_header(&wire, limits)? else {
        return Err(MongoErrorKind::Malformed {
            op: OpCode::Msg,
            what: "message shorter than its header",
            offset: 0,
        }
        .into());
    };
    match parse_op(&wire, op_code, limits)? {
        Op::Compressed(c) => {
            let inner = Bytes::from(c.decompress(&header)?);
            let inner_header = Header::parse(&inner).unwrap_or(header);
            parse_op(&inner, c.original_op_code, limits)?;
            Ok(Message {
                header: inner_header,
                op_code: c.original_op_code,
                bytes: inner,
                compressed: Some((c.compressor, wire)),
            })
        }
        _ => Ok(Message {
            header,
            op_code,
            bytes: wire,
            compressed: None,
        }),
    }
}
