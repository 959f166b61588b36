//! The `mesh-sidecar` binary as a user runs it: validate, config-dump,
//! certs, run (reload, drain) and the README's demo.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mesh_testkit::{Peer, free_port, require_binary, unique_loopback};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mesh-sidecar"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn output(cmd: &mut Command) -> (String, String, Option<i32>) {
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn validate_accepts_the_kubernetes_manifests() {
    let (out, err, code) = output(bin().arg("validate").arg(repo().join("deploy/kubernetes")));
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.starts_with("valid: "), "{out}");
    assert!(out.contains("2 listeners"), "{out}");
    // The kinds that are not meshkit's are noted, not errors.
    assert!(
        err.contains("note:") && err.contains("Deployment demo/reviews-v1"),
        "{err}"
    );
}

#[test]
fn validate_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: r\n  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: -1}\n",
    )
    .unwrap();
    let (out, err, code) = output(bin().arg("validate").arg(&bad));
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("bad.yaml:8:"), "{err}");
    assert!(
        err.contains("field spec.trafficPolicy.connectionPool.tcp.maxConnections"),
        "{err}"
    );
    let (_, err, code) = output(bin().arg("validate").arg(dir.path().join("missing.yaml")));
    assert_eq!(code, Some(1));
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn config_dump_is_json_without_secrets() {
    let (out, err, code) = output(
        bin()
            .arg("config-dump")
            .arg(repo().join("deploy/kubernetes")),
    );
    assert_eq!(code, Some(0), "{err}");
    let dump: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(dump["localWorkload"]["serviceAccount"], "reviews");
    assert!(dump["listeners"].as_array().unwrap().len() == 2);
    assert!(!out.contains("key.pem"), "the private key path is redacted");
}

#[test]
fn certs_are_spiffe_workload_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err, code) = output(bin().args(["certs", "--out"]).arg(dir.path()).args([
        "--identity",
        "shop/web",
        "--identity",
        "shop/db",
        "--valid-for",
        "2h",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("spiffe://cluster.local/ns/shop/sa/web:"),
        "{out}"
    );
    for sa in ["web", "db"] {
        let paths = mesh_tls::CertPaths::istio(dir.path().join("shop").join(sa));
        let store = mesh_tls::CertStore::load(paths).unwrap();
        let material = store.current();
        assert_eq!(
            material.id().as_str(),
            format!("spiffe://cluster.local/ns/shop/sa/{sa}")
        );
        let left = store.time_to_expiry(std::time::SystemTime::now()).unwrap();
        assert!(left <= Duration::from_secs(7200) && left > Duration::from_secs(7000));
    }
    let (_, err, code) = output(bin().args(["certs", "--identity", "nope"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("NAMESPACE/SERVICE_ACCOUNT"), "{err}");
}

#[test]
fn run_without_a_config_says_how_to_get_one() {
    let (_, err, code) = output(bin().arg("run"));
    assert_eq!(code, Some(2));
    assert!(err.contains("--config"), "{err}");
    assert!(err.contains("mesh-sidecar demo"), "{err}");
    assert!(
        err.contains("never falls back to a development CA"),
        "{err}"
    );
}

fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_owned()))
}

fn curl(url: &str) -> (bool, String) {
    let out = Command::new(require_binary("curl"))
        .args(["-s", "-m", "5", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_readme_demo_works() {
    let ip = unique_loopback();
    let mut demo = Peer::spawn(
        "mesh-sidecar demo",
        bin()
            .args(["demo", "--seed", "7", "--ip"])
            .arg(ip.to_string()),
    );
    demo.wait_for_line("meshkit demo ready");
    let mut versions = std::collections::BTreeMap::new();
    for _ in 0..12 {
        let (ok, body) = curl(&format!("http://{ip}:15001/"));
        assert!(ok, "curl through the demo failed");
        *versions.entry(body).or_insert(0) += 1;
    }
    assert_eq!(
        versions.keys().collect::<Vec<_>>(),
        ["hello from v1\n", "hello from v2\n"],
        "{versions:?}"
    );
    // hello's ports are STRICT: plaintext gets nothing.
    let (ok, _) = curl(&format!("http://{ip}:15006/"));
    assert!(!ok);
    // The server sidecar counted 12 mTLS connections from sleep.
    until("12 closed connections from sleep", || {
        let (_, stats) = http_get(SocketAddr::new(ip, 15100), "/stats/prometheus").unwrap();
        stats.lines().any(|l| {
            l.starts_with("istio_tcp_connections_closed_total{")
                && l.contains("source_principal=\"spiffe://cluster.local/ns/demo/sa/sleep\"")
                && l.contains("connection_security_policy=\"mutual_tls\"")
                && l.ends_with(" 12")
        })
    });
    assert_eq!(
        http_get(SocketAddr::new(ip, 15000), "/ready").unwrap().0,
        200
    );
    let pid = demo.child().id();
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    let (out, _, ok) = demo.wait_output(Duration::from_secs(15));
    assert!(ok);
    assert!(out.contains("meshkit demo stopped"), "{out}");
}

/// An echo application on its own thread.
fn echo_app(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    addr
}

fn sidecar_yaml(ip: IpAddr, port: u16, app: SocketAddr, admin: SocketAddr) -> String {
    format!(
        r#"apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: echo, namespace: shop}}
spec:
  identity: {{serviceAccount: echo}}
  admin: {{address: "{admin}"}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: echo, namespace: shop}}
spec:
  ingress:
  - {{port: {{number: {port}, name: tcp}}, bind: {ip}, captureMode: NONE, defaultEndpoint: "{app}"}}
  egress:
  - {{port: {{number: {egress}}}, bind: {ip}, captureMode: NONE, hosts: ["~/*"]}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: shop}}
spec: {{mtls: {{mode: DISABLE}}}}
"#,
        egress = free_port(ip)
    )
}

fn echo_once(addr: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(data).ok()?;
    s.shutdown(std::net::Shutdown::Write).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(out)
}

fn dump(admin: SocketAddr) -> serde_json::Value {
    serde_json::from_str(&http_get(admin, "/config_dump").unwrap().1).unwrap()
}

/// Polls `f` until it is true (a condition, not a timer), for up to 10 s.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(peer: &mut Peer, sig: &str) {
    let pid = peer.child().id().to_string();
    assert!(
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid)
            .status()
            .unwrap()
            .success()
    );
}

