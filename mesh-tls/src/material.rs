//! A workload's TLS material: its certificate chain and key, the trust
//! bundle it checks peers against, and what the chain says about it.
//!
//! Everything is checked when the material is loaded, so a handshake never
//! discovers a broken file: the PEM parses, the key is one the ring
//! provider can sign with and matches the leaf certificate's public key,
//! the leaf is an X.509-SVID (exactly one SPIFFE URI SAN), and the bundle
//! holds at least one usable CA certificate.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_core::{ErrorClass, Side};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::spiffe::{SpiffeId, TrustDomain};
use crate::svid::{self, SvidError, SvidInfo};

/// Where a workload's material lives on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertPaths {
    /// The certificate chain, leaf first (PEM).
    pub cert_chain: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// The CA certificates peers must chain to (PEM).
    pub trust_bundle: PathBuf,
}

impl CertPaths {
    /// The file names of a Kubernetes `kubernetes.io/tls` Secret mounted
    /// at `dir` (with the CA in `ca.crt`, as cert-manager writes it):
    /// `tls.crt`, `tls.key`, `ca.crt`.
    pub fn kubernetes_tls_secret(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        CertPaths {
            cert_chain: dir.join("tls.crt"),
            private_key: dir.join("tls.key"),
            trust_bundle: dir.join("ca.crt"),
        }
    }

    /// The file names Istio uses for mounted workload certificates
    /// (`/etc/certs`): `cert-chain.pem`, `key.pem`, `root-cert.pem`.
    pub fn istio(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        CertPaths {
            cert_chain: dir.join("cert-chain.pem"),
            private_key: dir.join("key.pem"),
            trust_bundle: dir.join("root-cert.pem"),
        }
    }

    /// The directories holding the files, without repeats: what a watcher
    /// watches (a Kubernetes Secret is swapped by renaming a symlink in the
    /// directory, so watching the files themselves misses it).
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in [&self.cert_chain, &self.private_key, &self.trust_bundle] {
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }
}

/// Which of the three inputs an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PemFile {
    /// The certificate chain.
    CertChain,
    /// The private key.
    PrivateKey,
    /// The trust bundle.
    TrustBundle,
}

impl fmt::Display for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemFile::CertChain => "certificate chain",
            PemFile::PrivateKey => "private key",
            PemFile::TrustBundle => "trust bundle",
        })
    }
}

