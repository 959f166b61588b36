//! HTTP/1.1, HTTP/2 and gRPC for service-mesh proxies.
//!
//! This crate will hold, each in its own module:
//!
//! - `h1`: a zero-copy request and response head parser, body framing
//!   (Content-Length, chunked, close-delimited) with request-smuggling
//!   defences, the HTTP/1 sniffer, and tokio client and server connection
//!   drivers with a forwarding helper.
//! - `h2`: the RFC 9113 frame codec, HPACK (RFC 7541), the client preface
//!   sniffer, connection and stream state with flow control, and hardening
//!   against the known HTTP/2 attacks.
//! - `grpc`: length-prefixed messages, status and `grpc-timeout` deadlines,
//!   and the trailers-only local replies a proxy sends.
//!
//! Every connection driver dials upstreams through
//! [`mesh_core::Connect`], so it runs over plain TCP or mTLS alike.
#![forbid(unsafe_code)]

pub mod h2;
