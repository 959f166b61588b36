//! Graceful shutdown: stop accepting, let open connections finish within a
//! deadline, then close what is left.
//!
//! Every connection holds a [`ConnectionGuard`]; [`Drain::drain`] flips the
//! `draining` signal (accept loops stop, `/ready` answers 503) and waits
//! until the last guard is dropped or the deadline passes, when it flips
//! the `force` signal that makes every remaining connection task return.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// The shutdown state shared by listeners and connections.
#[derive(Debug)]
pub struct Drain {
    draining: watch::Sender<bool>,
    force: watch::Sender<bool>,
    active: AtomicUsize,
    idle: Notify,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            draining: watch::Sender::new(false),
            force: watch::Sender::new(false),
            active: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }
}

/// What a drain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainSummary {
    /// Connections open when the drain started.
    pub open_at_start: usize,
    /// Connections still open at the deadline, closed by force.
    pub forced: usize,
}

impl Drain {
    /// A new, not draining state.
    pub fn new() -> Arc<Drain> {
        Arc::new(Drain::default())
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves once a drain has started.
    pub async fn draining(&self) {
        let mut rx = self.draining.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Resolves once open connections must close (the deadline passed).
    pub async fn forced(&self) {
        let mut rx = self.force.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Connections open now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Counts a connection until the guard is dropped.
    pub fn guard(self: &Arc<Self>) -> ConnectionGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard {
            drain: Arc::clone(self),
        }
    }

    /// Stops accepting and waits up to `deadline` for open connections to
    /// end; then closes the rest and waits for their tasks to notice.
    pub async fn drain(&self, deadline: Duration) -> DrainSummary {
        let open_at_start = self.active();
        self.draining.send_replace(true);
        let wait_idle = async {
            loop {
                let notified = self.idle.notified();
                if self.active() == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(deadline, wait_idle).await.is_ok() {
            return DrainSummary {
                open_at_start,
                forced: 0,
            };
        }
        let forced = self.active();
        self.force.send_replace(true);
        // Tasks return at their next poll; give them a moment.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let notified = self.idle.notified();
                if self.active() == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
        DrainSummary {
            open_at_start,
            forced,
        }
    }
}

/// One open connection; dropping it tells the drain.
#[derive(Debug)]
pub struct ConnectionGuard {
    drain: Arc<Drain>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.drain.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drain.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_for_connections_then_forces() {
        let drain = Drain::new();
        let quick = drain.guard();
        let slow = drain.guard();
        let d = Arc::clone(&drain);
        let slow_task = tokio::spawn(async move {
            let _slow = slow;
            d.forced().await;
        });
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(quick);
        });
        let summary = drain.drain(Duration::from_secs(5)).await;
        assert!(drain.is_draining());
        assert_eq!(summary.open_at_start, 2);
        assert_eq!(summary.forced, 1);
        slow_task.await.unwrap();
        assert_eq!(drain.active(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn returns_early_when_idle() {
        let drain = Drain::new();
        let g = drain.guard();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(g);
        });
        let start = tokio::time::Instant::now();
        let summary = drain.drain(Duration::from_secs(30)).await;
        assert_eq!(summary.forced, 0);
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
