//! Arrays: documents whose keys are ignored.

use std::fmt;

use super::{BsonError, Document, Iter, Value};

/// A BSON array borrowed from a buffer: a document whose keys ("0", "1",
/// ...) readers ignore. Read lazily like [`Document`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Array<'a> {
    doc: Document<'a>,
}

impl<'a> Array<'a> {
    /// The array in `bytes`, which must be exactly one array document.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BsonError> {
        Document::new(bytes).map(Self::from_document)
    }

    /// Reads a document as an array.
    pub const fn from_document(doc: Document<'a>) -> Self {
        Array { doc }
    }

    /// The array as the document it is on the wire.
    pub const fn as_document(&self) -> Document<'a> {
        self.doc
    }

    /// The array's bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.doc.as_bytes()
    }

    /// Whether the array has no elements.
    pub const fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }

    /// The values in order, each checked as it is read.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            inner: self.doc.iter(),
        }
    }

    /// The number of elements, checking each element's frame (not the
    /// values inside). Linear: BSON arrays do not store their length.
    pub fn count(&self) -> Result<usize, BsonError> {
        let mut n = 0;
        for el in self.doc.iter() {
            el?;
            n += 1;
        }
        Ok(n)
    }

    /// The value at `index` (by position, not by key).
    pub fn get(&self, index: usize) -> Result<Option<Value<'a>>, BsonError> {
        match self.doc.iter().nth(index) {
            Some(el) => el?.value().map(Some),
            None => Ok(None),
        }
    }
}

impl fmt::Debug for Array<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for v in self.iter() {
            match v {
                Ok(v) => list.entry(&v),
                Err(e) => list.entry(&e),
            };
        }
        list.finish()
    }
}

/// The values of an array, in order.
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    inner: Iter<'a>,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Result<Value<'a>, BsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|el| el.and_then(|el| el.value()))
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Result<Value<'a>, BsonError>;
    type IntoIter = ArrayIter<'a>;

    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}
