//! The owned framing: `tokio_util` `Decoder` and `Encoder` over `BytesMut`.

use bytes::{Buf, Bytes, BytesMut};
use mesh_core::Side;
use tokio_util::codec::{Decoder, Encoder};

use super::settings::{MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE};
use super::{Continuation, Frame, FrameError, FrameErrorKind, FrameType, Head, Settings, StreamId};
use crate::h2::preface;

/// Limits of a [`FrameCodec`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The largest payload we accept: our SETTINGS_MAX_FRAME_SIZE once the
    /// peer acknowledged it. Default 16 384 (the RFC's initial value, which
    /// holds until then); clamped to 16 384..=16 777 215.
    pub max_frame_size: u32,
}

impl Limits {
    /// The default (and initial) maximum frame size.
    pub const DEFAULT_MAX_FRAME_SIZE: u32 = MIN_MAX_FRAME_SIZE;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
        }
    }
}

/// Reads and writes HTTP/2 frames on a byte stream.
///
/// Decoding splits each complete frame out of the read buffer as frozen
/// `Bytes` (no copy), checks the length against our maximum frame size as
/// soon as the 9-byte header is there (before the payload arrives, so an
/// oversized frame costs no memory), and returns the typed [`Frame`].
/// A frame cut at any byte is `Ok(None)`, never an error.
///
/// Errors are typed ([`FrameError`]) and carry their RFC 9113 code. After
/// a *stream* error ([`FrameError::stream_error`]) the bad frame has been
/// consumed (an oversized one is skipped as its bytes arrive) and decoding
/// may continue with the next frame; after a connection error the
/// connection must end with GOAWAY. Note that `tokio_util`'s `FramedRead`
/// yields `None` after any error, so a driver that wants to survive stream
/// errors calls [`Decoder::decode`] on its own buffer.
///
/// Encoding checks frames against the peer's maximum frame size and the
/// RFC's stream-id rules, and splits HEADERS and PUSH_PROMISE field blocks
/// that do not fit into CONTINUATION frames.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    peer: Side,
    max_recv: u32,
    max_send: u32,
    expect_preface: bool,
    /// Bytes of an oversized frame still to skip after a stream error.
    discard: usize,
}

impl FrameCodec {
    /// A codec for a connection with `peer` (whom decode errors are
    /// attributed to: [`Side::Downstream`] on a server connection,
    /// [`Side::Upstream`] on a client one). The peer's maximum frame size
    /// starts at the RFC's initial 16 384.
    pub fn new(peer: Side, limits: Limits) -> FrameCodec {
        FrameCodec {
            peer,
            max_recv: clamp_frame_size(limits.max_frame_size),
            max_send: MIN_MAX_FRAME_SIZE,
            expect_preface: false,
            discard: 0,
        }
    }

    /// Makes the decoder require the 24-byte client preface before the
    /// first frame (a server's first read). A mismatch is a PROTOCOL_ERROR.
    pub fn expect_preface(mut self) -> FrameCodec {
        self.expect_preface = true;
        self
    }

    /// Our maximum frame size, once the peer acknowledged our SETTINGS
    /// (clamped to the legal range).
    pub fn set_max_recv_frame_size(&mut self, size: u32) {
        self.max_recv = clamp_frame_size(size);
    }

    /// The peer's SETTINGS_MAX_FRAME_SIZE, when its SETTINGS arrive.
    pub fn set_max_send_frame_size(&mut self, size: u32) {
        self.max_send = clamp_frame_size(size);
    }

    /// The largest payload the decoder accepts.
    pub fn max_recv_frame_size(&self) -> u32 {
        self.max_recv
    }

    /// The largest payload the encoder writes.
    pub fn max_send_frame_size(&self) -> u32 {
        self.max_send
    }

