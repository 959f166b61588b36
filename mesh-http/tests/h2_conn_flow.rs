//! End-to-end flow control through a forwarding pair: client → proxy
//! (our server, forwarding each stream with [`forward`] to our client) →
//! upstream (our server), all on in-memory pipes. A reader that takes one
//! frame per millisecond of tokio's paused clock is at the far end of a
//! 16 MiB body, first for an upload and then for a download. The test
//! asserts that what the proxy holds (both its connections' own accounting
//! of receive buffers, send buffers and write buffers) stays under a fixed
//! bound the whole time, and that the producer at the near end is never
//! more than a bounded distance ahead of the slow reader: the reader slows
//! the writer, through every hop.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use mesh_core::Side;
use mesh_http::h1::Method;
use mesh_http::h2::{
    Config, ConnStats, Request, RequestHead, Response, StatsHandle, client, forward, local_reply,
    server,
};
use mesh_http::{Body, Frame};

const TOTAL: usize = 16 << 20;
const CHUNK: usize = 16 * 1024;
/// Each in-memory pipe holds at most this much.
const PIPE: usize = 16 * 1024;

/// Small windows and buffers, so the bound is tight.
fn config() -> Config {
    Config {
        stream_window: 65_535,
        connection_window: 128 * 1024,
        stream_send_buffer: 16 * 1024,
        write_buffer: 16 * 1024,
        ..Config::default()
    }
}

/// What the proxy may hold: the downstream stream's receive window, the
/// upstream stream's send buffer plus the frame the pump holds, and a
/// write buffer plus a frame on each side. (The connection windows are
/// larger than the stream windows, so one stream is bounded by these.)
const PROXY_BOUND: usize = 65_535 + (16 * 1024 + CHUNK) + 2 * (16 * 1024 + CHUNK);

fn total(s: ConnStats) -> usize {
    s.recv_buffered + s.send_buffered + s.write_buffered
}

/// Counters shared by the producer, the slow reader and the sampler.
#[derive(Default)]
struct Progress {
    produced: AtomicUsize,
    consumed: AtomicUsize,
    /// The largest (produced - consumed) seen.
    max_ahead: AtomicUsize,
    /// The largest proxy holding seen.
    max_proxy: AtomicUsize,
}

/// A body of `TOTAL` bytes, produced as fast as the consumer lets it.
fn producer(progress: Arc<Progress>) -> Body {
    let (mut tx, body) = Body::channel(Some(TOTAL as u64), Side::Internal);
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![0x5a; CHUNK]);
        for _ in 0..TOTAL / CHUNK {
            tx.send_data(chunk.clone()).await.unwrap();
            progress.produced.fetch_add(CHUNK, Ordering::SeqCst);
        }
        tx.finish().await.unwrap();
    });
    body
}

/// Reads `body` one frame per paused millisecond, sampling the proxy.
async fn slow_read(mut body: Body, progress: Arc<Progress>, proxy: &OnceLock<Proxy>) -> usize {
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        if let Frame::Data(d) = frame.unwrap() {
            n += d.len();
            progress.consumed.fetch_add(d.len(), Ordering::SeqCst);
        }
        let ahead =
            progress.produced.load(Ordering::SeqCst) - progress.consumed.load(Ordering::SeqCst);
        progress.max_ahead.fetch_max(ahead, Ordering::SeqCst);
        let held = proxy.get().map_or(0, Proxy::held);
        progress.max_proxy.fetch_max(held, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    n
}

/// The proxy's two connections.
struct Proxy {
    down: StatsHandle,
    up: StatsHandle,
}

impl Proxy {
    /// What the proxy holds: both connections' own accounting.
    fn held(&self) -> usize {
        total(self.down.get()) + total(self.up.get())
    }
}

/// The three hops. The upstream's `service` gets the request; the proxy
/// forwards; `proxy` is set once the proxy's connections exist.
async fn chain<S>(upstream: S, proxy: Arc<OnceLock<Proxy>>) -> client::SendRequest
where
    S: server::Service + 'static,
{
    // Proxy → upstream.
    let (up_a, up_b) = tokio::io::duplex(PIPE);
    tokio::spawn(async move { server::serve_connection(up_b, &upstream, config()).await });
    let (to_upstream, connection) = client::handshake(up_a, config());
    let up = connection.stats_handle();
    tokio::spawn(connection.run());
    // Client → proxy.
    let (down_a, down_b) = tokio::io::duplex(PIPE);
    let (mut incoming, connection) = server::handshake(down_b, config());
    let down = connection.stats_handle();
    tokio::spawn(connection.run());
    let _ = proxy.set(Proxy { down, up });
    tokio::spawn(async move {
        while let Some(Ok((request, respond))) = incoming.accept().await {
            let upstream = to_upstream.clone();
            tokio::spawn(async move {
                let response = match forward(&upstream, request).await {
                    Ok(r) => r,
                    Err(e) => local_reply(&e),
                };
                let _ = respond.send_response(response);
            });
        }
    });
    let (sender, connection) = client::handshake(down_a, config());
    tokio::spawn(connection.run());
    sender
}

#[tokio::test(start_paused = true)]
async fn a_slow_upstream_reader_slows_the_uploading_client() {
    let progress = Arc::new(Progress::default());
    let proxy = Arc::new(OnceLock::new());
    let read_bytes = Arc::new(AtomicUsize::new(0));
    let (p, px, done) = (progress.clone(), proxy.clone(), read_bytes.clone());
    let upstream = move |req: Request| {
        let (progress, proxy, done) = (p.clone(), px.clone(), done.clone());
        async move {
            let n = slow_read(req.body, progress, &proxy).await;
            done.store(n, Ordering::SeqCst);
            Response::with_status(200, "done")
        }
    };
    let sender = chain(upstream, proxy).await;
    let head = RequestHead::new(Method::POST, "http", "upstream", "/upload").unwrap();
    let response = sender
        .send(Request::new(head, producer(progress.clone())))
        .await
        .unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(read_bytes.load(Ordering::SeqCst), TOTAL);
    assert_bounded(&progress);
}

/// The proxy buffered something but never more than its bound, and the
/// producer never ran further ahead of the reader than the buffers between
/// them hold: the client's body channel and stream, three pipes, the
/// proxy, and the receiving side's window.
fn assert_bounded(progress: &Progress) {
    let max_proxy = progress.max_proxy.load(Ordering::SeqCst);
    let max_ahead = progress.max_ahead.load(Ordering::SeqCst);
    assert!(
        max_proxy <= PROXY_BOUND,
        "proxy held {max_proxy} > {PROXY_BOUND}"
    );
    assert!(max_proxy > 0);
    let ahead_bound = 2 * CHUNK + (16 * 1024 + CHUNK) + 16 * 1024 + 3 * PIPE + PROXY_BOUND + 65_535;
    assert!(
        max_ahead <= ahead_bound,
        "the producer ran {max_ahead} ahead"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_client_reader_slows_the_upstream() {
    let progress = Arc::new(Progress::default());
    let up_progress = progress.clone();
    let upstream = move |_req: Request| {
        let progress = up_progress.clone();
        async move { Response::with_status(200, producer(progress)) }
    };
    let proxy = Arc::new(OnceLock::new());
    let sender = chain(upstream, proxy.clone()).await;
    let head = RequestHead::new(Method::GET, "http", "upstream", "/download").unwrap();
    let response = sender.send(Request::new(head, ())).await.unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(response.body.size_hint(), Some(TOTAL as u64));
    let n = slow_read(response.body, progress.clone(), &proxy).await;
    assert_eq!(n, TOTAL);
    assert_bounded(&progress);
}
