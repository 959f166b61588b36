//! The task that drives one HTTP/2 connection: it reads frames into the
//! connection state, writes what the state queued (vectored, so large
//! DATA payloads are never copied), and runs the timers.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};

use super::Error;
use super::conn::ConnStats;
use super::shared::Shared;

/// How much the driver reads at a time.
const READ_CHUNK: usize = 16 * 1024;

/// How many buffers one vectored write takes.
const MAX_SLICES: usize = 64;

/// How long a failing connection tries to deliver its GOAWAY to a peer
/// that does not read.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// One HTTP/2 connection's I/O task: spawn [`Connection::run`] (or await
/// it next to the handles, as [`serve_connection`](super::server::serve_connection)
/// does).
///
/// It ends when the connection does: `Ok` after a graceful end (both
/// sides done, or the peer closed between streams), `Err` with what went
/// wrong otherwise. Every stream still open then fails with that error.
pub struct Connection<I> {
    io: I,
    shared: Arc<Shared>,
}

impl<I> std::fmt::Debug for Connection<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl<I> Connection<I>
where
    I: AsyncRead + AsyncWrite + Send + Unpin,
{
    pub(crate) fn new(io: I, shared: Arc<Shared>) -> Connection<I> {
        Connection { io, shared }
    }

    /// What the connection holds right now (for tests and metrics).
    pub fn stats(&self) -> ConnStats {
        self.shared.stats()
    }

    /// A handle that reads the connection's [`ConnStats`] while it runs
    /// (for a metrics exporter, or a test that bounds memory).
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs the connection to its end.
    pub async fn run(self) -> Result<(), Error> {
        let Connection { io, shared } = self;
        let (mut rd, mut wr) = tokio::io::split(io);
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut writing: VecDeque<Bytes> = VecDeque::new();
        let mut reading = true;
        let mut flush_deadline: Option<Instant> = None;
        loop {
            let (deadline, done, failed) = {
                let mut core = shared.lock();
                core.schedule();
                core.take_output(&mut writing);
                let _ = core.take_wake();
                (core.next_deadline(), core.check_done(), core.is_failed())
            };
            if failed {
                reading = false;
            }
            if done {
                if writing.is_empty() {
                    break;
                }
                let limit = *flush_deadline.get_or_insert_with(|| Instant::now() + CLOSE_FLUSH);
                if Instant::now() >= limit {
                    break;
                }
            }
            let flush_limit = flush_deadline;
            tokio::select! {
                biased;
                written = async {
                    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                    let mut n = 0;
                    for (slot, chunk) in slices.iter_mut().zip(writing.iter()) {
                        *slot = IoSlice::new(chunk);
                        n += 1;
                    }
                    wr.write_vectored(&slices[..n]).await
                }, if !writing.is_empty() => match written {
                    Ok(0) => {
                        let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                        shared.with(|c| c.on_io_error(e));
                        break;
                    }
                    Ok(n) => {
                        advance(&mut writing, n);
                        shared.with(|c| c.written(n));
                    }
                    Err(e) => {
                        shared.with(|c| c.on_io_error(e));
                        break;
                    }
                },
                read = async {
                    if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                        rbuf.reserve(READ_CHUNK);
                    }
                    rd.read_buf(&mut rbuf).await
                }, if reading => match read {
                    Ok(0) => {
                        reading = false;
                        shared.with(|c| c.on_eof());
                    }
                    Ok(_) => shared.with(|c| c.recv_bytes(&mut rbuf)),
                    Err(e) => {
                        reading = false;
                        shared.with(|c| c.on_io_error(e));
                    }
                },
                () = shared.notified() => {}
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    shared.with(|c| c.on_timer());
                }
                () = sleep_until(flush_limit.unwrap_or_else(Instant::now)), if flush_limit.is_some() => {
                    break;
                }
            }
        }
        let _ = timeout(CLOSE_FLUSH, wr.shutdown()).await;
        let mut core = shared.lock();
        let outcome = core.outcome();
        core.finish();
        outcome
    }
}

/// Reads a connection's [`ConnStats`]; cheap to clone, and it does not
/// keep the connection open.
#[derive(Clone)]
pub struct StatsHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StatsHandle").field(&self.get()).finish()
    }
}

impl StatsHandle {
    /// What the connection holds right now.
    pub fn get(&self) -> ConnStats {
        self.shared.stats()
    }
}

/// Drops `n` written bytes from the front of the write list.
fn advance(writing: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = writing.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            writing.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_across_chunks() {
        let mut w: VecDeque<Bytes> = ["abc", "de", "fgh"]
            .into_iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        advance(&mut w, 4);
        assert_eq!(w.len(), 2);
        assert_eq!(&w[0][..], b"e");
        advance(&mut w, 1);
        assert_eq!(&w[0][..], b"fgh");
        advance(&mut w, 10);
        assert!(w.is_empty());
    }
}