    /// Writes `frame` to `dst`: checks it against the peer's limits and the
    /// stream-id rules, and splits a field block too large for one frame
    /// into HEADERS (or PUSH_PROMISE) and CONTINUATION frames.
    pub fn write(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        let head = frame.head();
        self.check_send(frame, &head)?;
        let max = self.max_send as usize;
        match frame {
            Frame::Headers(h) if head.length as usize > max => {
                let first = max - h.overhead();
                let mut part = h.clone();
                part.block = h.block.slice(..first);
                part.end_headers = false;
                part.encode(dst);
                self.continue_block(h.stream_id, h.block.slice(first..), h.end_headers, dst);
            }
            Frame::PushPromise(p) if head.length as usize > max => {
                let first = max - p.overhead();
                let mut part = p.clone();
                part.block = p.block.slice(..first);
                part.end_headers = false;
                part.encode(dst);
                self.continue_block(p.stream_id, p.block.slice(first..), p.end_headers, dst);
            }
            _ => {
                dst.reserve(Head::LEN + head.length as usize);
                frame.encode(dst);
            }
        }
        Ok(())
    }

    fn continue_block(&self, stream_id: StreamId, mut rest: Bytes, end: bool, dst: &mut BytesMut) {
        while !rest.is_empty() {
            let block = rest.split_to(rest.len().min(self.max_send as usize));
            Continuation {
                stream_id,
                block,
                end_headers: end && rest.is_empty(),
            }
            .encode(dst);
        }
    }

    fn check_send(&self, frame: &Frame, head: &Head) -> Result<(), FrameError> {
        let invalid = |reason| {
            Err(FrameError::new(
                Side::Internal,
                FrameErrorKind::InvalidSend {
                    kind: head.kind,
                    stream_id: head.stream_id,
                    reason,
                },
            ))
        };
        let needs_stream = matches!(
            head.kind,
            FrameType::DATA
                | FrameType::HEADERS
                | FrameType::PRIORITY
                | FrameType::RST_STREAM
                | FrameType::PUSH_PROMISE
                | FrameType::CONTINUATION
        );
        if needs_stream && head.stream_id.is_connection() {
            return invalid("the frame needs a stream id other than 0");
        }
        let splittable = matches!(frame, Frame::Headers(_) | Frame::PushPromise(_));
        if head.length > self.max_send && !splittable || head.length > Head::MAX_LENGTH {
            return Err(FrameError::new(
                Side::Internal,
                FrameErrorKind::SendTooLarge {
                    kind: head.kind,
                    stream_id: head.stream_id,
                    length: head.length as usize,
                    max: self.max_send,
                },
            ));
        }
        match frame {
            Frame::WindowUpdate(w)
                if w.increment == 0 || w.increment > super::WindowUpdate::MAX_INCREMENT =>
            {
                invalid("the increment must be 1..=2^31-1")
            }
            Frame::Settings(s) if !s.ack => {
                let mut check = Settings::default();
                for (id, value) in s.params() {
                    if check.set(id, value).is_err() {
                        return invalid("a parameter has a value the RFC forbids");
                    }
                }
                Ok(())
            }
            Frame::Priority(p) if p.spec.dependency == p.stream_id => {
                invalid("a stream cannot depend on itself")
            }
            Frame::Headers(h) if h.priority.is_some_and(|p| p.dependency == h.stream_id) => {
                invalid("a stream cannot depend on itself")
            }
            _ => Ok(()),
        }
    }
}

fn clamp_frame_size(size: u32) -> u32 {
    size.clamp(MIN_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE)
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.expect_preface {
            let n = src.len().min(preface::PREFACE.len());
            if src[..n] != preface::PREFACE[..n] {
                return Err(FrameError::new(self.peer, FrameErrorKind::BadPreface));
            }
            if n < preface::PREFACE.len() {
                return Ok(None);
            }
            src.advance(n);
            self.expect_preface = false;
        }
        if self.discard > 0 {
            let n = self.discard.min(src.len());
            src.advance(n);
            self.discard -= n;
            if self.discard > 0 {
                return Ok(None);
            }
        }
        let Some(head) = Head::parse(src) else {
            return Ok(None);
        };
        let total = Head::LEN + head.length as usize;
        if head.length > self.max_recv {
            let err = FrameError::new(
                self.peer,
                FrameErrorKind::TooLarge {
                    kind: head.kind,
                    stream_id: head.stream_id,
                    length: head.length,
                    max: self.max_recv,
                },
            );
            if err.stream_error().is_some() {
                let n = total.min(src.len());
                src.advance(n);
                self.discard = total - n;
            }
            return Err(err);
        }
        if src.len() < total {
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        frame.advance(Head::LEN);
        Frame::decode(&head, frame.freeze(), self.peer).map(Some)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.write(&frame, dst)
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.write(frame, dst)
    }
}
