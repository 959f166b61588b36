//! What real clients send, and what the server answers them, captured by
//! a recording relay on loopback and decoded with our codec: `redis-cli`
//! (RESP2 and `-3`) and redis-py (`protocol=2` and `protocol=3`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use mesh_codecs::redis::{Frame, Request, RespCodec, RespSniffer};
use mesh_core::{Detection, Protocol, Sniff};
use mesh_testkit::{listen_addr, redis_server, require_binary, require_python_module};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::Decoder;

/// The bytes of one relayed connection, in the reads they arrived in.
#[derive(Debug, Default)]
struct Capture {
    to_server: Vec<Vec<u8>>,
    to_client: Vec<Vec<u8>>,
}

type Captures = Arc<Mutex<Vec<(Arc<Mutex<Capture>>, JoinHandle<()>)>>>;

/// Copies `from` to `to`, recording every read, then half-closes `to`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    capture: Arc<Mutex<Capture>>,
    to_server: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut c = capture.lock().unwrap();
            let dir = if to_server {
                &mut c.to_server
            } else {
                &mut c.to_client
            };
            dir.push(buf[..n].to_vec());
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Starts a relay to `upstream` on a fresh loopback address.
async fn relay(upstream: SocketAddr) -> (SocketAddr, Captures) {
    let listener = TcpListener::bind(listen_addr()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let captures: Captures = Arc::default();
    let list = captures.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let server = TcpStream::connect(upstream).await.unwrap();
            let capture = Arc::new(Mutex::new(Capture::default()));
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let c = capture.clone();
            let task = tokio::spawn(async move {
                let up = tokio::spawn(pump(cr, sw, c.clone(), true));
                pump(sr, cw, c, false).await;
                let _ = up.await;
            });
            list.lock().unwrap().push((capture, task));
        }
    });
    (addr, captures)
}

/// Waits for every relayed connection to end and returns the captures.
async fn finish(captures: &Captures) -> Vec<Capture> {
    let entries: Vec<_> = std::mem::take(&mut *captures.lock().unwrap());
    let mut out = Vec::new();
    for (capture, task) in entries {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        out.push(std::mem::take(&mut *capture.lock().unwrap()));
    }
    out
}

/// The sniffer recognises every real client from its first bytes, and
/// waits (never guesses) on every shorter prefix of them.
fn assert_sniffed(reads: &[Vec<u8>]) {
    let sent: Vec<u8> = reads.concat();
    let prefix = &sent[..sent.len().min(64)];
    assert_eq!(
        RespSniffer.sniff(prefix),
        Detection::Match(Protocol::Redis),
        "{prefix:?}"
    );
    for n in 0..prefix.len() {
        assert_ne!(
            RespSniffer.sniff(&prefix[..n]),
            Detection::NoMatch,
            "{:?}",
            &prefix[..n]
        );
    }
}

/// Decodes a direction of a capture, read by read as it was relayed.
fn decode(reads: &[Vec<u8>], mut codec: RespCodec) -> Vec<Frame> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        while let Some(frame) = codec.decode(&mut buf).unwrap() {
            out.push(frame);
        }
    }
    assert!(buf.is_empty(), "undecoded bytes left: {buf:?}");
    out
}

fn names(requests: &[Frame]) -> Vec<String> {
    requests
        .iter()
        .map(|f| {
            let r = Request::new(f).unwrap_or_else(|| panic!("not a command: {f:?}"));
            let args: Vec<String> = (0..r.len())
                .map(|i| String::from_utf8_lossy(r.get(i).unwrap()).into_owned())
                .collect();
            args.join(" ")
        })
        .collect()
}

