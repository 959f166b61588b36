//! Istio's standard metric labels.
//!
//! Label values are `Arc<str>`, so building a label set per request clones
//! reference counts, not strings. Values that are not known are `unknown`,
//! as in Istio.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{
    EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};

use crate::Protocol;

fn unknown() -> Arc<str> {
    Arc::from("unknown")
}

/// Who reports a metric: the client-side sidecar or the server-side one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reporter {
    /// The sidecar of the calling workload (outbound traffic).
    #[default]
    Source,
    /// The sidecar of the called workload (inbound traffic).
    Destination,
}

impl Reporter {
    /// Istio's label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
}

/// Whether the connection was mutual TLS between sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityPolicy {
    /// Not known (outbound metrics, where Istio reports `unknown`).
    #[default]
    Unknown,
    /// Plaintext.
    None,
    /// Mesh mutual TLS.
    MutualTls,
}

impl SecurityPolicy {
    /// Istio's label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityPolicy::Unknown => "unknown",
            SecurityPolicy::None => "none",
            SecurityPolicy::MutualTls => "mutual_tls",
        }
    }
}

macro_rules! static_label_value {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), fmt::Error> {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    )*};
}
static_label_value!(Reporter, SecurityPolicy, Protocol);

/// One side of a call: a workload and its identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The workload name (a Deployment, say).
    pub workload: Arc<str>,
    /// The workload's namespace.
    pub namespace: Arc<str>,
    /// Its SPIFFE identity, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`.
    pub principal: Arc<str>,
    /// The `app` label.
    pub app: Arc<str>,
    /// The `version` label.
    pub version: Arc<str>,
    /// The canonical service (`service.istio.io/canonical-name`).
    pub canonical_service: Arc<str>,
    /// The canonical revision (`service.istio.io/canonical-revision`).
    pub canonical_revision: Arc<str>,
    /// The cluster the workload runs in.
    pub cluster: Arc<str>,
}

impl Default for Peer {
    fn default() -> Self {
        Peer {
            workload: unknown(),
            namespace: unknown(),
            principal: unknown(),
            app: unknown(),
            version: unknown(),
            canonical_service: unknown(),
            canonical_revision: Arc::from("latest"),
            cluster: unknown(),
        }
    }
}

/// The destination service of a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    /// The host, `<name>.<namespace>.svc.cluster.local` for a Kubernetes service.
    pub host: Arc<str>,
    /// The short name.
    pub name: Arc<str>,
    /// The namespace.
    pub namespace: Arc<str>,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            host: unknown(),
            name: unknown(),
            namespace: unknown(),
        }
    }
}

/// The labels of Istio's TCP families, and the common part of the request
/// families.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConnectionLabels {
    /// Who reports.
    pub reporter: Reporter,
    /// The calling workload.
    pub source: Peer,
    /// The called workload.
    pub destination: Peer,
    /// The called service.
    pub destination_service: Service,
    /// `tcp` for TCP families; the request protocol for request families.
    pub request_protocol: Option<Protocol>,
    /// Envoy's response flags.
    pub response_flags: super::ResponseFlags,
    /// Whether the hop was mesh mTLS.
    pub connection_security_policy: SecurityPolicy,
}

impl EncodeLabelSet for ConnectionLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), fmt::Error> {
        fn put<V: EncodeLabelValue>(
            e: &mut LabelSetEncoder<'_>,
            key: &'static str,
            value: V,
        ) -> Result<(), fmt::Error> {
            (key, value).encode(e.encode_label())
        }
        let e = encoder;
        put(e, "reporter", self.reporter)?;
        for (prefix, peer) in [("source", &self.source), ("destination", &self.destination)] {
            let keys = peer_keys(prefix);
            put(e, keys[0], &*peer.workload)?;
            put(e, keys[1], &*peer.namespace)?;
            put(e, keys[2], &*peer.principal)?;
            put(e, keys[3], &*peer.app)?;
            put(e, keys[4], &*peer.version)?;
            put(e, keys[5], &*peer.canonical_service)?;
            put(e, keys[6], &*peer.canonical_revision)?;
            put(e, keys[7], &*peer.cluster)?;
        }
        put(e, "destination_service", &*self.destination_service.host)?;
        put(
            e,
            "destination_service_name",
            &*self.destination_service.name,
        )?;
        put(
            e,
            "destination_service_namespace",
            &*self.destination_service.namespace,
        )?;
        put(
            e,
            "request_protocol",
            self.request_protocol.unwrap_or(Protocol::Tcp),
        )?;
        put(e, "response_flags", self.response_flags)?;
        put(
            e,
            "connection_security_policy",
            self.connection_security_policy,
        )
    }
}

fn peer_keys(prefix: &str) -> [&'static str; 8] {
    if prefix == "source" {
        [
            "source_workload",
            "source_workload_namespace",
            "source_principal",
            "source_app",
            "source_version",
            "source_canonical_service",
            "source_canonical_revision",
            "source_cluster",
        ]
    } else {
        [
            "destination_workload",
            "destination_workload_namespace",
            "destination_principal",
            "destination_app",
            "destination_version",
            "destination_canonical_service",
            "destination_canonical_revision",
            "destination_cluster",
        ]
    }
}

/// The labels of Istio's request families: the connection labels plus the
/// response code and gRPC status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RequestLabels {
    /// Everything a connection has (with `request_protocol` set to the
    /// request's protocol).
    pub connection: ConnectionLabels,
    /// The HTTP status code, 0 when no response was sent.
    pub response_code: u16,
    /// The gRPC status code, `None` for non-gRPC requests.
    pub grpc_response_status: Option<u8>,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), fmt::Error> {
        self.connection.encode(encoder)?;
        ("response_code", self.response_code as u64).encode(encoder.encode_label())?;
        match self.grpc_response_status {
            Some(code) => ("grpc_response_status", code as u64).encode(encoder.encode_label()),
            None => ("grpc_response_status", "").encode(encoder.encode_label()),
        }
    }
}
