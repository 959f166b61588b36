//! Our HTTP/2 client against our HTTP/2 server on in-memory connections:
//! requests and responses with empty, whole and streamed bodies, trailers
//! both ways, many concurrent streams, gRPC classification, the stream
//! concurrency limit, graceful shutdown, and cancellation.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod body_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mesh_core::{ErrorClass, Side};
use mesh_http::h1::{HeaderMap, Method};
use mesh_http::h2::{
    Config, Error, ErrorCode, Request, RequestHead, Response, StreamClass, client, server,
};
use mesh_http::{Body, BodyError, Frame};

fn get(path: &str) -> RequestHead {
    RequestHead::new(Method::GET, "http", "test.local", path.to_owned()).unwrap()
}

fn post(path: &str) -> RequestHead {
    RequestHead::new(Method::POST, "http", "test.local", path.to_owned()).unwrap()
}

/// `/echo` streams the request body (and trailers) back; `/class` answers
/// with the stream's class; `/big/N` answers N bytes; others 404.
async fn demo(req: Request) -> Response {
    let path = String::from_utf8_lossy(req.head.path.as_deref().unwrap_or_default()).into_owned();
    if path == "/echo" {
        return Response::with_status(200, body_support::echo(req.body));
    }
    if path == "/class" {
        let class = format!("{:?}", req.head.class());
        return Response::with_status(200, class);
    }
    if let Some(n) = path.strip_prefix("/big/") {
        let n: usize = n.parse().unwrap();
        return Response::with_status(200, Bytes::from(vec![b'x'; n]));
    }
    Response::with_status(404, Body::empty())
}

/// A client connected to a server running `service` over a duplex pipe.
fn pair<S>(service: S, server_config: Config, client_config: Config) -> client::SendRequest
where
    S: server::Service + 'static,
{
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move { server::serve_connection(b, &service, server_config).await });
    let (sender, connection) = client::handshake(a, client_config);
    tokio::spawn(connection.run());
    sender
}

#[tokio::test]
async fn requests_with_every_kind_of_body() {
    let sender = pair(demo, Config::default(), Config::default());
    let r = sender.send(Request::new(get("/nope"), ())).await.unwrap();
    assert_eq!(r.head.status, 404);
    assert!(r.body.is_end_stream());

    let r = sender
        .send(Request::new(post("/echo"), "hello"))
        .await
        .unwrap();
    assert_eq!(r.head.status, 200);
    let (body, trailers) = r.body.collect(100).await.unwrap();
    assert_eq!(&body[..], b"hello");
    assert!(trailers.is_none());

    // A streamed body of 3 MiB in small pieces, with trailers, both ways.
    let (mut tx, body) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        for i in 0..3 * 256u32 {
            tx.send_data(Bytes::from(vec![(i % 251) as u8; 4096]))
                .await
                .unwrap();
        }
        let mut t = HeaderMap::new();
        t.append("x-checksum", "abc").unwrap();
        tx.send(Frame::Trailers(t)).await.unwrap();
        tx.finish().await.unwrap();
    });
    let r = sender
        .send(Request::new(post("/echo"), body))
        .await
        .unwrap();
    let (body, trailers) = r.body.collect(4 << 20).await.unwrap();
    assert_eq!(body.len(), 3 << 20);
    assert!(
        body.chunks(4096)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == (i % 251) as u8))
    );
    assert_eq!(trailers.unwrap().get("x-checksum").unwrap(), "abc");

    let r = sender
        .send(Request::new(get("/big/1000000"), ()))
        .await
        .unwrap();
    assert_eq!(
        r.body.size_hint(),
        Some(1_000_000),
        "content-length from the body"
    );
    let (body, _) = r.body.collect(2 << 20).await.unwrap();
    assert_eq!(body.len(), 1_000_000);
}

#[tokio::test]
async fn many_concurrent_streams_and_classes() {
    let sender = pair(demo, Config::default(), Config::default());
    let mut tasks = Vec::new();
    for i in 0..200 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!("stream {i}");
            let r = sender
                .send(Request::new(post("/echo"), body.clone()))
                .await
                .unwrap();
            let (got, _) = r.body.collect(100).await.unwrap();
            assert_eq!(got, body.as_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (ct, want) in [
        ("application/grpc", StreamClass::Grpc),
        ("application/grpc+proto", StreamClass::Grpc),
        ("application/grpc-web", StreamClass::GrpcWeb),
        ("text/plain", StreamClass::Http),
    ] {
        let mut head = post("/class");
        head.headers.append("content-type", ct).unwrap();
        head.headers.append("te", "trailers").unwrap();
        let r = sender.send(Request::new(head, ())).await.unwrap();
        let (got, _) = r.body.collect(100).await.unwrap();
        assert_eq!(got, format!("{want:?}").as_bytes());
    }
}

#[tokio::test]
async fn trailers_only_and_head_responses() {
    let service = |req: Request| async move {
        if req.head.method == Method::HEAD {
            let mut r = Response::with_status(200, "body that must not be sent");
            r.head.headers.append("content-length", "26").unwrap();
            return r;
        }
        let mut r = Response::with_status(200, Body::empty());
        r.head
            .headers
            .append("content-type", "application/grpc")
            .unwrap();
        r.head.headers.append("grpc-status", "5").unwrap();
        r
    };
    let sender = pair(service, Config::default(), Config::default());
    let r = sender.send(Request::new(post("/svc/M"), ())).await.unwrap();
    assert!(r.head.class().is_grpc());
    assert_eq!(r.head.headers.get("grpc-status").unwrap(), "5");
    assert!(r.body.is_end_stream());
    let head = RequestHead::new(Method::HEAD, "http", "test.local", "/").unwrap();
    let r = sender.send(Request::new(head, ())).await.unwrap();
    assert_eq!(r.head.headers.get("content-length").unwrap(), "26");
    let (body, _) = r.body.collect(100).await.unwrap();
    assert!(body.is_empty());
}

#[tokio::test]
async fn concurrency_limit_queues_the_client() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r2, p2) = (running.clone(), peak.clone());
    let service = move |_req: Request| {
        let (running, peak) = (r2.clone(), p2.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Response::with_status(200, "ok")
        }
    };
    let config = Config {
        max_concurrent_streams: 3,
        ..Config::default()
    };
    let sender = pair(service, config, Config::default());
    // Let the server's SETTINGS arrive first.
    sender.send(Request::new(get("/"), ())).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let r = sender.send(Request::new(get("/"), ())).await.unwrap();
            r.body.collect(10).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 3, "{peak:?}");
}

