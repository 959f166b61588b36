//! [`RawFrame`]: one decoded frame as its wire bytes plus the index the
//! scanner built while validating it, with borrowed views into it.
//!
//! This is what a proxy wants: the command name and keys are read as
//! `&[u8]` without copying or reference counting, and the frame is
//! forwarded as the one `Bytes` it arrived in ([`RawFrame::bytes`]),
//! without re-encoding. [`RawFrame::to_frame`] builds the owned [`Frame`]
//! tree (one `Bytes` slice per string) when code wants to pattern-match.

use bytes::{Bytes, BytesMut};

use super::codec::DecoderConfig;
use super::command::{Args, Command};
use super::error::DecodeError;
use super::frame::Frame;
use super::inline;
use super::scan::{Kind, Node, Scan, Scanner};

/// A decoded frame: its bytes, validated, and an index of its elements.
///
/// ```
/// use bytes::Bytes;
/// use mesh_codecs::redis::{DecoderConfig, Frame, Kind, RawFrame};
///
/// let wire = Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
/// let (raw, used) = RawFrame::decode(&wire, &DecoderConfig::default()).unwrap().unwrap();
/// assert_eq!(used, wire.len());
/// assert_eq!(raw.root().kind(), Kind::Array);
/// let request = raw.request().unwrap();
/// assert_eq!(request.name(), b"SET");
/// assert_eq!(request.get(2), Some(&b"hello"[..]));
/// assert_eq!(raw.bytes(), &wire, "forwarded as it came");
/// assert_eq!(raw.to_frame(), Frame::command(["SET", "k", "hello"]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    bytes: Bytes,
    tape: Vec<Node>,
}

impl RawFrame {
    pub(crate) fn new(bytes: Bytes, tape: Vec<Node>) -> RawFrame {
        RawFrame { bytes, tape }
    }

    /// Decodes the first frame of `buf`, zero-copy. Returns the frame and
    /// how many bytes it took, or `None` when `buf` ends inside the frame
    /// (nothing is kept: call again with more bytes, or use
    /// [`RawRespCodec`](super::RawRespCodec), which keeps a cursor so that
    /// a large frame arriving in pieces is scanned once).
    ///
    /// With [`DecoderConfig::inline_commands`], a frame that does not start
    /// with `*` is an inline command (empty lines are skipped and counted).
    pub fn decode(
        buf: &Bytes,
        config: &DecoderConfig,
    ) -> Result<Option<(RawFrame, usize)>, DecodeError> {
        Ok(match scan_one(buf, config)? {
            None => None,
            Some(One::Frame { skipped, len, tape }) => {
                let bytes = buf.slice(skipped..skipped + len);
                Some((RawFrame::new(bytes, tape), skipped + len))
            }
            Some(One::Inline { args, used }) => Some((RawFrame::command(args), used)),
        })
    }

    /// A command (an array of bulk strings), encoded.
    ///
    /// ```
    /// use mesh_codecs::redis::RawFrame;
    ///
    /// let ping = RawFrame::command(["PING"]);
    /// assert_eq!(ping.as_bytes(), b"*1\r\n$4\r\nPING\r\n");
    /// ```
    pub fn command<I>(args: I) -> RawFrame
    where
        I: IntoIterator,
        I::IntoIter: ExactSizeIterator,
        I::Item: AsRef<[u8]>,
    {
        let args = args.into_iter();
        let count = args.len();
        let mut tape = Vec::with_capacity(count + 1);
        tape.push(Node {
            kind: Kind::Array,
            next: 0,
            a: count as u64,
            b: 0,
        });
        let mut buf = BytesMut::new();
        header(&mut buf, b'*', count);
        for arg in args {
            let arg = arg.as_ref();
            header(&mut buf, b'$', arg.len());
            let start = buf.len() as u64;
            buf.extend_from_slice(arg);
            let next = tape.len() as u32 + 1;
            tape.push(Node {
                kind: Kind::BulkString,
                next,
                a: start,
                b: start + arg.len() as u64,
            });
            buf.extend_from_slice(b"\r\n");
        }
        tape[0].next = tape.len() as u32;
        RawFrame {
            bytes: buf.freeze(),
            tape,
        }
    }

