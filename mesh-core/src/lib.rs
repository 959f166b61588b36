//! The shared vocabulary of the meshkit crates.
//!
//! Every protocol crate plugs into a proxy the same way, through the types
//! here:
//!
//! - [`Protocol`]: what a connection (or an HTTP/2 stream) speaks.
//! - [`Sniff`] and [`Detector`]: peek at the first bytes, answer
//!   [`Detection::Match`], [`Detection::NeedMore`] or [`Detection::NoMatch`],
//!   with a byte cap and a deadline that fall back to TCP.
//! - [`PeekedStream`]: replays the sniffed bytes to the protocol driver.
//! - [`port_name`]: Istio's `<protocol>[-<suffix>]` port-name convention.
//! - [`copy_bidirectional`]: opaque TCP with counts, half-close and an idle
//!   timeout.
//! - [`Connect`] and [`TcpConnector`]: how every proxy dials upstreams
//!   (`mesh-tls` adds mTLS); [`PeerIdentity`] tells who the peer is.
//! - [`spiffe`]: SPIFFE ids and trust domains, validated at parse time, and
//!   Istio's principal form.
//! - [`telemetry`]: the Istio metric families and Envoy response flags, on a
//!   `prometheus-client` registry the embedder owns.
//! - [`error`]: the error convention of the workspace: every error says
//!   which side it came from and whether a retry is safe ([`ErrorClass`]).
//! - `config` (cargo feature `config`): the Istio and Kubernetes YAML a
//!   sidecar reads, validated and indexed for lookups.
//!
//! # Example
//!
//! ```
//! use mesh_core::{DetectConfig, Detection, Detector, Protocol, Sniff, Step};
//!
//! /// Recognises a RESP array header (a toy; the real one is in mesh-codecs).
//! struct Resp;
//! impl Sniff for Resp {
//!     fn protocol(&self) -> Protocol { Protocol::Redis }
//!     fn sniff(&self, prefix: &[u8]) -> Detection {
//!         match prefix.first() {
//!             None => Detection::NeedMore,
//!             Some(b'*') => Detection::Match(Protocol::Redis),
//!             Some(_) => Detection::NoMatch,
//!         }
//!     }
//! }
//!
//! let detector = Detector::new(DetectConfig::default()).with(Resp);
//! assert_eq!(detector.decide(b"*1\r\n$4\r\nPING\r\n"), Step::Decided(Protocol::Redis));
//! assert_eq!(detector.decide(b"GET / HTTP/1.1\r\n"), Step::NoMatch);
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "config")]
pub mod config;
pub mod connect;
pub mod copy;
pub mod error;
pub mod peek;
pub mod port_name;
pub mod protocol;
pub mod sniff;
pub mod spiffe;
pub mod telemetry;

pub use connect::{
    Connect, ConnectError, ConnectErrorKind, PeerIdentity, Target, TcpConfig, TcpConnector,
};
pub use copy::{CopyConfig, CopyError, CopyStats, copy_bidirectional};
pub use error::{ErrorClass, Side};
pub use peek::PeekedStream;
pub use protocol::Protocol;
pub use sniff::{DetectConfig, DetectOutcome, DetectReason, Detection, Detector, Sniff, Step};
pub use spiffe::{IstioPrincipal, SpiffeId, TrustDomain};
