//! Assembling one field block from HEADERS and its CONTINUATION frames
//! (RFC 9113 §4.3, §6.10), with the CONTINUATION flood caps.
//!
//! A block that ends in its HEADERS frame (the usual case) is handed on as
//! the frame's own bytes, without a copy. A block split over CONTINUATION
//! frames is joined into one buffer, which is capped: by bytes
//! ([`Limits::max_header_block_size`]) and by frames
//! ([`Limits::max_continuation_frames`], since empty CONTINUATION frames
//! add work without bytes). A block cannot be skipped without breaking the
//! connection's HPACK state, so exceeding a cap ends the connection.
//!
//! [`Limits::max_header_block_size`]: crate::h2::Limits::max_header_block_size
//! [`Limits::max_continuation_frames`]: crate::h2::Limits::max_continuation_frames

use bytes::{Bytes, BytesMut};

use crate::h2::frame::{Continuation, Headers, StreamId};

/// A complete field block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The stream.
    pub(crate) stream_id: StreamId,
    /// The HEADERS frame had END_STREAM.
    pub(crate) end_stream: bool,
    /// The whole encoded block.
    pub(crate) fragment: Bytes,
}

/// Why a block cannot be assembled (all connection errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlockError {
    /// A CONTINUATION with no block open, or on another stream
    /// (PROTOCOL_ERROR).
    UnexpectedContinuation {
        /// The CONTINUATION's stream.
        stream_id: StreamId,
    },
    /// The block grew beyond the byte cap (ENHANCE_YOUR_CALM).
    TooLarge {
        /// The size it would have.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The block took more CONTINUATION frames than the cap
    /// (ENHANCE_YOUR_CALM).
    TooManyFrames {
        /// The cap.
        limit: u32,
    },
}

#[derive(Debug)]
struct Open {
    stream_id: StreamId,
    end_stream: bool,
    buf: BytesMut,
    frames: u32,
}

/// The block being assembled, if any.
#[derive(Debug)]
pub(crate) struct Assembler {
    open: Option<Open>,
    max_size: usize,
    max_frames: u32,
}

impl Assembler {
    pub(crate) fn new(max_size: usize, max_frames: u32) -> Assembler {
        Assembler {
            open: None,
            max_size,
            max_frames,
        }
    }

    /// The stream whose CONTINUATION must come next, if a block is open:
    /// any other frame is then a PROTOCOL_ERROR.
    pub(crate) fn expecting(&self) -> Option<StreamId> {
        self.open.as_ref().map(|o| o.stream_id)
    }

    /// A HEADERS frame (the caller checked that no block is open).
    pub(crate) fn headers(&mut self, h: Headers) -> Result<Option<Block>, BlockError> {
        if h.block.len() > self.max_size {
            return Err(BlockError::TooLarge {
                size: h.block.len(),
                limit: self.max_size,
            });
        }
        if h.end_headers {
            return Ok(Some(Block {
                stream_id: h.stream_id,
                end_stream: h.end_stream,
                fragment: h.block,
            }));
        }
        let mut buf = BytesMut::with_capacity(h.block.len() * 2);
        buf.extend_from_slice(&h.block);
        self.open = Some(Open {
            stream_id: h.stream_id,
            end_stream: h.end_stream,
            buf,
            frames: 0,
        });
        Ok(None)
    }

    /// A CONTINUATION frame.
    pub(crate) fn continuation(&mut self, c: Continuation) -> Result<Option<Block>, BlockError> {
        let Some(open) = self.open.as_mut().filter(|o| o.stream_id == c.stream_id) else {
            return Err(BlockError::UnexpectedContinuation {
                stream_id: c.stream_id,
            });
        };
        open.frames += 1;
        if open.frames > self.max_frames {
            return Err(BlockError::TooManyFrames {
                limit: self.max_frames,
            });
        }
        let size = open.buf.len() + c.block.len();
        if size > self.max_size {
            return Err(BlockError::TooLarge {
                size,
                limit: self.max_size,
            });
        }
        open.buf.extend_from_slice(&c.block);
        if !c.end_headers {
            return Ok(None);
        }
        let Some(open) = self.open.take() else {
            return Ok(None);
        };
        Ok(Some(Block {
            stream_id: open.stream_id,
            end_stream: open.end_stream,
            fragment: open.buf.freeze(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: u32, block: &'static [u8], end_headers: bool) -> Headers {
        let mut h = Headers::new(StreamId::new(id), Bytes::from_static(block));
        h.end_headers = end_headers;
        h.end_stream = true;
        h
    }

    fn cont(id: u32, block: &'static [u8], end_headers: bool) -> Continuation {
        Continuation {
            stream_id: StreamId::new(id),
            block: Bytes::from_static(block),
            end_headers,
        }
    }

    #[test]
    fn whole_and_joined_blocks() {
        let mut a = Assembler::new(100, 4);
        let b = a.headers(headers(1, b"abc", true)).unwrap().unwrap();
        assert_eq!(&b.fragment[..], b"abc");
        assert!(b.end_stream);
        assert_eq!(a.headers(headers(3, b"ab", false)).unwrap(), None);
        assert_eq!(a.expecting(), Some(StreamId::new(3)));
        assert_eq!(a.continuation(cont(3, b"cd", false)).unwrap(), None);
        let b = a.continuation(cont(3, b"ef", true)).unwrap().unwrap();
        assert_eq!(&b.fragment[..], b"abcdef");
        assert_eq!(b.stream_id, StreamId::new(3));
        assert_eq!(a.expecting(), None);
    }

    #[test]
    fn caps_and_misplaced_continuations() {
        let mut a = Assembler::new(5, 2);
        assert_eq!(
            a.continuation(cont(1, b"x", true)),
            Err(BlockError::UnexpectedContinuation {
                stream_id: StreamId::new(1)
            })
        );
        a.headers(headers(1, b"ab", false)).unwrap();
        assert!(matches!(
            a.continuation(cont(3, b"x", true)),
            Err(BlockError::UnexpectedContinuation { .. })
        ));
        a.continuation(cont(1, b"", false)).unwrap();
        a.continuation(cont(1, b"", false)).unwrap();
        assert_eq!(
            a.continuation(cont(1, b"", false)),
            Err(BlockError::TooManyFrames { limit: 2 })
        );
        let mut a = Assembler::new(5, 10);
        a.headers(headers(1, b"abc", false)).unwrap();
        assert_eq!(
            a.continuation(cont(1, b"def", true)),
            Err(BlockError::TooLarge { size: 6, limit: 5 })
        );
        assert!(matches!(
            Assembler::new(2, 1).headers(headers(1, b"abc", true)),
            Err(BlockError::TooLarge { .. })
        ));
    }
}
