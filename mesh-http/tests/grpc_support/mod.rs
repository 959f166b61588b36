//! Shared by the gRPC tests: the interop proto's two messages encoded by
//! hand (a few varint and length-delimited fields), and the Echo service
//! of `tests/grpc/interop.proto` built on `mesh_http::grpc::server`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mesh_http::grpc::server::{ServerCall, until_deadline};
use mesh_http::grpc::{Code, Encoding, Limits, LocalReply, MessageSink, Status, Streaming};
use mesh_http::h1::HeaderMap;
use mesh_http::h2::{Request, Response};

/// `meshkit.interop.Msg`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    pub payload: Bytes,
    pub fail_code: i32,
    pub fail_message: String,
    pub hang: bool,
    pub count: u32,
    pub size: u32,
}

/// `meshkit.interop.Reply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub payload: Bytes,
    pub total: u64,
    pub messages: u32,
    pub time_remaining_ms: i64,
}

fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn put_uint(out: &mut BytesMut, field: u32, v: u64) {
    if v != 0 {
        put_varint(out, u64::from(field << 3));
        put_varint(out, v);
    }
}

fn put_bytes(out: &mut BytesMut, field: u32, v: &[u8]) {
    if !v.is_empty() {
        put_varint(out, u64::from(field << 3 | 2));
        put_varint(out, v.len() as u64);
        out.put_slice(v);
    }
}

fn varint(buf: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[0];
        *buf = &buf[1..];
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
    }
    v
}

/// The fields of a message: (number, varint value or bytes).
fn fields(data: &[u8]) -> Vec<(u32, u64, Bytes)> {
    let mut buf = data;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf);
        let (field, wire) = ((key >> 3) as u32, key & 7);
        match wire {
            0 => out.push((field, varint(&mut buf), Bytes::new())),
            2 => {
                let n = varint(&mut buf) as usize;
                out.push((field, 0, Bytes::copy_from_slice(&buf[..n])));
                buf = &buf[n..];
            }
            w => panic!("wire type {w}"),
        }
    }
    out
}

impl Msg {
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        put_bytes(&mut out, 1, &self.payload);
        put_uint(&mut out, 2, self.fail_code as i64 as u64);
        put_bytes(&mut out, 3, self.fail_message.as_bytes());
        put_uint(&mut out, 4, u64::from(self.hang));
        put_uint(&mut out, 5, u64::from(self.count));
        put_uint(&mut out, 6, u64::from(self.size));
        out.freeze()
    }

    pub fn decode(data: &[u8]) -> Msg {
        let mut m = Msg::default();
        for (field, v, b) in fields(data) {
            match field {
                1 => m.payload = b,
                2 => m.fail_code = v as i32,
                3 => m.fail_message = String::from_utf8(b.to_vec()).unwrap(),
                4 => m.hang = v != 0,
                5 => m.count = v as u32,
                6 => m.size = v as u32,
                _ => {}
            }
        }
        m
    }
}

impl Reply {
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        put_bytes(&mut out, 1, &self.payload);
        put_uint(&mut out, 2, self.total);
        put_uint(&mut out, 3, u64::from(self.messages));
        put_uint(&mut out, 4, self.time_remaining_ms as u64);
        out.freeze()
    }

    pub fn decode(data: &[u8]) -> Reply {
        let mut r = Reply::default();
        for (field, v, b) in fields(data) {
            match field {
                1 => r.payload = b,
                2 => r.total = v,
                3 => r.messages = v as u32,
                4 => r.time_remaining_ms = v as i64,
                _ => {}
            }
        }
        r
    }
}

/// Non-ASCII on purpose: grpc-message is percent-encoded UTF-8 on the wire
/// (the same text as peer.py's).
pub const ERROR_MESSAGE: &str = "nicht gefunden: Größe ≠ 3 — ✓ 100% \u{1F600}";

/// The status a `Msg` asks for, if any.
fn failure(m: &Msg) -> Option<Status> {
    (m.fail_code != 0).then(|| {
        Status::new(
            Code::from_u32(m.fail_code as u32).unwrap(),
            m.fail_message.clone(),
        )
    })
}

