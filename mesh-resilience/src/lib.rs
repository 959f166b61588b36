//! Resilience primitives for service-mesh proxies.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod clock;
mod div;
pub mod error;
pub mod hash;
pub mod rand;

pub use error::ConfigError;
pub mod balancer;
pub mod bucket;
pub mod limits;
pub mod outlier;
pub mod retry;
