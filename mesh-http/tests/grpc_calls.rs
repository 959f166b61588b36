//! gRPC over our HTTP/2 connections in memory (no peers, exact values):
//! messages read zero-copy and across any cut of the DATA frames, the
//! forwarder's `grpc-timeout` rewrite on a manual clock, its local replies
//! (deadline gone before forwarding, upstream reset, upstream gone), the
//! deadline cutting a response body short (paused tokio time), statuses
//! from the HTTP status, and the server's refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use grpc_support::{Msg, Reply, echo};
use mesh_core::Side;
use mesh_http::grpc::client::Client;
use mesh_http::grpc::server::ServerCall;
use mesh_http::grpc::{
    self, Code, Deadline, Limits, MessageCodec, MessageSink, StatusSource, Streaming,
};
use mesh_http::h1::{HeaderMap, Method};
use mesh_http::h2::client::SendRequest;
use mesh_http::h2::server::Service;
use mesh_http::h2::{Config, ErrorCode, Request, RequestHead, Response, client, server};
use mesh_http::{Body, Frame};
use mesh_resilience::clock::{ManualClock, TokioClock};

/// A client connection to `service`, in memory.
fn connect<S: Service + 'static>(service: S) -> SendRequest {
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move { server::serve_connection(b, &service, Config::default()).await });
    let (sender, connection) = client::handshake(a, Config::default());
    tokio::spawn(connection.run());
    sender
}

fn framed(payloads: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::new();
    for p in payloads {
        out.put_u8(0);
        out.put_u32(p.len() as u32);
        out.put_slice(p);
    }
    out.freeze()
}

#[tokio::test]
async fn a_message_in_one_frame_is_a_view_of_it() {
    let data = framed(&[b"first", b"", b"third"]);
    let (mut tx, body) = Body::channel(None, Side::Internal);
    let frame = data.clone();
    tokio::spawn(async move {
        tx.send_data(frame).await.unwrap();
        tx.finish().await.unwrap();
    });
    let mut messages = Streaming::new(body, MessageCodec::new(Side::Upstream, Limits::default()));
    let range = data.as_ptr_range();
    for want in [&b"first"[..], b"", b"third"] {
        let m = messages.message().await.unwrap().unwrap();
        assert_eq!(m, want);
        if !m.is_empty() {
            assert!(range.contains(&m.as_ptr()), "copied: {want:?}");
        }
    }
    assert_eq!(messages.message().await.unwrap(), None);
}

/// The messages of `parts` sent as DATA frames, then OK trailers.
async fn read_all(parts: Vec<Bytes>) -> Vec<Bytes> {
    let (mut tx, body) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        for p in parts {
            tx.send_data(p).await.unwrap();
        }
        let mut t = HeaderMap::new();
        t.append("grpc-status", "0").unwrap();
        tx.send(Frame::Trailers(t)).await.unwrap();
        tx.finish().await.unwrap();
    });
    let mut messages = Streaming::new(body, MessageCodec::new(Side::Upstream, Limits::default()));
    let mut got = Vec::new();
    while let Some(m) = messages.message().await.unwrap() {
        got.push(m);
    }
    assert_eq!(
        messages.trailers().unwrap().get("grpc-status").unwrap(),
        "0"
    );
    got
}

#[tokio::test]
async fn messages_survive_every_cut_of_the_frames() {
    let big = vec![7u8; 300];
    let data = framed(&[b"a", b"", &big, b"bc"]);
    let want = [&b"a"[..], b"", &big, b"bc"];
    for cut in 0..=data.len() {
        let parts = vec![data.slice(..cut), data.slice(cut..)];
        assert_eq!(read_all(parts).await, want, "cut at {cut}");
    }
    let bytewise = (0..data.len()).map(|i| data.slice(i..i + 1)).collect();
    assert_eq!(read_all(bytewise).await, want, "one byte per frame");
}

#[tokio::test]
async fn a_truncated_message_is_internal() {
    let data = framed(&[b"hello"]);
    let (mut tx, body) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        tx.send_data(data.slice(..7)).await.unwrap();
        tx.finish().await.unwrap();
    });
    let mut messages = Streaming::new(body, MessageCodec::new(Side::Upstream, Limits::default()));
    let e = messages.message().await.unwrap_err();
    assert_eq!(e.code, Code::Internal, "{e}");
}

