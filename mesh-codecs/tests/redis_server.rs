//! The codec against a real `redis-server`: every command family sent
//! through our encoder and its replies decoded in RESP2 and in RESP3
//! (`HELLO 3`); every RESP3 type `DEBUG PROTOCOL` offers; pushes; large
//! replies; and, with the server as the oracle, our RESP3-to-RESP2
//! conversion, cluster slots and inline-command parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod redis_support;

use bytes::{Bytes, BytesMut};
use mesh_codecs::redis::{
    DecoderConfig, Frame, Request, RespCodec, decode_frame, slot, to_resp2, to_resp2_exec,
};
use mesh_testkit::redis_server;
use redis_support::{Conn, words};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::Decoder;

const FUNCTION_LIBRARY: &str = "#!lua name=meshlib\nredis.register_function('echo_first', function(keys, args) return args[1] end)";

/// Commands of every family whose replies are the same on every run, so
/// that the RESP2 reply and the converted RESP3 reply must be equal.
const BATTERY: &str = r#"
DEBUG PROTOCOL string
DEBUG PROTOCOL integer
DEBUG PROTOCOL double
DEBUG PROTOCOL bignum
DEBUG PROTOCOL null
DEBUG PROTOCOL array
DEBUG PROTOCOL set
DEBUG PROTOCOL map
DEBUG PROTOCOL attrib
DEBUG PROTOCOL verbatim
DEBUG PROTOCOL true
DEBUG PROTOCOL false
PING
PING hi
ECHO hello
SELECT 0
CLIENT SETNAME conn
CLIENT GETNAME
SET s1 hello
GET s1
GET nope
APPEND s1 world
STRLEN s1
INCR n
INCRBY n 10
DECR n
INCRBYFLOAT f 1.5
GETRANGE s1 0 3
SETRANGE s1 0 J
MSET a 1 b 2
MGET a b nope
MSETNX a 1 c 3
GETDEL a
GETEX b PERSIST
SETNX b x
SET k v NX GET
SET k v2 GET
LCS s1 s1
LCS s1 s1 IDX
SETBIT bits 7 1
GETBIT bits 7
BITCOUNT bits
BITPOS bits 1
BITOP OR bits2 bits bits
BITFIELD bf SET u8 0 200 GET u8 0
RPUSH l a b c d e
LRANGE l 0 -1
LPOP l
LPOP l 2
RPOP nope 2
LPOP nope
LPOS l d
LPOS l zz
LPOS l d COUNT 1
LINDEX l 0
LLEN l
LMOVE l l2 LEFT RIGHT
LMPOP 2 nope l LEFT COUNT 1
LMPOP 1 nope LEFT
BLPOP nope 0.01
BRPOP l2 0.01
BLMOVE nope l2 LEFT LEFT 0.01
BRPOPLPUSH nope l2 0.01
BLMPOP 0.01 1 nope LEFT
HSET h f1 v1 f2 v2
HGET h f1
HGET h nope
HGETALL h
HMGET h f1 nope
HKEYS h
HVALS h
HLEN h
HINCRBYFLOAT h n 2.5
HRANDFIELD nope 1 WITHVALUES
HRANDFIELD nope
HRANDFIELD h 10 WITHVALUES
HEXISTS h f1
HSCAN h 0
SADD s 1 2 3
SMEMBERS s
SISMEMBER s 1
SMISMEMBER s 1 9
SCARD s
SINTER s s
SUNION s s
SPOP nope
SPOP nope 2
SRANDMEMBER nope
SINTERCARD 1 s
ZADD z 1 a 2 b 3.5 c
ZSCORE z c
ZSCORE z nope
ZMSCORE z a nope
ZINCRBY z 0.25 a
ZRANGE z 0 -1
ZRANGE z 0 -1 WITHSCORES
ZRANGE z -inf +inf BYSCORE WITHSCORES
ZRANGEBYSCORE z -inf +inf WITHSCORES
ZREVRANGE z 0 -1 WITHSCORES
ZREVRANGEBYSCORE z +inf -inf WITHSCORES
ZRANGEBYLEX z - +
ZRANK z b
ZCARD z
ZCOUNT z 0 10
ZUNION 1 z WITHSCORES
ZINTER 1 z WITHSCORES
ZDIFF 1 z WITHSCORES
ZUNIONSTORE zu 1 z
ZRANDMEMBER z 10 WITHSCORES
ZRANDMEMBER nope
ZPOPMIN z
ZPOPMAX z 1
ZADD z XX INCR 1 nope
ZADD z INCR 1 a
ZMPOP 1 z MIN
ZMPOP 1 nope MIN
BZPOPMIN nope 0.01
BZPOPMAX zu 0.01
BZMPOP 0.01 1 nope MIN
ZSCAN zu 0
GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOPOS g Palermo nope Catania
GEODIST g Palermo Catania km
GEODIST g Palermo nope
GEOHASH g Palermo nope
GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHCOORD WITHDIST WITHHASH
GEORADIUS g 15 37 200 km ASC WITHDIST
PFADD hll a b c
PFCOUNT hll
XADD st 1-1 f v
XADD st 2-1 g w
XLEN st
XRANGE st - +
XREVRANGE st + - COUNT 1
XREAD COUNT 5 STREAMS st 0
XREAD STREAMS st $
XGROUP CREATE st grp 0
XREADGROUP GROUP grp c1 COUNT 5 STREAMS st >
XDEL st 1-1
XREADGROUP GROUP grp c1 COUNT 5 STREAMS st 0
XREADGROUP GROUP grp c1 STREAMS st >
XINFO STREAM st
XINFO GROUPS st
XACK st grp 2-1
XTRIM st MAXLEN 0
XINFO STREAM st
EXISTS s1 nope
TYPE s1
TYPE nope
RENAME s1 s2
COPY s2 s3
EXPIRE s3 1000
PERSIST s3
TTL s3
OBJECT ENCODING s2
OBJECT ENCODING nope
DEL s2 s3
UNLINK nope
TOUCH h
DBSIZE
EVAL return{1,2,{3,'x'}} 0
EVAL return(nil) 0
EVAL return(true) 0
EVAL return(false) 0
EVAL return(3.99) 0
EVAL return(redis.call('get',KEYS[1])) 1 nope
EVAL redis.setresp(3);return(redis.call('hgetall','h')) 0
EVAL redis.setresp(3);return(redis.call('zscore','zu','b')) 0
EVAL redis.setresp(3);return(true) 0
EVAL redis.setresp(3);return(false) 0
EVAL redis.setresp(3);return({double=3.5}) 0
EVAL redis.setresp(3);return({big_number='123456789012345678901234567890'}) 0
EVAL redis.setresp(3);return(redis.call('debug','protocol','attrib')) 0
EVAL return(redis.error_reply('MYERR bad')) 0
EVALSHA 0000000000000000000000000000000000000000 0
FCALL echo_first 0 hi
FUNCTION LIST
PUBLISH ch hi
PUBSUB NUMSUB ch
PUBSUB CHANNELS
CONFIG GET maxmemory
CONFIG GET maxmemory-policy
COMMAND INFO get
COMMAND DOCS get
COMMAND GETKEYS SET a b
LATENCY DOCTOR
SCRIPT EXISTS 0000000000000000000000000000000000000000
ACL WHOAMI
ACL CAT
WAIT 0 0
NOSUCHCOMMAND
GET
"#;

