//! pymongo driving mockupdb through a relay that frames both directions
//! with `MongoCodec` as a proxy would, recording every message.
//!
//! The Python fixture (`tests/mongo/pymongo_session.py`) records what
//! mockupdb decoded from each request and what it answered; every message
//! the relay decoded must match its record field by field (command,
//! database, collection, lsid, txnNumber, $readPreference, comment,
//! document counts, flags, compressor, reply ok/errmsg/code/cursor id), and
//! every record must have been decoded. Replies are paired with requests,
//! and the recorded bytes are decoded again cut into random pieces.
//!
//! The compressed runs negotiate zlib, snappy and zstd in `hello`: pymongo
//! compresses its requests, the fixture its replies, so both directions
//! are real OP_COMPRESSED from Python's compressors.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mesh_codecs::mongo::bson::Binary;
use mesh_codecs::mongo::{Compressor, Direction, Limits, Message, MongoCodec, Op, Pairing};
use mesh_testkit::{Peer, require_python_module, tempdir, unique_loopback};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

/// One message as the relay decoded it.
struct Recorded {
    seq: u64,
    conn: usize,
    from_client: bool,
    msg: Message,
}

#[derive(Default)]
struct Log {
    messages: Vec<Recorded>,
    /// The raw bytes of each direction of each connection: (conn, from_client).
    raw: HashMap<(usize, bool), Vec<u8>>,
    errors: Vec<String>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut codec: MongoCodec,
    conn: usize,
    from_client: bool,
    log: Arc<Mutex<Log>>,
) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        match from.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(msg)) => {
                    let wire = msg.wire_bytes().clone();
                    {
                        let mut log = log.lock().unwrap();
                        log.raw
                            .entry((conn, from_client))
                            .or_default()
                            .extend_from_slice(&wire);
                        log.messages.push(Recorded {
                            seq: SEQ.fetch_add(1, Ordering::SeqCst),
                            conn,
                            from_client,
                            msg,
                        });
                    }
                    if to.write_all(&wire).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log.lock().unwrap().errors.push(format!("conn {conn}: {e}"));
                    return;
                }
            }
        }
    }
    if !buf.is_empty() {
        log.lock().unwrap().errors.push(format!(
            "conn {conn}: {} bytes of a cut message at EOF",
            buf.len()
        ));
    }
    let _ = to.shutdown().await;
}

async fn relay(listener: TcpListener, upstream: SocketAddr, log: Arc<Mutex<Log>>) {
    let mut conn = 0;
    while let Ok((client, _)) = listener.accept().await {
        conn += 1;
        let Ok(server) = TcpStream::connect(upstream).await else {
            log.lock()
                .unwrap()
                .errors
                .push(format!("cannot reach mockupdb at {upstream}"));
            continue;
        };
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let limits = Limits::default();
        tokio::spawn(pump(
            cr,
            sw,
            MongoCodec::new(limits),
            conn,
            true,
            log.clone(),
        ));
        tokio::spawn(pump(
            sr,
            cw,
            MongoCodec::upstream(limits),
            conn,
            false,
            log.clone(),
        ));
    }
}

struct Outcome {
    log: Log,
    records: Vec<Json>,
}

