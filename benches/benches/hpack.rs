//! HPACK on the public hpack-test-case corpus (the stories shipped in the
//! `httlib-hpack` package, found through `cargo metadata`), beside
//! httlib-hpack and loona-hpack. Every contender gets the same blocks, the
//! same header lists and the same table size settings; a check before
//! timing makes sure each one decodes the input completely.
//!
//! - `hpack_decode/<implementation>`: timed is decoding every header block
//!   of the implementation's 32 stories, in order, with a fresh decoder per
//!   story, into owned header lists: `ours` into a reused `HeaderList` (the
//!   decoded bytes copied into the list's one buffer), `ours-fields` into a
//!   `Vec<Field>` of `Bytes` (one reference count per non-static string);
//!   httlib-hpack into `Vec<(Vec<u8>, Vec<u8>, u8)>`, loona-hpack into
//!   `Vec<(Vec<u8>, Vec<u8>)>` (an allocation per string). httlib-hpack
//!   consumes its input `Vec`, so its copies of the blocks are made in
//!   untimed setup.
//! - `hpack_encode/<input>`: timed is encoding every header list of the
//!   stories with a fresh encoder per story, into a reused buffer (ours:
//!   Huffman when shorter, selective indexing; httlib-hpack: Huffman
//!   always, indexing, best representation; loona-hpack: indexing, no
//!   Huffman). httlib-hpack takes owned fields, made in untimed setup.
//!   Encoded sizes differ by design and are printed beside the times.
//!   `ours-no-huffman` is ours with Huffman coding off, the like-for-like
//!   figure beside loona-hpack (which never Huffman-codes).
//! - `huffman_decode/<input>`: timed is Huffman-decoding every string of
//!   the input into a reused buffer (loona-hpack returns a new `Vec` per
//!   string, its only API); httlib-hpack's decoder is httlib-huffman at the
//!   5-bits-per-step speed httlib-hpack uses.
//!
//! The `memcpy` floor copies the same bytes once.
// Benchmark setup: a missing corpus or an anchor that fails is a panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::memcpy_floor;
use mesh_core::Side;
use mesh_http::h2::hpack::{self, Decoder, EncoderConfig, HeaderList, huffman};

#[path = "common/hpack_encode.rs"]
mod hpack_encode;
use hpack_encode::{ENCODE_INPUTS, Story, encode_loona, encode_ours, no_huffman, stories};

fn limits() -> hpack::Limits {
    hpack::Limits {
        max_header_list_size: usize::MAX,
        ..hpack::Limits::default()
    }
}

/// Decodes every case of every story with a fresh decoder per story;
/// `decode` decodes one block and says how many fields it held.
fn decode_with_ours(
    stories: &[Story],
    mut decode: impl FnMut(&mut Decoder, &Bytes) -> usize,
) -> usize {
    let mut fields = 0;
    for story in stories {
        let mut d = Decoder::new(Side::Downstream, limits());
        for case in story {
            if let Some(size) = case.table_size {
                d.set_max_table_size(size);
            }
            fields += decode(&mut d, &case.wire);
        }
    }
    fields
}

/// Ours into `Bytes` fields.
fn decode_ours(stories: &[Story]) -> usize {
    let mut out = Vec::new();
    decode_with_ours(stories, |d, wire| {
        out.clear();
        d.decode(wire, &mut out).expect("ours decodes the corpus");
        out.len()
    })
}

/// Ours into a reused `HeaderList`.
fn decode_ours_list(stories: &[Story]) -> usize {
    let mut list = HeaderList::new();
    decode_with_ours(stories, |d, wire| {
        list.clear();
        d.decode_list(wire, &mut list)
            .expect("ours decodes the corpus");
        list.len()
    })
}

fn decode_httlib(stories: &[Story], mut wires: Vec<Vec<Vec<u8>>>) -> usize {
    let mut fields = 0;
    let mut out = Vec::new();
    for (story, wires) in stories.iter().zip(&mut wires) {
        let mut d = httlib_hpack::Decoder::with_dynamic_size(4096);
        for (case, wire) in story.iter().zip(wires) {
            if let Some(size) = case.table_size {
                d.set_max_dynamic_size(size as u32);
            }
            out.clear();
            d.decode(wire, &mut out)
                .expect("httlib-hpack decodes the corpus");
            fields += out.len();
        }
    }
    fields
}