/// A service that records the `grpc-timeout` of each request and counts
/// them, answering with the echo service.
fn recording(seen: Arc<std::sync::Mutex<Vec<Option<Bytes>>>>) -> impl Service + 'static {
    move |request: Request| {
        seen.lock()
            .unwrap()
            .push(request.head.headers.get("grpc-timeout").cloned());
        echo(request)
    }
}

/// A proxy in front of `upstream` whose deadlines run on `clock`, which
/// `spent` advances per request before forwarding.
fn proxy(upstream: SendRequest, clock: ManualClock, spent: Duration) -> SendRequest {
    let upstream = Arc::new(upstream);
    connect(move |request: Request| {
        let upstream = upstream.clone();
        let clock = clock.clone();
        async move {
            let deadline = Deadline::from_fields(clock.clone(), &request.head.headers);
            clock.advance(spent);
            grpc::proxy::forward(&upstream, request, deadline.as_ref()).await
        }
    })
}

#[tokio::test]
async fn the_forwarder_gives_the_upstream_the_time_left() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let upstream = connect(recording(seen.clone()));
    let front = proxy(upstream, ManualClock::new(), Duration::from_millis(500));
    let client = Client::new(front, "echo").timeout(Some(Duration::from_secs(2)));
    let head = client.request_head("/meshkit.interop.Echo/Unary").unwrap();
    assert_eq!(head.headers.get("grpc-timeout").unwrap(), "2000000u");
    let reply = client
        .unary("/meshkit.interop.Echo/Unary", Msg::default().encode())
        .await
        .unwrap();
    // 2 s minus the 500 ms the proxy spent, exactly.
    assert_eq!(seen.lock().unwrap()[0].as_deref(), Some(&b"1500000u"[..]));
    let remaining = Reply::decode(&reply).time_remaining_ms;
    assert!((1..=1500).contains(&remaining), "{remaining}");
    // Without a deadline nothing is added.
    let client = client.timeout(None);
    client
        .unary("/meshkit.interop.Echo/Unary", Msg::default().encode())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[1], None);
}

#[tokio::test]
async fn a_deadline_gone_before_forwarding_is_answered_locally() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let upstream = connect(move |request: Request| {
        counted.fetch_add(1, Ordering::Relaxed);
        echo(request)
    });
    let front = proxy(upstream, ManualClock::new(), Duration::from_secs(3));
    let client = Client::new(front, "echo").timeout(Some(Duration::from_secs(2)));
    let (mut sink, mut responses) =
        client.start(client.request_head("/meshkit.interop.Echo/Unary").unwrap());
    // The proxy may answer before the message is sent: then sending fails
    // (CANCELLED) and the response has the status.
    let _ = sink.send(Msg::default().encode()).await;
    sink.finish().await;
    let e = responses.message().await.unwrap_err();
    assert_eq!(e.code, Code::DeadlineExceeded);
    assert_eq!(e.message, grpc::proxy::EXPIRED_BEFORE_FORWARDING);
    // Trailers-only: the status came in the only HEADERS frame.
    assert_eq!(responses.status_source(), Some(StatusSource::Headers));
    let head = responses.head().await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get("content-type").unwrap(),
        "application/grpc"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0, "forwarded anyway");
}

