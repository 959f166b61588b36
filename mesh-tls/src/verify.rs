//! Certificate verifiers for both ends of a mesh connection.
//!
//! Each checks, in this order: the chain against the current trust bundle
//! (webpki, through rustls, with the ring provider's algorithms), the
//! X.509-SVID shape of the leaf (exactly one SPIFFE URI SAN), the trust
//! domain, and the allow-list. DNS names are not checked: in a mesh the
//! SPIFFE id is the identity, and the SNI names a destination cluster, not
//! a host the certificate is for (Istio's sidecars do the same).
//!
//! A failure is a [`VerifyError`] naming what was expected and what was
//! presented. Chain failures travel through rustls as its own error (so the
//! peer gets the precise alert: `unknown_ca`, `certificate_expired`);
//! SPIFFE failures travel as `CertificateError::Other` carrying the
//! `VerifyError`. [`VerifyError::from_rustls`] turns either back.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use mesh_core::{ErrorClass, Side};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::spiffe::{SpiffeId, TrustDomain};
use crate::store::CertStore;
use crate::svid::{self, SvidError};

/// Which end of the connection presented the certificate that was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerRole {
    /// The client (checked by a server).
    Client,
    /// The server (checked by a client).
    Server,
}

impl fmt::Display for PeerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerRole::Client => "client",
            PeerRole::Server => "server",
        })
    }
}

/// Which peers are accepted: trust domains, then an optional allow-list of
/// exact ids.
///
/// The default accepts any id in the workload's own trust domain (read
/// from the current material, so it follows a rotation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    trust_domains: Vec<TrustDomain>,
    allowed: Vec<SpiffeId>,
}

impl PeerPolicy {
    /// Any id in the workload's own trust domain.
    pub fn any_in_own_trust_domain() -> Self {
        PeerPolicy::default()
    }

    /// Only these ids (which must also be in an accepted trust domain).
    /// An empty list accepts any id of the accepted trust domains.
    pub fn allow(ids: impl IntoIterator<Item = SpiffeId>) -> Self {
        PeerPolicy {
            trust_domains: Vec::new(),
            allowed: ids.into_iter().collect(),
        }
    }

    /// Accepts these trust domains instead of the workload's own (Istio's
    /// trust domain aliases, or a federated domain). An empty list means
    /// the own domain.
    pub fn with_trust_domains(mut self, domains: impl IntoIterator<Item = TrustDomain>) -> Self {
        self.trust_domains = domains.into_iter().collect();
        self
    }

    /// The allow-list (empty: any id of the accepted trust domains).
    pub fn allowed(&self) -> &[SpiffeId] {
        &self.allowed
    }

    /// The accepted trust domains (empty: the workload's own).
    pub fn trust_domains(&self) -> &[TrustDomain] {
        &self.trust_domains
    }

    /// Checks `presented` against the policy, `own` being the workload's
    /// own trust domain.
    pub fn check(&self, own: &TrustDomain, presented: &SpiffeId) -> Result<(), VerifyErrorKind> {
        let in_domain = if self.trust_domains.is_empty() {
            presented.is_in(own)
        } else {
            self.trust_domains.iter().any(|td| presented.is_in(td))
        };
        if !in_domain {
            let expected = if self.trust_domains.is_empty() {
                vec![own.clone()]
            } else {
                self.trust_domains.clone()
            };
            return Err(VerifyErrorKind::WrongTrustDomain {
                expected,
                presented: presented.clone(),
            });
        }
        if !self.allowed.is_empty() && !self.allowed.contains(presented) {
            return Err(VerifyErrorKind::NotAllowed {
                expected: self.allowed.clone(),
                presented: presented.clone(),
            });
        }
        Ok(())
    }
}

/// What was wrong with a peer's certificate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// The chain does not lead to a CA of the trust bundle: no bundle CA
    /// has the issuer's name, or one has it but did not sign (two meshes
    /// whose self-signed roots share a name, as Istio's `O=cluster.local`
    /// roots do, or an altered certificate).
    UntrustedIssuer,
    /// The certificate (or one of its chain) has expired.
    Expired {
        /// When it expired, if rustls said.
        not_after: Option<SystemTime>,
        /// The time of the check, if rustls said.
        now: Option<SystemTime>,
    },
    /// The certificate (or one of its chain) is not valid yet.
    NotYetValid {
        /// When it becomes valid, if rustls said.
        not_before: Option<SystemTime>,
        /// The time of the check, if rustls said.
        now: Option<SystemTime>,
    },
    /// Any other chain failure (bad signature, wrong key usage, ...).
    Chain(CertificateError),
    /// The leaf is not an X.509-SVID.
    Svid(SvidError),
    /// The id is outside the accepted trust domains.
    WrongTrustDomain {
        /// The accepted trust domains.
        expected: Vec<TrustDomain>,
        /// The id presented.
        presented: SpiffeId,
    },
    /// The id is in an accepted trust domain but not on the allow-list.
    NotAllowed {
        /// The allow-list.
        expected: Vec<SpiffeId>,
        /// The id presented.
        presented: SpiffeId,
    },
    /// The peer presented no certificate where one is required.
    MissingCertificate,
}

