//! A small client connection pool: per-host idle connections, a per-host
//! connection cap, and an idle timeout, over any [`Connect`].
//!
//! A connection returns to its host's idle list by itself once an exchange
//! is complete (response body read to its end, both sides willing to keep
//! it), and closes by itself after [`ClientConfig::idle_timeout`] without
//! use. The cap counts open connections, busy or idle; a request that finds
//! none free and the cap reached waits for one to come back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use mesh_core::{Connect, Target};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::client::{ClientConfig, ClientError, SendRequest, handshake};
use super::service::{Request, Response};

/// Settings of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most open connections to one target. Default 32.
    pub max_per_host: usize,
    /// Settings of each connection (its idle timeout among them).
    pub client: ClientConfig,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_per_host: 32,
            client: ClientConfig::default(),
        }
    }
}

/// One target's connections.
#[derive(Debug)]
struct Host {
    idle: Mutex<Vec<SendRequest>>,
    permits: Arc<Semaphore>,
    /// Signalled when a connection goes idle or closes.
    changed: Notify,
}

impl Host {
    fn put_idle(&self, sender: SendRequest) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sender);
        self.changed.notify_one();
    }

    /// Hands `request` to an idle connection, or gives it back.
    fn try_idle(
        &self,
        mut request: Request,
    ) -> Result<super::client::ResponseFuture, Box<Request>> {
        loop {
            let conn = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                idle.retain(|c| !c.is_closed());
                // Most recently used first: the warmest connection.
                idle.pop()
            };
            let Some(conn) = conn else {
                return Err(Box::new(request));
            };
            match conn.try_send(request) {
                Ok(response) => return Ok(response),
                Err(r) => request = *r,
            }
        }
    }

    fn idle_count(&self) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|c| !c.is_closed());
        idle.len()
    }
}

/// Releases a connection's place under the cap when its task ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    host: Weak<Host>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(host) = self.host.upgrade() {
            host.changed.notify_one();
        }
    }
}

struct Inner<C> {
    connector: C,
    config: PoolConfig,
    hosts: Mutex<HashMap<Target, Arc<Host>>>,
}

/// Client connections to many targets, reused; cheap to clone.
///
/// ```no_run
/// use mesh_core::{Target, TcpConnector};
/// use mesh_http::h1::{Method, Pool, PoolConfig, Request, RequestHead};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::new(TcpConnector::default(), PoolConfig::default());
/// let target = Target::new("127.0.0.1:8080".parse()?);
/// let mut head = RequestHead::new(Method::GET, "/healthz")?;
/// head.headers.append("host", "backend")?;
/// let response = pool.send(&target, Request::new(head, ())).await?;
/// assert_eq!(response.head.status, 200);
/// # Ok(()) }
/// ```
pub struct Pool<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<C> std::fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<C: Connect> Pool<C> {
    /// A pool dialing through `connector`.
    pub fn new(connector: C, config: PoolConfig) -> Self {
        Pool {
            inner: Arc::new(Inner {
                connector,
                config,
                hosts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    fn host(&self, target: &Target) -> Arc<Host> {
        let mut hosts = self
            .inner
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hosts
            .entry(target.clone())
            .or_insert_with(|| {
                Arc::new(Host {
                    idle: Mutex::new(Vec::new()),
                    permits: Arc::new(Semaphore::new(self.inner.config.max_per_host.max(1))),
                    changed: Notify::new(),
                })
            })
            .clone()
    }

    /// Idle, open connections to `target` (for tests and metrics).
    pub fn idle_connections(&self, target: &Target) -> usize {
        self.host(target).idle_count()
    }

    /// Sends `request` to `target` on an idle connection, a new one, or the
    /// first one to come free when the cap is reached. Resolves with the
    /// response head; the body streams from the connection.
    pub async fn send(&self, target: &Target, request: Request) -> Result<Response, ClientError> {
        let host = self.host(target);
        let mut request = request;
        loop {
            let changed = host.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            request = match host.try_idle(request) {
                Ok(response) => return response.wait().await,
                Err(r) => *r,
            };
            if let Ok(permit) = host.permits.clone().try_acquire_owned() {
                let slot = Slot {
                    _permit: permit,
                    host: Arc::downgrade(&host),
                };
                let sender = self.open(target, &host, slot).await?;
                match sender.try_send(request) {
                    Ok(response) => return response.wait().await,
                    Err(r) => request = *r,
                }
                continue;
            }
            changed.await;
        }
    }

    /// Dials a new connection and spawns its task, which puts the
    /// connection back in `host`'s idle list after each exchange and
    /// releases `slot` when it ends.
    async fn open(
        &self,
        target: &Target,
        host: &Arc<Host>,
        slot: Slot,
    ) -> Result<SendRequest, ClientError> {
        let io = self.inner.connector.connect(target).await?;
        let (sender, connection) = handshake(io, self.inner.config.client);
        let back = sender.clone();
        let host = Arc::downgrade(host);
        let connection = connection.with_idle_hook(Box::new(move || {
            if let Some(host) = host.upgrade() {
                host.put_idle(back.clone());
            }
        }));
        tokio::spawn(async move {
            let _slot = slot;
            let _ = connection.run().await;
        });
        Ok(sender)
    }
}
