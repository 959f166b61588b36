//! HTTP/1.1 (RFC 9112): zero-copy head parser, body framing with the
//! request-smuggling defences, sniffer, and tokio connection drivers.

mod chars;
mod chunked;
mod decode;
mod encode;
mod error;
mod framing;
mod grammar;
mod head_reader;
mod limits;
mod message;
mod parse;
mod sniff;

pub use chunked::parse_chunk_size;
pub use decode::{BodyDecoder, Frame};
pub use encode::{BodyEncoder, EncodeError, Encoded, encode_request_head, encode_response_head};
pub use error::{Error, ErrorKind, MessageKind};
pub use framing::{Framing, request_framing, response_framing};
pub use head_reader::HeadReader;
pub use limits::Limits;
pub use message::{
    Field, HeaderMap, InvalidField, Method, RequestHead, ResponseHead, reason_phrase,
};
pub use parse::{
    EMPTY_HEADER, Header, Request, Response, Status, TargetForm, Version, find, parse_fields,
    parse_request, parse_response, target_form,
};
pub use sniff::{Http1Sniffer, MAX_SNIFFED_METHOD, sniff_request_line};
