//! HTTP/2: the frame codec (RFC 9113), HPACK (RFC 7541), the client
//! preface sniffer, and connections for both roles with flow control,
//! message validation and hardening.
//!
//! # Layers
//!
//! - **Codec**: [`frame`] (every frame type, [`frame::FrameCodec`] for
//!   `tokio_util` framing with zero-copy payloads), [`hpack`] (the header
//!   compression [`hpack::Decoder`] with its table and header-list limits
//!   and the [`hpack::Encoder`]), [`PrefaceSniffer`] (h2c detection) and
//!   [`ErrorCode`].
//! - **Connections**: [`server::handshake`] yields incoming streams
//!   (request head, streaming body, trailers) and a [`server::Respond`]
//!   handle for each; [`server::serve_connection`] runs a [`server::Service`]
//!   like HTTP/1's driver does. [`client::handshake`] (or
//!   [`client::connect`] over any [`mesh_core::Connect`]) gives a
//!   [`client::SendRequest`] that opens multiplexed streams. Both return a
//!   [`Connection`] task that owns the socket. [`forward`] moves a stream
//!   from one connection to another for proxies.
//! - **Messages**: [`RequestHead`] and [`ResponseHead`] carry the
//!   pseudo-header fields as typed fields and the regular fields in the
//!   [`HeaderMap`](crate::h1::HeaderMap) HTTP/1 uses; bodies are the shared
//!   [`Body`](crate::body::Body), trailers its last frame. Each stream is
//!   classified ([`StreamClass`]): gRPC is a property of a stream, decided
//!   by its `content-type`, never of a connection.
//!
//! # What a connection enforces
//!
//! - The preface and SETTINGS exchange, with [`Config::settings_timeout`]
//!   for the peer's SETTINGS and its acknowledgement of ours
//!   (SETTINGS_TIMEOUT).
//! - Stream states (RFC 9113 §5.1) with the exact codes: frames on idle
//!   streams and stream ids that go backwards are PROTOCOL_ERROR, frames
//!   after END_STREAM STREAM_CLOSED, frames after our RST_STREAM ignored.
//! - Flow control both ways (§5.2, §6.9): DATA beyond a window is
//!   FLOW_CONTROL_ERROR; our windows reopen only as the application reads,
//!   so the memory of unread bodies is bounded by [`Config::stream_window`]
//!   per stream and [`Config::connection_window`] per connection; our
//!   sending waits for the peer's windows and for [`Config::write_buffer`].
//! - SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond are REFUSED_STREAM
//!   (safe to retry); a client waits for a slot.
//! - GOAWAY with graceful drain: a server's shutdown sends GOAWAY twice
//!   (the largest id, a PING, then the last id it processes); streams
//!   above a peer's GOAWAY fail as unprocessed (retry-safe).
//! - PING answers, trailers, and message validation (§8): pseudo-header
//!   fields present, once, first and valid; lower-case names; no
//!   connection-specific fields; `te` only `trailers`; `content-length`
//!   equal to the DATA received. HEADERS and CONTINUATION are assembled
//!   here, within [`Limits::max_header_block_size`].
//! - Hardening ([`Limits`]): rapid reset (CVE-2023-44487) and MadeYouReset
//!   (CVE-2025-8671) share a rate limit on resets; CONTINUATION floods, HPACK
//!   bombs (the decoded header list cap, per stream), SETTINGS, PING and
//!   empty-DATA floods, unread acknowledgements, and a peer that never
//!   opens its window ([`Config::send_window_timeout`]) each end in
//!   ENHANCE_YOUR_CALM (or a reset of the one stream).
//!
//! # Example: a server and a client on one in-memory connection
//!
//! ```
//! use mesh_http::h2::{client, server, Config, Request, RequestHead, Response};
//! use mesh_http::h1::Method;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! tokio::spawn(async move {
//!     let echo = |req: Request| async move {
//!         let grpc = req.head.class().is_grpc();
//!         Response::with_status(200, if grpc { "grpc" } else { "http" })
//!     };
//!     server::serve_connection(b, &echo, Config::default()).await
//! });
//! let (sender, connection) = client::handshake(a, Config::default());
//! tokio::spawn(connection.run());
//! let mut head = RequestHead::new(Method::POST, "http", "example.com", "/svc/Method")?;
//! head.headers.append("content-type", "application/grpc")?;
//! let response = sender.send(Request::new(head, "payload")).await?;
//! assert_eq!(response.head.status, 200);
//! let (body, _trailers) = response.body.collect(1024).await?;
//! assert_eq!(&body[..], b"grpc");
//! # Ok(()) }
//! ```

mod classify;
pub mod client;
mod config;
mod conn;
mod driver;
mod error;
mod error_code;
mod forward;
pub mod frame;
pub mod hpack;
mod message;
mod preface;
pub mod server;
mod shared;

pub use classify::{StreamClass, classify, classify_content_type};
pub use config::{Config, DEFAULT_WINDOW, Limits, MAX_WINDOW, RateLimit};
pub use conn::ConnStats;
pub use driver::{Connection, StatsHandle};
pub use error::Error;
pub use error_code::ErrorCode;
pub use forward::{error_status, forward, local_reply};
pub use message::{Request, RequestHead, Response, ResponseHead};
pub use preface::{PREFACE, PrefaceSniffer};
