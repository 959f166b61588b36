//! The `floor` group: what the hardware costs for the least work any codec
//! does over its input. Timed: one `memchr` scan for an absent byte, and one
//! `memcpy` into a preallocated buffer, over 1 KiB and 16 KiB of
//! pseudo-random bytes. Other groups add the same floors under the same ids.

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_benches::{memchr_floor, memcpy_floor, pseudo_random_bytes};

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    for (name, len) in [("1KiB", 1024), ("16KiB", 16 * 1024)] {
        let data = pseudo_random_bytes(len, 42);
        memchr_floor(&mut group, name, &data);
        memcpy_floor(&mut group, name, &data);
    }
    group.finish();
}

criterion_group!(benches, floor);
criterion_main!(benches);
