//! OP_MSG: flag bits, sections (kind 0 body, kind 1 document sequences)
//! and the optional CRC-32C checksum.

use super::bson::Document;
use super::wire::{DocumentIter, Reader};
use super::{HEADER_LEN, Header, Limits, Message, MongoError, MongoErrorKind, OpCode};

/// OP_MSG flag bits.
///
/// Bits 0-15 are required: a receiver that does not know a set bit must
/// reject the message. Bits 16-31 are optional and ignored when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MsgFlags(pub u32);

impl MsgFlags {
    /// Bit 0: the message ends with a CRC-32C of everything before it.
    pub const CHECKSUM_PRESENT: MsgFlags = MsgFlags(1 << 0);
    /// Bit 1: the sender will send another message without waiting: on a
    /// request, no reply is expected (unacknowledged writes); on a reply,
    /// another reply follows (exhaust cursors, streaming `hello`).
    pub const MORE_TO_COME: MsgFlags = MsgFlags(1 << 1);
    /// Bit 16: the client accepts several replies to this request (an
    /// exhaust cursor's `getMore`, a streaming `hello`).
    pub const EXHAUST_ALLOWED: MsgFlags = MsgFlags(1 << 16);

    /// The required bits (0-15) this implementation understands.
    const KNOWN_REQUIRED: u32 = Self::CHECKSUM_PRESENT.0 | Self::MORE_TO_COME.0;
    /// Bits 0-15.
    const REQUIRED: u32 = 0xFFFF;

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether a checksum ends the message.
    pub const fn checksum_present(self) -> bool {
        self.contains(Self::CHECKSUM_PRESENT)
    }

    /// Whether another message follows without a request for it.
    pub const fn more_to_come(self) -> bool {
        self.contains(Self::MORE_TO_COME)
    }

    /// Whether the client accepts several replies.
    pub const fn exhaust_allowed(self) -> bool {
        self.contains(Self::EXHAUST_ALLOWED)
    }

    /// Required bits set that this implementation does not know.
    pub const fn unknown_required(self) -> u32 {
        self.0 & Self::REQUIRED & !Self::KNOWN_REQUIRED
    }
}

impl std::ops::BitOr for MsgFlags {
    type Output = MsgFlags;
    fn bitor(self, rhs: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | rhs.0)
    }
}

/// The kind byte of a body section.
pub const SECTION_BODY: u8 = 0;
/// The kind byte of a document sequence section.
pub const SECTION_SEQUENCE: u8 = 1;

/// The smallest kind 1 section after its kind byte: the size and an
/// identifier's NUL.
const MIN_SEQUENCE_LEN: usize = 4 + 1;

/// A parsed OP_MSG, borrowing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpMsg<'a> {
    flags: MsgFlags,
    body: Document<'a>,
    /// The section bytes, from the first kind byte to the checksum.
    sections: &'a [u8],
    checksum: Option<u32>,
}