fn unix(t: &Option<SystemTime>) -> String {
    match t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => format!("{}s after the epoch", d.as_secs()),
        None => "an unknown time".to_owned(),
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for VerifyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyErrorKind::UntrustedIssuer => {
                f.write_str("the certificate does not chain to the trust bundle")
            }
            VerifyErrorKind::Expired { not_after, now } => write!(
                f,
                "the certificate expired at {} (checked at {})",
                unix(not_after),
                unix(now)
            ),
            VerifyErrorKind::NotYetValid { not_before, now } => write!(
                f,
                "the certificate is valid only from {} (checked at {})",
                unix(not_before),
                unix(now)
            ),
            VerifyErrorKind::Chain(e) => write!(f, "the certificate chain is invalid: {e}"),
            VerifyErrorKind::Svid(e) => write!(f, "{e}"),
            VerifyErrorKind::WrongTrustDomain {
                expected,
                presented,
            } => write!(
                f,
                "presented {presented} (trust domain {}), expected trust domain {}",
                presented.trust_domain_name(),
                list(expected)
            ),
            VerifyErrorKind::NotAllowed {
                expected,
                presented,
            } => write!(
                f,
                "presented {presented}, expected one of {}",
                list(expected)
            ),
            VerifyErrorKind::MissingCertificate => f.write_str("no certificate was presented"),
        }
    }
}

/// A peer's certificate was rejected: whose, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{peer} certificate rejected: {kind}")]
pub struct VerifyError {
    /// Whose certificate.
    pub peer: PeerRole,
    /// Why.
    pub kind: VerifyErrorKind,
}

impl VerifyError {
    /// An error about `peer`'s certificate.
    pub fn new(peer: PeerRole, kind: VerifyErrorKind) -> Self {
        VerifyError { peer, kind }
    }

    /// Whether the failure is about who the peer is (its SPIFFE id) rather
    /// than whether its certificate is valid.
    pub fn is_identity(&self) -> bool {
        matches!(
            self.kind,
            VerifyErrorKind::Svid(_)
                | VerifyErrorKind::WrongTrustDomain { .. }
                | VerifyErrorKind::NotAllowed { .. }
        )
    }

    /// The verification failure inside a rustls error, if it is one:
    /// either a `VerifyError` that a verifier of this crate raised, or a
    /// chain or missing-certificate error from rustls itself.
    pub fn from_rustls(err: &rustls::Error, peer: PeerRole) -> Option<VerifyError> {
        let kind = match err {
            rustls::Error::NoCertificatesPresented => VerifyErrorKind::MissingCertificate,
            rustls::Error::InvalidCertificate(e) => match e {
                CertificateError::Other(OtherError(inner)) => {
                    return inner.downcast_ref::<VerifyError>().cloned();
                }
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    VerifyErrorKind::UntrustedIssuer
                }
                CertificateError::Expired => VerifyErrorKind::Expired {
                    not_after: None,
                    now: None,
                },
                CertificateError::ExpiredContext { time, not_after } => VerifyErrorKind::Expired {
                    not_after: Some(system(not_after)),
                    now: Some(system(time)),
                },
                CertificateError::NotValidYet => VerifyErrorKind::NotYetValid {
                    not_before: None,
                    now: None,
                },
                CertificateError::NotValidYetContext { time, not_before } => {
                    VerifyErrorKind::NotYetValid {
                        not_before: Some(system(not_before)),
                        now: Some(system(time)),
                    }
                }
                other => VerifyErrorKind::Chain(other.clone()),
            },
            _ => return None,
        };
        Some(VerifyError { peer, kind })
    }

    fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(self))))
    }
}

