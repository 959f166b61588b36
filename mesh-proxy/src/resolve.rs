//! Name resolution for DNS endpoints (`ServiceEntry` with `resolution:
//! DNS`), injectable so tests and embedders control the answers.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::io::BoxFuture;

/// Resolves a host name to addresses.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`; an empty answer is an error
    /// (`NotFound`).
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The system resolver (`getaddrinfo` on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let mut ips: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect();
            ips.dedup();
            if ips.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} has no addresses"),
                ));
            }
            Ok(ips)
        })
    }
}

/// A resolver with a fixed, replaceable table: for tests, and for
/// embedders that learn addresses some other way. Names not in the table
/// fail with `NotFound`.
#[derive(Debug, Default)]
pub struct StaticResolver {
    table: Mutex<HashMap<String, Vec<IpAddr>>>,
    lookups: std::sync::atomic::AtomicU64,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        StaticResolver::default()
    }

    /// Sets the answer for `host` (an empty list removes it).
    pub fn set(&self, host: &str, ips: impl IntoIterator<Item = IpAddr>) {
        let ips: Vec<IpAddr> = ips.into_iter().collect();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if ips.is_empty() {
            table.remove(&host.to_ascii_lowercase());
        } else {
            table.insert(host.to_ascii_lowercase(), ips);
        }
    }

    /// How many lookups were made.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&host.to_ascii_lowercase())
            .cloned();
        Box::pin(async move {
            answer.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} is not in the table"),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_table() {
        let r = StaticResolver::new();
        r.set("Db.Example", ["10.0.0.1".parse().unwrap()]);
        assert_eq!(
            r.resolve("db.example").await.unwrap(),
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.resolve("other").await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        r.set("db.example", []);
        assert!(r.resolve("db.example").await.is_err());
        assert_eq!(r.lookups(), 3);
    }

    #[tokio::test]
    async fn system_resolver_knows_localhost() {
        let ips = SystemResolver.resolve("localhost").await.unwrap();
        assert!(ips.iter().any(|ip| ip.is_loopback()), "{ips:?}");
    }
}