#[tokio::test]
async fn upstream_failures_become_grpc_statuses() {
    // An upstream that resets every stream with CANCEL.
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let (mut incoming, connection) = server::handshake(b, Config::default());
        tokio::spawn(connection.run());
        while let Some(Ok((_request, respond))) = incoming.accept().await {
            respond.send_reset(ErrorCode::CANCEL);
        }
    });
    let (upstream, connection) = client::handshake(a, Config::default());
    tokio::spawn(connection.run());
    let front = proxy(upstream, ManualClock::new(), Duration::ZERO);
    let client = Client::new(front, "echo").timeout(Some(Duration::from_secs(10)));
    let e = client
        .unary("/meshkit.interop.Echo/Unary", Msg::default().encode())
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Cancelled, "{e}");

    // An upstream connection that is gone: UNAVAILABLE, without a
    // deadline too.
    let (a, b) = tokio::io::duplex(1 << 16);
    drop(b);
    let (upstream, connection) = client::handshake(a, Config::default());
    tokio::spawn(connection.run());
    let front = proxy(upstream, ManualClock::new(), Duration::ZERO);
    let e = Client::new(front, "echo")
        .unary("/meshkit.interop.Echo/Unary", Msg::default().encode())
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::Unavailable, "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_response_body_short() {
    // An upstream that sends its head and one message, then nothing.
    let upstream = connect(|request: Request| async move {
        let (call, _messages) = ServerCall::accept(request, Limits::default()).unwrap();
        let (mut sink, response) = call.respond(call.recv_encoding());
        tokio::spawn(async move {
            sink.send(Bytes::from_static(b"first")).await.unwrap();
            std::future::pending::<()>().await;
            drop(sink);
        });
        response
    });
    // The proxy's deadline on tokio's (paused) clock, capped by a route
    // timeout of 200 ms; the client allows 10 s.
    let upstream = Arc::new(upstream);
    let front = connect(move |request: Request| {
        let upstream = upstream.clone();
        async move {
            let deadline = Deadline::from_fields(TokioClock::new(), &request.head.headers)
                .map(|d| d.cap(Duration::from_millis(200)));
            grpc::proxy::forward(&upstream, request, deadline.as_ref()).await
        }
    });
    let client = Client::new(front, "echo").timeout(Some(Duration::from_secs(10)));
    let head = client
        .request_head("/meshkit.interop.Echo/ServerStream")
        .unwrap();
    let started = tokio::time::Instant::now();
    let (mut sink, mut responses) = client.start(head);
    sink.send(Bytes::new()).await.unwrap();
    sink.finish().await;
    assert_eq!(responses.message().await.unwrap().unwrap(), "first");
    let e = responses.message().await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::DeadlineExceeded, grpc::proxy::EXPIRED_UPSTREAM)
    );
    // In the trailers the proxy added after the message it relayed.
    assert_eq!(responses.status_source(), Some(StatusSource::Trailers));
    assert_eq!(started.elapsed(), Duration::from_millis(200));
}

#[tokio::test]
async fn statuses_from_the_http_status_and_refusals() {
    // A server that is not gRPC at all.
    let plain = connect(|_request: Request| async { Response::with_status(503, "overloaded\n") });
    let plain = Client::new(plain, "x");
    let (sink, mut responses) = plain.start(plain.request_head("/a/B").unwrap());
    sink.finish().await;
    let e = responses.message().await.unwrap_err();
    assert_eq!(e.code, Code::Unavailable);
    assert_eq!(responses.status_source(), Some(StatusSource::HttpStatus));

    // Our server refuses what is not a gRPC call, as gRPC says.
    let not_grpc = Request::new(
        RequestHead::new(Method::POST, "http", "x", "/a/B").unwrap(),
        Body::empty(),
    );
    let refusal = ServerCall::accept(not_grpc, Limits::default()).unwrap_err();
    assert_eq!(refusal.head.status, 415);
    let mut head = RequestHead::new(Method::GET, "http", "x", "/a/B").unwrap();
    head.headers
        .append("content-type", "application/grpc")
        .unwrap();
    let refusal =
        ServerCall::accept(Request::new(head, Body::empty()), Limits::default()).unwrap_err();
    assert_eq!(refusal.head.status, 405);
    let mut head = RequestHead::new(Method::POST, "http", "x", "/a/B").unwrap();
    head.headers
        .append("content-type", "application/grpc")
        .unwrap();
    head.headers.append("grpc-encoding", "snappy").unwrap();
    let refusal =
        ServerCall::accept(Request::new(head, Body::empty()), Limits::default()).unwrap_err();
    assert_eq!(refusal.head.status, 200);
    assert_eq!(refusal.head.headers.get("grpc-status").unwrap(), "12");
    assert_eq!(
        refusal.head.headers.get("grpc-accept-encoding").unwrap(),
        "identity,gzip"
    );
    assert!(refusal.body.is_end_stream(), "trailers-only");

    // An unknown method of our echo service: UNIMPLEMENTED, trailers-only.
    let client = Client::new(connect(echo), "x");
    let (sink, mut responses) = client.start(client.request_head("/no.Such/Method").unwrap());
    sink.finish().await;
    let e = responses.message().await.unwrap_err();
    assert_eq!(e.code, Code::Unimplemented);
    assert_eq!(responses.status_source(), Some(StatusSource::Headers));
}

#[tokio::test]
async fn a_stream_sent_into_a_gone_call_reports_cancelled() {
    let (sink, body) = MessageSink::channel(MessageCodec::new(Side::Internal, Limits::default()));
    drop(body);
    let mut sink = sink;
    assert!(sink.is_closed());
    let e = sink.send(Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(e.code, Code::Cancelled);
}
