//! gRPC interop with Python grpcio over our HTTP/2 connections, in three
//! directions: our client against a grpcio server, a grpcio client against
//! our server, and a grpcio client through a forwarding service built on
//! our connections to a grpcio server.
//!
//! `tests/grpc/interop.proto` is compiled with grpcio-tools at test time
//! into a temporary directory (by `tests/grpc/peer.py`). The cases cover
//! unary, server, client and bidirectional streaming, 0-byte and 3 MiB
//! messages, gzip, error statuses with non-ASCII messages, deadlines that
//! expire (against a server that never answers; the assertions are on the
//! status, never on timing), and the forwarder's rewriting of
//! `grpc-timeout` to the time left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpc_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use grpc_support::{ERROR_MESSAGE, Msg, Reply, echo, proxy_knobs};
use mesh_core::{Target, TcpConnector};
use mesh_http::grpc::client::Client;
use mesh_http::grpc::{self, Code, Deadline, Encoding, Limits, StatusSource};
use mesh_http::h2::{Config, Request, client, server};
use mesh_resilience::clock::ManualClock;
use mesh_testkit::{Peer, TempDir, listen_addr, peer_addr, require_python_module, tempdir};
use tokio::net::TcpListener;

const MIB: usize = 1 << 20;

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/grpc/peer.py")
}

/// A grpcio Echo server on a fresh loopback address.
fn grpcio_server() -> (Peer, SocketAddr, TempDir) {
    let python = require_python_module("grpc_tools");
    require_python_module("grpc");
    let gen_dir = tempdir().unwrap();
    let addr = peer_addr();
    let mut cmd = Command::new(python);
    cmd.arg(peer_script())
        .arg("server")
        .arg(addr.to_string())
        .arg(gen_dir.path());
    let mut peer = Peer::spawn("grpcio server", &mut cmd);
    peer.wait_for_line("listening");
    (peer, addr, gen_dir)
}

/// Runs grpcio client cases against `addr` (from a blocking thread, while
/// our side keeps running) and returns its output; fails the test with
/// the output when a case fails.
async fn grpcio_client(addr: SocketAddr, cases: &[&str]) -> String {
    let python = require_python_module("grpc_tools");
    require_python_module("grpc");
    let cases: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let gen_dir = tempdir().unwrap();
        let mut cmd = Command::new(python);
        cmd.arg(peer_script())
            .arg("client")
            .arg(addr.to_string())
            .arg(gen_dir.path())
            .args(&cases);
        let peer = Peer::spawn("grpcio client", &mut cmd);
        let (out, err, ok) = peer.wait_output(Duration::from_secs(120));
        assert!(ok, "grpcio client failed\nstdout:\n{out}\nstderr:\n{err}");
        for case in &cases {
            assert!(
                out.contains(&format!("ok {case}\n")),
                "{case} missing:\n{out}"
            );
        }
        out
    })
    .await
    .unwrap()
}

/// Our client on a fresh connection to `addr`.
async fn our_client(addr: SocketAddr) -> Client {
    let target = Target::new(addr);
    let (sender, connection) =
        client::connect(&TcpConnector::default(), &target, Config::default())
            .await
            .unwrap();
    tokio::spawn(connection.run());
    Client::new(sender, addr.to_string())
}

const UNARY: &str = "/meshkit.interop.Echo/Unary";
const SERVER_STREAM: &str = "/meshkit.interop.Echo/ServerStream";
const CLIENT_STREAM: &str = "/meshkit.interop.Echo/ClientStream";
const BIDI: &str = "/meshkit.interop.Echo/Bidi";

