//! Recognising a MongoDB client by its first message.

use mesh_core::{Detection, Protocol, Sniff};

use super::op_msg::{MsgFlags, SECTION_BODY, SECTION_SEQUENCE};
use super::{HEADER_LEN, Header, Limits, OpCode};

/// Recognises a MongoDB client from the header of its first message: a
/// length no smaller than its opcode needs and no larger than the message
/// size limit, `responseTo` 0 (a request), and an opcode clients send
/// (anything but OP_REPLY). For OP_MSG, the flag bits and first section
/// kind must be valid too (5 more bytes), which rules out the rare
/// binary protocol whose first 16 bytes happen to pass.
///
/// Text protocols never match: their first four bytes, read as a
/// little-endian length, are far above the limit ("GET " is 542,393,671).
#[derive(Debug, Clone, Copy)]
pub struct MongoSniffer {
    max_message_size: usize,
}

impl MongoSniffer {
    /// A sniffer that accepts messages up to the limits' message size.
    pub fn new(limits: &Limits) -> Self {
        MongoSniffer {
            max_message_size: limits.max_message_size,
        }
    }
}

impl Default for MongoSniffer {
    fn default() -> Self {
        Self::new(&Limits::default())
    }
}

impl Sniff for MongoSniffer {
    fn protocol(&self) -> Protocol {
        Protocol::Mongo
    }

    fn sniff(&self, prefix: &[u8]) -> Detection {
        // Judge the length as soon as it is there, so text protocols are
        // turned away after four bytes.
        if let Some(len) = prefix.get(..4) {
            let len = i32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            if len < 0 || len as usize > self.max_message_size || (len as usize) < HEADER_LEN + 5 {
                return Detection::NoMatch;
            }
        }
        let Some(header) = Header::parse(prefix) else {
            return Detection::NeedMore;
        };
        let Some(op) = header.op_code() else {
            return Detection::NoMatch;
        };
        let len = header.message_length as usize;
        if header.response_to != 0 || !op.is_client_op() || len < HEADER_LEN + op.min_body_len() {
            return Detection::NoMatch;
        }
        if op != OpCode::Msg {
            return Detection::Match(Protocol::Mongo);
        }
        let Some(rest) = prefix.get(HEADER_LEN..HEADER_LEN + 5) else {
            return Detection::NeedMore;
        };
        let flags = MsgFlags(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
        if flags.unknown_required() != 0 || !matches!(rest[4], SECTION_BODY | SECTION_SEQUENCE) {
            return Detection::NoMatch;
        }
        Detection::Match(Protocol::Mongo)
    }
}
