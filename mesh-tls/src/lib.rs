//! Mutual TLS between sidecars, on rustls with the ring provider.
#![forbid(unsafe_code)]

pub mod hello;
pub mod sniff;
pub mod spiffe;
