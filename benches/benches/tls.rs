//! mesh-tls: the ClientHello parser and the mTLS handshake.
//!
//! `tls_client_hello`: real ClientHellos (captured from curl, openssl
//! s_client, Python's ssl by mesh-tls's tests, and one rustls writes here).
//! Timed for `ours`: `mesh_tls::hello::parse` of the whole input (record
//! layer, every length and the SNI, ALPN, versions, groups and point
//! formats validated), then reading the SNI and the first ALPN name, as a
//! proxy routing TLS does. `memcpy` is the floor: one copy of the input.
//! There is no anchor crate for ClientHello parsing without a handshake;
//! the floor is the comparison.
//!
//! `tls_handshake`: one mutual-TLS handshake on loopback per iteration,
//! TLS 1.3, P-256 certificates, no session resumption: TCP connect, both
//! handshakes, and one byte from the server (so its verification of the
//! client certificate is included). `ours`: `MtlsConnector` and
//! `MtlsAcceptor` (SPIFFE verifiers, certificate store). `rustls`: plain
//! tokio-rustls with rustls's WebPKI verifiers (DNS name check) and the
//! same certificates: the cost of the SPIFFE layer is the difference.
//! Handshakes per second are one over the time per iteration.

// Benchmark setup: a failure is a broken benchmark, and says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::memcpy_floor;
use mesh_core::{Connect, Target};
use mesh_tls::dev_ca::{DevCa, IssueOptions};
use mesh_tls::hello::{self, Limits, Status};
use mesh_tls::{CertStore, ClientOptions, MtlsAcceptor, MtlsConnector, ServerOptions, TrustDomain};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A captured ClientHello of mesh-tls's tests.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../mesh-tls/tests/data/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The ClientHello rustls (ring) sends with Istio's SNI and ALPN.
fn rustls_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"istio-h2".to_vec(), b"istio".to_vec(), b"h2".to_vec()];
    let name = ServerName::try_from("outbound_.9080_._.reviews.default.svc.cluster.local").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn client_hello(c: &mut Criterion) {
    let inputs = [
        ("rustls", rustls_hello()),
        ("openssl", fixture("openssl")),
        ("curl", fixture("curl-h2")),
        ("python", fixture("python")),
        ("openssl-3-records", fixture("openssl-split")),
    ];
    let limits = Limits::default();
    let mut group = c.benchmark_group("tls_client_hello");
    for (name, data) in &inputs {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", name), data, |b, data| {
            b.iter(|| match hello::parse(black_box(data), &limits) {
                Ok(Status::Complete(h, n)) => {
                    black_box((h.server_name(), h.alpn().next(), n));
                }
                _ => panic!("not a complete ClientHello"),
            })
        });
        memcpy_floor(&mut group, name, data);
    }
    group.finish();
}

fn handshake(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let td = TrustDomain::new("cluster.local").unwrap();
    let ca = DevCa::new(&td).unwrap();
    let issue = |sa: &str, dns: &str| {
        let options = IssueOptions {
            dns_sans: vec![dns.to_owned()],
            ..IssueOptions::for_id(&td.istio_id("default", sa).unwrap())
        };
        ca.issue_with(&options).unwrap()
    };
    let server_cert = issue("server", "server.mesh.test");
    let client_cert = issue("client", "client.mesh.test");
    let store = |cert: &mesh_tls::dev_ca::IssuedCert| {
        CertStore::from_pem(
            cert.chain_pem.as_bytes(),
            cert.key_pem.as_bytes(),
            ca.bundle_pem().as_bytes(),
        )
        .unwrap()
    };
    let mut group = c.benchmark_group("tls_handshake");

    // Ours.
    let acceptor = MtlsAcceptor::new(&store(&server_cert), &ServerOptions::default()).unwrap();
    let addr = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(s).await {
                        let _ = tls.write_all(b"!").await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        addr
    });
    let connector = MtlsConnector::new(
        store(&client_cert),
        ClientOptions {
            session_resumption: false,
            ..ClientOptions::default()
        },
    );
    let target = Target::new(addr)
        .with_server_name("outbound_.9080_._.server.default.svc.cluster.local")
        .with_peer_identities([td.istio_id("default", "server").unwrap().as_str()]);
    group.bench_function(BenchmarkId::new("ours", "loopback"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut s = connector.connect(&target).await.unwrap();
                let mut byte = [0u8; 1];
                s.read_exact(&mut byte).await.unwrap();
            })
        })
    });

    // Plain rustls with WebPKI verifiers.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.bundle_pem().as_bytes()).unwrap())
        .unwrap();
    let roots = Arc::new(roots);
    let chain = |pem: &str| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let key = |pem: &str| PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain(&server_cert.chain_pem), key(&server_cert.key_pem))
        .unwrap();
    let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain(&client_cert.chain_pem), key(&client_cert.key_pem))
        .unwrap();
    client_config.resumption = rustls::client::Resumption::disabled();
    let tls_acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let tls_connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let addr = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                let acceptor = tls_acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(s).await {
                        let _ = tls.write_all(b"!").await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        addr
    });
    let name = ServerName::try_from("server.mesh.test").unwrap();
    group.bench_function(BenchmarkId::new("rustls", "loopback"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut tls = tls_connector.connect(name.clone(), s).await.unwrap();
                let mut byte = [0u8; 1];
                tls.read_exact(&mut byte).await.unwrap();
            })
        })
    });
    group.finish();
}

criterion_group!(benches, client_hello, handshake);
criterion_main!(benches);