    /// The frame's RESP encoding: the bytes it was decoded from (an inline
    /// command is re-encoded as an array of bulk strings).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding as `Bytes`, to forward it without copying.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The encoding, giving the frame up.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The top-level frame.
    pub fn root(&self) -> FrameRef<'_> {
        FrameRef {
            frame: self,
            index: 0,
        }
    }

    /// The frame as an owned [`Frame`] tree, its strings sliced from
    /// [`RawFrame::bytes`].
    pub fn to_frame(&self) -> Frame {
        self.root().to_frame()
    }

    /// The frame as a request: a non-empty array of bulk (or simple)
    /// strings, whose arguments are then found in constant time.
    pub fn request(&self) -> Option<RawRequest<'_>> {
        let root = self.tape.first()?;
        let count = usize::try_from(root.a).ok()?;
        let flat = root.kind == Kind::Array
            && count > 0
            && self.tape.len() == count + 1
            && self.tape[1..]
                .iter()
                .all(|n| matches!(n.kind, Kind::BulkString | Kind::SimpleString));
        flat.then_some(RawRequest { frame: self })
    }

    fn range(&self, node: &Node) -> &[u8] {
        self.bytes
            .get(node.a as usize..node.b as usize)
            .unwrap_or_default()
    }
}

/// The first frame of a buffer, scanned.
enum One {
    /// A RESP frame at `skipped..skipped + len`.
    Frame {
        skipped: usize,
        len: usize,
        tape: Vec<Node>,
    },
    /// An inline command that took `used` bytes (empty lines included).
    Inline { args: Vec<Bytes>, used: usize },
}

fn scan_one(buf: &Bytes, config: &DecoderConfig) -> Result<Option<One>, DecodeError> {
    let mut scanner = Scanner::default();
    let mut skipped = 0;
    loop {
        let scan = scanner
            .advance(&buf[skipped..], config)
            .map_err(|f| DecodeError::from_fault(f, config.peer))?;
        match scan {
            Scan::NeedMore => return Ok(None),
            Scan::Complete(len) => {
                let tape = scanner.take_tape();
                return Ok(Some(One::Frame { skipped, len, tape }));
            }
            Scan::Inline { line_end, next } => {
                scanner.reset();
                let line = buf.slice(skipped..skipped + next);
                match inline::command(&line, line_end)
                    .map_err(|f| DecodeError::from_fault(f, config.peer))?
                {
                    Some(args) => {
                        return Ok(Some(One::Inline {
                            args,
                            used: skipped + next,
                        }));
                    }
                    None => skipped += next,
                }
            }
        }
    }
}

/// [`decode_frame`](super::decode_frame): the frame built straight from
/// `buf` (no intermediate [`RawFrame`]).
pub(crate) fn decode_owned(
    buf: &Bytes,
    config: &DecoderConfig,
) -> Result<Option<(Frame, usize)>, DecodeError> {
    Ok(match scan_one(buf, config)? {
        None => None,
        Some(One::Frame {
            skipped: 0,
            len,
            tape,
        }) => Some((build(buf, &tape, 0), len)),
        Some(One::Frame { skipped, len, tape }) => {
            let bytes = buf.slice(skipped..skipped + len);
            Some((build(&bytes, &tape, 0), skipped + len))
        }
        Some(One::Inline { args, used }) => Some((RawFrame::command(args).to_frame(), used)),
    })
}

fn header(buf: &mut BytesMut, kind: u8, len: usize) {
    buf.extend_from_slice(&[kind]);
    buf.extend_from_slice(len.to_string().as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// A view of one frame inside a [`RawFrame`]: borrowed, `Copy`, and free
/// to make.
#[derive(Clone, Copy)]
pub struct FrameRef<'a> {
    frame: &'a RawFrame,
    index: usize,
}

impl std::fmt::Debug for FrameRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_frame(), f)
    }
}

