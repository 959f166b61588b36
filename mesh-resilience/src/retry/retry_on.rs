//! Which outcomes are retryable: Envoy's `retry_on`, as Istio's
//! VirtualService `retries.retryOn` spells it.

use std::fmt;

use crate::error::ConfigError;

/// How an attempt failed without a response, for [`RetryOn::failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// No connection could be made: nothing was sent.
    ConnectFailure,
    /// The connection or stream was reset after the request was sent.
    Reset,
    /// The HTTP/2 peer refused the stream (REFUSED_STREAM): not processed.
    RefusedStream,
    /// The per-try timeout expired.
    PerTryTimeout,
}

/// A set of retry conditions plus retriable status codes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetryOn {
    flags: u32,
    status_codes: Vec<u16>,
}

macro_rules! conditions {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $token:literal;)*) => {
        impl RetryOn {
            $($(#[$doc])* pub const $name: u32 = 1 << $bit;)*
            const TOKENS: &'static [(u32, &'static str)] = &[$((1 << $bit, $token),)*];
        }
    };
}

conditions! {
    /// `5xx`: any 5xx response, and any failure without a response
    /// (connect failure, reset, refused stream, per-try timeout).
    FIVE_XX = 0, "5xx";
    /// `gateway-error`: 502, 503 and 504, connect failures and per-try
    /// timeouts.
    GATEWAY_ERROR = 1, "gateway-error";
    /// `reset`: the upstream reset the connection or stream, or the
    /// per-try timeout expired, before a response.
    RESET = 2, "reset";
    /// `connect-failure`: no connection could be made.
    CONNECT_FAILURE = 3, "connect-failure";
    /// `retriable-4xx`: 409 Conflict.
    RETRIABLE_4XX = 4, "retriable-4xx";
    /// `refused-stream`: the HTTP/2 peer refused the stream.
    REFUSED_STREAM = 5, "refused-stream";
    /// `retriable-status-codes`: the listed status codes.
    RETRIABLE_STATUS_CODES = 6, "retriable-status-codes";
    /// `cancelled`: gRPC status 1.
    CANCELLED = 7, "cancelled";
    /// `deadline-exceeded`: gRPC status 4.
    DEADLINE_EXCEEDED = 8, "deadline-exceeded";
    /// `resource-exhausted`: gRPC status 8.
    RESOURCE_EXHAUSTED = 9, "resource-exhausted";
    /// `internal`: gRPC status 13.
    INTERNAL = 10, "internal";
    /// `unavailable`: gRPC status 14.
    UNAVAILABLE = 11, "unavailable";
}

impl RetryOn {
    /// Istio's default: `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`
    /// with status 503.
    pub fn istio_default() -> RetryOn {
        RetryOn {
            flags: Self::CONNECT_FAILURE
                | Self::REFUSED_STREAM
                | Self::UNAVAILABLE
                | Self::CANCELLED
                | Self::RETRIABLE_STATUS_CODES,
            status_codes: vec![503],
        }
    }

    /// A set of conditions without status codes.
    pub fn new(flags: u32) -> RetryOn {
        RetryOn {
            flags,
            status_codes: Vec::new(),
        }
    }

    /// Adds retriable status codes (and the `retriable-status-codes`
    /// condition).
    pub fn with_status_codes(mut self, codes: impl IntoIterator<Item = u16>) -> RetryOn {
        self.status_codes.extend(codes);
        self.flags |= Self::RETRIABLE_STATUS_CODES;
        self
    }

