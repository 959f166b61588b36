//! RESP3 replies as Redis sends them to RESP2 clients.
//!
//! A proxy that speaks RESP3 to its upstreams (for pushes, or because it
//! shares connections) must answer RESP2 clients the way Redis would
//! have. Redis builds both shapes from the same reply calls; the mapping
//! is mostly by type:
//!
//! | RESP3 | RESP2 |
//! | --- | --- |
//! | map | flat array of keys and values |
//! | set, push | array |
//! | boolean | integer 1 or 0 |
//! | double, big number | bulk string of the same text |
//! | verbatim string | bulk string of the text, without `txt:` |
//! | bulk error | simple error (CR and LF become spaces) |
//! | attribute | dropped: the frame it describes |
//! | null | `$-1`, or `*-1` where Redis sends a null array |
//!
//! and for some commands by the command, which this module takes as
//! input: the null of the blocking pops, `LMPOP`/`ZMPOP`, `LPOP`/`RPOP`
//! with a count, `XREAD`/`XREADGROUP` and an aborted `EXEC` is `*-1`, as
//! are the missing positions of `GEOPOS` and deleted entries in
//! `XREADGROUP`; `XREAD`'s map is an array of `[stream, entries]` pairs;
//! and the `[member, score]` pairs of `ZRANGE ... WITHSCORES` and its
//! kin are flattened. A test checks every rule against a real Redis.

use bytes::Bytes;

use super::command::Request;
use super::frame::Frame;

/// What the command implies for the reply's shape.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// A top-level null is `*-1`.
    null_array: bool,
    /// Every null inside the reply is `*-1`.
    nested_null_array: bool,
    /// A top-level map becomes an array of `[key, value]` arrays.
    map_of_pairs: bool,
    /// A top-level array of `[member, score]` arrays is flattened.
    flatten_pairs: bool,
}

fn shape(request: Option<&Request<'_>>) -> Shape {
    let Some(request) = request else {
        return Shape::default();
    };
    let name = request.name();
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let one_of = |names: &[&str]| names.iter().any(|n| is(n));
    let stream_read = one_of(&["xread", "xreadgroup"]);
    Shape {
        null_array: stream_read
            || one_of(&[
                "blpop",
                "brpop",
                "brpoplpush",
                "blmove",
                "blmpop",
                "lmpop",
                "bzpopmin",
                "bzpopmax",
                "bzmpop",
                "zmpop",
                "exec",
            ])
            || (one_of(&["lpop", "rpop"]) && request.len() > 2),
        nested_null_array: stream_read || is("geopos"),
        map_of_pairs: stream_read,
        flatten_pairs: one_of(&[
            "zrange",
            "zrangebyscore",
            "zrevrange",
            "zrevrangebyscore",
            "zunion",
            "zinter",
            "zdiff",
            "zrandmember",
            "hrandfield",
            "zpopmin",
            "zpopmax",
        ]),
    }
}

/// Converts a RESP3 reply to what Redis sends a RESP2 client for the same
/// `request` (see the [module docs](self)). Pass `None` for a push, which
/// answers no request. A RESP2 reply passes through unchanged.
///
/// `EXEC`'s elements are converted by type only; [`to_resp2_exec`] takes
/// the queued commands into account.
///
/// ```
/// use mesh_codecs::redis::{to_resp2, Frame, Request};
///
/// let blpop = Frame::command(["BLPOP", "jobs", "1"]);
/// let get = Frame::command(["GET", "k"]);
/// assert_eq!(to_resp2(Frame::Null, Request::new(&blpop).as_ref()), Frame::NullArray);
/// assert_eq!(to_resp2(Frame::Null, Request::new(&get).as_ref()), Frame::NullBulkString);
/// let hgetall = Frame::Map(vec![(Frame::bulk("f"), Frame::bulk("v"))]);
/// assert_eq!(to_resp2(hgetall, None), Frame::command(["f", "v"]));
/// ```
pub fn to_resp2(reply: Frame, request: Option<&Request<'_>>) -> Frame {
    let shape = shape(request);
    match strip_attributes(reply) {
        Frame::Null | Frame::NullArray if shape.null_array => Frame::NullArray,
        Frame::Map(pairs) if shape.map_of_pairs => Frame::Array(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    Frame::Array(vec![
                        convert(k, shape.nested_null_array),
                        convert(v, shape.nested_null_array),
                    ])
                })
                .collect(),
        ),
        Frame::Array(items) if shape.flatten_pairs && items.iter().all(is_pair) => {
            let mut flat = Vec::with_capacity(items.len() * 2);
            for item in items {
                if let Frame::Array(pair) = item {
                    flat.extend(pair.into_iter().map(|f| convert(f, false)));
                }
            }
            Frame::Array(flat)
        }
        other => convert(other, shape.nested_null_array),
    }
}

/// Converts the RESP3 reply of `EXEC` for a RESP2 client, each element
/// with the request that was queued for it. A null (a transaction aborted
/// by `WATCH`) is `*-1`.
pub fn to_resp2_exec<'a, I>(reply: Frame, queued: I) -> Frame
where
    I: IntoIterator<Item = Request<'a>>,
{
    match strip_attributes(reply) {
        Frame::Array(items) => {
            let mut queued = queued.into_iter();
            Frame::Array(
                items
                    .into_iter()
                    .map(|item| to_resp2(item, queued.next().as_ref()))
                    .collect(),
            )
        }
        Frame::Null | Frame::NullArray => Frame::NullArray,
        other => convert(other, false),
    }
}

fn is_pair(frame: &Frame) -> bool {
    matches!(frame, Frame::Array(pair) if pair.len() == 2)
}

fn strip_attributes(mut frame: Frame) -> Frame {
    while let Frame::Attribute { frame: inner, .. } = frame {
        frame = *inner;
    }
    frame
}

fn convert(frame: Frame, null_array: bool) -> Frame {
    match frame {
        Frame::Null if null_array => Frame::NullArray,
        Frame::Null => Frame::NullBulkString,
        Frame::Boolean(b) => Frame::Integer(i64::from(b)),
        Frame::Double(text) | Frame::BigNumber(text) => Frame::BulkString(text),
        Frame::Verbatim { text, .. } => Frame::BulkString(text),
        Frame::BulkError(text) => Frame::Error(one_line(text)),
        Frame::Map(pairs) => {
            let mut flat = Vec::with_capacity(pairs.len() * 2);
            for (k, v) in pairs {
                flat.push(convert(k, null_array));
                flat.push(convert(v, null_array));
            }
            Frame::Array(flat)
        }
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            Frame::Array(items.into_iter().map(|f| convert(f, null_array)).collect())
        }
        Frame::Attribute { frame, .. } => convert(*frame, null_array),
        other => other,
    }
}

/// A bulk error's text as a simple error: Redis replaces CR and LF with
/// spaces in error messages.
fn one_line(text: Bytes) -> Bytes {
    if memchr::memchr2(b'\r', b'\n', &text).is_none() {
        return text;
    }
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect::<Vec<u8>>()
        .into()
}
