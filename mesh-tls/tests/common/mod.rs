//! Shared helpers of the mesh-tls integration tests: a PKI made with the
//! development CA, stores for given identities, and a one-shot server.
// Test support: a panic is a failed test with a location.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_tls::dev_ca::{DevCa, IssueOptions, IssuedCert};
use mesh_tls::{CertStore, HandshakeError, MtlsAcceptor, MtlsStream, SpiffeId, TrustDomain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The trust domain of every test.
pub const TD: &str = "cluster.local";

pub fn td() -> TrustDomain {
    TrustDomain::new(TD).unwrap()
}

pub fn id(ns: &str, sa: &str) -> SpiffeId {
    td().istio_id(ns, sa).unwrap()
}

/// A store holding `cert` and trusting `bundle_pem`.
pub fn store(cert: &IssuedCert, bundle_pem: &str) -> Arc<CertStore> {
    CertStore::from_pem(
        cert.chain_pem.as_bytes(),
        cert.key_pem.as_bytes(),
        bundle_pem.as_bytes(),
    )
    .unwrap()
}

/// A store for `id`, issued by `ca`, trusting `ca`'s root.
pub fn store_for(ca: &DevCa, id: &SpiffeId) -> Arc<CertStore> {
    store(&ca.issue(id).unwrap(), ca.bundle_pem())
}

/// Options for a certificate that expired an hour ago.
pub fn expired(id: &SpiffeId) -> IssueOptions {
    let now = SystemTime::now();
    IssueOptions::for_id(id).valid(
        now - Duration::from_secs(48 * 3600),
        now - Duration::from_secs(3600),
    )
}

/// A listener on a fresh loopback address.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let ip = mesh_testkit::unique_loopback();
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// Accepts one connection, runs the server handshake, and on success
/// writes `hello <client id>\n`, then echoes until the client closes.
pub fn serve_once(
    listener: TcpListener,
    acceptor: MtlsAcceptor,
) -> JoinHandle<Result<MtlsStream<TcpStream>, HandshakeError>> {
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(socket).await?;
        let greeting = format!("hello {}\n", tls.peer_identity());
        tls.write_all(greeting.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tls.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        Ok(tls)
    })
}

/// Reads the server's greeting line.
pub async fn read_line<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte).await?;
        if n == 0 || byte[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        line.push(byte[0]);
    }
}
