//! A certificate store: the current [`Material`], replaced as a whole when
//! the files change, and the history of reloads for metrics and tests.
//!
//! New handshakes use the material current when they start; established
//! connections keep what they negotiated. A reload that fails (unreadable
//! file, bad PEM, a key that does not match) keeps the old material and
//! records why, so a half-written Secret never takes a workload down.
//!
//! [`CertStore::watch`] reloads on file changes. It watches the
//! *directories* of the files, not the files: Kubernetes updates a mounted
//! Secret by writing a new timestamped directory and renaming the `..data`
//! symlink over the old one, which changes nothing a file watch would see.

use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use mesh_core::{ErrorClass, Side};
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use rustls::crypto::CryptoProvider;
use tokio::sync::watch;

use crate::config::ring_provider;
use crate::material::{CertPaths, LoadError, Material, read_files};

/// Where a store's reloads stand; sent to subscribers after every attempt.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// Bumped each time new material is installed (the first is 1).
    pub generation: u64,
    /// Reload attempts so far, whatever their outcome.
    pub attempts: u64,
    /// Why the latest attempt failed; `None` once an attempt succeeds or
    /// finds the files unchanged.
    pub last_error: Option<Arc<LoadError>>,
}

/// What one reload did.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// New material is installed under this generation.
    Updated(u64),
    /// The files hold the material already installed.
    Unchanged,
    /// The files could not be loaded; the old material stays.
    Failed(Arc<LoadError>),
}

/// Starting the directory watch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The store was not loaded from files.
    #[error("the certificate store was not loaded from files, there is nothing to watch")]
    NotFromFiles,
    /// `notify` could not watch a directory.
    #[error("watching {dir} for certificate changes: {source}", dir = dir.display())]
    Notify {
        /// The directory.
        dir: std::path::PathBuf,
        /// notify's error.
        #[source]
        source: notify::Error,
    },
    /// The reload thread could not be started.
    #[error("starting the certificate reload thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl ErrorClass for WatchError {
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}

struct State {
    /// The raw bytes the current material came from, to skip reloads that
    /// change nothing (a watch fires for unrelated files too).
    sources: Option<[Vec<u8>; 3]>,
    status: ReloadStatus,
}

/// The current TLS material of a workload, swapped atomically on reload.
pub struct CertStore {
    current: ArcSwap<Material>,
    provider: Arc<CryptoProvider>,
    paths: Option<CertPaths>,
    state: Mutex<State>,
    events: watch::Sender<ReloadStatus>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("current", &self.current.load())
            .field("paths", &self.paths)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl CertStore {
    fn build(
        material: Material,
        provider: Arc<CryptoProvider>,
        paths: Option<CertPaths>,
        sources: Option<[Vec<u8>; 3]>,
    ) -> Arc<CertStore> {
        let status = ReloadStatus {
            generation: 1,
            attempts: 0,
            last_error: None,
        };
        Arc::new(CertStore {
            current: ArcSwap::from_pointee(material),
            provider,
            paths,
            state: Mutex::new(State {
                sources,
                status: status.clone(),
            }),
            events: watch::Sender::new(status),
        })
    }

    /// A store over fixed material (replace it with [`CertStore::replace`]).
    pub fn from_material(material: Material) -> Arc<CertStore> {
        CertStore::build(material, ring_provider(), None, None)
    }

    /// A store over material given as PEM bytes.
    pub fn from_pem(
        cert_chain: &[u8],
        private_key: &[u8],
        trust_bundle: &[u8],
    ) -> Result<Arc<CertStore>, LoadError> {
        let provider = ring_provider();
        let material = Material::from_pem(cert_chain, private_key, trust_bundle, &provider)?;
        Ok(CertStore::build(material, provider, None, None))
    }

    /// A store loaded from files, which [`CertStore::reload`] reads again.
    pub fn load(paths: CertPaths) -> Result<Arc<CertStore>, LoadError> {
        let provider = ring_provider();
        let files = read_files(&paths)?;
        let material = Material::from_pem(&files[0], &files[1], &files[2], &provider)?;
        Ok(CertStore::build(
            material,
            provider,
            Some(paths),
            Some(files),
        ))
    }

    /// The material for a handshake starting now.
    pub fn current(&self) -> Arc<Material> {
        self.current.load_full()
    }

    /// The crypto provider (ring) every configuration over this store uses.
    pub fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }

