//! SPIFFE identities: `spiffe://<trust-domain>/<path>`.
//!
//! A workload's identity is the one URI SAN of its X.509-SVID. Istio's form
//! is `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`. The
//! rules here are those of the SPIFFE ID specification: a lower-case trust
//! domain of `[a-z0-9._-]`, path segments of `[A-Za-z0-9._-]` that are
//! neither empty, `.` nor `..`, no trailing slash, no query, fragment, port
//! or user info, and at most 2048 bytes in all. An id that breaks one of
//! them is rejected at parse time, so a [`SpiffeId`] in hand is always
//! well-formed and comparing two of them is comparing strings.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::{ErrorClass, Side};

/// The scheme prefix of every SPIFFE id.
const SCHEME: &str = "spiffe://";
/// The longest SPIFFE id the specification allows, in bytes.
pub const MAX_ID_LEN: usize = 2048;
/// The longest trust domain the specification allows, in bytes.
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// Why a string is not a SPIFFE id or trust domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpiffeIdReason {
    /// The string does not start with `spiffe://`.
    WrongScheme,
    /// Nothing between `spiffe://` and the path.
    EmptyTrustDomain,
    /// A trust domain byte outside `[a-z0-9._-]` (upper case included).
    TrustDomainChar {
        /// The offending byte.
        byte: u8,
        /// Its offset in the input.
        at: usize,
    },
    /// A trust domain longer than [`MAX_TRUST_DOMAIN_LEN`].
    TrustDomainTooLong,
    /// Two slashes in a row, or a slash at the end.
    EmptySegment,
    /// A path segment that is `.` or `..`.
    DotSegment,
    /// A path byte outside `[A-Za-z0-9._-]` (`?`, `#` and `%` included).
    PathChar {
        /// The offending byte.
        byte: u8,
        /// Its offset in the input.
        at: usize,
    },
    /// Longer than [`MAX_ID_LEN`] bytes.
    TooLong,
}

impl fmt::Display for SpiffeIdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpiffeIdReason::WrongScheme => f.write_str("it does not start with spiffe://"),
            SpiffeIdReason::EmptyTrustDomain => f.write_str("the trust domain is empty"),
            SpiffeIdReason::TrustDomainChar { byte, at } => write!(
                f,
                "byte {:?} at {at} is not allowed in a trust domain ([a-z0-9._-])",
                char::from(*byte)
            ),
            SpiffeIdReason::TrustDomainTooLong => write!(
                f,
                "the trust domain is longer than {MAX_TRUST_DOMAIN_LEN} bytes"
            ),
            SpiffeIdReason::EmptySegment => f.write_str("the path has an empty segment"),
            SpiffeIdReason::DotSegment => f.write_str("the path has a `.` or `..` segment"),
            SpiffeIdReason::PathChar { byte, at } => write!(
                f,
                "byte {:?} at {at} is not allowed in a path ([A-Za-z0-9._-])",
                char::from(*byte)
            ),
            SpiffeIdReason::TooLong => write!(f, "it is longer than {MAX_ID_LEN} bytes"),
        }
    }
}

/// A string that is not a valid SPIFFE id or trust domain, and why.
///
/// Ids come from configuration (allow-lists) or from a peer's certificate;
/// the error is [`Side::Internal`] here, and the certificate verifiers wrap
/// it in an error that blames the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SPIFFE id {input:?}: {reason}")]
pub struct SpiffeIdError {
    /// The rejected input (cut to 256 bytes).
    pub input: String,
    /// What is wrong with it.
    pub reason: SpiffeIdReason,
}

impl SpiffeIdError {
    fn new(input: &str, reason: SpiffeIdReason) -> Self {
        let mut end = input.len().min(256);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        SpiffeIdError {
            input: input[..end].to_owned(),
            reason,
        }
    }
}

impl ErrorClass for SpiffeIdError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// The trust domain of a SPIFFE id: the set of workloads one root of trust
/// vouches for (`cluster.local` in a default Istio install).
///
/// Cheap to clone; compares as its string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain(Arc<str>);

