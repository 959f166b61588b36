//! Interop with real HTTP/2 peers on loopback: `curl --http2-prior-knowledge`,
//! `nghttp` and `h2load` against our server; our client against a real
//! `nginx` with a plaintext `http2` listener started by the test (which
//! also proxies `/app/` to an HTTP/1 server of ours), including nginx's
//! SETTINGS_MAX_CONCURRENT_STREAMS and its GOAWAY after
//! `keepalive_requests`.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use mesh_core::{ErrorClass, Side, Target, TcpConnector};
use mesh_http::h1::{self, HeaderMap, Method};
use mesh_http::h2::client::SendRequest;
use mesh_http::h2::{Config, Error, Request, RequestHead, Response, client, server};
use mesh_http::{Body, Frame};
use mesh_testkit::{Peer, TempDir, nginx_server, require_binary, tempdir, unique_loopback};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// `/hello`, `/echo` (streams the request body back, with trailers
/// `x-echo-bytes`), `/big/N` (N bytes of the pattern), others 404.
async fn demo(req: Request) -> Response {
    let path = String::from_utf8_lossy(req.head.path.as_deref().unwrap_or_default()).into_owned();
    match path.as_str() {
        "/hello" => Response::with_status(200, "hello\n"),
        "/echo" => {
            let mut body = req.body;
            let (mut tx, out) = Body::channel(None, Side::Internal);
            tokio::spawn(async move {
                let mut n = 0;
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(Frame::Data(d)) => {
                            n += d.len();
                            if tx.send_data(d).await.is_err() {
                                return;
                            }
                        }
                        Ok(Frame::Trailers(_)) => {}
                        Err(e) => return tx.abort(e).await,
                    }
                }
                let mut t = HeaderMap::new();
                t.append("x-echo-bytes", n.to_string()).unwrap();
                let _ = tx.send(Frame::Trailers(t)).await;
                let _ = tx.finish().await;
            });
            Response::with_status(200, out)
        }
        p if p.starts_with("/big/") => {
            let n: usize = p[5..].parse().unwrap();
            Response::with_status(200, Bytes::from(pattern(n)))
        }
        _ => Response::with_status(404, "not found\n"),
    }
}

/// Serves `demo` over HTTP/2 on a fresh loopback address.
async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let result = server::serve_connection(socket, &demo, Config::default()).await;
                if let Err(e) = result {
                    // A peer program that exits may leave a stream open.
                    eprintln!("server connection: {e}");
                }
            });
        }
    });
    addr
}

