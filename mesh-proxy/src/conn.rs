//! What every proxied connection does the same way, inbound or outbound:
//! count bytes as they move, copy both ways within the buffer budget, and
//! report (Istio TCP metrics, access log line).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use mesh_core::telemetry::{ConnectionLabels, ResponseFlags};
use mesh_core::{CopyConfig, CopyStats, copy_bidirectional};
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::access_log::AccessLogEntry;
use crate::proxy::Shared;

/// A downstream stream that adds what it reads to `received` and what it
/// writes to `sent` as the bytes move, so `istio_tcp_*_bytes_total` is
/// current for long connections too.
pub struct Metered<S> {
    inner: S,
    sent: Counter,
    received: Counter,
}

impl<S> Metered<S> {
    /// Counts the bytes of `inner` into `sent` and `received`.
    pub fn new(inner: S, sent: Counter, received: Counter) -> Self {
        Metered {
            inner,
            sent,
            received,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.received.inc_by(n as u64);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            self.sent.inc_by(*n as u64);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One connection's report: its labels and its access log entry, filled
/// in as the connection goes, sent when it ends.
pub(crate) struct Report {
    pub(crate) labels: ConnectionLabels,
    pub(crate) entry: AccessLogEntry,
    started: Instant,
}

impl Report {
    pub(crate) fn new() -> Self {
        Report {
            labels: ConnectionLabels::default(),
            entry: AccessLogEntry::new(SystemTime::now()),
            started: Instant::now(),
        }
    }

    /// The connection ends before any upstream: counted as opened and
    /// closed with `flags`, and logged.
    pub(crate) fn refused(mut self, shared: &Shared, flags: ResponseFlags) {
        self.labels.response_flags.insert(flags);
        self.entry.response_flags.insert(flags);
        shared.metrics.istio.tcp_opened(&self.labels);
        shared.metrics.istio.tcp_closed(&self.labels);
        self.log(shared);
    }

    fn log(mut self, shared: &Shared) {
        self.entry.duration = self.started.elapsed();
        if let Some(log) = shared.access_log() {
            log.log(&self.entry);
        }
    }

    /// Copies between `downstream` and `upstream` with live byte counts,
    /// then closes the books.
    pub(crate) async fn proxy<D, U>(
        mut self,
        shared: &Shared,
        downstream: D,
        mut upstream: U,
        copy: &CopyConfig,
    ) -> CopyStats
    where
        D: AsyncRead + AsyncWrite + Unpin,
        U: AsyncRead + AsyncWrite + Unpin,
    {
        let istio = &shared.metrics.istio;
        istio.tcp_opened(&self.labels);
        let (sent, received) = istio.tcp_byte_counters(&self.labels);
        let mut downstream = Metered::new(downstream, sent, received);
        let stats = match copy_bidirectional(&mut downstream, &mut upstream, copy).await {
            Ok(stats) => stats,
            Err(e) => {
                tracing::debug!(error = %e, "connection ended with an error");
                use mesh_core::ErrorClass;
                let flag = match &e {
                    mesh_core::CopyError::IdleTimeout { .. } => ResponseFlags::STREAM_IDLE_TIMEOUT,
                    _ if e.side() == mesh_core::Side::Upstream => {
                        ResponseFlags::UPSTREAM_CONNECTION_TERMINATION
                    }
                    _ => ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION,
                };
                self.entry.response_flags.insert(flag);
                self.entry.connection_termination_details = Some(e.to_string());
                e.stats()
            }
        };
        istio.tcp_closed(&self.labels);
        self.entry.bytes_received = stats.downstream_to_upstream;
        self.entry.bytes_sent = stats.upstream_to_downstream;
        self.log(shared);
        stats
    }
}
