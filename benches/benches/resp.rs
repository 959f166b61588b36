//! RESP decoding: `ours` ([`mesh_codecs::redis::RawFrame::decode`]) beside
//! `redis-protocol` (its `Bytes`-based zero-copy `decode_bytes`, the
//! `bytes` feature) and the `memchr` floor.
//!
//! Timed, for both contenders, on the same frozen `Bytes` buffer: decode
//! every frame of the buffer in order (slicing the buffer past each frame,
//! which both APIs need), then drop the frames. Both validate every type
//! byte, length, integer, double, boolean and CRLF, and both give zero-copy
//! access to every string of every frame. They differ in what a decoded
//! frame is: redis-protocol builds a tree with one `Bytes` slice (one
//! reference count) per string and, for RESP3 maps, a hash map; ours is
//! the frame's `Bytes` plus the index the validating scan recorded (one
//! reference count per frame), from which strings are borrowed as `&[u8]`
//! or sliced as `Bytes` on demand, and which a proxy forwards as is.
//! (Building our owned `Frame` tree, with a `Bytes` per string like
//! redis-protocol's, is `decode_frame`; the closing note of the issue
//! reports its ratios too.) RESP2 inputs go to redis-protocol's `resp2`
//! decoder, RESP3 inputs to its `resp3::decode::complete` decoder.
//!
//! Groups:
//! - `resp_decode_pipeline`: 100 mixed commands (arrays of bulk strings)
//!   in one buffer, as a proxy reads a pipelining client.
//! - `resp_decode_reply`: mixed replies in one buffer, including a
//!   1000-element array and a 1 MiB bulk string, in RESP2 (`resp2-mixed`)
//!   and in RESP3 with every RESP3 type (`resp3-mixed`).
// Inputs are built here and valid: a failed decode is a bug of the bench.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::memchr_floor;
use mesh_codecs::redis::{DecoderConfig, Frame, RawFrame, encode_command};

const OURS: &str = "ours";
const ANCHOR: &str = "redis-protocol";

#[derive(Clone, Copy)]
enum Version {
    Resp2,
    Resp3,
}

fn value(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + seed) % 26) as u8)
        .collect()
}

/// 100 commands of a mixed workload, as clients encode them.
fn pipeline() -> Bytes {
    let mut buf = BytesMut::new();
    for i in 0..100 {
        let key = format!("user:{{{}}}:profile", i % 17);
        let v = value(16 + (i * 37) % 240, i);
        match i % 10 {
            0..=2 => encode_command(["GET".as_bytes(), key.as_bytes()], &mut buf),
            3..=4 => encode_command(
                ["SET".as_bytes(), key.as_bytes(), &v, b"EX", b"3600"],
                &mut buf,
            ),
            5 => encode_command(["MGET", "k:1", "k:2", "k:3", "k:4", "k:5"], &mut buf),
            6 => encode_command(
                [
                    "HSET".as_bytes(),
                    key.as_bytes(),
                    b"name",
                    &v,
                    b"visits",
                    b"42",
                ],
                &mut buf,
            ),
            7 => encode_command(
                ["ZADD".as_bytes(), b"leaderboard", b"1523.5", key.as_bytes()],
                &mut buf,
            ),
            8 => encode_command(["INCR".as_bytes(), b"counter:requests"], &mut buf),
            _ => encode_command(
                [
                    "EVALSHA",
                    "e0e1f9fabfc9d4800c877a703b823ac0578ff831",
                    "1",
                    "lock:a",
                    "token",
                    "30000",
                ],
                &mut buf,
            ),
        }
    }
    buf.freeze()
}

