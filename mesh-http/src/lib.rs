//! HTTP/1.1, HTTP/2 and gRPC for service-mesh proxies.
//!
//! Each protocol lives in its own module:
//!
//! - [`h1`]: a zero-copy request and response head parser (at least as
//!   fast as httparse, stricter), body framing (Content-Length, chunked
//!   with extensions and trailers, close-delimited) with every
//!   request-smuggling defence as its own error, the HTTP/1 sniffer, and
//!   tokio server and client connection drivers, a pool and a forwarding
//!   helper.
//! - [`h2`]: the RFC 9113 frame codec, HPACK (RFC 7541), the client preface
//!   sniffer, and server and client connections with stream states, flow
//!   control, message validation, per-stream gRPC classification and
//!   hardening against the known HTTP/2 attacks.
//! - [`grpc`]: length-prefixed messages, status and `grpc-timeout` deadlines,
//!   and the trailers-only local replies a proxy sends.
//!
//! Both protocols share their message parts: a [`Body`] (a stream of data
//! frames and trailers with backpressure, whichever connection feeds it),
//! and the field list [`h1::HeaderMap`]; so a proxy forwards an HTTP/2
//! body into an HTTP/1 connection, or back, without converting it.
//!
//! Every connection driver dials upstreams through
//! [`mesh_core::Connect`], so it runs over plain TCP or mTLS alike.
//!
//! # HTTP/2 codec example
//!
//! The [`h2`] codec layer: frames split out of a read buffer without
//! copying, and their field blocks decoded by HPACK. (The [`h2`] module
//! docs show its connections.)
//!
//! ```
//! use bytes::BytesMut;
//! use mesh_core::Side;
//! use mesh_http::h2::frame::{Frame, FrameCodec, Headers, Limits, StreamId};
//! use mesh_http::h2::hpack::{self, Decoder as Hpack, Encoder as HpackEncoder};
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! // A client side writes a request head...
//! let mut block = BytesMut::new();
//! HpackEncoder::default().encode([(":method", "GET"), (":path", "/")], &mut block);
//! let mut wire = BytesMut::new();
//! let mut client = FrameCodec::new(Side::Upstream, Limits::default());
//! client.encode(Frame::from(Headers::new(StreamId::new(1), block.freeze())), &mut wire)?;
//!
//! // ...and the server side reads it back.
//! let mut server = FrameCodec::new(Side::Downstream, Limits::default());
//! let Some(Frame::Headers(headers)) = server.decode(&mut wire)? else { unreachable!() };
//! let mut fields = Vec::new();
//! Hpack::new(Side::Downstream, hpack::Limits::default()).decode(&headers.block, &mut fields)?;
//! assert_eq!(fields[1].value, "/");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod body;
pub mod grpc;
pub mod h1;
pub mod h2;

pub use body::{Body, BodyError, BodySender, Frame};
