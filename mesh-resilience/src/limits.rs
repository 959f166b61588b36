//! Connection-pool limits: Envoy's circuit-breaker thresholds as RAII
//! guards.
//!
//! Envoy guards every cluster with four counters, and Istio's
//! DestinationRule `trafficPolicy.connectionPool` sets them:
//!
//! | [`Resource`] | Envoy threshold | Istio field | Envoy default |
//! | --- | --- | --- | --- |
//! | `Connections` | `max_connections` | `tcp.maxConnections` | 1024 |
//! | `PendingRequests` | `max_pending_requests` | `http.http1MaxPendingRequests` | 1024 |
//! | `Requests` | `max_requests` | `http.http2MaxRequests` | 1024 |
//! | `Retries` | `max_retries` | `http.maxRetries` | 3 |
//!
//! A proxy takes a guard before it opens a connection, queues a request,
//! sends a request or starts a retry, and holds it for as long as the
//! thing exists; dropping the guard gives the slot back. When a counter is
//! at its limit the guard is refused with [`Overflow`], which a proxy
//! turns into a 503 with the `UO` response flag
//! ([`ResponseFlags::UPSTREAM_OVERFLOW`], see [`Overflow::response_flags`]).
//!
//! Admission is a compare-and-swap loop, so the number of live guards of a
//! resource never exceeds its limit, under any number of threads. Limits
//! can be changed at run time ([`PoolLimits::set_config`]) without losing
//! the counts: lowering a limit below the live count refuses new guards
//! until enough are dropped.
//!
//! ```
//! use mesh_resilience::limits::{PoolLimits, PoolLimitsConfig, Resource};
//!
//! let limits = PoolLimits::new(PoolLimitsConfig { max_requests: 1, ..Default::default() });
//! let first = limits.try_acquire(Resource::Requests).unwrap();
//! let overflow = limits.try_acquire(Resource::Requests).unwrap_err();
//! assert_eq!(overflow.status(), 503);
//! assert_eq!(overflow.response_flags().to_string(), "UO");
//! drop(first);
//! assert!(limits.try_acquire(Resource::Requests).is_ok());
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mesh_core::telemetry::ResponseFlags;
use mesh_core::{ErrorClass, Side};

/// One of the four limited resources of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Open upstream connections.
    Connections,
    /// Requests waiting for a connection.
    PendingRequests,
    /// Requests in flight.
    Requests,
    /// Retries in flight.
    Retries,
}

impl Resource {
    /// Every resource, in a fixed order.
    pub const ALL: [Resource; 4] = [
        Resource::Connections,
        Resource::PendingRequests,
        Resource::Requests,
        Resource::Retries,
    ];

    /// Envoy's name of the threshold, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::Connections => "max_connections",
            Resource::PendingRequests => "max_pending_requests",
            Resource::Requests => "max_requests",
            Resource::Retries => "max_retries",
        }
    }

    const fn index(self) -> usize {
        match self {
            Resource::Connections => 0,
            Resource::PendingRequests => 1,
            Resource::Requests => 2,
            Resource::Retries => 3,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four thresholds; the defaults are Envoy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimitsConfig {
    /// Open connections (Istio `tcp.maxConnections`).
    pub max_connections: u64,
    /// Queued requests (Istio `http.http1MaxPendingRequests`).
    pub max_pending_requests: u64,
    /// Requests in flight (Istio `http.http2MaxRequests`).
    pub max_requests: u64,
    /// Retries in flight (Istio `http.maxRetries`).
    pub max_retries: u64,
}

impl Default for PoolLimitsConfig {
    fn default() -> Self {
        PoolLimitsConfig {
            max_connections: 1024,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: 3,
        }
    }
}

impl PoolLimitsConfig {
    /// The threshold of `resource`.
    pub const fn limit(&self, resource: Resource) -> u64 {
        match resource {
            Resource::Connections => self.max_connections,
            Resource::PendingRequests => self.max_pending_requests,
            Resource::Requests => self.max_requests,
            Resource::Retries => self.max_retries,
        }
    }
}

/// A resource was at its limit: the proxy answers 503 with flag `UO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream overflow: {resource} = {limit} reached")]
pub struct Overflow {
    /// Which threshold was reached.
    pub resource: Resource,
    /// Its value at the time.
    pub limit: u64,
}

impl Overflow {
    /// `UO`, Envoy's flag for an overflowed pool or circuit breaker.
    pub const fn response_flags(&self) -> ResponseFlags {
        ResponseFlags::UPSTREAM_OVERFLOW
    }

    /// The HTTP status a proxy answers with: 503.
    pub const fn status(&self) -> u16 {
        503
    }
}

impl ErrorClass for Overflow {
    /// A limit of this proxy.
    fn side(&self) -> Side {
        Side::Internal
    }

    /// Nothing was sent.
    fn retry_safe(&self) -> bool {
        true
    }
}

/// One counter on its own cache line, so the four do not contend.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    limit: AtomicU64,
    active: AtomicU64,
}

impl Slot {
    #[inline]
    fn try_take(&self, resource: Resource) -> Result<(), Overflow> {
        let limit = self.limit.load(Ordering::Relaxed);
        let mut active = self.active.load(Ordering::Relaxed);
        loop {
            if active >= limit {
                return Err(Overflow { resource, limit });
            }
            match self.active.compare_exchange_weak(
                active,
                active + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => active = seen,
            }
        }
    }

    #[inline]
    fn give_back(&self) {
        self.active.fetch_sub(1, Ordering::Release);
    }
}

/// The four counters of one cluster; see the [module docs](self).
#[derive(Debug)]
pub struct PoolLimits {
    slots: [Slot; 4],
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits::new(PoolLimitsConfig::default())
    }
}

