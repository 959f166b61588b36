//! The legacy opcodes: OP_QUERY and OP_REPLY (still used for a driver's
//! first handshake), and OP_INSERT, OP_UPDATE, OP_DELETE, OP_GET_MORE and
//! OP_KILL_CURSORS (removed in MongoDB 6.0, still seen from old clients).

use super::bson::Document;
use super::wire::{DocumentIter, Reader};
use super::{HEADER_LEN, Limits, MongoErrorKind, OpCode};

/// OP_REPLY's `QueryFailure` response flag: the single document is an
/// error (`$err`, `code`).
pub const REPLY_QUERY_FAILURE: i32 = 1 << 1;
/// OP_REPLY's `CursorNotFound` response flag.
pub const REPLY_CURSOR_NOT_FOUND: i32 = 1 << 0;

/// Splits a legacy `db.collection` namespace at its first dot. A
/// namespace without a dot is all database.
pub fn split_namespace(ns: &str) -> (&str, Option<&str>) {
    match ns.split_once('.') {
        Some((db, coll)) => (db, Some(coll)),
        None => (ns, None),
    }
}

fn reader<'a>(msg: &'a [u8], op: OpCode, limits: &'a Limits) -> Reader<'a> {
    Reader::new(msg, HEADER_LEN, msg.len(), op, limits)
}

/// OP_QUERY (2004).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpQuery<'a> {
    /// Query flags (tailable, secondaryOk, exhaust, ...).
    pub flags: i32,
    /// `db.collection`; commands go to `db.$cmd`.
    pub full_collection_name: &'a str,
    /// Documents to skip.
    pub number_to_skip: i32,
    /// Documents to return in the first batch.
    pub number_to_return: i32,
    /// The query (or command) document.
    pub query: Document<'a>,
    /// The projection, when present.
    pub return_fields_selector: Option<Document<'a>>,
}

impl<'a> OpQuery<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::Query, limits);
        let q = OpQuery {
            flags: r.i32("flags")?,
            full_collection_name: r.cstr("fullCollectionName")?,
            number_to_skip: r.i32("numberToSkip")?,
            number_to_return: r.i32("numberToReturn")?,
            query: r.document("query")?,
            return_fields_selector: if r.remaining() > 0 {
                Some(r.document("returnFieldsSelector")?)
            } else {
                None
            },
        };
        r.finish()?;
        Ok(q)
    }
}

/// OP_REPLY (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpReply<'a> {
    /// Response flags ([`REPLY_QUERY_FAILURE`], ...).
    pub response_flags: i32,
    /// The cursor to continue with OP_GET_MORE, 0 when exhausted.
    pub cursor_id: i64,
    /// Where in the cursor this batch starts.
    pub starting_from: i32,
    /// How many documents follow (checked against the documents).
    pub number_returned: i32,
    documents: &'a [u8],
}

impl<'a> OpReply<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::Reply, limits);
        let response_flags = r.i32("responseFlags")?;
        let cursor_id = r.i64("cursorID")?;
        let starting_from = r.i32("startingFrom")?;
        let at = r.pos();
        let number_returned = r.i32("numberReturned")?;
        let (documents, n) = r.documents("reply")?;
        if usize::try_from(number_returned) != Ok(n) {
            return Err(r.malformed("numberReturned differs from the documents", at));
        }
        Ok(OpReply {
            response_flags,
            cursor_id,
            starting_from,
            number_returned,
            documents,
        })
    }

    /// The returned documents.
    pub fn documents(&self) -> DocumentIter<'a> {
        DocumentIter::new(self.documents)
    }
}

/// OP_INSERT (2002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInsert<'a> {
    /// Insert flags (ContinueOnError).
    pub flags: i32,
    /// `db.collection`.
    pub full_collection_name: &'a str,
    documents: &'a [u8],
    count: usize,
}

impl<'a> OpInsert<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::Insert, limits);
        let flags = r.i32("flags")?;
        let full_collection_name = r.cstr("fullCollectionName")?;
        let (documents, count) = r.documents("inserted")?;
        Ok(OpInsert {
            flags,
            full_collection_name,
            documents,
            count,
        })
    }

    /// The documents to insert.
    pub fn documents(&self) -> DocumentIter<'a> {
        DocumentIter::new(self.documents)
    }

    /// How many documents there are.
    pub const fn count(&self) -> usize {
        self.count
    }
}

/// OP_UPDATE (2001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpUpdate<'a> {
    /// `db.collection`.
    pub full_collection_name: &'a str,
    /// Update flags (Upsert, MultiUpdate).
    pub flags: i32,
    /// Which documents.
    pub selector: Document<'a>,
    /// The update or replacement.
    pub update: Document<'a>,
}

impl<'a> OpUpdate<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::Update, limits);
        r.i32("ZERO")?;
        let u = OpUpdate {
            full_collection_name: r.cstr("fullCollectionName")?,
            flags: r.i32("flags")?,
            selector: r.document("selector")?,
            update: r.document("update")?,
        };
        r.finish()?;
        Ok(u)
    }
}

/// OP_DELETE (2006).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpDelete<'a> {
    /// `db.collection`.
    pub full_collection_name: &'a str,
    /// Delete flags (SingleRemove).
    pub flags: i32,
    /// Which documents.
    pub selector: Document<'a>,
}

impl<'a> OpDelete<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::Delete, limits);
        r.i32("ZERO")?;
        let d = OpDelete {
            full_collection_name: r.cstr("fullCollectionName")?,
            flags: r.i32("flags")?,
            selector: r.document("selector")?,
        };
        r.finish()?;
        Ok(d)
    }
}

/// OP_GET_MORE (2005).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpGetMore<'a> {
    /// `db.collection`.
    pub full_collection_name: &'a str,
    /// Documents to return.
    pub number_to_return: i32,
    /// The cursor.
    pub cursor_id: i64,
}

impl<'a> OpGetMore<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::GetMore, limits);
        r.i32("ZERO")?;
        let g = OpGetMore {
            full_collection_name: r.cstr("fullCollectionName")?,
            number_to_return: r.i32("numberToReturn")?,
            cursor_id: r.i64("cursorID")?,
        };
        r.finish()?;
        Ok(g)
    }
}

/// OP_KILL_CURSORS (2007).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpKillCursors<'a> {
    cursor_ids: &'a [u8],
}

impl<'a> OpKillCursors<'a> {
    pub(crate) fn parse(msg: &'a [u8], limits: &'a Limits) -> Result<Self, MongoErrorKind> {
        let mut r = reader(msg, OpCode::KillCursors, limits);
        r.i32("ZERO")?;
        let at = r.pos();
        let n = r.i32("numberOfCursorIDs")?;
        match usize::try_from(n) {
            Ok(n) if n.checked_mul(8) == Some(r.remaining()) => {}
            _ => return Err(r.malformed("numberOfCursorIDs differs from the ids", at)),
        }
        Ok(OpKillCursors {
            cursor_ids: &msg[r.pos()..],
        })
    }

    /// The cursors to kill.
    pub fn cursor_ids(&self) -> impl ExactSizeIterator<Item = i64> + 'a {
        self.cursor_ids.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        })
    }
}
