//! What an observer wants to know about a message, read in one pass over
//! the command or reply document, and request/reply pairing.

use std::collections::VecDeque;

use super::bson::{Binary, BsonError, Document, Value};
use super::legacy::{REPLY_QUERY_FAILURE, split_namespace};
use super::{Compressor, Header, MongoError, MongoErrorKind, Op, OpCode};

/// Whether a message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A request: OP_MSG with `responseTo` 0, and the legacy client
    /// opcodes.
    Request,
    /// A reply: OP_REPLY, and OP_MSG with a `responseTo`.
    Reply,
}

/// A message summary for logs, metrics and routing: the operation, the
/// namespace, the session, sizes, counts and, for replies, the outcome.
///
/// Requests: `command` is the body's first key; `collection` is that
/// key's value for commands that name a collection there (`find`,
/// `insert`, `aggregate`, ...) or the `collection` field of `getMore`;
/// `database` is `$db` (or the legacy namespace). `documents` counts the
/// documents the message carries: OP_MSG document sequences plus the
/// `documents`/`updates`/`deletes` array of the body, OP_INSERT's
/// documents, one statement for OP_UPDATE and OP_DELETE.
///
/// Replies: `reply` holds `ok`, `errmsg`, `code`, ...; `cursor_id`,
/// `database` and `collection` come from `cursor.id` and `cursor.ns`;
/// `documents` counts `cursor.firstBatch` or `cursor.nextBatch` (or the
/// documents of an OP_REPLY). A reply does not name its command: pair it
/// with its request ([`Pairing`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary<'a> {
    /// The opcode (the original one, for a message that came compressed).
    pub op: OpCode,
    /// Request or reply.
    pub direction: Direction,
    /// The header's request id.
    pub request_id: i32,
    /// The header's `responseTo`.
    pub response_to: i32,
    /// The message length, decompressed.
    pub message_len: usize,
    /// The length on the wire (smaller when compressed).
    pub wire_len: usize,
    /// The compressor, when the message came compressed.
    pub compressor: Option<Compressor>,
    /// OP_MSG `moreToCome`: no reply follows this request, or another reply
    /// follows this reply.
    pub more_to_come: bool,
    /// OP_MSG `exhaustAllowed`.
    pub exhaust_allowed: bool,
    /// OP_MSG `checksumPresent` (the checksum was verified).
    pub checksum: bool,
    /// The command name (the first key of the command document).
    pub command: Option<&'a str>,
    /// The database.
    pub database: Option<&'a str>,
    /// The collection.
    pub collection: Option<&'a str>,
    /// `lsid.id`: the logical session (a UUID).
    pub session_id: Option<Binary<'a>>,
    /// `txnNumber`: the transaction within the session.
    pub txn_number: Option<i64>,
    /// `$readPreference.mode`.
    pub read_preference: Option<&'a str>,
    /// `comment`, which can be any value.
    pub comment: Option<Value<'a>>,
    /// The cursor: `getMore`'s, OP_GET_MORE's, a reply's `cursor.id` or
    /// OP_REPLY's `cursorID`.
    pub cursor_id: Option<i64>,
    /// How many documents the message carries (see the type docs).
    pub documents: usize,
    /// A reply's outcome.
    pub reply: Option<ReplyStatus<'a>>,
}

/// The outcome fields of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct ReplyStatus<'a> {
    /// `ok` (sent as a double, an integer or a boolean).
    pub ok: Option<bool>,
    /// `errmsg` (or a legacy query failure's `$err`).
    pub errmsg: Option<&'a str>,
    /// `code`.
    pub code: Option<i32>,
    /// `codeName`.
    pub code_name: Option<&'a str>,
    /// `n`: documents matched, inserted or deleted.
    pub n: Option<i64>,
    /// How many `writeErrors` there are.
    pub write_errors: usize,
    /// Whether a `writeConcernError` is present.
    pub write_concern_error: bool,
}

impl ReplyStatus<'_> {
    /// Whether the reply reports a failure: `ok` false, write errors, or a
    /// write concern error.
    pub fn is_error(&self) -> bool {
        self.ok == Some(false) || self.write_errors > 0 || self.write_concern_error
    }
}

/// Commands whose first value is the collection they act on.
const COLLECTION_COMMANDS: &[&str] = &[
    "find",
    "insert",
    "update",
    "delete",
    "aggregate",
    "count",
    "distinct",
    "findAndModify",
    "findandmodify",
    "create",
    "drop",
    "createIndexes",
    "dropIndexes",
    "listIndexes",
    "killCursors",
    "collMod",
    "collStats",
    "validate",
    "compact",
    "mapReduce",
    "createSearchIndexes",
    "dropSearchIndex",
    "updateSearchIndex",
];

/// The body field whose array (or document sequence) holds a write
/// command's statements.
fn payload_field(command: &str) -> Option<&'static str> {
    match command {
        "insert" => Some("documents"),
        "update" => Some("updates"),
        "delete" => Some("deletes"),
        _ => None,
    }
}

