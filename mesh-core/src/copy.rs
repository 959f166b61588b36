//! Bidirectional copy for opaque TCP, with byte counts, half-close and an
//! idle timeout.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::{ErrorClass, Side};

/// Limits of one [`copy_bidirectional`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyConfig {
    /// Bytes buffered per direction: the memory a connection holds is twice
    /// this. Default 16 KiB.
    pub buffer_size: usize,
    /// Close both sides when no byte moved either way for this long.
    /// `None` waits forever. Default one hour (Envoy's TCP proxy default).
    pub idle_timeout: Option<Duration>,
}

impl Default for CopyConfig {
    fn default() -> Self {
        CopyConfig {
            buffer_size: 16 * 1024,
            idle_timeout: Some(Duration::from_secs(3600)),
        }
    }
}

/// Bytes moved by a copy, in each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Read from downstream and written upstream (Istio's received bytes).
    pub downstream_to_upstream: u64,
    /// Read from upstream and written downstream (Istio's sent bytes).
    pub upstream_to_downstream: u64,
}

/// What a copy was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOp {
    /// Reading from this side.
    Read(Side),
    /// Writing, flushing or shutting down this side.
    Write(Side),
}

/// Why a copy ended before both sides closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// An I/O error on one side.
    #[error("{op:?} failed after {stats:?}: {source}")]
    Io {
        /// Which side and which operation.
        op: CopyOp,
        /// Bytes moved before the failure.
        stats: CopyStats,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// No byte moved either way for the idle timeout.
    #[error("connection idle for {after:?} after {stats:?}")]
    IdleTimeout {
        /// The configured timeout.
        after: Duration,
        /// Bytes moved before the timeout.
        stats: CopyStats,
    },
}

impl CopyError {
    /// Bytes moved before the copy ended.
    pub fn stats(&self) -> CopyStats {
        match self {
            CopyError::Io { stats, .. } | CopyError::IdleTimeout { stats, .. } => *stats,
        }
    }
}

impl ErrorClass for CopyError {
    fn side(&self) -> Side {
        match self {
            CopyError::Io {
                op: CopyOp::Read(side) | CopyOp::Write(side),
                ..
            } => *side,
            CopyError::IdleTimeout { .. } => Side::Downstream,
        }
    }

    /// Bytes may have reached the upstream: never safe to retry.
    fn retry_safe(&self) -> bool {
        false
    }
}

/// One direction: read into a bounded buffer, write it out, and shut the
/// writer down once the reader has ended (half-close).
struct Half {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    read_done: bool,
    done: bool,
    moved: u64,
}

impl Half {
    fn new(size: usize) -> Self {
        Half {
            buf: vec![0; size.max(1)].into_boxed_slice(),
            start: 0,
            end: 0,
            read_done: false,
            done: false,
            moved: 0,
        }
    }

    /// Moves bytes until both sides would block. `progress` is set when
    /// any byte moved or a side closed.
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
        progress: &mut bool,
    ) -> Poll<Result<(), (bool, io::Error)>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        let mut reader = reader;
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.start == self.end && !self.read_done {
                let mut rb = ReadBuf::new(&mut self.buf);
                match reader.as_mut().poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        *progress = true;
                        if n == 0 {
                            self.read_done = true;
                        } else {
                            self.start = 0;
                            self.end = n;
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err((true, e))),
                    Poll::Pending => {
                        // Nothing buffered to write: flush what the writer holds.
                        return match writer.as_mut().poll_flush(cx) {
                            Poll::Ready(Err(e)) => Poll::Ready(Err((false, e))),
                            _ => Poll::Pending,
                        };
                    }
                }
            }
            while self.start < self.end {
                let n = match ready!(
                    writer
                        .as_mut()
                        .poll_write(cx, &self.buf[self.start..self.end])
                ) {
                    Ok(0) => {
                        return Poll::Ready(Err((
                            false,
                            io::Error::new(io::ErrorKind::WriteZero, "peer accepted no bytes"),
                        )));
                    }
                    Ok(n) => n,
                    Err(e) => return Poll::Ready(Err((false, e))),
                };
                self.start += n;
                self.moved += n as u64;
                *progress = true;
            }
            if self.read_done {
                match ready!(writer.as_mut().poll_shutdown(cx)) {
                    // The peer may already be gone; its half is over either way.
                    Ok(()) | Err(_) => {}
                }
                self.done = true;
                *progress = true;
            }
        }
    }
}

