//! The 16-byte message header every MongoDB message starts with, and the
//! opcodes.

/// The length of the message header.
pub const HEADER_LEN: usize = 16;

/// A message's operation, the header's last field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpCode {
    /// `OP_REPLY` (1): the reply to `OP_QUERY` and `OP_GET_MORE` (legacy,
    /// still the reply to a driver's first handshake).
    Reply,
    /// `OP_UPDATE` (2001): legacy update, removed in MongoDB 6.0.
    Update,
    /// `OP_INSERT` (2002): legacy insert, removed in MongoDB 6.0.
    Insert,
    /// `OP_QUERY` (2004): legacy query; drivers still send their first
    /// handshake with it.
    Query,
    /// `OP_GET_MORE` (2005): legacy cursor continuation.
    GetMore,
    /// `OP_DELETE` (2006): legacy delete.
    Delete,
    /// `OP_KILL_CURSORS` (2007): legacy cursor release.
    KillCursors,
    /// `OP_COMPRESSED` (2012): another message, compressed.
    Compressed,
    /// `OP_MSG` (2013): every command since MongoDB 3.6.
    Msg,
}

impl OpCode {
    /// The opcode for its wire value, or `None` for a value MongoDB does
    /// not define (or has removed, such as `OP_COMMAND`).
    pub const fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => OpCode::Reply,
            2001 => OpCode::Update,
            2002 => OpCode::Insert,
            2004 => OpCode::Query,
            2005 => OpCode::GetMore,
            2006 => OpCode::Delete,
            2007 => OpCode::KillCursors,
            2012 => OpCode::Compressed,
            2013 => OpCode::Msg,
            _ => return None,
        })
    }

    /// The wire value.
    pub const fn as_i32(self) -> i32 {
        match self {
            OpCode::Reply => 1,
            OpCode::Update => 2001,
            OpCode::Insert => 2002,
            OpCode::Query => 2004,
            OpCode::GetMore => 2005,
            OpCode::Delete => 2006,
            OpCode::KillCursors => 2007,
            OpCode::Compressed => 2012,
            OpCode::Msg => 2013,
        }
    }

    /// The name MongoDB's documentation uses, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpCode::Reply => "OP_REPLY",
            OpCode::Update => "OP_UPDATE",
            OpCode::Insert => "OP_INSERT",
            OpCode::Query => "OP_QUERY",
            OpCode::GetMore => "OP_GET_MORE",
            OpCode::Delete => "OP_DELETE",
            OpCode::KillCursors => "OP_KILL_CURSORS",
            OpCode::Compressed => "OP_COMPRESSED",
            OpCode::Msg => "OP_MSG",
        }
    }

    /// Whether a client may send this opcode. `OP_REPLY` only comes from
    /// servers; `OP_MSG` and `OP_COMPRESSED` go both ways.
    pub const fn is_client_op(self) -> bool {
        !matches!(self, OpCode::Reply)
    }

    /// The fewest body bytes (after the header) a well-formed message of
    /// this opcode has; shorter messages are rejected before their body
    /// is read, and the sniffer uses it to judge a sane length.
    pub const fn min_body_len(self) -> usize {
        match self {
            // flags, kind byte, empty document
            OpCode::Msg => 4 + 1 + 5,
            // flags, "a.b" is the shortest namespace but "" parses: 1 byte,
            // skip, return, query document
            OpCode::Query => 4 + 1 + 4 + 4 + 5,
            // flags, cursor id, starting from, number returned
            OpCode::Reply => 4 + 8 + 4 + 4,
            // zero, namespace, flags, selector, update
            OpCode::Update => 4 + 1 + 4 + 5 + 5,
            // flags, namespace (documents may be absent in the header count)
            OpCode::Insert => 4 + 1,
            // zero, namespace, number to return, cursor id
            OpCode::GetMore => 4 + 1 + 4 + 8,
            // zero, namespace, flags, selector
            OpCode::Delete => 4 + 1 + 4 + 5,
            // zero, count
            OpCode::KillCursors => 4 + 4,
            // original opcode, uncompressed size, compressor id
            OpCode::Compressed => 4 + 4 + 1,
        }
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message header: four little-endian int32s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The total message length, header included.
    pub message_length: i32,
    /// The sender's id for this message.
    pub request_id: i32,
    /// For a reply, the `request_id` of the message it answers; 0 for a
    /// request.
    pub response_to: i32,
    /// The opcode's wire value (see [`op_code`](Self::op_code)).
    pub op_code: i32,
}

impl Header {
    /// Reads a header from the first 16 bytes of `buf`, or `None` if fewer
    /// are there. Nothing is checked here; see
    /// [`Limits`](super::Limits) and the decoders.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let b = buf.get(..HEADER_LEN)?;
        let field = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Header {
            message_length: field(0),
            request_id: field(4),
            response_to: field(8),
            op_code: field(12),
        })
    }

    /// The opcode, if MongoDB defines it.
    pub const fn op_code(&self) -> Option<OpCode> {
        OpCode::from_i32(self.op_code)
    }

    /// The header's 16 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.message_length.to_le_bytes());
        out[4..8].copy_from_slice(&self.request_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.response_to.to_le_bytes());
        out[12..16].copy_from_slice(&self.op_code.to_le_bytes());
        out
    }
}
