//! Moves a body from a connection's read side into a [`Body`] channel, one
//! frame at a time, for both drivers.
//!
//! Every `await` in [`BodyPump::step`] is cancel-safe (a channel permit, a
//! socket read), and a decoded frame waits in the pump until delivered, so
//! the drivers can race a step against writing the other direction inside
//! `select!` without losing bytes.

use bytes::BytesMut;
use mesh_core::Side;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::decode::BodyDecoder;
use crate::body::{BodyError, BodySender, Item};

/// How much to read from the socket at a time.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// The outcome of one step.
#[derive(Debug)]
pub(crate) enum Step {
    /// A frame was delivered.
    Progress,
    /// The whole body was read and delivered.
    Finished,
    /// The reader went away before the end; the rest is unread.
    Abandoned,
    /// The body was malformed or the connection failed; the error went to
    /// the reader (if still there).
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Finished,
    Abandoned,
    Failed,
}

pub(crate) struct BodyPump {
    decoder: BodyDecoder,
    sender: Option<BodySender>,
    pending: Option<Item>,
    side: Side,
    state: State,
    /// An error is queued: once delivered, the pump ends as failed.
    failing: bool,
}

impl BodyPump {
    pub(crate) fn new(decoder: BodyDecoder, sender: Option<BodySender>, side: Side) -> Self {
        let state = if sender.is_none() && decoder.is_done() {
            State::Finished
        } else {
            State::Active
        };
        BodyPump {
            decoder,
            sender,
            pending: None,
            side,
            state,
            failing: false,
        }
    }

    /// Whether the pump still has work.
    pub(crate) fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// Whether the whole body was read off the connection.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Whether the connection is unusable (malformed body, I/O error).
    pub(crate) fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Stops delivering: the reader will see the body as aborted, and the
    /// rest of it stays unread (to be drained or the connection closed).
    pub(crate) fn abandon(&mut self) {
        if self.state == State::Active {
            self.state = State::Abandoned;
        }
        self.sender = None;
        self.pending = None;
    }

    /// Delivers one frame (reading from `rd` as needed), or reaches an end.
    pub(crate) async fn step<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        rbuf: &mut BytesMut,
    ) -> Step {
        loop {
            if self.state != State::Active {
                return self.terminal();
            }
            if self.pending.is_some() {
                let delivered = match self.sender.as_ref() {
                    None => None,
                    Some(sender) => match sender.reserve().await {
                        Ok(permit) => {
                            let item = self.pending.take();
                            let end = !matches!(item, Some(Item::Frame(_)));
                            if let Some(item) = item {
                                permit.send(item);
                            }
                            Some(end)
                        }
                        Err(_) => None,
                    },
                };
                match delivered {
                    Some(false) => return Step::Progress,
                    Some(true) => {
                        self.sender = None;
                        self.state = if self.failing {
                            State::Failed
                        } else {
                            State::Finished
                        };
                        return self.terminal();
                    }
                    None => {
                        self.sender = None;
                        self.pending = None;
                        self.state = if self.failing {
                            State::Failed
                        } else {
                            State::Abandoned
                        };
                        return self.terminal();
                    }
                }
            }
            match self.decoder.decode(rbuf) {
                Ok(Some(frame)) => {
                    self.pending = Some(Item::Frame(frame));
                    continue;
                }
                Ok(None) if self.decoder.is_done() => {
                    self.pending = Some(Item::End);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.fail(BodyError::Malformed(e));
                    continue;
                }
            }
            rbuf.reserve(READ_CHUNK);
            match rd.read_buf(rbuf).await {
                Ok(0) => match self.decoder.decode_eof(rbuf) {
                    Ok(Some(frame)) => self.pending = Some(Item::Frame(frame)),
                    Ok(None) => self.pending = Some(Item::End),
                    Err(e) => self.fail(BodyError::Malformed(e)),
                },
                Ok(_) => {}
                Err(source) => self.fail(BodyError::Io {
                    side: self.side,
                    source,
                }),
            }
        }
    }

    /// Queues `error` for the reader and marks the connection failed; the
    /// error is delivered by the next round of the step loop.
    fn fail(&mut self, error: BodyError) {
        self.pending = Some(Item::Error(error));
        self.failing = true;
    }

    /// Reads and discards the rest of an abandoned body, up to `max` bytes;
    /// `true` when the body ended within that (the connection can serve
    /// another message).
    pub(crate) async fn drain<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        rbuf: &mut BytesMut,
        max: u64,
    ) -> bool {
        match self.state {
            State::Finished => return true,
            State::Failed => return false,
            State::Active | State::Abandoned => {}
        }
        if self.failing {
            return false;
        }
        self.sender = None;
        self.pending = None;
        let mut drained = 0u64;
        loop {
            match self.decoder.decode(rbuf) {
                Ok(Some(frame)) => {
                    drained += frame.data().map_or(0, |d| d.len() as u64);
                    if drained > max {
                        return false;
                    }
                    continue;
                }
                Ok(None) if self.decoder.is_done() => {
                    self.state = State::Finished;
                    return true;
                }
                Ok(None) => {}
                Err(_) => return false,
            }
            rbuf.reserve(READ_CHUNK);
            match rd.read_buf(rbuf).await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
    }

    fn terminal(&self) -> Step {
        match self.state {
            State::Active => Step::Progress,
            State::Finished => Step::Finished,
            State::Abandoned => Step::Abandoned,
            State::Failed => Step::Failed,
        }
    }
}
