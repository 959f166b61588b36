//! Kubernetes object metadata and the selectors every kind shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::Ignored;

/// Labels: `key: value` pairs, ordered for stable dumps.
pub type Labels = BTreeMap<String, String>;

/// The `metadata` of a Kubernetes object. Fields that `kubectl get -o yaml`
/// adds (`uid`, `managedFields`, ...) are accepted and dropped.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's name, unique per kind and namespace.
    pub name: String,
    /// The namespace; the loader fills in its default namespace when absent.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels (also what workload selectors match for workloads).
    #[serde(default)]
    pub labels: Labels,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 creation time; Istio breaks ties between policies by age.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing)]
    uid: Ignored,
    #[serde(default, skip_serializing)]
    resource_version: Ignored,
    #[serde(default, skip_serializing)]
    generation: Ignored,
    #[serde(default, skip_serializing)]
    managed_fields: Ignored,
    #[serde(default, skip_serializing)]
    owner_references: Ignored,
    #[serde(default, skip_serializing)]
    finalizers: Ignored,
    #[serde(default, skip_serializing)]
    generate_name: Ignored,
    #[serde(default, skip_serializing)]
    self_link: Ignored,
}

impl ObjectMeta {
    /// The namespace, after the loader has filled in the default.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// `workloadSelector` of networking kinds (`Sidecar`, `ServiceEntry`,
/// `DestinationRule`): `labels` that a workload must all carry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WorkloadSelector {
    /// Labels the workload must carry, all of them.
    #[serde(default)]
    pub labels: Labels,
}

/// `selector` of security kinds (`PeerAuthentication`,
/// `AuthorizationPolicy`): `matchLabels` that a workload must all carry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LabelSelector {
    /// Labels the workload must carry, all of them.
    #[serde(default)]
    pub match_labels: Labels,
}

/// Whether `labels` carries every pair of `required` (an empty selector
/// matches everything).
pub fn labels_match(required: &Labels, labels: &Labels) -> bool {
    required.iter().all(|(k, v)| labels.get(k) == Some(v))
}
