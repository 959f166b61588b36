//! Endpoints: an address, a weight, labels, how to connect, and the live
//! state (load and outlier status) that survives endpoint-set updates.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mesh_core::Target;

use crate::balancer::{Candidate, Load};
use crate::outlier::HostState;

/// One endpoint as configuration or discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// How to connect: the address, and for mTLS the server name and
    /// accepted identities.
    pub target: Target,
    /// The load-balancing weight (0 is read as 1).
    pub weight: u32,
    /// Labels, such as `version: v2`, that subsets select on.
    pub labels: BTreeMap<String, String>,
}

impl EndpointSpec {
    /// An endpoint at `addr` with weight 1 and no labels.
    pub fn new(addr: SocketAddr) -> Self {
        EndpointSpec {
            target: Target::new(addr),
            weight: 1,
            labels: BTreeMap::new(),
        }
    }

    /// Sets the weight.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets how to connect (the target's address is the endpoint's).
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }
}

/// The state of an endpoint that lives as long as its address stays in
/// the set, whatever else about it changes.
#[derive(Debug, Default)]
pub(crate) struct EndpointState {
    pub(crate) load: Load,
    pub(crate) outlier: HostState,
    /// Set when the address leaves the set, so late outcomes of requests
    /// in flight are not counted against a detector it no longer is in.
    pub(crate) removed: AtomicBool,
}

/// An endpoint of a cluster: its spec and its live state.
#[derive(Debug)]
pub struct Endpoint {
    spec: EndpointSpec,
    name: String,
    pub(crate) state: Arc<EndpointState>,
}

impl Endpoint {
    pub(crate) fn new(spec: EndpointSpec, state: Arc<EndpointState>) -> Self {
        Endpoint {
            name: spec.target.addr.to_string(),
            spec,
            state,
        }
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.spec.target.addr
    }

    /// How to connect to it, for any [`mesh_core::Connect`].
    pub fn target(&self) -> &Target {
        &self.spec.target
    }

    /// Its spec.
    pub fn spec(&self) -> &EndpointSpec {
        &self.spec
    }

    /// Its labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.spec.labels
    }

    /// Whether outlier detection has ejected it.
    pub fn is_ejected(&self) -> bool {
        self.state.outlier.is_ejected()
    }

    /// Requests in flight to it.
    pub fn active_requests(&self) -> u64 {
        self.state.load.active()
    }

    /// Its outlier-detection state.
    pub fn outlier(&self) -> &HostState {
        &self.state.outlier
    }

    pub(crate) fn is_removed(&self) -> bool {
        self.state.removed.load(Ordering::Relaxed)
    }

    /// Whether it has all of `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        labels
            .iter()
            .all(|(k, v)| self.spec.labels.get(k) == Some(v))
    }
}

impl Candidate for Endpoint {
    #[inline]
    fn is_available(&self) -> bool {
        !self.state.outlier.is_ejected()
    }

    #[inline]
    fn weight(&self) -> u32 {
        self.spec.weight
    }

    #[inline]
    fn load(&self) -> &Load {
        &self.state.load
    }

    fn hash_name(&self) -> &str {
        &self.name
    }
}

impl<E: Candidate + ?Sized> Candidate for Arc<E> {
    #[inline]
    fn is_available(&self) -> bool {
        (**self).is_available()
    }

    #[inline]
    fn weight(&self) -> u32 {
        (**self).weight()
    }

    #[inline]
    fn load(&self) -> &Load {
        (**self).load()
    }

    fn hash_name(&self) -> &str {
        (**self).hash_name()
    }
}
