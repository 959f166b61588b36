//! Value types with Istio's syntax and ranges, checked while parsing.
//!
//! A bad value is refused by its type's `Deserialize`, so the error names
//! the field and line of the value without any later pass: a port outside
//! 1–65535, a percentage above 100, a duration that is not Istio's `10s`,
//! `1.5s`, `500ms`, `1h30m`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// A duration in Istio's (Go's) text form: a sequence of decimal numbers,
/// each with a unit `h`, `m`, `s`, `ms`, `us` (or `µs`), `ns`, as in
/// `10s`, `1.5s`, `500ms`, `1h30m`; `0` alone is zero.
///
/// Printing gives the shortest exact form (`90s`, `2m`, `1.5s`, `250ms`),
/// which parses back to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {reason} (expected a form like 10s, 1.5s, 500ms or 1h30m)")]
pub struct DurationError {
    text: String,
    reason: &'static str,
}

impl crate::ErrorClass for DurationError {
    /// A configured value: this proxy's own problem.
    fn side(&self) -> crate::Side {
        crate::Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

impl Duration {
    /// Wraps a standard duration.
    pub const fn new(d: std::time::Duration) -> Self {
        Duration(d)
    }

    /// The standard duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

const NANOS_PER: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, DurationError> {
        let fail = |reason| DurationError {
            text: text.to_owned(),
            reason,
        };
        if text == "0" {
            return Ok(Duration(std::time::Duration::ZERO));
        }
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.starts_with('-') {
            return Err(fail("it is negative"));
        }
        let mut rest = text;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (int_part, after) = rest.split_at(int_len);
            let (frac_part, after) = match after.strip_prefix('.') {
                Some(f) => {
                    let n = f.bytes().take_while(u8::is_ascii_digit).count();
                    f.split_at(n)
                }
                None => ("", after),
            };
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(fail("a number is missing"));
            }
            if int_part.len() + frac_part.len() > 30 {
                return Err(fail("a number has too many digits"));
            }
            let unit_len = after
                .char_indices()
                .find(|(_, c)| c.is_ascii_digit() || *c == '.')
                .map_or(after.len(), |(i, _)| i);
            let (unit, next) = after.split_at(unit_len);
            let Some(&(_, scale)) = NANOS_PER.iter().find(|(u, _)| *u == unit) else {
                return Err(if unit.is_empty() {
                    fail("a unit is missing")
                } else {
                    fail("unknown unit")
                });
            };
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part
                    .parse()
                    .map_err(|_| fail("a number is malformed"))?
            };
            let mut nanos = int
                .checked_mul(scale)
                .ok_or_else(|| fail("it is too large"))?;
            if !frac_part.is_empty() {
                let digits: u128 = frac_part
                    .parse()
                    .map_err(|_| fail("a number is malformed"))?;
                let denom = 10u128.pow(frac_part.len() as u32);
                let frac = digits
                    .checked_mul(scale)
                    .ok_or_else(|| fail("it is too large"))?
                    / denom;
                nanos = nanos
                    .checked_add(frac)
                    .ok_or_else(|| fail("it is too large"))?;
            }
            total = total
                .checked_add(nanos)
                .ok_or_else(|| fail("it is too large"))?;
            rest = next;
        }
        let secs = u64::try_from(total / 1_000_000_000).map_err(|_| fail("it is too large"))?;
        let nanos = (total % 1_000_000_000) as u32;
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_nanos();
        const S: u128 = 1_000_000_000;
        if total == 0 {
            f.write_str("0s")
        } else if total % (3600 * S) == 0 {
            write!(f, "{}h", total / (3600 * S))
        } else if total % (60 * S) == 0 {
            write!(f, "{}m", total / (60 * S))
        } else if total % S == 0 {
            write!(f, "{}s", total / S)
        } else if total < S && total % 1_000_000 == 0 {
            write!(f, "{}ms", total / 1_000_000)
        } else if total < 1_000_000 && total % 1_000 == 0 {
            write!(f, "{}us", total / 1_000)
        } else if total < 1_000 {
            write!(f, "{total}ns")
        } else {
            let frac = format!("{:09}", total % S);
            write!(f, "{}.{}s", total / S, frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A TCP port number, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Port(u16);

impl Port {
    /// A port, or `None` for 0.
    pub const fn new(n: u16) -> Option<Self> {
        if n == 0 { None } else { Some(Port(n)) }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Checks a port number read as any integer.
pub(crate) fn check_port(n: i64) -> Result<Port, String> {
    u16::try_from(n)
        .ok()
        .and_then(Port::new)
        .ok_or_else(|| format!("port {n} is out of range 1-65535"))
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        check_port(n).map_err(de::Error::custom)
    }
}

/// A whole percentage, 0–100 (`maxEjectionPercent`, `minHealthPercent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Percent(u8);

impl Percent {
    /// A percentage, or `None` above 100.
    pub const fn new(n: u8) -> Option<Self> {
        if n > 100 { None } else { Some(Percent(n)) }
    }

    /// The value, 0–100.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .and_then(Percent::new)
            .ok_or_else(|| de::Error::custom(format!("percentage {n} is out of range 0-100")))
    }
}

/// A fractional percentage, 0.0–100.0 (`retryBudget.percent`,
/// `mirrorPercentage.value`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct FractionalPercent(f64);

impl FractionalPercent {
    /// A percentage, or `None` outside 0–100 (or NaN).
    pub fn new(v: f64) -> Option<Self> {
        (0.0..=100.0).contains(&v).then_some(FractionalPercent(v))
    }

    /// The value, 0.0–100.0.
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for FractionalPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        FractionalPercent::new(v)
            .ok_or_else(|| de::Error::custom(format!("percentage {v} is out of range 0-100")))
    }
}

/// A host name as Istio writes it in `hosts` fields: a DNS name
/// (`reviews.prod.svc.cluster.local`, or a short name `reviews` that is
/// relative to the resource's namespace), a wildcard `*.example.com`, or
/// `*` alone. Compared case-insensitively (stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Host(String);

impl Host {
    /// Parses and validates a host pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        check_host(text).map(|()| Host(text.to_ascii_lowercase()))
    }

    /// The host, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a wildcard (`*` or `*.suffix`).
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with('*')
    }

