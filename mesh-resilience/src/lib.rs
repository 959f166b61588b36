//! Resilience primitives for service-mesh proxies.
//!
//! This crate will hold: a lock-free circuit breaker, Envoy-style
//! connection-pool limits as RAII guards, outlier detection, a lock-free
//! token bucket (plain and keyed), retry policies with exponential backoff,
//! jitter and budgets, load balancers (round robin, weighted random, power
//! of two choices, ring hash, Maglev), and the cluster that ties endpoints,
//! balancer, outlier state and limits together. Time and randomness are
//! injected, so tests use a manual clock and a seeded source.
#![forbid(unsafe_code)]
