//! Mutual TLS between sidecars, on rustls with the ring provider.
//!
//! This crate will hold: mTLS client and server configurations built from a
//! workload identity, SPIFFE identity parsing and certificate verifiers, the
//! ALPN and SNI conventions of Istio's sidecars, an mTLS implementation of
//! [`mesh_core::Connect`], a zero-copy ClientHello sniffer (SNI, ALPN, JA3),
//! a certificate store that reloads on change, and a development CA.
#![forbid(unsafe_code)]
