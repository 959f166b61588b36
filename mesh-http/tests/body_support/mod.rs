//! Shared by the HTTP/1 and HTTP/2 tests: a body that echoes another.
#![allow(dead_code)]

use mesh_core::Side;
use mesh_http::Body;

/// A body that streams `body` back frame by frame (data and trailers), and
/// aborts with its error if reading it fails.
pub fn echo(mut body: Body) -> Body {
    let (mut tx, out) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if tx.send(f).await.is_err() {
                        return;
                    }
                }
                Err(e) => return tx.abort(e).await,
            }
        }
        let _ = tx.finish().await;
    });
    out
}
