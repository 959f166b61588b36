//! Requests and responses with streaming bodies, and the service a server
//! connection calls.

use std::future::Future;

use super::message::{RequestHead, ResponseHead};
use super::upgrade::OnUpgrade;
use crate::body::Body;

/// A request: head, body, and (for CONNECT or an Upgrade request received
/// by the server driver) the handle to the connection after the response.
#[derive(Debug)]
pub struct Request {
    /// The head.
    pub head: RequestHead,
    /// The body.
    pub body: Body,
    pub(crate) upgrade: Option<OnUpgrade>,
}

impl Request {
    /// A request from its parts.
    pub fn new(head: RequestHead, body: impl Into<Body>) -> Self {
        Request {
            head,
            body: body.into(),
            upgrade: None,
        }
    }

    /// Takes the handle that resolves to the raw connection once the
    /// service answered 101 (to an Upgrade request) or 2xx (to CONNECT).
    /// `None` for other requests, or when already taken.
    pub fn on_upgrade(&mut self) -> Option<OnUpgrade> {
        self.upgrade.take()
    }
}

/// A response: head, body, and (from the client driver, after 101 or a
/// 2xx to CONNECT) the handle to the raw connection.
#[derive(Debug)]
pub struct Response {
    /// The head.
    pub head: ResponseHead,
    /// The body.
    pub body: Body,
    pub(crate) upgrade: Option<OnUpgrade>,
}

impl Response {
    /// A response from its parts.
    pub fn new(head: ResponseHead, body: impl Into<Body>) -> Self {
        Response {
            head,
            body: body.into(),
            upgrade: None,
        }
    }

    /// An HTTP/1.1 response with this status, its usual reason and `body`.
    pub fn with_status(status: u16, body: impl Into<Body>) -> Self {
        Response::new(ResponseHead::new(status), body)
    }

    /// Takes the handle to the upgraded connection (client side).
    pub fn on_upgrade(&mut self) -> Option<OnUpgrade> {
        self.upgrade.take()
    }
}

/// What a server connection calls for each request.
///
/// Errors are the service's to turn into responses (a proxy answers 502
/// with a response flag, not with a dropped connection). Closures
/// `Fn(Request) -> impl Future<Output = Response>` are services.
pub trait Service: Send + Sync {
    /// Answers one request.
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send;
}

impl<F, Fut> Service for F
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response> + Send,
{
    fn call(&self, request: Request) -> impl Future<Output = Response> + Send {
        self(request)
    }
}