/// Runs the battery (and a transaction) on one connection and returns
/// each request with its reply.
async fn run_battery(conn: &mut Conn) -> Vec<(Frame, Frame)> {
    let mut out = Vec::new();
    let load = Frame::command(["FUNCTION", "LOAD", "REPLACE", FUNCTION_LIBRARY]);
    let reply = conn
        .call(&["FUNCTION", "LOAD", "REPLACE", FUNCTION_LIBRARY])
        .await;
    out.push((load, reply));
    for line in BATTERY.lines().filter(|l| !l.trim().is_empty()) {
        let args = words(line);
        let reply = conn.call(&args).await;
        out.push((Frame::command(&args), reply));
    }
    out
}

/// A transaction whose queued commands include one with a null-array
/// reply, and its `EXEC` reply.
async fn run_transaction(conn: &mut Conn) -> (Vec<Frame>, Frame) {
    let queued = [
        "SET t 1",
        "INCR t",
        "GET nope",
        "BLPOP nope 0",
        "ZSCORE zu b",
        "HGETALL h",
    ];
    assert_eq!(conn.call(&["MULTI"]).await, Frame::simple("OK"));
    for q in queued {
        assert_eq!(conn.call(&words(q)).await, Frame::simple("QUEUED"));
    }
    let exec = conn.call(&["EXEC"]).await;
    (
        queued.iter().map(|q| Frame::command(words(q))).collect(),
        exec,
    )
}

