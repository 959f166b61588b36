//! The RFC 9113 frame layer: every frame type, parsed from and written to
//! bytes, with the frame-level rules checked and mapped to error codes.
//!
//! Two ways in:
//!
//! - [`Head::parse`] reads a 9-byte frame header from any `&[u8]` without
//!   allocating, and [`Frame::decode`] turns that header and its payload
//!   (`Bytes`) into a typed frame whose byte fields are slices of the
//!   payload, never copies.
//! - [`FrameCodec`] implements `tokio_util::codec::{Decoder, Encoder}`:
//!   it splits each frame out of the read buffer as frozen `Bytes`
//!   (zero-copy), enforces the negotiated maximum frame size both ways,
//!   optionally checks the client preface first, and splits large field
//!   blocks into CONTINUATION frames on the way out.
//!
//! What belongs to the connection layer and is *not* checked here: stream
//! states, flow-control windows, the ordering of CONTINUATION after
//! HEADERS, and SETTINGS acknowledgement timing. Frames of unknown types
//! and unknown flags are accepted and ignored as the RFC requires (unknown
//! types arrive as [`Frame::Unknown`] so the connection can discard them
//! knowingly).

mod codec;
mod continuation;
mod data;
mod error;
mod goaway;
mod head;
mod headers;
mod pad;
mod ping;
mod priority;
mod push_promise;
mod rst_stream;
pub mod settings;
mod stream_id;
mod unknown;
mod window_update;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;

pub use codec::{FrameCodec, Limits};
pub use continuation::Continuation;
pub use data::Data;
pub use error::{FrameError, FrameErrorKind};
pub use goaway::GoAway;
pub use head::{FrameType, Head, flags};
pub use headers::Headers;
pub use ping::Ping;
pub use priority::{Priority, PrioritySpec};
pub use push_promise::PushPromise;
pub use rst_stream::RstStream;
pub use settings::Settings;
pub use stream_id::StreamId;
pub use unknown::Unknown;
pub use window_update::WindowUpdate;

/// One HTTP/2 frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Frame {
    /// DATA.
    Data(Data),
    /// HEADERS.
    Headers(Headers),
    /// PRIORITY.
    Priority(Priority),
    /// RST_STREAM.
    RstStream(RstStream),
    /// SETTINGS.
    Settings(Settings),
    /// PUSH_PROMISE.
    PushPromise(PushPromise),
    /// PING.
    Ping(Ping),
    /// GOAWAY.
    GoAway(GoAway),
    /// WINDOW_UPDATE.
    WindowUpdate(WindowUpdate),
    /// CONTINUATION.
    Continuation(Continuation),
    /// A type RFC 9113 does not define.
    Unknown(Unknown),
}

impl Frame {
    /// Builds the typed frame for `head` from its payload (exactly
    /// `head.length` bytes; the codec guarantees that). The frame's byte
    /// fields are slices of `payload`.
    ///
    /// `peer` is whom an error is attributed to: the side that sent the
    /// bytes. The maximum frame size is the caller's to check (the codec
    /// does so before the payload arrives).
    pub fn decode(head: &Head, payload: Bytes, peer: Side) -> Result<Frame, FrameError> {
        debug_assert_eq!(payload.len(), head.length as usize);
        let frame = match head.kind {
            FrameType::DATA => Data::decode(head, payload).map(Frame::Data),
            FrameType::HEADERS => Headers::decode(head, payload).map(Frame::Headers),
            FrameType::PRIORITY => Priority::decode(head, payload).map(Frame::Priority),
            FrameType::RST_STREAM => RstStream::decode(head, payload).map(Frame::RstStream),
            FrameType::SETTINGS => Settings::decode(head, payload).map(Frame::Settings),
            FrameType::PUSH_PROMISE => PushPromise::decode(head, payload).map(Frame::PushPromise),
            FrameType::PING => Ping::decode(head, payload).map(Frame::Ping),
            FrameType::GOAWAY => GoAway::decode(head, payload).map(Frame::GoAway),
            FrameType::WINDOW_UPDATE => {
                WindowUpdate::decode(head, payload).map(Frame::WindowUpdate)
            }
            FrameType::CONTINUATION => Continuation::decode(head, payload).map(Frame::Continuation),
            _ => Ok(Frame::Unknown(Unknown {
                head: *head,
                payload,
            })),
        };
        frame.map_err(|kind| FrameError::new(peer, kind))
    }

    /// The header this frame is written with.
    pub fn head(&self) -> Head {
        match self {
            Frame::Data(f) => f.head(),
            Frame::Headers(f) => f.head(),
            Frame::Priority(f) => f.head(),
            Frame::RstStream(f) => f.head(),
            Frame::Settings(f) => f.head(),
            Frame::PushPromise(f) => f.head(),
            Frame::Ping(f) => f.head(),
            Frame::GoAway(f) => f.head(),
            Frame::WindowUpdate(f) => f.head(),
            Frame::Continuation(f) => f.head(),
            Frame::Unknown(f) => Head {
                length: f.payload.len() as u32,
                ..f.head
            },
        }
    }

    /// The frame's stream (0 for connection frames).
    pub fn stream_id(&self) -> StreamId {
        self.head().stream_id
    }

    /// Appends the frame (header and payload) to `dst` as it is, without
    /// checking limits or splitting; [`FrameCodec`]'s encoder does both.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::Data(f) => f.encode(dst),
            Frame::Headers(f) => f.encode(dst),
            Frame::Priority(f) => f.encode(dst),
            Frame::RstStream(f) => f.encode(dst),
            Frame::Settings(f) => f.encode(dst),
            Frame::PushPromise(f) => f.encode(dst),
            Frame::Ping(f) => f.encode(dst),
            Frame::GoAway(f) => f.encode(dst),
            Frame::WindowUpdate(f) => f.encode(dst),
            Frame::Continuation(f) => f.encode(dst),
            Frame::Unknown(f) => f.encode(dst),
        }
    }
}

macro_rules! from_frames {
    ($($t:ident),*) => {$(
        impl From<$t> for Frame {
            fn from(f: $t) -> Frame {
                Frame::$t(f)
            }
        }
    )*};
}
from_frames!(
    Data,
    Headers,
    Priority,
    RstStream,
    Settings,
    PushPromise,
    Ping,
    GoAway,
    WindowUpdate,
    Continuation,
    Unknown
);
