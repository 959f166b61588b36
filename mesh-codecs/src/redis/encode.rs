//! Encoding [`Frame`]s to RESP.
//!
//! Frames are written as RESP2 where RESP2 has the type and as RESP3
//! otherwise, exactly as they were decoded: converting a RESP3 reply for a
//! RESP2 client is a separate step ([`to_resp2`](super::to_resp2)).

use bytes::{BufMut, Bytes, BytesMut};

use super::error::EncodeError;
use super::frame::Frame;

impl Frame {
    /// Appends the RESP encoding of the frame to `dst`. Fails, writing
    /// nothing, when a simple string, simple error, double or big number
    /// holds CR or LF (which would split the frame in two on the wire).
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let before = dst.len();
        dst.reserve(self.encoded_len());
        let result = write(self, dst);
        if result.is_err() {
            dst.truncate(before);
        }
        result
    }

    /// The RESP encoding of the frame in a buffer of its own.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut dst = BytesMut::new();
        self.encode(&mut dst)?;
        Ok(dst.freeze())
    }

    /// How many bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Frame::SimpleString(b) | Frame::Error(b) | Frame::Double(b) | Frame::BigNumber(b) => {
                1 + b.len() + 2
            }
            Frame::Integer(i) => 1 + int_len(*i) + 2,
            Frame::BulkString(b) | Frame::BulkError(b) => bulk_len(b.len()),
            Frame::Verbatim { text, .. } => bulk_len(4 + text.len()),
            Frame::NullBulkString | Frame::NullArray => 5,
            Frame::Null => 3,
            Frame::Boolean(_) => 4,
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                header_len(items.len()) + items.iter().map(Frame::encoded_len).sum::<usize>()
            }
            Frame::Map(pairs) => header_len(pairs.len()) + pairs_len(pairs),
            Frame::Attribute { attributes, frame } => {
                header_len(attributes.len()) + pairs_len(attributes) + frame.encoded_len()
            }
        }
    }
}

/// Appends a command (an array of bulk strings) to `dst` without building
/// a [`Frame`] first: how a client or a proxy writes requests.
///
/// ```
/// use bytes::BytesMut;
/// use mesh_codecs::redis::encode_command;
///
/// let mut buf = BytesMut::new();
/// encode_command(["GET", "k"], &mut buf);
/// assert_eq!(&buf[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// ```
pub fn encode_command<I>(args: I, dst: &mut BytesMut)
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: AsRef<[u8]>,
{
    let args = args.into_iter();
    header(dst, b'*', args.len());
    for arg in args {
        let arg = arg.as_ref();
        header(dst, b'$', arg.len());
        dst.put_slice(arg);
        dst.put_slice(b"\r\n");
    }
}

fn write(frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
    match frame {
        Frame::SimpleString(b) => line(dst, b'+', b, "simple string")?,
        Frame::Error(b) => line(dst, b'-', b, "simple error")?,
        Frame::Double(b) => line(dst, b',', b, "double")?,
        Frame::BigNumber(b) => line(dst, b'(', b, "big number")?,
        Frame::Integer(i) => {
            dst.put_u8(b':');
            int(dst, *i);
            dst.put_slice(b"\r\n");
        }
        Frame::BulkString(b) => bulk(dst, b'$', &[b]),
        Frame::BulkError(b) => bulk(dst, b'!', &[b]),
        Frame::Verbatim { format, text } => {
            bulk(dst, b'=', &[format, b":", text]);
        }
        Frame::NullBulkString => dst.put_slice(b"$-1\r\n"),
        Frame::NullArray => dst.put_slice(b"*-1\r\n"),
        Frame::Null => dst.put_slice(b"_\r\n"),
        Frame::Boolean(true) => dst.put_slice(b"#t\r\n"),
        Frame::Boolean(false) => dst.put_slice(b"#f\r\n"),
        Frame::Array(items) => elements(dst, b'*', items)?,
        Frame::Set(items) => elements(dst, b'~', items)?,
        Frame::Push(items) => elements(dst, b'>', items)?,
        Frame::Map(pairs) => {
            header(dst, b'%', pairs.len());
            write_pairs(dst, pairs)?;
        }
        Frame::Attribute { attributes, frame } => {
            header(dst, b'|', attributes.len());
            write_pairs(dst, attributes)?;
            write(frame, dst)?;
        }
    }
    Ok(())
}

fn elements(dst: &mut BytesMut, kind: u8, items: &[Frame]) -> Result<(), EncodeError> {
    header(dst, kind, items.len());
    items.iter().try_for_each(|f| write(f, dst))
}

fn write_pairs(dst: &mut BytesMut, pairs: &[(Frame, Frame)]) -> Result<(), EncodeError> {
    for (k, v) in pairs {
        write(k, dst)?;
        write(v, dst)?;
    }
    Ok(())
}

fn line(dst: &mut BytesMut, kind: u8, text: &[u8], frame: &'static str) -> Result<(), EncodeError> {
    if memchr::memchr2(b'\r', b'\n', text).is_some() {
        return Err(EncodeError::LineBreak { frame });
    }
    dst.put_u8(kind);
    dst.put_slice(text);
    dst.put_slice(b"\r\n");
    Ok(())
}

fn bulk(dst: &mut BytesMut, kind: u8, parts: &[&[u8]]) {
    header(dst, kind, parts.iter().map(|p| p.len()).sum());
    for part in parts {
        dst.put_slice(part);
    }
    dst.put_slice(b"\r\n");
}

fn header(dst: &mut BytesMut, kind: u8, len: usize) {
    dst.put_u8(kind);
    int(dst, len as i64);
    dst.put_slice(b"\r\n");
}

fn int(dst: &mut BytesMut, value: i64) {
    dst.put_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn int_len(value: i64) -> usize {
    let digits = value
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(value < 0)
}

fn header_len(len: usize) -> usize {
    1 + int_len(len as i64) + 2
}

fn bulk_len(len: usize) -> usize {
    header_len(len) + len + 2
}

fn pairs_len(pairs: &[(Frame, Frame)]) -> usize {
    pairs
        .iter()
        .map(|(k, v)| k.encoded_len() + v.encoded_len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_output() {
        for v in [0, 9, 10, -1, -10, i64::MAX, i64::MIN, 1234567] {
            let f = Frame::Integer(v);
            assert_eq!(f.to_bytes().unwrap().len(), f.encoded_len(), "{v}");
            assert_eq!(f.to_bytes().unwrap(), format!(":{v}\r\n").into_bytes());
        }
    }

    #[test]
    fn refuses_line_breaks_and_writes_nothing() {
        let mut dst = BytesMut::from(&b"keep"[..]);
        let bad = Frame::Array(vec![Frame::bulk("ok"), Frame::simple("a\r\n+b")]);
        assert!(matches!(
            bad.encode(&mut dst),
            Err(EncodeError::LineBreak {
                frame: "simple string"
            })
        ));
        assert_eq!(&dst[..], b"keep");
    }
}
