//! Errors of building and running a proxy.

use std::io;
use std::net::SocketAddr;

use mesh_core::{ErrorClass, Side};

/// Building, starting or reloading a proxy failed. The proxy keeps what it
/// was running (a failed reload changes nothing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The configuration has no `SidecarProxy` with an identity, so the
    /// proxy does not know which workload it serves.
    #[error(
        "the configuration has no SidecarProxy with spec.identity: the proxy needs to know its workload (namespace, service account, labels)"
    )]
    NoIdentity,
    /// A cluster's settings were refused by mesh-resilience.
    #[error("cluster {cluster}: {source}")]
    Cluster {
        /// Istio's name of the cluster.
        cluster: String,
        /// What was wrong.
        #[source]
        source: mesh_resilience::ConfigError,
    },
    /// A listener's settings were refused.
    #[error("listener {listener}: {message}")]
    Listener {
        /// The listener.
        listener: String,
        /// What was wrong.
        message: String,
    },
    /// A listener could not be bound.
    #[error("listener {listener}: cannot bind {addr}: {source}")]
    Bind {
        /// The listener.
        listener: String,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The mTLS server configuration was refused by rustls.
    #[error("mTLS: {0}")]
    Tls(#[from] mesh_tls::config::ConfigError),
    /// An I/O error while starting (the access log file, a thread).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl ProxyError {
    pub(crate) fn cluster(name: &str, source: mesh_resilience::ConfigError) -> Self {
        ProxyError::Cluster {
            cluster: name.to_owned(),
            source,
        }
    }
}

impl ErrorClass for ProxyError {
    /// Configuration and start-up problems are this proxy's own.
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}
