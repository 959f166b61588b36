//! Two sidecars on loopback, in process, with real peers: traffic crosses
//! outbound → mesh mTLS → inbound → application and back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mesh_core::config::{LoadOptions, MtlsMode, load_str};
use mesh_testkit::{redis_server, require_binary, unique_loopback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

const AUTHZ_ALLOW_CLIENT: &str = r#"---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: server, namespace: shop}
spec:
  selector: {matchLabels: {app: server}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/client"]}}]
"#;

/// A server sidecar (STRICT, only `client` allowed) in front of `apps`, and
/// a client sidecar with one egress port per app.
struct Mesh {
    client: Side,
    server: Side,
    egress: Vec<std::net::SocketAddr>,
    inbound: Vec<std::net::SocketAddr>,
}

async fn mesh(
    apps: &[(&str, &str, std::net::SocketAddr)],
    mode: MtlsMode,
    server_extra: &str,
) -> Mesh {
    let pki = Pki::new();
    let (sip, cip) = (unique_loopback(), unique_loopback());
    let inbound: Vec<_> = apps.iter().map(|_| fresh(sip)).collect();
    let egress: Vec<_> = apps.iter().map(|_| fresh(cip)).collect();
    let listeners: Vec<_> = apps
        .iter()
        .zip(&inbound)
        .map(|((_, name, app), i)| (i.port(), *name, *app))
        .collect();
    let server = start(
        &server_yaml(sip, &listeners, mode, server_extra),
        Some(pki.store("server")),
    )
    .await;
    let hosts: Vec<String> = apps
        .iter()
        .map(|(h, _, _)| format!("{h}.shop.svc.cluster.local"))
        .collect();
    let egress_list: Vec<_> = egress
        .iter()
        .zip(&hosts)
        .map(|(e, h)| (e.port(), h.as_str()))
        .collect();
    let services: Vec<_> = hosts
        .iter()
        .zip(apps)
        .zip(&inbound)
        .map(|((h, (_, name, _)), i)| (h.as_str(), 9000u16, *name, *i, "server"))
        .collect();
    let client = start(
        &client_yaml(cip, &egress_list, &services, ""),
        Some(pki.store("client")),
    )
    .await;
    Mesh {
        client,
        server,
        egress,
        inbound,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_and_curl_cross_the_mesh_byte_for_byte() {
    let redis_cli = require_binary("redis-cli");
    let curl = require_binary("curl");
    let (_redis, redis_addr, _dir) = redis_server(&[]);
    let web = http_echo_app().await;
    let m = mesh(
        &[("redis", "redis", redis_addr), ("web", "http-web", web)],
        MtlsMode::Strict,
        AUTHZ_ALLOW_CLIENT,
    )
    .await;
    let (redis_egress, web_egress) = (m.egress[0], m.egress[1]);

    // redis-cli: a 200 kB value in, the same value out.
    let value = String::from_utf8(payload(200_000, 1)).unwrap();
    let mut set = Command::new(&redis_cli)
        .args([
            "-h",
            &redis_egress.ip().to_string(),
            "-p",
            &redis_egress.port().to_string(),
        ])
        .args(["-x", "SET", "big"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .await
        .unwrap();
    let out = set.wait_with_output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let get = Command::new(&redis_cli)
        .args([
            "-h",
            &redis_egress.ip().to_string(),
            "-p",
            &redis_egress.port().to_string(),
        ])
        .args(["GET", "big"])
        .output()
        .await
        .unwrap();
    assert!(get.status.success());
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim_end(), value);

    // curl: a 1 MB body echoed back.
    let dir = tempfile::tempdir().unwrap();
    let body = payload(1 << 20, 2);
    let file = dir.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let out = Command::new(&curl)
        .args(["-s", "-f", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{web_egress}/echo"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == body,
        "curl got {} bytes back",
        out.stdout.len()
    );

    // The server saw mesh mTLS from the client's identity.
    let line = m
        .server
        .wait_metric(
            &[
                "istio_tcp_connections_closed_total{",
                "reporter=\"destination\"",
                "source_principal=\"spiffe://cluster.local/ns/shop/sa/client\"",
                "source_workload=\"client\"",
                "destination_service=\"web.shop.svc.cluster.local\"",
                "connection_security_policy=\"mutual_tls\"",
            ],
            1,
        )
        .await;
    assert!(
        line.contains("destination_workload=\"server-v1\""),
        "{line}"
    );
    assert!(line.contains("response_flags=\"-\""), "{line}");
    assert_eq!(m.inbound.len(), 2);
    // The ports are named (`redis`, `http-web`): the client's sidecar took
    // the protocol from the name and sniffed nothing.
    let client_metrics = m.client.metrics().await;
    assert!(
        !client_metrics
            .lines()
            .any(|l| l.starts_with("meshkit_protocol_detection_total{")),
        "{client_metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_equal_the_traffic_sent() {
    let echo = echo_app().await;
    let m = mesh(
        &[("echo", "tcp-echo", echo)],
        MtlsMode::Strict,
        AUTHZ_ALLOW_CLIENT,
    )
    .await;
    let sent = payload(123_457, 3);
    let got = round_trip(m.egress[0], &sent).await.unwrap();
    assert_eq!(got, sent);
    let got = round_trip(m.egress[0], &sent[..1000]).await.unwrap();
    assert_eq!(got.len(), 1000);
    let total = (sent.len() + 1000).to_string();
    for (side, reporter) in [(&m.client, "source"), (&m.server, "destination")] {
        side.wait_metric(
            &[
                "istio_tcp_connections_closed_total{",
                &format!("reporter=\"{reporter}\""),
            ],
            2,
        )
        .await;
        let text = side.metrics().await;
        let value = |family: &str| {
            text.lines()
                .find(|l| l.starts_with(family) && l.contains(&format!("reporter=\"{reporter}\"")))
                .unwrap_or_else(|| panic!("{family} missing:\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            value("istio_tcp_received_bytes_total{"),
            total,
            "{reporter}"
        );
        assert_eq!(value("istio_tcp_sent_bytes_total{"), total, "{reporter}");
        assert_eq!(
            value("istio_tcp_connections_opened_total{"),
            "2",
            "{reporter}"
        );
    }
    // The client's line names the destination workload and service.
    let text = m.client.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with("istio_tcp_sent_bytes_total{"))
        .unwrap();
    for want in [
        "source_workload=\"client-v1\"",
        "source_principal=\"spiffe://cluster.local/ns/shop/sa/client\"",
        "destination_principal=\"spiffe://cluster.local/ns/shop/sa/server\"",
        "destination_service=\"echo.shop.svc.cluster.local\"",
        "destination_service_name=\"echo\"",
        "destination_service_namespace=\"shop\"",
        "destination_app=\"echo\"",
    ] {
        assert!(line.contains(want), "{want} not in {line}");
    }
    // One access log line per connection on each side.
    let client_line = m.client.next_log().await;
    assert!(
        client_line.contains("outbound|9000||echo.shop.svc.cluster.local"),
        "{client_line}"
    );
    assert!(
        client_line.contains(&format!(" {} {} ", sent.len(), sent.len())),
        "{client_line}"
    );
    let server_line = m.server.next_log().await;
    assert!(server_line.contains("inbound|"), "{server_line}");
    assert!(
        server_line.contains("outbound_.9000_._.echo.shop.svc.cluster.local"),
        "{server_line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_with_the_wrong_identity_is_refused() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let (sip, cip) = (unique_loopback(), unique_loopback());
    let inbound = fresh(sip);
    // The server presents `impostor`, the client expects `server`.
    let server = start(
        &server_yaml(sip, &[(inbound.port(), "tcp", echo)], MtlsMode::Strict, ""),
        Some(pki.store("impostor")),
    )
    .await;
    let egress = fresh(cip);
    let client = start(
        &client_yaml(
            cip,
            &[(egress.port(), "echo.shop.svc.cluster.local")],
            &[(
                "echo.shop.svc.cluster.local",
                9000,
                "tcp",
                inbound,
                "server",
            )],
            "",
        ),
        Some(pki.store("client")),
    )
    .await;
    let got = round_trip(egress, b"hello").await.unwrap_or_default();
    assert!(got.is_empty(), "the client got {got:?}");
    let line = client.next_log().await;
    assert!(line.contains(" UF "), "{line}");
    assert!(
        line.contains("impostor"),
        "the reason names the identity: {line}"
    );
    client
        .wait_metric(
            &[
                "istio_tcp_connections_closed_total{",
                "response_flags=\"UF\"",
            ],
            1,
        )
        .await;

    // A client sidecar whose certificate comes from another CA (it trusts
    // ours, so it accepts the server) is refused by the server in the
    // handshake.
    let other = Pki::new();
    let rogue_ip = unique_loopback();
    let rogue_egress = fresh(rogue_ip);
    let rogue = start(
        &client_yaml(
            rogue_ip,
            &[(rogue_egress.port(), "echo.shop.svc.cluster.local")],
            &[(
                "echo.shop.svc.cluster.local",
                9000,
                "tcp",
                inbound,
                "impostor",
            )],
            "",
        ),
        Some(other.store_trusting("client", pki.ca.bundle_pem())),
    )
    .await;
    let got = round_trip(rogue_egress, b"hello").await.unwrap_or_default();
    assert!(got.is_empty());
    // Two handshakes failed on the server: the first client walked away
    // from the impostor, the rogue one was refused.
    server
        .wait_metric(
            &[
                "meshkit_connections_refused_total{",
                "reason=\"mtls_handshake_failed\"",
            ],
            2,
        )
        .await;
    // In TLS 1.3 the client's handshake completes before the server checks
    // its certificate: the rogue side sees its upstream end with an alert.
    let rogue_line = rogue.next_log().await;
    assert!(rogue_line.contains(" UC "), "{rogue_line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_refuses_plaintext() {
    let echo = echo_app().await;
    let m = mesh(&[("echo", "tcp", echo)], MtlsMode::Strict, "").await;
    let got = round_trip(m.inbound[0], b"plaintext")
        .await
        .unwrap_or_default();
    assert!(got.is_empty(), "{got:?}");
    m.server
        .wait_metric(
            &[
                "meshkit_connections_refused_total{",
                "reason=\"plaintext_under_strict\"",
            ],
            1,
        )
        .await;
    let line = m.server.next_log().await;
    assert!(line.contains(" NR "), "{line}");
    // Mesh traffic on the same port still flows.
    assert_eq!(round_trip(m.egress[0], b"mesh").await.unwrap(), b"mesh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_accepts_mesh_mtls_plaintext_and_the_apps_own_tls() {
    let openssl = require_binary("openssl");
    let curl = require_binary("curl");
    let echo = echo_app().await;
    // The application's own TLS: openssl s_server with a certificate of its own.
    let dir = tempfile::tempdir().unwrap();
    let td = mesh_tls::TrustDomain::new("example.org").unwrap();
    let app_ca = mesh_tls::dev_ca::DevCa::new(&td).unwrap();
    let app_cert = app_ca.issue(&td.istio_id("app", "app").unwrap()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &app_cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &app_cert.key_pem).unwrap();
    let tls_app = fresh(unique_loopback());
    let mut s_server = mesh_testkit::Peer::spawn(
        "openssl s_server",
        std::process::Command::new(&openssl)
            .args(["s_server", "-www", "-accept"])
            .arg(format!("{}:{}", tls_app.ip(), tls_app.port()))
            .arg("-cert")
            .arg(dir.path().join("cert.pem"))
            .arg("-key")
            .arg(dir.path().join("key.pem")),
    );
    s_server.wait_for_line("ACCEPT");
    let m = mesh(
        &[("echo", "tcp", echo), ("secure", "tcp-tls", tls_app)],
        MtlsMode::Permissive,
        "",
    )
    .await;
    // Mesh mTLS through the client sidecar.
    assert_eq!(
        round_trip(m.egress[0], b"via mesh").await.unwrap(),
        b"via mesh"
    );
    // Plaintext straight to the inbound port.
    assert_eq!(round_trip(m.inbound[0], b"plain").await.unwrap(), b"plain");
    // The application's own TLS, passed through to openssl untouched.
    let out = Command::new(&curl)
        .args(["-s", "-k", "-w", "\n%{http_code}"])
        .arg(format!("https://{}/", m.inbound[1]))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n200"), "{text}");
    assert!(
        text.contains("s_server"),
        "the page comes from openssl: {text}"
    );
    let metrics = m.server.metrics().await;
    for policy in ["mutual_tls", "none"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("istio_tcp_connections_opened_total{")
                    && l.contains(&format!("connection_security_policy=\"{policy}\""))),
            "{policy}: {metrics}"
        );
    }
    assert!(
        metrics.contains("meshkit_protocol_detection_total{protocol=\"tls\",reason=\"matched\"}")
    );

    // On one port: the application's own TLS (ALPN h2) passes through to
    // the application untouched (the echo sends the ClientHello back), a
    // ClientHello with Istio's ALPN is terminated by the sidecar instead.
    let app_hello = client_hello(&openssl, "h2,http/1.1").await;
    let mesh_hello = client_hello(&openssl, "istio-peer-exchange,istio").await;
    assert_eq!(
        round_trip(m.inbound[0], &app_hello).await.unwrap(),
        app_hello
    );
    let answer = round_trip(m.inbound[0], &mesh_hello)
        .await
        .unwrap_or_default();
    assert!(
        !answer
            .windows(mesh_hello.len())
            .any(|w| w == mesh_hello.as_slice()),
        "the mesh ClientHello reached the application"
    );
    m.server
        .wait_metric(
            &[
                "meshkit_connections_refused_total{",
                "reason=\"mtls_handshake_failed\"",
            ],
            1,
        )
        .await;

    // DISABLE: nothing is terminated, even a mesh ClientHello goes to the
    // application as it came; plaintext too.
    let pki = Pki::new();
    let ip = unique_loopback();
    let port = fresh(ip);
    let _disabled = start(
        &server_yaml(ip, &[(port.port(), "tcp", echo)], MtlsMode::Disable, ""),
        Some(pki.store("server")),
    )
    .await;
    assert_eq!(round_trip(port, &mesh_hello).await.unwrap(), mesh_hello);
    assert_eq!(round_trip(port, b"plain").await.unwrap(), b"plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_by_namespace_and_destination_port() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let (sip, cip, oip) = (unique_loopback(), unique_loopback(), unique_loopback());
    let (open_port, admin_port) = (fresh(sip), fresh(sip));
    // Only workloads of `shop` may connect, and nobody to the admin port.
    let policies = format!(
        r#"---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: shop-only, namespace: shop}}
spec:
  action: ALLOW
  rules:
  - from: [{{source: {{namespaces: [shop]}}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: no-admin-port, namespace: shop}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{ports: ["{}"]}}}}]
"#,
        admin_port.port()
    );
    let server = start(
        &server_yaml(
            sip,
            &[
                (open_port.port(), "tcp", echo),
                (admin_port.port(), "tcp-admin", echo),
            ],
            MtlsMode::Strict,
            &policies,
        ),
        Some(pki.store("server")),
    )
    .await;
    let services = [
        (
            "open.shop.svc.cluster.local",
            9000,
            "tcp",
            open_port,
            "server",
        ),
        (
            "admin.shop.svc.cluster.local",
            9001,
            "tcp",
            admin_port,
            "server",
        ),
    ];
    let client_side = |ip| {
        let (to_open, to_admin) = (fresh(ip), fresh(ip));
        let yaml = client_yaml(
            ip,
            &[
                (to_open.port(), "open.shop.svc.cluster.local"),
                (to_admin.port(), "admin.shop.svc.cluster.local"),
            ],
            &services,
            "",
        );
        (yaml, to_open, to_admin)
    };
    let (yaml, to_open, to_admin) = client_side(cip);
    let _client = start(&yaml, Some(pki.store("client"))).await;
    let (yaml, outsider_to_open, _) = client_side(oip);
    let _outsider = start(&yaml, Some(pki.store_in("other", "client"))).await;

    // shop/client: the open port answers, the admin port is denied.
    assert_eq!(round_trip(to_open, b"hi").await.unwrap(), b"hi");
    assert!(
        round_trip(to_admin, b"hi")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    // other/client: no ALLOW rule matches its namespace.
    assert!(
        round_trip(outsider_to_open, b"hi")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let mut lines = Vec::new();
    for _ in 0..3 {
        lines.push(server.next_log().await);
    }
    let find = |needles: &[&str]| {
        lines
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in {lines:#?}"))
            .clone()
    };
    find(&[&format!("inbound|{}||", open_port.port()), " - "]);
    find(&[
        &format!("inbound|{}||", admin_port.port()),
        " UAEX ",
        "rbac_access_denied_matched_policy[shop/no-admin-port]",
    ]);
    find(&[" UAEX ", "rbac_access_denied_matched_policy[none]"]);
    server
        .wait_metric(
            &[
                "istio_tcp_connections_closed_total{",
                "source_principal=\"spiffe://cluster.local/ns/other/sa/client\"",
                "response_flags=\"UAEX\"",
            ],
            1,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failures_eject_an_endpoint_as_clusters_and_the_json_log_show() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let (sip, cip) = (unique_loopback(), unique_loopback());
    let live = fresh(sip);
    // Nothing listens on `dead`: connecting is refused.
    let dead = fresh(sip);
    let _server = start(
        &server_yaml(
            sip,
            &[(live.port(), "tcp", echo)],
            MtlsMode::Strict,
            AUTHZ_ALLOW_CLIENT,
        ),
        Some(pki.store("server")),
    )
    .await;
    let egress = fresh(cip);
    let extra = format!(
        r#"---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: db, namespace: shop}}
spec:
  hosts: [db.shop.svc.cluster.local]
  ports: [{{number: 9000, name: tcp}}]
  resolution: STATIC
  endpoints:
  - {{address: "{sip}", ports: {{tcp: {live}}}, serviceAccount: server, labels: {{app: db, version: v1}}}}
  - {{address: "{sip}", ports: {{tcp: {dead}}}, serviceAccount: server, labels: {{app: db, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: db, namespace: shop}}
spec:
  host: db.shop.svc.cluster.local
  trafficPolicy:
    tls: {{mode: ISTIO_MUTUAL}}
    loadBalancer: {{simple: ROUND_ROBIN}}
    outlierDetection: {{consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 300s, maxEjectionPercent: 50}}
"#,
        live = live.port(),
        dead = dead.port(),
    );
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("access.log");
    let yaml = client_yaml(
        cip,
        &[(egress.port(), "db.shop.svc.cluster.local")],
        &[],
        &extra,
    )
    .replacen(
        "  identity:",
        &format!(
            "  mesh: {{accessLogFile: \"{}\", accessLogEncoding: JSON}}\n  identity:",
            log_file.display()
        ),
        1,
    );
    let (_client, admin) = start_configured(&yaml, Some(pki.store("client"))).await;

    // Round robin over both: the dead endpoint fails twice in a row and is
    // ejected; every later connection goes to the live one.
    let mut failures = 0;
    for i in 0..8u8 {
        let got = round_trip(egress, &[i; 4]).await.unwrap_or_default();
        if got.is_empty() {
            failures += 1;
        } else {
            assert_eq!(got, [i; 4]);
        }
    }
    assert_eq!(failures, 2);

    let name = "outbound|9000||db.shop.svc.cluster.local";
    let (status, text) = admin_get(admin, "/clusters").await;
    assert_eq!(status, 200);
    for want in [
        format!("{name}::{dead}::health_flags::/failed_outlier_check"),
        format!("{name}::{dead}::ejections::1"),
        format!("{name}::{live}::health_flags::healthy"),
        format!("{name}::{live}::mtls::true"),
        format!("{name}::{live}::labels::app=db,version=v1"),
    ] {
        assert!(text.lines().any(|l| l == want), "{want} not in\n{text}");
    }
    let (_, json) = admin_get(admin, "/clusters?format=json").await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cluster = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    let endpoint = |addr: std::net::SocketAddr| {
        cluster["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["address"] == addr.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(endpoint(dead)["ejected"], true);
    assert_eq!(endpoint(dead)["healthy"], false);
    assert_eq!(endpoint(live)["ejected"], false);

    // One JSON access log line per connection, from the configured file.
    let mut lines = Vec::new();
    for _ in 0..500 {
        lines = std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        if lines.len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lines.len(), 8, "{lines:#?}");
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["response_flags"] == "UF")
        .collect();
    assert_eq!(failed.len(), 2, "{lines:#?}");
    for l in &failed {
        assert_eq!(l["upstream_host"], dead.to_string());
        assert_eq!(l["bytes_sent"], 0);
    }
    for l in lines.iter().filter(|l| l["response_flags"] == "-") {
        assert_eq!(l["upstream_host"], live.to_string());
        assert_eq!(l["upstream_cluster"], name);
        assert_eq!(l["bytes_received"], 4);
        assert_eq!(l["bytes_sent"], 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_buffer_budget_caps_detection_and_still_proxies_byte_for_byte() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let sip = unique_loopback();
    let port = fresh(sip);
    let yaml = server_yaml(sip, &[(port.port(), "tcp", echo)], MtlsMode::Permissive, "").replacen(
        "  identity:",
        &format!(
            "  ports: [{{port: {}, bufferBytesPerConnection: 64}}]\n  identity:",
            port.port()
        ),
        1,
    );
    let side = start(&yaml, Some(pki.store("server"))).await;
    // Looks like the start of an HTTP request line that never ends: the
    // detector may hold 64 bytes, then falls back to TCP.
    let mut sent = b"GET /".to_vec();
    sent.extend(payload(1 << 20, 9));
    assert!(round_trip(port, &sent).await.unwrap() == sent);
    let metrics = side.metrics().await;
    assert!(
        metrics
            .contains("meshkit_protocol_detection_total{protocol=\"tcp\",reason=\"byte_cap\"} 1"),
        "{metrics}"
    );
    side.wait_metric(
        &[
            "istio_tcp_received_bytes_total{",
            "reporter=\"destination\"",
        ],
        sent.len() as u64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_policy_deny_closes_the_connection() {
    let echo = echo_app().await;
    let deny = r#"---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-client, namespace: shop}
spec:
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/client"]}}]
"#;
    let m = mesh(&[("echo", "tcp", echo)], MtlsMode::Strict, deny).await;
    let got = round_trip(m.egress[0], b"let me in")
        .await
        .unwrap_or_default();
    assert!(got.is_empty(), "{got:?}");
    let line = m.server.next_log().await;
    assert!(line.contains(" UAEX "), "{line}");
    assert!(
        line.contains("rbac_access_denied_matched_policy[shop/no-client]"),
        "{line}"
    );
    m.server
        .wait_metric(
            &[
                "istio_tcp_connections_closed_total{",
                "response_flags=\"UAEX\"",
                "source_principal=\"spiffe://cluster.local/ns/shop/sa/client\"",
            ],
            1,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_established_connections_and_an_invalid_one_changes_nothing() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let (sip, cip) = (unique_loopback(), unique_loopback());
    let inbound = fresh(sip);
    let server = start(
        &server_yaml(sip, &[(inbound.port(), "tcp", echo)], MtlsMode::Strict, ""),
        Some(pki.store("server")),
    )
    .await;
    let (old_port, new_port) = (fresh(cip), fresh(cip));
    let client_config = |egress: std::net::SocketAddr| {
        client_yaml(
            cip,
            &[(egress.port(), "echo.shop.svc.cluster.local")],
            &[(
                "echo.shop.svc.cluster.local",
                9000,
                "tcp",
                inbound,
                "server",
            )],
            "",
        )
    };
    let client = start(&client_config(old_port), Some(pki.store("client"))).await;
    let mut open = TcpStream::connect(old_port).await.unwrap();
    open.write_all(b"before").await.unwrap();
    let mut buf = [0u8; 6];
    open.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"before");

    // Move the egress port: the old listener closes, the new one opens.
    let load = |yaml: &str| {
        load_str("reload.yaml", yaml, &LoadOptions::default())
            .unwrap()
            .config
    };
    let summary = client
        .proxy
        .reload(load(&client_config(new_port)))
        .await
        .unwrap();
    assert_eq!(summary.generation, 2);
    assert_eq!(
        summary.listeners_added,
        [format!("outbound|{}", new_port.port())]
    );
    assert_eq!(
        summary.listeners_removed,
        [format!("outbound|{}", old_port.port())]
    );
    // The established connection goes on.
    open.write_all(b"after!").await.unwrap();
    open.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"after!");
    assert_eq!(round_trip(new_port, b"new").await.unwrap(), b"new");
    assert!(
        TcpStream::connect(old_port).await.is_err(),
        "the old port is closed"
    );

    // An invalid configuration (its port is taken) changes nothing.
    let taken = std::net::TcpListener::bind(fresh(cip)).unwrap();
    let bad = client_config(taken.local_addr().unwrap());
    let err = client.proxy.reload(load(&bad)).await.unwrap_err();
    assert!(err.to_string().contains("cannot bind"), "{err}");
    assert_eq!(client.proxy.generation(), 2);
    assert_eq!(round_trip(new_port, b"still").await.unwrap(), b"still");
    open.write_all(b"alive?").await.unwrap();
    open.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"alive?");
    let (_, dump) = admin_get(client.admin, "/config_dump").await;
    let dump: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(dump["generation"], 2);
    assert!(
        dump["lastReloadError"]
            .as_str()
            .unwrap()
            .contains("cannot bind")
    );
    let metrics = client.metrics().await;
    assert!(
        metrics.contains("meshkit_config_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meshkit_config_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_and_drain() {
    let echo = echo_app().await;
    let subscriber_filter = tracing_subscriber::EnvFilter::new("info");
    let (_layer, handle) =
        tracing_subscriber::reload::Layer::<_, tracing_subscriber::Registry>::new(
            subscriber_filter,
        );
    let control: Arc<dyn mesh_proxy::LogControl> =
        Arc::new(mesh_proxy::EnvFilterControl::new(handle, "info"));
    let pki = Pki::new();
    let sip = unique_loopback();
    let inbound = fresh(sip);
    let yaml = server_yaml(
        sip,
        &[(inbound.port(), "tcp", echo)],
        MtlsMode::Permissive,
        "",
    )
    .replacen(
        "  identity:",
        "  certificates: {certChain: /etc/mesh/cert-chain.pem, privateKey: /etc/mesh/key.pem, rootCert: /etc/mesh/root-cert.pem}\n  identity:",
        1,
    );
    let side = start_with(&yaml, Some(pki.store("server")), Some(control)).await;
    assert_eq!(
        admin_get(side.admin, "/ready").await,
        (200, "LIVE\n".into())
    );
    let (status, clusters) = admin_get(side.admin, "/clusters").await;
    assert_eq!(status, 200);
    let _ = clusters;
    let (status, dump) = admin_get(side.admin, "/config_dump").await;
    assert_eq!(status, 200);
    assert!(dump.contains("\"generation\": 1"), "{dump}");
    assert!(dump.contains("/etc/mesh/cert-chain.pem"), "{dump}");
    assert!(
        !dump.contains("key.pem"),
        "the private key path is redacted"
    );
    assert!(dump.contains("[redacted]"), "{dump}");
    let (status, stats) = admin_get(side.admin, "/stats/prometheus").await;
    assert_eq!(status, 200);
    assert!(
        stats.contains("meshkit_certificate_expiry_seconds "),
        "{stats}"
    );
    let expiry: f64 = stats
        .lines()
        .find(|l| l.starts_with("meshkit_certificate_expiry_seconds "))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        expiry > 23.0 * 3600.0 && expiry <= 24.0 * 3600.0,
        "{expiry}"
    );
    assert_eq!(
        admin_get(side.admin, "/logging").await,
        (200, "info\n".into())
    );
    assert_eq!(
        admin_request(
            side.admin,
            "POST",
            "/logging?level=mesh_proxy%3Ddebug%2Cinfo"
        )
        .await,
        (200, "mesh_proxy=debug,info\n".into())
    );
    assert_eq!(
        admin_get(side.admin, "/logging").await.1,
        "mesh_proxy=debug,info\n"
    );
    assert_eq!(
        admin_request(side.admin, "POST", "/logging?level=%5B")
            .await
            .0,
        400
    );
    assert_eq!(admin_get(side.admin, "/nope").await.0, 404);
    assert_eq!(admin_get(side.admin, "/quitquitquit").await.0, 405);

    // An open connection, then quit: /ready turns 503, the listener stops
    // accepting, the open connection finishes within the deadline.
    let mut open = TcpStream::connect(inbound).await.unwrap();
    open.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    open.read_exact(&mut b).await.unwrap();
    assert_eq!(
        admin_request(side.admin, "POST", "/quitquitquit").await,
        (200, "OK\n".into())
    );
    tokio::time::timeout(Duration::from_secs(5), side.proxy.quit_requested())
        .await
        .unwrap();
    let proxy = side.proxy.clone();
    let drain = tokio::spawn(async move { proxy.drain(Duration::from_secs(10)).await });
    for _ in 0..200 {
        if admin_get(side.admin, "/ready").await.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        admin_get(side.admin, "/ready").await,
        (503, "DRAINING\n".into())
    );
    open.write_all(b"y").await.unwrap();
    open.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"y");
    drop(open);
    let summary = drain.await.unwrap();
    assert_eq!(summary.open_at_start, 1);
    assert_eq!(summary.forced, 0);
    assert!(TcpStream::connect(inbound).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_limits_cap_connections_and_rate() {
    let echo = echo_app().await;
    let pki = Pki::new();
    let sip = unique_loopback();
    let (capped, limited) = (fresh(sip), fresh(sip));
    let extra = format!(
        r#"---
apiVersion: meshkit.dev/v1alpha1
kind: LocalRateLimit
metadata: {{name: slow, namespace: shop}}
spec:
  ports: [{}]
  tokenBucket: {{maxTokens: 1, fillInterval: 1h}}
"#,
        limited.port()
    );
    let mut yaml = server_yaml(
        sip,
        &[(capped.port(), "tcp", echo), (limited.port(), "tcp", echo)],
        MtlsMode::Permissive,
        &extra,
    );
    yaml = yaml.replacen(
        "  identity:",
        &format!(
            "  ports: [{{port: {}, maxConnections: 1}}]\n  identity:",
            capped.port()
        ),
        1,
    );
    let side = start(&yaml, Some(pki.store("server"))).await;
    // One connection at a time on `capped`: the second waits in the backlog.
    let mut first = TcpStream::connect(capped).await.unwrap();
    first.write_all(b"1").await.unwrap();
    let mut b = [0u8; 1];
    first.read_exact(&mut b).await.unwrap();
    let mut second = TcpStream::connect(capped).await.unwrap();
    second.write_all(b"2").await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read_exact(&mut b)).await;
    assert!(
        waited.is_err(),
        "the second connection was served while the first was open"
    );
    side.wait_metric(
        &[
            "meshkit_listener_connections_active{",
            &format!("inbound|{}", capped.port()),
        ],
        1,
    )
    .await;
    drop(first);
    second.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"2");
    // One token on `limited`: the second connection is refused with RL.
    assert_eq!(round_trip(limited, b"a").await.unwrap(), b"a");
    assert!(
        round_trip(limited, b"b")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    side.wait_metric(
        &[
            "meshkit_connections_refused_total{",
            "reason=\"rate_limited\"",
        ],
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_ports_are_sniffed_with_a_deadline_falling_back_to_tcp() {
    // A server-first application: it greets before the client says anything.
    let banner = {
        let listener = tokio::net::TcpListener::bind((unique_loopback(), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let _ = s.write_all(b"220 ready\r\n").await;
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    };
    let web = http_echo_app().await;
    let pki = Pki::new();
    let (sip, cip) = (unique_loopback(), unique_loopback());
    let (in_banner, in_web) = (fresh(sip), fresh(sip));
    let server = start(
        &server_yaml(
            sip,
            &[
                (in_banner.port(), "tcp", banner),
                (in_web.port(), "tcp", web),
            ],
            MtlsMode::Strict,
            "",
        ),
        Some(pki.store("server")),
    )
    .await;
    let (eg_banner, eg_web) = (fresh(cip), fresh(cip));
    // `data` declares nothing: the client's sidecar detects the protocol,
    // waiting at most 200 ms for the client's first bytes.
    let mut yaml = client_yaml(
        cip,
        &[
            (eg_banner.port(), "banner.shop.svc.cluster.local"),
            (eg_web.port(), "web.shop.svc.cluster.local"),
        ],
        &[
            (
                "banner.shop.svc.cluster.local",
                9000,
                "data",
                in_banner,
                "server",
            ),
            ("web.shop.svc.cluster.local", 9000, "data", in_web, "server"),
        ],
        "",
    );
    yaml = yaml.replacen(
        "  identity:",
        "  listeners: {detectionTimeout: 200ms}\n  identity:",
        1,
    );
    let client = start(&yaml, Some(pki.store("client"))).await;
    // HTTP is recognised from the request line.
    let mut s = TcpStream::connect(eg_web).await.unwrap();
    s.write_all(
        b"POST /x HTTP/1.1\r\nhost: web\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
    )
    .await
    .unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).await.unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert!(response.ends_with(b"hi"));
    // The server-first protocol gets its banner once the deadline passed:
    // detection fell back to TCP.
    let mut s = TcpStream::connect(eg_banner).await.unwrap();
    let mut greeting = [0u8; 11];
    s.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"220 ready\r\n");
    s.write_all(b"QUIT\r\n").await.unwrap();
    let mut echoed = [0u8; 6];
    s.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"QUIT\r\n");
    let metrics = client.metrics().await;
    assert!(
        metrics
            .contains("meshkit_protocol_detection_total{protocol=\"http\",reason=\"matched\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meshkit_protocol_detection_total{protocol=\"tcp\",reason=\"timeout\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("meshkit_protocol_detection_duration_seconds_bucket{"));
    drop(server);
}
