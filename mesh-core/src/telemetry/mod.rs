//! Telemetry shared by every proxy: the Istio metric families with Istio's
//! standard labels, protocol-detection metrics, and Envoy's response flags.
//!
//! Metrics are registered on a [`prometheus_client::registry::Registry`]
//! that the embedder owns and passes in; nothing here uses a global
//! registry, so two proxies in one process (or two tests) never share
//! counters by accident.
//!
//! ```
//! use prometheus_client::registry::Registry;
//! use mesh_core::telemetry::{ConnectionLabels, IstioMetrics};
//!
//! let mut registry = Registry::default();
//! let metrics = IstioMetrics::register(&mut registry);
//! let labels = ConnectionLabels::default();
//! metrics.tcp_opened(&labels);
//! metrics.tcp_bytes(&labels, 10, 20);
//! metrics.tcp_closed(&labels);
//!
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
//! assert!(text.contains("istio_tcp_connections_opened_total{"));
//! ```

mod detection;
mod istio;
mod labels;
mod response_flags;

pub use detection::DetectionMetrics;
pub use istio::{BYTE_BUCKETS, DURATION_BUCKETS_MS, IstioMetrics};
pub use labels::{ConnectionLabels, Peer, Reporter, RequestLabels, SecurityPolicy, Service};
pub use response_flags::{ResponseFlags, UnknownResponseFlag};
