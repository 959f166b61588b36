//! `openssl s_client` against our mTLS server: with a client certificate
//! (TLS 1.3 and, by configuration, TLS 1.2), without one, and with a trust
//! bundle that does not hold our CA.
// Test helpers outside #[test] functions may unwrap too: a panic is a
// failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mesh_testkit::{Peer, require_binary, tempdir};
use mesh_tls::config::{ServerOptions, TlsVersions};
use mesh_tls::dev_ca::DevCa;
use mesh_tls::istio::OutboundSni;
use mesh_tls::{CertStore, HandshakeError, MtlsAcceptor, PeerInfo, PeerRole, VerifyErrorKind};
use rustls::AlertDescription;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// Accepts one connection; on success greets the client with its identity
/// and ALPN and closes.
async fn greet_once(
    listener: TcpListener,
    acceptor: MtlsAcceptor,
) -> Result<PeerInfo, HandshakeError> {
    let (socket, _) = listener.accept().await.unwrap();
    let mut tls = acceptor.accept(socket).await?;
    let alpn = String::from_utf8_lossy(tls.peer().alpn.as_deref().unwrap_or(b"-")).into_owned();
    let line = format!("hello {} alpn={alpn}\n", tls.peer_identity());
    tls.write_all(line.as_bytes()).await.unwrap();
    tls.shutdown().await.unwrap();
    Ok(tls.peer().clone())
}

struct Files {
    _dir: mesh_testkit::TempDir,
    ca: String,
    rogue_ca: String,
    cert: String,
    key: String,
}

fn write_files(ca: &DevCa) -> Files {
    let dir = tempdir().unwrap();
    let client = ca.issue(&id("default", "client")).unwrap();
    let rogue = DevCa::named(&td(), "rogue").unwrap();
    let path = |name: &str, data: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_owned()
    };
    Files {
        ca: path("ca.pem", ca.bundle_pem()),
        rogue_ca: path("rogue.pem", rogue.bundle_pem()),
        cert: path("client.pem", &client.chain_pem),
        key: path("client.key", &client.key_pem),
        _dir: dir,
    }
}

/// Runs `openssl s_client` with `args` against a fresh acceptor over
/// `server`; returns its stdout, stderr and the server's result.
async fn s_client(
    server: &Arc<CertStore>,
    versions: TlsVersions,
    args: Vec<String>,
) -> (String, String, Result<PeerInfo, HandshakeError>) {
    let openssl = require_binary("openssl");
    let (l, addr) = listener().await;
    let acceptor = MtlsAcceptor::new(
        server,
        &ServerOptions {
            versions,
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let served = tokio::spawn(greet_once(l, acceptor));
    let mut cmd = Command::new(openssl);
    cmd.arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        // -quiet: no session dump, and wait for the server to close.
        .arg("-quiet")
        .arg("-verify_return_error")
        .args(args);
    let peer = Peer::spawn("openssl s_client", &mut cmd);
    let (out, err, _ok) =
        tokio::task::spawn_blocking(move || peer.wait_output(Duration::from_secs(20)))
            .await
            .unwrap();
    (out, err, served.await.unwrap())
}

fn sni() -> String {
    OutboundSni::new(9080, Some("v1"), "server.default.svc.cluster.local").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_client_with_a_client_certificate() {
    let ca = DevCa::new(&td()).unwrap();
    let files = write_files(&ca);
    let server = store_for(&ca, &id("default", "server"));
    for (versions, extra, want_version) in [
        (TlsVersions::Tls13, None, rustls::ProtocolVersion::TLSv1_3),
        (
            TlsVersions::Tls12And13,
            Some("-tls1_2"),
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let mut args = vec![
            "-CAfile".to_owned(),
            files.ca.clone(),
            "-cert".into(),
            files.cert.clone(),
            "-key".into(),
            files.key.clone(),
            "-servername".into(),
            sni(),
            "-alpn".into(),
            "istio-http/1.1,istio,http/1.1".into(),
        ];
        args.extend(extra.map(str::to_owned));
        let (out, err, served) = s_client(&server, versions, args).await;
        let info = served.unwrap_or_else(|e| panic!("server: {e}\nopenssl stderr:\n{err}"));
        assert_eq!(info.identity, id("default", "client"));
        assert_eq!(info.server_name.as_deref(), Some(sni().as_str()));
        assert_eq!(info.alpn.as_deref(), Some(&b"istio-http/1.1"[..]));
        assert_eq!(info.version, Some(want_version));
        assert!(
            out.contains("hello spiffe://cluster.local/ns/default/sa/client alpn=istio-http/1.1"),
            "stdout:\n{out}\nstderr:\n{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_client_without_a_client_certificate_is_refused() {
    let ca = DevCa::new(&td()).unwrap();
    let files = write_files(&ca);
    let server = store_for(&ca, &id("default", "server"));
    let args = vec![
        "-CAfile".to_owned(),
        files.ca.clone(),
        "-servername".into(),
        sni(),
    ];
    let (out, err, served) = s_client(&server, TlsVersions::Tls13, args).await;
    let e = served.unwrap_err();
    let v = e.verify_error().unwrap_or_else(|| panic!("{e}"));
    assert_eq!(
        (v.peer, &v.kind),
        (PeerRole::Client, &VerifyErrorKind::MissingCertificate)
    );
    assert!(!out.contains("hello"), "{out}");
    assert!(
        err.contains("certificate required"),
        "openssl stderr:\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s_client_that_does_not_trust_our_ca_refuses_us() {
    let ca = DevCa::new(&td()).unwrap();
    let files = write_files(&ca);
    let server = store_for(&ca, &id("default", "server"));
    let args = vec![
        "-CAfile".to_owned(),
        files.rogue_ca.clone(),
        "-cert".into(),
        files.cert.clone(),
        "-key".into(),
        files.key.clone(),
    ];
    let (out, err, served) = s_client(&server, TlsVersions::Tls13, args).await;
    assert!(!out.contains("hello"), "{out}");
    match served.unwrap_err() {
        HandshakeError::Rejected { peer, alert } => {
            assert_eq!(peer, PeerRole::Client);
            assert_eq!(alert, AlertDescription::UnknownCA, "openssl stderr:\n{err}");
        }
        other => panic!("{other:?}"),
    }
}