fn system(t: &UnixTime) -> SystemTime {
    svid::unix_to_system(i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
}

impl ErrorClass for VerifyError {
    /// The peer whose certificate was rejected is to blame.
    fn side(&self) -> Side {
        match self.peer {
            PeerRole::Client => Side::Downstream,
            PeerRole::Server => Side::Upstream,
        }
    }

    /// A client that rejected a server sent no request: another endpoint
    /// may be tried.
    fn retry_safe(&self) -> bool {
        self.peer == PeerRole::Server
    }
}

/// Reads the id of a chain-verified leaf and checks it against the policy.
fn check_identity(
    end_entity: &CertificateDer<'_>,
    own: &TrustDomain,
    policy: &PeerPolicy,
    peer: PeerRole,
) -> Result<SpiffeId, rustls::Error> {
    let info = svid::inspect(end_entity)
        .map_err(|e| VerifyError::new(peer, VerifyErrorKind::Svid(e)).into_rustls())?;
    policy
        .check(own, &info.id)
        .map_err(|kind| VerifyError::new(peer, kind).into_rustls())?;
    Ok(info.id)
}

/// A client's check of a server: chain, SVID, trust domain, allow-list.
#[derive(Debug)]
pub struct SpiffeServerVerifier {
    store: Arc<CertStore>,
    policy: PeerPolicy,
    provider: Arc<CryptoProvider>,
}

impl SpiffeServerVerifier {
    /// Checks servers against the store's current bundle and `policy`.
    pub fn new(store: Arc<CertStore>, policy: PeerPolicy) -> Self {
        let provider = store.provider().clone();
        SpiffeServerVerifier {
            store,
            policy,
            provider,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &PeerPolicy {
        &self.policy
    }
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let material = self.store.current();
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            material.roots(),
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        check_identity(
            end_entity,
            material.trust_domain(),
            &self.policy,
            PeerRole::Server,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A server's check of a client: a certificate is required, then chain,
/// SVID, trust domain, allow-list.
#[derive(Debug)]
pub struct SpiffeClientVerifier {
    store: Arc<CertStore>,
    policy: PeerPolicy,
    provider: Arc<CryptoProvider>,
}

impl SpiffeClientVerifier {
    /// Checks clients against the store's current bundle and `policy`.
    pub fn new(store: Arc<CertStore>, policy: PeerPolicy) -> Self {
        let provider = store.provider().clone();
        SpiffeClientVerifier {
            store,
            policy,
            provider,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &PeerPolicy {
        &self.policy
    }
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No CA hints: the bundle may change at any time and a workload has a
    /// single certificate to offer anyway.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let material = self.store.current();
        material
            .client_chain_verifier()
            .verify_client_cert(end_entity, intermediates, now)?;
        check_identity(
            end_entity,
            material.trust_domain(),
            &self.policy,
            PeerRole::Client,
        )?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::new(s).unwrap()
    }

    #[test]
    fn policy_checks_domain_then_allow_list() {
        let own = TrustDomain::new("cluster.local").unwrap();
        let web = id("spiffe://cluster.local/ns/default/sa/web");
        let db = id("spiffe://cluster.local/ns/default/sa/db");
        let foreign = id("spiffe://other.org/ns/default/sa/web");

        let any = PeerPolicy::any_in_own_trust_domain();
        assert_eq!(any.check(&own, &web), Ok(()));
        let err = any.check(&own, &foreign).unwrap_err();
        assert_eq!(
            err,
            VerifyErrorKind::WrongTrustDomain {
                expected: vec![own.clone()],
                presented: foreign.clone()
            }
        );
        assert!(err.to_string().contains("other.org"), "{err}");
        assert!(
            err.to_string()
                .contains("expected trust domain cluster.local"),
            "{err}"
        );

        let only_web = PeerPolicy::allow([web.clone()]);
        assert_eq!(only_web.check(&own, &web), Ok(()));
        let err = only_web.check(&own, &db).unwrap_err();
        assert_eq!(
            err,
            VerifyErrorKind::NotAllowed {
                expected: vec![web.clone()],
                presented: db.clone()
            }
        );
        assert!(
            err.to_string()
                .contains("presented spiffe://cluster.local/ns/default/sa/db, expected one of spiffe://cluster.local/ns/default/sa/web"),
            "{err}"
        );

        let federated = PeerPolicy::any_in_own_trust_domain()
            .with_trust_domains([TrustDomain::new("other.org").unwrap(), own.clone()]);
        assert_eq!(federated.check(&own, &foreign), Ok(()));
        assert_eq!(federated.trust_domains().len(), 2);
    }

    #[test]
    fn rustls_errors_map_back() {
        let e = VerifyError::new(
            PeerRole::Server,
            VerifyErrorKind::NotAllowed {
                expected: vec![],
                presented: id("spiffe://td/x"),
            },
        );
        let back = VerifyError::from_rustls(&e.clone().into_rustls(), PeerRole::Client).unwrap();
        assert_eq!(back, e, "the carried error keeps its own role");
        assert!(back.is_identity());
        assert_eq!(back.side(), Side::Upstream);
        assert!(back.retry_safe());

        let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(200)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(100)),
        });
        let got = VerifyError::from_rustls(&expired, PeerRole::Client).unwrap();
        assert_eq!(got.side(), Side::Downstream);
        assert!(!got.is_identity());
        assert_eq!(
            got.to_string(),
            "client certificate rejected: the certificate expired at 100s after the epoch (checked at 200s after the epoch)"
        );
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            VerifyError::from_rustls(&unknown, PeerRole::Server)
                .unwrap()
                .kind,
            VerifyErrorKind::UntrustedIssuer
        );
        assert_eq!(
            VerifyError::from_rustls(&rustls::Error::NoCertificatesPresented, PeerRole::Client)
                .unwrap()
                .kind,
            VerifyErrorKind::MissingCertificate
        );
        assert_eq!(
            VerifyError::from_rustls(&rustls::Error::DecryptError, PeerRole::Client),
            None
        );
    }
}