async fn run_fixture(compressor: &str) -> Outcome {
    let python = require_python_module("pymongo");
    for module in ["mockupdb", "snappy", "zstandard", "backports.zstd"] {
        require_python_module(module);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mongo/pymongo_session.py");
    let dir = tempdir().unwrap();
    let records_path = dir.path().join("records.jsonl");
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let relay_addr = listener.local_addr().unwrap();
    let mock_ip = unique_loopback();

    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .args(["--bind", &mock_ip.to_string()])
        .args(["--relay", &relay_addr.to_string()])
        .arg("--records")
        .arg(&records_path)
        .args(["--compressor", compressor]);
    let peer = Peer::spawn("pymongo fixture", &mut cmd);
    let (peer, line) = tokio::task::spawn_blocking(move || {
        let mut peer = peer;
        let line = peer.wait_for_line("MOCK ");
        (peer, line)
    })
    .await
    .unwrap();
    let mut parts = line.split_whitespace().skip(1);
    let host = parts.next().unwrap();
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let upstream = SocketAddr::new(host.parse().unwrap(), port);

    let log = Arc::new(Mutex::new(Log::default()));
    let relay_task = tokio::spawn(relay(listener, upstream, log.clone()));
    let (out, err, ok) =
        tokio::task::spawn_blocking(move || peer.wait_output(Duration::from_secs(120)))
            .await
            .unwrap();
    relay_task.abort();
    assert!(
        ok,
        "fixture failed\nrelay errors: {:?}\nstdout:\n{out}\nstderr:\n{err}",
        log.lock().unwrap().errors
    );
    // Complete: the pumps record each message before forwarding it, so
    // everything either side received is in the log.

    let records = std::fs::read_to_string(&records_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let log = std::mem::take(&mut *log.lock().unwrap());
    Outcome { log, records }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn opt_str(v: &Json, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_owned)
}

fn opt_i64(v: &Json, key: &str) -> Option<i64> {
    v.get(key).and_then(|x| x.as_i64())
}

fn compressor_id(v: &Json) -> Option<u8> {
    v.get("compressor")
        .and_then(|x| x.as_u64())
        .map(|x| x as u8)
}

fn msg_flags(msg: &Message) -> u32 {
    match msg.op().unwrap() {
        Op::Msg(m) => m.flags().bits(),
        _ => 0,
    }
}

/// The `compression` array of a handshake request or reply, read with our
/// BSON reader.
fn compression_list(msg: &Message) -> Option<Vec<String>> {
    let doc = match msg.op().unwrap() {
        Op::Msg(m) => m.body(),
        Op::Query(q) => q.query,
        Op::Reply(r) => r.documents().next()?,
        _ => return None,
    };
    let arr = doc.get_array("compression").unwrap()?;
    Some(
        arr.iter()
            .map(|v| v.unwrap().as_str().unwrap().to_owned())
            .collect(),
    )
}

fn check(outcome: &Outcome, compressor: Option<Compressor>) {
    let log = &outcome.log;
    assert!(log.errors.is_empty(), "relay errors: {:?}", log.errors);
    let requests: HashMap<i64, &Json> = outcome
        .records
        .iter()
        .filter(|r| r["kind"] == "request")
        .map(|r| (r["request_id"].as_i64().unwrap(), r))
        .collect();
    let replies: HashMap<i64, &Json> = outcome
        .records
        .iter()
        .filter(|r| r["kind"] == "reply")
        .map(|r| (r["response_to"].as_i64().unwrap(), r))
        .collect();

    let mut commands = BTreeSet::new();
    let (mut decoded_requests, mut decoded_replies) = (0, 0);
    let (mut compressed_requests, mut compressed_replies) = (0, 0);
    let mut saw = HashMap::<&str, bool>::new();
    for rec in &log.messages {
        let msg = &rec.msg;
        let s = msg.summary().unwrap();
        if rec.from_client {
            decoded_requests += 1;
            assert_eq!(s.direction, Direction::Request);
            let want = requests
                .get(&i64::from(s.request_id))
                .unwrap_or_else(|| panic!("no fixture record for request {s:?}"));
            let ctx = format!("request {s:#?}\nrecord {want}");
            assert_eq!(
                i64::from(msg.op_code().as_i32()),
                want["opcode"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                i64::from(msg_flags(msg)),
                want["flags"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                msg.compressor().map(|c| c.id()),
                compressor_id(want),
                "{ctx}"
            );
            assert_eq!(
                s.command.map(str::to_owned),
                opt_str(want, "command"),
                "{ctx}"
            );
            assert_eq!(s.database.map(str::to_owned), opt_str(want, "db"), "{ctx}");
            assert_eq!(
                s.collection.map(str::to_owned),
                opt_str(want, "collection"),
                "{ctx}"
            );
            assert_eq!(
                s.session_id.map(|b| hex(b.bytes)),
                opt_str(want, "lsid"),
                "{ctx}"
            );
            if let Some(b) = s.session_id {
                assert_eq!(b.subtype, Binary::UUID, "{ctx}");
            }
            assert_eq!(s.txn_number, opt_i64(want, "txn_number"), "{ctx}");
            assert_eq!(
                s.read_preference.map(str::to_owned),
                opt_str(want, "read_preference"),
                "{ctx}"
            );
            assert_eq!(
                s.comment.and_then(|c| c.as_str()).map(str::to_owned),
                opt_str(want, "comment"),
                "{ctx}"
            );
            assert_eq!(
                s.documents as i64,
                want["documents"].as_i64().unwrap(),
                "{ctx}"
            );
            if s.command == Some("getMore") {
                assert_eq!(s.cursor_id, opt_i64(want, "cursor_id"), "{ctx}");
            }
            if let Some(list) = want.get("compression") {
                let ours = compression_list(msg).expect("compression in hello");
                assert_eq!(serde_json::to_value(ours).unwrap(), *list, "{ctx}");
            }
            if msg.compressor().is_some() {
                compressed_requests += 1;
            }
            commands.insert(s.command.unwrap_or("").to_owned());
            if s.more_to_come {
                saw.insert("moreToCome request", true);
            }
            if s.exhaust_allowed && s.command == Some("getMore") {
                saw.insert("exhaustAllowed getMore", true);
            }
            if s.txn_number.is_some() && s.session_id.is_some() {
                let body = match msg.op().unwrap() {
                    Op::Msg(m) => m.body(),
                    _ => panic!("transaction outside OP_MSG"),
                };
                if body.get_bool("startTransaction").unwrap() == Some(true) {
                    assert_eq!(body.get_bool("autocommit").unwrap(), Some(false));
                    saw.insert("startTransaction", true);
                }
                if s.command == Some("commitTransaction") {
                    saw.insert("commitTransaction in txn", true);
                }
            }
        } else {
            decoded_replies += 1;
            assert_eq!(s.direction, Direction::Reply);
            let want = replies
                .get(&i64::from(s.response_to))
                .unwrap_or_else(|| panic!("no fixture record for reply {s:?}"));
            let ctx = format!("reply {s:#?}\nrecord {want}");
            let status = s.reply.expect("reply status");
            assert_eq!(
                i64::from(msg.op_code().as_i32()),
                want["opcode"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                i64::from(msg_flags(msg)),
                want["flags"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                msg.compressor().map(|c| c.id()),
                compressor_id(want),
                "{ctx}"
            );
            assert_eq!(status.ok, want["ok"].as_bool(), "{ctx}");
            assert_eq!(
                status.errmsg.map(str::to_owned),
                opt_str(want, "errmsg"),
                "{ctx}"
            );
            assert_eq!(status.code.map(i64::from), opt_i64(want, "code"), "{ctx}");
            assert_eq!(status.n, opt_i64(want, "n"), "{ctx}");
            assert_eq!(
                status.write_errors as i64,
                want["write_errors"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                s.documents as i64,
                want["documents"].as_i64().unwrap(),
                "{ctx}"
            );
            if let Some(id) = opt_i64(want, "cursor_id") {
                assert_eq!(s.cursor_id, Some(id), "{ctx}");
            }
            if let Some(list) = want.get("compression") {
                let ours = compression_list(msg).expect("compression in hello reply");
                assert_eq!(serde_json::to_value(ours).unwrap(), *list, "{ctx}");
            }
            if msg.compressor().is_some() {
                compressed_replies += 1;
            }
            if s.more_to_come {
                saw.insert("moreToCome reply", true);
            }
            if status.write_errors > 0 {
                saw.insert("write error", true);
            }
            if status.code == Some(59) && status.ok == Some(false) {
                saw.insert("command error", true);
            }
        }
    }
    assert_eq!(
        decoded_requests,
        requests.len(),
        "every request decoded once"
    );
    assert_eq!(decoded_replies, replies.len(), "every reply decoded once");
    for cmd in [
        "insert",
        "find",
        "getMore",
        "killCursors",
        "aggregate",
        "update",
        "delete",
        "commitTransaction",
        "frobnicate",
        "endSessions",
    ] {
        assert!(commands.contains(cmd), "no {cmd} in {commands:?}");
    }
    assert!(
        ["isMaster", "ismaster", "hello"]
            .iter()
            .any(|c| commands.contains(*c)),
        "no handshake in {commands:?}"
    );
    for what in [
        "moreToCome request",
        "exhaustAllowed getMore",
        "startTransaction",
        "commitTransaction in txn",
        "moreToCome reply",
        "write error",
        "command error",
    ] {
        assert!(saw.contains_key(what), "scenario lacks {what}");
    }
    match compressor {
        // Everything but the handshake is compressed when negotiated.
        Some(c) => {
            assert!(
                compressed_requests >= 12,
                "{compressed_requests} compressed requests"
            );
            assert!(
                compressed_replies >= 12,
                "{compressed_replies} compressed replies"
            );
            for rec in &log.messages {
                if let Some(used) = rec.msg.compressor() {
                    assert_eq!(used, c);
                }
            }
        }
        None => assert_eq!(compressed_requests + compressed_replies, 0),
    }
    check_pairing(log);
    check_resplit(log);
}

/// Pairs every reply with the request it answers, per connection, in the
/// order the relay saw them; exhaust replies keep the getMore pending.
fn check_pairing(log: &Log) {
    let mut by_conn: HashMap<usize, Vec<&Recorded>> = HashMap::new();
    for rec in &log.messages {
        by_conn.entry(rec.conn).or_default().push(rec);
    }
    let mut exhaust_replies = 0;
    for (conn, mut recs) in by_conn {
        recs.sort_by_key(|r| r.seq);
        let mut pairing = Pairing::new(8);
        for rec in recs {
            let s = rec.msg.summary().unwrap();
            if rec.from_client {
                if s.expects_reply() {
                    pairing.request(s.request_id, s.command.unwrap_or("").to_owned());
                }
            } else {
                let cmd = pairing
                    .reply(s.response_to, s.request_id, s.more_to_come)
                    .unwrap_or_else(|| panic!("conn {conn}: unpaired reply {s:?}"));
                if cmd == "getMore" && s.cursor_id == Some(0) && s.response_to == 900001 {
                    exhaust_replies += 1;
                }
                if matches!(cmd.as_str(), "find" | "aggregate" | "getMore") {
                    assert!(s.cursor_id.is_some(), "{cmd} reply without cursor: {s:?}");
                }
            }
        }
        assert_eq!(pairing.pending(), 0, "conn {conn}: unanswered requests");
        assert_eq!(pairing.evicted(), 0);
    }
    assert_eq!(
        exhaust_replies, 1,
        "the exhaust stream's last reply pairs with its getMore"
    );
}

/// Decodes each direction's bytes again, cut at pseudo-random points.
fn check_resplit(log: &Log) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for (&(conn, from_client), raw) in &log.raw {
        let want: Vec<&Bytes> = log
            .messages
            .iter()
            .filter(|r| r.conn == conn && r.from_client == from_client)
            .map(|r| r.msg.wire_bytes())
            .collect();
        let mut codec = MongoCodec::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &raw[..];
        while !rest.is_empty() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 97 + 1) as usize;
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            buf.extend_from_slice(chunk);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                got.push(m.wire_bytes().clone());
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got.len(), want.len());
        assert!(got.iter().zip(want).all(|(a, b)| a == b));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_uncompressed() {
    let outcome = run_fixture("none").await;
    check(&outcome, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_zlib() {
    let outcome = run_fixture("zlib").await;
    check(&outcome, Some(Compressor::Zlib));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_snappy() {
    let outcome = run_fixture("snappy").await;
    check(&outcome, Some(Compressor::Snappy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_zstd() {
    let outcome = run_fixture("zstd").await;
    check(&outcome, Some(Compressor::Zstd));
}