impl TrustDomain {
    /// Parses a bare trust domain name such as `cluster.local`.
    pub fn new(name: &str) -> Result<Self, SpiffeIdError> {
        check_trust_domain(name, 0).map_err(|r| SpiffeIdError::new(name, r))?;
        Ok(TrustDomain(Arc::from(name)))
    }

    /// The name, such as `cluster.local`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of a workload in this trust domain with Istio's path
    /// `/ns/<namespace>/sa/<service_account>`.
    pub fn istio_id(
        &self,
        namespace: &str,
        service_account: &str,
    ) -> Result<SpiffeId, SpiffeIdError> {
        SpiffeId::new(&format!(
            "{SCHEME}{}/ns/{namespace}/sa/{service_account}",
            self.0
        ))
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustDomain({:?})", &*self.0)
    }
}

impl FromStr for TrustDomain {
    type Err = SpiffeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrustDomain::new(s)
    }
}

/// A validated SPIFFE id such as
/// `spiffe://cluster.local/ns/default/sa/web`.
///
/// Cheap to clone (one `Arc`); equality, ordering and hashing are those of
/// the string, which the specification makes canonical (no case folding,
/// no percent-decoding).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    id: Arc<str>,
    /// Where the trust domain ends (the path starts) in `id`.
    td_end: usize,
}

impl SpiffeId {
    /// Parses and validates `s`.
    pub fn new(s: &str) -> Result<Self, SpiffeIdError> {
        let td_end = validate(s).map_err(|r| SpiffeIdError::new(s, r))?;
        Ok(SpiffeId {
            id: Arc::from(s),
            td_end,
        })
    }

    /// The whole id.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The trust domain name, such as `cluster.local`.
    pub fn trust_domain_name(&self) -> &str {
        &self.id[SCHEME.len()..self.td_end]
    }

    /// The trust domain, as an owned value.
    pub fn trust_domain(&self) -> TrustDomain {
        TrustDomain(Arc::from(self.trust_domain_name()))
    }

    /// Whether the id belongs to `td`.
    pub fn is_in(&self, td: &TrustDomain) -> bool {
        self.trust_domain_name() == td.as_str()
    }

    /// The path, such as `/ns/default/sa/web`; empty for the id of the trust
    /// domain itself.
    pub fn path(&self) -> &str {
        &self.id[self.td_end..]
    }

    /// The namespace of an Istio id (`/ns/<namespace>/sa/<sa>`).
    pub fn istio_namespace(&self) -> Option<&str> {
        self.istio_parts().map(|(ns, _)| ns)
    }

    /// The service account of an Istio id (`/ns/<namespace>/sa/<sa>`).
    pub fn istio_service_account(&self) -> Option<&str> {
        self.istio_parts().map(|(_, sa)| sa)
    }

    fn istio_parts(&self) -> Option<(&str, &str)> {
        let mut it = self.path().strip_prefix('/')?.split('/');
        match (it.next(), it.next(), it.next(), it.next(), it.next()) {
            (Some("ns"), Some(ns), Some("sa"), Some(sa), None) => Some((ns, sa)),
            _ => None,
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({:?})", &*self.id)
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpiffeId::new(s)
    }
}

impl AsRef<str> for SpiffeId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// A principal of Istio's form, borrowed from the text it was read from:
/// `spiffe://<td>/ns/<namespace>/sa/<service-account>`, or the same
/// without the scheme, as AuthorizationPolicy `principals` are written.
///
/// Unlike [`SpiffeId`] this checks only the shape (non-empty parts in the
/// right places), which is what matching config against a verified peer
/// needs; the peer's id itself was validated when it was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IstioPrincipal<'a> {
    /// The trust domain.
    pub trust_domain: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// The service account.
    pub service_account: &'a str,
}