/// Why material could not be loaded. A store that fails to reload keeps its
/// old material and reports this.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    #[error("reading the {file} from {path}: {source}", path = path.display())]
    Read {
        /// Which input.
        file: PemFile,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file is not valid PEM.
    #[error("the {file} is not valid PEM: {source}")]
    Pem {
        /// Which input.
        file: PemFile,
        /// The PEM parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A file holds no item of the kind expected (no CERTIFICATE, no
    /// PRIVATE KEY).
    #[error("the {file} holds no PEM section of the expected kind")]
    Missing {
        /// Which input.
        file: PemFile,
    },
    /// The ring provider cannot use the private key (an unsupported curve
    /// or algorithm).
    #[error("the private key is not usable: {source}")]
    Key {
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// The private key does not belong to the leaf certificate.
    #[error("the private key does not match the public key of the certificate for {id}")]
    KeyMismatch {
        /// The id of the leaf certificate.
        id: SpiffeId,
    },
    /// The leaf certificate is not an X.509-SVID.
    #[error("the leaf certificate is not a SPIFFE identity: {source}")]
    Identity {
        /// What is wrong with it.
        #[source]
        source: SvidError,
    },
    /// The store has no files to reload from.
    #[error("the certificate store was not loaded from files")]
    NotFromFiles,
    /// A bundle certificate is not a usable trust anchor.
    #[error("trust bundle certificate #{index} is not a usable CA: {source}")]
    Bundle {
        /// Its position in the bundle (0-based).
        index: usize,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
}

impl ErrorClass for LoadError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

/// A workload identity and trust bundle, checked and ready for handshakes.
///
/// Immutable; a certificate store swaps whole `Material`s, so a handshake
/// sees the chain, key and bundle of one load, never a mix.
pub struct Material {
    certified_key: Arc<CertifiedKey>,
    svid: SvidInfo,
    trust_domain: TrustDomain,
    roots: Arc<RootCertStore>,
    client_chain_verifier: Arc<dyn ClientCertVerifier>,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("id", &self.svid.id)
            .field("not_after", &self.svid.not_after)
            .field("chain_len", &self.certified_key.cert.len())
            .field("bundle_len", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl Material {
    /// Loads material from PEM bytes, signing with `provider` (the ring
    /// provider: see [`crate::config::ring_provider`]).
    pub fn from_pem(
        cert_chain: &[u8],
        private_key: &[u8],
        trust_bundle: &[u8],
        provider: &Arc<CryptoProvider>,
    ) -> Result<Material, LoadError> {
        let chain = certs(cert_chain, PemFile::CertChain)?;
        let key = PrivateKeyDer::from_pem_slice(private_key).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => LoadError::Missing {
                file: PemFile::PrivateKey,
            },
            source => LoadError::Pem {
                file: PemFile::PrivateKey,
                source,
            },
        })?;
        let bundle = certs(trust_bundle, PemFile::TrustBundle)?;

        // `certs` returned at least one certificate.
        let leaf = chain.first().ok_or(LoadError::Missing {
            file: PemFile::CertChain,
        })?;
        let svid = svid::inspect(leaf).map_err(|source| LoadError::Identity { source })?;
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|source| LoadError::Key { source })?;
        let certified_key = CertifiedKey::new(chain, signing_key);
        match certified_key.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(LoadError::KeyMismatch {
                    id: svid.id.clone(),
                });
            }
            Err(source) => return Err(LoadError::Key { source }),
        }

        let mut roots = RootCertStore::empty();
        for (index, cert) in bundle.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|source| LoadError::Bundle { index, source })?;
        }
        let roots = Arc::new(roots);
        let client_chain_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| LoadError::Bundle {
                    index: 0,
                    source: rustls::Error::General(e.to_string()),
                })?;
        Ok(Material {
            trust_domain: svid.id.trust_domain(),
            certified_key: Arc::new(certified_key),
            svid,
            roots,
            client_chain_verifier,
        })
    }

    /// Loads material from the files of `paths`.
    pub fn from_files(
        paths: &CertPaths,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Material, LoadError> {
        let files = read_files(paths)?;
        Material::from_pem(&files[0], &files[1], &files[2], provider)
    }

    /// The workload's SPIFFE id (the leaf's URI SAN).
    pub fn id(&self) -> &SpiffeId {
        &self.svid.id
    }

    /// The workload's trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Start of the leaf certificate's validity.
    pub fn not_before(&self) -> SystemTime {
        self.svid.not_before
    }

    /// End of the leaf certificate's validity.
    pub fn not_after(&self) -> SystemTime {
        self.svid.not_after
    }

    /// How long until the leaf certificate expires, as seen at `now`;
    /// `None` once it has (for an expiry gauge: alert well before zero).
    pub fn time_to_expiry(&self, now: SystemTime) -> Option<Duration> {
        self.svid.not_after.duration_since(now).ok()
    }

    /// The chain and signing key rustls presents.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified_key
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified_key.cert
    }

    /// The trust anchors of the bundle.
    pub fn roots(&self) -> &Arc<RootCertStore> {
        &self.roots
    }

    /// webpki's client-certificate chain check against this bundle (the
    /// SPIFFE checks come after it, in [`crate::verify`]).
    pub(crate) fn client_chain_verifier(&self) -> &Arc<dyn ClientCertVerifier> {
        &self.client_chain_verifier
    }
}

/// Every CERTIFICATE section of `pem`, at least one.
fn certs(pem: &[u8], file: PemFile) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| LoadError::Pem { file, source })?;
    if certs.is_empty() {
        return Err(LoadError::Missing { file });
    }
    Ok(certs)
}

