//! The breaker's whole state in one `u64`, so every transition is one
//! compare-and-swap.

use super::State;

// The state word: | state 2 | generation 16 | trips 6 | payload 40 |.
// Payload: Open: open-until in ms on the breaker's clock; HalfOpen: probes
// in flight (low 16 bits) and probes succeeded (next 16 bits).
const STATE_SHIFT: u32 = 62;
const GEN_SHIFT: u32 = 46;
const TRIPS_SHIFT: u32 = 40;
pub(super) const TRIPS_MAX: u64 = 63;
const PAYLOAD_MASK: u64 = (1 << 40) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    pub(super) const fn new(state: State, gen_: u16, trips: u64, payload: u64) -> Word {
        let s = match state {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        };
        Word(
            (s << STATE_SHIFT)
                | ((gen_ as u64) << GEN_SHIFT)
                | ((if trips > TRIPS_MAX { TRIPS_MAX } else { trips }) << TRIPS_SHIFT)
                | (payload & PAYLOAD_MASK),
        )
    }

    pub(super) fn half_open(gen_: u16, trips: u64, in_flight: u64, succeeded: u64) -> Word {
        Word::new(State::HalfOpen, gen_, trips, in_flight | (succeeded << 16))
    }

    #[inline]
    pub(super) const fn state(self) -> State {
        match self.0 >> STATE_SHIFT {
            0 => State::Closed,
            1 => State::Open,
            _ => State::HalfOpen,
        }
    }

    #[inline]
    pub(super) const fn generation(self) -> u16 {
        (self.0 >> GEN_SHIFT) as u16
    }

    pub(super) const fn trips(self) -> u64 {
        (self.0 >> TRIPS_SHIFT) & TRIPS_MAX
    }

    pub(super) const fn payload(self) -> u64 {
        self.0 & PAYLOAD_MASK
    }

    pub(super) const fn in_flight(self) -> u64 {
        self.payload() & 0xFFFF
    }

    pub(super) const fn succeeded(self) -> u64 {
        (self.payload() >> 16) & 0xFFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_saturate() {
        let w = Word::new(State::Open, 0xBEEF, 5, (1 << 40) - 1);
        assert_eq!(
            (w.state(), w.generation(), w.trips(), w.payload()),
            (State::Open, 0xBEEF, 5, (1 << 40) - 1)
        );
        let h = Word::half_open(u16::MAX, 99, 7, 65_535);
        assert_eq!(
            (
                h.state(),
                h.generation(),
                h.trips(),
                h.in_flight(),
                h.succeeded()
            ),
            (State::HalfOpen, u16::MAX, TRIPS_MAX, 7, 65_535)
        );
        assert_eq!(Word::new(State::Closed, 0, 0, 0).0, 0);
    }
}
