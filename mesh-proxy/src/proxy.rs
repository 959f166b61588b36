//! The proxy runtime: listeners with their accept loops, the current
//! [`Snapshot`], hot reload, drain, and what the admin endpoints read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use mesh_core::config::EffectiveConfig;
use mesh_core::config::meshkit::TokenBucket as TokenBucketSpec;
use mesh_core::{DetectConfig, Detector, TcpConfig, TcpConnector};
use mesh_resilience::bucket::{BucketConfig, TokenBucket};
use mesh_resilience::clock::TokioClock;
use mesh_resilience::rand::{Random, ThreadRandom};
use mesh_tls::{CertStore, ClientOptions, MtlsAcceptor, MtlsConnector, ServerOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

use crate::access_log::AccessLog;
use crate::drain::{Drain, DrainSummary};
use crate::error::ProxyError;
use crate::metrics::ProxyMetrics;
use crate::resolve::{Resolve, SystemResolver};
use crate::snapshot::{ListenerKey, ListenerLimits, ListenerPlan, ListenerRole, Snapshot};
use crate::upstream::{ClusterEnv, Connectors, DEFAULT_DNS_REFRESH};
use crate::{inbound, outbound};

/// How to build a [`Proxy`]; everything but the configuration.
pub struct ProxyOptions {
    /// The workload's certificates (mesh mTLS in and out). Without them the
    /// proxy speaks plaintext only: STRICT ports refuse every connection
    /// and `ISTIO_MUTUAL` destinations fail.
    pub certs: Option<Arc<CertStore>>,
    /// Resolves DNS endpoints (default: the system resolver).
    pub resolver: Arc<dyn Resolve>,
    /// How often DNS answers are refreshed (default 5 s, Envoy's).
    pub dns_refresh: Duration,
    /// Endpoints tried per connection (default 1, Envoy's).
    pub connect_attempts: u32,
    /// Socket settings of upstream connections.
    pub tcp: TcpConfig,
    /// mTLS client settings (outbound).
    pub client_tls: ClientOptions,
    /// mTLS server settings (inbound).
    pub server_tls: ServerOptions,
    /// Overrides the access log the configuration asks for.
    pub access_log: Option<AccessLog>,
    /// Replaces the connectors (tests inject failing ones).
    pub connectors: Option<Connectors>,
    /// Draws the route destination among weighted ones.
    pub random: Arc<dyn Random>,
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("certs", &self.certs.is_some())
            .field("dns_refresh", &self.dns_refresh)
            .field("connect_attempts", &self.connect_attempts)
            .finish_non_exhaustive()
    }
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            certs: None,
            resolver: Arc::new(SystemResolver),
            dns_refresh: DEFAULT_DNS_REFRESH,
            connect_attempts: 1,
            tcp: TcpConfig::default(),
            client_tls: ClientOptions::default(),
            server_tls: ServerOptions::default(),
            access_log: None,
            connectors: None,
            random: Arc::new(ThreadRandom),
        }
    }
}

/// A listener that is accepting.
pub(crate) struct RunningListener {
    pub(crate) key: ListenerKey,
    pub(crate) name: String,
    pub(crate) local_addr: SocketAddr,
    active: AtomicU32,
    limits: ArcSwap<ListenerLimits>,
    room: Notify,
    stop: watch::Sender<bool>,
    bucket: ArcSwap<Option<(TokenBucketSpec, Arc<TokenBucket<TokioClock>>)>>,
}

impl RunningListener {
    pub(crate) fn limits(&self) -> ListenerLimits {
        **self.limits.load()
    }

    fn set_limits(&self, limits: ListenerLimits) {
        let bucket = self.bucket.load();
        let same_bucket = match (&**bucket, limits.rate_limit) {
            (Some((old, _)), Some(new)) => *old == new,
            (None, None) => true,
            _ => false,
        };
        if !same_bucket {
            self.bucket
                .store(Arc::new(limits.rate_limit.and_then(|spec| {
                    bucket_of(&spec).map(|b| {
                        (
                            spec,
                            Arc::new(TokenBucket::with_clock(b, TokioClock::new())),
                        )
                    })
                })));
        }
        self.limits.store(Arc::new(limits));
        self.room.notify_waiters();
    }