/// The raw bytes of the three files, in the order chain, key, bundle.
pub(crate) fn read_files(paths: &CertPaths) -> Result<[Vec<u8>; 3], LoadError> {
    let read = |file, path: &PathBuf| {
        std::fs::read(path).map_err(|source| LoadError::Read {
            file,
            path: path.clone(),
            source,
        })
    };
    Ok([
        read(PemFile::CertChain, &paths.cert_chain)?,
        read(PemFile::PrivateKey, &paths.private_key)?,
        read(PemFile::TrustBundle, &paths.trust_bundle)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ring_provider;
    use crate::dev_ca::DevCa;

    fn setup() -> (DevCa, SpiffeId) {
        let td = TrustDomain::new("cluster.local").unwrap();
        let ca = DevCa::new(&td).unwrap();
        let id = td.istio_id("default", "web").unwrap();
        (ca, id)
    }

    #[test]
    fn loads_and_reports_identity_and_expiry() {
        let (ca, id) = setup();
        let inter = ca.intermediate("i1").unwrap();
        let cert = inter.issue(&id).unwrap();
        let m = Material::from_pem(
            cert.chain_pem.as_bytes(),
            cert.key_pem.as_bytes(),
            ca.bundle_pem().as_bytes(),
            &ring_provider(),
        )
        .unwrap();
        assert_eq!(m.id(), &id);
        assert_eq!(m.trust_domain().as_str(), "cluster.local");
        assert_eq!(m.chain().len(), 2);
        assert_eq!(m.roots().len(), 1);
        let ttl = m.time_to_expiry(SystemTime::now()).unwrap();
        assert!(ttl > Duration::from_secs(23 * 3600) && ttl <= Duration::from_secs(24 * 3600));
        assert_eq!(
            m.time_to_expiry(m.not_after() + Duration::from_secs(1)),
            None
        );
        assert!(format!("{m:?}").contains("web"));
    }

    #[test]
    fn every_broken_input_is_named() {
        let (ca, id) = setup();
        let a = ca.issue(&id).unwrap();
        let b = ca.issue(&id).unwrap();
        let p = ring_provider();
        let bundle = ca.bundle_pem().as_bytes();
        let load = |chain: &str, key: &str, bundle: &[u8]| {
            Material::from_pem(chain.as_bytes(), key.as_bytes(), bundle, &p).unwrap_err()
        };
        // The key of another certificate.
        let err = load(&a.chain_pem, &b.key_pem, bundle);
        assert!(
            matches!(&err, LoadError::KeyMismatch { id: got } if *got == id),
            "{err}"
        );
        assert!(err.to_string().contains("does not match"), "{err}");
        // No certificate, no key, no bundle.
        assert!(matches!(
            load("", &a.key_pem, bundle),
            LoadError::Missing {
                file: PemFile::CertChain
            }
        ));
        assert!(matches!(
            load(&a.chain_pem, &a.cert_pem, bundle),
            LoadError::Missing {
                file: PemFile::PrivateKey
            }
        ));
        assert!(matches!(
            load(&a.chain_pem, &a.key_pem, b"nothing here"),
            LoadError::Missing {
                file: PemFile::TrustBundle
            }
        ));
        // Broken PEM.
        let cut = &a.chain_pem[..a.chain_pem.len() - 30];
        assert!(matches!(
            load(cut, &a.key_pem, bundle),
            LoadError::Pem {
                file: PemFile::CertChain,
                ..
            }
        ));
        // A leaf without a SPIFFE id.
        let plain = ca
            .issue_with(&crate::dev_ca::IssueOptions {
                uri_sans: vec![],
                dns_sans: vec!["web.local".into()],
                ..crate::dev_ca::IssueOptions::for_id(&id)
            })
            .unwrap();
        assert!(matches!(
            load(&plain.chain_pem, &plain.key_pem, bundle),
            LoadError::Identity {
                source: SvidError::NoUriSan
            }
        ));
        assert_eq!(err.side(), Side::Internal);
    }

    #[test]
    fn paths_and_directories() {
        let k = CertPaths::kubernetes_tls_secret("/var/run/secrets/tls");
        assert_eq!(k.cert_chain, Path::new("/var/run/secrets/tls/tls.crt"));
        assert_eq!(k.directories(), [PathBuf::from("/var/run/secrets/tls")]);
        let mut i = CertPaths::istio("/etc/certs");
        assert_eq!(i.trust_bundle, Path::new("/etc/certs/root-cert.pem"));
        i.trust_bundle = PathBuf::from("/etc/ca/root.pem");
        assert_eq!(i.directories().len(), 2);
        let rel = CertPaths {
            cert_chain: "a.pem".into(),
            private_key: "b.pem".into(),
            trust_bundle: "c.pem".into(),
        };
        assert_eq!(rel.directories(), [PathBuf::from(".")]);
    }
}
