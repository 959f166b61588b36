//! Test support: certificates from a development CA, proxies started from
//! YAML on unique loopback addresses, small applications, and an admin
//! client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use mesh_core::config::meshkit::AccessLogEncoding;
use mesh_core::config::{LoadOptions, MtlsMode, load_str};
use mesh_http::h1::{Request, Response, ServerConfig, serve_connection};
use mesh_proxy::{AccessLog, Admin, LogControl, Proxy, ProxyOptions};
use mesh_testkit::{free_port, unique_loopback};
use mesh_tls::dev_ca::DevCa;
use mesh_tls::{CertStore, TrustDomain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const NS: &str = "shop";

/// A development CA for the trust domain `cluster.local`.
pub struct Pki {
    pub td: TrustDomain,
    pub ca: DevCa,
}

impl Pki {
    pub fn new() -> Self {
        let td = TrustDomain::new("cluster.local").unwrap();
        let ca = DevCa::new(&td).unwrap();
        Pki { td, ca }
    }

    /// The certificates of service account `sa` in namespace `shop`.
    pub fn store(&self, sa: &str) -> Arc<CertStore> {
        self.store_trusting(sa, self.ca.bundle_pem())
    }

    /// The certificates of service account `sa` in namespace `ns`.
    pub fn store_in(&self, ns: &str, sa: &str) -> Arc<CertStore> {
        let cert = self.ca.issue(&self.td.istio_id(ns, sa).unwrap()).unwrap();
        CertStore::from_pem(
            cert.chain_pem.as_bytes(),
            cert.key_pem.as_bytes(),
            self.ca.bundle_pem().as_bytes(),
        )
        .unwrap()
    }

    /// A certificate of this CA for `sa`, trusting `bundle`.
    pub fn store_trusting(&self, sa: &str, bundle: &str) -> Arc<CertStore> {
        let cert = self.ca.issue(&self.td.istio_id(NS, sa).unwrap()).unwrap();
        CertStore::from_pem(
            cert.chain_pem.as_bytes(),
            cert.key_pem.as_bytes(),
            bundle.as_bytes(),
        )
        .unwrap()
    }
}

/// A running proxy with its admin address and access log.
pub struct Side {
    pub proxy: Proxy,
    pub admin: SocketAddr,
    pub log: Receiver<String>,
}

impl Side {
    /// Waits for the next access log line.
    pub async fn next_log(&self) -> String {
        for _ in 0..500 {
            if let Ok(line) = self.log.try_recv() {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no access log line within 5 s");
    }

    pub async fn metrics(&self) -> String {
        admin_get(self.admin, "/stats/prometheus").await.1
    }

    /// Waits until `metric{labels...}` (a line containing every needle)
    /// reaches `value`, and returns the line.
    pub async fn wait_metric(&self, needles: &[&str], value: u64) -> String {
        let mut last = String::new();
        for _ in 0..500 {
            let text = self.metrics().await;
            if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                last = line.to_owned();
                if last.ends_with(&format!(" {value}")) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{needles:?} never reached {value}; last: {last:?}");
    }
}

/// Loads `yaml` and starts a proxy for it with `certs`, an access log to a
/// channel and the admin endpoints on a fresh loopback address.
pub async fn start(yaml: &str, certs: Option<Arc<CertStore>>) -> Side {
    start_with(yaml, certs, None).await
}

pub async fn start_with(
    yaml: &str,
    certs: Option<Arc<CertStore>>,
    log_control: Option<Arc<dyn LogControl>>,
) -> Side {
    let loaded =
        load_str("test.yaml", yaml, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let (log, rx) = AccessLog::to_channel(AccessLogEncoding::Text);
    let proxy = Proxy::new(
        loaded.config,
        ProxyOptions {
            certs,
            access_log: Some(log),
            ..ProxyOptions::default()
        },
    )
    .unwrap();
    proxy.start().await.unwrap();
    let admin_listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let admin = admin_listener.local_addr().unwrap();
    tokio::spawn(Admin::new(proxy.clone(), log_control).serve(admin_listener));
    Side {
        proxy,
        admin,
        log: rx,
    }
}

/// Starts a proxy for `yaml` with the access log its `SidecarProxy` asks
/// for (no override), and the admin endpoints on a fresh address.
pub async fn start_configured(yaml: &str, certs: Option<Arc<CertStore>>) -> (Proxy, SocketAddr) {
    let loaded =
        load_str("test.yaml", yaml, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let proxy = Proxy::new(
        loaded.config,
        ProxyOptions {
            certs,
            ..ProxyOptions::default()
        },
    )
    .unwrap();
    proxy.start().await.unwrap();
    let admin_listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let admin = admin_listener.local_addr().unwrap();
    tokio::spawn(Admin::new(proxy.clone(), None).serve(admin_listener));
    (proxy, admin)
}

/// The first TLS record (the ClientHello) `openssl s_client` sends with
/// the ALPN list `alpn` and the SNI `app.example.org`.
pub async fn client_hello(openssl: &std::path::Path, alpn: &str) -> Vec<u8> {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut child = tokio::process::Command::new(openssl)
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", "app.example.org", "-alpn", alpn])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().await.unwrap();
    let mut hello = vec![0u8; 5];
    s.read_exact(&mut hello).await.unwrap();
    assert_eq!(hello[0], 22, "a TLS handshake record");
    let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
    hello.resize(5 + len, 0);
    s.read_exact(&mut hello[5..]).await.unwrap();
    let _ = child.kill().await;
    hello
}

/// A fresh address on a fresh loopback IP.
pub fn fresh(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, free_port(ip))
}

/// An application that echoes every byte back until the client closes.
pub async fn echo_app() -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// An HTTP/1.1 application (mesh-http's server) that answers every
/// request with its body.
pub async fn http_echo_app() -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = |req: Request| async move {
                    match req.body.collect(64 << 20).await {
                        Ok((body, _)) => Response::with_status(200, body),
                        Err(_) => Response::with_status(400, "bad body"),
                    }
                };
                let _ = serve_connection(s, &service, &ServerConfig::default()).await;
            });
        }
    });
    addr
}

