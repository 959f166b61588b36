//! HTTP/1.1 (RFC 9112): a zero-copy head parser, body framing with the
//! request-smuggling defences, the sniffer, and tokio connection drivers.
//!
//! # Layers
//!
//! - **Parsing** ([`parse_request`], [`parse_response`], [`parse_fields`],
//!   [`parse_chunk_size`]): borrow from the buffer into caller-provided
//!   [`Header`] slots, return [`Status::Partial`] for any valid prefix, and
//!   a typed [`Error`] at the first impossible byte. The head scanner is at
//!   least as fast as httparse on its own benchmark inputs while refusing
//!   more (bare LF by default, obs-fold, whitespace before the colon, NUL,
//!   targets that do not fit the method), within [`Limits`].
//! - **Framing** ([`request_framing`], [`response_framing`]): RFC 9112
//!   §6.3 with every smuggling defence as its own [`ErrorKind`] and the
//!   status to answer with ([`Error::status`]).
//! - **Owned decoding** ([`HeadReader`], [`BodyDecoder`], [`BodyEncoder`],
//!   and the `tokio_util` codecs [`ServerCodec`] / [`ClientCodec`] for
//!   `Framed`): heads and bodies split from a `BytesMut` as `Bytes` without
//!   copying, linear in the bytes received however they are cut.
//! - **Connections**: [`serve_connection`] (keep-alive, pipelining,
//!   `Expect: 100-continue`, head timeout, Upgrade/CONNECT), [`handshake`]
//!   and [`Pool`] (per-host cap, idle timeout, over any
//!   [`mesh_core::Connect`]), and [`forward`] for proxies (hop-by-hop
//!   fields removed, backpressure both ways, upstream failures as
//!   [`ClientError`]s on [`mesh_core::Side::Upstream`]).
//! - **Detection**: [`Http1Sniffer`] for [`mesh_core::Detector`].
//!
//! # Example: a forwarding proxy
//!
//! ```no_run
//! use mesh_core::{DetectConfig, Detector, Protocol, Target, TcpConnector};
//! use mesh_http::h1::{
//!     forward, local_reply, serve_connection, Http1Sniffer, Pool, PoolConfig, Request,
//!     ServerConfig,
//! };
//!
//! # async fn run(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr)
//! #     -> std::io::Result<()> {
//! let detector = Detector::new(DetectConfig::default()).with(Http1Sniffer);
//! let pool = Pool::new(TcpConnector::default(), PoolConfig::default());
//! let target = Target::new(upstream);
//! loop {
//!     let (socket, _) = listener.accept().await?;
//!     let (detector, pool, target) = (detector.clone(), pool.clone(), target.clone());
//!     tokio::spawn(async move {
//!         let Ok((stream, outcome)) = detector.detect(socket).await else { return };
//!         if outcome.protocol != Protocol::Http1 {
//!             return; // opaque TCP would be copied here
//!         }
//!         let proxy = |request: Request| {
//!             let (pool, target) = (pool.clone(), target.clone());
//!             async move {
//!                 match forward(&pool, &target, request).await {
//!                     Ok(response) => response,
//!                     Err(error) => local_reply(&error),
//!                 }
//!             }
//!         };
//!         let _ = serve_connection(stream, &proxy, &ServerConfig::default()).await;
//!     });
//! }
//! # }
//! ```

pub(crate) mod chars;
mod chunked;
mod client;
mod codec;
mod connection;
mod decode;
mod encode;
mod error;
mod forward;
mod framing;
mod grammar;
mod head_reader;
mod hop;
mod limits;
mod message;
mod parse;
mod pool;
mod pump;
mod server;
mod service;
mod sniff;
mod upgrade;

pub use crate::body::{Body, BodyError, BodySender, ReceiverGone};
pub use chunked::parse_chunk_size;
pub use client::{ClientConfig, ClientError, Connection, SendRequest, handshake};
pub use codec::{ClientCodec, CodecError, Message, ServerCodec};
pub use connection::{
    ConnectionOptions, connection_options, expects_continue, is_upgrade_response, keeps_alive,
    wants_upgrade,
};
pub use decode::{BodyDecoder, Frame};
pub use encode::{BodyEncoder, EncodeError, Encoded, encode_request_head, encode_response_head};
pub use error::{Error, ErrorKind, MessageKind};
pub use forward::{forward, local_reply};
pub use framing::{Framing, request_framing, response_framing};
pub use head_reader::HeadReader;
pub use hop::remove_hop_by_hop;
pub use limits::Limits;
pub use message::{
    Field, HeaderMap, InvalidField, Method, RequestHead, ResponseHead, reason_phrase,
};
pub use parse::{
    EMPTY_HEADER, Header, ParsedRequest, ParsedResponse, Status, TargetForm, Version, find,
    parse_fields, parse_request, parse_response, target_form,
};
pub use pool::{Pool, PoolConfig};
pub use server::{ServerConfig, ServerError, serve_connection};
pub use service::{Request, Response, Service};
pub use sniff::{Http1Sniffer, MAX_SNIFFED_METHOD, sniff_request_line};
pub use upgrade::{Io, OnUpgrade, UpgradeFailed, Upgraded};