fn start_run(config: &Path, extra: &[&str]) -> Peer {
    let mut peer = Peer::spawn(
        "mesh-sidecar run",
        bin()
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .stderr(Stdio::null()),
    );
    peer.wait_for_line("mesh-sidecar ready");
    peer
}

#[test]
fn sighup_reloads_an_invalid_file_changes_nothing_and_sigterm_drains() {
    let ip = unique_loopback();
    let app = echo_app(ip);
    let (port1, port2, admin) = (
        free_port(ip),
        free_port(ip),
        SocketAddr::new(ip, free_port(ip)),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mesh.yaml");
    std::fs::write(&file, sidecar_yaml(ip, port1, app, admin)).unwrap();
    let mut run = start_run(&file, &["--no-watch", "--drain-timeout", "500ms"]);
    let first = SocketAddr::new(ip, port1);
    assert_eq!(echo_once(first, b"one").unwrap(), b"one");
    let mut open = TcpStream::connect(first).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2];
    open.write_all(b"a1").unwrap();
    open.read_exact(&mut buf).unwrap();

    // A new port, applied on SIGHUP; the open connection stays.
    std::fs::write(&file, sidecar_yaml(ip, port2, app, admin)).unwrap();
    signal(&mut run, "HUP");
    let second = SocketAddr::new(ip, port2);
    until("the new port answers", || {
        echo_once(second, b"two").as_deref() == Some(b"two")
    });
    assert_eq!(dump(admin)["generation"], 2);
    open.write_all(b"a2").unwrap();
    open.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"a2");

    // Broken YAML: refused, the running configuration stays.
    std::fs::write(
        &file,
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: x\n",
    )
    .unwrap();
    signal(&mut run, "HUP");
    until("the reload error is reported", || {
        !dump(admin)["lastReloadError"].is_null()
    });
    let d = dump(admin);
    assert_eq!(d["generation"], 2);
    assert!(
        d["lastReloadError"].as_str().unwrap().contains("mesh.yaml"),
        "{d}"
    );
    assert_eq!(echo_once(second, b"still").unwrap(), b"still");

    // SIGTERM: not ready, no new connections, the open one runs until the
    // drain deadline closes it.
    signal(&mut run, "TERM");
    until("not ready", || {
        http_get(admin, "/ready").is_none_or(|(s, _)| s == 503)
    });
    until("no new connections", || TcpStream::connect(second).is_err());
    open.write_all(b"a3").unwrap();
    open.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"a3");
    let (out, _, ok) = run.wait_output(Duration::from_secs(10));
    assert!(ok);
    assert!(
        out.contains("1 connections open at SIGTERM, 1 closed at the deadline"),
        "{out}"
    );
    let mut rest = Vec::new();
    assert_eq!(open.read_to_end(&mut rest).unwrap_or(0), 0);
}

#[test]
fn a_file_change_reloads() {
    let ip = unique_loopback();
    let app = echo_app(ip);
    let (port1, port2, admin) = (
        free_port(ip),
        free_port(ip),
        SocketAddr::new(ip, free_port(ip)),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mesh.yaml");
    std::fs::write(&file, sidecar_yaml(ip, port1, app, admin)).unwrap();
    let mut run = start_run(&file, &[]);
    assert_eq!(echo_once(SocketAddr::new(ip, port1), b"x").unwrap(), b"x");
    // Written as Kubernetes and editors do: a new file renamed over the old.
    let tmp = dir.path().join(".mesh.yaml.tmp");
    std::fs::write(&tmp, sidecar_yaml(ip, port2, app, admin)).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    until("the watched change is applied", || {
        echo_once(SocketAddr::new(ip, port2), b"y").as_deref() == Some(b"y")
    });
    assert!(echo_once(SocketAddr::new(ip, port1), b"z").is_none());
    let (status, _) = http_get(admin, "/quitquitquit").unwrap();
    assert_eq!(status, 405, "quit needs POST");
    signal(&mut run, "INT");
    let (_, _, ok) = run.wait_output(Duration::from_secs(10));
    assert!(ok);
}