impl<'a> Summary<'a> {
    /// Summarises a parsed message. Only the fields named above are read,
    /// each checked as it is read (which matters under
    /// [`Validation::Frame`](super::Validation::Frame)); the command
    /// document is walked once, whatever the number of fields.
    pub fn from_op(header: &Header, op: &Op<'a>) -> Result<Summary<'a>, MongoError> {
        let (code, direction) = match op {
            Op::Msg(_) if header.response_to != 0 => (OpCode::Msg, Direction::Reply),
            Op::Msg(_) => (OpCode::Msg, Direction::Request),
            Op::Query(_) => (OpCode::Query, Direction::Request),
            Op::Reply(_) => (OpCode::Reply, Direction::Reply),
            Op::Insert(_) => (OpCode::Insert, Direction::Request),
            Op::Update(_) => (OpCode::Update, Direction::Request),
            Op::Delete(_) => (OpCode::Delete, Direction::Request),
            Op::GetMore(_) => (OpCode::GetMore, Direction::Request),
            Op::KillCursors(_) => (OpCode::KillCursors, Direction::Request),
            Op::Compressed(_) => (OpCode::Compressed, Direction::Request),
        };
        let len = usize::try_from(header.message_length).unwrap_or(0);
        let mut s = Summary {
            op: code,
            direction,
            request_id: header.request_id,
            response_to: header.response_to,
            message_len: len,
            wire_len: len,
            compressor: None,
            more_to_come: false,
            exhaust_allowed: false,
            checksum: false,
            command: None,
            database: None,
            collection: None,
            session_id: None,
            txn_number: None,
            read_preference: None,
            comment: None,
            cursor_id: None,
            documents: 0,
            reply: None,
        };
        s.read(op).map_err(|source| {
            MongoError::from(MongoErrorKind::Bson {
                op: code,
                what: "summarised",
                offset: 0,
                source,
            })
        })?;
        Ok(s)
    }

    fn read(&mut self, op: &Op<'a>) -> Result<(), BsonError> {
        match op {
            Op::Msg(m) => {
                let flags = m.flags();
                self.more_to_come = flags.more_to_come();
                self.exhaust_allowed = flags.exhaust_allowed();
                self.checksum = flags.checksum_present();
                for seq in m.sequences() {
                    self.documents += seq.documents().count();
                }
                match self.direction {
                    Direction::Request => self.read_command(m.body())?,
                    Direction::Reply => self.read_reply(m.body())?,
                }
            }
            Op::Query(q) => {
                let (db, coll) = split_namespace(q.full_collection_name);
                self.database = Some(db);
                if coll == Some("$cmd") {
                    // Old drivers wrap commands that carry a read
                    // preference: {$query: {...}, $readPreference: {...}}.
                    match q.query.get("$query")? {
                        Some(Value::Document(inner)) => {
                            self.read_command(inner)?;
                            self.read_command_fields(q.query)?;
                        }
                        _ => self.read_command(q.query)?,
                    }
                    self.database = Some(db);
                } else {
                    self.collection = coll;
                }
            }
            Op::Reply(r) => {
                self.cursor_id = Some(r.cursor_id);
                self.documents = usize::try_from(r.number_returned).unwrap_or(0);
                let mut docs = r.documents();
                let mut status = ReplyStatus::default();
                if let (Some(doc), None) = (docs.next(), docs.next()) {
                    if r.response_flags & REPLY_QUERY_FAILURE != 0 {
                        status.ok = Some(false);
                        status.errmsg = doc.get("$err")?.and_then(|v| v.as_str());
                        status.code = doc
                            .get("code")?
                            .and_then(|v| v.as_integer())
                            .map(|c| c as i32);
                    } else if doc.get_element("ok")?.is_some() {
                        self.read_reply(doc)?;
                        // The legacy handshake reply has no cursor.
                        self.cursor_id = Some(r.cursor_id);
                        self.documents = 1;
                        return Ok(());
                    }
                }
                self.reply = Some(status);
            }
            Op::Insert(i) => {
                self.namespace(i.full_collection_name);
                self.documents = i.count();
            }
            Op::Update(u) => {
                self.namespace(u.full_collection_name);
                self.documents = 1;
            }
            Op::Delete(d) => {
                self.namespace(d.full_collection_name);
                self.documents = 1;
            }
            Op::GetMore(g) => {
                self.namespace(g.full_collection_name);
                self.cursor_id = Some(g.cursor_id);
            }
            Op::KillCursors(_) | Op::Compressed(_) => {}
        }
        Ok(())
    }

    fn namespace(&mut self, ns: &'a str) {
        let (db, coll) = split_namespace(ns);
        self.database = Some(db);
        self.collection = coll;
    }

    /// A command document: its first key, then the fields of interest.
    fn read_command(&mut self, body: Document<'a>) -> Result<(), BsonError> {
        let Some(first) = body.first()? else {
            return Ok(());
        };
        let command = first.key();
        self.command = Some(command);
        if command == "getMore" {
            self.cursor_id = first.value()?.as_integer();
        } else if COLLECTION_COMMANDS.contains(&command) {
            self.collection = first.value()?.as_str();
        }
        self.read_command_fields(body)
    }

    /// The fields of interest of a command document, in one pass.
    fn read_command_fields(&mut self, body: Document<'a>) -> Result<(), BsonError> {
        let command = self.command.unwrap_or("");
        let payload = payload_field(command);
        for el in body.iter().skip(usize::from(self.command.is_some())) {
            let el = el?;
            match el.key_bytes() {
                b"$db" => self.database = el.value()?.as_str(),
                b"lsid" => {
                    if let Some(lsid) = el.value()?.as_document() {
                        self.session_id = lsid.get("id")?.and_then(|v| v.as_binary());
                    }
                }
                b"txnNumber" => self.txn_number = el.value()?.as_integer(),
                b"$readPreference" => {
                    if let Some(rp) = el.value()?.as_document() {
                        self.read_preference = rp.get("mode")?.and_then(|v| v.as_str());
                    }
                }
                b"comment" => self.comment = Some(el.value()?),
                b"collection" if command == "getMore" => self.collection = el.value()?.as_str(),
                key if payload.map(str::as_bytes) == Some(key) => {
                    if let Some(a) = el.value()?.as_array() {
                        self.documents += a.count()?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A reply document, in one pass.
    fn read_reply(&mut self, body: Document<'a>) -> Result<(), BsonError> {
        let mut r = ReplyStatus::default();
        for el in body.iter() {
            let el = el?;
            match el.key_bytes() {
                b"ok" => r.ok = el.value()?.is_truthy(),
                b"errmsg" | b"$err" => r.errmsg = el.value()?.as_str(),
                b"code" => r.code = el.value()?.as_integer().map(|c| c as i32),
                b"codeName" => r.code_name = el.value()?.as_str(),
                b"n" => r.n = el.value()?.as_integer(),
                b"writeErrors" => {
                    if let Some(a) = el.value()?.as_array() {
                        r.write_errors = a.count()?;
                    }
                }
                b"writeConcernError" => r.write_concern_error = true,
                b"cursor" => {
                    if let Some(cursor) = el.value()?.as_document() {
                        self.read_cursor(cursor)?;
                    }
                }
                _ => {}
            }
        }
        self.reply = Some(r);
        Ok(())
    }

    fn read_cursor(&mut self, cursor: Document<'a>) -> Result<(), BsonError> {
        for el in cursor.iter() {
            let el = el?;
            match el.key_bytes() {
                b"id" => self.cursor_id = el.value()?.as_integer(),
                b"ns" => {
                    if let Some(ns) = el.value()?.as_str() {
                        self.namespace(ns);
                    }
                }
                b"firstBatch" | b"nextBatch" => {
                    if let Some(a) = el.value()?.as_array() {
                        self.documents += a.count()?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether the server answers this message: not for replies, OP_MSG
    /// requests with `moreToCome` (unacknowledged writes), or the legacy
    /// writes and OP_KILL_CURSORS.
    pub fn expects_reply(&self) -> bool {
        self.direction == Direction::Request
            && !self.more_to_come
            && matches!(
                self.op,
                OpCode::Msg | OpCode::Query | OpCode::GetMore | OpCode::Compressed
            )
    }
}

/// Pairs replies with the requests they answer, by `responseTo`.
///
/// Drivers do not pipeline on a connection, so few requests are ever
/// pending; the list is short, searched linearly, and bounded (the oldest
/// entry goes when it is full, which only a misbehaving peer causes). An
/// exhaust stream (replies with `moreToCome`) answers each reply's id
/// with the next reply, so such a reply keeps the request pending under
/// its own id.
#[derive(Debug, Clone)]
pub struct Pairing<T> {
    pending: VecDeque<(i32, T)>,
    capacity: usize,
    evicted: u64,
}

impl<T: Clone> Pairing<T> {
    /// A pairing that keeps at most `capacity` pending requests.
    pub fn new(capacity: usize) -> Self {
        Pairing {
            pending: VecDeque::with_capacity(capacity.min(64)),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    /// Records a request that expects a reply ([`Summary::expects_reply`]).
    pub fn request(&mut self, request_id: i32, value: T) {
        if self.pending.len() == self.capacity {
            self.pending.pop_front();
            self.evicted += 1;
        }
        self.pending.push_back((request_id, value));
    }

    /// The request a reply answers, if it is pending. A reply with
    /// `more_to_come` keeps it pending for the next reply of the stream.
    pub fn reply(&mut self, response_to: i32, request_id: i32, more_to_come: bool) -> Option<T> {
        let i = self.pending.iter().position(|(id, _)| *id == response_to)?;
        let (_, value) = self.pending.remove(i)?;
        if more_to_come {
            self.request(request_id, value.clone());
        }
        Some(value)
    }

    /// Requests waiting for a reply.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Requests dropped because the list was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}
