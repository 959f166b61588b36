//! `mesh-sidecar certs`: a development CA and workload certificates with
//! SPIFFE identities, in the file names Istio mounts (`cert-chain.pem`,
//! `key.pem`, `root-cert.pem`). For development only: the CA key is not
//! kept, so every identity is issued in one run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use mesh_tls::dev_ca::{DevCa, IssueOptions};
use mesh_tls::{CertPaths, TrustDomain};

/// `mesh-sidecar certs`.
#[derive(clap::Args)]
pub struct CertsArgs {
    /// The directory to write to (created if missing).
    #[arg(long, default_value = "mesh-certs")]
    out: PathBuf,
    /// The trust domain of the identities.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// A workload identity as NAMESPACE/SERVICE_ACCOUNT; repeat for more.
    #[arg(long = "identity", default_value = "default/default")]
    identities: Vec<String>,
    /// How long the workload certificates are valid.
    #[arg(long, default_value = "24h", value_parser = crate::run::parse_duration)]
    valid_for: Duration,
}

/// What one issued identity was written as.
pub(crate) struct Issued {
    pub(crate) id: String,
    pub(crate) paths: CertPaths,
}

/// Issues `identities` (`(namespace, service account)`) from a new CA
/// and writes each under `dir/<namespace>/<service account>/`, with the
/// root in `dir/root-cert.pem`.
pub(crate) fn issue(
    dir: &Path,
    trust_domain: &str,
    identities: &[(String, String)],
    valid_for: Duration,
) -> Result<Vec<Issued>, String> {
    let td = TrustDomain::new(trust_domain).map_err(|e| e.to_string())?;
    let ca = DevCa::new(&td).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let root = dir.join("root-cert.pem");
    std::fs::write(&root, ca.bundle_pem()).map_err(|e| format!("{}: {e}", root.display()))?;
    let now = SystemTime::now();
    let mut out = Vec::new();
    for (ns, sa) in identities {
        let id = td.istio_id(ns, sa).map_err(|e| format!("{ns}/{sa}: {e}"))?;
        let options =
            IssueOptions::for_id(&id).valid(now - Duration::from_secs(60), now + valid_for);
        let cert = ca.issue_with(&options).map_err(|e| e.to_string())?;
        let wdir = dir.join(ns).join(sa);
        std::fs::create_dir_all(&wdir).map_err(|e| format!("{}: {e}", wdir.display()))?;
        let paths = CertPaths::istio(&wdir);
        cert.write(&paths, ca.bundle_pem())
            .map_err(|e| e.to_string())?;
        out.push(Issued {
            id: id.to_string(),
            paths,
        });
    }
    Ok(out)
}

/// Entry point of `certs`.
pub fn run(args: &CertsArgs) -> ExitCode {
    let mut identities = Vec::new();
    for text in &args.identities {
        match text.split_once('/') {
            Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() && !sa.contains('/') => {
                identities.push((ns.to_owned(), sa.to_owned()));
            }
            _ => {
                eprintln!(
                    "mesh-sidecar certs: --identity {text:?} must be NAMESPACE/SERVICE_ACCOUNT"
                );
                return ExitCode::from(2);
            }
        }
    }
    match issue(&args.out, &args.trust_domain, &identities, args.valid_for) {
        Ok(issued) => {
            println!(
                "development CA: {}",
                args.out.join("root-cert.pem").display()
            );
            for i in &issued {
                println!("{}:", i.id);
                println!("  certChain:  {}", i.paths.cert_chain.display());
                println!("  privateKey: {}", i.paths.private_key.display());
                println!("  rootCert:   {}", i.paths.trust_bundle.display());
            }
            println!(
                "Put these paths in the SidecarProxy's spec.certificates (for Kubernetes, in a Secret: see deploy/kubernetes/README.md)."
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mesh-sidecar certs: {e}");
            ExitCode::from(1)
        }
    }
}
