//! A server connection fed arbitrary frames (after the client preface and
//! an empty SETTINGS): it must never panic, always end once the input does
//! (paused time runs its timers out), and every byte it writes must be
//! valid frames our own decoder reads back. The service reads each request
//! body to its end and answers with trailers, so bodies, windows and both
//! directions of a stream are exercised.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mesh_core::Side;
use mesh_http::h1::HeaderMap;
use mesh_http::h2::frame::{self, FrameCodec};
use mesh_http::h2::{Config, PREFACE, Request, Response, server};
use mesh_http::{Body, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;

async fn service(req: Request) -> Response {
    let mut body = req.body;
    let mut n = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Frame::Data(d) = frame {
            n += d.len();
        }
    }
    let (mut tx, out) = Body::channel(None, Side::Internal);
    tokio::spawn(async move {
        let _ = tx.send_data(vec![b'x'; n % 70_000]).await;
        let mut t = HeaderMap::new();
        let _ = t.append("x-read", n.to_string());
        let _ = tx.send(Frame::Trailers(t)).await;
        let _ = tx.finish().await;
    });
    Response::with_status(200, out)
}

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, server_io) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            server::serve_connection(server_io, &service, Config::default()).await
        });
        let (mut rd, mut wr) = tokio::io::split(client);
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        input.extend_from_slice(data);
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        });
        let mut codec = FrameCodec::new(Side::Upstream, frame::Limits::default());
        // Our peer lets the server send frames as large as it likes.
        codec.set_max_recv_frame_size(frame::settings::MAX_MAX_FRAME_SIZE);
        let mut buf = BytesMut::new();
        loop {
            while let Some(_frame) = codec.decode(&mut buf).expect("the server writes valid frames") {}
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        assert!(buf.is_empty(), "the server wrote a partial frame");
        let _ = server.await.expect("the server task does not panic");
        let _ = writer.await;
    });
});