impl<'a> OpMsg<'a> {
    /// Parses the OP_MSG in `msg` (the whole message, header included,
    /// its length already checked against the header): flag bits,
    /// sections, exactly one body, and the checksum when present.
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut end = msg.len();
        let mut r = Reader::new(msg, HEADER_LEN, end, OpCode::Msg, limits);
        let flags = MsgFlags(r.u32("flag bits")?);
        if flags.unknown_required() != 0 {
            return Err(MongoErrorKind::UnknownRequiredFlags { flags: flags.0 });
        }
        let checksum = if flags.checksum_present() {
            if end < HEADER_LEN + 4 + 4 {
                return Err(r.malformed("checksum", end));
            }
            end -= 4;
            let found = u32::from_le_bytes([msg[end], msg[end + 1], msg[end + 2], msg[end + 3]]);
            let computed = crc32c::crc32c(&msg[..end]);
            if found != computed {
                return Err(MongoErrorKind::ChecksumMismatch { found, computed });
            }
            Some(found)
        } else {
            None
        };
        let sections_start = r.pos();
        let mut r = Reader::new(msg, sections_start, end, OpCode::Msg, limits);
        let mut body = None;
        let mut bodies = 0;
        while r.remaining() > 0 {
            let at = r.pos();
            match r.u8("section kind")? {
                SECTION_BODY => {
                    body = Some(r.document("body")?);
                    bodies += 1;
                }
                SECTION_SEQUENCE => {
                    let size = r.i32("document sequence size")?;
                    let seq_end = usize::try_from(size)
                        .ok()
                        .filter(|&s| s >= MIN_SEQUENCE_LEN && s - 4 <= r.remaining())
                        .map(|s| at + 1 + s)
                        .ok_or_else(|| r.malformed("document sequence size", at + 1))?;
                    let mut seq = Reader::new(msg, r.pos(), seq_end, OpCode::Msg, limits);
                    seq.cstr("document sequence identifier")?;
                    seq.documents("document sequence")?;
                    r = Reader::new(msg, seq_end, end, OpCode::Msg, limits);
                }
                kind => return Err(MongoErrorKind::UnknownSectionKind { kind, offset: at }),
            }
        }
        match body {
            Some(body) if bodies == 1 => Ok(OpMsg {
                flags,
                body,
                sections: &msg[sections_start..end],
                checksum,
            }),
            _ => Err(MongoErrorKind::BodySections { count: bodies }),
        }
    }

    /// The flag bits.
    pub const fn flags(&self) -> MsgFlags {
        self.flags
    }

    /// The body (the kind 0 section): the command or reply document.
    pub const fn body(&self) -> Document<'a> {
        self.body
    }

    /// The checksum, when the message carries one (it was verified).
    pub const fn checksum(&self) -> Option<u32> {
        self.checksum
    }

    /// The sections in wire order.
    pub fn sections(&self) -> Sections<'a> {
        Sections {
            rest: self.sections,
        }
    }

    /// The document sequences (kind 1 sections) in wire order.
    pub fn sequences(&self) -> impl Iterator<Item = DocumentSequence<'a>> + 'a {
        self.sections().filter_map(|s| match s {
            Section::Sequence(seq) => Some(seq),
            Section::Body(_) => None,
        })
    }
}

/// One OP_MSG section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section<'a> {
    /// Kind 0: the body document.
    Body(Document<'a>),
    /// Kind 1: a named sequence of documents (`documents` of an insert,
    /// `updates`, `deletes`), which drivers send outside the body so the
    /// body stays small.
    Sequence(DocumentSequence<'a>),
}

/// A kind 1 section: an identifier and the documents that belong to the
/// body's field of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSequence<'a> {
    identifier: &'a str,
    documents: &'a [u8],
}

impl<'a> DocumentSequence<'a> {
    /// The name of the body field the documents belong to.
    pub const fn identifier(&self) -> &'a str {
        self.identifier
    }

    /// The documents.
    pub fn documents(&self) -> DocumentIter<'a> {
        DocumentIter::new(self.documents)
    }

    /// The documents' bytes, concatenated.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.documents
    }
}

/// The sections of a parsed OP_MSG, in wire order.
#[derive(Debug, Clone)]
pub struct Sections<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Sections<'a> {
    type Item = Section<'a>;

    fn next(&mut self) -> Option<Section<'a>> {
        // The structure was checked by `OpMsg::parse`; anything unexpected
        // here cannot happen and ends the iteration.
        let (&kind, rest) = self.rest.split_first()?;
        let parsed = match kind {
            SECTION_BODY => Document::from_prefix(rest)
                .ok()
                .map(|d| (Section::Body(d), d.as_bytes().len())),
            SECTION_SEQUENCE => sequence(rest),
            _ => None,
        };
        match parsed {
            Some((section, len)) => {
                self.rest = &rest[len..];
                Some(section)
            }
            None => {
                self.rest = &[];
                None
            }
        }
    }
}

fn sequence(rest: &[u8]) -> Option<(Section<'_>, usize)> {
    let size = usize::try_from(super::bson::read_i32(rest, 0)?).ok()?;
    let body = rest.get(4..size)?;
    let nul = memchr::memchr(0, body)?;
    let identifier = std::str::from_utf8(&body[..nul]).ok()?;
    Some((
        Section::Sequence(DocumentSequence {
            identifier,
            documents: &body[nul + 1..],
        }),
        size,
    ))
}