/// The Echo service on our server helpers, answering as peer.py's does.
pub async fn echo(request: Request) -> Response {
    let (call, mut messages) = match ServerCall::accept(request, Limits::default()) {
        Ok(call) => call,
        Err(refusal) => return refusal,
    };
    let method = String::from_utf8(call.method().to_vec()).unwrap();
    let gzip = call
        .head()
        .headers
        .get("x-want-gzip")
        .is_some_and(|v| v == "1");
    let encoding = if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    };
    let remaining = call
        .deadline()
        .map_or(-1, |d| d.remaining().as_millis() as i64);
    match method.as_str() {
        "/meshkit.interop.Echo/Unary" => {
            let deadline = call.deadline().copied();
            until_deadline(deadline.as_ref(), async move {
                let msg = match one(&mut messages).await {
                    Ok(m) => m,
                    Err(status) => return LocalReply::new(status).response(),
                };
                if msg.hang {
                    std::future::pending::<()>().await;
                }
                if let Some(status) = failure(&msg) {
                    return LocalReply::new(status).response();
                }
                let (mut sink, response) = call.respond(encoding);
                let reply = Reply {
                    payload: msg.payload,
                    time_remaining_ms: remaining,
                    ..Reply::default()
                };
                tokio::spawn(async move {
                    let _ = sink.send(reply.encode()).await;
                    let _ = sink.finish_with(&Status::ok(), HeaderMap::new()).await;
                });
                response
            })
            .await
        }
        "/meshkit.interop.Echo/ServerStream" => {
            let msg = match one(&mut messages).await {
                Ok(m) => m,
                Err(status) => return LocalReply::new(status).response(),
            };
            let (mut sink, response) = call.respond(encoding);
            tokio::spawn(async move {
                for i in 0..msg.count {
                    let reply = Reply {
                        payload: Bytes::from(vec![(i % 256) as u8; msg.size as usize]),
                        ..Reply::default()
                    };
                    if sink.send(reply.encode()).await.is_err() {
                        return;
                    }
                }
                let status = failure(&msg).unwrap_or_else(Status::ok);
                let _ = sink.finish_with(&status, HeaderMap::new()).await;
            });
            response
        }
        "/meshkit.interop.Echo/ClientStream" => {
            let (mut total, mut count) = (0u64, 0u32);
            loop {
                match messages.message().await {
                    Ok(Some(m)) => {
                        let m = Msg::decode(&m);
                        total += m.payload.len() as u64;
                        count += 1;
                        if let Some(status) = failure(&m) {
                            return LocalReply::new(status).response();
                        }
                    }
                    Ok(None) => break,
                    Err(status) => return LocalReply::new(status).response(),
                }
            }
            let (mut sink, response) = call.respond(encoding);
            let reply = Reply {
                total,
                messages: count,
                ..Reply::default()
            };
            tokio::spawn(async move {
                let _ = sink.send(reply.encode()).await;
                let _ = sink.finish_with(&Status::ok(), HeaderMap::new()).await;
            });
            response
        }
        "/meshkit.interop.Echo/Bidi" => {
            let (sink, response) = call.respond(encoding);
            tokio::spawn(bidi(messages, sink));
            response
        }
        _ => LocalReply::unimplemented(format!("no method {method}")).response(),
    }
}

async fn bidi(mut messages: Streaming, mut sink: MessageSink) {
    let status = loop {
        match messages.message().await {
            Ok(Some(m)) => {
                let m = Msg::decode(&m);
                if let Some(status) = failure(&m) {
                    break status;
                }
                let reply = Reply {
                    payload: m.payload,
                    ..Reply::default()
                };
                if let Err(status) = sink.send(reply.encode()).await {
                    break status;
                }
            }
            Ok(None) => break Status::ok(),
            Err(status) => break status,
        }
    };
    let _ = sink.finish_with(&status, HeaderMap::new()).await;
}

/// Exactly one request message.
async fn one(messages: &mut Streaming) -> Result<Msg, Status> {
    let m = messages
        .message()
        .await?
        .ok_or_else(|| Status::new(Code::Internal, "no request message"))?;
    if messages.message().await?.is_some() {
        return Err(Status::new(Code::Internal, "more than one request message"));
    }
    Ok(Msg::decode(&m))
}

/// How long the forwarder of the tests counts as spent for a request, and
/// the route timeout, from its metadata.
pub fn proxy_knobs(headers: &HeaderMap) -> (Duration, Option<Duration>) {
    let ms = |name| {
        headers
            .get(name)
            .map(|v| Duration::from_millis(std::str::from_utf8(v).unwrap().parse().unwrap()))
    };
    (
        ms("x-mesh-hold-ms").unwrap_or_default(),
        ms("x-mesh-route-timeout-ms"),
    )
}