/// Runs a peer program to completion off the runtime's threads.
async fn run(program: &'static str, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(require_binary(program))
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout + &stderr
    })
    .await
    .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_against_our_server() {
    let addr = start_server().await;
    let url = |p: &str| format!("http://{addr}{p}");
    let h2 = "--http2-prior-knowledge";

    // One URL per run: a second URL (sequential or `--parallel`) reuses
    // the connection, which curl 7.88 gets wrong with prior knowledge
    // whatever the server (curl/curl#10634, fixed in 8.0). nghttp and
    // h2load below multiplex.
    let out = run("curl", strings(&["-sS", h2, &url("/hello")])).await;
    assert_eq!(out, "hello\n");

    let out = run(
        "curl",
        strings(&[
            "-sS",
            h2,
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{response_code} %{size_download}",
            &url("/big/3000000"),
        ]),
    )
    .await;
    assert_eq!(out, "2 200 3000000");

    // An upload of 2 MiB streamed back; curl prints the trailer with -v.
    let dir = tempdir().unwrap();
    let file = dir.path().join("up.bin");
    let data = pattern(2 << 20);
    std::fs::write(&file, &data).unwrap();
    let got = dir.path().join("down.bin");
    let out = run(
        "curl",
        vec![
            "-sS".into(),
            "-v".into(),
            h2.into(),
            "--data-binary".into(),
            format!("@{}", file.display()),
            "-o".into(),
            got.display().to_string(),
            url("/echo"),
        ],
    )
    .await;
    assert_eq!(std::fs::read(&got).unwrap(), data);
    assert!(out.contains("x-echo-bytes: 2097152"), "{out}");

    let out = run("curl", strings(&["-sS", h2, "-I", &url("/hello")])).await;
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    let out = run(
        "curl",
        strings(&["-sS", h2, "-w", "%{response_code}", &url("/missing")]),
    )
    .await;
    assert!(out.ends_with("404"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_against_our_server() {
    let addr = start_server().await;
    let url = |p: &str| format!("http://{addr}{p}");
    let out = run("nghttp", vec!["-v".into(), url("/hello")]).await;
    assert!(out.contains(":status: 200"), "{out}");
    assert!(out.contains("hello"), "{out}");
    assert!(
        out.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"),
        "{out}"
    );
    assert!(
        !out.contains("GOAWAY") || out.contains("error_code=NO_ERROR"),
        "{out}"
    );

    // The same URI 50 times on one connection, with nghttp's small
    // windows (2^16-1): our sending waits for its WINDOW_UPDATEs.
    let out = run(
        "nghttp",
        vec![
            "-ns".into(),
            "-m".into(),
            "50".into(),
            "-w".into(),
            "16".into(),
            url("/big/300000"),
        ],
    )
    .await;
    assert_eq!(out.matches("/big/300000").count(), 50, "{out}");

    // An upload with trailers.
    let dir = tempdir().unwrap();
    let file = dir.path().join("up.bin");
    std::fs::write(&file, pattern(500_000)).unwrap();
    let out = run(
        "nghttp",
        vec![
            "-v".into(),
            "-d".into(),
            file.display().to_string(),
            "--trailer".into(),
            "x-sent: yes".into(),
            url("/echo"),
        ],
    )
    .await;
    assert!(out.contains("x-echo-bytes: 500000"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_against_our_server() {
    let addr = start_server().await;
    let out = run(
        "h2load",
        vec![
            "-n".into(),
            "5000".into(),
            "-c".into(),
            "4".into(),
            "-m".into(),
            "32".into(),
            format!("http://{addr}/hello"),
        ],
    )
    .await;
    assert!(
        out.contains(
            "requests: 5000 total, 5000 started, 5000 done, 5000 succeeded, 0 failed, 0 errored"
        ),
        "{out}"
    );
    let dir = tempdir().unwrap();
    let file = dir.path().join("up.bin");
    std::fs::write(&file, pattern(100_000)).unwrap();
    let out = run(
        "h2load",
        vec![
            "-n".into(),
            "200".into(),
            "-c".into(),
            "2".into(),
            "-m".into(),
            "10".into(),
            "-d".into(),
            file.display().to_string(),
            format!("http://{addr}/echo"),
        ],
    )
    .await;
    assert!(
        out.contains(
            "requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored"
        ),
        "{out}"
    );
}

/// A real nginx with a plaintext HTTP/2 listener: static files, a fixed
/// answer, and `/app/` proxied to an HTTP/1 server of ours.
struct Nginx {
    _peer: Peer,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Nginx {
    fn start(app: SocketAddr, extra: &str) -> Nginx {
        let (peer, addr, dir) = nginx_server(|dir, addr| {
            let www = dir.join("www");
            std::fs::create_dir(&www).unwrap();
            std::fs::write(www.join("big.bin"), pattern(3 << 20)).unwrap();
            let d = dir.display();
            format!(
                "    access_log {d}/access.log;
    client_max_body_size 64m;
    {extra}
    server {{
        listen {addr} http2;
        root {d}/www;
        location /fixed {{
            return 200 \"fixed answer\";
        }}
        location /app/ {{
            proxy_pass http://{app};
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}"
            )
        });
        Nginx {
            _peer: peer,
            addr,
            _dir: dir,
        }
    }
}

/// An HTTP/1 echo server of ours behind nginx.
async fn start_h1_echo() -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let echo = |req: h1::Request| async move {
                    let mut body = req.body;
                    let (mut tx, out) = Body::channel(None, Side::Internal);
                    tokio::spawn(async move {
                        while let Some(Ok(frame)) = body.frame().await {
                            if tx.send(frame).await.is_err() {
                                return;
                            }
                        }
                        let _ = tx.finish().await;
                    });
                    h1::Response::with_status(200, out)
                };
                let _ = h1::serve_connection(socket, &echo, &h1::ServerConfig::default()).await;
            });
        }
    });
    addr
}

fn nginx_get(path: &str) -> RequestHead {
    RequestHead::new(Method::GET, "http", "nginx.test", path.to_owned()).unwrap()
}

/// Our client connected to `addr`, its connection driven by a task.
async fn connect(addr: SocketAddr) -> (SendRequest, JoinHandle<Result<(), Error>>) {
    let (sender, connection) = client::connect(
        &TcpConnector::default(),
        &Target::new(addr),
        Config::default(),
    )
    .await
    .unwrap();
    (sender, tokio::spawn(connection.run()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_nginx() {
    let app = start_h1_echo().await;
    let nginx = Nginx::start(app, "");
    let (sender, conn) = connect(nginx.addr).await;

    let r = sender
        .send(Request::new(nginx_get("/fixed"), ()))
        .await
        .unwrap();
    assert_eq!(r.head.status, 200);
    assert_eq!(&r.body.collect(100).await.unwrap().0[..], b"fixed answer");

    // A 3 MiB static file: more than nginx's initial window of ours.
    let r = sender
        .send(Request::new(nginx_get("/big.bin"), ()))
        .await
        .unwrap();
    assert_eq!(r.body.size_hint(), Some(3 << 20));
    let (body, _) = r.body.collect(4 << 20).await.unwrap();
    assert!(body == pattern(3 << 20));

    // Fifty streams at once on the connection.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let path = if i % 2 == 0 { "/fixed" } else { "/big.bin" };
            let r = sender
                .send(Request::new(nginx_get(path), ()))
                .await
                .unwrap();
            assert_eq!(r.head.status, 200);
            r.body.collect(4 << 20).await.unwrap().0.len()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let want = if i % 2 == 0 { 12 } else { 3 << 20 };
        assert_eq!(t.await.unwrap(), want);
    }

    // A 5 MiB upload through nginx to our HTTP/1 echo server and back,
    // streamed from a channel.
    let (mut tx, body) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        for chunk in pattern(5 << 20).chunks(10_000) {
            tx.send_data(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        tx.finish().await.unwrap();
    });
    let head = RequestHead::new(Method::POST, "http", "nginx.test", "/app/echo").unwrap();
    let r = sender.send(Request::new(head, body)).await.unwrap();
    assert_eq!(r.head.status, 200);
    let (body, _) = r.body.collect(6 << 20).await.unwrap();
    assert!(body == pattern(5 << 20));

    drop(sender);
    conn.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_concurrency_limit_and_goaway() {
    let app = start_h1_echo().await;
    let nginx = Nginx::start(
        app,
        "http2_max_concurrent_streams 4;\n    keepalive_requests 30;",
    );
    let (sender, conn) = connect(nginx.addr).await;
    // The first exchange brings nginx's SETTINGS (4 streams at most).
    let r = sender
        .send(Request::new(nginx_get("/fixed"), ()))
        .await
        .unwrap();
    r.body.collect(100).await.unwrap();
    // 20 more at once: the client keeps to 4, so none is refused.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let r = sender.send(Request::new(nginx_get("/big.bin"), ())).await?;
            r.body
                .collect(4 << 20)
                .await
                .map(|(b, _)| b.len())
                .map_err(|e| match e {
                    mesh_http::BodyError::Http2(e) => e,
                    other => panic!("{other}"),
                })
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 3 << 20);
    }
    // nginx sends GOAWAY after its 30th request; the requests beyond are
    // refused as unprocessed (retry-safe), and the connection ends cleanly.
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (sender, done) = (sender.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            match sender.send(Request::new(nginx_get("/fixed"), ())).await {
                Ok(r) => {
                    r.body.collect(100).await.unwrap();
                    done.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => assert!(e.retry_safe(), "{e}"),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 30 - 21);
    assert!(sender.is_closed());
    drop(sender);
    conn.await.unwrap().unwrap();
}
