//! The client connection, the pool and the forwarding helper over
//! in-memory streams: reuse, the per-host cap, the idle timeout on paused
//! time, early upstream closes, hop-by-hop removal and backpressure in
//! both directions.
// Test helpers (not only #[test] functions) unwrap: a panic here is a
// failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mesh_core::{Connect, ConnectError, ErrorClass, Side, Target};
use mesh_http::h1::{
    Body, BodyError, ClientConfig, ClientError, ErrorKind, Method, Pool, PoolConfig, Request,
    RequestHead, Response, ServerConfig, forward, handshake, local_reply, serve_connection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// Dials in-memory pipes: each connect hands the other end to the test's
/// upstream through a channel.
struct PipeConnector {
    accept: mpsc::UnboundedSender<DuplexStream>,
    dialed: Arc<AtomicUsize>,
    pipe_size: usize,
}

impl Connect for PipeConnector {
    type Io = DuplexStream;

    async fn connect(&self, _target: &Target) -> Result<DuplexStream, ConnectError> {
        let (near, far) = tokio::io::duplex(self.pipe_size);
        self.dialed.fetch_add(1, Ordering::SeqCst);
        let _ = self.accept.send(far);
        Ok(near)
    }
}

fn pipes(
    pipe_size: usize,
) -> (
    PipeConnector,
    mpsc::UnboundedReceiver<DuplexStream>,
    Arc<AtomicUsize>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let dialed = Arc::new(AtomicUsize::new(0));
    (
        PipeConnector {
            accept: tx,
            dialed: dialed.clone(),
            pipe_size,
        },
        rx,
        dialed,
    )
}

/// Serves every accepted pipe with our server driver and `service`.
fn upstream<S>(mut accept: mpsc::UnboundedReceiver<DuplexStream>, service: S) -> Arc<AtomicUsize>
where
    S: mesh_http::h1::Service + Clone + 'static,
{
    let ended = Arc::new(AtomicUsize::new(0));
    let counter = ended.clone();
    tokio::spawn(async move {
        while let Some(io) = accept.recv().await {
            let service = service.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let _ = serve_connection(io, &service, &ServerConfig::default()).await;
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    ended
}

fn target() -> Target {
    Target::new("127.0.0.1:9".parse().unwrap())
}

fn get(path: &str) -> Request {
    let mut head = RequestHead::new(Method::GET, path.to_owned()).unwrap();
    head.headers.append("host", "upstream").unwrap();
    Request::new(head, ())
}

async fn hello(req: Request) -> Response {
    Response::with_status(
        200,
        format!("hello {}", String::from_utf8_lossy(&req.head.target)),
    )
}

#[tokio::test]
async fn a_single_connection_carries_requests_one_after_another() {
    let (connector, accept, _) = pipes(64 * 1024);
    upstream(accept, hello);
    // Not through the pool: the bare connection API.
    let (connector_io, _) = (connector.connect(&target()).await.unwrap(), ());
    let (sender, connection) = handshake(connector_io, ClientConfig::default());
    let task = tokio::spawn(connection.run());
    for path in ["/a", "/b", "/c"] {
        let res = sender.send(get(path)).await.unwrap();
        let (body, _) = res.body.collect(1024).await.unwrap();
        assert_eq!(body, Bytes::from(format!("hello {path}")));
    }
    drop(sender);
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_pool_reuses_and_caps_connections_per_host() {
    let (connector, accept, dialed) = pipes(64 * 1024);
    upstream(accept, hello);
    let pool = Pool::new(
        connector,
        PoolConfig {
            max_per_host: 1,
            ..PoolConfig::default()
        },
    );
    for path in ["/1", "/2", "/3"] {
        let res = pool.send(&target(), get(path)).await.unwrap();
        res.body.collect(1024).await.unwrap();
    }
    tokio::task::yield_now().await;
    assert_eq!(dialed.load(Ordering::SeqCst), 1);

    // Ten at once with a cap of one: all served, one after the other, on
    // the same connection.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let res = pool.send(&target(), get(&format!("/c{i}"))).await.unwrap();
            res.body.collect(1024).await.unwrap().0
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), Bytes::from(format!("hello /c{i}")));
    }
    assert_eq!(dialed.load(Ordering::SeqCst), 1);

    // A cap of two is reached, not exceeded: two responses too big to be
    // queued whole keep both connections busy until they are read.
    let (connector, accept, dialed) = pipes(64 * 1024);
    let big =
        |_req: Request| async { Response::with_status(200, Bytes::from(vec![b'b'; 1 << 20])) };
    upstream(accept, big);
    let pool = Pool::new(
        connector,
        PoolConfig {
            max_per_host: 2,
            ..PoolConfig::default()
        },
    );
    let mut held = Vec::new();
    for i in 0..2 {
        held.push(pool.send(&target(), get(&format!("/h{i}"))).await.unwrap());
    }
    let third = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.send(&target(), get("/third")).await.unwrap() })
    };
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(dialed.load(Ordering::SeqCst), 2);
    assert!(!third.is_finished(), "the third waits for a connection");
    for res in held {
        assert_eq!(res.body.collect(2 << 20).await.unwrap().0.len(), 1 << 20);
    }
    let res = third.await.unwrap();
    assert_eq!(res.body.collect(2 << 20).await.unwrap().0.len(), 1 << 20);
    assert_eq!(dialed.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_connections_close_after_the_idle_timeout() {
    let (connector, accept, dialed) = pipes(64 * 1024);
    let ended = upstream(accept, hello);
    let pool = Pool::new(
        connector,
        PoolConfig {
            max_per_host: 4,
            client: ClientConfig {
                idle_timeout: Duration::from_secs(5),
                ..ClientConfig::default()
            },
        },
    );
    let res = pool.send(&target(), get("/")).await.unwrap();
    res.body.collect(1024).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(pool.idle_connections(&target()), 1);
    assert_eq!(ended.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(pool.idle_connections(&target()), 0);
    assert_eq!(
        ended.load(Ordering::SeqCst),
        1,
        "the upstream saw the close"
    );
    // The next request dials again.
    let res = pool.send(&target(), get("/")).await.unwrap();
    res.body.collect(1024).await.unwrap();
    assert_eq!(dialed.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_upstream_closing_early_is_an_upstream_error() {
    let (connector, mut accept, _) = pipes(64 * 1024);
    tokio::spawn(async move {
        // First connection: read the head, close without answering.
        let mut io = accept.recv().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = io.read(&mut buf).await.unwrap();
        drop(io);
        // Second: answer with a body cut short.
        let mut io = accept.recv().await.unwrap();
        let _ = io.read(&mut buf).await.unwrap();
        io.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
            .await
            .unwrap();
        drop(io);
        // Third: garbage instead of a response.
        let mut io = accept.recv().await.unwrap();
        let _ = io.read(&mut buf).await.unwrap();
        io.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    });
    let pool = Pool::new(connector, PoolConfig::default());

    let err = pool.send(&target(), get("/")).await.unwrap_err();
    assert!(matches!(err, ClientError::UpstreamClosed), "{err:?}");
    assert_eq!(err.side(), Side::Upstream);
    assert!(!err.retry_safe(), "the upstream may have acted on it");
    assert_eq!(err.status(), 502);
    assert_eq!(local_reply(&err).head.status, 502);

    let res = pool.send(&target(), get("/")).await.unwrap();
    let err = res.body.collect(1024).await.unwrap_err();
    assert!(
        matches!(&err, BodyError::Malformed(e) if e.kind == ErrorKind::IncompleteBody { remaining: 91 }),
        "{err:?}"
    );
    assert_eq!(err.side(), Side::Upstream);

    let err = pool.send(&target(), get("/")).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Malformed(e) if e.status() == 502),
        "{err:?}"
    );
    assert_eq!(err.side(), Side::Upstream);
}

#[tokio::test]
async fn forward_removes_hop_by_hop_fields_both_ways() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let (connector, accept, _) = pipes(64 * 1024);
    let svc = move |req: Request| {
        let record = record.clone();
        async move {
            let names = req
                .head
                .headers
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        String::from_utf8_lossy(&f.name),
                        String::from_utf8_lossy(&f.value)
                    )
                })
                .collect();
            *record.lock().unwrap() = names;
            let (body, _) = req.body.collect(1024).await.unwrap();
            let mut res = Response::with_status(200, body);
            for (n, v) in [
                ("Connection", "X-Resp-Hop"),
                ("X-Resp-Hop", "1"),
                ("Keep-Alive", "timeout=5"),
                ("X-Resp-End", "2"),
            ] {
                res.head.headers.append(n, v).unwrap();
            }
            res
        }
    };
    upstream(accept, svc);
    let pool = Pool::new(connector, PoolConfig::default());
    let mut head = RequestHead::new(Method::POST, "/submit").unwrap();
    for (n, v) in [
        ("Host", "upstream"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "secret"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("Upgrade", "websocket"),
        ("X-End", "kept"),
    ] {
        head.headers.append(n, v).unwrap();
    }
    let res = forward(&pool, &target(), Request::new(head, "payload"))
        .await
        .unwrap();
    let names: Vec<String> = res
        .head
        .headers
        .iter()
        .map(|f| String::from_utf8_lossy(&f.name).into_owned())
        .collect();
    assert!(names.contains(&"X-Resp-End".to_owned()), "{names:?}");
    for hop in ["Connection", "X-Resp-Hop", "Keep-Alive"] {
        assert!(!names.contains(&hop.to_owned()), "{hop} in {names:?}");
    }
    assert_eq!(res.body.collect(1024).await.unwrap().0, "payload");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "Host: upstream",
            "X-End: kept",
            "te: trailers",
            "content-length: 7"
        ],
        "what the upstream received"
    );
}

