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
    let side = start_with(
        &server_yaml(
            sip,
            &[(inbound.port(), "tcp", echo)],
            MtlsMode::Permissive,
            "",
        ),
        Some(pki.store("server")),
        Some(control),
    )
    .await;
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
    assert!(!dump.contains("key.pem"));
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