async fn unary(client: &Client, msg: Msg) -> Result<Reply, grpc::Status> {
    client
        .unary(UNARY, msg.encode())
        .await
        .map(|r| Reply::decode(&r))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_grpcio_server() {
    let (_server, addr, _gen) = grpcio_server();
    let client = our_client(addr).await;

    // Unary.
    let reply = unary(
        &client,
        Msg {
            payload: Bytes::from_static(b"hello"),
            ..Msg::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(reply.payload, "hello");
    assert_eq!(reply.time_remaining_ms, -1, "no deadline was sent");

    // 0-byte messages both ways: an empty Msg is a 0-byte request message;
    // a client stream of none is answered with an empty Reply.
    assert_eq!(Msg::default().encode().len(), 0);
    unary(&client, Msg::default()).await.unwrap();
    let (sink, mut responses) = client.start(client.request_head(CLIENT_STREAM).unwrap());
    sink.finish().await;
    let reply = responses.message().await.unwrap().unwrap();
    assert_eq!(reply.len(), 0, "an empty Reply is a 0-byte message");
    assert_eq!(responses.message().await.unwrap(), None);
    assert_eq!(responses.status_source(), Some(StatusSource::Trailers));

    // 3 MiB each way.
    let big: Bytes = (0..3 * MIB).map(|i| (i * 7 % 253) as u8).collect();
    let reply = unary(
        &client,
        Msg {
            payload: big.clone(),
            ..Msg::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(reply.payload, big);

    // Server streaming.
    let (mut sink, mut responses) = client.start(client.request_head(SERVER_STREAM).unwrap());
    sink.send(
        Msg {
            count: 5,
            size: 1000,
            ..Msg::default()
        }
        .encode(),
    )
    .await
    .unwrap();
    sink.finish().await;
    for i in 0..5u8 {
        let r = Reply::decode(&responses.message().await.unwrap().unwrap());
        assert_eq!(r.payload, vec![i; 1000]);
    }
    assert_eq!(responses.message().await.unwrap(), None);

    // Client streaming.
    let (mut sink, mut responses) = client.start(client.request_head(CLIENT_STREAM).unwrap());
    for i in 0..10u8 {
        let payload = Bytes::from(vec![i; usize::from(i) * 100]);
        sink.send(
            Msg {
                payload,
                ..Msg::default()
            }
            .encode(),
        )
        .await
        .unwrap();
    }
    sink.finish().await;
    let r = Reply::decode(&responses.message().await.unwrap().unwrap());
    assert_eq!((r.total, r.messages), (4500, 10));

    // Bidirectional, in lock-step: each reply arrives before the next
    // request is sent, so both directions are open at once.
    let (mut sink, mut responses) = client.start(client.request_head(BIDI).unwrap());
    for i in 0..5 {
        let payload = Bytes::from(format!("ping {i}"));
        sink.send(
            Msg {
                payload: payload.clone(),
                ..Msg::default()
            }
            .encode(),
        )
        .await
        .unwrap();
        let r = Reply::decode(&responses.message().await.unwrap().unwrap());
        assert_eq!(r.payload, payload);
    }
    sink.finish().await;
    assert_eq!(responses.message().await.unwrap(), None);

    // gzip both ways: our request compressed, the server's reply too.
    let gzip = client.clone().encoding(Encoding::Gzip);
    let data = Bytes::from("compressible ".repeat(10_000));
    let mut head = gzip.request_head(UNARY).unwrap();
    head.headers.append("x-want-gzip", "1").unwrap();
    let (mut sink, mut responses) = gzip.start(head);
    sink.send(
        Msg {
            payload: data.clone(),
            ..Msg::default()
        }
        .encode(),
    )
    .await
    .unwrap();
    sink.finish().await;
    let response_head = responses.head().await.unwrap();
    assert_eq!(response_head.headers.get("grpc-encoding").unwrap(), "gzip");
    let r = Reply::decode(&responses.message().await.unwrap().unwrap());
    assert_eq!(r.payload, data);
    assert_eq!(responses.message().await.unwrap(), None);

    // Errors with non-ASCII messages: before any reply (trailers-only)...
    let e = unary(
        &client,
        Msg {
            fail_code: 5,
            fail_message: ERROR_MESSAGE.into(),
            ..Msg::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::NotFound, ERROR_MESSAGE)
    );
    // ...and after streamed replies (in trailers).
    let (mut sink, mut responses) = client.start(client.request_head(SERVER_STREAM).unwrap());
    let fail = Msg {
        count: 2,
        size: 10,
        fail_code: 9,
        fail_message: "ünïcödé".into(),
        ..Msg::default()
    };
    sink.send(fail.encode()).await.unwrap();
    sink.finish().await;
    assert!(responses.message().await.unwrap().is_some());
    assert!(responses.message().await.unwrap().is_some());
    let e = responses.message().await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::FailedPrecondition, "ünïcödé")
    );
    assert_eq!(responses.status_source(), Some(StatusSource::Trailers));

    // A message over our limit is RESOURCE_EXHAUSTED.
    let small = client.clone().limits(Limits {
        max_message_size: MIB,
    });
    let e = small
        .unary(
            UNARY,
            Msg {
                payload: big.slice(..2 * MIB),
                ..Msg::default()
            }
            .encode(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::ResourceExhausted, "{e}");

    // Deadlines: the server sees at most what we gave...
    let timed = client.clone().timeout(Some(Duration::from_secs(5)));
    let r = unary(&timed, Msg::default()).await.unwrap();
    assert!(
        (1..=5000).contains(&r.time_remaining_ms),
        "{}",
        r.time_remaining_ms
    );
    // ...and a call to a server that never answers ends DEADLINE_EXCEEDED.
    let short = client.clone().timeout(Some(Duration::from_millis(300)));
    let e = unary(
        &short,
        Msg {
            hang: true,
            ..Msg::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, Code::DeadlineExceeded, "{e}");

    // The connection is still good after all that.
    unary(&client, Msg::default()).await.unwrap();
}

/// Serves the Echo service of `grpc_support` on a fresh address, which it
/// returns.
async fn our_server() -> SocketAddr {
    let listener = TcpListener::bind(listen_addr()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let _ = server::serve_connection(socket, &echo, Config::default()).await;
            });
        }
    });
    addr
}

const ALL_CASES: [&str; 10] = [
    "unary",
    "unary_empty",
    "unary_3mib",
    "server_stream",
    "client_stream",
    "bidi",
    "gzip",
    "error",
    "deadline",
    "deadline_seen",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_client_against_our_server() {
    let addr = our_server().await;
    let out = grpcio_client(addr, &ALL_CASES).await;
    assert!(out.contains("remaining "), "{out}");
}

/// What the forwarder saw: (grpc-timeout received, grpc-timeout it gave
/// the upstream) per forwarded call.
type Log = Arc<Mutex<Vec<(Option<Duration>, Option<Duration>)>>>;

/// A forwarding service on our connections: each downstream connection
/// gets an upstream connection to `upstream`; each call's deadline is read
/// on a manual clock, capped by `x-mesh-route-timeout-ms` and advanced by
/// `x-mesh-hold-ms` (time the proxy "spent", without waiting). Listens on
/// a fresh address, which it returns.
async fn forwarder(upstream: SocketAddr, log: Log) -> SocketAddr {
    let listener = TcpListener::bind(listen_addr()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let target = Target::new(upstream);
                let (sender, connection) =
                    client::connect(&TcpConnector::default(), &target, Config::default())
                        .await
                        .unwrap();
                tokio::spawn(connection.run());
                let service = |request: Request| {
                    let sender = &sender;
                    let log = log.clone();
                    async move {
                        let (hold, route) = proxy_knobs(&request.head.headers);
                        let received = grpc::timeout::from_fields(&request.head.headers);
                        let clock = ManualClock::new();
                        let mut deadline =
                            Deadline::from_fields(clock.clone(), &request.head.headers);
                        if let Some(route) = route {
                            deadline = Some(match deadline {
                                Some(d) => d.cap(route),
                                None => Deadline::after(clock.clone(), route),
                            });
                        }
                        clock.advance(hold);
                        let given = deadline.as_ref().map(|d| d.remaining());
                        log.lock().unwrap().push((received, given));
                        grpc::proxy::forward(sender, request, deadline.as_ref()).await
                    }
                };
                let _ = server::serve_connection(socket, &service, Config::default()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_client_through_our_forwarder_to_grpcio_server() {
    let (_server, upstream, _gen) = grpcio_server();
    let log = Log::default();
    let addr = forwarder(upstream, log.clone()).await;
    let mut cases = ALL_CASES.to_vec();
    cases.extend([
        "proxy_remaining_deadline",
        "proxy_expired_before_forwarding",
        "proxy_route_timeout",
    ]);
    let out = grpcio_client(addr, &cases).await;
    assert!(out.contains("route timeout: "), "{out}");

    // The forwarder gave the upstream the time left: what the client sent
    // minus what the proxy spent (300 ms), not the original again.
    let log = log.lock().unwrap();
    let held: Vec<_> = log
        .iter()
        .filter_map(|&(received, given)| Some((received?, given?)))
        .filter(|(received, given)| received > given)
        .collect();
    assert!(
        held.iter()
            .any(|(r, g)| *r - *g == Duration::from_millis(300)),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_through_our_forwarder_to_grpcio_server() {
    // The forwarder rewrites grpc-timeout; the grpcio server reports what
    // it was given, which can only be less than what we sent minus what
    // the proxy spent.
    let (_server, upstream, _gen) = grpcio_server();
    let addr = forwarder(upstream, Log::default()).await;
    let client = our_client(addr).await.timeout(Some(Duration::from_secs(5)));
    let mut head = client.request_head(UNARY).unwrap();
    head.headers.append("x-mesh-hold-ms", "1500").unwrap();
    let (mut sink, mut responses) = client.start(head);
    sink.send(Msg::default().encode()).await.unwrap();
    sink.finish().await;
    let r = Reply::decode(&responses.message().await.unwrap().unwrap());
    assert!(
        (1..=3500).contains(&r.time_remaining_ms),
        "{}",
        r.time_remaining_ms
    );
    // Expired in the proxy: a trailers-only DEADLINE_EXCEEDED.
    let mut head = client.request_head(UNARY).unwrap();
    head.headers.append("x-mesh-hold-ms", "6000").unwrap();
    let (mut sink, mut responses) = client.start(head);
    // The proxy may answer before the message is sent: then sending fails
    // (CANCELLED) and the response has the status.
    let _ = sink.send(Msg::default().encode()).await;
    sink.finish().await;
    let e = responses.message().await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::DeadlineExceeded,
            grpc::proxy::EXPIRED_BEFORE_FORWARDING
        )
    );
    assert_eq!(responses.status_source(), Some(StatusSource::Headers));
}
