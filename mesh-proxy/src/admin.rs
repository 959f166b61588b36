//! The admin endpoints, as an HTTP/1 service ([`mesh_http::h1::Service`])
//! any embedder can serve, on loopback by default:
//!
//! | endpoint | what |
//! | --- | --- |
//! | `GET /ready` | 200 once every listener is bound, 503 while draining |
//! | `GET /stats/prometheus` | every metric, Prometheus text format |
//! | `GET /config_dump` | the configuration in force as JSON, secrets redacted, with the generation and the last reload error |
//! | `GET /clusters` | endpoints with health, ejection and active connections (`?format=json` for JSON) |
//! | `GET /logging`, `POST /logging?level=debug` | the log filter, and changing it at run time |
//! | `POST /quitquitquit` | asks the proxy to drain and exit |

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use mesh_http::h1::{Request, Response, ServerConfig, serve_connection};
use tokio::net::TcpListener;

use crate::proxy::Proxy;
use crate::upstream::UpstreamCluster;

/// Changes what is logged at run time (`/logging`).
pub trait LogControl: Send + Sync {
    /// The filter in force (`info`, `mesh_proxy=debug,info`).
    fn current(&self) -> String;
    /// Replaces the filter; says why a filter is refused.
    fn set(&self, filter: &str) -> Result<(), String>;
}

/// [`LogControl`] over a `tracing-subscriber` reload handle of an
/// `EnvFilter`, the usual way to make a subscriber's level changeable.
pub struct EnvFilterControl<S> {
    handle: tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, S>,
    current: Mutex<String>,
}

impl<S> EnvFilterControl<S> {
    /// Controls the filter behind `handle`, which was built from `initial`.
    pub fn new(
        handle: tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, S>,
        initial: &str,
    ) -> Self {
        EnvFilterControl {
            handle,
            current: Mutex::new(initial.to_owned()),
        }
    }
}

impl<S: 'static> LogControl for EnvFilterControl<S> {
    fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, filter: &str) -> Result<(), String> {
        let parsed = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| e.to_string())?;
        self.handle.reload(parsed).map_err(|e| e.to_string())?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = filter.to_owned();
        Ok(())
    }
}

/// The admin service of one proxy.
#[derive(Clone)]
pub struct Admin {
    proxy: Proxy,
    log: Option<Arc<dyn LogControl>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("proxy", &self.proxy)
            .field("log", &self.log.is_some())
            .finish()
    }
}

fn reply(status: u16, content_type: &'static str, body: String) -> Response {
    let mut r = Response::with_status(status, body);
    let _ = r.head.headers.insert("content-type", content_type);
    r
}

fn text(status: u16, body: impl Into<String>) -> Response {
    reply(status, "text/plain; charset=utf-8", body.into())
}