/// Builds an OP_MSG: sections in the order they are added, and an
/// optional checksum.
///
/// ```
/// use mesh_codecs::mongo::bson::{DocumentBuf, Value};
/// use mesh_codecs::mongo::{MsgFlags, Op, OpMsgBuilder};
///
/// let mut body = DocumentBuf::new();
/// body.append("insert", Value::String("users"))?.append("$db", Value::String("app"))?;
/// let mut doc = DocumentBuf::new();
/// doc.append("_id", Value::Int32(1))?;
/// let msg = OpMsgBuilder::new(7, 0)
///     .flags(MsgFlags::CHECKSUM_PRESENT)
///     .body(body.as_document())
///     .sequence("documents", [doc.as_document()])
///     .build()?;
/// let Op::Msg(op) = msg.op()? else { unreachable!() };
/// assert_eq!(op.sequences().next().unwrap().documents().count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpMsgBuilder<'a> {
    request_id: i32,
    response_to: i32,
    flags: MsgFlags,
    sections: Vec<Section<'a>>,
    sequence_docs: Vec<Vec<Document<'a>>>,
}

impl<'a> OpMsgBuilder<'a> {
    /// A message with these ids and no sections yet.
    pub fn new(request_id: i32, response_to: i32) -> Self {
        OpMsgBuilder {
            request_id,
            response_to,
            flags: MsgFlags::default(),
            sections: Vec::new(),
            sequence_docs: Vec::new(),
        }
    }

    /// Sets the flag bits (the checksum is written when
    /// [`MsgFlags::CHECKSUM_PRESENT`] is among them).
    pub fn flags(mut self, flags: MsgFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Adds the body section.
    pub fn body(mut self, body: Document<'a>) -> Self {
        self.sections.push(Section::Body(body));
        self
    }

    /// Adds a document sequence section.
    pub fn sequence(
        mut self,
        identifier: &'a str,
        documents: impl IntoIterator<Item = Document<'a>>,
    ) -> Self {
        self.sections.push(Section::Sequence(DocumentSequence {
            identifier,
            documents: &[],
        }));
        self.sequence_docs.push(documents.into_iter().collect());
        self
    }

    /// The message. Fails when there is not exactly one body, an
    /// identifier holds a NUL byte, or a length passes i32.
    pub fn build(self) -> Result<Message, MongoError> {
        let bodies = self
            .sections
            .iter()
            .filter(|s| matches!(s, Section::Body(_)))
            .count();
        if bodies != 1 {
            return Err(MongoErrorKind::BodySections { count: bodies }.into());
        }
        let too_large = |len| MongoErrorKind::TooLarge {
            length: len as i64,
            limit: i32::MAX as usize,
        };
        let mut out = vec![0u8; HEADER_LEN];
        out.extend_from_slice(&self.flags.bits().to_le_bytes());
        let mut seqs = self.sequence_docs.iter();
        for section in &self.sections {
            match section {
                Section::Body(doc) => {
                    out.push(SECTION_BODY);
                    out.extend_from_slice(doc.as_bytes());
                }
                Section::Sequence(seq) => {
                    if seq.identifier.as_bytes().contains(&0) {
                        return Err(MongoErrorKind::Malformed {
                            op: OpCode::Msg,
                            what: "document sequence identifier contains NUL",
                            offset: out.len(),
                        }
                        .into());
                    }
                    out.push(SECTION_SEQUENCE);
                    let size_at = out.len();
                    out.extend_from_slice(&[0; 4]);
                    out.extend_from_slice(seq.identifier.as_bytes());
                    out.push(0);
                    for doc in seqs.next().into_iter().flatten() {
                        out.extend_from_slice(doc.as_bytes());
                    }
                    let size = i32::try_from(out.len() - size_at)
                        .map_err(|_| too_large(out.len() - size_at))?;
                    out[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
                }
            }
        }
        let total = out.len() + if self.flags.checksum_present() { 4 } else { 0 };
        let header = Header {
            message_length: i32::try_from(total).map_err(|_| too_large(total))?,
            request_id: self.request_id,
            response_to: self.response_to,
            op_code: OpCode::Msg.as_i32(),
        };
        out[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        if self.flags.checksum_present() {
            let crc = crc32c::crc32c(&out);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        Ok(Message::from_trusted(header, OpCode::Msg, out.into()))
    }
}