async fn run(mut cmd: Command) -> String {
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_resp2_and_resp3() {
    let cli = require_binary("redis-cli");
    let (_server, server_addr, _dir) = redis_server(&[]);
    let (addr, captures) = relay(server_addr).await;
    let host = addr.ip().to_string();
    let port = addr.port().to_string();

    let cli_cmd = |args: &[&str]| {
        let mut c = Command::new(&cli);
        c.args(["-h", &host, "-p", &port]).args(args);
        c
    };
    run(cli_cmd(&["SET", "greeting", "hello world"])).await;
    run(cli_cmd(&["HSET", "h", "field", "value"])).await;
    let out = run(cli_cmd(&["-3", "HGETALL", "h"])).await;
    assert!(out.contains("field"), "{out}");
    run(cli_cmd(&["-3", "ZADD", "z", "1.5", "m"])).await;
    run(cli_cmd(&["-3", "ZSCORE", "z", "m"])).await;
    let mut piped = cli_cmd(&[]);
    let input = tempfile_with("SET piped 1\nINCR piped\nGET piped\n");
    piped.stdin(std::fs::File::open(input.path().join("in")).unwrap());
    let out = run(piped).await;
    assert!(out.contains('2'), "{out}");

    let captures = finish(&captures).await;
    assert_eq!(captures.len(), 6, "one connection per redis-cli run");
    let mut all_requests = Vec::new();
    for capture in &captures {
        assert_sniffed(&capture.to_server);
        let requests = decode(&capture.to_server, RespCodec::requests());
        let replies = decode(&capture.to_client, RespCodec::replies());
        assert_eq!(
            requests.len(),
            replies.len(),
            "one reply per request: {requests:?} {replies:?}"
        );
        let names = names(&requests);
        if names.first().is_some_and(|n| n == "HELLO 3") {
            assert!(matches!(replies[0], Frame::Map(_)), "HELLO 3 answers a map");
            if names[1] == "HGETALL h" {
                assert_eq!(
                    replies[1],
                    Frame::Map(vec![(Frame::bulk("field"), Frame::bulk("value"))])
                );
            }
            if names[1] == "ZSCORE z m" {
                assert_eq!(replies[1], Frame::Double(bytes::Bytes::from_static(b"1.5")));
            }
        }
        all_requests.extend(names);
    }
    for expected in [
        "SET greeting hello world",
        "HSET h field value",
        "HELLO 3",
        "HGETALL h",
        "ZADD z 1.5 m",
        "ZSCORE z m",
        "SET piped 1",
        "INCR piped",
        "GET piped",
    ] {
        assert!(
            all_requests.iter().any(|r| r == expected),
            "{expected} not in {all_requests:?}"
        );
    }
}

fn tempfile_with(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in"), content).unwrap();
    dir
}

const REDIS_PY_SCRIPT: &str = r#"
import sys, redis
host, port, proto = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = redis.Redis(host=host, port=port, protocol=proto)
r.flushall()
r.set("py:key", "value")
assert r.get("py:key") == b"value"
r.hset("py:hash", mapping={"a": "1", "b": "2"})
assert r.hgetall("py:hash") == {b"a": b"1", b"b": b"2"}
r.zadd("py:z", {"m1": 1.5, "m2": 2})
assert [tuple(p) for p in r.zrange("py:z", 0, -1, withscores=True)] == [(b"m1", 1.5), (b"m2", 2.0)]
assert r.get("py:missing") is None
with r.pipeline(transaction=True) as p:
    p.incr("py:n").incr("py:n").get("py:n")
    assert p.execute() == [1, 2, b"2"]
ps = r.pubsub()
ps.subscribe("py:chan")
while ps.get_message(timeout=1.0) is None:
    pass
r.publish("py:chan", "hi")
msg = None
while msg is None:
    msg = ps.get_message(timeout=1.0)
assert msg["data"] == b"hi", msg
ps.close()
r.close()
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_resp2_and_resp3() {
    let python = require_python_module("redis");
    let (_server, server_addr, _dir) = redis_server(&[]);
    for proto in ["2", "3"] {
        let (addr, captures) = relay(server_addr).await;
        let mut cmd = Command::new(&python);
        cmd.args([
            "-c",
            REDIS_PY_SCRIPT,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            proto,
        ]);
        assert_eq!(run(cmd).await.trim(), "ok");
        let captures = finish(&captures).await;
        let mut requests = Vec::new();
        let mut replies = Vec::new();
        for capture in &captures {
            assert_sniffed(&capture.to_server);
            let sent = decode(&capture.to_server, RespCodec::requests());
            let got = decode(&capture.to_client, RespCodec::replies());
            requests.extend(names(&sent));
            replies.extend(got);
        }
        for expected in [
            "SET py:key value",
            "GET py:key",
            "HGETALL py:hash",
            "ZRANGE py:z 0 -1 WITHSCORES",
            "MULTI",
            "INCRBY py:n 1",
            "EXEC",
            "SUBSCRIBE py:chan",
            "PUBLISH py:chan hi",
        ] {
            assert!(
                requests.iter().any(|r| r == expected),
                "protocol {proto}: {expected} not in {requests:?}"
            );
        }
        let hello = requests.iter().any(|r| r.starts_with("HELLO 3"));
        assert_eq!(hello, proto == "3", "protocol {proto}: {requests:?}");
        let has = |pred: &dyn Fn(&Frame) -> bool| replies.iter().any(pred);
        let message = Frame::bulk("message");
        if proto == "3" {
            assert!(has(&|f| matches!(f, Frame::Map(_))), "RESP3 maps");
            assert!(has(&|f| f == &Frame::Null), "RESP3 null");
            assert!(
                has(&|f| matches!(f, Frame::Push(items) if items.first() == Some(&message))),
                "RESP3 push"
            );
            assert!(
                has(
                    &|f| matches!(f, Frame::Array(items) if items.iter().any(|p| matches!(p, Frame::Array(pair) if matches!(pair.get(1), Some(Frame::Double(_))))))
                ),
                "RESP3 doubles in ZRANGE"
            );
        } else {
            assert!(has(&|f| f == &Frame::NullBulkString), "RESP2 null");
            assert!(
                has(&|f| matches!(f, Frame::Array(items) if items.first() == Some(&message))),
                "RESP2 message"
            );
            assert!(!has(&|f| matches!(
                f,
                Frame::Map(_) | Frame::Push(_) | Frame::Null | Frame::Double(_)
            )));
        }
    }
}
