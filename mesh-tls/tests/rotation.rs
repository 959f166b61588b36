//! Certificate rotation through the file system, as Kubernetes and Istio
//! do it: replace the files while a connection is open; the open
//! connection goes on, a new one gets the new certificate, and a broken
//! replacement changes nothing. The tests wait on the store's reload
//! notifications (with a bound), never on a timer.
// Test helpers outside #[test] functions may unwrap too: a panic is a
// failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use mesh_core::{Connect, Target};
use mesh_tls::dev_ca::{DevCa, IssueOptions, IssuedCert};
use mesh_tls::material::PemFile;
use mesh_tls::store::{ReloadOutcome, ReloadStatus, WatchError};
use mesh_tls::{
    CertPaths, CertStore, ClientOptions, LoadError, MtlsAcceptor, MtlsConnector, MtlsStream,
    ServerOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Writes the files of a Kubernetes Secret volume the way the kubelet's
/// atomic writer does: a new timestamped directory, then the `..data`
/// symlink renamed over the old one. The file names are symlinks into
/// `..data` and never change.
fn kubelet_write(dir: &Path, version: u32, chain: &str, key: &str, bundle: &str) {
    let ts = format!("..2026_01_01_00_00_{version:02}.000000001");
    let ts_dir = dir.join(&ts);
    std::fs::create_dir(&ts_dir).unwrap();
    std::fs::write(ts_dir.join("tls.crt"), chain).unwrap();
    std::fs::write(ts_dir.join("tls.key"), key).unwrap();
    std::fs::write(ts_dir.join("ca.crt"), bundle).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(&ts, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for name in ["tls.crt", "tls.key", "ca.crt"] {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), &link).unwrap();
        }
    }
}

/// Waits (at most 20 s) until the store's status satisfies `f`.
async fn wait_for(
    rx: &mut watch::Receiver<ReloadStatus>,
    what: &str,
    f: impl FnMut(&ReloadStatus) -> bool,
) -> ReloadStatus {
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(f))
        .await
        .unwrap_or_else(|_| panic!("no reload notification: {what}"))
        .unwrap()
        .clone()
}

