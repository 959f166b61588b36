//! BSON element types and the borrowed values read from them.

use super::{Array, Document};

/// The type byte of a BSON element (bsonspec.org, version 1.1).
///
/// Deprecated types (undefined, DBPointer, symbol, code with scope) are
/// still read: old data and old drivers send them, and a proxy that
/// rejected them would break clients the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ElementType {
    /// 64-bit IEEE 754 floating point.
    Double = 0x01,
    /// UTF-8 string.
    String = 0x02,
    /// Embedded document.
    Document = 0x03,
    /// Array (a document keyed "0", "1", ...).
    Array = 0x04,
    /// Binary data with a subtype.
    Binary = 0x05,
    /// Undefined (deprecated).
    Undefined = 0x06,
    /// 12-byte ObjectId.
    ObjectId = 0x07,
    /// Boolean.
    Boolean = 0x08,
    /// UTC datetime, milliseconds since the Unix epoch.
    DateTime = 0x09,
    /// Null.
    Null = 0x0A,
    /// Regular expression: pattern and options.
    Regex = 0x0B,
    /// DBPointer (deprecated): namespace and ObjectId.
    DbPointer = 0x0C,
    /// JavaScript code.
    JavaScript = 0x0D,
    /// Symbol (deprecated).
    Symbol = 0x0E,
    /// JavaScript code with a scope document (deprecated).
    JavaScriptWithScope = 0x0F,
    /// 32-bit signed integer.
    Int32 = 0x10,
    /// MongoDB internal timestamp: increment and seconds.
    Timestamp = 0x11,
    /// 64-bit signed integer.
    Int64 = 0x12,
    /// 128-bit IEEE 754-2008 decimal.
    Decimal128 = 0x13,
    /// Min key: compares lower than every other value.
    MinKey = 0xFF,
    /// Max key: compares higher than every other value.
    MaxKey = 0x7F,
}

impl ElementType {
    /// The type for a type byte, or `None` if BSON defines no such type.
    pub const fn from_u8(tag: u8) -> Option<Self> {
        use ElementType::*;
        Some(match tag {
            0x01 => Double,
            0x02 => String,
            0x03 => Document,
            0x04 => Array,
            0x05 => Binary,
            0x06 => Undefined,
            0x07 => ObjectId,
            0x08 => Boolean,
            0x09 => DateTime,
            0x0A => Null,
            0x0B => Regex,
            0x0C => DbPointer,
            0x0D => JavaScript,
            0x0E => Symbol,
            0x0F => JavaScriptWithScope,
            0x10 => Int32,
            0x11 => Timestamp,
            0x12 => Int64,
            0x13 => Decimal128,
            0xFF => MinKey,
            0x7F => MaxKey,
            _ => return None,
        })
    }

    /// The size of values of this type when it is fixed, `None` for types
    /// whose size is read from the value.
    pub const fn fixed_size(self) -> Option<usize> {
        use ElementType::*;
        match self {
            Double | DateTime | Int64 | Timestamp => Some(8),
            Int32 => Some(4),
            Boolean => Some(1),
            ObjectId => Some(12),
            Decimal128 => Some(16),
            Undefined | Null | MinKey | MaxKey => Some(0),
            String | Document | Array | Binary | Regex | DbPointer | JavaScript | Symbol
            | JavaScriptWithScope => None,
        }
    }
}

/// A 12-byte ObjectId, kept as its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectId(pub [u8; 12]);

/// A 128-bit decimal, kept as its little-endian bytes (converting it to a
/// number is the application's business, and rarely a proxy's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal128(pub [u8; 16]);

/// A MongoDB internal timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch (the high 32 bits on the wire).
    pub time: u32,
    /// Ordinal within the second (the low 32 bits on the wire).
    pub increment: u32,
}

/// Binary data and its subtype, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary<'a> {
    /// The subtype byte (0 generic, 4 UUID, ...).
    pub subtype: u8,
    /// The data; for the old binary subtype 2, without its inner length.
    pub bytes: &'a [u8],
}

impl Binary<'_> {
    /// The generic subtype.
    pub const GENERIC: u8 = 0x00;
    /// The deprecated subtype whose data repeats its own length.
    pub const OLD: u8 = 0x02;
    /// The UUID subtype (RFC 4122 byte order), used by session ids.
    pub const UUID: u8 = 0x04;
}

/// A regular expression, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regex<'a> {
    /// The pattern.
    pub pattern: &'a str,
    /// The options, in alphabetical order by convention.
    pub options: &'a str,
}

/// A DBPointer (deprecated), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbPointer<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The ObjectId.
    pub id: ObjectId,
}

/// JavaScript code with a scope (deprecated), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeWithScope<'a> {
    /// The code.
    pub code: &'a str,
    /// The scope document.
    pub scope: Document<'a>,
}

