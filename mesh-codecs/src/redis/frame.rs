//! [`Frame`]: one RESP2 or RESP3 value, holding `Bytes` sliced from the
//! input it was decoded from.

use bytes::Bytes;

/// One RESP2 or RESP3 value.
///
/// Decoded frames never copy payloads: every string variant is a
/// [`Bytes`] slice of the buffer the frame was decoded from, so a frame
/// keeps that buffer alive until it is dropped. RESP2's two nulls are kept
/// apart from RESP3's, so that a proxy re-encodes exactly what it decoded;
/// [`Frame::is_null`] covers all three.
///
/// Doubles and big numbers keep their text, validated: Redis writes the
/// same text into RESP2 bulk strings for RESP2 clients, so converting
/// (see [`to_resp2`](crate::redis::to_resp2)) stays byte-exact, and no
/// precision is lost on the way through a proxy. [`Frame::as_f64`] parses.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK\r\n`.
    SimpleString(Bytes),
    /// `-ERR message\r\n`: the text after the `-`.
    Error(Bytes),
    /// `:42\r\n`.
    Integer(i64),
    /// `$5\r\nhello\r\n`.
    BulkString(Bytes),
    /// RESP2's null bulk string, `$-1\r\n`.
    NullBulkString,
    /// `*2\r\n...`.
    Array(Vec<Frame>),
    /// RESP2's null array, `*-1\r\n`.
    NullArray,
    /// RESP3's null, `_\r\n`.
    Null,
    /// RESP3's `#t\r\n` and `#f\r\n`.
    Boolean(bool),
    /// RESP3's `,3.14\r\n`: the text after the `,`, validated as a decimal
    /// number, `inf`, `-inf` or `nan`.
    Double(Bytes),
    /// RESP3's `(3492890328409238509324850943850943825024385\r\n`: the
    /// digits (with an optional sign).
    BigNumber(Bytes),
    /// RESP3's `!21\r\nSYNTAX invalid syntax\r\n`.
    BulkError(Bytes),
    /// RESP3's `=15\r\ntxt:Some string\r\n`.
    Verbatim {
        /// The three-byte format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `xxx:`.
        text: Bytes,
    },
    /// RESP3's `%2\r\n...`: key and value pairs in wire order (duplicates
    /// and all; a proxy forwards what it got).
    Map(Vec<(Frame, Frame)>),
    /// RESP3's `~2\r\n...`, in wire order.
    Set(Vec<Frame>),
    /// RESP3's `|1\r\n...` followed by the frame the attributes describe:
    /// both travel together, so a reply with attributes is still one reply.
    Attribute {
        /// The attribute pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The frame they are attached to.
        frame: Box<Frame>,
    },
    /// RESP3's `>3\r\n...`: out-of-band data (pub/sub messages,
    /// invalidations) that is not the reply to any request.
    Push(Vec<Frame>),
}

impl Frame {
    /// A bulk string from anything that becomes `Bytes` (`&'static str`,
    /// `Vec<u8>`, `Bytes`, ...).
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::BulkString(data.into())
    }

    /// A simple string, such as `OK`. The encoder refuses CR and LF in it.
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::SimpleString(text.into())
    }

    /// A simple error, such as `ERR unknown command`. The encoder refuses
    /// CR and LF in it.
    pub fn error(text: impl Into<Bytes>) -> Frame {
        Frame::Error(text.into())
    }

    /// A command: an array of bulk strings, which is how clients send
    /// every request.
    ///
    /// ```
    /// use mesh_codecs::redis::Frame;
    ///
    /// let get = Frame::command(["GET", "key"]);
    /// assert_eq!(get.to_bytes().unwrap().as_ref(), b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    /// ```
    pub fn command<I>(args: I) -> Frame
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Frame::Array(
            args.into_iter()
                .map(|a| Frame::BulkString(Bytes::copy_from_slice(a.as_ref())))
                .collect(),
        )
    }

    /// A RESP3 double with the shortest text that reads back as `value`
    /// (`inf`, `-inf` and `nan` for the special values, as Redis writes
    /// them).
    pub fn double(value: f64) -> Frame {
        let text = if value.is_nan() {
            "nan".to_owned()
        } else if value.is_infinite() {
            if value > 0.0 { "inf" } else { "-inf" }.to_owned()
        } else {
            format!("{value:?}")
        };
        Frame::Double(Bytes::from(text))
    }

    /// Whether this is any of the three nulls (`$-1`, `*-1`, `_`).
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulkString | Frame::NullArray)
    }

    /// Whether this is an error reply (simple or bulk).
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BulkError(_))
    }

    /// The bytes of a string-like frame: simple string, bulk string,
    /// verbatim text, simple or bulk error, double or big number text.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::SimpleString(b)
            | Frame::BulkString(b)
            | Frame::Error(b)
            | Frame::BulkError(b)
            | Frame::Double(b)
            | Frame::BigNumber(b)
            | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// The value of an integer frame.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Frame::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The value of a double frame (`inf`, `-inf` and `nan` included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Frame::Double(text) => std::str::from_utf8(text).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_elements(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }

    /// The frame without its attributes (attributes are auxiliary data;
    /// most code wants what they describe).
    pub fn without_attributes(&self) -> &Frame {
        let mut frame = self;
        while let Frame::Attribute { frame: inner, .. } = frame {
            frame = inner;
        }
        frame
    }

    /// The RESP3 name of the frame's type, for logs and errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Frame::SimpleString(_) => "simple string",
            Frame::Error(_) => "simple error",
            Frame::Integer(_) => "integer",
            Frame::BulkString(_) => "bulk string",
            Frame::NullBulkString => "null bulk string",
            Frame::Array(_) => "array",
            Frame::NullArray => "null array",
            Frame::Null => "null",
            Frame::Boolean(_) => "boolean",
            Frame::Double(_) => "double",
            Frame::BigNumber(_) => "big number",
            Frame::BulkError(_) => "bulk error",
            Frame::Verbatim { .. } => "verbatim string",
            Frame::Map(_) => "map",
            Frame::Set(_) => "set",
            Frame::Attribute { .. } => "attribute",
            Frame::Push(_) => "push",
        }
    }
}