    /// Takes a token of the local rate limit; `false` when refused.
    pub(crate) fn admit(&self) -> bool {
        match &**self.bucket.load() {
            Some((_, bucket)) => bucket.try_acquire(1).is_ok(),
            None => true,
        }
    }
}

fn bucket_of(spec: &TokenBucketSpec) -> Option<BucketConfig> {
    BucketConfig::new(
        u64::from(spec.max_tokens),
        u64::from(spec.tokens_per_fill.unwrap_or(1)),
        spec.fill_interval.get(),
    )
    .map_err(|e| tracing::warn!(error = %e, "local rate limit ignored"))
    .ok()
}

/// The slot of one connection on its listener.
pub(crate) struct Slot {
    listener: Arc<RunningListener>,
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.listener.active.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
        self.listener.room.notify_waiters();
    }
}

pub(crate) struct Shared {
    pub(crate) metrics: ProxyMetrics,
    pub(crate) state: ArcSwap<Snapshot>,
    pub(crate) drain: Arc<Drain>,
    pub(crate) env: ClusterEnv,
    pub(crate) acceptor: Option<MtlsAcceptor>,
    pub(crate) certs: Option<Arc<CertStore>>,
    pub(crate) detector: Detector,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) inbound_tcp: TcpConnector,
    access_log_override: Option<Arc<AccessLog>>,
    access_log: ArcSwap<Option<Arc<AccessLog>>>,
    access_log_source: Mutex<Option<(String, mesh_core::config::meshkit::AccessLogEncoding)>>,
    listeners: Mutex<BTreeMap<ListenerKey, Arc<RunningListener>>>,
    reload: tokio::sync::Mutex<()>,
    ready: AtomicBool,
    quit: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    last_reload_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn access_log(&self) -> Option<Arc<AccessLog>> {
        (**self.access_log.load()).clone()
    }
}

/// A running sidecar proxy. Cheap to clone; clones share everything.
///
/// ```no_run
/// use mesh_core::config::{LoadOptions, load_paths};
/// use mesh_proxy::{Proxy, ProxyOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let loaded = load_paths(&["mesh.yaml"], &LoadOptions::default())?;
/// let proxy = Proxy::new(loaded.config, ProxyOptions::default())?;
/// proxy.start().await?;
/// proxy.quit_requested().await; // POST /quitquitquit, or a signal handler
/// proxy.drain(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Proxy {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("generation", &self.generation())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// What a reload changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReloadSummary {
    /// The new generation.
    pub generation: u64,
    /// Listeners opened.
    pub listeners_added: Vec<String>,
    /// Listeners closed (their open connections go on).
    pub listeners_removed: Vec<String>,
    /// Clusters in the new configuration.
    pub clusters: usize,
}

