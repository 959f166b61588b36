//! A development certificate authority: a root (and optional intermediate)
//! CA and workload certificates with SPIFFE URI SANs, made with rcgen on
//! the ring provider.
//!
//! For tests and demos only: keys live in memory, nothing is revoked, and
//! validity periods are whatever the caller asks for (including ones in the
//! past, to test expiry).
//!
//! ```
//! use mesh_tls::dev_ca::DevCa;
//! use mesh_tls::spiffe::TrustDomain;
//!
//! let td = TrustDomain::new("cluster.local").unwrap();
//! let ca = DevCa::new(&td).unwrap();
//! let web = ca.issue(&td.istio_id("default", "web").unwrap()).unwrap();
//! assert!(web.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! assert!(ca.bundle_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! ```

use std::io;
use std::time::{Duration, SystemTime};

use mesh_core::{ErrorClass, Side};
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;

use crate::material::CertPaths;
use crate::spiffe::{SpiffeId, TrustDomain};

/// rcgen refused to build a certificate (an invalid SAN string, a key it
/// cannot generate), or a file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevCaError {
    /// rcgen's error.
    #[error("rcgen: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Writing the certificate files failed.
    #[error("writing {path}: {source}", path = path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl ErrorClass for DevCaError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// What to put in a workload certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueOptions {
    /// URI SANs, in order (one SPIFFE id for a valid X.509-SVID; tests set
    /// none, two, or a non-SPIFFE URI).
    pub uri_sans: Vec<String>,
    /// DNS SANs (none in Istio workload certificates).
    pub dns_sans: Vec<String>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl IssueOptions {
    /// Istio's default workload lifetime.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

    /// A certificate for `id`, valid from a minute ago (clock skew) for
    /// [`IssueOptions::DEFAULT_LIFETIME`].
    pub fn for_id(id: &SpiffeId) -> Self {
        let now = SystemTime::now();
        IssueOptions {
            uri_sans: vec![id.as_str().to_owned()],
            dns_sans: Vec::new(),
            not_before: now - Duration::from_secs(60),
            not_after: now + Self::DEFAULT_LIFETIME,
        }
    }

    /// The same options with another validity period.
    pub fn valid(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A workload certificate and its key, in PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The leaf certificate alone.
    pub cert_pem: String,
    /// The leaf followed by the intermediates up to (not including) the
    /// root: what a workload presents.
    pub chain_pem: String,
    /// The PKCS#8 private key.
    pub key_pem: String,
    /// The leaf certificate in DER.
    pub cert_der: CertificateDer<'static>,
}

impl IssuedCert {
    /// Writes the chain, the key and `bundle_pem` to `paths` (each through
    /// a temporary file and a rename, so a watcher never reads half a
    /// file).
    pub fn write(&self, paths: &CertPaths, bundle_pem: &str) -> Result<(), DevCaError> {
        for (path, data) in [
            (&paths.cert_chain, self.chain_pem.as_str()),
            (&paths.private_key, self.key_pem.as_str()),
            (&paths.trust_bundle, bundle_pem),
        ] {
            let tmp = path.with_extension("tmp~");
            std::fs::write(&tmp, data)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|source| DevCaError::Write {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// A certificate authority for one trust domain.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    trust_domain: TrustDomain,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    /// This CA's certificate and its parents, excluding the root.
    intermediates_pem: String,
    root_pem: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa")
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

impl DevCa {
    /// A new self-signed root CA for `trust_domain`, valid from a minute
    /// ago for ten years.
    pub fn new(trust_domain: &TrustDomain) -> Result<DevCa, DevCaError> {
        DevCa::named(trust_domain, "root")
    }

    /// A new self-signed root CA whose common name ends in `name` (two
    /// roots of one trust domain made by [`DevCa::new`] share a name, as
    /// the self-signed roots of two Istio installs do).
    pub fn named(trust_domain: &TrustDomain, name: &str) -> Result<DevCa, DevCaError> {
        let key = KeyPair::generate()?;
        let params = ca_params(trust_domain, name)?;
        let cert = params.self_signed(&key)?;
        let pem = cert.pem();
        Ok(DevCa {
            issuer: Issuer::new(params, key),
            trust_domain: trust_domain.clone(),
            cert_pem: pem.clone(),
            cert_der: cert.der().clone(),
            intermediates_pem: String::new(),
            root_pem: pem,
        })
    }

    /// An intermediate CA signed by this one (Istio's "plug-in CA" shape):
    /// workloads it issues present it in their chain.
    pub fn intermediate(&self, name: &str) -> Result<DevCa, DevCaError> {
        let key = KeyPair::generate()?;
        let params = ca_params(&self.trust_domain, name)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let pem = cert.pem();
        Ok(DevCa {
            issuer: Issuer::new(params, key),
            trust_domain: self.trust_domain.clone(),
            intermediates_pem: format!("{pem}{}", self.intermediates_pem),
            cert_pem: pem,
            cert_der: cert.der().clone(),
            root_pem: self.root_pem.clone(),
        })
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// This CA's certificate.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// This CA's certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The trust bundle peers need: the root certificate.
    pub fn bundle_pem(&self) -> &str {
        &self.root_pem
    }

    /// A workload certificate for `id` with the default options.
    pub fn issue(&self, id: &SpiffeId) -> Result<IssuedCert, DevCaError> {
        self.issue_with(&IssueOptions::for_id(id))
    }

    /// A workload certificate with these options: server and client auth,
    /// not a CA, a fresh P-256 key.
    pub fn issue_with(&self, options: &IssueOptions) -> Result<IssuedCert, DevCaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, self.trust_domain.as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = options.not_before.into();
        params.not_after = options.not_after.into();
        for uri in &options.uri_sans {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(uri.as_str())?));
        }
        for dns in &options.dns_sans {
            params
                .subject_alt_names
                .push(SanType::DnsName(Ia5String::try_from(dns.as_str())?));
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        let cert_pem = cert.pem();
        Ok(IssuedCert {
            chain_pem: format!("{cert_pem}{}", self.intermediates_pem),
            cert_pem,
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
        })
    }
}

fn ca_params(trust_domain: &TrustDomain, name: &str) -> Result<CertificateParams, DevCaError> {
    let now = SystemTime::now();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, trust_domain.as_str());
    params
        .distinguished_name
        .push(DnType::CommonName, format!("meshkit dev CA {name}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = (now - Duration::from_secs(60)).into();
    params.not_after = (now + Duration::from_secs(10 * 365 * 24 * 3600)).into();
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svid::{self, SvidError};

    #[test]
    fn issued_certificates_carry_the_id() {
        let td = TrustDomain::new("cluster.local").unwrap();
        let ca = DevCa::new(&td).unwrap();
        let id = td.istio_id("default", "web").unwrap();
        let cert = ca.issue(&id).unwrap();
        let info = svid::inspect(&cert.cert_der).unwrap();
        assert_eq!(info.id, id);
        assert!(info.not_before < SystemTime::now());
        assert!(info.not_after > SystemTime::now() + Duration::from_secs(23 * 3600));
        assert_eq!(cert.chain_pem, cert.cert_pem);

        let inter = ca.intermediate("plug-in").unwrap();
        let leaf = inter.issue(&id).unwrap();
        assert_eq!(
            leaf.chain_pem,
            format!("{}{}", leaf.cert_pem, inter.cert_pem())
        );
        assert_eq!(inter.bundle_pem(), ca.bundle_pem());
    }

    #[test]
    fn svid_rules() {
        let td = TrustDomain::new("td").unwrap();
        let ca = DevCa::new(&td).unwrap();
        let base = IssueOptions::for_id(&td.istio_id("a", "b").unwrap());
        let none = IssueOptions {
            uri_sans: vec![],
            dns_sans: vec!["web.local".into()],
            ..base.clone()
        };
        let two = IssueOptions {
            uri_sans: vec!["spiffe://td/a".into(), "spiffe://td/b".into()],
            ..base.clone()
        };
        let https = IssueOptions {
            uri_sans: vec!["https://td/a".into()],
            ..base.clone()
        };
        let inspect = |o: &IssueOptions| svid::inspect(&ca.issue_with(o).unwrap().cert_der);
        assert_eq!(inspect(&none).unwrap_err(), SvidError::NoUriSan);
        assert!(
            matches!(inspect(&two).unwrap_err(), SvidError::ManyUriSans { uris } if uris.len() == 2)
        );
        assert!(matches!(
            inspect(&https).unwrap_err(),
            SvidError::InvalidId(_)
        ));
        assert!(matches!(
            svid::inspect(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])).unwrap_err(),
            SvidError::Parse { .. }
        ));
    }
}