#[tokio::test]
async fn dropping_a_response_body_cancels_only_its_stream() {
    let sender = pair(demo, Config::default(), Config::default());
    let r = sender
        .send(Request::new(get("/big/10000000"), ()))
        .await
        .unwrap();
    let mut body = r.body;
    let first = body.frame().await.unwrap().unwrap();
    assert!(!first.data().unwrap().is_empty());
    drop(body);
    // The connection still works, and the cancelled stream left nothing
    // behind.
    let r = sender.send(Request::new(get("/big/10"), ())).await.unwrap();
    assert_eq!(r.body.collect(100).await.unwrap().0.len(), 10);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = sender.stats();
    assert_eq!(stats.active_streams, 0, "{stats:?}");
    assert_eq!(stats.recv_buffered, 0, "{stats:?}");
    assert_eq!(stats.streams, 0, "no state left behind: {stats:?}");
}

#[tokio::test(start_paused = true)]
async fn idle_connections_close_after_the_idle_timeout() {
    let idle = Config {
        idle_timeout: Some(Duration::from_secs(30)),
        ..Config::default()
    };
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server_task = tokio::spawn(async move { server::serve_connection(b, &demo, idle).await });
    let (sender, connection) = client::handshake(a, Config::default());
    let client_task = tokio::spawn(connection.run());
    let start = tokio::time::Instant::now();
    let r = sender.send(Request::new(get("/big/3"), ())).await.unwrap();
    assert_eq!(r.body.collect(10).await.unwrap().0.len(), 3);
    // The server's GOAWAY after 30 idle seconds ends both sides cleanly.
    server_task.await.unwrap().unwrap();
    client_task.await.unwrap().unwrap();
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert!(sender.is_closed());
    let e = sender.send(Request::new(get("/"), ())).await.unwrap_err();
    assert!(e.retry_safe(), "{e}");
}

#[tokio::test]
async fn a_reset_reaches_the_reader_as_an_error() {
    let service = |req: Request| async move {
        let _ = req;
        let (mut tx, body) = Body::channel(None, Side::Internal);
        tokio::spawn(async move {
            tx.send_data("partial").await.unwrap();
            tx.abort(BodyError::Aborted {
                side: Side::Upstream,
            })
            .await;
        });
        Response::with_status(200, body)
    };
    let sender = pair(service, Config::default(), Config::default());
    let r = sender.send(Request::new(get("/"), ())).await.unwrap();
    let err = r.body.collect(100).await.unwrap_err();
    let BodyError::Http2(Error::Reset { side, code }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(side, Side::Upstream);
    assert_eq!(code, ErrorCode::INTERNAL_ERROR);
}

#[tokio::test]
async fn graceful_shutdown_finishes_streams_in_flight() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (mut incoming, connection) = server::handshake(b, Config::default());
    let server_task = tokio::spawn(connection.run());
    let (sender, connection) = client::handshake(a, Config::default());
    let client_task = tokio::spawn(connection.run());
    let in_flight = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send(Request::new(get("/slow"), ())).await })
    };
    let (req, respond) = incoming.accept().await.unwrap().unwrap();
    assert_eq!(req.head.path.as_deref(), Some(&b"/slow"[..]));
    incoming.graceful_shutdown();
    // New streams after the final GOAWAY are refused as unprocessed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let refused = sender
        .send(Request::new(get("/late"), ()))
        .await
        .unwrap_err();
    assert!(refused.retry_safe(), "{refused:?}");
    respond
        .send_response(Response::with_status(200, "done"))
        .unwrap();
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(&r.body.collect(10).await.unwrap().0[..], b"done");
    assert!(incoming.accept().await.is_none());
    drop(sender);
    server_task.await.unwrap().unwrap();
    client_task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_client_ends_the_connection_when_its_senders_are_gone() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server_task =
        tokio::spawn(async move { server::serve_connection(b, &demo, Config::default()).await });
    let (sender, connection) = client::handshake(a, Config::default());
    let client_task = tokio::spawn(connection.run());
    let r = sender.send(Request::new(get("/big/5"), ())).await.unwrap();
    drop(sender);
    assert_eq!(r.body.collect(10).await.unwrap().0.len(), 5);
    client_task.await.unwrap().unwrap();
    server_task.await.unwrap().unwrap();
}
