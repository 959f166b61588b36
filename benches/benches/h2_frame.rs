//! The `h2_frame_head` group: the 9-byte HTTP/2 frame header, ours beside
//! h2's (`h2::frame::Head`, public with h2's `unstable` feature).
//!
//! - `parse`: timed is walking a buffer of 4 096 frames of every common
//!   type (payloads of 0 to 60 bytes, so the headers dominate): for each,
//!   read the 24-bit length, the type, the flags and the stream id from the
//!   header and skip the payload. h2 reads the length in its
//!   length-delimited codec, so the h2 contender reads it the same way
//!   ours does, then calls `Head::parse`.
//! - `encode`: timed is writing the headers of the same 4 096 frames into a
//!   buffer allocated (and cleared) outside the timed code.
//!
//! The `memchr` floor scans the same buffer once.
// Benchmark setup: a missing corpus or an anchor that fails is a panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{BufMut, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::memchr_floor;
use mesh_http::h2::frame::{FrameType, Head, StreamId};

const FRAMES: usize = 4096;

/// The heads of a plausible frame mix, and the wire bytes of the frames.
fn frames() -> (Vec<Head>, Vec<u8>) {
    let kinds = [
        (FrameType::HEADERS, 0x5u8),
        (FrameType::DATA, 0x0),
        (FrameType::DATA, 0x1),
        (FrameType::WINDOW_UPDATE, 0x0),
        (FrameType::SETTINGS, 0x1),
        (FrameType::PING, 0x0),
        (FrameType::RST_STREAM, 0x0),
        (FrameType::CONTINUATION, 0x4),
    ];
    let mut heads = Vec::with_capacity(FRAMES);
    let mut wire = Vec::new();
    let mut x: u32 = 12345;
    for i in 0..FRAMES {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let (kind, flags) = kinds[i % kinds.len()];
        let head = Head {
            length: x % 61,
            kind,
            flags,
            stream_id: StreamId::new(2 * (x % 500) + 1),
        };
        wire.extend_from_slice(&head.to_bytes());
        wire.resize(wire.len() + head.length as usize, 0xa5);
        heads.push(head);
    }
    (heads, wire)
}

fn parse_ours(wire: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut rest = wire;
    while let Some(head) = Head::parse(rest) {
        acc = acc.wrapping_add(
            u64::from(head.stream_id.get()) ^ u64::from(head.kind.as_u8()) ^ u64::from(head.flags),
        );
        rest = &rest[Head::LEN + head.length as usize..];
    }
    acc
}

fn parse_h2(wire: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut rest = wire;
    while rest.len() >= 9 {
        let length = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]);
        let head = h2::frame::Head::parse(&rest[..9]);
        acc = acc.wrapping_add(
            u64::from(u32::from(head.stream_id())) ^ head.kind() as u64 ^ u64::from(head.flag()),
        );
        rest = &rest[9 + length as usize..];
    }
    acc
}

fn h2_kind(kind: FrameType) -> h2::frame::Kind {
    use h2::frame::Kind;
    match kind {
        FrameType::DATA => Kind::Data,
        FrameType::HEADERS => Kind::Headers,
        FrameType::PRIORITY => Kind::Priority,
        FrameType::RST_STREAM => Kind::Reset,
        FrameType::SETTINGS => Kind::Settings,
        FrameType::PUSH_PROMISE => Kind::PushPromise,
        FrameType::PING => Kind::Ping,
        FrameType::GOAWAY => Kind::GoAway,
        FrameType::WINDOW_UPDATE => Kind::WindowUpdate,
        FrameType::CONTINUATION => Kind::Continuation,
        _ => Kind::Unknown,
    }
}

fn h2_frame_head(c: &mut Criterion) {
    let (heads, wire) = frames();
    assert_eq!(parse_ours(&wire), parse_h2(&wire));
    let mut group = c.benchmark_group("h2_frame_head");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_with_input(BenchmarkId::new("ours", "parse"), &wire, |b, w| {
        b.iter(|| parse_ours(black_box(w)))
    });
    group.bench_with_input(BenchmarkId::new("h2", "parse"), &wire, |b, w| {
        b.iter(|| parse_h2(black_box(w)))
    });
    group.bench_with_input(BenchmarkId::new("ours", "encode"), &heads, |b, heads| {
        let mut dst = BytesMut::with_capacity(FRAMES * Head::LEN);
        b.iter(|| {
            dst.clear();
            for head in black_box(heads) {
                dst.put_slice(&head.to_bytes());
            }
            dst.len()
        })
    });
    let h2_heads: Vec<(h2::frame::Head, usize)> = heads
        .iter()
        .map(|h| {
            let id = h2::frame::StreamId::from(h.stream_id.get());
            (
                h2::frame::Head::new(h2_kind(h.kind), h.flags, id),
                h.length as usize,
            )
        })
        .collect();
    group.bench_with_input(BenchmarkId::new("h2", "encode"), &h2_heads, |b, heads| {
        let mut dst = BytesMut::with_capacity(FRAMES * Head::LEN);
        b.iter(|| {
            dst.clear();
            for (head, len) in black_box(heads) {
                head.encode(*len, &mut dst);
            }
            dst.len()
        })
    });
    memchr_floor(&mut group, "parse", &wire);
    group.finish();
}

criterion_group!(benches, h2_frame_head);
criterion_main!(benches);