/// Decodes `%XX` and `+` in a query value.
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Admin {
    /// The admin service of `proxy`; `/logging` works when `log` is given.
    pub fn new(proxy: Proxy, log: Option<Arc<dyn LogControl>>) -> Self {
        Admin { proxy, log }
    }

    /// Serves the admin endpoints on `listener` until the proxy has
    /// drained.
    pub async fn serve(self, listener: TcpListener) {
        let admin = Arc::new(self);
        let stopped = admin.proxy.clone();
        let config = ServerConfig::default();
        let accept = async {
            loop {
                let socket = match listener.accept().await {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        // Out of descriptors, say: back off instead of spinning.
                        tracing::warn!(error = %e, "admin accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let admin = Arc::clone(&admin);
                tokio::spawn(async move {
                    let service = |req: Request| {
                        let admin = Arc::clone(&admin);
                        async move { admin.handle(req) }
                    };
                    let _ = serve_connection(socket, &service, &config).await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = stopped.stopped() => {}
        }
    }

    /// Answers one admin request.
    pub fn handle(&self, request: Request) -> Response {
        let target = String::from_utf8_lossy(&request.head.target).into_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let method = request.head.method.as_bytes();
        let get = method == b"GET" || method == b"HEAD";
        let post = method == b"POST";
        match path {
            "/ready" if get => {
                if self.proxy.is_ready() {
                    text(200, "LIVE\n")
                } else if self.proxy.is_draining() {
                    text(503, "DRAINING\n")
                } else {
                    text(503, "PRE_INITIALIZING\n")
                }
            }
            "/stats/prometheus" if get => reply(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                self.proxy.encode_metrics(),
            ),
            "/config_dump" if get => reply(200, "application/json", self.config_dump()),
            "/clusters" if get => {
                if query_param(query, "format") == Some("json") {
                    reply(200, "application/json", self.clusters_json())
                } else {
                    text(200, self.clusters_text())
                }
            }
            "/logging" if get || post => self.logging(post, query),
            "/quitquitquit" if post => {
                self.proxy.request_quit();
                text(200, "OK\n")
            }
            "/" if get => text(
                200,
                "admin commands:\n  /ready\n  /stats/prometheus\n  /config_dump\n  /clusters\n  /logging (POST ?level=FILTER)\n  /quitquitquit (POST)\n",
            ),
            "/ready" | "/stats/prometheus" | "/config_dump" | "/clusters" | "/logging"
            | "/quitquitquit" | "/" => text(405, "method not allowed\n"),
            _ => text(404, "not found; GET / lists the endpoints\n"),
        }
    }

    fn logging(&self, post: bool, query: &str) -> Response {
        let Some(log) = &self.log else {
            return text(
                501,
                "this proxy was started without a changeable log filter\n",
            );
        };
        if !post {
            return text(200, format!("{}\n", log.current()));
        }
        let Some(level) = query_param(query, "level").map(percent_decode) else {
            return text(
                400,
                "POST /logging?level=FILTER (an EnvFilter such as debug or mesh_proxy=trace,info)\n",
            );
        };
        match log.set(&level) {
            Ok(()) => {
                tracing::info!(filter = %level, "log filter changed");
                text(200, format!("{level}\n"))
            }
            Err(e) => text(400, format!("invalid filter {level:?}: {e}\n")),
        }
    }

    /// `/config_dump`: the effective configuration (secrets redacted), the
    /// generation and the last reload error.
    pub fn config_dump(&self) -> String {
        let snapshot = self.proxy.snapshot();
        let dump = serde_json::json!({
            "generation": snapshot.generation,
            "lastReloadError": self.proxy.last_reload_error(),
            "listeners": self.proxy.listeners().into_iter().map(|(name, addr)| {
                serde_json::json!({"name": name, "address": addr.to_string()})
            }).collect::<Vec<_>>(),
            "config": snapshot.config.to_json(),
        });
        serde_json::to_string_pretty(&dump).unwrap_or_default()
    }

    fn clusters(&self) -> Vec<Arc<UpstreamCluster>> {
        let snapshot = self.proxy.snapshot();
        snapshot.clusters.values().cloned().collect()
    }

    /// `/clusters` in Envoy's text form: `cluster::endpoint::stat::value`.
    pub fn clusters_text(&self) -> String {
        let mut out = String::new();
        for c in self.clusters() {
            let name = c.name();
            let limits = c.inner().limits();
            let _ = writeln!(
                out,
                "{name}::default_priority::max_connections::{}",
                limits.limit(mesh_resilience::limits::Resource::Connections)
            );
            let _ = writeln!(
                out,
                "{name}::default_priority::cx_active::{}",
                limits.active(mesh_resilience::limits::Resource::Connections)
            );
            for e in c.inner().endpoints() {
                let addr = e.addr();
                let health = if e.is_ejected() {
                    "/failed_outlier_check"
                } else {
                    "healthy"
                };
                let _ = writeln!(out, "{name}::{addr}::health_flags::{health}");
                let _ = writeln!(out, "{name}::{addr}::weight::{}", e.spec().weight.max(1));
                let _ = writeln!(out, "{name}::{addr}::rq_active::{}", e.active_requests());
                let _ = writeln!(
                    out,
                    "{name}::{addr}::ejections::{}",
                    e.outlier().recent_ejections()
                );
                let mtls = c.endpoint_meta(addr).is_some_and(|m| m.mtls);
                let _ = writeln!(out, "{name}::{addr}::mtls::{mtls}");
                let labels: Vec<String> =
                    e.labels().iter().map(|(k, v)| format!("{k}={v}")).collect();
                let _ = writeln!(out, "{name}::{addr}::labels::{}", labels.join(","));
            }
        }
        out
    }

    /// `/clusters?format=json`.
    pub fn clusters_json(&self) -> String {
        let clusters: Vec<serde_json::Value> = self
            .clusters()
            .iter()
            .map(|c| {
                let limits = c.inner().limits();
                serde_json::json!({
                    "name": c.name(),
                    "maxConnections": limits.limit(mesh_resilience::limits::Resource::Connections),
                    "activeConnections": limits.active(mesh_resilience::limits::Resource::Connections),
                    "connectTimeoutMs": c.connect_timeout().as_millis() as u64,
                    "endpoints": c.inner().endpoints().iter().map(|e| serde_json::json!({
                        "address": e.addr().to_string(),
                        "healthy": !e.is_ejected(),
                        "ejected": e.is_ejected(),
                        "recentEjections": e.outlier().recent_ejections(),
                        "active": e.active_requests(),
                        "weight": e.spec().weight.max(1),
                        "mtls": c.endpoint_meta(e.addr()).is_some_and(|m| m.mtls),
                        "labels": e.labels(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "clusters": clusters }))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values() {
        assert_eq!(query_param("level=debug&x=1", "level"), Some("debug"));
        assert_eq!(query_param("format=json", "level"), None);
        assert_eq!(
            percent_decode("mesh_proxy%3Dtrace%2Cinfo"),
            "mesh_proxy=trace,info"
        );
        assert_eq!(percent_decode("a+b%zz%4"), "a b%zz%4");
    }
}