fn decode_loona(stories: &[Story]) -> usize {
    let mut fields = 0;
    for story in stories {
        let mut d = loona_hpack::Decoder::new();
        for case in story {
            if let Some(size) = case.table_size {
                d.set_max_allowed_table_size(size);
            }
            fields += d
                .decode(&case.wire)
                .expect("loona-hpack decodes the corpus")
                .len();
        }
    }
    fields
}

fn httlib_wires(stories: &[Story]) -> Vec<Vec<Vec<u8>>> {
    stories
        .iter()
        .map(|s| s.iter().map(|c| c.wire.to_vec()).collect())
        .collect()
}

fn hpack_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpack_decode");
    for implementation in ["nghttp2", "haskell-http2-linear", "go-hpack"] {
        let stories = stories(implementation);
        let wire: Vec<u8> = stories
            .iter()
            .flatten()
            .flat_map(|c| c.wire.to_vec())
            .collect();
        let expected: usize = stories.iter().flatten().map(|c| c.headers.len()).sum();
        assert_eq!(decode_ours(&stories), expected);
        assert_eq!(decode_ours_list(&stories), expected);
        assert_eq!(decode_httlib(&stories, httlib_wires(&stories)), expected);
        assert_eq!(decode_loona(&stories), expected);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("ours", implementation),
            &stories,
            |b, s| b.iter(|| decode_ours_list(black_box(s))),
        );
        group.bench_with_input(
            BenchmarkId::new("ours-fields", implementation),
            &stories,
            |b, s| b.iter(|| decode_ours(black_box(s))),
        );
        group.bench_with_input(
            BenchmarkId::new("httlib-hpack", implementation),
            &stories,
            |b, s| {
                b.iter_batched(
                    || httlib_wires(s),
                    |w| decode_httlib(black_box(s), w),
                    BatchSize::LargeInput,
                )
            },
        );
        group.bench_with_input(
            BenchmarkId::new("loona-hpack", implementation),
            &stories,
            |b, s| b.iter(|| decode_loona(black_box(s))),
        );
        memcpy_floor(&mut group, implementation, &wire);
    }
    group.finish();
}

/// httlib-hpack's strongest setting: Huffman for name and value, index
/// every literal, and pick the best representation.
const HTTLIB_FLAGS: u8 = 0x1 | 0x2 | 0x4 | 0x10;

type HttlibFields = Vec<Vec<Vec<(Vec<u8>, Vec<u8>, u8)>>>;

