//! Forwarding a gRPC call from one HTTP/2 connection to another, keeping
//! its deadline.
//!
//! [`forward`] is [`h2::forward`] with gRPC's rules on
//! top:
//!
//! - the upstream is given the time *left* of the call's deadline in
//!   `grpc-timeout`, not the time the client first asked for (a proxy
//!   that queued, retried or was slow must not hand the server more time
//!   than the client will wait);
//! - a call whose deadline passed before it could be forwarded is not
//!   forwarded: the client gets a trailers-only `DEADLINE_EXCEEDED`;
//! - the deadline bounds the whole exchange: waiting for the response
//!   head, and the response body, which is cut with `DEADLINE_EXCEEDED`
//!   trailers when it passes (the upstream stream is cancelled);
//! - a failure of the upstream stream is a gRPC status, not an HTTP error
//!   page: a refused stream or a lost connection `UNAVAILABLE`, a reset by
//!   its code ([`status_of_h2_error`]), in trailers-only form when no
//!   response has started, in trailers when one has.
//!
//! The deadline is the caller's: read it from the request with
//! [`Deadline::from_fields`] when the request arrives, and
//! [`cap`](Deadline::cap) it with the route's timeout.

use mesh_core::Side;
use mesh_resilience::clock::Clock;
use tokio::time::Instant;

use super::stream::{status_of_body_error, status_of_h2_error};
use super::{Code, Deadline, LocalReply, Status};
use crate::body::{Body, BodySender, Frame};
use crate::h1::HeaderMap;
use crate::h2::client::SendRequest;
use crate::h2::{self, Request, Response};

/// The message of the reply for a call whose deadline passed before it
/// was forwarded.
pub const EXPIRED_BEFORE_FORWARDING: &str = "mesh: deadline exceeded before forwarding";
/// The message of the reply (or trailers) for a call whose deadline passed
/// while the upstream was answering.
pub const EXPIRED_UPSTREAM: &str = "mesh: deadline exceeded waiting for the upstream";

/// Forwards a gRPC `request` upstream on `client` within `deadline`; see
/// the [module docs](self). Always returns a response for the client:
/// the upstream's, or a gRPC local reply.
pub async fn forward<C: Clock>(
    client: &SendRequest,
    mut request: Request,
    deadline: Option<&Deadline<C>>,
) -> Response {
    let Some(deadline) = deadline else {
        return match h2::forward(client, request).await {
            Ok(response) => response,
            Err(e) => LocalReply::new(status_of_h2_error(&e)).response(),
        };
    };
    if deadline.is_expired() {
        return LocalReply::deadline_exceeded(EXPIRED_BEFORE_FORWARDING).response();
    }
    let left = deadline.forward(&mut request.head.headers);
    let until = Instant::now() + left;
    let response = match tokio::time::timeout_at(until, h2::forward(client, request)).await {
        // Dropping the exchange cancelled the upstream stream.
        Err(_) => return LocalReply::deadline_exceeded(EXPIRED_UPSTREAM).response(),
        Ok(Err(e)) => return LocalReply::new(status_of_h2_error(&e)).response(),
        Ok(Ok(response)) => response,
    };
    if response.body.is_end_stream() {
        // Trailers-only, or no body at all: nothing more can be late.
        return response;
    }
    let Response { mut head, body } = response;
    // The body may be cut short with trailers: its length is not known.
    head.headers.remove("content-length");
    let (tx, out) = Body::channel(None, Side::Upstream);
    tokio::spawn(relay(body, tx, until));
    Response::new(head, out)
}

/// Relays a response body until `until`; then, or when the upstream
/// fails, ends it with trailers carrying the status. Dropping `body`
/// cancels the upstream stream.
async fn relay(mut body: Body, mut tx: BodySender, until: Instant) {
    let status = loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            () = tokio::time::sleep_until(until) => break Status::new(Code::DeadlineExceeded, EXPIRED_UPSTREAM),
        };
        let frame = match frame {
            None => {
                let _ = tx.finish().await;
                return;
            }
            Some(Ok(frame)) => frame,
            Some(Err(e)) => break status_of_body_error(&e),
        };
        let trailers = matches!(frame, Frame::Trailers(_));
        tokio::select! {
            sent = tx.send(frame) => if sent.is_err() { return },
            () = tokio::time::sleep_until(until) => if !trailers {
                break Status::new(Code::DeadlineExceeded, EXPIRED_UPSTREAM)
            },
        }
        if trailers {
            let _ = tx.finish().await;
            return;
        }
    };
    drop(body);
    let mut trailers = HeaderMap::new();
    status.write_fields(&mut trailers);
    if tx.send(Frame::Trailers(trailers)).await.is_ok() {
        let _ = tx.finish().await;
    }
}