/// GET or POST on an admin address: status and body.
pub async fn admin_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{method} {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

pub async fn admin_get(addr: SocketAddr, path: &str) -> (u16, String) {
    admin_request(addr, "GET", path).await
}

/// Sends `data`, half-closes, and reads until the server closes.
pub async fn round_trip(addr: SocketAddr, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(data).await?;
    s.shutdown().await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(out)
}

/// Bytes that compress badly and print fine.
pub fn payload(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[(x % 62) as usize]
        })
        .collect()
}

/// The YAML of the server side: workload `server` in `shop`, inbound
/// listeners `(port, name, app)` bound on `ip`, a PeerAuthentication mode,
/// and whatever `extra` adds (policies).
pub fn server_yaml(
    ip: IpAddr,
    listeners: &[(u16, &str, SocketAddr)],
    mode: MtlsMode,
    extra: &str,
) -> String {
    let mut ingress = String::new();
    for (port, name, app) in listeners {
        ingress.push_str(&format!(
            "  - {{port: {{number: {port}, name: {name}}}, bind: {ip}, captureMode: NONE, defaultEndpoint: \"{app}\"}}\n"
        ));
    }
    let mode = match mode {
        MtlsMode::Strict => "STRICT",
        MtlsMode::Permissive => "PERMISSIVE",
        MtlsMode::Disable => "DISABLE",
        _ => "UNSET",
    };
    format!(
        r#"apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: server, namespace: shop}}
spec:
  identity: {{serviceAccount: server, workloadName: server-v1, labels: {{app: server, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: server, namespace: shop}}
spec:
  ingress:
{ingress}  egress:
  - {{port: {{number: {egress}}}, bind: {ip}, captureMode: NONE, hosts: ["~/*"]}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: shop}}
spec: {{mtls: {{mode: {mode}}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: client-v1, namespace: shop}}
spec: {{address: 10.9.9.9, serviceAccount: client, labels: {{app: client, version: v1}}}}
{extra}"#,
        egress = free_port(ip),
    )
}

/// The YAML of the client side: workload `client`, egress listeners
/// `(port, host)` on `ip`; services `(host, service port, port name,
/// endpoint, service account)`; ISTIO_MUTUAL to everything in `shop`.
pub fn client_yaml(
    ip: IpAddr,
    egress: &[(u16, &str)],
    services: &[(&str, u16, &str, SocketAddr, &str)],
    extra: &str,
) -> String {
    let mut listeners = String::new();
    for (port, host) in egress {
        listeners.push_str(&format!(
            "  - {{port: {{number: {port}}}, bind: {ip}, captureMode: NONE, hosts: [\"./{host}\"]}}\n"
        ));
    }
    let mut entries = String::new();
    for (host, port, name, endpoint, sa) in services {
        entries.push_str(&format!(
            r#"---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {short}, namespace: shop}}
spec:
  hosts: [{host}]
  ports: [{{number: {port}, name: {name}, targetPort: {target}}}]
  resolution: STATIC
  endpoints: [{{address: "{eip}", serviceAccount: {sa}, labels: {{app: {short}, version: v1}}}}]
"#,
            short = host.split('.').next().unwrap(),
            target = endpoint.port(),
            eip = endpoint.ip(),
        ));
    }
    format!(
        r#"apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: client, namespace: shop}}
spec:
  identity: {{serviceAccount: client, workloadName: client-v1, labels: {{app: client, version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: client, namespace: shop}}
spec:
  ingress: []
  egress:
{listeners}  outboundTrafficPolicy: {{mode: REGISTRY_ONLY}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: mesh, namespace: shop}}
spec:
  host: "*.shop.svc.cluster.local"
  trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}
{entries}{extra}"#
    )
}
