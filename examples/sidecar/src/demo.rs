//! `mesh-sidecar demo`: a self-contained mesh on loopback.
//!
//! Two workloads, each with its sidecar, configured by real Istio YAML
//! written to a directory the user can read: `sleep` (a client, whose
//! sidecar has an egress port) and `hello` (two versions of an HTTP
//! service behind one sidecar). Certificates come from a development CA;
//! the sidecars speak mesh mTLS to each other, `hello` is STRICT and lets
//! only `sleep` in, and a VirtualService splits connections between v1
//! and v2. Both sidecars are loaded exactly as `run` loads them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mesh_http::h1::{Request, Response, ServerConfig, serve_connection};
use mesh_proxy::{LogControl, Proxy, ProxyOptions};
use mesh_resilience::rand::{Random, SeededRandom};
use tokio::net::TcpListener;

/// `mesh-sidecar demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// The loopback address everything listens on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Seed of the VirtualService's weighted choice, for a reproducible
    /// sequence of v1 and v2.
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the configuration and certificates (default: a
    /// temporary directory, removed at exit).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The demo's ports: client admin, egress, server inbound v1 and v2,
/// server admin, applications v1 and v2.
const CLIENT_ADMIN: u16 = 15000;
const EGRESS: u16 = 15001;
const INBOUND_V1: u16 = 15006;
const INBOUND_V2: u16 = 15007;
const SERVER_ADMIN: u16 = 15100;
const SERVER_EGRESS: u16 = 15101;
const APP_V1: u16 = 18081;
const APP_V2: u16 = 18082;

fn certificates(dir: &Path, ns: &str, sa: &str) -> String {
    let d = dir.join("certs").join(ns).join(sa);
    format!(
        "  certificates:\n    certChain: {}\n    privateKey: {}\n    rootCert: {}\n",
        d.join("cert-chain.pem").display(),
        d.join("key.pem").display(),
        d.join("root-cert.pem").display()
    )
}

fn client_yaml(ip: IpAddr, dir: &Path) -> String {
    format!(
        r#"# The client workload `sleep`: its app calls hello through the egress port.
apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: sleep, namespace: demo}}
spec:
  identity: {{serviceAccount: sleep, workloadName: sleep, labels: {{app: sleep}}}}
  admin: {{address: "{ip}:{CLIENT_ADMIN}"}}
{certs}  mesh: {{accessLogFile: /dev/stdout}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: sleep, namespace: demo}}
spec:
  egress:
  - port: {{number: {EGRESS}, name: http}}
    bind: {ip}
    captureMode: NONE
    hosts: [./hello.demo.svc.cluster.local]
  outboundTrafficPolicy: {{mode: REGISTRY_ONLY}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: hello, namespace: demo}}
spec:
  hosts: [hello.demo.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{{number: 80, name: http}}]
  resolution: STATIC
  endpoints:
  - {{address: "{ip}", ports: {{http: {INBOUND_V1}}}, serviceAccount: hello, labels: {{app: hello, version: v1}}}}
  - {{address: "{ip}", ports: {{http: {INBOUND_V2}}}, serviceAccount: hello, labels: {{app: hello, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: hello, namespace: demo}}
spec:
  host: hello.demo.svc.cluster.local
  trafficPolicy:
    tls: {{mode: ISTIO_MUTUAL}}
    connectionPool: {{tcp: {{maxConnections: 100, connectTimeout: 1s}}}}
    outlierDetection: {{consecutive5xxErrors: 3, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 50}}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: hello, namespace: demo}}
spec:
  hosts: [hello.demo.svc.cluster.local]
  tcp:
  - route:
    - {{destination: {{host: hello.demo.svc.cluster.local, subset: v1}}, weight: 50}}
    - {{destination: {{host: hello.demo.svc.cluster.local, subset: v2}}, weight: 50}}
"#,
        certs = certificates(dir, "demo", "sleep"),
    )
}

fn server_yaml(ip: IpAddr, dir: &Path) -> String {
    format!(
        r#"# The server workload `hello`: v1 and v2 behind one sidecar, STRICT mTLS,
# only `sleep` allowed in.
apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: hello, namespace: demo}}
spec:
  identity: {{serviceAccount: hello, workloadName: hello, labels: {{app: hello}}}}
  admin: {{address: "{ip}:{SERVER_ADMIN}"}}
{certs}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: hello, namespace: demo}}
spec:
  ingress:
  - {{port: {{number: {INBOUND_V1}, name: http-v1}}, bind: {ip}, captureMode: NONE, defaultEndpoint: "{ip}:{APP_V1}"}}
  - {{port: {{number: {INBOUND_V2}, name: http-v2}}, bind: {ip}, captureMode: NONE, defaultEndpoint: "{ip}:{APP_V2}"}}
  # hello calls nothing; an explicit egress port keeps the sidecar from
  # opening the transparent-capture port.
  egress:
  - {{port: {{number: {SERVER_EGRESS}}}, bind: {ip}, captureMode: NONE, hosts: ["~/*"]}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: demo}}
