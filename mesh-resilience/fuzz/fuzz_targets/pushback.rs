//! `Retry-After` and `grpc-retry-pushback-ms` come from upstream responses,
//! `retryOn` from configuration: no input may panic, and what parses must
//! be in range.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mesh_resilience::retry::pushback::{Pushback, parse_grpc_pushback, parse_retry_after};
use mesh_resilience::retry::RetryOn;

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Some(d) = parse_retry_after(data, now) {
        // Delta-seconds has at most 19 digits; a date is at most year 9999.
        assert!(d.as_secs() < 10_000_000_000_000_000_000);
    }
    if let Pushback::After(d) = parse_grpc_pushback(data) {
        assert!(d.as_millis() <= u128::from(u64::MAX));
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(on) = RetryOn::parse(s)
    {
        // What parses prints back to the same set.
        assert_eq!(RetryOn::parse(&on.to_string()).ok(), Some(on));
    }
});
