//! Envoy's response flags: why a request or connection did not get a normal
//! answer from its upstream, in the short codes access logs and Istio's
//! `response_flags` label use.

use std::fmt;
use std::str::FromStr;

/// A set of Envoy response flags. `Display` prints them comma-separated in
/// Envoy's order, or `-` when empty, as Envoy's access log does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $code:literal;)*) => {
        impl ResponseFlags {
            $($(#[$doc])* pub const $name: ResponseFlags = ResponseFlags(1 << $bit);)*

            const CODES: &'static [(ResponseFlags, &'static str)] = &[
                $((ResponseFlags::$name, $code),)*
            ];
        }
    };
}

flags! {
    /// `LH`: the local health check failed.
    FAILED_LOCAL_HEALTH_CHECK = 0, "LH";
    /// `UH`: no healthy upstream endpoint.
    NO_HEALTHY_UPSTREAM = 1, "UH";
    /// `UT`: the upstream request timed out.
    UPSTREAM_REQUEST_TIMEOUT = 2, "UT";
    /// `LR`: the connection was reset locally.
    LOCAL_RESET = 3, "LR";
    /// `UR`: the upstream reset the connection or stream.
    UPSTREAM_REMOTE_RESET = 4, "UR";
    /// `UF`: connecting to the upstream failed.
    UPSTREAM_CONNECTION_FAILURE = 5, "UF";
    /// `UC`: the upstream connection ended mid-request.
    UPSTREAM_CONNECTION_TERMINATION = 6, "UC";
    /// `UO`: a pool limit or circuit breaker overflowed.
    UPSTREAM_OVERFLOW = 7, "UO";
    /// `URX`: the retry limit was reached.
    UPSTREAM_RETRY_LIMIT_EXCEEDED = 8, "URX";
    /// `NR`: no route matched.
    NO_ROUTE_FOUND = 9, "NR";
    /// `DI`: a fault-injected delay.
    DELAY_INJECTED = 10, "DI";
    /// `FI`: a fault-injected abort.
    FAULT_INJECTED = 11, "FI";
    /// `RL`: rate limited locally.
    RATE_LIMITED = 12, "RL";
    /// `UAEX`: refused by external authorization (or an authorization policy).
    UNAUTHORIZED_EXTERNAL_SERVICE = 13, "UAEX";
    /// `RLSE`: the rate-limit service failed.
    RATELIMIT_SERVICE_ERROR = 14, "RLSE";
    /// `DC`: the downstream connection ended mid-request.
    DOWNSTREAM_CONNECTION_TERMINATION = 15, "DC";
    /// `IH`: invalid headers from downstream.
    INVALID_REQUEST_HEADERS = 16, "IH";
    /// `SI`: a stream idle timeout.
    STREAM_IDLE_TIMEOUT = 17, "SI";
    /// `DPE`: a downstream protocol error.
    DOWNSTREAM_PROTOCOL_ERROR = 18, "DPE";
    /// `UMSDR`: the upstream maximum stream duration was reached.
    UPSTREAM_MAX_STREAM_DURATION_REACHED = 19, "UMSDR";
    /// `RFCF`: the response came from a cache.
    RESPONSE_FROM_CACHE_FILTER = 20, "RFCF";
    /// `NFCF`: no filter configuration was found.
    NO_FILTER_CONFIG_FOUND = 21, "NFCF";
    /// `DT`: the request or connection exceeded its maximum duration.
    DURATION_TIMEOUT = 22, "DT";
    /// `UPE`: an upstream protocol error.
    UPSTREAM_PROTOCOL_ERROR = 23, "UPE";
    /// `NC`: no cluster was found.
    NO_CLUSTER_FOUND = 24, "NC";
    /// `OM`: refused by the overload manager.
    OVERLOAD_MANAGER = 25, "OM";
    /// `DF`: DNS resolution failed.
    DNS_RESOLUTION_FAILURE = 26, "DF";
    /// `DO`: dropped by overload protection.
    DROP_OVERLOAD = 27, "DO";
    /// `DR`: the downstream reset the stream.
    DOWNSTREAM_REMOTE_RESET = 28, "DR";
}

impl ResponseFlags {
    /// No flag.
    pub const NONE: ResponseFlags = ResponseFlags(0);

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: ResponseFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: ResponseFlags) {
        self.0 |= other.0;
    }

    /// The short code of a single flag, or `None` for sets of zero or
    /// several flags.
    pub fn code(self) -> Option<&'static str> {
        Self::CODES
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, c)| *c)
    }
}

impl std::ops::BitOr for ResponseFlags {
    type Output = ResponseFlags;
    fn bitor(self, rhs: ResponseFlags) -> ResponseFlags {
        ResponseFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ResponseFlags {
    fn bitor_assign(&mut self, rhs: ResponseFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, code) in Self::CODES {
            if self.contains(*flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(code)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The error of parsing response flags: a code Envoy does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown response flag {code:?}")]
pub struct UnknownResponseFlag {
    /// The code that was given.
    pub code: String,
}

impl FromStr for ResponseFlags {
    type Err = UnknownResponseFlag;

    /// Parses `-` or comma-separated codes such as `UO,URX`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut flags = ResponseFlags::NONE;
        if s == "-" || s.is_empty() {
            return Ok(flags);
        }
        for code in s.split(',') {
            let flag = Self::CODES
                .iter()
                .find(|(_, c)| *c == code)
                .map(|(f, _)| *f)
                .ok_or_else(|| UnknownResponseFlag {
                    code: code.to_owned(),
                })?;
            flags |= flag;
        }
        Ok(flags)
    }
}

impl prometheus_client::encoding::EncodeLabelValue for ResponseFlags {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> Result<(), fmt::Error> {
        use std::fmt::Write;
        write!(encoder, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_in_envoy_order() {
        assert_eq!(ResponseFlags::NONE.to_string(), "-");
        let f = ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED | ResponseFlags::UPSTREAM_OVERFLOW;
        assert_eq!(f.to_string(), "UO,URX");
        assert_eq!(ResponseFlags::NO_HEALTHY_UPSTREAM.code(), Some("UH"));
        assert_eq!(f.code(), None);
    }

    #[test]
    fn parse_round_trip() {
        for (flag, code) in ResponseFlags::CODES {
            assert_eq!(code.parse::<ResponseFlags>(), Ok(*flag));
        }
        let all = ResponseFlags::CODES
            .iter()
            .fold(ResponseFlags::NONE, |acc, (f, _)| acc | *f);
        assert_eq!(all.to_string().parse::<ResponseFlags>(), Ok(all));
        assert_eq!("-".parse::<ResponseFlags>(), Ok(ResponseFlags::NONE));
        assert_eq!(
            "UO,XX".parse::<ResponseFlags>(),
            Err(UnknownResponseFlag { code: "XX".into() })
        );
    }

    #[test]
    fn codes_are_distinct() {
        let codes = ResponseFlags::CODES;
        for (i, (fa, ca)) in codes.iter().enumerate() {
            for (fb, cb) in &codes[i + 1..] {
                assert_ne!(fa, fb);
                assert_ne!(ca, cb);
            }
        }
    }
}