/// A BSON value borrowed from the bytes it was read from.
///
/// Reading a value checks what that value needs (UTF-8 for strings, 0 or 1
/// for booleans, the inner structure of old binary and code with scope);
/// an embedded document or array is checked only as far as its length and
/// terminator, and its elements as they are read.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // each variant is its ElementType, documented there
pub enum Value<'a> {
    Double(f64),
    String(&'a str),
    Document(Document<'a>),
    Array(Array<'a>),
    Binary(Binary<'a>),
    Undefined,
    ObjectId(ObjectId),
    Boolean(bool),
    DateTime(i64),
    Null,
    Regex(Regex<'a>),
    DbPointer(DbPointer<'a>),
    JavaScript(&'a str),
    Symbol(&'a str),
    JavaScriptWithScope(CodeWithScope<'a>),
    Int32(i32),
    Timestamp(Timestamp),
    Int64(i64),
    Decimal128(Decimal128),
    MinKey,
    MaxKey,
}

impl<'a> Value<'a> {
    /// The element type of this value.
    pub const fn element_type(&self) -> ElementType {
        match self {
            Value::Double(_) => ElementType::Double,
            Value::String(_) => ElementType::String,
            Value::Document(_) => ElementType::Document,
            Value::Array(_) => ElementType::Array,
            Value::Binary(_) => ElementType::Binary,
            Value::Undefined => ElementType::Undefined,
            Value::ObjectId(_) => ElementType::ObjectId,
            Value::Boolean(_) => ElementType::Boolean,
            Value::DateTime(_) => ElementType::DateTime,
            Value::Null => ElementType::Null,
            Value::Regex(_) => ElementType::Regex,
            Value::DbPointer(_) => ElementType::DbPointer,
            Value::JavaScript(_) => ElementType::JavaScript,
            Value::Symbol(_) => ElementType::Symbol,
            Value::JavaScriptWithScope(_) => ElementType::JavaScriptWithScope,
            Value::Int32(_) => ElementType::Int32,
            Value::Timestamp(_) => ElementType::Timestamp,
            Value::Int64(_) => ElementType::Int64,
            Value::Decimal128(_) => ElementType::Decimal128,
            Value::MinKey => ElementType::MinKey,
            Value::MaxKey => ElementType::MaxKey,
        }
    }

    /// The double, if this is one.
    pub const fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub const fn as_str(&self) -> Option<&'a str> {
        match *self {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// The embedded document, if this is one.
    pub const fn as_document(&self) -> Option<Document<'a>> {
        match *self {
            Value::Document(v) => Some(v),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub const fn as_array(&self) -> Option<Array<'a>> {
        match *self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }

    /// The binary data, if this is some.
    pub const fn as_binary(&self) -> Option<Binary<'a>> {
        match *self {
            Value::Binary(v) => Some(v),
            _ => None,
        }
    }

    /// The ObjectId, if this is one.
    pub const fn as_object_id(&self) -> Option<ObjectId> {
        match *self {
            Value::ObjectId(v) => Some(v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub const fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Boolean(v) => Some(v),
            _ => None,
        }
    }

    /// The datetime in milliseconds since the epoch, if this is one.
    pub const fn as_datetime(&self) -> Option<i64> {
        match *self {
            Value::DateTime(v) => Some(v),
            _ => None,
        }
    }

    /// The regular expression, if this is one.
    pub const fn as_regex(&self) -> Option<Regex<'a>> {
        match *self {
            Value::Regex(v) => Some(v),
            _ => None,
        }
    }

    /// The DBPointer, if this is one.
    pub const fn as_db_pointer(&self) -> Option<DbPointer<'a>> {
        match *self {
            Value::DbPointer(v) => Some(v),
            _ => None,
        }
    }

    /// The JavaScript code, if this is some.
    pub const fn as_javascript(&self) -> Option<&'a str> {
        match *self {
            Value::JavaScript(v) => Some(v),
            _ => None,
        }
    }

    /// The symbol, if this is one.
    pub const fn as_symbol(&self) -> Option<&'a str> {
        match *self {
            Value::Symbol(v) => Some(v),
            _ => None,
        }
    }

    /// The code with scope, if this is one.
    pub const fn as_code_with_scope(&self) -> Option<CodeWithScope<'a>> {
        match *self {
            Value::JavaScriptWithScope(v) => Some(v),
            _ => None,
        }
    }

    /// The 32-bit integer, if this is one.
    pub const fn as_i32(&self) -> Option<i32> {
        match *self {
            Value::Int32(v) => Some(v),
            _ => None,
        }
    }

    /// The timestamp, if this is one.
    pub const fn as_timestamp(&self) -> Option<Timestamp> {
        match *self {
            Value::Timestamp(v) => Some(v),
            _ => None,
        }
    }

    /// The 64-bit integer, if this is one.
    pub const fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// The decimal, if this is one.
    pub const fn as_decimal128(&self) -> Option<Decimal128> {
        match *self {
            Value::Decimal128(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is null.
    pub const fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Any integer type widened to `i64`, and a double that holds an
    /// integer exactly. Servers and drivers write the same field (`ok`,
    /// `code`, `n`) as int32, int64 or double, so observers read it here.
    pub fn as_integer(&self) -> Option<i64> {
        match *self {
            Value::Int32(v) => Some(i64::from(v)),
            Value::Int64(v) => Some(v),
            Value::Double(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
            _ => None,
        }
    }

    /// Any numeric type (int32, int64, double) as `f64`; `ok` is sent as
    /// any of them.
    pub fn as_number(&self) -> Option<f64> {
        match *self {
            Value::Int32(v) => Some(f64::from(v)),
            Value::Int64(v) => Some(v as f64),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    /// MongoDB's truthiness for flags such as `ok`: numbers other than 0
    /// and `true`. Other types are `None`.
    pub fn is_truthy(&self) -> Option<bool> {
        match *self {
            Value::Boolean(b) => Some(b),
            _ => self.as_number().map(|n| n != 0.0),
        }
    }
}