spec: {{mtls: {{mode: STRICT}}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: hello, namespace: demo}}
spec:
  selector: {{matchLabels: {{app: hello}}}}
  action: ALLOW
  rules:
  - from: [{{source: {{principals: [cluster.local/ns/demo/sa/sleep]}}}}]
---
# Who `sleep` is, so metrics name the calling workload.
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: sleep, namespace: demo}}
spec: {{address: "{ip}", serviceAccount: sleep, labels: {{app: sleep}}}}
"#,
        certs = certificates(dir, "demo", "hello"),
    )
}

/// A built-in service answering every request with its version.
async fn hello_app(addr: SocketAddr, version: &'static str) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("hello {version} on {addr}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = |_req: Request| async move {
                    Response::with_status(200, format!("hello from {version}\n"))
                };
                let _ = serve_connection(socket, &service, &ServerConfig::default()).await;
            });
        }
    });
    Ok(())
}

/// Loads `file` and starts its sidecar as `run` does.
async fn sidecar(
    file: &Path,
    random: Arc<dyn Random>,
    log: Option<Arc<dyn LogControl>>,
) -> Result<(Proxy, impl Sized), String> {
    let paths = [file.to_path_buf()];
    let loaded = crate::load(&paths).map_err(|e| e.to_string())?;
    let certs = crate::run::certificates(&loaded.config)?;
    let proxy = Proxy::new(
        loaded.config,
        ProxyOptions {
            certs: certs.as_ref().map(|(s, _)| Arc::clone(s)),
            random,
            ..ProxyOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    proxy.start().await.map_err(|e| e.to_string())?;
    crate::run::start_admin(&proxy, log).await?;
    Ok((proxy, certs))
}

async fn demo(args: DemoArgs, log: Arc<dyn LogControl>) -> Result<(), String> {
    let ip = args.ip;
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("meshkit-demo-")
                .tempdir()
                .map_err(|e| format!("temporary directory: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let identities = [
        ("demo".to_owned(), "sleep".to_owned()),
        ("demo".to_owned(), "hello".to_owned()),
    ];
    crate::certs::issue(
        &dir.join("certs"),
        "cluster.local",
        &identities,
        Duration::from_secs(24 * 3600),
    )?;
    let (client_file, server_file) = (dir.join("client.yaml"), dir.join("server.yaml"));
    std::fs::write(&client_file, client_yaml(ip, &dir)).map_err(|e| e.to_string())?;
    std::fs::write(&server_file, server_yaml(ip, &dir)).map_err(|e| e.to_string())?;
    hello_app(SocketAddr::new(ip, APP_V1), "v1").await?;
    hello_app(SocketAddr::new(ip, APP_V2), "v2").await?;
    let random: Arc<dyn Random> = match args.seed {
        Some(seed) => Arc::new(SeededRandom::new(seed)),
        None => Arc::new(mesh_resilience::rand::ThreadRandom),
    };
    let (server, _server_certs) = sidecar(&server_file, Arc::clone(&random), None).await?;
    let (client, _client_certs) = sidecar(&client_file, random, Some(log)).await?;
    println!(
        r#"meshkit demo: two sidecars on {ip}, mesh mTLS between them

  curl ─▶ sleep's sidecar ──mTLS──▶ hello's sidecar ─┬─▶ hello v1 ({ip}:{APP_V1})
          {ip}:{EGRESS}          {ip}:{INBOUND_V1},{INBOUND_V2}    └─▶ hello v2 ({ip}:{APP_V2})

Try:
  curl http://{ip}:{EGRESS}/          # "hello from v1" or "v2": the VirtualService splits 50/50
  curl http://{ip}:{CLIENT_ADMIN}/stats/prometheus | grep istio_tcp
  curl http://{ip}:{SERVER_ADMIN}/stats/prometheus | grep 'reporter="destination"'
  curl http://{ip}:{CLIENT_ADMIN}/clusters
  curl http://{ip}:{SERVER_ADMIN}/config_dump
  curl http://{ip}:{INBOUND_V1}/          # refused: hello's ports are STRICT mTLS
Configuration and certificates: {dir}
  (the same as: mesh-sidecar run --config {client} / --config {server})
Access log lines of sleep's sidecar follow. Ctrl-C stops the demo.
meshkit demo ready"#,
        dir = dir.display(),
        client = client_file.display(),
        server = server_file.display(),
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        () = client.quit_requested() => {}
        () = server.quit_requested() => {}
    }
    let deadline = Duration::from_secs(2);
    tokio::join!(client.drain(deadline), server.drain(deadline));
    println!("meshkit demo stopped");
    Ok(())
}

/// Entry point of `demo`.
pub fn main(args: DemoArgs, log: Arc<dyn LogControl>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mesh-sidecar demo: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(demo(args, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "mesh-sidecar demo: {e}\n(another demo running? `--ip 127.0.0.2` picks other addresses)"
            );
            ExitCode::from(1)
        }
    }
}
