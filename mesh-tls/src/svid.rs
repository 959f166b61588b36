//! X.509-SVID inspection: the SPIFFE id and validity of a certificate.
//!
//! The SPIFFE X.509-SVID specification says a workload certificate carries
//! exactly one URI SAN, its SPIFFE id. The chain is verified elsewhere (by
//! webpki, through rustls); this module only reads what the chain vouches
//! for.

use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

use crate::spiffe::{SpiffeId, SpiffeIdError};

/// Why a certificate is not a usable X.509-SVID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SvidError {
    /// The DER does not parse as an X.509 certificate.
    #[error("the certificate does not parse: {reason}")]
    Parse {
        /// The parser's message.
        reason: String,
    },
    /// No URI SAN: not a SPIFFE identity.
    #[error("the certificate has no URI SAN, so no SPIFFE id")]
    NoUriSan,
    /// More than one URI SAN: an X.509-SVID has exactly one.
    #[error("the certificate has {} URI SANs ({}), an X.509-SVID has exactly one", uris.len(), uris.join(", "))]
    ManyUriSans {
        /// Every URI SAN found.
        uris: Vec<String>,
    },
    /// The URI SAN is not a valid SPIFFE id.
    #[error("the URI SAN is not a SPIFFE id: {0}")]
    InvalidId(#[from] SpiffeIdError),
}

/// What this crate reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvidInfo {
    /// The SPIFFE id of the URI SAN.
    pub id: SpiffeId,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// Reads the SPIFFE id and validity of `cert`.
pub fn inspect(cert: &CertificateDer<'_>) -> Result<SvidInfo, SvidError> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert).map_err(|e| SvidError::Parse {
        reason: e.to_string(),
    })?;
    let san = x509
        .subject_alternative_name()
        .map_err(|e| SvidError::Parse {
            reason: e.to_string(),
        })?;
    let mut uris = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
    let id = match (uris.next(), uris.next()) {
        (None, _) => return Err(SvidError::NoUriSan),
        (Some(uri), None) => SpiffeId::new(uri)?,
        (Some(a), Some(b)) => {
            let mut all = vec![a.to_owned(), b.to_owned()];
            all.extend(uris.map(str::to_owned));
            return Err(SvidError::ManyUriSans { uris: all });
        }
    };
    let validity = x509.validity();
    Ok(SvidInfo {
        id,
        not_before: unix_to_system(validity.not_before.timestamp()),
        not_after: unix_to_system(validity.not_after.timestamp()),
    })
}

/// Seconds since the epoch (negative before it) as a `SystemTime`.
pub(crate) fn unix_to_system(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}