impl<'a> FrameRef<'a> {
    fn node(&self) -> Node {
        self.frame.tape[self.index]
    }

    /// The frame's type.
    pub fn kind(&self) -> Kind {
        self.node().kind
    }

    /// The bytes of a string-like frame (simple, bulk and verbatim
    /// strings, simple and bulk errors, double and big number text); for
    /// a verbatim string, the text after its `xxx:` format.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        let node = self.node();
        let bytes = self.frame.range(&self.frame.tape[self.index]);
        match node.kind {
            Kind::SimpleString
            | Kind::Error
            | Kind::BulkString
            | Kind::BulkError
            | Kind::Double
            | Kind::BigNumber => Some(bytes),
            Kind::Verbatim => bytes.get(4..),
            _ => None,
        }
    }

    /// [`FrameRef::as_bytes`] as `Bytes` sharing the frame's buffer.
    pub fn to_bytes(&self) -> Option<Bytes> {
        let text = self.as_bytes()?;
        Some(self.frame.bytes.slice_ref(text))
    }

    /// A verbatim string's format (`txt`, `mkd`).
    pub fn verbatim_format(&self) -> Option<[u8; 3]> {
        match (self.kind(), self.frame.range(&self.node())) {
            (Kind::Verbatim, [a, b, c, ..]) => Some([*a, *b, *c]),
            _ => None,
        }
    }

    /// The value of an integer.
    pub fn as_integer(&self) -> Option<i64> {
        let node = self.node();
        (node.kind == Kind::Integer).then_some(node.a as i64)
    }

    /// The value of a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        let node = self.node();
        (node.kind == Kind::Boolean).then_some(node.a != 0)
    }

    /// Whether this is any of the three nulls.
    pub fn is_null(&self) -> bool {
        matches!(
            self.kind(),
            Kind::Null | Kind::NullBulkString | Kind::NullArray
        )
    }

    /// The number of elements of an array, set or push, or of pairs of a
    /// map or attribute; 0 for anything else.
    pub fn len(&self) -> usize {
        let node = self.node();
        match node.kind {
            Kind::Array | Kind::Set | Kind::Push | Kind::Map | Kind::Attribute => node.a as usize,
            _ => 0,
        }
    }

    /// Whether [`FrameRef::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frames directly inside this one, in wire order: the elements
    /// of an array, set or push; keys and values of a map, alternating;
    /// an attribute's keys and values, then the frame it describes.
    pub fn children(&self) -> Children<'a> {
        let node = self.node();
        let count = match node.kind {
            Kind::Array | Kind::Set | Kind::Push => node.a,
            Kind::Map => node.a * 2,
            Kind::Attribute => node.a * 2 + 1,
            _ => 0,
        };
        Children {
            frame: self.frame,
            index: self.index + 1,
            left: count as usize,
        }
    }

    /// The frame an attribute describes (itself for any other frame).
    pub fn without_attributes(&self) -> FrameRef<'a> {
        let mut view = *self;
        while view.kind() == Kind::Attribute {
            match view.children().last() {
                Some(inner) => view = inner,
                None => break,
            }
        }
        view
    }

    /// The frame as an owned [`Frame`], its strings sliced from the
    /// buffer.
    pub fn to_frame(&self) -> Frame {
        build(&self.frame.bytes, &self.frame.tape, self.index)
    }
}

/// The frames inside a [`FrameRef`]; see [`FrameRef::children`].
#[derive(Debug, Clone)]
pub struct Children<'a> {
    frame: &'a RawFrame,
    index: usize,
    left: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = FrameRef<'a>;

    fn next(&mut self) -> Option<FrameRef<'a>> {
        if self.left == 0 {
            return None;
        }
        let node = self.frame.tape.get(self.index)?;
        let view = FrameRef {
            frame: self.frame,
            index: self.index,
        };
        self.index = node.next as usize;
        self.left -= 1;
        Some(view)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Children<'_> {}

