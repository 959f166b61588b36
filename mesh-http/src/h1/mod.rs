//! HTTP/1.1 (RFC 9112): zero-copy head parser, body framing with the
//! request-smuggling defences, sniffer, and tokio connection drivers.

mod body;
mod chars;
mod chunked;
mod client;
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

pub use body::{Body, BodyError, BodySender, ReceiverGone};
pub use chunked::parse_chunk_size;
pub use client::{ClientConfig, ClientError, Connection, SendRequest, handshake};
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