    /// Whether the concrete host `name` is matched by this pattern: equal,
    /// or under the wildcard's suffix (`*.example.com` matches
    /// `a.example.com` and `a.b.example.com`, not `example.com`).
    pub fn matches(&self, name: &str) -> bool {
        host_matches(&self.0, name)
    }
}

/// Whether the pattern `pattern` (`*`, `*.suffix` or a name) matches `name`,
/// case-insensitively.
pub fn host_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) => {
            name.len() > suffix.len()
                && name
                    .get(name.len() - suffix.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
        }
        None => pattern.eq_ignore_ascii_case(name),
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Host::parse(&text).map_err(de::Error::custom)
    }
}

fn check_host(text: &str) -> Result<(), String> {
    if text == "*" {
        return Ok(());
    }
    let name = match text.strip_prefix("*.") {
        Some(rest) => rest,
        None if text.contains('*') => {
            return Err(format!(
                "host {text:?}: a wildcard is allowed only as the whole first label (\"*\" or \"*.example.com\")"
            ));
        }
        None => text,
    };
    if name.is_empty() || name.len() > 253 {
        return Err(format!("host {text:?} must be 1-253 characters"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "host {text:?}: label {label:?} is not a DNS label (letters, digits, '-', 1-63 characters)"
            ));
        }
    }
    Ok(())
}

/// A string pattern of Istio's authorization fields (`principals`,
/// `namespaces`): exact, `*` (any non-empty value), a prefix `abc*` or a
/// suffix `*abc`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Pattern(String);

impl Pattern {
    /// Parses a pattern: non-empty, with at most one `*`, at the start or
    /// the end.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("an empty pattern matches nothing; remove it".into());
        }
        let stars = text.matches('*').count();
        let ok = stars == 0
            || text == "*"
            || (stars == 1 && (text.starts_with('*') || text.ends_with('*')));
        if ok {
            Ok(Pattern(text.to_owned()))
        } else {
            Err(format!(
                "pattern {text:?}: '*' is allowed only once, as a prefix or suffix wildcard"
            ))
        }
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `value` matches: `*` matches any non-empty value.
    pub fn matches(&self, value: &str) -> bool {
        let p = self.0.as_str();
        if p == "*" {
            !value.is_empty()
        } else if let Some(suffix) = p.strip_prefix('*') {
            value.ends_with(suffix)
        } else if let Some(prefix) = p.strip_suffix('*') {
            value.starts_with(prefix)
        } else {
            p == value
        }
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::parse(&text).map_err(de::Error::custom)
    }
}

/// An IP address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `1.2.3.4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses an address or a CIDR block; host bits must be zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix length must be 0-{max}"))?,
            None => max,
        };
        let block = IpBlock { addr, prefix };
        if block.network_bits(addr) != bits(addr) {
            return Err(format!(
                "{text:?}: address has bits set beyond the prefix length"
            ));
        }
        Ok(block)
    }

    /// Whether `ip` is inside the block (an IPv4-mapped IPv6 address counts
    /// as its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        self.network_bits(ip) == bits(self.addr)
    }

    fn network_bits(&self, ip: IpAddr) -> u128 {
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let host_bits = width - u32::from(self.prefix);
        let mask = if host_bits >= 128 {
            0
        } else {
            !0u128 << host_bits
        };
        bits(ip) & mask
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpBlock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        IpBlock::parse(&text).map_err(de::Error::custom)
    }
}

