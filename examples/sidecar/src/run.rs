//! `mesh-sidecar run`: load the configuration and the certificates, start
//! the proxy and its admin listener, reload on SIGHUP or a file change,
//! drain on SIGTERM, SIGINT or `POST /quitquitquit`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mesh_core::config::EffectiveConfig;
use mesh_proxy::{Admin, LogControl, Proxy, ProxyOptions};
use mesh_tls::store::StoreWatcher;
use mesh_tls::{CertPaths, CertStore};
use notify::Watcher;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// `mesh-sidecar run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Istio YAML files or directories (a mounted ConfigMap directory works;
    /// the manifests of deploy/kubernetes too).
    #[arg(long = "config", short = 'c')]
    config: Vec<PathBuf>,
    /// How long open connections may take to finish after SIGTERM.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Do not watch the configuration files (SIGHUP still reloads).
    #[arg(long)]
    no_watch: bool,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<mesh_core::config::Duration>()
        .map(|d| d.get())
        .map_err(|e| e.to_string())
}

const NO_CONFIG: &str = "\
mesh-sidecar run needs --config PATH: Istio YAML (Sidecar, ServiceEntry, DestinationRule,
PeerAuthentication, AuthorizationPolicy, ...) with a meshkit.dev/v1alpha1 SidecarProxy that says
who this workload is and where its certificates are. To get one:
  - read deploy/kubernetes/configmap.yaml (a complete example) and check yours with
    `mesh-sidecar validate PATH`;
  - make development certificates with `mesh-sidecar certs --out DIR --identity NS/SA`;
  - or see it all working first: `mesh-sidecar demo`.
The sidecar never falls back to a development CA.";

/// Entry point of `run`.
pub fn main(args: RunArgs, log: Arc<dyn LogControl>) -> ExitCode {
    if args.config.is_empty() {
        eprintln!("{NO_CONFIG}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mesh-sidecar: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesh-sidecar: {e}");
            ExitCode::from(1)
        }
    }
}

/// The workload certificates the configuration names, watched for
/// rotation. `None` without a `certificates` section.
pub(crate) fn certificates(
    config: &EffectiveConfig,
) -> Result<Option<(Arc<CertStore>, StoreWatcher)>, String> {
    let Some(c) = config
        .proxy
        .as_ref()
        .and_then(|p| p.spec.certificates.as_ref())
    else {
        tracing::warn!(
            "no SidecarProxy spec.certificates: mesh mTLS is off (STRICT ports refuse everything, ISTIO_MUTUAL destinations fail)"
        );
        return Ok(None);
    };
    let paths = CertPaths {
        cert_chain: c.cert_chain.clone().into(),
        private_key: c.private_key.0.clone().into(),
        trust_bundle: c.root_cert.clone().into(),
    };
    let store = CertStore::load(paths.clone()).map_err(|e| {
        format!(
            "cannot load the workload certificates ({}, {}, {}): {e}\n(`mesh-sidecar certs` makes development ones)",
            paths.cert_chain.display(),
            paths.private_key.display(),
            paths.trust_bundle.display()
        )
    })?;
    let id = store.current().id().clone();
    if let Some(principal) = config.local_workload().and_then(|w| w.principal()) {
        if id.as_str().strip_prefix("spiffe://") != Some(principal.as_str()) {
            tracing::warn!(certificate = %id, identity = %principal, "the certificate's SPIFFE id is not the SidecarProxy identity");
        }
    }
    let watcher = store
        .watch(Duration::from_millis(100))
        .map_err(|e| e.to_string())?;
    tracing::info!(id = %id, "workload certificate loaded; watching for rotation");
    Ok(Some((store, watcher)))
}

/// Starts the admin listener of `proxy` on the configured address.
pub(crate) async fn start_admin(
    proxy: &Proxy,
    log: Option<Arc<dyn LogControl>>,
) -> Result<std::net::SocketAddr, String> {
    let addr = proxy.snapshot().config.admin_address();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("admin listener {addr}: {e}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    tokio::spawn(Admin::new(proxy.clone(), log).serve(listener));
    tracing::info!(addr = %bound, "admin listening");
    Ok(bound)
}

/// Sends a message on `tx` whenever something changes under `paths`.
fn watch_files(
    paths: &[PathBuf],
    tx: mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher, String> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = event.map_or(true, |e| !e.kind.is_access());
        if relevant {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| format!("watching the configuration: {e}"))?;
    for path in paths {
        let dir = if path.is_dir() {
            path.as_path()
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        };
        watcher
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("watching {}: {e}", dir.display()))?;
    }
    Ok(watcher)
}

/// Loads the files again and applies them; a configuration that does not
/// validate is refused and the old one stays.
pub(crate) async fn reload(proxy: &Proxy, paths: &[PathBuf]) {
    match crate::load(paths) {
        Err(e) => proxy.reload_failed(&e.to_string()),
        Ok(loaded) => {
            let certs_changed = loaded
                .config
                .proxy
                .as_ref()
                .and_then(|p| p.spec.certificates.as_ref())
                != proxy
                    .snapshot()
                    .config
                    .proxy
                    .as_ref()
                    .and_then(|p| p.spec.certificates.as_ref());
            if certs_changed {
                tracing::warn!("the certificate paths changed; they take effect at the next start");
            }
            // Errors are logged and counted by the proxy.
            let _ = proxy.reload(loaded.config).await;
        }
    }
}

async fn serve(args: RunArgs, log: Arc<dyn LogControl>) -> Result<(), String> {
    let loaded = crate::load(&args.config).map_err(|e| e.to_string())?;
    let certs = certificates(&loaded.config)?;
    let proxy = Proxy::new(
        loaded.config,
        ProxyOptions {
            certs: certs.as_ref().map(|(s, _)| Arc::clone(s)),
            ..ProxyOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    proxy.start().await.map_err(|e| e.to_string())?;
    start_admin(&proxy, Some(log)).await?;
    let (tx, mut changes) = mpsc::channel(1);
    let _watcher = if args.no_watch {
        None
    } else {
        Some(watch_files(&args.config, tx)?)
    };
    let signal_err = |e: std::io::Error| format!("installing a signal handler: {e}");
    let mut hup = signal(SignalKind::hangup()).map_err(signal_err)?;
    let mut term = signal(SignalKind::terminate()).map_err(signal_err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_err)?;
    for (name, addr) in proxy.listeners() {
        tracing::info!(listener = %name, %addr, "ready");
    }
    println!("mesh-sidecar ready: {} listeners", proxy.listeners().len());
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                reload(&proxy, &args.config).await;
            }
            Some(()) = changes.recv() => {
                // Editors and Kubernetes write several events; let them settle.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while changes.try_recv().is_ok() {}
                tracing::info!("configuration files changed: reloading");
                reload(&proxy, &args.config).await;
            }
            _ = term.recv() => { tracing::info!("SIGTERM"); break; }
            _ = int.recv() => { tracing::info!("SIGINT"); break; }
            () = proxy.quit_requested() => { tracing::info!("quit requested by the admin endpoint"); break; }
        }
    }
    let summary = proxy.drain(args.drain_timeout).await;
    println!(
        "mesh-sidecar stopped: {} connections open at SIGTERM, {} closed at the deadline",
        summary.open_at_start, summary.forced
    );
    drop(certs);
    Ok(())
}