fn build(bytes: &Bytes, tape: &[Node], index: usize) -> Frame {
    let node = tape[index];
    let slice = |n: &Node| bytes.slice(n.a as usize..n.b as usize);
    match node.kind {
        Kind::SimpleString => Frame::SimpleString(slice(&node)),
        Kind::Error => Frame::Error(slice(&node)),
        Kind::Integer => Frame::Integer(node.a as i64),
        Kind::BulkString => Frame::BulkString(slice(&node)),
        Kind::NullBulkString => Frame::NullBulkString,
        Kind::NullArray => Frame::NullArray,
        Kind::Null => Frame::Null,
        Kind::Boolean => Frame::Boolean(node.a != 0),
        Kind::Double => Frame::Double(slice(&node)),
        Kind::BigNumber => Frame::BigNumber(slice(&node)),
        Kind::BulkError => Frame::BulkError(slice(&node)),
        Kind::Verbatim => {
            let payload = slice(&node);
            let format = [payload[0], payload[1], payload[2]];
            Frame::Verbatim {
                format,
                text: payload.slice(4..),
            }
        }
        Kind::Array => Frame::Array(elements(bytes, tape, index)),
        Kind::Set => Frame::Set(elements(bytes, tape, index)),
        Kind::Push => Frame::Push(elements(bytes, tape, index)),
        Kind::Map => Frame::Map(pairs(bytes, tape, index + 1, node.a as usize).0),
        Kind::Attribute => {
            let (attributes, at) = pairs(bytes, tape, index + 1, node.a as usize);
            Frame::Attribute {
                attributes,
                frame: Box::new(build(bytes, tape, at)),
            }
        }
    }
}

fn elements(bytes: &Bytes, tape: &[Node], index: usize) -> Vec<Frame> {
    let count = tape[index].a as usize;
    let mut items = Vec::with_capacity(count);
    let mut at = index + 1;
    for _ in 0..count {
        let node = &tape[at];
        // Most elements are bulk strings or integers: built in place.
        items.push(match node.kind {
            Kind::BulkString => Frame::BulkString(bytes.slice(node.a as usize..node.b as usize)),
            Kind::Integer => Frame::Integer(node.a as i64),
            _ => build(bytes, tape, at),
        });
        at = node.next as usize;
    }
    items
}

fn pairs(
    bytes: &Bytes,
    tape: &[Node],
    mut at: usize,
    count: usize,
) -> (Vec<(Frame, Frame)>, usize) {
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let key = build(bytes, tape, at);
        at = tape[at].next as usize;
        let value = build(bytes, tape, at);
        at = tape[at].next as usize;
        items.push((key, value));
    }
    (items, at)
}

/// A [`RawFrame`] that is a request (an array of bulk strings): its
/// arguments in constant time, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    frame: &'a RawFrame,
}

impl<'a> RawRequest<'a> {
    /// The command name, as sent (any case).
    pub fn name(&self) -> &'a [u8] {
        self.get(0).unwrap_or_default()
    }

    /// The argument at `index` (0 is the name).
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        let node = self.frame.tape.get(index + 1)?;
        Some(self.frame.range(node))
    }

    /// The argument at `index` as `Bytes` sharing the frame's buffer.
    pub fn bytes(&self, index: usize) -> Option<Bytes> {
        self.get(index).map(|arg| self.frame.bytes.slice_ref(arg))
    }

    /// The number of arguments, the name included.
    pub fn len(&self) -> usize {
        self.frame.tape.len() - 1
    }

    /// Never true: a request has a name.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The command (or subcommand, for containers such as `CONFIG GET`)
    /// from the table.
    pub fn command(&self) -> Option<&'static Command> {
        super::command::lookup(self)
    }

    /// Whether the name is `name`, ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The frame this request views.
    pub fn frame(&self) -> &'a RawFrame {
        self.frame
    }
}

impl Args for RawRequest<'_> {
    fn len(&self) -> usize {
        RawRequest::len(self)
    }
    fn arg(&self, index: usize) -> Option<&[u8]> {
        self.get(index)
    }
}
