//! Flow-control windows (RFC 9113 §5.2, §6.9): pure arithmetic, kept
//! apart from the connection so the rules are tested on their own.

use crate::h2::config::MAX_WINDOW;

/// What the peer lets us send (on a stream or the connection).
///
/// Signed: a peer that lowers SETTINGS_INITIAL_WINDOW_SIZE can make a
/// stream's window negative (§6.9.2), and nothing may be sent until
/// WINDOW_UPDATEs bring it back above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

/// A window grew beyond 2^31-1: FLOW_CONTROL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

impl SendWindow {
    pub(crate) fn new(size: u32) -> SendWindow {
        SendWindow(i64::from(size))
    }

    /// How many bytes may be sent now.
    pub(crate) fn available(self) -> usize {
        usize::try_from(self.0.max(0)).unwrap_or(0)
    }

    /// `n` bytes were sent (`n <= available()`).
    pub(crate) fn consume(&mut self, n: usize) {
        self.0 -= n as i64;
    }

    /// A WINDOW_UPDATE of `increment` arrived.
    pub(crate) fn increase(&mut self, increment: u32) -> Result<(), Overflow> {
        self.adjust(i64::from(increment))
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE changed by `delta`.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = self.0 + delta;
        if next > i64::from(MAX_WINDOW) {
            return Err(Overflow);
        }
        self.0 = next;
        Ok(())
    }
}

/// What the peer may send us, and what the reader has taken but we have
/// not yet given back with WINDOW_UPDATE.
///
/// The window shrinks as DATA arrives and is reopened only when the reader
/// takes the bytes ([`RecvWindow::release`]): that is the whole
/// backpressure of HTTP/2. Updates are batched until half the target is
/// released, so a reader taking small pieces does not cost a
/// WINDOW_UPDATE per piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// What the peer may still send.
    window: i64,
    /// Released by the reader, not yet announced.
    unreleased: u32,
    /// The window we aim to keep open.
    target: u32,
    /// What the peer may send plus what it sent that is unread or
    /// unannounced: constant until we grow it towards `target`.
    granted: i64,
}

/// DATA beyond the window: FLOW_CONTROL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded {
    /// The frame's flow-controlled length.
    pub(crate) len: usize,
    /// The window it had to fit in.
    pub(crate) window: i64,
}

impl RecvWindow {
    /// A window that is `initial` now (what the peer believes) and that we
    /// aim to keep at `target`.
    pub(crate) fn new(initial: u32, target: u32) -> RecvWindow {
        RecvWindow {
            window: i64::from(initial),
            unreleased: 0,
            target,
            granted: i64::from(initial),
        }
    }

    /// A frame of `len` flow-controlled bytes arrived.
    pub(crate) fn receive(&mut self, len: usize) -> Result<(), Exceeded> {
        if len as i64 > self.window {
            return Err(Exceeded {
                len,
                window: self.window,
            });
        }
        self.window -= len as i64;
        Ok(())
    }

    /// The reader took (or we discarded) `n` bytes.
    pub(crate) fn release(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.unreleased = self.unreleased.saturating_add(n);
    }

    /// The WINDOW_UPDATE increment to send now, if enough was released:
    /// what the reader took, plus (once) what it takes to grow the window
    /// from the RFC's 65 535 to the target. Never more, so unread bytes
    /// plus the window stay within the target.
    pub(crate) fn take_update(&mut self) -> Option<u32> {
        let extra = (i64::from(self.target) - self.granted).max(0);
        let increment = (i64::from(self.unreleased) + extra)
            .min(i64::from(MAX_WINDOW) - self.window)
            .max(0);
        if increment == 0 || increment < i64::from(self.target / 2) {
            return None;
        }
        let increment = u32::try_from(increment).ok()?;
        self.window += i64::from(increment);
        self.granted += extra;
        self.unreleased = 0;
        Some(increment)
    }

    /// What the peer may still send.
    #[cfg(test)]
    pub(crate) fn window(&self) -> i64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_windows_go_negative_and_overflow() {
        let mut w = SendWindow::new(10);
        w.consume(10);
        assert_eq!(w.available(), 0);
        w.adjust(-5).unwrap();
        assert_eq!(w.available(), 0);
        w.increase(6).unwrap();
        assert_eq!(w.available(), 1);
        let mut w = SendWindow::new(MAX_WINDOW);
        assert_eq!(w.increase(1), Err(Overflow));
        assert_eq!(w.available(), MAX_WINDOW as usize);
    }

    #[test]
    fn receive_release_update() {
        let mut w = RecvWindow::new(100, 100);
        w.receive(60).unwrap();
        assert_eq!(
            w.receive(41),
            Err(Exceeded {
                len: 41,
                window: 40
            })
        );
        w.release(49);
        assert_eq!(w.take_update(), None, "below half the target");
        w.release(1);
        assert_eq!(w.take_update(), Some(50));
        assert_eq!(w.window(), 90);
        w.receive(90).unwrap();
        w.release(90);
        assert_eq!(w.take_update(), Some(90));
        assert_eq!(w.window(), 90);
    }

    #[test]
    fn a_larger_target_opens_at_once() {
        // The connection window starts at 65 535 whatever we want.
        let mut w = RecvWindow::new(65_535, 1 << 20);
        assert_eq!(w.take_update(), Some((1 << 20) - 65_535));
        assert_eq!(w.window(), 1 << 20);
        assert_eq!(w.take_update(), None);
        let mut w = RecvWindow::new(100, 100);
        assert_eq!(w.take_update(), None);
    }
}