/// Accepts connections for ever; each is greeted and echoed.
fn serve(store: &Arc<CertStore>, listener: tokio::net::TcpListener) {
    let acceptor = MtlsAcceptor::new(store, &ServerOptions::default()).unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut buf = [0u8; 256];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

fn presented(stream: &MtlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

async fn echo(stream: &mut MtlsStream<TcpStream>, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
}

fn with_lifetime(ca: &DevCa, hours: u64) -> IssuedCert {
    let now = SystemTime::now();
    let options = IssueOptions::for_id(&id("default", "server")).valid(
        now - Duration::from_secs(60),
        now + Duration::from_secs(hours * 3600),
    );
    ca.issue_with(&options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_secret_swap() {
    let ca = DevCa::new(&td()).unwrap();
    let dir = mesh_testkit::tempdir().unwrap();
    let first = with_lifetime(&ca, 24);
    kubelet_write(
        dir.path(),
        1,
        &first.chain_pem,
        &first.key_pem,
        ca.bundle_pem(),
    );
    let store = CertStore::load(CertPaths::kubernetes_tls_secret(dir.path())).unwrap();
    let _watcher = store.watch(Duration::from_millis(20)).unwrap();
    let mut rx = store.subscribe();
    assert_eq!(store.generation(), 1);

    let (l, addr) = listener().await;
    serve(&store, l);
    let connector = MtlsConnector::new(
        store_for(&ca, &id("default", "client")),
        ClientOptions {
            // Every new connection is a full handshake, so it shows the
            // certificate the server presents now.
            session_resumption: false,
            ..ClientOptions::default()
        },
    );
    let target = Target::new(addr);
    let mut old = connector.connect(&target).await.unwrap();
    assert_eq!(presented(&old), first.cert_der.to_vec());
    echo(&mut old, b"before").await;

    // Rotate to a certificate with twice the lifetime.
    let second = with_lifetime(&ca, 48);
    kubelet_write(
        dir.path(),
        2,
        &second.chain_pem,
        &second.key_pem,
        ca.bundle_pem(),
    );
    let status = wait_for(&mut rx, "generation 2", |s| s.generation == 2).await;
    assert!(status.last_error.is_none());
    let ttl = store.time_to_expiry(SystemTime::now()).unwrap();
    assert!(ttl > Duration::from_secs(47 * 3600), "{ttl:?}");

    // The open connection goes on with what it negotiated.
    echo(&mut old, b"after rotation").await;
    assert_eq!(presented(&old), first.cert_der.to_vec());
    // A new one sees the new certificate.
    let mut new = connector.connect(&target).await.unwrap();
    assert_eq!(presented(&new), second.cert_der.to_vec());
    echo(&mut new, b"new").await;

    // A broken replacement: the key of another certificate.
    let attempts = rx.borrow().attempts;
    let third = with_lifetime(&ca, 72);
    kubelet_write(
        dir.path(),
        3,
        &third.chain_pem,
        &first.key_pem,
        ca.bundle_pem(),
    );
    let status = wait_for(&mut rx, "a failed reload", |s| {
        s.attempts > attempts && s.last_error.is_some()
    })
    .await;
    assert_eq!(status.generation, 2, "nothing changed");
    let err = status.last_error.unwrap();
    assert!(matches!(*err, LoadError::KeyMismatch { .. }), "{err}");
    let mut after_broken = connector.connect(&target).await.unwrap();
    assert_eq!(presented(&after_broken), second.cert_der.to_vec());
    echo(&mut after_broken, b"still the second").await;

    // Broken PEM in the chain: also refused, the reason says which file.
    kubelet_write(
        dir.path(),
        4,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n",
        &third.key_pem,
        ca.bundle_pem(),
    );
    let status = wait_for(&mut rx, "a PEM failure", |s| {
        matches!(s.last_error.as_deref(), Some(LoadError::Pem { .. }))
    })
    .await;
    assert!(
        matches!(
            status.last_error.as_deref(),
            Some(LoadError::Pem {
                file: PemFile::CertChain,
                ..
            })
        ),
        "{:?}",
        status.last_error
    );
    assert_eq!(store.generation(), 2);
    echo(&mut old, b"the first connection is still up").await;

    // A good replacement after the broken ones is picked up.
    kubelet_write(
        dir.path(),
        5,
        &third.chain_pem,
        &third.key_pem,
        ca.bundle_pem(),
    );
    let status = wait_for(&mut rx, "generation 3", |s| s.generation == 3).await;
    assert!(status.last_error.is_none());
    let newest = connector.connect(&target).await.unwrap();
    assert_eq!(presented(&newest), third.cert_der.to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_files_replaced_one_by_one_and_a_new_trust_bundle() {
    let old_ca = DevCa::new(&td()).unwrap();
    let dir = mesh_testkit::tempdir().unwrap();
    let paths = CertPaths::istio(dir.path());
    let server_id = id("default", "server");
    old_ca
        .issue(&server_id)
        .unwrap()
        .write(&paths, old_ca.bundle_pem())
        .unwrap();
    let store = CertStore::load(paths.clone()).unwrap();
    let _watcher = store.watch(Duration::from_millis(20)).unwrap();
    let mut rx = store.subscribe();

    // CA rotation: the server moves to a new root, and trusts both while
    // clients move over.
    let new_ca = DevCa::named(&td(), "next").unwrap();
    let bundle = format!("{}{}", old_ca.bundle_pem(), new_ca.bundle_pem());
    let cert = new_ca.issue(&server_id).unwrap();
    // Three renames: in between, the chain and key disagree; whatever
    // reloads happen then fail and keep the old material.
    cert.write(&paths, &bundle).unwrap();
    let status = wait_for(&mut rx, "generation 2", |s| s.generation == 2).await;
    assert!(status.last_error.is_none());
    assert_eq!(store.current().roots().len(), 2);

    // A client of the new CA gets in; one of the old CA still does too.
    let (l, addr) = listener().await;
    serve(&store, l);
    for ca in [&new_ca, &old_ca] {
        let client = common::store(&ca.issue(&id("default", "client")).unwrap(), &bundle);
        let connector = MtlsConnector::new(client, ClientOptions::default());
        let mut s = connector.connect(&Target::new(addr)).await.unwrap();
        assert_eq!(s.peer_identity(), &server_id);
        echo(&mut s, b"hi").await;
    }

    // Reloading by hand with nothing changed is a no-op.
    assert!(matches!(store.reload(), ReloadOutcome::Unchanged));
    assert_eq!(store.generation(), 2);
}

#[test]
fn stores_without_files() {
    let ca = DevCa::new(&td()).unwrap();
    let store = store_for(&ca, &id("default", "a"));
    match store.reload() {
        ReloadOutcome::Failed(e) => assert!(matches!(*e, LoadError::NotFromFiles)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.watch(Duration::ZERO),
        Err(WatchError::NotFromFiles)
    ));
    // Programmatic replacement (an SDS push) bumps the generation.
    let next = ca.issue(&id("default", "b")).unwrap();
    let material = mesh_tls::Material::from_pem(
        next.chain_pem.as_bytes(),
        next.key_pem.as_bytes(),
        ca.bundle_pem().as_bytes(),
        store.provider(),
    )
    .unwrap();
    assert_eq!(store.replace(material), 2);
    assert_eq!(store.current().id(), &id("default", "b"));
    assert_eq!(store.status().generation, 2);
}

#[test]
fn a_missing_file_fails_the_initial_load() {
    let dir = mesh_testkit::tempdir().unwrap();
    let err = CertStore::load(CertPaths::istio(dir.path())).unwrap_err();
    assert!(
        matches!(&err, LoadError::Read { file: PemFile::CertChain, path, .. } if path.ends_with("cert-chain.pem")),
        "{err}"
    );
}
