//! Shared pieces of the meshkit benchmarks.
//!
//! Every criterion group compares contenders on the same inputs, with
//! `BenchmarkId::new(contender, input)`: `ours`, the anchor crate's name, and
//! a hardware floor. The floors live here so that every group measures them
//! the same way as the `floor` group does, under the same ids.
#![forbid(unsafe_code)]

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};

/// The contender id of the `memchr` floor.
pub const MEMCHR: &str = "memchr";
/// The contender id of the `memcpy` floor.
pub const MEMCPY: &str = "memcpy";

/// Adds the `memchr` floor for `input` to `group`: one `memchr` pass over
/// the whole input counting the occurrences of its rarest byte (so every
/// byte is looked at, even when all 256 values occur), which is the least
/// work any parser of the input must do.
pub fn memchr_floor(group: &mut BenchmarkGroup<'_, WallTime>, input: &str, data: &[u8]) {
    let needle = rarest_byte(data);
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_with_input(BenchmarkId::new(MEMCHR, input), data, |b, data| {
        b.iter(|| memchr::memchr_iter(needle, black_box(data)).count())
    });
}

/// Adds the `memcpy` floor for `input` to `group`: one copy of the whole
/// input into a buffer allocated outside the timed code, which is what a
/// decoder that copies its input would pay at least.
pub fn memcpy_floor(group: &mut BenchmarkGroup<'_, WallTime>, input: &str, data: &[u8]) {
    let mut dst = vec![0u8; data.len()];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_with_input(BenchmarkId::new(MEMCPY, input), data, |b, data| {
        b.iter(|| {
            dst.copy_from_slice(black_box(data));
            black_box(&dst);
        })
    });
}

/// The byte value that occurs least often in `data` (the lowest such value
/// on ties), so a scan for it finds few matches.
pub fn rarest_byte(data: &[u8]) -> u8 {
    let mut counts = [0usize; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c < counts[best] {
            best = i;
        }
    }
    best as u8
}

/// Deterministic pseudo-random bytes (xorshift), so inputs are the same on
/// every run and machine.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarest_byte_is_rarest() {
        assert_eq!(rarest_byte(b"\x00\x01"), 2);
        let data: Vec<u8> = (0..=255u8).chain(0..=254u8).collect();
        assert_eq!(rarest_byte(&data), 255);
        let data = pseudo_random_bytes(4096, 7);
        let b = rarest_byte(&data);
        let count = |v: u8| data.iter().filter(|&&x| x == v).count();
        assert!((0..=255u8).all(|v| count(b) <= count(v)));
    }

    #[test]
    fn random_bytes_are_deterministic() {
        assert_eq!(pseudo_random_bytes(64, 1), pseudo_random_bytes(64, 1));
        assert_ne!(pseudo_random_bytes(64, 1), pseudo_random_bytes(64, 2));
    }
}
