//! Redis and MongoDB wire protocols for service-mesh proxies.
//!
//! Each protocol lives in its own module:
//!
//! - [`redis`]: a zero-copy RESP2/RESP3 codec for `tokio_util::codec`, the
//!   command table with key positions and flags, hash tags and cluster
//!   slots, the RESP sniffer, and RESP3-to-RESP2 reply conversion.
//! - [`mongo`]: the MongoDB wire protocol (OP_MSG, OP_QUERY, OP_REPLY, the
//!   legacy opcodes and OP_COMPRESSED), a zero-copy validating BSON reader,
//!   message summaries for observability, and the MongoDB sniffer.
#![forbid(unsafe_code)]

pub mod mongo;
pub mod redis;