/// Mixed replies: status, integers, small and missing bulk strings,
/// errors, a nested array, a 1000-element array and a 1 MiB bulk string;
/// in RESP3 also maps, sets, doubles, booleans, nulls, big numbers,
/// verbatim strings, attributes and pushes.
fn replies(version: Version) -> Bytes {
    // A RESP3 connection gets RESP3's null, never RESP2's.
    let null = match version {
        Version::Resp2 => Frame::NullBulkString,
        Version::Resp3 => Frame::Null,
    };
    let mut frames = vec![
        Frame::simple("OK"),
        Frame::Integer(1),
        Frame::Integer(-123_456_789),
        Frame::bulk(value(100, 1)),
        null.clone(),
        Frame::error("ERR unknown command 'FOO', with args beginning with:"),
        Frame::Array(vec![
            Frame::bulk("17"),
            Frame::Array((0..10).map(|i| Frame::bulk(format!("key:{i}"))).collect()),
        ]),
        Frame::Array(
            (0..1000)
                .map(|i| Frame::bulk(value(8 + i % 24, i)))
                .collect(),
        ),
        Frame::bulk(value(1 << 20, 3)),
        Frame::Array(vec![Frame::bulk(value(64, 2)), null, Frame::bulk("x")]),
        Frame::simple("QUEUED"),
        Frame::Integer(0),
    ];
    if let Version::Resp3 = version {
        frames.extend([
            Frame::Map(
                (0..20)
                    .map(|i| (Frame::bulk(format!("field:{i}")), Frame::bulk(value(20, i))))
                    .collect(),
            ),
            Frame::Set(
                (0..20)
                    .map(|i| Frame::bulk(format!("member:{i}")))
                    .collect(),
            ),
            Frame::Array(
                (0..50)
                    .map(|i| {
                        Frame::Array(vec![
                            Frame::bulk(format!("m{i}")),
                            Frame::double(i as f64 * 1.5),
                        ])
                    })
                    .collect(),
            ),
            Frame::double(std::f64::consts::PI),
            Frame::double(f64::INFINITY),
            Frame::Boolean(true),
            Frame::Null,
            Frame::BigNumber(Bytes::from_static(
                b"3492890328409238509324850943850943825024385",
            )),
            Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from(value(200, 4)),
            },
            Frame::Attribute {
                attributes: vec![(
                    Frame::bulk("key-popularity"),
                    Frame::Array(vec![Frame::bulk("a"), Frame::Integer(90)]),
                )],
                frame: Box::new(Frame::bulk("value")),
            },
            Frame::Push(vec![
                Frame::bulk("message"),
                Frame::bulk("news"),
                Frame::bulk(value(50, 5)),
            ]),
            Frame::BulkError(Bytes::from_static(b"SYNTAX invalid syntax")),
        ]);
    }
    let mut buf = BytesMut::new();
    for f in &frames {
        f.encode(&mut buf).expect("valid frames");
    }
    buf.freeze()
}

fn ours(buf: &Bytes, config: &DecoderConfig) -> usize {
    let mut at = 0;
    let mut frames = 0;
    while at < buf.len() {
        let rest = buf.slice(at..);
        let (frame, used) = RawFrame::decode(&rest, config)
            .expect("valid")
            .expect("complete");
        black_box(frame);
        at += used;
        frames += 1;
    }
    frames
}

fn anchor(buf: &Bytes, version: Version) -> usize {
    let mut at = 0;
    let mut frames = 0;
    while at < buf.len() {
        let rest = buf.slice(at..);
        let used = match version {
            Version::Resp2 => {
                let (frame, used) = redis_protocol::resp2::decode::decode_bytes(&rest)
                    .expect("valid")
                    .expect("complete");
                black_box(frame);
                used
            }
            Version::Resp3 => {
                let (frame, used) = redis_protocol::resp3::decode::complete::decode_bytes(&rest)
                    .expect("valid")
                    .expect("complete");
                black_box(frame);
                used
            }
        };
        at += used;
        frames += 1;
    }
    frames
}

fn group(c: &mut Criterion, name: &str, inputs: &[(&str, Bytes, Version)]) {
    let config = DecoderConfig::default();
    let mut group = c.benchmark_group(name);
    for (input, buf, version) in inputs {
        // Both contenders decode the same number of frames.
        assert_eq!(ours(buf, &config), anchor(buf, *version), "{input}");
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_with_input(BenchmarkId::new(OURS, input), buf, |b, buf| {
            b.iter(|| ours(black_box(buf), &config))
        });
        group.bench_with_input(BenchmarkId::new(ANCHOR, input), buf, |b, buf| {
            b.iter(|| anchor(black_box(buf), *version))
        });
        memchr_floor(&mut group, input, buf);
    }
    group.finish();
}

fn resp_decode_pipeline(c: &mut Criterion) {
    group(
        c,
        "resp_decode_pipeline",
        &[("100-commands", pipeline(), Version::Resp2)],
    );
}

fn resp_decode_reply(c: &mut Criterion) {
    group(
        c,
        "resp_decode_reply",
        &[
            ("resp2-mixed", replies(Version::Resp2), Version::Resp2),
            ("resp3-mixed", replies(Version::Resp3), Version::Resp3),
        ],
    );
}

criterion_group!(benches, resp_decode_pipeline, resp_decode_reply);
criterion_main!(benches);
