//! Transparent capture as Istio sets it up, in two network namespaces (a
//! client pod and a server pod) joined by a veth pair, with iptables
//! `REDIRECT` rules: the client's connections to service IPs go to its
//! sidecar's port 15001, everything arriving at the server pod goes to its
//! sidecar's port 15006; both read `SO_ORIGINAL_DST`. Real processes:
//! `mesh-sidecar run` in each namespace, `redis-server` and an HTTP server
//! in the server pod, `redis-cli` and `curl` in the client pod.
//!
//! Needs root (CI runs as root); where `ip netns add` is not permitted the
//! test prints why and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mesh_testkit::{Peer, require_binary};

fn ip_cmd() -> Command {
    Command::new(require_binary("ip"))
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn must(cmd: &mut Command) -> String {
    run(cmd).unwrap_or_else(|e| panic!("{e}"))
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process and call (interface names are at
/// most 15 bytes).
fn unique(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// Whether network namespaces can be made here, by making one.
fn netns_permitted() -> Result<(), String> {
    let probe = unique("mkp");
    run(ip_cmd().args(["netns", "add", &probe]))?;
    let _ = run(ip_cmd().args(["netns", "del", &probe]));
    Ok(())
}

/// Namespaces deleted (with their interfaces and iptables rules) on drop.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = run(ip_cmd().args(["netns", "del", ns]));
        }
    }
}

/// `command` run inside `ns`.
fn in_ns(ns: &str, program: &Path) -> Command {
    let mut c = ip_cmd();
    c.args(["netns", "exec", ns]).arg(program);
    c
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(15), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_certs(dir: &Path) {
    let td = mesh_tls::TrustDomain::new("cluster.local").unwrap();
    let ca = mesh_tls::dev_ca::DevCa::new(&td).unwrap();
    for sa in ["client", "server"] {
        let d = dir.join(sa);
        std::fs::create_dir_all(&d).unwrap();
        let cert = ca.issue(&td.istio_id("shop", sa).unwrap()).unwrap();
        cert.write(&mesh_tls::CertPaths::istio(&d), ca.bundle_pem())
            .unwrap();
    }
}

fn proxy_yaml(sa: &str, dir: &Path) -> String {
    let d = dir.join(sa);
    format!(
        r#"apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: {sa}, namespace: shop}}
spec:
  identity: {{serviceAccount: {sa}, workloadName: {sa}, labels: {{app: {sa}}}}}
  admin: {{address: "127.0.0.1:15000"}}
  certificates:
    certChain: {chain}
    privateKey: {key}
    rootCert: {root}
  mesh: {{accessLogFile: {log}}}
"#,
        chain = d.join("cert-chain.pem").display(),
        key = d.join("key.pem").display(),
        root = d.join("root-cert.pem").display(),
        log = dir.join(format!("{sa}-access.log")).display(),
    )
}

/// Both sides know the services and the server pod; the server is STRICT
/// and only lets `client` in. No `Sidecar` resource: listeners come from
/// the Services (captured inbound) and the catch-all outbound capture.
fn services_yaml(server_ip: &str) -> String {
    format!(
        r#"---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: shop}}
spec:
  clusterIP: 10.96.0.10
  selector: {{app: server}}
  ports: [{{name: redis, port: 6379}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  clusterIP: 10.96.0.11
  selector: {{app: server}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
# The server pod; its tlsMode label turns on auto mTLS (no DestinationRule).
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: server, namespace: shop}}
spec:
  address: "{server_ip}"
  serviceAccount: server
  labels: {{app: server, security.istio.io/tlsMode: istio}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: shop}}
spec: {{mtls: {{mode: STRICT}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: server, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: server}}}}
  rules:
  - from: [{{source: {{principals: [cluster.local/ns/shop/sa/client]}}}}]
"#
    )
}

#[test]
fn transparent_capture_between_two_pods() {
    if let Err(why) = netns_permitted() {
        println!("skipped: network namespaces are not permitted here ({why})");
        return;
    }
    let iptables = require_binary("iptables");
    let redis_server = require_binary("redis-server");
    let redis_cli = require_binary("redis-cli");
    let curl = require_binary("curl");
    let python = require_binary("python3");
    let sidecar = Path::new(env!("CARGO_BIN_EXE_mesh-sidecar"));

    // Two pods joined by a veth pair, on a subnet unique to this process.
    let (c, s) = (unique("mkc"), unique("mks"));
    let _cleanup = Namespaces(vec![c.clone(), s.clone()]);
    let (vc, vs) = (unique("vc"), unique("vs"));
    let net = std::process::id() % 250 + 1;
    let (cip, sip) = (format!("10.{net}.7.1"), format!("10.{net}.7.2"));
    must(ip_cmd().args(["netns", "add", &c]));
    must(ip_cmd().args(["netns", "add", &s]));
    must(ip_cmd().args(["link", "add", &vc, "type", "veth", "peer", "name", &vs]));
    must(ip_cmd().args(["link", "set", &vc, "netns", &c]));
    must(ip_cmd().args(["link", "set", &vs, "netns", &s]));
    for (ns, dev, addr) in [(&c, &vc, &cip), (&s, &vs, &sip)] {
        must(ip_cmd().args(["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]));
        must(ip_cmd().args(["-n", ns, "link", "set", dev, "up"]));
        must(ip_cmd().args(["-n", ns, "link", "set", "lo", "up"]));
        must(ip_cmd().args(["-n", ns, "route", "add", "default", "dev", dev]));
    }
    // Istio's rules, reduced: the client's TCP to service IPs goes to 15001;
    // TCP arriving at the server pod goes to 15006.
    must(in_ns(&c, &iptables).args([
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "-d",
        "10.96.0.0/16",
        "-j",
        "REDIRECT",
        "--to-ports",
        "15001",
    ]));
    must(in_ns(&s, &iptables).args([
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-p",
        "tcp",
        "-i",
        &vs,
        "-j",
        "REDIRECT",
        "--to-ports",
        "15006",
    ]));

    // The server pod's applications, on its loopback.
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let page: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(www.join("page.bin"), &page).unwrap();
    let _redis = Peer::spawn(
        "redis-server",
        in_ns(&s, &redis_server).args([
            "--port",
            "6379",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
    );
    let _http = Peer::spawn(
        "python http.server",
        in_ns(&s, &python)
            .args([
                "-m",
                "http.server",
                "8080",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&www),
    );
    until("the server pod's applications listen", || {
        run(in_ns(&s, &redis_cli).args(["-p", "6379", "PING"])).is_ok_and(|o| o.contains("PONG"))
            && run(in_ns(&s, &curl).args([
                "-sf",
                "-o",
                "/dev/null",
                "http://127.0.0.1:8080/page.bin",
            ]))
            .is_ok()
    });

    // The sidecars.
    write_certs(dir.path());
    let services = services_yaml(&sip);
    for sa in ["client", "server"] {
        std::fs::write(
            dir.path().join(format!("{sa}.yaml")),
            proxy_yaml(sa, dir.path()) + &services,
        )
        .unwrap();
    }
    let mut sidecars = Vec::new();
    for (ns, sa) in [(&s, "server"), (&c, "client")] {
        let mut p = Peer::spawn(
            sa,
            in_ns(ns, sidecar)
                .args(["run", "--no-watch", "--config"])
                .arg(dir.path().join(format!("{sa}.yaml")))
                .stderr(Stdio::null()),
        );
        p.wait_for_line("mesh-sidecar ready");
        sidecars.push(p);
    }

    // The client pod talks to service IPs, as an application would.
    let value: String = (0..50_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let mut set = in_ns(&c, &redis_cli)
        .args(["-h", "10.96.0.10", "-p", "6379", "-x", "SET", "k"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        set.stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
    }
    let out = set.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let got = must(in_ns(&c, &redis_cli).args(["-h", "10.96.0.10", "-p", "6379", "GET", "k"]));
    assert_eq!(got.trim_end(), value);
    let out = in_ns(&c, &curl)
        .args(["-sf", "http://10.96.0.11/page.bin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == page, "curl got {} bytes", out.stdout.len());

    // Both sidecars saw it: the client as source, the server as destination
    // with mTLS from the client's identity, on the original ports.
    let stats =
        |ns: &str| must(in_ns(ns, &curl).args(["-s", "http://127.0.0.1:15000/stats/prometheus"]));
    until("the server counted the client's connections", || {
        stats(&s).lines().any(|l| {
            l.starts_with("istio_tcp_connections_closed_total{")
                && l.contains("source_principal=\"spiffe://cluster.local/ns/shop/sa/client\"")
                && l.contains("destination_service=\"web.shop.svc.cluster.local\"")
                && l.contains("connection_security_policy=\"mutual_tls\"")
        })
    });
    let client_stats = stats(&c);
    assert!(
        client_stats
            .lines()
            .any(|l| l.starts_with("istio_tcp_connections_opened_total{")
                && l.contains("reporter=\"source\"")
                && l.contains("destination_service=\"db.shop.svc.cluster.local\"")
                && l.ends_with(" 2")),
        "{client_stats}"
    );
    let log = std::fs::read_to_string(dir.path().join("client-access.log")).unwrap();
    assert!(
        log.contains("outbound|6379||db.shop.svc.cluster.local"),
        "{log}"
    );
    assert!(
        log.contains("10.96.0.10:6379"),
        "the original destination is logged: {log}"
    );
    assert!(log.contains(&format!("\"{sip}:8080\"")), "{log}");

    // A plaintext client inside the client pod that bypasses its sidecar
    // (straight to the pod IP) is refused by the STRICT server.
    let direct = in_ns(&c, &curl)
        .args(["-s", "-m", "5", &format!("http://{sip}:8080/page.bin")])
        .output()
        .unwrap();
    assert!(!direct.status.success());
    until("the server refused plaintext", || {
        stats(&s).contains("reason=\"plaintext_under_strict\"")
    });
}