impl PoolLimits {
    /// Counters at zero with the limits of `config`.
    pub fn new(config: PoolLimitsConfig) -> Self {
        let slot = |r| Slot {
            limit: AtomicU64::new(config.limit(r)),
            active: AtomicU64::new(0),
        };
        PoolLimits {
            slots: Resource::ALL.map(slot),
        }
    }

    /// Replaces the limits, keeping the live counts (a config reload).
    pub fn set_config(&self, config: PoolLimitsConfig) {
        for r in Resource::ALL {
            self.slots[r.index()]
                .limit
                .store(config.limit(r), Ordering::Relaxed);
        }
    }

    /// The current limits.
    pub fn config(&self) -> PoolLimitsConfig {
        PoolLimitsConfig {
            max_connections: self.limit(Resource::Connections),
            max_pending_requests: self.limit(Resource::PendingRequests),
            max_requests: self.limit(Resource::Requests),
            max_retries: self.limit(Resource::Retries),
        }
    }

    /// Takes one unit of `resource`, held until the guard is dropped.
    #[inline]
    pub fn try_acquire(&self, resource: Resource) -> Result<LimitGuard<'_>, Overflow> {
        let slot = &self.slots[resource.index()];
        slot.try_take(resource)?;
        Ok(LimitGuard { slot, resource })
    }

    /// Like [`try_acquire`](Self::try_acquire), with a guard that owns a
    /// handle to the limits, for connections and requests that outlive the
    /// borrow (spawned tasks, pooled connections).
    pub fn try_acquire_owned(
        self: &Arc<Self>,
        resource: Resource,
    ) -> Result<OwnedLimitGuard, Overflow> {
        self.slots[resource.index()].try_take(resource)?;
        Ok(OwnedLimitGuard {
            limits: Arc::clone(self),
            resource,
        })
    }

    /// Live guards of `resource`.
    pub fn active(&self, resource: Resource) -> u64 {
        self.slots[resource.index()].active.load(Ordering::Relaxed)
    }

    /// The limit of `resource`.
    pub fn limit(&self, resource: Resource) -> u64 {
        self.slots[resource.index()].limit.load(Ordering::Relaxed)
    }

    /// Units of `resource` left before overflow (Envoy's `remaining_*`
    /// gauges).
    pub fn remaining(&self, resource: Resource) -> u64 {
        self.limit(resource).saturating_sub(self.active(resource))
    }
}

/// One held unit of a resource; dropping it gives the unit back.
#[must_use = "the unit is given back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LimitGuard<'a> {
    slot: &'a Slot,
    resource: Resource,
}

impl LimitGuard<'_> {
    /// Which resource this guard holds.
    pub fn resource(&self) -> Resource {
        self.resource
    }
}

impl Drop for LimitGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.slot.give_back();
    }
}

/// One held unit of a resource, owning a handle to its limits.
#[must_use = "the unit is given back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct OwnedLimitGuard {
    limits: Arc<PoolLimits>,
    resource: Resource,
}

impl OwnedLimitGuard {
    /// Which resource this guard holds.
    pub fn resource(&self) -> Resource {
        self.resource
    }
}

impl Drop for OwnedLimitGuard {
    fn drop(&mut self) {
        self.limits.slots[self.resource.index()].give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_resource_is_limited_separately() {
        let limits = PoolLimits::new(PoolLimitsConfig {
            max_connections: 2,
            max_pending_requests: 1,
            max_requests: 3,
            max_retries: 0,
        });
        let c1 = limits.try_acquire(Resource::Connections).unwrap();
        let _c2 = limits.try_acquire(Resource::Connections).unwrap();
        let e = limits.try_acquire(Resource::Connections).unwrap_err();
        assert_eq!(
            e,
            Overflow {
                resource: Resource::Connections,
                limit: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "upstream overflow: max_connections = 2 reached"
        );
        assert!(limits.try_acquire(Resource::Retries).is_err());
        let _p = limits.try_acquire(Resource::PendingRequests).unwrap();
        assert_eq!(limits.remaining(Resource::PendingRequests), 0);
        assert_eq!(limits.remaining(Resource::Requests), 3);
        drop(c1);
        assert_eq!(limits.active(Resource::Connections), 1);
        assert_eq!(c1_resource(&limits), Resource::Connections);
    }

    fn c1_resource(limits: &PoolLimits) -> Resource {
        limits
            .try_acquire(Resource::Connections)
            .unwrap()
            .resource()
    }

    #[test]
    fn reload_keeps_counts() {
        let limits = Arc::new(PoolLimits::default());
        let held: Vec<_> = (0..5)
            .map(|_| limits.try_acquire_owned(Resource::Requests).unwrap())
            .collect();
        limits.set_config(PoolLimitsConfig {
            max_requests: 3,
            ..Default::default()
        });
        assert_eq!(limits.active(Resource::Requests), 5);
        assert!(limits.try_acquire(Resource::Requests).is_err());
        drop(held);
        assert_eq!(limits.active(Resource::Requests), 0);
        assert_eq!(limits.config().max_requests, 3);
        assert!(limits.try_acquire(Resource::Requests).is_ok());
    }
}
