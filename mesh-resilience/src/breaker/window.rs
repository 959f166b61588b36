//! The failure-rate window: outcomes counted in time buckets, lock-free.
//!
//! Each bucket is one `AtomicU64` holding a tag (the low 24 bits of the
//! bucket's epoch number), a total and a failure count (20 bits each).
//! Recording is one compare-and-swap on the current bucket; a bucket whose
//! tag is stale is reset by the first writer of its new epoch, so expiry
//! needs no timer and no lock. Reading sums the buckets whose tags fall in
//! the last `n` epochs. A bucket that reaches 2^20 outcomes halves both of
//! its counts first, which keeps the rate and bounds the count.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Timestamp;
use crate::div::Divisor;

const TAG_BITS: u32 = 24;
const COUNT_BITS: u32 = 20;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;

#[inline]
const fn pack(tag: u64, total: u64, failed: u64) -> u64 {
    (tag << (2 * COUNT_BITS)) | (total << COUNT_BITS) | failed
}

#[inline]
const fn unpack(v: u64) -> (u64, u64, u64) {
    (
        v >> (2 * COUNT_BITS),
        (v >> COUNT_BITS) & COUNT_MAX,
        v & COUNT_MAX,
    )
}

/// Outcome counts over a sliding window of `n` buckets.
///
/// The ring has a power-of-two number of slots (at least `n`), so finding
/// an epoch's slot is a mask; only the last `n` epochs are counted.
#[derive(Debug)]
pub(crate) struct Window {
    slots: Box<[AtomicU64]>,
    width: Divisor,
    n: u64,
    mask: u64,
}

impl Window {
    /// A window of `buckets` buckets of `width_nanos` each.
    pub(crate) fn new(buckets: u16, width_nanos: u64) -> Window {
        let buckets = buckets.max(1);
        let slots = buckets.next_power_of_two();
        Window {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            width: Divisor::new(width_nanos),
            n: u64::from(buckets),
            mask: u64::from(slots) - 1,
        }
    }

    #[inline]
    fn locate(&self, now: Timestamp) -> (u64, usize) {
        let epoch = self.width.div(now.as_nanos());
        (epoch & TAG_MASK, (epoch & self.mask) as usize)
    }

    /// Counts one outcome at `now`.
    #[inline]
    pub(crate) fn record(&self, now: Timestamp, failed: bool) {
        let (tag, slot) = self.locate(now);
        let cell = &self.slots[slot];
        let f = u64::from(failed);
        let mut cur = cell.load(Ordering::Relaxed);
        loop {
            let (t, total, failures) = unpack(cur);
            let next = if t != tag {
                pack(tag, 1, f)
            } else if total == COUNT_MAX {
                pack(tag, total / 2 + 1, failures / 2 + f)
            } else {
                pack(tag, total + 1, failures + f)
            };
            match cell.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// (total, failures) over the buckets of the last `n` epochs at `now`.
    pub(crate) fn counts(&self, now: Timestamp) -> (u64, u64) {
        let (tag, _) = self.locate(now);
        let n = self.n;
        let mut total = 0;
        let mut failures = 0;
        for cell in self.slots.iter() {
            let (t, tot, fail) = unpack(cell.load(Ordering::Relaxed));
            if tag.wrapping_sub(t) & TAG_MASK < n {
                total += tot;
                failures += fail;
            }
        }
        (total, failures)
    }

    /// Forgets every outcome.
    pub(crate) fn reset(&self) {
        for cell in self.slots.iter() {
            cell.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_nanos(n * 1_000_000)
    }

    #[test]
    fn outcomes_expire_bucket_by_bucket() {
        // 4 buckets of 10 ms: a 40 ms window.
        let w = Window::new(4, 10_000_000);
        w.record(ms(0), true);
        w.record(ms(5), false);
        w.record(ms(15), true);
        assert_eq!(w.counts(ms(15)), (3, 2));
        assert_eq!(w.counts(ms(39)), (3, 2));
        // At 40 ms the bucket of 0..10 ms has left the window.
        assert_eq!(w.counts(ms(40)), (1, 1));
        assert_eq!(w.counts(ms(50)), (0, 0));
        // The slot of epoch 0 is reused by epoch 4 and reset first.
        w.record(ms(41), false);
        assert_eq!(w.counts(ms(41)), (2, 1));
        w.reset();
        assert_eq!(w.counts(ms(41)), (0, 0));
    }

    #[test]
    fn a_full_bucket_halves_and_keeps_the_rate() {
        let w = Window::new(1, 1_000_000_000);
        let cell = &w.slots[0];
        cell.store(pack(0, COUNT_MAX, COUNT_MAX / 4), Ordering::Relaxed);
        w.record(ms(1), true);
        let (total, failures) = w.counts(ms(1));
        assert_eq!(total, COUNT_MAX / 2 + 1);
        assert_eq!(failures, COUNT_MAX / 8 + 1);
    }

    #[test]
    fn far_future_epochs_do_not_alias() {
        let w = Window::new(2, 1_000_000);
        w.record(ms(0), true);
        // 2^24 epochs later the tag wraps to 0 again; only a write in that
        // exact epoch could alias, and reading one epoch later excludes it.
        assert_eq!(w.counts(ms(2)), (0, 0));
    }
}
