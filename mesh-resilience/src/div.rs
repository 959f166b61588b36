//! Division by a run-time constant without the divide instruction.
//!
//! The token bucket and the breaker's sliding window turn a clock reading
//! into a tick number on every call. A 64-bit `div` costs tens of cycles on
//! common server cores, as much as the rest of the hot path together, so
//! the quotient is computed with a precomputed reciprocal (a 64×64→128
//! multiply) and corrected to be exact.

/// An exact divisor, precomputed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Divisor {
    d: u64,
    /// floor(2^64 / d) for d ≥ 2; unused for d = 1.
    m: u64,
}

impl Divisor {
    /// A divisor of `d`; 0 is treated as 1.
    pub(crate) const fn new(d: u64) -> Divisor {
        let d = if d == 0 { 1 } else { d };
        let m = if d == 1 {
            0
        } else {
            ((1u128 << 64) / d as u128) as u64
        };
        Divisor { d, m }
    }

    /// The divisor.
    pub(crate) const fn get(self) -> u64 {
        self.d
    }

    /// `x / d`, exactly.
    #[inline]
    pub(crate) const fn div(self, x: u64) -> u64 {
        if self.d == 1 {
            return x;
        }
        // q ≤ x/d and x/d - q < 2 (m underestimates 2^64/d by less than 1,
        // which loses less than x/2^64 < 1; the floor loses less than 1).
        let mut q = ((x as u128 * self.m as u128) >> 64) as u64;
        let mut r = x - q * self.d;
        if r >= self.d {
            q += 1;
            r -= self.d;
            if r >= self.d {
                q += 1;
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        for d in [
            1u64,
            2,
            3,
            7,
            10,
            1_000_000,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let v = Divisor::new(d);
            for x in [
                0u64,
                1,
                d - 1,
                d,
                d.saturating_add(1),
                u64::MAX - 1,
                u64::MAX,
            ] {
                assert_eq!(v.div(x), x / d, "{x} / {d}");
            }
        }
        assert_eq!(Divisor::new(0).div(9), 9);
    }

    proptest! {
        #[test]
        fn matches_hardware_division(x in any::<u64>(), d in 1u64..) {
            prop_assert_eq!(Divisor::new(d).div(x), x / d);
        }

        #[test]
        fn matches_for_small_divisors(x in any::<u64>(), d in 1u64..100_000) {
            prop_assert_eq!(Divisor::new(d).div(x), x / d);
        }
    }
}