/// A value that config dumps and `Debug` never show (a private key's path
/// or contents).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted<T>(pub T);

/// What [`Redacted`] prints instead of its value.
pub const REDACTED: &str = "[redacted]";

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Redacted<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Redacted<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Redacted)
    }
}

/// Any YAML value, accepted and dropped: a field meshkit knows but does not
/// use (a Kubernetes `status`, `managedFields`), so it is neither an
/// unknown-field warning nor part of the effective config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ignored;

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Walk the value with `deserialize_any` (not `IgnoredAny`, which the
        // loader reports as an unknown field).
        struct Walk;
        impl<'de> de::Visitor<'de> for Walk {
            type Value = Ignored;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_unit<E>(self) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_none<E>(self) -> Result<Ignored, E> {
                Ok(Ignored)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Ignored, D::Error> {
                Ignored::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Ignored, A::Error> {
                while a.next_element::<Ignored>()?.is_some() {}
                Ok(Ignored)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Ignored, A::Error> {
                while a.next_entry::<Ignored, Ignored>()?.is_some() {}
                Ok(Ignored)
            }
        }
        d.deserialize_any(Walk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> std::time::Duration {
        text.parse::<Duration>().unwrap().get()
    }

    #[test]
    fn durations_in_istio_form() {
        use std::time::Duration as D;
        assert_eq!(d("10s"), D::from_secs(10));
        assert_eq!(d("1.5s"), D::from_millis(1500));
        assert_eq!(d("500ms"), D::from_millis(500));
        assert_eq!(d("1h"), D::from_secs(3600));
        assert_eq!(d("1h30m"), D::from_secs(5400));
        assert_eq!(d("2m3.5s"), D::from_millis(123_500));
        assert_eq!(d("250us"), D::from_micros(250));
        assert_eq!(d("250µs"), D::from_micros(250));
        assert_eq!(d("7ns"), D::from_nanos(7));
        assert_eq!(d(".5s"), D::from_millis(500));
        assert_eq!(d("0"), D::ZERO);
        assert_eq!(d("0s"), D::ZERO);
        for bad in [
            "", "10", "s", "-1s", "1x", "1.s.s", "1 s", "1.5", "ms", "10S",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?}");
        }
        assert!("99999999999999999999999999h".parse::<Duration>().is_err());
    }

    #[test]
    fn duration_printing() {
        for (text, printed) in [
            ("90s", "90s"),
            ("120s", "2m"),
            ("3600s", "1h"),
            ("1500ms", "1.5s"),
            ("250ms", "250ms"),
            ("1.000000001s", "1.000000001s"),
            ("0s", "0s"),
            ("3us", "3us"),
            ("5ns", "5ns"),
            ("1001us", "0.001001s"),
        ] {
            assert_eq!(text.parse::<Duration>().unwrap().to_string(), printed);
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            "*",
            "*.example.com",
            "reviews",
            "reviews.prod.svc.cluster.local",
            "A-b.c",
        ] {
            assert!(Host::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a*.com",
            "*example.com",
            "a..b",
            "-a.com",
            "a.*.com",
            "a_b.com",
            "**",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
        let h = Host::parse("*.Example.com").unwrap();
        assert!(h.matches("a.example.com") && h.matches("a.b.EXAMPLE.com"));
        assert!(!h.matches("example.com"));
        assert!(Host::parse("*").unwrap().matches("anything"));
    }

    #[test]
    fn patterns() {
        let p = |s: &str| Pattern::parse(s).unwrap();
        assert!(p("*").matches("x") && !p("*").matches(""));
        assert!(p("cluster.local/ns/foo/*").matches("cluster.local/ns/foo/sa/bar"));
        assert!(p("*/sa/bar").matches("cluster.local/ns/foo/sa/bar"));
        assert!(!p("*/sa/bar").matches("cluster.local/ns/foo/sa/baz"));
        assert!(p("exact").matches("exact") && !p("exact").matches("exact2"));
        for bad in ["", "a*b", "**", "*a*"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_blocks() {
        let b = IpBlock::parse("10.1.0.0/16").unwrap();
        assert!(b.contains("10.1.200.3".parse().unwrap()));
        assert!(!b.contains("10.2.0.1".parse().unwrap()));
        assert!(b.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(
            IpBlock::parse("1.2.3.4")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(
            IpBlock::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpBlock::parse("2001:db8::/32")
                .unwrap()
                .contains("2001:db8::1".parse().unwrap())
        );
        for bad in ["10.1.0.1/16", "10.0.0.0/33", "nope", "1.2.3.4/x"] {
            assert!(IpBlock::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redaction() {
        let r = Redacted("/etc/key.pem".to_string());
        assert_eq!(format!("{r:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"[redacted]\"");
    }
}