impl Proxy {
    /// Builds a proxy for `config` (its `SidecarProxy` identity says which
    /// workload it serves). Nothing listens until [`Proxy::start`]. Must be
    /// called within a tokio runtime.
    pub fn new(config: EffectiveConfig, options: ProxyOptions) -> Result<Proxy, ProxyError> {
        let metrics = ProxyMetrics::new();
        let local = config.local_workload().ok_or(ProxyError::NoIdentity)?;
        let trust_domain = local
            .trust_domain
            .clone()
            .unwrap_or_else(|| "cluster.local".into());
        let connectors = match options.connectors {
            Some(c) => c,
            None => {
                let tcp = TcpConnector::new(options.tcp);
                Connectors {
                    tcp: Arc::new(tcp.clone()),
                    mtls: options.certs.as_ref().map(|store| {
                        Arc::new(MtlsConnector::with_connector(
                            tcp,
                            Arc::clone(store),
                            options.client_tls.clone(),
                        )) as crate::io::SharedConnector
                    }),
                }
            }
        };
        let acceptor = match &options.certs {
            Some(store) => Some(MtlsAcceptor::new(store, &options.server_tls)?),
            None => None,
        };
        let env = ClusterEnv {
            connectors,
            resolver: options.resolver,
            dns_refresh: options.dns_refresh,
            connect_attempts: options.connect_attempts,
            trust_domain,
        };
        let snapshot = Snapshot::build(config, 1, &env, None)?;
        metrics.generation.set(1);
        let detector = Detector::new(DetectConfig::default())
            .with(mesh_tls::TlsSniffer::default())
            .with(mesh_http::h2::PrefaceSniffer)
            .with(mesh_http::h1::Http1Sniffer)
            .with(mesh_codecs::mongo::MongoSniffer::default());
        let access_log_override = options.access_log.map(Arc::new);
        let shared = Arc::new(Shared {
            metrics,
            state: ArcSwap::from_pointee(snapshot),
            drain: Drain::new(),
            env,
            acceptor,
            certs: options.certs,
            detector,
            random: options.random,
            inbound_tcp: TcpConnector::new(TcpConfig {
                keepalive: None,
                ..options.tcp
            }),
            access_log: ArcSwap::from_pointee(access_log_override.clone()),
            access_log_override,
            access_log_source: Mutex::new(None),
            listeners: Mutex::new(BTreeMap::new()),
            reload: tokio::sync::Mutex::new(()),
            ready: AtomicBool::new(false),
            quit: watch::Sender::new(false),
            stopped: watch::Sender::new(false),
            last_reload_error: Mutex::new(None),
        });
        let proxy = Proxy { shared };
        proxy.configure_access_log(&proxy.snapshot())?;
        Ok(proxy)
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.state.load_full()
    }

    /// The generation of the configuration in force.
    pub fn generation(&self) -> u64 {
        self.shared.state.load().generation
    }

    /// The metrics.
    pub fn metrics(&self) -> &ProxyMetrics {
        &self.shared.metrics
    }

    /// The certificate store, when the proxy has one.
    pub fn certs(&self) -> Option<&Arc<CertStore>> {
        self.shared.certs.as_ref()
    }

