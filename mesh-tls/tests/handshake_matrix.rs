//! The handshake matrix over real loopback sockets: the right identities
//! pass, and every wrong one fails with its own error, on the side that
//! checks it.
// Test helpers outside #[test] functions may unwrap too: a panic is a
// failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use mesh_core::{Connect, ConnectError, ConnectErrorKind, ErrorClass, Protocol, Side, Target};
use mesh_tls::config::{ServerOptions, TlsVersions, ring_provider};
use mesh_tls::dev_ca::DevCa;
use mesh_tls::istio::OutboundSni;
use mesh_tls::verify::SpiffeServerVerifier;
use mesh_tls::{
    CertStore, ClientOptions, HandshakeError, MtlsAcceptor, MtlsConnector, PeerPolicy, PeerRole,
    VerifyErrorKind,
};
use rustls::AlertDescription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server_id() -> mesh_tls::SpiffeId {
    id("default", "server")
}

fn client_id() -> mesh_tls::SpiffeId {
    id("default", "client")
}

fn sni() -> String {
    OutboundSni::new(9080, None, "server.default.svc.cluster.local").to_string()
}

/// One connection from a connector over `client` to an acceptor over
/// `server`; returns the client's result and the server's.
async fn handshake(
    server: &Arc<CertStore>,
    server_options: ServerOptions,
    client: &Arc<CertStore>,
    client_options: ClientOptions,
    allowed: &[mesh_tls::SpiffeId],
) -> (
    Result<mesh_tls::MtlsStream<tokio::net::TcpStream>, ConnectError>,
    Result<mesh_tls::MtlsStream<tokio::net::TcpStream>, HandshakeError>,
) {
    let (l, addr) = listener().await;
    let acceptor = MtlsAcceptor::new(server, &server_options).unwrap();
    let served = serve_once(l, acceptor);
    let connector = MtlsConnector::new(client.clone(), client_options);
    let target = Target::new(addr)
        .with_server_name(sni())
        .with_peer_identities(allowed.iter().map(|i| i.as_str().to_owned()))
        .with_protocol(Protocol::Http2);
    let mut client_result = connector.connect(&target).await;
    if let Ok(stream) = &mut client_result {
        // In TLS 1.3 the client finishes first; a server that rejects the
        // client certificate says so on the next read.
        let _ = read_line(stream).await;
        let _ = stream.shutdown().await;
    }
    (client_result, served.await.unwrap())
}

fn verify_kind(err: &ConnectError) -> (ConnectErrorKind, VerifyErrorKind) {
    let source = err.source.as_ref().expect("a source");
    let hs = source
        .downcast_ref::<HandshakeError>()
        .unwrap_or_else(|| panic!("not a handshake error: {source}"));
    let v = hs
        .verify_error()
        .unwrap_or_else(|| panic!("not a verify error: {hs}"));
    assert_eq!(v.peer, PeerRole::Server);
    (err.kind, v.kind.clone())
}

fn server_verify_kind(err: &HandshakeError) -> VerifyErrorKind {
    let v = err
        .verify_error()
        .unwrap_or_else(|| panic!("not a verify error: {err}"));
    assert_eq!(v.peer, PeerRole::Client);
    assert_eq!(err.side(), Side::Downstream);
    v.kind.clone()
}

