//! The server driver over in-memory streams: keep-alive, pipelining,
//! `Expect: 100-continue`, timeouts on paused time, upgrades, framing of
//! responses, and what happens to unread request bodies.
// Test helpers (not only #[test] functions) unwrap: a panic here is a
// failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h1::{
    Body, BodyDecoder, Frame, HeadReader, Limits, MessageKind, Request, Response, ResponseHead,
    ServerConfig, ServerError, response_framing, serve_connection,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

/// Echoes `METHOD target` and the request body.
async fn echo(req: Request) -> Response {
    let line = format!(
        "{} {} ",
        req.head.method,
        String::from_utf8_lossy(&req.head.target)
    );
    let (body, _) = req.body.collect(1 << 20).await.unwrap_or_default();
    let mut out = line.into_bytes();
    out.extend_from_slice(&body);
    Response::with_status(200, Bytes::from(out))
}

fn spawn_server<S>(
    service: S,
    config: ServerConfig,
) -> (DuplexStream, JoinHandle<Result<(), ServerError>>)
where
    S: mesh_http::h1::Service + 'static,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    let task = tokio::spawn(async move { serve_connection(server, &service, &config).await });
    (client, task)
}

/// Reads one response (to a request with `method`) with our own decoder.
async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    method: &str,
) -> (ResponseHead, Vec<u8>) {
    let mut heads = HeadReader::new(Limits::DEFAULT);
    let head = loop {
        if let Some(h) = heads.read_response(buf).unwrap() {
            if h.status == 100 {
                continue;
            }
            break h;
        }
        assert!(io.read_buf(buf).await.unwrap() > 0, "closed before a head");
    };
    let framing = response_framing(
        method.as_bytes(),
        head.status,
        head.version,
        head.headers.pairs(),
    )
    .unwrap();
    let mut dec = BodyDecoder::new(framing, MessageKind::Response, Limits::DEFAULT);
    let mut body = Vec::new();
    loop {
        while let Some(f) = dec.decode(buf).unwrap() {
            if let Frame::Data(d) = f {
                body.extend_from_slice(&d);
            }
        }
        if dec.is_done() {
            break;
        }
        if io.read_buf(buf).await.unwrap() == 0 {
            while let Some(f) = dec.decode_eof(buf).unwrap() {
                if let Frame::Data(d) = f {
                    body.extend_from_slice(&d);
                }
            }
            break;
        }
    }
    (head, body)
}

