//! Forwarding one request upstream and its response back: what a proxy
//! calls from its [`Service`](super::Service).

use mesh_core::{Connect, ErrorClass, Side, Target};

use super::client::ClientError;
use super::hop::remove_hop_by_hop;
use super::parse::Version;
use super::pool::Pool;
use super::service::{Request, Response};

/// Sends `request` to `target` through `pool` and returns the upstream's
/// response, both without their hop-by-hop fields
/// ([`remove_hop_by_hop`]).
///
/// Bodies stream in both directions with backpressure: the request body is
/// read from the client only as fast as the upstream takes it, and the
/// response body is read from the upstream only as fast as the client
/// takes it, at most two frames queued each way. An upstream that closes early
/// is a [`ClientError`] on [`Side::Upstream`]: before the response head it
/// is the error returned here (answer it with [`local_reply`]), after it the
/// response body ends with a [`BodyError`](super::BodyError).
///
/// Upgrades and CONNECT are not forwarded here: their Upgrade field is
/// hop-by-hop, so the upstream sees an ordinary request.
pub async fn forward<C: Connect>(
    pool: &Pool<C>,
    target: &Target,
    mut request: Request,
) -> Result<Response, ClientError> {
    remove_hop_by_hop(&mut request.head.headers);
    request.head.version = Version::Http11;
    let mut response = pool.send(target, request).await?;
    remove_hop_by_hop(&mut response.head.headers);
    Ok(response)
}

impl ClientError {
    /// The status a proxy answers its client with for this failure:
    /// 503 when the upstream could not be reached (Envoy's `UF`), 500 when
    /// the fault is the request body's, 502 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ClientError::Connect(_) | ClientError::ConnectionClosed => 503,
            _ if self.side() != Side::Upstream => 500,
            _ => 502,
        }
    }
}

/// The response a proxy sends its client for a failed forward: the error's
/// status, `connection: close` is left to the driver, and a one-line body.
pub fn local_reply(error: &ClientError) -> Response {
    let body = format!("upstream error: {error}\n");
    let mut response = Response::with_status(error.status(), body);
    // A fixed, valid field: appending cannot fail.
    let _ = response
        .head
        .headers
        .append("content-type", "text/plain; charset=utf-8");
    response
}
