//! The configuration error shared by every constructor of this crate.
//!
//! Each primitive's own run-time error (a breaker rejection, a pool
//! overflow, a rate limit, a retry failure, no healthy endpoint) lives
//! beside the primitive; all implement [`mesh_core::ErrorClass`].

use mesh_core::{ErrorClass, Side};

/// A setting that cannot work: which setting, the value given, and why.
///
/// Returned by validating constructors (`BreakerConfig::validate`,
/// `BucketConfig::new`, `RetryOn::parse`, ...), so a bad configuration is
/// refused when it is loaded rather than misbehaving under traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} = {value}: {reason}")]
pub struct ConfigError {
    /// The setting, as its configuration field is named.
    pub field: &'static str,
    /// The value given, as text.
    pub value: String,
    /// Why it cannot work.
    pub reason: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, value: impl ToString, reason: &'static str) -> Self {
        ConfigError {
            field,
            value: value.to_string(),
            reason,
        }
    }
}

impl ErrorClass for ConfigError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}