fn httlib_fields(stories: &[Story]) -> HttlibFields {
    stories
        .iter()
        .map(|s| {
            s.iter()
                .map(|c| {
                    c.headers
                        .iter()
                        .map(|(n, v)| (n.clone(), v.clone(), HTTLIB_FLAGS))
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn encode_httlib(stories: &[Story], fields: HttlibFields, dst: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for (story, fields) in stories.iter().zip(fields) {
        let mut e = httlib_hpack::Encoder::with_dynamic_size(4096);
        for (case, fields) in story.iter().zip(fields) {
            dst.clear();
            if let Some(size) = case.table_size {
                e.update_max_dynamic_size(size as u32, dst)
                    .expect("size update");
            }
            for f in fields {
                e.encode(f, dst).expect("httlib-hpack encodes");
            }
            total += dst.len();
        }
    }
    total
}

fn hpack_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpack_encode");
    for (input, implementation) in ENCODE_INPUTS {
        let stories = stories(implementation);
        let plain: usize = stories
            .iter()
            .flatten()
            .flat_map(|c| &c.headers)
            .map(|(n, v)| n.len() + v.len())
            .sum();
        let ours = encode_ours(&stories, EncoderConfig::default(), &mut BytesMut::new());
        let raw = no_huffman();
        let ours_raw = encode_ours(&stories, raw, &mut BytesMut::new());
        let httlib = encode_httlib(&stories, httlib_fields(&stories), &mut Vec::new());
        let loona = encode_loona(&stories, &mut Vec::new());
        let theirs: usize = stories.iter().flatten().map(|c| c.wire.len()).sum();
        println!(
            "hpack_encode/{input}: {plain} bytes of names and values encode to ours {ours} \
             (ours-no-huffman {ours_raw}), httlib-hpack {httlib}, loona-hpack {loona} \
             (the corpus' {implementation}: {theirs})"
        );
        group.throughput(Throughput::Bytes(plain as u64));
        group.bench_with_input(BenchmarkId::new("ours", input), &stories, |b, s| {
            let mut dst = BytesMut::with_capacity(64 * 1024);
            b.iter(|| encode_ours(black_box(s), EncoderConfig::default(), &mut dst))
        });
        group.bench_with_input(
            BenchmarkId::new("ours-no-huffman", input),
            &stories,
            |b, s| {
                let mut dst = BytesMut::with_capacity(64 * 1024);
                b.iter(|| encode_ours(black_box(s), raw, &mut dst))
            },
        );
        group.bench_with_input(BenchmarkId::new("httlib-hpack", input), &stories, |b, s| {
            let mut dst = Vec::with_capacity(64 * 1024);
            b.iter_batched(
                || httlib_fields(s),
                |f| encode_httlib(black_box(s), f, &mut dst),
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("loona-hpack", input), &stories, |b, s| {
            let mut dst = Vec::with_capacity(64 * 1024);
            b.iter(|| encode_loona(black_box(s), &mut dst))
        });
    }
    group.finish();
}

/// Every header value of the nghttp2 stories that Huffman makes shorter,
/// once each, Huffman-coded (the code is canonical: every encoder writes
/// the same bytes).
fn huffman_strings(min_len: usize) -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = stories("nghttp2")
        .iter()
        .flatten()
        .flat_map(|c| c.headers.iter().flat_map(|(n, v)| [n.clone(), v.clone()]))
        .filter(|v| v.len() >= min_len && huffman::encoded_len(v) < v.len())
        .collect();
    values.sort();
    values.dedup();
    values
        .iter()
        .map(|v| {
            let mut out = BytesMut::new();
            huffman::encode(v, &mut out);
            out.to_vec()
        })
        .collect()
}

fn huffman_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("huffman_decode");
    for (input, min_len) in [("names_and_values", 1), ("long_values", 64)] {
        let strings = huffman_strings(min_len);
        let code: Vec<u8> = strings.concat();
        let max = strings
            .iter()
            .map(|s| huffman::max_decoded_len(s.len()))
            .max()
            .unwrap_or(0);
        group.throughput(Throughput::Bytes(code.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", input), &strings, |b, s| {
            let mut buf = vec![0u8; max];
            b.iter(|| {
                let mut n = 0;
                for code in s {
                    n += huffman::decode(black_box(code), &mut buf).expect("valid");
                }
                n
            })
        });
        group.bench_with_input(BenchmarkId::new("httlib-hpack", input), &strings, |b, s| {
            let mut buf = Vec::with_capacity(max);
            b.iter(|| {
                let mut n = 0;
                for code in s {
                    buf.clear();
                    httlib_huffman::decode(
                        black_box(code),
                        &mut buf,
                        httlib_huffman::DecoderSpeed::FiveBits,
                    )
                    .expect("valid");
                    n += buf.len();
                }
                n
            })
        });
        group.bench_with_input(BenchmarkId::new("loona-hpack", input), &strings, |b, s| {
            let mut decoder = loona_hpack::huffman::HuffmanDecoder::new();
            b.iter(|| {
                let mut n = 0;
                for code in s {
                    n += decoder.decode(black_box(code)).expect("valid").len();
                }
                n
            })
        });
        memcpy_floor(&mut group, input, &code);
    }
    group.finish();
}

criterion_group!(benches, hpack_decode, hpack_encode, huffman_decode);
criterion_main!(benches);
