//! Istio `PeerAuthentication` (`security.istio.io`): whether a workload
//! accepts plaintext, mTLS or both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::meta::LabelSelector;

/// The `spec` of a `PeerAuthentication`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PeerAuthenticationSpec {
    /// The workloads; absent means the whole namespace (or, in the root
    /// namespace, the whole mesh).
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// The mode for every port.
    #[serde(default)]
    pub mtls: Option<Mtls>,
    /// Per workload port (the port the workload listens on); only with a
    /// selector.
    #[serde(default)]
    pub port_level_mtls: BTreeMap<u16, Mtls>,
}

/// `mtls: {mode: ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Mtls {
    /// The mode; `UNSET` inherits from the next level.
    #[serde(default)]
    pub mode: MtlsMode,
}

/// `mtls.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent level; PERMISSIVE when nothing sets a mode.
    #[default]
    Unset,
    /// Plaintext only; mesh mTLS is not terminated.
    Disable,
    /// Both mesh mTLS and plaintext.
    Permissive,
    /// Mesh mTLS only.
    Strict,
}
