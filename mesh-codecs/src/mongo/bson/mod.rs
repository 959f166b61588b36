//! A zero-copy, validating, lazy BSON reader (and a small writer).
//!
//! [`Document`] and [`Array`] borrow the bytes they read; [`Element`]s are
//! found by walking the length prefixes, and each is checked as it is
//! reached: the type byte, the key (a UTF-8 C string), and that the value's
//! length fits. A [`Value`] is converted only when asked for, and then
//! checked as its type requires (UTF-8 strings, 0/1 booleans, the inner
//! lengths of old binary and code with scope). [`Document::validate`]
//! checks everything, nested documents included, to a depth limit, without
//! recursion. Nothing allocates.
//!
//! ```
//! use mesh_codecs::mongo::bson::{Document, DocumentBuf, Value};
//!
//! let mut buf = DocumentBuf::new();
//! buf.append("find", Value::String("users"))?.append("$db", Value::String("app"))?;
//! let doc = Document::new(buf.as_bytes())?;
//! doc.validate(100)?;
//! let first = doc.first()?.expect("one element");
//! assert_eq!((first.key(), first.value()?.as_str()), ("find", Some("users")));
//! assert_eq!(doc.get_str("$db")?, Some("app"));
//! # Ok::<(), mesh_codecs::mongo::bson::BsonError>(())
//! ```

mod array;
mod document;
mod error;
mod value;
mod writer;

pub use array::{Array, ArrayIter};
pub use document::{Document, Element, Iter, MAX_DEPTH_CAP, MIN_DOCUMENT_LEN};
pub use error::BsonError;
pub use value::{
    Binary, CodeWithScope, DbPointer, Decimal128, ElementType, ObjectId, Regex, Timestamp, Value,
};
pub use writer::{ArrayBuf, DocumentBuf};

pub(crate) use document::read_i32;
