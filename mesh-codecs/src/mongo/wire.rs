//! A cursor over one complete message for the opcode parsers: every read
//! is bounds-checked and fails with the field's name and offset.

use super::bson::Document;
use super::{Limits, MongoErrorKind, OpCode, Validation};

pub(crate) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
    op: OpCode,
    limits: &'a Limits,
}

impl<'a> Reader<'a> {
    /// A reader of `msg[pos..end]`.
    pub(crate) fn new(
        msg: &'a [u8],
        pos: usize,
        end: usize,
        op: OpCode,
        limits: &'a Limits,
    ) -> Self {
        Reader {
            msg,
            pos,
            end,
            op,
            limits,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn malformed(&self, what: &'static str, offset: usize) -> MongoErrorKind {
        MongoErrorKind::Malformed {
            op: self.op,
            what,
            offset,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MongoErrorKind> {
        if n > self.remaining() {
            return Err(self.malformed(what, self.pos));
        }
        let s = &self.msg[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, MongoErrorKind> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, MongoErrorKind> {
        let s = self.take(4, what)?;
        Ok(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, MongoErrorKind> {
        self.i32(what).map(|v| v as u32)
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, MongoErrorKind> {
        let s = self.take(8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(i64::from_le_bytes(b))
    }

    /// A NUL-terminated UTF-8 string (namespaces, sequence identifiers).
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<&'a str, MongoErrorKind> {
        let at = self.pos;
        let region = &self.msg[self.pos..self.end];
        let Some(n) = memchr::memchr(0, region) else {
            return Err(self.malformed(what, at));
        };
        let s = std::str::from_utf8(&region[..n]).map_err(|_| self.malformed(what, at))?;
        self.pos += n + 1;
        Ok(s)
    }

    /// One document, its frame checked and, under [`Validation::Full`],
    /// its contents to the depth limit.
    pub(crate) fn document(&mut self, what: &'static str) -> Result<Document<'a>, MongoErrorKind> {
        let at = self.pos;
        let doc = Document::from_prefix(&self.msg[at..self.end]).map_err(|source| {
            MongoErrorKind::Bson {
                op: self.op,
                what,
                offset: at,
                source,
            }
        })?;
        if self.limits.validation == Validation::Full {
            doc.validate(self.limits.max_bson_depth)
                .map_err(|source| MongoErrorKind::Bson {
                    op: self.op,
                    what,
                    offset: at,
                    source,
                })?;
        }
        self.pos += doc.as_bytes().len();
        Ok(doc)
    }

    /// Documents up to the end of the reader; returns their bytes and
    /// how many there are.
    pub(crate) fn documents(
        &mut self,
        what: &'static str,
    ) -> Result<(&'a [u8], usize), MongoErrorKind> {
        let start = self.pos;
        let mut n = 0;
        while self.remaining() > 0 {
            self.document(what)?;
            n += 1;
        }
        Ok((&self.msg[start..self.end], n))
    }

    /// Fails if bytes are left over.
    pub(crate) fn finish(&self) -> Result<(), MongoErrorKind> {
        if self.remaining() > 0 {
            return Err(self.malformed("trailing bytes", self.pos));
        }
        Ok(())
    }
}

/// Concatenated documents whose frames a parser checked: a kind 1
/// section's documents, an OP_REPLY's or an OP_INSERT's.
#[derive(Debug, Clone)]
pub struct DocumentIter<'a> {
    rest: &'a [u8],
}

impl<'a> DocumentIter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        DocumentIter { rest: bytes }
    }
}

impl<'a> Iterator for DocumentIter<'a> {
    type Item = Document<'a>;

    fn next(&mut self) -> Option<Document<'a>> {
        // The frames were checked when the message was parsed; a failure
        // here cannot happen, and ends the iteration if it did.
        match Document::from_prefix(self.rest) {
            Ok(doc) => {
                self.rest = &self.rest[doc.as_bytes().len()..];
                Some(doc)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

impl std::iter::FusedIterator for DocumentIter<'_> {}