#[tokio::test]
async fn keep_alive_and_pipelining() {
    let (mut client, task) = spawn_server(echo, ServerConfig::default());
    client
        .write_all(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
              POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
              POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    for expected in ["GET /a ", "POST /b hello", "POST /c abcde"] {
        let (head, body) = read_response(&mut client, &mut buf, "GET").await;
        assert_eq!(head.status, 200);
        assert_eq!(String::from_utf8_lossy(&body), expected);
        assert!(head.headers.get("connection").is_none(), "kept alive");
    }
    drop(client);
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn http10_closes_unless_asked_and_gets_close_delimited_streams() {
    let (mut client, task) = spawn_server(echo, ServerConfig::default());
    client.write_all(b"GET /x HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("connection: close"), "{out}");
    assert!(out.ends_with("GET /x "));
    task.await.unwrap().unwrap();

    let (mut client, _task) = spawn_server(echo, ServerConfig::default());
    client
        .write_all(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    for n in ["/1", "/2"] {
        let (head, body) = read_response(&mut client, &mut buf, "GET").await;
        assert_eq!(head.headers.get("connection").unwrap(), "keep-alive");
        assert!(String::from_utf8_lossy(&body).contains(n));
    }

    // A body of unknown size to an HTTP/1.0 client: delimited by close.
    let streaming = |_req: Request| async {
        let (mut tx, body) = Body::channel(None, Side::Internal);
        tokio::spawn(async move {
            tx.send_data("part1,").await.unwrap();
            tx.send_data("part2").await.unwrap();
            tx.finish().await.unwrap();
        });
        Response::with_status(200, body)
    };
    let (mut client, task) = spawn_server(streaming, ServerConfig::default());
    client
        .write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("transfer-encoding"), "{out}");
    assert!(
        out.contains("connection: close") && out.ends_with("\r\n\r\npart1,part2"),
        "{out}"
    );
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn chunked_response_for_a_streamed_body_with_trailers() {
    let streaming = |_req: Request| async {
        let (mut tx, body) = Body::channel(None, Side::Internal);
        tokio::spawn(async move {
            tx.send_data("hello ").await.unwrap();
            tx.send_data("world").await.unwrap();
            let mut t = mesh_http::h1::HeaderMap::new();
            t.append("x-checksum", "42").unwrap();
            tx.send(Frame::Trailers(t)).await.unwrap();
            tx.finish().await.unwrap();
        });
        Response::with_status(200, body)
    };
    let (mut client, _task) = spawn_server(streaming, ServerConfig::default());
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut raw = BytesMut::new();
    while !raw.ends_with(b"x-checksum: 42\r\n\r\n") {
        assert!(client.read_buf(&mut raw).await.unwrap() > 0);
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: 42\r\n\r\n"),
        "{text}"
    );
}

#[tokio::test]
async fn head_responses_announce_without_sending() {
    let svc = |_req: Request| async { Response::with_status(200, "twelve bytes") };
    let (mut client, _task) = spawn_server(svc, ServerConfig::default());
    client
        .write_all(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let (head, body) = read_response(&mut client, &mut buf, "HEAD").await;
    assert_eq!(head.headers.get("content-length").unwrap(), "12");
    assert!(body.is_empty());
    let (_, body) = read_response(&mut client, &mut buf, "GET").await;
    assert_eq!(body, b"twelve bytes");
}

#[tokio::test]
async fn expect_continue_is_sent_when_the_body_is_read() {
    let (mut client, _task) = spawn_server(echo, ServerConfig::default());
    client
        .write_all(b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    while !buf.ends_with(b"\r\n\r\n") {
        client.read_buf(&mut buf).await.unwrap();
    }
    assert_eq!(&buf[..], b"HTTP/1.1 100 Continue\r\n\r\n");
    buf.clear();
    client.write_all(b"data").await.unwrap();
    let (head, body) = read_response(&mut client, &mut buf, "PUT").await;
    assert_eq!(head.status, 200);
    assert_eq!(body, b"PUT /up data");
}

#[tokio::test]
async fn expect_continue_is_not_sent_when_the_service_refuses() {
    let refuse = |req: Request| async move {
        drop(req.body);
        Response::with_status(413, "too big")
    };
    let (mut client, task) = spawn_server(refuse, ServerConfig::default());
    client
        .write_all(b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{out}"
    );
    assert!(!out.contains("100 Continue"));
    assert!(out.contains("connection: close"), "{out}");
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn expect_continue_is_sent_before_a_response_that_streams_the_body() {
    // The service answers at once and reads the body later, into the
    // response: 100 Continue must still come first.
    let stream_back = |req: Request| async move {
        let mut body = req.body;
        let (mut tx, out) = Body::channel(None, Side::Internal);
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            while let Some(frame) = body.frame().await {
                tx.send(frame.unwrap()).await.unwrap();
            }
            tx.finish().await.unwrap();
        });
        Response::with_status(200, out)
    };
    let (mut client, _task) = spawn_server(stream_back, ServerConfig::default());
    client
        .write_all(b"POST /s HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    while buf.len() < interim.len() {
        assert!(client.read_buf(&mut buf).await.unwrap() > 0);
    }
    assert_eq!(
        &buf[..interim.len()],
        interim,
        "100 Continue before the response"
    );
    client.write_all(b"stream").await.unwrap();
    let (head, body) = read_response(&mut client, &mut buf, "POST").await;
    assert_eq!(head.status, 200);
    assert_eq!(body, b"stream");
    assert!(head.headers.get("connection").is_none(), "kept alive");
}

#[tokio::test(start_paused = true)]
async fn a_slow_head_gets_408_after_the_head_timeout() {
    let config = ServerConfig {
        head_timeout: Duration::from_secs(10),
        ..ServerConfig::default()
    };
    let (mut client, task) = spawn_server(echo, config);
    let start = tokio::time::Instant::now();
    let ended = tokio::spawn(async move { (task.await.unwrap(), tokio::time::Instant::now()) });
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: slo")
        .await
        .unwrap();
    // The client sends one more byte every 3 s: still too slow.
    let trickle = async {
        for b in b"wloris" {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if client.write_all(&[*b]).await.is_err() {
                break;
            }
        }
        client
    };
    let mut client = trickle.await;
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
    let (result, at) = ended.await.unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err, ServerError::HeadTimeout(d) if d == Duration::from_secs(10)));
    let elapsed = at - start;
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(11),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_closes_quietly() {
    let config = ServerConfig {
        keep_alive_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    };
    let (mut client, task) = spawn_server(echo, config);
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = BytesMut::new();
    read_response(&mut client, &mut buf, "GET").await;
    let start = tokio::time::Instant::now();
    let n = client.read_buf(&mut buf).await.unwrap();
    assert_eq!(n, 0, "closed without a response");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn upgrade_hands_over_the_raw_stream_with_early_bytes() {
    let svc = |mut req: Request| async move {
        let upgrade = req.on_upgrade().expect("an upgrade request");
        tokio::spawn(async move {
            let mut io = upgrade.await.unwrap();
            let mut buf = [0u8; 64];
            loop {
                let n = io.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                let upper: Vec<u8> = buf[..n].to_ascii_uppercase();
                io.write_all(&upper).await.unwrap();
            }
        });
        let mut res = Response::with_status(101, ());
        res.head.headers.append("Upgrade", "shout").unwrap();
        res.head.headers.append("Connection", "Upgrade").unwrap();
        res
    };
    let (mut client, task) = spawn_server(svc, ServerConfig::default());
    client
        .write_all(b"GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nearly")
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    while !buf.ends_with(b"EARLY") {
        assert!(client.read_buf(&mut buf).await.unwrap() > 0);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Upgrade: shout\r\nConnection: Upgrade\r\n"),
        "{text}"
    );
    task.await.unwrap().unwrap();
    client.write_all(b"later").await.unwrap();
    let mut got = [0u8; 5];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"LATER");
}

#[tokio::test]
async fn connect_tunnels_after_a_2xx() {
    let svc = |mut req: Request| async move {
        assert_eq!(&req.head.target[..], b"db.internal:5432");
        let upgrade = req.on_upgrade().expect("CONNECT");
        tokio::spawn(async move {
            let mut io = upgrade.await.unwrap();
            io.write_all(b"tunnel-open").await.unwrap();
        });
        Response::with_status(200, ())
    };
    let (mut client, _task) = spawn_server(svc, ServerConfig::default());
    client
        .write_all(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(!out.contains("content-length"), "{out}");
    assert!(out.ends_with("\r\n\r\ntunnel-open"), "{out}");
}

#[tokio::test]
async fn bad_heads_get_their_status() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000)).into_bytes(),
            "414 URI Too Long",
        ),
        (
            {
                let mut s = String::from("GET / HTTP/1.1\r\n");
                for i in 0..101 {
                    s.push_str(&format!("X-{i}: v\r\n"));
                }
                s.push_str("\r\n");
                s.into_bytes()
            },
            "431 Request Header Fields Too Large",
        ),
        (
            b"GET / HTTP/2.0\r\n\r\n".to_vec(),
            "505 HTTP Version Not Supported",
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n".to_vec(),
            "400 Bad Request",
        ),
    ];
    for (raw, status) in cases {
        let (mut client, task) = spawn_server(echo, ServerConfig::default());
        client.write_all(&raw).await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{out}");
        assert!(matches!(
            task.await.unwrap(),
            Err(ServerError::BadRequest(_))
        ));
    }
}

