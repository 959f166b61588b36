//! ClientHellos sent by real clients (`curl`, `openssl s_client`, Python's
//! `ssl`), captured by a raw TCP listener in the test: the parser finds
//! the SNI and ALPN they were given, and every prefix needs more bytes.
//!
//! Set `MESH_TLS_WRITE_FIXTURES=1` to also store the captures in
//! `tests/data/` (the benchmark's inputs).
// Test helpers outside #[test] functions may unwrap too: a panic is a
// failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::listener;
use mesh_core::{Detection, Protocol, Sniff};
use mesh_testkit::{Peer, require_binary, require_python_module};
use mesh_tls::TlsSniffer;
use mesh_tls::hello::{self, Limits, Status};
use mesh_tls::istio;
use tokio::io::AsyncReadExt;

/// Starts the client `make(ip, port)` builds, and returns the bytes it
/// sends up to the end of its ClientHello.
async fn capture(make: impl FnOnce(std::net::SocketAddr) -> Command, name: &str) -> Vec<u8> {
    let (l, addr) = listener().await;
    let mut cmd = make(addr);
    let _client = Peer::spawn(name, &mut cmd);
    let read = async {
        let (mut socket, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        loop {
            let n = socket.read_buf(&mut buf).await.unwrap();
            assert!(n > 0, "{name} closed after {} bytes", buf.len());
            match hello::parse(&buf, &Limits::default()) {
                Ok(Status::Complete(_, len)) => {
                    buf.truncate(len);
                    return buf;
                }
                Ok(Status::Partial) => {}
                Err(e) => panic!("{name}: {e} after {} bytes", buf.len()),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .unwrap_or_else(|_| panic!("{name} sent no complete ClientHello"))
}

/// What every capture must satisfy.
fn check(bytes: &[u8], sni: &str, alpn: &[&str], name: &str) {
    let Status::Complete(h, consumed) = hello::parse(bytes, &Limits::default()).unwrap() else {
        panic!("{name}: partial");
    };
    assert_eq!(consumed, bytes.len());
    assert_eq!(h.server_name(), Some(sni), "{name}");
    let got: Vec<&[u8]> = h.alpn().collect();
    let want: Vec<&[u8]> = alpn.iter().map(|a| a.as_bytes()).collect();
    assert_eq!(got, want, "{name}");
    assert_eq!(h.max_version(), 0x0304, "{name} offers TLS 1.3");
    assert_eq!(h.legacy_version(), 0x0303);
    let ja3 = h.ja3();
    assert_eq!(ja3.split(',').count(), 5, "{name}: {ja3}");
    assert!(ja3.starts_with("771,"), "{name}: {ja3}");
    // Every extension of the JA3 list appears in the hello, in order.
    let ext_field = ja3.split(',').nth(2).unwrap();
    let from_hello: Vec<String> = h
        .extensions()
        .map(|(t, _)| t)
        .filter(|t| !hello::is_grease(*t))
        .map(|t| t.to_string())
        .collect();
    assert_eq!(ext_field, from_hello.join("-"), "{name}");

    let sniffer = TlsSniffer::default();
    for len in 0..bytes.len() {
        assert_eq!(
            hello::parse(&bytes[..len], &Limits::default()).unwrap(),
            Status::Partial,
            "{name}: prefix of {len} bytes"
        );
        assert_eq!(
            sniffer.sniff(&bytes[..len]),
            Detection::NeedMore,
            "{name}: {len}"
        );
    }
    assert_eq!(sniffer.sniff(bytes), Detection::Match(Protocol::Tls));

    if std::env::var_os("MESH_TLS_WRITE_FIXTURES").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(format!("{name}.bin"));
        std::fs::write(path, bytes).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_client_hellos() {
    let curl = require_binary("curl");
    for (flag, alpn, name) in [
        ("--http2", &["h2", "http/1.1"][..], "curl-h2"),
        ("--http1.1", &["http/1.1"][..], "curl-http11"),
    ] {
        let bytes = capture(
            |addr| {
                let mut c = Command::new(&curl);
                c.args(["-sk", "--max-time", "10", flag, "--resolve"])
                    .arg(format!("curl.mesh.test:{}:{}", addr.port(), addr.ip()))
                    .arg(format!("https://curl.mesh.test:{}/", addr.port()));
                c
            },
            name,
        )
        .await;
        check(&bytes, "curl.mesh.test", alpn, name);
        assert!(!istio::is_mesh_hello(&parsed(&bytes)));
    }
}

fn parsed(bytes: &[u8]) -> hello::ClientHello<'_> {
    match hello::parse(bytes, &Limits::default()).unwrap() {
        Status::Complete(h, _) => h,
        Status::Partial => panic!("partial"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_client_hellos() {
    let openssl = require_binary("openssl");
    let sni = istio::OutboundSni::new(9080, None, "reviews.default.svc.cluster.local").to_string();
    let s_client = |addr: std::net::SocketAddr, alpn: &str, extra: &[&str]| {
        let mut c = Command::new(&openssl);
        c.arg("s_client")
            .arg("-connect")
            .arg(addr.to_string())
            .args(["-servername", &sni, "-alpn", alpn])
            .args(extra);
        c
    };
    let bytes = capture(|a| s_client(a, "istio-h2,istio,h2", &[]), "openssl").await;
    check(&bytes, &sni, &["istio-h2", "istio", "h2"], "openssl");
    let h = parsed(&bytes);
    assert!(h.is_borrowed());
    assert!(istio::is_mesh_hello(&h));

    // A ClientHello OpenSSL splits across records (at most 512 bytes each):
    // a long ALPN list makes it bigger than one.
    let names: Vec<String> = (0..20)
        .map(|i| format!("proto{i:02}-abcdefghijklmnopqrstuvwxyz"))
        .collect();
    let alpn: Vec<&str> = names.iter().map(String::as_str).collect();
    let bytes = capture(
        |a| s_client(a, &alpn.join(","), &["-max_send_frag", "512"]),
        "openssl-split",
    )
    .await;
    check(&bytes, &sni, &alpn, "openssl-split");
    let h = parsed(&bytes);
    assert!(!h.is_borrowed(), "gathered from several records");
    assert!(bytes.len() > 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ssl_client_hello() {
    let python = require_python_module("ssl");
    let script = r#"
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["istio-http/1.1", "istio", "http/1.1"])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
try:
    ctx.wrap_socket(s, server_hostname="python.mesh.test")
except (OSError, ssl.SSLError):
    pass
"#;
    let bytes = capture(
        |addr| {
            let mut c = Command::new(&python);
            c.args(["-c", script])
                .arg(addr.ip().to_string())
                .arg(addr.port().to_string());
            c
        },
        "python",
    )
    .await;
    check(
        &bytes,
        "python.mesh.test",
        &["istio-http/1.1", "istio", "http/1.1"],
        "python",
    );
    assert_eq!(
        parsed(&bytes).alpn().next().and_then(istio::inner_protocol),
        Some(Protocol::Http1)
    );
}

#[test]
fn stored_captures_still_parse() {
    for (name, sni) in [
        ("curl-h2", "curl.mesh.test"),
        ("curl-http11", "curl.mesh.test"),
        (
            "openssl",
            "outbound_.9080_._.reviews.default.svc.cluster.local",
        ),
        (
            "openssl-split",
            "outbound_.9080_._.reviews.default.svc.cluster.local",
        ),
        ("python", "python.mesh.test"),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(format!("{name}.bin"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(parsed(&bytes).server_name(), Some(sni), "{name}");
    }
}