/// Counts what a body producer managed to hand over.
async fn produce(mut tx: mesh_http::h1::BodySender, chunks: usize, sent: Arc<AtomicU64>) {
    let chunk = Bytes::from(vec![b'p'; 16 * 1024]);
    for _ in 0..chunks {
        if tx.send_data(chunk.clone()).await.is_err() {
            return;
        }
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    tx.finish().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn backpressure_from_a_slow_upstream_reaches_the_request_body() {
    let (connector, mut accept, _) = pipes(16 * 1024);
    let pool = Pool::new(connector, PoolConfig::default());
    let (tx, body) = Body::channel(None, Side::Downstream);
    let sent = Arc::new(AtomicU64::new(0));
    tokio::spawn(produce(tx, 1024, sent.clone()));
    let mut head = RequestHead::new(Method::POST, "/upload").unwrap();
    head.headers.append("host", "upstream").unwrap();
    let exchange =
        tokio::spawn(async move { forward(&pool, &target(), Request::new(head, body)).await });
    // The upstream takes the connection and reads nothing for a while.
    let mut io = accept.recv().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stalled = sent.load(Ordering::SeqCst);
    assert!(
        stalled < 256 * 1024,
        "{stalled} bytes taken with nobody reading upstream"
    );
    // Now it reads everything: the whole body arrives.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !got.ends_with(b"0\r\n\r\n") {
        let n = io.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(sent.load(Ordering::SeqCst), 16 * 1024 * 1024);
    io.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    let res = exchange.await.unwrap().unwrap();
    assert_eq!(res.head.status, 204);
}

#[tokio::test(start_paused = true)]
async fn backpressure_from_a_slow_client_reaches_the_upstream() {
    let (connector, mut accept, _) = pipes(16 * 1024);
    let pool = Pool::new(connector, PoolConfig::default());
    let written = Arc::new(AtomicU64::new(0));
    let upstream_written = written.clone();
    tokio::spawn(async move {
        let mut io = accept.recv().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = io.read(&mut buf).await.unwrap();
        let total = 16 * 1024 * 1024;
        io.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let chunk = vec![b'u'; 8 * 1024];
        for _ in 0..total / chunk.len() {
            io.write_all(&chunk).await.unwrap();
            upstream_written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    let res = forward(&pool, &target(), get("/download")).await.unwrap();
    assert_eq!(res.head.status, 200);
    // The client does not read the body for a while.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stalled = written.load(Ordering::SeqCst);
    assert!(
        stalled < 256 * 1024,
        "{stalled} bytes written with nobody reading downstream"
    );
    let mut body = res.body;
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().data().map_or(0, |d| d.len() as u64);
    }
    assert_eq!(total, 16 * 1024 * 1024);
}

#[tokio::test]
async fn interim_responses_are_skipped_and_upgrades_hand_over_the_stream() {
    let (connector, mut accept, dialed) = pipes(64 * 1024);
    tokio::spawn(async move {
        // One connection: an exchange with interim responses, then an
        // upgrade on the same (reused) connection.
        let mut io = accept.recv().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = io.read(&mut buf).await.unwrap();
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
        let _ = io.read(&mut buf).await.unwrap();
        io.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nfirst",
        )
        .await
        .unwrap();
        let n = io.read(&mut buf).await.unwrap();
        io.write_all(&buf[..n]).await.unwrap();
    });
    let pool = Pool::new(connector, PoolConfig::default());
    let res = pool.send(&target(), get("/")).await.unwrap();
    assert_eq!(res.head.status, 200);
    assert_eq!(res.body.collect(16).await.unwrap().0, "ok");

    let mut req = get("/ws");
    req.head.headers.append("Connection", "Upgrade").unwrap();
    req.head.headers.append("Upgrade", "raw").unwrap();
    let mut res = pool.send(&target(), req).await.unwrap();
    assert_eq!(res.head.status, 101);
    assert_eq!(
        dialed.load(Ordering::SeqCst),
        1,
        "the upgrade reused the idle connection"
    );
    let mut upgraded = res.on_upgrade().unwrap().await.unwrap();
    let mut first = [0u8; 5];
    upgraded.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"first");
    upgraded.write_all(b"ping").await.unwrap();
    let mut pong = [0u8; 4];
    upgraded.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"ping");
    assert_eq!(
        pool.idle_connections(&target()),
        0,
        "an upgraded connection leaves the pool"
    );
}
