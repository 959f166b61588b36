//! The `grpc_message` group: splitting gRPC length-prefixed messages out of
//! a read buffer, beside the cost of copying the same bytes once.
//!
//! - `ours/<size>`: timed is decoding every message of a buffer holding 16
//!   uncompressed messages of `size` bytes (`1KiB`, `64KiB`) with
//!   [`MessageCodec`]'s `Decoder::decode`: read and check each 5-byte
//!   prefix against the 4 MiB limit, split the payload off as frozen
//!   `Bytes` and drop it. The buffer is filled (a copy) in untimed setup
//!   for every batch, since decoding consumes it.
//! - `memcpy/<size>`: the floor, one copy of the same bytes into a buffer
//!   allocated outside the timed code: what a decoder that copied each
//!   message out would pay at least.
// Benchmark setup: an input that fails to decode is a panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::{memcpy_floor, pseudo_random_bytes};
use mesh_core::Side;
use mesh_http::grpc::{Limits, MessageCodec};
use tokio_util::codec::{Decoder, Encoder};

const MESSAGES: usize = 16;

fn wire(size: usize) -> Vec<u8> {
    let payload = Bytes::from(pseudo_random_bytes(size, size as u64));
    let mut codec = MessageCodec::new(Side::Upstream, Limits::default());
    let mut wire = BytesMut::new();
    for _ in 0..MESSAGES {
        codec.encode(payload.clone(), &mut wire).unwrap();
    }
    wire.to_vec()
}

fn decode_all(buf: &mut BytesMut) -> usize {
    let mut codec = MessageCodec::new(Side::Downstream, Limits::default());
    let mut n = 0;
    while let Some(message) = codec.decode(buf).unwrap() {
        n += black_box(message).len();
    }
    n
}

fn grpc_message(c: &mut Criterion) {
    let mut group = c.benchmark_group("grpc_message");
    for (name, size) in [("1KiB", 1 << 10), ("64KiB", 64 << 10)] {
        let wire = wire(size);
        assert_eq!(decode_all(&mut BytesMut::from(&wire[..])), MESSAGES * size);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", name), &wire, |b, wire| {
            b.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                decode_all,
                BatchSize::LargeInput,
            )
        });
        memcpy_floor(&mut group, name, &wire);
    }
    group.finish();
}

criterion_group!(benches, grpc_message);
criterion_main!(benches);