async fn reset(conn: &mut Conn) {
    for cmd in ["FLUSHALL SYNC", "FUNCTION FLUSH", "SCRIPT FLUSH"] {
        assert_eq!(conn.call(&words(cmd)).await, Frame::simple("OK"), "{cmd}");
    }
}

fn has_resp3_types(f: &Frame) -> bool {
    match f {
        Frame::Array(items) => items.iter().any(has_resp3_types),
        Frame::SimpleString(_) | Frame::Error(_) | Frame::Integer(_) | Frame::BulkString(_) => {
            false
        }
        Frame::NullBulkString | Frame::NullArray => false,
        _ => true,
    }
}

#[tokio::test]
async fn every_family_in_resp2_and_resp3_and_conversion_matches_redis() {
    let (_server, addr, _dir) = redis_server(&["--enable-debug-command", "local"]);
    let mut admin = Conn::connect(addr, false).await;

    let mut resp2 = Conn::connect(addr, false).await;
    let replies2 = run_battery(&mut resp2).await;
    let (_, exec2) = run_transaction(&mut resp2).await;
    reset(&mut admin).await;

    let mut resp3 = Conn::connect(addr, true).await;
    let replies3 = run_battery(&mut resp3).await;
    let (queued, exec3) = run_transaction(&mut resp3).await;

    assert_eq!(replies2.len(), replies3.len());
    let mut resp3_typed = 0;
    for ((request, r2), (_, r3)) in replies2.iter().zip(&replies3) {
        let line = format!("{request:?}");
        assert!(
            !has_resp3_types(r2),
            "a RESP2 connection got RESP3 types: {line} -> {r2:?}"
        );
        if has_resp3_types(r3) {
            resp3_typed += 1;
        }
        let converted = to_resp2(r3.clone(), Request::new(request).as_ref());
        assert_eq!(&converted, r2, "{line}: RESP3 {r3:?}");
    }
    // The battery exercises RESP3: maps, sets, doubles, nulls, booleans...
    assert!(resp3_typed > 40, "only {resp3_typed} RESP3-typed replies");

    let requests: Vec<Request<'_>> = queued.iter().map(|q| Request::new(q).unwrap()).collect();
    let converted = to_resp2_exec(exec3.clone(), requests);
    assert_eq!(converted, exec2, "EXEC: RESP3 {exec3:?}");
    let Frame::Array(items) = &exec2 else {
        panic!("{exec2:?}")
    };
    assert_eq!(
        items[3],
        Frame::NullArray,
        "BLPOP inside MULTI answers a null array"
    );
}

#[tokio::test]
async fn an_aborted_transaction_is_a_null_array_in_resp2() {
    let (_server, addr, _dir) = redis_server(&[]);
    let mut other = Conn::connect(addr, false).await;
    for resp3 in [false, true] {
        let mut conn = Conn::connect(addr, resp3).await;
        conn.call(&["WATCH", "w"]).await;
        conn.call(&["MULTI"]).await;
        conn.call(&["INCR", "w"]).await;
        other.call(&["SET", "w", "changed"]).await;
        let exec = conn.call(&["EXEC"]).await;
        let expected = if resp3 { Frame::Null } else { Frame::NullArray };
        assert_eq!(exec, expected);
        assert_eq!(to_resp2_exec(exec, []), Frame::NullArray);
    }
}