    /// Parses Istio's `retryOn`: comma-separated Envoy conditions, where a
    /// bare number is a retriable status code (`"503,reset"`).
    pub fn parse(s: &str) -> Result<RetryOn, ConfigError> {
        let mut on = RetryOn::default();
        for token in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Some((flag, _)) = Self::TOKENS.iter().find(|(_, t)| *t == token) {
                on.flags |= flag;
            } else if let Ok(code @ 100..=599) = token.parse::<u16>() {
                on = on.with_status_codes([code]);
            } else {
                return Err(ConfigError::new(
                    "retryOn",
                    token,
                    "unknown retry condition",
                ));
            }
        }
        Ok(on)
    }

    /// Whether every condition of `flags` is set.
    pub const fn contains(&self, flags: u32) -> bool {
        self.flags & flags == flags
    }

    /// Whether a response with HTTP `status` should be retried.
    pub fn status(&self, status: u16) -> bool {
        (self.contains(Self::FIVE_XX) && (500..=599).contains(&status))
            || (self.contains(Self::GATEWAY_ERROR) && (502..=504).contains(&status))
            || (self.contains(Self::RETRIABLE_4XX) && status == 409)
            || (self.contains(Self::RETRIABLE_STATUS_CODES) && self.status_codes.contains(&status))
    }

    /// Whether a response with gRPC status `code` should be retried.
    pub fn grpc(&self, code: u32) -> bool {
        let flag = match code {
            1 => Self::CANCELLED,
            4 => Self::DEADLINE_EXCEEDED,
            8 => Self::RESOURCE_EXHAUSTED,
            13 => Self::INTERNAL,
            14 => Self::UNAVAILABLE,
            _ => return false,
        };
        self.contains(flag)
    }

    /// Whether an attempt that failed without a response should be retried.
    pub fn failure(&self, failure: Failure) -> bool {
        let flags = match failure {
            Failure::ConnectFailure => Self::CONNECT_FAILURE | Self::FIVE_XX | Self::GATEWAY_ERROR,
            Failure::Reset => Self::RESET | Self::FIVE_XX,
            Failure::RefusedStream => Self::REFUSED_STREAM | Self::FIVE_XX,
            Failure::PerTryTimeout => Self::FIVE_XX | Self::GATEWAY_ERROR | Self::RESET,
        };
        self.flags & flags != 0
    }
}

impl fmt::Display for RetryOn {
    /// Istio's `retryOn` form, which [`RetryOn::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut put = |f: &mut fmt::Formatter<'_>, s: &dyn fmt::Display| {
            let sep = if first { "" } else { "," };
            first = false;
            write!(f, "{sep}{s}")
        };
        for (flag, token) in Self::TOKENS {
            if self.contains(*flag) {
                put(f, token)?;
            }
        }
        for code in &self.status_codes {
            put(f, code)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_istio_forms() {
        let on = RetryOn::parse("503, reset,gateway-error").unwrap();
        assert!(on.status(503) && on.status(502) && !on.status(500));
        assert!(on.failure(Failure::Reset));
        assert!(
            on.failure(Failure::ConnectFailure),
            "gateway-error covers connect failures"
        );
        assert!(!on.failure(Failure::RefusedStream));
        assert_eq!(
            on.to_string(),
            "gateway-error,reset,retriable-status-codes,503"
        );
        assert_eq!(RetryOn::parse(&on.to_string()).unwrap(), on);
        assert_eq!(RetryOn::parse("bogus").unwrap_err().value, "bogus");
        assert!(RetryOn::parse("99").is_err());
    }

    #[test]
    fn defaults_and_grpc() {
        let on = RetryOn::istio_default();
        assert!(on.status(503) && !on.status(502));
        assert!(on.grpc(14) && on.grpc(1) && !on.grpc(4) && !on.grpc(0));
        assert!(on.failure(Failure::ConnectFailure) && on.failure(Failure::RefusedStream));
        assert!(!on.failure(Failure::Reset) && !on.failure(Failure::PerTryTimeout));
        let five = RetryOn::new(RetryOn::FIVE_XX | RetryOn::RETRIABLE_4XX);
        assert!(five.status(500) && five.status(409) && !five.status(404));
        assert!(five.failure(Failure::PerTryTimeout));
    }
}