/// Copies bytes both ways between `downstream` and `upstream` until both
/// directions have ended, and returns how many bytes moved each way.
///
/// When one side's read ends, the other side's write is shut down and the
/// opposite direction goes on (half-close), as TCP proxies must for
/// protocols that signal the end of a request by closing. Each direction
/// holds at most [`CopyConfig::buffer_size`] bytes. The idle timer restarts
/// whenever a byte moves either way.
pub async fn copy_bidirectional<D, U>(
    downstream: &mut D,
    upstream: &mut U,
    config: &CopyConfig,
) -> Result<CopyStats, CopyError>
where
    D: AsyncRead + AsyncWrite + Unpin + ?Sized,
    U: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut up = Half::new(config.buffer_size);
    let mut down = Half::new(config.buffer_size);
    let mut idle: Option<Pin<Box<Sleep>>> =
        config.idle_timeout.map(|t| Box::pin(tokio::time::sleep(t)));
    poll_fn(|cx| {
        let stats = |up: &Half, down: &Half| CopyStats {
            downstream_to_upstream: up.moved,
            upstream_to_downstream: down.moved,
        };
        let mut progress = false;
        let a = up.poll(
            cx,
            Pin::new(&mut *downstream),
            Pin::new(&mut *upstream),
            &mut progress,
        );
        if let Poll::Ready(Err((reading, source))) = a {
            let op = if reading {
                CopyOp::Read(Side::Downstream)
            } else {
                CopyOp::Write(Side::Upstream)
            };
            return Poll::Ready(Err(CopyError::Io {
                op,
                stats: stats(&up, &down),
                source,
            }));
        }
        let b = down.poll(
            cx,
            Pin::new(&mut *upstream),
            Pin::new(&mut *downstream),
            &mut progress,
        );
        if let Poll::Ready(Err((reading, source))) = b {
            let op = if reading {
                CopyOp::Read(Side::Upstream)
            } else {
                CopyOp::Write(Side::Downstream)
            };
            return Poll::Ready(Err(CopyError::Io {
                op,
                stats: stats(&up, &down),
                source,
            }));
        }
        if a.is_ready() && b.is_ready() {
            return Poll::Ready(Ok(stats(&up, &down)));
        }
        if let (Some(sleep), Some(after)) = (idle.as_mut(), config.idle_timeout) {
            if progress {
                sleep.as_mut().reset(Instant::now() + after);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(CopyError::IdleTimeout {
                    after,
                    stats: stats(&up, &down),
                }));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn counts_and_half_close_both_ways() {
        // client <-> [downstream | proxy | upstream] <-> server
        let (mut client, mut downstream) = duplex(1024);
        let (mut upstream, mut server) = duplex(1024);
        let proxy = tokio::spawn(async move {
            copy_bidirectional(&mut downstream, &mut upstream, &CopyConfig::default()).await
        });

        let response = vec![7u8; 100_000];
        let server = tokio::spawn(async move {
            // The server sees the request and then EOF (half-close
            // propagated)...
            let mut req = Vec::new();
            server.read_to_end(&mut req).await.unwrap();
            assert_eq!(req, b"request bytes");
            // ...and can still answer on the other direction.
            server.write_all(&[7u8; 100_000]).await.unwrap();
            server.shutdown().await.unwrap();
        });
        // The client sends a request and closes its write side.
        client.write_all(b"request bytes").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, response);
        server.await.unwrap();

        let stats = proxy.await.unwrap().unwrap();
        assert_eq!(stats.downstream_to_upstream, 13);
        assert_eq!(stats.upstream_to_downstream, 100_000);
    }

    #[tokio::test]
    async fn server_closes_first() {
        let (mut client, mut downstream) = duplex(64);
        let (mut upstream, mut server) = duplex(64);
        let proxy = tokio::spawn(async move {
            copy_bidirectional(&mut downstream, &mut upstream, &CopyConfig::default()).await
        });
        server.write_all(b"220 banner\r\n").await.unwrap();
        server.shutdown().await.unwrap();
        let mut banner = Vec::new();
        client.read_to_end(&mut banner).await.unwrap();
        assert_eq!(banner, b"220 banner\r\n");
        client.write_all(b"QUIT\r\n").await.unwrap();
        client.shutdown().await.unwrap();
        let mut quit = Vec::new();
        server.read_to_end(&mut quit).await.unwrap();
        assert_eq!(quit, b"QUIT\r\n");
        let stats = proxy.await.unwrap().unwrap();
        assert_eq!(
            (stats.downstream_to_upstream, stats.upstream_to_downstream),
            (6, 12)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_reports_counts() {
        let (mut client, mut downstream) = duplex(64);
        let (mut upstream, mut server) = duplex(64);
        let config = CopyConfig {
            idle_timeout: Some(Duration::from_secs(30)),
            ..CopyConfig::default()
        };
        let proxy = tokio::spawn(async move {
            let start = Instant::now();
            let r = copy_bidirectional(&mut downstream, &mut upstream, &config).await;
            (r, start.elapsed())
        });
        client.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        server.read_exact(&mut got).await.unwrap();
        // Activity 10 s later restarts the timer.
        tokio::time::sleep(Duration::from_secs(10)).await;
        server.write_all(b"hi").await.unwrap();
        let mut got = [0u8; 2];
        client.read_exact(&mut got).await.unwrap();
        let (result, elapsed) = proxy.await.unwrap();
        match result {
            Err(CopyError::IdleTimeout { after, stats }) => {
                assert_eq!(after, Duration::from_secs(30));
                assert_eq!(stats.downstream_to_upstream, 5);
                assert_eq!(stats.upstream_to_downstream, 2);
            }
            other => panic!("expected an idle timeout, got {other:?}"),
        }
        assert_eq!(elapsed, Duration::from_secs(40));
    }

    #[tokio::test]
    async fn small_buffer_still_moves_everything() {
        let (mut client, mut downstream) = duplex(7);
        let (mut upstream, mut server) = duplex(5);
        let config = CopyConfig {
            buffer_size: 3,
            idle_timeout: None,
        };
        let proxy = tokio::spawn(async move {
            copy_bidirectional(&mut downstream, &mut upstream, &config).await
        });
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client.shutdown().await.unwrap();
            client
        });
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
        drop(server);
        drop(writer.await.unwrap());
        let stats = proxy.await.unwrap().unwrap();
        assert_eq!(stats.downstream_to_upstream, 10_000);
    }

    #[tokio::test]
    async fn read_error_names_its_side() {
        struct Broken;
        impl AsyncRead for Broken {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
            }
        }
        impl AsyncWrite for Broken {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                b: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(b.len()))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let (_client, mut downstream) = duplex(64);
        let err = copy_bidirectional(&mut downstream, &mut Broken, &CopyConfig::default())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            CopyError::Io {
                op: CopyOp::Read(Side::Upstream),
                ..
            }
        ));
        assert_eq!(err.side(), Side::Upstream);
        assert!(!err.retry_safe());
    }
}