impl<'a> IstioPrincipal<'a> {
    /// Parses `spiffe://td/ns/NS/sa/SA` or `td/ns/NS/sa/SA`.
    pub fn parse(text: &'a str) -> Option<Self> {
        let text = text.strip_prefix(SCHEME).unwrap_or(text);
        let mut parts = text.split('/');
        let non_empty = |p: Option<&'a str>| p.filter(|s| !s.is_empty());
        let trust_domain = non_empty(parts.next())?;
        (parts.next()? == "ns").then_some(())?;
        let namespace = non_empty(parts.next())?;
        (parts.next()? == "sa").then_some(())?;
        let service_account = non_empty(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(IstioPrincipal {
            trust_domain,
            namespace,
            service_account,
        })
    }
}

/// Validates a whole id and returns where its trust domain ends.
fn validate(s: &str) -> Result<usize, SpiffeIdReason> {
    if s.len() > MAX_ID_LEN {
        return Err(SpiffeIdReason::TooLong);
    }
    let rest = s.strip_prefix(SCHEME).ok_or(SpiffeIdReason::WrongScheme)?;
    let td_len = rest.find('/').unwrap_or(rest.len());
    check_trust_domain(&rest[..td_len], SCHEME.len())?;
    let td_end = SCHEME.len() + td_len;
    check_path(&s[td_end..], td_end)?;
    Ok(td_end)
}

fn check_trust_domain(td: &str, offset: usize) -> Result<(), SpiffeIdReason> {
    if td.is_empty() {
        return Err(SpiffeIdReason::EmptyTrustDomain);
    }
    if td.len() > MAX_TRUST_DOMAIN_LEN {
        return Err(SpiffeIdReason::TrustDomainTooLong);
    }
    match td
        .bytes()
        .position(|b| !matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_'))
    {
        Some(i) => Err(SpiffeIdReason::TrustDomainChar {
            byte: td.as_bytes()[i],
            at: offset + i,
        }),
        None => Ok(()),
    }
}

/// Checks a path that is empty or starts with `/`.
fn check_path(path: &str, offset: usize) -> Result<(), SpiffeIdReason> {
    if path.is_empty() {
        return Ok(());
    }
    // The path starts with '/' (the trust domain ended at the first '/').
    let mut at = offset + 1;
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err(SpiffeIdReason::EmptySegment),
            "." | ".." => return Err(SpiffeIdReason::DotSegment),
            _ => {}
        }
        if let Some(i) = segment.bytes().position(
            |b| !matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_'),
        ) {
            return Err(SpiffeIdReason::PathChar {
                byte: segment.as_bytes()[i],
                at: at + i,
            });
        }
        at += segment.len() + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn istio_principals() {
        let id = IstioPrincipal::parse("spiffe://cluster.local/ns/foo/sa/bar").unwrap();
        assert_eq!(
            (id.trust_domain, id.namespace, id.service_account),
            ("cluster.local", "foo", "bar")
        );
        assert!(IstioPrincipal::parse("cluster.local/ns/foo/sa/bar").is_some());
        for bad in [
            "",
            "td/ns/foo",
            "td/ns//sa/x",
            "td/xs/foo/sa/bar",
            "td/ns/a/sa/b/c",
        ] {
            assert!(IstioPrincipal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn valid_ids() {
        for (s, td, path) in [
            (
                "spiffe://cluster.local/ns/default/sa/web",
                "cluster.local",
                "/ns/default/sa/web",
            ),
            ("spiffe://example.org", "example.org", ""),
            ("spiffe://a_b-c.9/x/Y.z-_", "a_b-c.9", "/x/Y.z-_"),
            ("spiffe://td/...", "td", "/..."),
        ] {
            let id = SpiffeId::new(s).unwrap();
            assert_eq!(id.as_str(), s);
            assert_eq!(id.trust_domain_name(), td);
            assert_eq!(id.path(), path);
            assert_eq!(id.to_string(), s);
            assert_eq!(s.parse::<SpiffeId>().unwrap(), id);
        }
    }

    #[test]
    fn invalid_ids_name_the_reason() {
        use SpiffeIdReason::*;
        for (s, reason) in [
            ("", WrongScheme),
            ("https://cluster.local/ns/a", WrongScheme),
            ("SPIFFE://cluster.local", WrongScheme),
            ("spiffe://", EmptyTrustDomain),
            ("spiffe:///ns/a", EmptyTrustDomain),
            (
                "spiffe://Cluster.local",
                TrustDomainChar { byte: b'C', at: 9 },
            ),
            (
                "spiffe://cluster.local:8080/a",
                TrustDomainChar { byte: b':', at: 22 },
            ),
            ("spiffe://user@td/a", TrustDomainChar { byte: b'@', at: 13 }),
            ("spiffe://td/", EmptySegment),
            ("spiffe://td/a//b", EmptySegment),
            ("spiffe://td/a/", EmptySegment),
            ("spiffe://td/./a", DotSegment),
            ("spiffe://td/a/..", DotSegment),
            ("spiffe://td/a?x=1", PathChar { byte: b'?', at: 13 }),
            ("spiffe://td/a#f", PathChar { byte: b'#', at: 13 }),
            ("spiffe://td/a/%41", PathChar { byte: b'%', at: 14 }),
        ] {
            let err = SpiffeId::new(s).unwrap_err();
            assert_eq!(err.reason, reason, "{s:?}");
            assert_eq!(err.input, s);
            assert!(err.to_string().contains(&format!("{s:?}")), "{err}");
            assert_eq!(err.side(), Side::Internal);
        }
        let long_td = format!("spiffe://{}", "a".repeat(256));
        assert_eq!(
            SpiffeId::new(&long_td).unwrap_err().reason,
            SpiffeIdReason::TrustDomainTooLong
        );
        let long = format!("spiffe://td/{}", "a".repeat(MAX_ID_LEN));
        let err = SpiffeId::new(&long).unwrap_err();
        assert_eq!(err.reason, SpiffeIdReason::TooLong);
        assert_eq!(err.input.len(), 256, "the input is cut in the error");
    }

    #[test]
    fn istio_form() {
        let td = TrustDomain::new("cluster.local").unwrap();
        let id = td.istio_id("bookinfo", "reviews").unwrap();
        assert_eq!(id.as_str(), "spiffe://cluster.local/ns/bookinfo/sa/reviews");
        assert_eq!(id.istio_namespace(), Some("bookinfo"));
        assert_eq!(id.istio_service_account(), Some("reviews"));
        assert!(id.is_in(&td));
        assert_eq!(id.trust_domain(), td);
        assert!(!id.is_in(&TrustDomain::new("other.local").unwrap()));
        let not_istio = SpiffeId::new("spiffe://td/ns/a/sa/b/extra").unwrap();
        assert_eq!(not_istio.istio_namespace(), None);
        assert_eq!(
            SpiffeId::new("spiffe://td").unwrap().istio_namespace(),
            None
        );
        assert!(
            td.istio_id("a/b", "c").is_ok(),
            "a slash makes more segments"
        );
        assert!(td.istio_id("", "c").is_err());
    }

    #[test]
    fn trust_domain_validation() {
        assert!(TrustDomain::new("cluster.local").is_ok());
        assert_eq!(
            TrustDomain::new("").unwrap_err().reason,
            SpiffeIdReason::EmptyTrustDomain
        );
        assert_eq!(
            TrustDomain::new("a/b").unwrap_err().reason,
            SpiffeIdReason::TrustDomainChar { byte: b'/', at: 1 }
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_accepted_ids_round_trip(s in "\\PC{0,64}") {
            if let Ok(id) = SpiffeId::new(&s) {
                prop_assert_eq!(id.as_str(), s.as_str());
                let again = SpiffeId::new(id.as_str()).unwrap();
                prop_assert_eq!(again.trust_domain_name(), id.trust_domain_name());
            }
        }

        #[test]
        fn generated_ids_are_valid(
            td in "[a-z0-9._-]{1,20}",
            segs in proptest::collection::vec("[A-Za-z0-9_-][A-Za-z0-9._-]{0,8}", 0..5),
        ) {
            let s = format!("spiffe://{td}{}", segs.iter().map(|s| format!("/{s}")).collect::<String>());
            let id = SpiffeId::new(&s).unwrap();
            prop_assert_eq!(id.trust_domain_name(), td.as_str());
            prop_assert_eq!(id.path().split('/').skip(1).count(), segs.len());
        }
    }
}