#[tokio::test]
async fn every_resp3_type_of_debug_protocol() {
    let (_server, addr, _dir) = redis_server(&["--enable-debug-command", "local"]);
    let mut conn = Conn::connect(addr, true).await;
    // The server lists the types it offers in its error message.
    let Frame::Error(message) = conn.call(&["DEBUG", "PROTOCOL", "nope"]).await else {
        panic!()
    };
    let message = String::from_utf8(message.to_vec()).unwrap();
    let offered: Vec<&str> = message.rsplit(": ").next().unwrap().split('|').collect();
    let b = |s: &'static str| Bytes::from_static(s.as_bytes());
    let mut seen = Vec::new();
    for kind in &offered {
        let reply = conn.call(&["DEBUG", "PROTOCOL", kind]).await;
        let expected = match *kind {
            "string" => Frame::bulk("Hello World"),
            "integer" => Frame::Integer(12345),
            "double" => Frame::Double(b("3.141")),
            "bignum" => Frame::BigNumber(b("1234567999999999999999999999999999999")),
            "null" => Frame::Null,
            "array" => Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(1),
                Frame::Integer(2),
            ]),
            "set" => Frame::Set(vec![
                Frame::Integer(0),
                Frame::Integer(1),
                Frame::Integer(2),
            ]),
            "map" => Frame::Map(vec![
                (Frame::Integer(0), Frame::Boolean(false)),
                (Frame::Integer(1), Frame::Boolean(true)),
                (Frame::Integer(2), Frame::Boolean(false)),
            ]),
            "attrib" => Frame::Attribute {
                attributes: vec![(
                    Frame::bulk("key-popularity"),
                    Frame::Array(vec![Frame::bulk("key:123"), Frame::Integer(90)]),
                )],
                frame: Box::new(Frame::bulk("Some real reply following the attribute")),
            },
            "push" => {
                assert_eq!(
                    reply,
                    Frame::Push(vec![Frame::bulk("server-cpu-usage"), Frame::Integer(42)])
                );
                // The push comes first, then the reply.
                conn.recv()
                    .await
                    .as_bytes()
                    .map(|t| assert_eq!(t, b"Some real reply following the push reply"))
                    .unwrap();
                seen.push(*kind);
                continue;
            }
            "verbatim" => Frame::Verbatim {
                format: *b"txt",
                text: b("This is a verbatim\nstring"),
            },
            "true" => Frame::Boolean(true),
            "false" => Frame::Boolean(false),
            other => panic!("DEBUG PROTOCOL offers {other}, which this test does not know"),
        };
        assert_eq!(reply, expected, "DEBUG PROTOCOL {kind}");
        seen.push(*kind);
    }
    for kind in [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false",
    ] {
        assert!(
            seen.contains(&kind),
            "DEBUG PROTOCOL {kind} was not offered"
        );
    }
}

#[tokio::test]
async fn pushes_for_pubsub_and_client_tracking() {
    let (_server, addr, _dir) = redis_server(&[]);
    let mut publisher = Conn::connect(addr, false).await;
    let mut sub2 = Conn::connect(addr, false).await;
    let mut sub3 = Conn::connect(addr, true).await;
    let sub2_reply = sub2.call(&["SUBSCRIBE", "news"]).await;
    let sub3_reply = sub3.call(&["SUBSCRIBE", "news"]).await;
    assert_eq!(
        sub3_reply,
        Frame::Push(vec![
            Frame::bulk("subscribe"),
            Frame::bulk("news"),
            Frame::Integer(1)
        ])
    );
    assert_eq!(to_resp2(sub3_reply, None), sub2_reply);
    assert_eq!(
        publisher.call(&["PUBLISH", "news", "hello"]).await,
        Frame::Integer(2)
    );
    let (m2, m3) = (sub2.recv().await, sub3.recv().await);
    assert_eq!(
        m3,
        Frame::Push(vec![
            Frame::bulk("message"),
            Frame::bulk("news"),
            Frame::bulk("hello")
        ])
    );
    assert_eq!(to_resp2(m3, None), m2);

    // RESP3 client-side caching: invalidations arrive as pushes.
    let mut tracked = Conn::connect(addr, true).await;
    assert_eq!(
        tracked.call(&["CLIENT", "TRACKING", "on"]).await,
        Frame::simple("OK")
    );
    tracked.call(&["GET", "cached"]).await;
    publisher.call(&["SET", "cached", "new"]).await;
    let push = tracked.recv().await;
    assert_eq!(
        push,
        Frame::Push(vec![
            Frame::bulk("invalidate"),
            Frame::Array(vec![Frame::bulk("cached")])
        ])
    );
}