#[tokio::test]
async fn an_unread_body_is_drained_or_the_connection_closed() {
    let ignore = |_req: Request| async { Response::with_status(204, ()) };
    let (mut client, _task) = spawn_server(ignore, ServerConfig::default());
    client
        .write_all(
            b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /b HTTP/1.1\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = BytesMut::new();
    let (a, _) = read_response(&mut client, &mut buf, "POST").await;
    let (b, _) = read_response(&mut client, &mut buf, "GET").await;
    assert_eq!(
        (a.status, b.status),
        (204, 204),
        "the second request was served"
    );

    let config = ServerConfig {
        max_drain: 1024,
        ..ServerConfig::default()
    };
    let (mut client, task) = spawn_server(ignore, config);
    let big = vec![b'x'; 32 * 1024];
    client
        .write_all(format!("POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n", big.len()).as_bytes())
        .await
        .unwrap();
    client.write_all(&big).await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 204"));
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_service_can_stream_the_request_body_into_the_response() {
    // More than the in-memory pipe holds, so both directions must flow at
    // once.
    let stream_back = |req: Request| async move {
        let mut body = req.body;
        let (mut tx, out) = Body::channel(None, Side::Internal);
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                if tx.send(frame.unwrap()).await.is_err() {
                    return;
                }
            }
            tx.finish().await.unwrap();
        });
        Response::with_status(200, out)
    };
    let (client, task) = spawn_server(stream_back, ServerConfig::default());
    let (mut rd, mut wr) = tokio::io::split(client);
    let total = 1024 * 1024;
    let writer = tokio::spawn(async move {
        wr.write_all(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        let chunk = vec![b'z'; 8192];
        for _ in 0..total / chunk.len() {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
            wr.write_all(&chunk).await.unwrap();
            wr.write_all(b"\r\n").await.unwrap();
        }
        wr.write_all(b"0\r\n\r\n").await.unwrap();
        wr
    });
    let mut buf = BytesMut::new();
    let (head, body) = read_response(&mut rd, &mut buf, "POST").await;
    assert_eq!(head.status, 200);
    assert_eq!(body.len(), total);
    assert!(body.iter().all(|&b| b == b'z'));
    drop(writer.await.unwrap());
    drop(rd);
    task.await.unwrap().unwrap();
}
