//! Forwarding a stream from one connection to another, for proxies.
//!
//! The request body flows from the downstream stream into the upstream
//! one, and the response body back, each through a pump that waits for
//! room in the destination's send buffer before it reads the source. The
//! source's receive buffer is bounded by its flow-control window, which is
//! reopened only as the pump reads: a slow reader on one side slows the
//! writer on the other, end to end, and no buffer grows beyond a window,
//! a send buffer and the write buffer.

use mesh_core::{ErrorClass, Side};

use super::Error;
use super::client::SendRequest;
use super::message::{Request, Response};
use crate::h1::remove_hop_by_hop;

/// Sends `request` (received from a downstream connection, HTTP/2 or
/// HTTP/1) upstream on `client` and returns the upstream's response,
/// whose body streams back as the downstream reads it. Connection-specific
/// fields are removed both ways (`te: trailers` is kept, as gRPC needs it).
pub async fn forward(client: &SendRequest, mut request: Request) -> Result<Response, Error> {
    remove_hop_by_hop(&mut request.head.headers);
    let mut response = client.send(request).await?;
    remove_hop_by_hop(&mut response.head.headers);
    Ok(response)
}

/// The status a proxy answers its client with when forwarding failed:
/// 503 when the upstream did not process the request (refused, closed,
/// going away: the request may be retried), 500 when the fault is ours or
/// the request's, 502 otherwise.
pub fn error_status(error: &Error) -> u16 {
    match error {
        _ if error.retry_safe() => 503,
        Error::Closed { .. } => 503,
        _ if error.side() != Side::Upstream => 500,
        _ => 502,
    }
}

/// The response a proxy sends for a failed forward: [`error_status`] and a
/// one-line body.
pub fn local_reply(error: &Error) -> Response {
    let mut response =
        Response::with_status(error_status(error), format!("upstream error: {error}\n"));
    // A fixed, valid field: appending cannot fail.
    let _ = response
        .head
        .headers
        .append("content-type", "text/plain; charset=utf-8");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let refused = Error::Unprocessed {
            side: Side::Upstream,
            reason: "refused",
        };
        assert_eq!(error_status(&refused), 503);
        let bad = Error::protocol(Side::Upstream, crate::h2::ErrorCode::PROTOCOL_ERROR, "x");
        assert_eq!(error_status(&bad), 502);
        assert_eq!(error_status(&Error::local("x")), 500);
        assert_eq!(local_reply(&bad).head.status, 502);
    }
}