#[tokio::test]
async fn right_identities_pass_and_are_exposed() {
    let ca = DevCa::new(&td()).unwrap();
    let inter = ca.intermediate("plug-in").unwrap();
    // The server's chain goes through an intermediate; the client's not.
    let server = store_for(&inter, &server_id());
    let client = store_for(&ca, &client_id());
    let (l, addr) = listener().await;
    let acceptor = MtlsAcceptor::new(
        &server,
        &ServerOptions {
            peers: PeerPolicy::allow([client_id()]),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let served = serve_once(l, acceptor.clone());
    let connector = MtlsConnector::new(client.clone(), ClientOptions::default());
    let target = Target::new(addr)
        .with_server_name(sni())
        .with_peer_identities([server_id().as_str()])
        .with_protocol(Protocol::Grpc);
    // Through the trait, as a proxy generic over Connect would.
    async fn dial<C: Connect>(c: &C, t: &Target) -> Result<C::Io, ConnectError> {
        c.connect(t).await
    }
    let mut stream = dial(&connector, &target).await.unwrap();
    assert_eq!(stream.peer_identity(), &server_id());
    assert_eq!(stream.peer().alpn.as_deref(), Some(&b"istio-h2"[..]));
    assert_eq!(stream.peer().inner_protocol(), Some(Protocol::Http2));
    assert_eq!(stream.peer().server_name.as_deref(), Some(sni().as_str()));
    assert_eq!(
        stream.peer().version,
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(
        read_line(&mut stream).await.unwrap(),
        format!("hello {}", client_id())
    );
    stream.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ping");
    stream.shutdown().await.unwrap();
    let server_side = served.await.unwrap().unwrap();
    assert_eq!(server_side.peer_identity(), &client_id());
    assert_eq!(
        server_side.peer().server_name.as_deref(),
        Some(sni().as_str())
    );
    assert_eq!(server_side.peer().inner_protocol(), Some(Protocol::Http2));

    // A second connection with the same connector resumes the session and
    // still reports the identity verified the first time.
    // (Same acceptor, so the same server session cache.)
    let (l, addr) = listener().await;
    let served = serve_once(l, acceptor);
    let target = Target {
        addr,
        ..target.clone()
    };
    let mut again = connector.connect(&target).await.unwrap();
    assert_eq!(
        again.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert_eq!(again.peer_identity(), &server_id());
    read_line(&mut again).await.unwrap();
    again.shutdown().await.unwrap();
    let server_side = served.await.unwrap().unwrap();
    assert_eq!(
        server_side.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert_eq!(server_side.peer_identity(), &client_id());

    // Without resumption, a fresh full handshake each time.
    let fresh = MtlsConnector::new(
        client,
        ClientOptions {
            session_resumption: false,
            ..ClientOptions::default()
        },
    );
    let (l, addr) = listener().await;
    let served = serve_once(
        l,
        MtlsAcceptor::new(&server, &ServerOptions::default()).unwrap(),
    );
    let mut full = fresh.connect(&Target { addr, ..target }).await.unwrap();
    assert_eq!(
        full.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    read_line(&mut full).await.unwrap();
    full.shutdown().await.unwrap();
    served.await.unwrap().unwrap();
}

#[tokio::test]
async fn wrong_trust_domain_fails_on_both_sides() {
    let ca = DevCa::new(&td()).unwrap();
    // The same CA signs an id of another trust domain: the chain is fine,
    // the trust domain is not.
    let foreign = mesh_tls::TrustDomain::new("evil.org")
        .unwrap()
        .istio_id("default", "server")
        .unwrap();
    let (client_result, _) = handshake(
        &store_for(&ca, &foreign),
        ServerOptions {
            peers: PeerPolicy::default().with_trust_domains([td(), foreign.trust_domain()]),
            ..ServerOptions::default()
        },
        &store_for(&ca, &client_id()),
        ClientOptions::default(),
        &[],
    )
    .await;
    let err = client_result.unwrap_err();
    let (kind, v) = verify_kind(&err);
    assert_eq!(kind, ConnectErrorKind::PeerIdentity);
    assert_eq!(
        v,
        VerifyErrorKind::WrongTrustDomain {
            expected: vec![td()],
            presented: foreign.clone()
        }
    );
    assert!(err.to_string().contains("peer identity rejected"), "{err}");
    assert!(err.retry_safe());

    // The server's view of a client from the other trust domain.
    let (_, server_result) = handshake(
        &store_for(&ca, &server_id()),
        ServerOptions::default(),
        &store_for(&ca, &foreign),
        ClientOptions {
            trust_domains: vec![td()],
            ..ClientOptions::default()
        },
        &[],
    )
    .await;
    let err = server_result.unwrap_err();
    assert_eq!(
        server_verify_kind(&err),
        VerifyErrorKind::WrongTrustDomain {
            expected: vec![td()],
            presented: foreign
        }
    );
    assert!(err.to_string().contains("evil.org"), "{err}");
}

#[tokio::test]
async fn wrong_service_account_fails_on_both_sides() {
    let ca = DevCa::new(&td()).unwrap();
    let imposter = id("default", "imposter");
    let (client_result, _) = handshake(
        &store_for(&ca, &imposter),
        ServerOptions::default(),
        &store_for(&ca, &client_id()),
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    let (kind, v) = verify_kind(&client_result.unwrap_err());
    assert_eq!(kind, ConnectErrorKind::PeerIdentity);
    assert_eq!(
        v,
        VerifyErrorKind::NotAllowed {
            expected: vec![server_id()],
            presented: imposter.clone()
        }
    );

    let (client_result, server_result) = handshake(
        &store_for(&ca, &server_id()),
        ServerOptions {
            peers: PeerPolicy::allow([client_id()]),
            ..ServerOptions::default()
        },
        &store_for(&ca, &imposter),
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    let err = server_result.unwrap_err();
    assert_eq!(
        server_verify_kind(&err),
        VerifyErrorKind::NotAllowed {
            expected: vec![client_id()],
            presented: imposter
        }
    );
    assert!(
        err.to_string().contains(
            "client certificate rejected: presented spiffe://cluster.local/ns/default/sa/imposter, expected one of spiffe://cluster.local/ns/default/sa/client"
        ),
        "{err}"
    );
    // The client finished its half of the TLS 1.3 handshake but was never
    // greeted: its first read saw the server's alert.
    assert!(client_result.is_ok());
}

#[tokio::test]
async fn expired_certificate_fails_on_both_sides() {
    let ca = DevCa::new(&td()).unwrap();
    let stale_server = store(
        &ca.issue_with(&expired(&server_id())).unwrap(),
        ca.bundle_pem(),
    );
    let (client_result, _) = handshake(
        &stale_server,
        ServerOptions::default(),
        &store_for(&ca, &client_id()),
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    let (kind, v) = verify_kind(&client_result.unwrap_err());
    assert_eq!(kind, ConnectErrorKind::Tls);
    let VerifyErrorKind::Expired { not_after, now } = v else {
        panic!("{v:?}");
    };
    assert!(not_after.unwrap() < now.unwrap());
    assert_eq!(
        stale_server.time_to_expiry(std::time::SystemTime::now()),
        None
    );

    let stale_client = store(
        &ca.issue_with(&expired(&client_id())).unwrap(),
        ca.bundle_pem(),
    );
    let (_, server_result) = handshake(
        &store_for(&ca, &server_id()),
        ServerOptions::default(),
        &stale_client,
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    assert!(matches!(
        server_verify_kind(&server_result.unwrap_err()),
        VerifyErrorKind::Expired { .. }
    ));
}

#[tokio::test]
async fn untrusted_ca_fails_on_both_sides() {
    let ca = DevCa::new(&td()).unwrap();
    // Another root with the same name (two installs' self-signed roots),
    // and one with another name.
    for rogue in [
        DevCa::new(&td()).unwrap(),
        DevCa::named(&td(), "rogue").unwrap(),
    ] {
        untrusted_ca(&ca, &rogue).await;
    }
}

async fn untrusted_ca(ca: &DevCa, rogue: &DevCa) {
    // The rogue server trusts our CA, so only the client's check fails.
    let rogue_server = store(&rogue.issue(&server_id()).unwrap(), ca.bundle_pem());
    let (client_result, _) = handshake(
        &rogue_server,
        ServerOptions::default(),
        &store_for(ca, &client_id()),
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    let (kind, v) = verify_kind(&client_result.unwrap_err());
    assert_eq!(kind, ConnectErrorKind::Tls);
    assert_eq!(v, VerifyErrorKind::UntrustedIssuer);

    let rogue_client = store(&rogue.issue(&client_id()).unwrap(), ca.bundle_pem());
    let (_, server_result) = handshake(
        &store_for(ca, &server_id()),
        ServerOptions::default(),
        &rogue_client,
        ClientOptions::default(),
        &[server_id()],
    )
    .await;
    assert_eq!(
        server_verify_kind(&server_result.unwrap_err()),
        VerifyErrorKind::UntrustedIssuer
    );
}

/// A rustls client that verifies the server like a sidecar but has no
/// client certificate, and speaks `versions`.
fn certless_client(
    trust: &Arc<CertStore>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let verifier = SpiffeServerVerifier::new(trust.clone(), PeerPolicy::default());
    let config = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn missing_client_certificate_fails() {
    let ca = DevCa::new(&td()).unwrap();
    let server = store_for(&ca, &server_id());
    let trust = store_for(&ca, &client_id());
    for (versions, server_versions) in [
        (&[&rustls::version::TLS13][..], TlsVersions::Tls13),
        (&[&rustls::version::TLS12][..], TlsVersions::Tls12And13),
    ] {
        let (l, addr) = listener().await;
        let served = serve_once(
            l,
            MtlsAcceptor::new(
                &server,
                &ServerOptions {
                    versions: server_versions,
                    ..ServerOptions::default()
                },
            )
            .unwrap(),
        );
        let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from(sni()).unwrap();
        let client = certless_client(&trust, versions)
            .connect(name, socket)
            .await;
        let client_err = match client {
            // TLS 1.3: the client finishes first and learns on read.
            Ok(mut s) => s.read(&mut [0u8; 16]).await.unwrap_err(),
            // TLS 1.2: the server's alert comes before its Finished.
            Err(e) => e,
        };
        let alert = HandshakeError::from_io(client_err, PeerRole::Server);
        assert!(
            matches!(
                alert,
                HandshakeError::Rejected {
                    alert: AlertDescription::CertificateRequired
                        | AlertDescription::HandshakeFailure,
                    ..
                }
            ),
            "{alert:?}"
        );
        let err = served.await.unwrap().unwrap_err();
        assert_eq!(
            server_verify_kind(&err),
            VerifyErrorKind::MissingCertificate
        );
    }
}

#[tokio::test]
async fn tls12_only_by_configuration() {
    let ca = DevCa::new(&td()).unwrap();
    let server = store_for(&ca, &server_id());
    let cert = ca.issue(&client_id()).unwrap();
    // A TLS 1.2-only client with a certificate (an older proxy).
    let tls12_client = || {
        let chain = rustls_pki_types::pem::PemObject::pem_slice_iter(cert.chain_pem.as_bytes())
            .collect::<Result<Vec<rustls_pki_types::CertificateDer<'static>>, _>>()
            .unwrap();
        let key =
            rustls_pki_types::pem::PemObject::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
        let verifier = SpiffeServerVerifier::new(server.clone(), PeerPolicy::default());
        let config = rustls::ClientConfig::builder_with_provider(ring_provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(chain, key)
            .unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    };
    for (versions, ok) in [(TlsVersions::Tls12And13, true), (TlsVersions::Tls13, false)] {
        let (l, addr) = listener().await;
        let served = serve_once(
            l,
            MtlsAcceptor::new(
                &server,
                &ServerOptions {
                    versions,
                    ..ServerOptions::default()
                },
            )
            .unwrap(),
        );
        let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("server.local").unwrap();
        let result = tls12_client().connect(name, socket).await;
        assert_eq!(result.is_ok(), ok, "{versions:?}");
        if let Ok(mut s) = result {
            assert_eq!(
                read_line(&mut s).await.unwrap(),
                format!("hello {}", client_id())
            );
            s.shutdown().await.unwrap();
            let server_side = served.await.unwrap().unwrap();
            assert_eq!(
                server_side.peer().version,
                Some(rustls::ProtocolVersion::TLSv1_2)
            );
        } else {
            let err = served.await.unwrap().unwrap_err();
            assert!(matches!(err, HandshakeError::Tls { .. }), "{err:?}");
        }
    }
}

#[tokio::test]
async fn invalid_targets_are_typed_errors() {
    let ca = DevCa::new(&td()).unwrap();
    let connector = MtlsConnector::new(store_for(&ca, &client_id()), ClientOptions::default());
    let (l, addr) = listener().await;
    drop(l);
    let target = Target::new(addr).with_peer_identities(["not a spiffe id"]);
    let err = connector.connect(&target).await.unwrap_err();
    // The TCP connection fails first: nobody listens.
    assert_eq!(err.kind, ConnectErrorKind::Refused);

    let (l, addr) = listener().await;
    let accept = tokio::spawn(async move { l.accept().await.map(|(s, _)| s) });
    let target = Target::new(addr).with_peer_identities(["not a spiffe id"]);
    let err = connector.connect(&target).await.unwrap_err();
    assert_eq!(err.kind, ConnectErrorKind::PeerIdentity);
    assert!(err.to_string().contains("not a spiffe id"), "{err}");
    drop(accept.await);

    let (l, addr) = listener().await;
    let accept = tokio::spawn(async move { l.accept().await.map(|(s, _)| s) });
    let target = Target::new(addr).with_server_name("bad name!");
    let err = connector.connect(&target).await.unwrap_err();
    assert_eq!(err.kind, ConnectErrorKind::Tls);
    assert!(err.to_string().contains("bad name!"), "{err}");
    drop(accept.await);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out() {
    let ca = DevCa::new(&td()).unwrap();
    let connector = MtlsConnector::new(
        store_for(&ca, &client_id()),
        ClientOptions {
            handshake_timeout: std::time::Duration::from_secs(3),
            ..ClientOptions::default()
        },
    );
    // A server that never answers: an in-memory pipe whose far end stays
    // open and silent.
    let (near, _far) = tokio::io::duplex(64 * 1024);
    let target = Target::new("127.0.0.1:1".parse().unwrap());
    let wall = std::time::Instant::now();
    let err = connector.handshake(near, &target).await.unwrap_err();
    assert_eq!(err.kind, ConnectErrorKind::Timeout);
    assert!(
        wall.elapsed() < std::time::Duration::from_secs(2),
        "paused time"
    );
    let hs = err
        .source
        .as_ref()
        .unwrap()
        .downcast_ref::<HandshakeError>()
        .unwrap();
    assert!(matches!(
        hs,
        HandshakeError::Timeout {
            peer: PeerRole::Server,
            ..
        }
    ));
    assert_eq!(hs.side(), Side::Upstream);
}