    /// Whether every listener is bound and no drain has started.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire) && !self.shared.drain.is_draining()
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        self.shared.drain.is_draining()
    }

    /// The listeners accepting now: name and bound address.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        self.lock_listeners()
            .values()
            .map(|l| (l.name.clone(), l.local_addr))
            .collect()
    }

    /// Open connections (all listeners).
    pub fn active_connections(&self) -> usize {
        self.shared.drain.active()
    }

    /// Why the last reload failed, until one succeeds.
    pub fn last_reload_error(&self) -> Option<String> {
        self.shared
            .last_reload_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lock_listeners(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<ListenerKey, Arc<RunningListener>>> {
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn configure_access_log(&self, snapshot: &Snapshot) -> Result<(), ProxyError> {
        if self.shared.access_log_override.is_some() {
            return Ok(());
        }
        let wanted = snapshot.config.mesh_settings().and_then(|m| {
            m.access_log_file
                .clone()
                .filter(|f| !f.is_empty())
                .map(|f| (f, m.access_log_encoding.unwrap_or_default()))
        });
        let mut source = self
            .shared
            .access_log_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *source == wanted {
            return Ok(());
        }
        let log = match &wanted {
            Some((file, encoding)) => Some(Arc::new(
                AccessLog::open(
                    file,
                    *encoding,
                    self.shared.metrics.access_log_dropped.clone(),
                )
                .map_err(|source| ProxyError::Io {
                    what: format!("opening the access log {file}"),
                    source,
                })?,
            )),
            None => None,
        };
        self.shared.access_log.store(Arc::new(log));
        *source = wanted;
        Ok(())
    }

    /// Binds every listener of the configuration and starts accepting.
    /// `/ready` answers 200 from now on.
    pub async fn start(&self) -> Result<(), ProxyError> {
        let snapshot = self.snapshot();
        let bound = bind_all(snapshot.listeners.values()).await?;
        for (plan, listener) in bound {
            self.spawn_listener(plan, listener);
        }
        self.shared.ready.store(true, Ordering::Release);
        Ok(())
    }

    fn spawn_listener(&self, plan: ListenerPlan, socket: TcpListener) {
        let local_addr = socket.local_addr().unwrap_or(plan.key.addr);
        let running = Arc::new(RunningListener {
            key: plan.key,
            name: plan.key.to_string(),
            local_addr,
            active: AtomicU32::new(0),
            limits: ArcSwap::from_pointee(plan.limits),
            room: Notify::new(),
            stop: watch::Sender::new(false),
            bucket: ArcSwap::from_pointee(None),
        });
        running.set_limits(plan.limits);
        tracing::info!(listener = %running.name, addr = %local_addr, "listening");
        self.lock_listeners().insert(plan.key, Arc::clone(&running));
        let shared = Arc::clone(&self.shared);
        tokio::spawn(accept_loop(shared, running, socket));
    }

    /// Applies a new configuration: validates what the data path needs of
    /// it, binds new listeners, swaps the snapshot in one step, and closes
    /// listeners the configuration no longer has. Established connections
    /// keep the configuration they started with. On error nothing changed.
    pub async fn reload(&self, config: EffectiveConfig) -> Result<ReloadSummary, ProxyError> {
        let _one = self.shared.reload.lock().await;
        let result = self.reload_locked(config).await;
        match &result {
            Ok(_) => {
                self.shared
                    .metrics
                    .reloads
                    .get_or_create(&[("result", "success".into())])
                    .inc();
                *self
                    .shared
                    .last_reload_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
            }
            Err(e) => self.reload_failed(&e.to_string()),
        }
        result
    }

    async fn reload_locked(&self, config: EffectiveConfig) -> Result<ReloadSummary, ProxyError> {
        let old = self.snapshot();
        let generation = old.generation + 1;
        let snapshot = Snapshot::build(config, generation, &self.shared.env, Some(&old))?;
        let running: Vec<ListenerKey> = self.lock_listeners().keys().copied().collect();
        let new_plans: Vec<&ListenerPlan> = snapshot
            .listeners
            .values()
            .filter(|p| !running.contains(&p.key))
            .collect();
        let bound = bind_all(new_plans.into_iter()).await?;
        self.configure_access_log(&snapshot)?;
        let summary = ReloadSummary {
            generation,
            listeners_added: bound.iter().map(|(p, _)| p.key.to_string()).collect(),
            listeners_removed: running
                .iter()
                .filter(|k| !snapshot.listeners.contains_key(k))
                .map(ToString::to_string)
                .collect(),
            clusters: snapshot.clusters.len(),
        };
        let snapshot = Arc::new(snapshot);
        self.shared.state.store(Arc::clone(&snapshot));
        self.shared.metrics.generation.set(generation as i64);
        {
            let mut listeners = self.lock_listeners();
            listeners.retain(|key, l| match snapshot.listeners.get(key) {
                Some(plan) => {
                    l.set_limits(plan.limits);
                    true
                }
                None => {
                    l.stop.send_replace(true);
                    false
                }
            });
        }
        for (plan, socket) in bound {
            self.spawn_listener(plan, socket);
        }
        tracing::info!(generation, added = ?summary.listeners_added, removed = ?summary.listeners_removed, "configuration applied");
        Ok(summary)
    }

    /// Records a reload that failed before reaching the proxy (the new
    /// files did not validate): counted, shown in `/config_dump`, logged.
    pub fn reload_failed(&self, why: &str) {
        self.shared
            .metrics
            .reloads
            .get_or_create(&[("result", "failure".into())])
            .inc();
        tracing::error!(error = %why, "configuration reload refused; the previous configuration stays in force");
        *self
            .shared
            .last_reload_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(why.to_owned());
    }

    /// Asks whoever runs the proxy to shut it down (`POST /quitquitquit`).
    pub fn request_quit(&self) {
        self.shared.quit.send_replace(true);
    }

    /// Resolves once a shutdown was asked for with [`Proxy::request_quit`].
    pub async fn quit_requested(&self) {
        let mut rx = self.shared.quit.subscribe();
        let _ = rx.wait_for(|q| *q).await;
    }

    /// Stops accepting on every listener (`/ready` answers 503), waits up
    /// to `deadline` for open connections to end, then closes the rest.
    pub async fn drain(&self, deadline: Duration) -> DrainSummary {
        tracing::info!(?deadline, open = self.active_connections(), "draining");
        let summary = self.shared.drain.drain(deadline).await;
        self.lock_listeners().clear();
        self.shared.stopped.send_replace(true);
        tracing::info!(?summary, "drained");
        summary
    }

    /// Resolves once a drain has finished.
    pub async fn stopped(&self) {
        let mut rx = self.shared.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Refreshes the gauges computed at scrape time (certificate expiry)
    /// and returns the Prometheus text.
    pub fn encode_metrics(&self) -> String {
        if let Some(store) = &self.shared.certs {
            let left = store
                .time_to_expiry(std::time::SystemTime::now())
                .unwrap_or_default();
            self.shared.metrics.cert_expiry.set(left.as_secs_f64());
        }
        self.shared.metrics.encode()
    }
}

async fn bind_all<'a>(
    plans: impl Iterator<Item = &'a ListenerPlan>,
) -> Result<Vec<(ListenerPlan, TcpListener)>, ProxyError> {
    let mut out = Vec::new();
    for plan in plans {
        let socket = TcpListener::bind(plan.key.addr)
            .await
            .map_err(|source| ProxyError::Bind {
                listener: plan.key.to_string(),
                addr: plan.key.addr,
                source,
            })?;
        out.push((plan.clone(), socket));
    }
    Ok(out)
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn accept_loop(shared: Arc<Shared>, listener: Arc<RunningListener>, socket: TcpListener) {
    let mut stop = listener.stop.subscribe();
    let gauge = shared
        .metrics
        .active
        .get_or_create(&[("listener", listener.name.clone())])
        .clone();
    loop {
        // Wait for room under the connection cap (more wait in the backlog).
        loop {
            let room = listener.room.notified();
            if listener.active.load(Ordering::Acquire) < listener.limits().max_connections {
                break;
            }
            tokio::select! {
                () = room => {}
                () = shared.drain.draining() => return,
                () = stopped(&mut stop) => return,
            }
        }
        let (stream, peer) = tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(listener = %listener.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shared.drain.draining() => return,
            () = stopped(&mut stop) => {
                tracing::info!(listener = %listener.name, "listener closed by reload");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        listener.active.fetch_add(1, Ordering::AcqRel);
        gauge.inc();
        let slot = Slot {
            listener: Arc::clone(&listener),
            gauge: gauge.clone(),
        };
        let guard = shared.drain.guard();
        let snapshot = shared.state.load_full();
        let shared = Arc::clone(&shared);
        let listener = Arc::clone(&listener);
        tokio::spawn(async move {
            let _slot = slot;
            let _guard = guard;
            let forced = shared.drain.forced();
            tokio::select! {
                () = serve(&shared, snapshot, &listener, stream, peer) => {}
                () = forced => {}
            }
        });
    }
}

async fn serve(
    shared: &Arc<Shared>,
    snapshot: Arc<Snapshot>,
    listener: &Arc<RunningListener>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    match listener.key.role {
        ListenerRole::Inbound(_) | ListenerRole::InboundCapture => {
            inbound::serve(shared, snapshot, listener, stream, peer).await;
        }
        ListenerRole::Outbound(_) | ListenerRole::OutboundCapture => {
            outbound::serve(shared, snapshot, listener, stream, peer).await;
        }
    }
}
