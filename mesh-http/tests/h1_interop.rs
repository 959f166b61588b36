//! Interop with real peers on loopback: `curl` and `wrk` against a small
//! server built on the driver, and our client, pool and forwarding helper
//! against a real `nginx` started with its own configuration in a
//! temporary directory (which also proxies back to our server).
// Test helpers (not only #[test] functions) unwrap: a panic here is a
// failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod body_support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mesh_core::{Side, Target, TcpConnector};
use mesh_http::h1::{
    Body, Method, Pool, PoolConfig, Request, RequestHead, Response, ServerConfig, Service, forward,
    local_reply, serve_connection,
};
use mesh_testkit::{Peer, TempDir, nginx_server, require_binary, tempdir, unique_loopback};
use tokio::net::TcpListener;

/// The small server of these tests: `/hello`, `/echo` (streams the
/// request body back, chunked), `/chunked` (a body of unknown length), and
/// the same under any prefix (nginx proxies `/app/...`).
async fn demo(req: Request) -> Response {
    let target = req.head.target.clone();
    let path = target.rsplit(|&b| b == b'/').next().unwrap_or_default();
    match path {
        b"hello" => Response::with_status(200, "hello\n"),
        b"echo" => Response::with_status(200, body_support::echo(req.body)),
        b"chunked" => {
            let (mut tx, out) = Body::channel(None, Side::Internal);
            tokio::spawn(async move {
                for part in ["one,", "two,", "three"] {
                    tx.send_data(part).await.unwrap();
                }
                tx.finish().await.unwrap();
            });
            Response::with_status(200, out)
        }
        _ => Response::with_status(404, "not found\n"),
    }
}

/// Serves `service` on a fresh loopback address; counts connections.
async fn start_server<S>(service: S) -> (SocketAddr, Arc<AtomicUsize>)
where
    S: Service + Clone + 'static,
{
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let service = service.clone();
            tokio::spawn(async move {
                let _ = serve_connection(socket, &service, &ServerConfig::default()).await;
            });
        }
    });
    (addr, connections)
}

/// Runs a peer program to completion off the runtime's threads.
async fn run(program: &'static str, args: Vec<String>) -> (String, String) {
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
        (stdout, stderr)
    })
    .await
    .unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_against_our_server() {
    let (addr, connections) = start_server(demo).await;
    let url = |p: &str| format!("http://{addr}{p}");

    // Two URLs in one run: curl reuses the connection.
    let (out, _) = run("curl", vec!["-sS".into(), url("/hello"), url("/hello")]).await;
    assert_eq!(out, "hello\nhello\n");
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    // HEAD: the length, no body.
    let (out, _) = run("curl", vec!["-sSI".into(), url("/hello")]).await;
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("content-length: 6\r\n"), "{out}");

    // A chunked response, and the same body close-delimited for HTTP/1.0.
    let (out, _) = run(
        "curl",
        vec!["-sS".into(), "-D".into(), "-".into(), url("/chunked")],
    )
    .await;
    assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\none,two,three"), "{out}");
    let (out, _) = run(
        "curl",
        vec!["-sS".into(), "--http1.0".into(), url("/chunked")],
    )
    .await;
    assert_eq!(out, "one,two,three");

    // Uploads: with a length and Expect: 100-continue, and chunked.
    let dir = tempdir().unwrap();
    let file = dir.path().join("upload.bin");
    let data = pattern(3 * 1024 * 1024 + 17);
    std::fs::write(&file, &data).unwrap();
    let got = dir.path().join("got.bin");
    let (_, err) = run(
        "curl",
        vec![
            "-sS".into(),
            "-v".into(),
            "-H".into(),
            "Expect: 100-continue".into(),
            "--data-binary".into(),
            format!("@{}", file.display()),
            "-o".into(),
            got.display().to_string(),
            url("/echo"),
        ],
    )
    .await;
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    assert_eq!(std::fs::read(&got).unwrap(), data);
    run(
        "curl",
        vec![
            "-sS".into(),
            "-H".into(),
            "Transfer-Encoding: chunked".into(),
            "--data-binary".into(),
            format!("@{}", file.display()),
            "-o".into(),
            got.display().to_string(),
            url("/echo"),
        ],
    )
    .await;
    assert_eq!(std::fs::read(&got).unwrap(), data);

    // A request-target with a space is refused with 400.
    let (out, _) = run(
        "curl",
        vec![
            "-sS".into(),
            "-o".into(),
            "/dev/null".into(),
            "-w".into(),
            "%{http_code}".into(),
            "--request-target".into(),
            "/a b".into(),
            url("/"),
        ],
    )
    .await;
    assert_eq!(out, "400");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrk_against_our_server() {
    let (addr, _) = start_server(demo).await;
    let (out, _) = run(
        "wrk",
        vec![
            "-t1".into(),
            "-c8".into(),
            "-d1s".into(),
            format!("http://{addr}/hello"),
        ],
    )
    .await;
    let requests: u64 = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{out}"));
    assert!(requests > 100, "{out}");
    assert!(!out.contains("Socket errors"), "{out}");
    assert!(!out.contains("Non-2xx"), "{out}");
}