    /// The files, for a store loaded from files.
    pub fn paths(&self) -> Option<&CertPaths> {
        self.paths.as_ref()
    }

    /// The generation of the current material (1 for the first).
    pub fn generation(&self) -> u64 {
        self.lock().status.generation
    }

    /// The reload history so far.
    pub fn status(&self) -> ReloadStatus {
        self.lock().status.clone()
    }

    /// A receiver that sees the status after every reload attempt: wait on
    /// it (`wait_for(|s| s.generation > n)`) instead of sleeping.
    pub fn subscribe(&self) -> watch::Receiver<ReloadStatus> {
        self.events.subscribe()
    }

    /// How long until the current leaf certificate expires, as seen at
    /// `now`; `None` once it has. For an expiry gauge.
    pub fn time_to_expiry(&self, now: SystemTime) -> Option<Duration> {
        self.current.load().time_to_expiry(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Installs `material` (from an SDS push, say) as a new generation.
    pub fn replace(&self, material: Material) -> u64 {
        let mut state = self.lock();
        self.current.store(Arc::new(material));
        state.sources = None;
        state.status.generation += 1;
        state.status.attempts += 1;
        state.status.last_error = None;
        self.events.send_replace(state.status.clone());
        state.status.generation
    }

    /// Reads the files again and installs what they hold, unless it is what
    /// is installed already or it does not load.
    pub fn reload(&self) -> ReloadOutcome {
        let mut state = self.lock();
        state.status.attempts += 1;
        let outcome = match self.paths.as_ref() {
            None => Err(LoadError::NotFromFiles),
            Some(paths) => read_files(paths).and_then(|files| {
                if state.sources.as_ref() == Some(&files) {
                    return Ok(None);
                }
                let m = Material::from_pem(&files[0], &files[1], &files[2], &self.provider)?;
                Ok(Some((m, files)))
            }),
        };
        let result = match outcome {
            Ok(None) => {
                state.status.last_error = None;
                ReloadOutcome::Unchanged
            }
            Ok(Some((material, files))) => {
                tracing::info!(
                    id = %material.id(),
                    not_after = ?material.not_after(),
                    generation = state.status.generation + 1,
                    "loaded new TLS material"
                );
                self.current.store(Arc::new(material));
                state.sources = Some(files);
                state.status.generation += 1;
                state.status.last_error = None;
                ReloadOutcome::Updated(state.status.generation)
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS material reload failed, keeping the old material");
                let e = Arc::new(e);
                state.status.last_error = Some(e.clone());
                ReloadOutcome::Failed(e)
            }
        };
        self.events.send_replace(state.status.clone());
        result
    }

    /// Reloads whenever something changes in the directories of the files,
    /// once the changes have been quiet for `debounce` (a Secret update is
    /// several file system events; 100 ms is plenty). Stops when the
    /// returned watcher is dropped.
    pub fn watch(self: &Arc<Self>, debounce: Duration) -> Result<StoreWatcher, WatchError> {
        let paths = self.paths.as_ref().ok_or(WatchError::NotFromFiles)?;
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match event {
                    Ok(event) => is_change(&event.kind),
                    // Events may have been lost: reloading is the safe answer.
                    Err(_) => true,
                };
                if relevant {
                    let _ = tx.send(());
                }
            })
            .map_err(|source| WatchError::Notify {
                dir: paths.cert_chain.clone(),
                source,
            })?;
        for dir in paths.directories() {
            watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError::Notify { dir, source })?;
        }
        let store = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("mesh-tls-reload".into())
            .spawn(move || reload_loop(&rx, &store, debounce))
            .map_err(WatchError::Thread)?;
        Ok(StoreWatcher { _watcher: watcher })
    }
}

/// Whether a file system event may have changed a file's content: anything
/// but reads (our own reads of the files show up as open and close events).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn reload_loop(rx: &mpsc::Receiver<()>, store: &Weak<CertStore>, debounce: Duration) {
    while rx.recv().is_ok() {
        loop {
            match rx.recv_timeout(debounce) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        match store.upgrade() {
            Some(store) => {
                store.reload();
            }
            None => return,
        }
    }
}

/// Keeps a store's directory watch alive; dropping it stops the watch (the
/// reload thread ends with it).
pub struct StoreWatcher {
    _watcher: RecommendedWatcher,
}

impl fmt::Debug for StoreWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreWatcher").finish_non_exhaustive()
    }
}