#[tokio::test]
async fn large_replies_from_the_server_decode_in_linear_steps() {
    let (_server, addr, _dir) = redis_server(&[]);
    let mut conn = Conn::connect(addr, true).await;
    let big = vec![b'x'; 1 << 20];
    conn.call(&[&b"SET"[..], b"big", &big]).await;
    let before = conn.steps();
    assert_eq!(
        conn.call(&["GET", "big"]).await,
        Frame::BulkString(Bytes::from(big))
    );
    assert!(
        conn.steps() - before < 20,
        "a 1 MiB bulk string costs a few steps, not one per read"
    );

    let n = 20_000u64;
    let mut push = vec!["RPUSH".to_owned(), "list".to_owned()];
    push.extend((0..n).map(|i| format!("element-{i}")));
    assert_eq!(conn.call(&push).await, Frame::Integer(n as i64));
    let before = conn.steps();
    let reply = conn.call(&["LRANGE", "list", "0", "-1"]).await;
    assert_eq!(reply.as_elements().unwrap().len() as u64, n);
    let steps = conn.steps() - before;
    // One step per element, and one per read for a header cut in two;
    // the reply (about 400 KB) arrives in many reads of at most 8 KiB.
    assert!(
        steps <= (n + 1) + 400_000 / 8192 + 10,
        "{steps} steps for {n} elements"
    );
}

#[tokio::test]
async fn slots_agree_with_cluster_keyslot() {
    let (_server, addr, _dir) = redis_server(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ]);
    let mut conn = Conn::connect(addr, false).await;
    let mut keys: Vec<Vec<u8>> = [
        "",
        "a",
        "123456789",
        "{user1000}.following",
        "{user1000}.followers",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{",
        "}",
        "{}",
        "{a",
        "a}",
        "}{a}",
        "{{}}",
        "x{y}z{w}",
    ]
    .iter()
    .map(|k| k.as_bytes().to_vec())
    .collect();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..300 {
        let len = i % 24;
        keys.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly braces and a few letters, to hit tag edge cases.
                    b"{}ab{}\x00\xff"[(x % 8) as usize]
                })
                .collect(),
        );
    }
    for key in keys {
        let reply = conn.call(&[&b"CLUSTER"[..], b"KEYSLOT", &key]).await;
        assert_eq!(reply, Frame::Integer(i64::from(slot(&key))), "key {key:?}");
    }
}

#[tokio::test]
async fn inline_commands_split_like_the_server() {
    let (_server, addr, _dir) = redis_server(&[]);
    let lines: &[&[u8]] = &[
        b"SET k0 plain",
        b"SET k1 \"with space\"",
        b"SET k2 'single quoted'",
        b"SET k3 \"esc \\x41\\x62 \\n\\t\\\\ \\\"q\\\"\"",
        b"SET k4 'it\\'s'",
        b"  SET   k5   spaced  ",
        b"SET k6 a\"b c\"",
        b"SET k7 \"\"",
    ];
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut conn = Conn::connect(addr, false).await;
    for (i, line) in lines.iter().enumerate() {
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\n");
        // What the server does with the line.
        raw.write_all(&wire).await.unwrap();
        let mut codec = RespCodec::replies();
        let mut buf = BytesMut::new();
        let reply = loop {
            use tokio::io::AsyncReadExt;
            if let Some(f) = codec.decode(&mut buf).unwrap() {
                break f;
            }
            assert!(raw.read_buf(&mut buf).await.unwrap() > 0);
        };
        assert_eq!(
            reply,
            Frame::simple("OK"),
            "{}",
            String::from_utf8_lossy(line)
        );
        let stored = conn.call(&["GET", &format!("k{i}")]).await;
        // What our decoder makes of the same line.
        let (frame, used) = decode_frame(&Bytes::from(wire.clone()), &DecoderConfig::requests())
            .unwrap()
            .unwrap();
        assert_eq!(used, wire.len());
        let request = Request::new(&frame).unwrap();
        assert_eq!(request.get(1).unwrap(), format!("k{i}").as_bytes());
        assert_eq!(
            request.bytes(2).cloned().map(Frame::BulkString),
            Some(stored),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // Both refuse unbalanced quotes.
    raw.write_all(b"SET k \"open\r\n").await.unwrap();
    let mut buf = BytesMut::new();
    let mut codec = RespCodec::replies();
    let reply = loop {
        use tokio::io::AsyncReadExt;
        if let Some(f) = codec.decode(&mut buf).unwrap() {
            break f;
        }
        assert!(raw.read_buf(&mut buf).await.unwrap() > 0);
    };
    assert!(
        reply
            .as_bytes()
            .unwrap()
            .ends_with(b"unbalanced quotes in request"),
        "{reply:?}"
    );
    assert!(
        decode_frame(
            &Bytes::from_static(b"SET k \"open\r\n"),
            &DecoderConfig::requests()
        )
        .is_err()
    );
}
