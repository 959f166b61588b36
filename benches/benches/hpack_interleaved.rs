//! `hpack_encode`'s contenders timed pass by pass, in turn, in one process:
//! the ratio to loona-hpack that the HPACK issue's goal is about, measured
//! so that it survives a machine whose speed drifts.
//!
//! Criterion times each contender in its own stretch of several seconds.
//! On a shared virtual machine the speed can change by a third between
//! stretches, which moves a ratio of two criterion figures by as much. Here
//! every pass times each contender once, on the same stories and doing
//! the same work as the criterion group (the loops are shared), with the
//! order rotated from pass to pass; the ratio is taken within each pass,
//! where the drift mostly cancels, and the median over the passes is
//! printed with its range.
//!
//! `cargo bench -p mesh-benches --bench hpack_interleaved [-- PASSES]`
//! (default 51 passes per input).
// Benchmark setup: a missing corpus or an anchor that fails is a panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use mesh_http::h2::hpack::EncoderConfig;

#[path = "common/hpack_encode.rs"]
mod hpack_encode;
use hpack_encode::{ENCODE_INPUTS, encode_loona, encode_ours, no_huffman, stories};

/// The contenders, in the order of the first pass.
const CONTENDERS: [&str; 3] = ["ours", "ours-no-huffman", "loona-hpack"];

fn main() {
    // `cargo bench` passes `--bench`; a number is the pass count.
    let passes = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(51)
        .max(1);
    let mut dst = BytesMut::with_capacity(64 * 1024);
    let mut loona_dst = Vec::with_capacity(64 * 1024);
    for (input, implementation) in ENCODE_INPUTS {
        let stories = stories(implementation);
        let mut run = |contender: usize| -> f64 {
            let start = Instant::now();
            black_box(match contender {
                0 => encode_ours(black_box(&stories), EncoderConfig::default(), &mut dst),
                1 => encode_ours(black_box(&stories), no_huffman(), &mut dst),
                _ => encode_loona(black_box(&stories), &mut loona_dst),
            });
            start.elapsed().as_secs_f64() * 1e3
        };
        // One untimed pass each: caches, allocator and branch history warm.
        (0..CONTENDERS.len()).for_each(|c| {
            run(c);
        });
        let mut times = vec![Vec::with_capacity(passes); CONTENDERS.len()];
        for pass in 0..passes {
            for k in 0..CONTENDERS.len() {
                let c = (pass + k) % CONTENDERS.len();
                times[c].push(run(c));
            }
        }
        let loona = &times[2];
        let medians: Vec<String> = CONTENDERS
            .iter()
            .zip(&times)
            .map(|(name, t)| format!("{name} {:.3} ms", median(t)))
            .collect();
        println!(
            "hpack_encode/{input}, {passes} passes, medians: {}",
            medians.join(", ")
        );
        for (name, t) in CONTENDERS.iter().zip(&times).take(2) {
            let ratios: Vec<f64> = t.iter().zip(loona).map(|(a, b)| a / b).collect();
            let (lo, hi) = range(&ratios);
            println!(
                "  {name}/loona-hpack: median of per-pass ratios {:.3} (range {lo:.3}-{hi:.3})",
                median(&ratios)
            );
        }
    }
}

/// The median of `v` (the upper one of an even count).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest and largest of `v`.
fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}