/// A real nginx on a fresh loopback address: static files under `/`, an
/// on-the-fly gzip location (chunked responses), and `/app/` proxied to
/// `app` with HTTP/1.1 and no buffering either way.
struct Nginx {
    _peer: Peer,
    addr: SocketAddr,
    dir: TempDir,
}

impl Nginx {
    fn start(app: SocketAddr) -> Nginx {
        let (peer, addr, dir) = nginx_server(|dir, addr| {
            let www = dir.join("www");
            std::fs::create_dir(&www).unwrap();
            std::fs::write(www.join("big.bin"), pattern(200 * 1024)).unwrap();
            std::fs::write(www.join("text.txt"), "mesh ".repeat(20_000)).unwrap();
            let d = dir.display();
            format!(
                "    log_format conn '$connection $connection_requests $status $request_length';
    access_log {d}/access.log conn;
    keepalive_timeout 60;
    server {{
        listen {addr};
        root {d}/www;
        etag on;
        location /gz/ {{
            alias {d}/www/;
            gzip on;
            gzip_min_length 1;
            gzip_types text/plain;
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
            dir,
        }
    }

    fn access_log(&self) -> Vec<String> {
        let mut s = String::new();
        std::fs::File::open(self.dir.path().join("access.log"))
            .and_then(|mut f| f.read_to_string(&mut s))
            .unwrap();
        s.lines().map(str::to_owned).collect()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn request(method: Method, path: &str) -> RequestHead {
    let mut head = RequestHead::new(method, path.to_owned()).unwrap();
    head.headers.append("host", "nginx.test").unwrap();
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_nginx() {
    let (app, _) = start_server(demo).await;
    let nginx = Nginx::start(app);
    let pool = Pool::new(
        TcpConnector::default(),
        PoolConfig {
            max_per_host: 1,
            ..PoolConfig::default()
        },
    );
    let target = Target::new(nginx.addr);

    // A static file, several times on one kept-alive connection.
    let expected = pattern(200 * 1024);
    let mut etag = Bytes::new();
    for _ in 0..3 {
        let res = pool
            .send(&target, Request::new(request(Method::GET, "/big.bin"), ()))
            .await
            .unwrap();
        assert_eq!(res.head.status, 200);
        assert_eq!(res.head.headers.get("content-length").unwrap(), "204800");
        etag = res.head.headers.get("etag").unwrap().clone();
        let (body, _) = res.body.collect(1 << 20).await.unwrap();
        assert_eq!(body, expected);
    }
    // The connection goes back to the pool just after the body's end is
    // queued for the reader: let its task get there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while pool.idle_connections(&target) != 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(pool.idle_connections(&target), 1);

    // HEAD: a length and no body; a conditional GET: 304, no body.
    let res = pool
        .send(&target, Request::new(request(Method::HEAD, "/big.bin"), ()))
        .await
        .unwrap();
    assert_eq!(res.head.headers.get("content-length").unwrap(), "204800");
    assert!(res.body.collect(16).await.unwrap().0.is_empty());
    let mut head = request(Method::GET, "/big.bin");
    head.headers.append("if-none-match", etag).unwrap();
    let res = pool.send(&target, Request::new(head, ())).await.unwrap();
    assert_eq!(res.head.status, 304);
    assert!(res.body.collect(16).await.unwrap().0.is_empty());

    // On-the-fly gzip: a chunked response.
    let mut head = request(Method::GET, "/gz/text.txt");
    head.headers.append("accept-encoding", "gzip").unwrap();
    let res = pool.send(&target, Request::new(head, ())).await.unwrap();
    assert_eq!(
        res.head.headers.get("transfer-encoding").unwrap(),
        "chunked"
    );
    assert_eq!(res.head.headers.get("content-encoding").unwrap(), "gzip");
    let (gz, _) = res.body.collect(1 << 20).await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "mesh ".repeat(20_000));

    // Through nginx to our server: a chunked upload streamed both ways,
    // and one with a length.
    let data = pattern(300 * 1024 + 5);
    let (mut tx, body) = Body::channel(None, Side::Internal);
    let frames = data.clone();
    tokio::spawn(async move {
        for part in frames.chunks(10_000) {
            tx.send_data(Bytes::copy_from_slice(part)).await.unwrap();
        }
        tx.finish().await.unwrap();
    });
    let res = pool
        .send(
            &target,
            Request::new(request(Method::POST, "/app/echo"), body),
        )
        .await
        .unwrap();
    assert_eq!(res.head.status, 200);
    assert_eq!(res.body.collect(1 << 20).await.unwrap().0, data);
    let res = pool
        .send(
            &target,
            Request::new(request(Method::PUT, "/app/echo"), Bytes::from(data.clone())),
        )
        .await
        .unwrap();
    assert_eq!(res.body.collect(1 << 20).await.unwrap().0, data);

    // Every exchange above went over one connection, in order.
    let log = nginx.access_log();
    let ours: Vec<Vec<&str>> = log.iter().map(|l| l.split(' ').collect()).collect();
    assert_eq!(ours.len(), 8, "{log:?}");
    assert!(
        ours.iter().all(|f| f[0] == ours[0][0]),
        "one connection: {log:?}"
    );
    let numbers: Vec<&str> = ours.iter().map(|f| f[1]).collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5", "6", "7", "8"], "{log:?}");
    let _ = nginx.path();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_our_forwarding_proxy_to_nginx() {
    let (app, _) = start_server(demo).await;
    let nginx = Nginx::start(app);
    let pool = Pool::new(TcpConnector::default(), PoolConfig::default());
    let target = Target::new(nginx.addr);
    let proxy = {
        let pool = pool.clone();
        move |req: Request| {
            let pool = pool.clone();
            let target = target.clone();
            async move {
                match forward(&pool, &target, req).await {
                    Ok(res) => res,
                    Err(e) => local_reply(&e),
                }
            }
        }
    };
    let (addr, _) = start_server(proxy).await;
    let dir = tempdir().unwrap();
    let got = dir.path().join("got.bin");
    run(
        "curl",
        vec![
            "-sS".into(),
            "-o".into(),
            got.display().to_string(),
            format!("http://{addr}/big.bin"),
        ],
    )
    .await;
    assert_eq!(std::fs::read(&got).unwrap(), pattern(200 * 1024));
    // A chunked upload through both proxies, echoed by our server.
    let upload = dir.path().join("up.bin");
    let data = pattern(500 * 1024);
    std::fs::write(&upload, &data).unwrap();
    run(
        "curl",
        vec![
            "-sS".into(),
            "-H".into(),
            "Transfer-Encoding: chunked".into(),
            "--data-binary".into(),
            format!("@{}", upload.display()),
            "-o".into(),
            got.display().to_string(),
            format!("http://{addr}/app/echo"),
        ],
    )
    .await;
    assert_eq!(std::fs::read(&got).unwrap(), data);
    // An upstream that is down: 503 from the forwarding helper.
    drop(nginx);
    let (out, _) = run(
        "curl",
        vec![
            "-sS".into(),
            "-o".into(),
            "/dev/null".into(),
            "-w".into(),
            "%{http_code}".into(),
            format!("http://{addr}/big.bin"),
        ],
    )
    .await;
    assert_eq!(out, "503");
}
