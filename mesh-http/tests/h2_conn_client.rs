//! Our client against a scripted server (our frame codec and HPACK over an
//! in-memory pipe) that answers in ways a real server might, good and bad:
//! malformed responses, DATA before the head, a content-length that lies,
//! PUSH_PROMISE, REFUSED_STREAM, GOAWAY with streams on both sides of its
//! last id, informational responses, trailers, and a tiny window.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use mesh_http::h1::Method;
use mesh_http::h2::frame::{
    self, Data, Frame, FrameCodec, GoAway, Headers, PushPromise, RstStream, Settings, StreamId,
    WindowUpdate,
};
use mesh_http::h2::hpack::{
    Decoder as HpackDecoder, Encoder as HpackEncoder, Limits as HpackLimits,
};
use mesh_http::h2::{Config, Error, ErrorCode, Request, RequestHead, client};
use mesh_http::{BodyError, Frame as BodyFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::codec::Decoder;

struct FakeServer {
    io: DuplexStream,
    codec: FrameCodec,
    hpack: HpackEncoder,
    decoder: HpackDecoder,
    rbuf: BytesMut,
}

impl FakeServer {
    /// A client connected to a fake server that sends `settings`.
    async fn start(settings: Settings) -> (FakeServer, client::SendRequest) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (sender, connection) = client::handshake(a, Config::default());
        tokio::spawn(connection.run());
        let mut s = FakeServer {
            io: b,
            codec: FrameCodec::new(Side::Downstream, frame::Limits::default()).expect_preface(),
            hpack: HpackEncoder::default(),
            decoder: HpackDecoder::new(Side::Downstream, HpackLimits::default()),
            rbuf: BytesMut::new(),
        };
        s.send(vec![settings.into()]).await;
        (s, sender)
    }

    async fn send(&mut self, frames: Vec<Frame>) {
        let mut out = BytesMut::new();
        for f in frames {
            f.encode(&mut out);
        }
        self.io.write_all(&out).await.unwrap();
    }

    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.codec.decode(&mut self.rbuf).unwrap() {
                if let Frame::Settings(s) = &f {
                    if !s.ack {
                        // The client may have closed already.
                        let mut out = BytesMut::new();
                        Frame::from(Settings::ack()).encode(&mut out);
                        let _ = self.io.write_all(&out).await;
                    }
                }
                return Some(f);
            }
            if self.io.read_buf(&mut self.rbuf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// Reads until a request head; returns its stream and path.
    async fn request(&mut self) -> (StreamId, String) {
        loop {
            if let Frame::Headers(h) = self.next().await.unwrap() {
                let mut fields = Vec::new();
                self.decoder.decode(&h.block, &mut fields).unwrap();
                let path = fields
                    .iter()
                    .find(|f| &f.name[..] == b":path")
                    .map(|f| String::from_utf8_lossy(&f.value).into_owned())
                    .unwrap_or_default();
                return (h.stream_id, path);
            }
        }
    }

    /// Reads until RST_STREAM or GOAWAY.
    async fn reset_or_goaway(&mut self) -> Frame {
        loop {
            if let f @ (Frame::RstStream(_) | Frame::GoAway(_)) = self.next().await.unwrap() {
                return f;
            }
        }
    }

    fn head(&mut self, id: StreamId, fields: &[(&str, &str)], end_stream: bool) -> Frame {
        let mut block = BytesMut::new();
        self.hpack.encode(fields.iter().copied(), &mut block);
        let mut h = Headers::new(id, block.freeze());
        h.end_stream = end_stream;
        h.into()
    }
}

fn data(id: StreamId, bytes: &'static [u8], end_stream: bool) -> Frame {
    let mut d = Data::new(id, Bytes::from_static(bytes));
    d.end_stream = end_stream;
    d.into()
}

fn get(path: &str) -> Request {
    Request::new(
        RequestHead::new(Method::GET, "http", "fake", path.to_owned()).unwrap(),
        (),
    )
}

fn protocol_error(e: &Error) -> bool {
    matches!(e, Error::Protocol { side: Side::Upstream, code, .. } if *code == ErrorCode::PROTOCOL_ERROR)
}

#[tokio::test]
async fn malformed_responses_reset_their_stream() {
    let (mut s, sender) = FakeServer::start(Settings::default()).await;
    let call = tokio::spawn(async move {
        let r1 = sender.send(get("/upper")).await;
        let r2 = sender.send(get("/data-first")).await;
        let r3 = sender.send(get("/length")).await.unwrap();
        let body = r3.body.collect(100).await;
        let r4 = sender.send(get("/ok")).await.unwrap();
        (r1, r2, body, r4.body.collect(100).await.unwrap())
    });
    let (id, _) = s.request().await;
    let f = s.head(id, &[(":status", "200"), ("X-Upper", "1")], true);
    s.send(vec![f]).await;
    assert_eq!(
        s.reset_or_goaway().await,
        RstStream::new(id, ErrorCode::PROTOCOL_ERROR).into()
    );
    let (id, _) = s.request().await;
    s.send(vec![data(id, b"early", false)]).await;
    assert_eq!(
        s.reset_or_goaway().await,
        RstStream::new(id, ErrorCode::PROTOCOL_ERROR).into()
    );
    let (id, _) = s.request().await;
    let f = s.head(id, &[(":status", "200"), ("content-length", "10")], false);
    s.send(vec![f, data(id, b"short", true)]).await;
    assert_eq!(
        s.reset_or_goaway().await,
        RstStream::new(id, ErrorCode::PROTOCOL_ERROR).into()
    );
    let (id, _) = s.request().await;
    let f = s.head(id, &[(":status", "200")], false);
    s.send(vec![f, data(id, b"fine", true)]).await;
    let (r1, r2, body, ok) = call.await.unwrap();
    assert!(protocol_error(&r1.unwrap_err()));
    assert!(protocol_error(&r2.unwrap_err()));
    let Err(BodyError::Http2(e)) = body else {
        panic!("{body:?}")
    };
    assert!(protocol_error(&e), "{e}");
    assert_eq!(&ok.0[..], b"fine");
}

#[tokio::test]
async fn push_promise_and_push_settings_end_the_connection() {
    let (mut s, sender) = FakeServer::start(Settings::default()).await;
    let call = tokio::spawn(async move { sender.send(get("/")).await });
    let (id, _) = s.request().await;
    let mut block = BytesMut::new();
    s.hpack
        .encode([(":method", "GET"), (":path", "/pushed")], &mut block);
    let promise = PushPromise {
        stream_id: id,
        promised_id: StreamId::new(2),
        block: block.freeze(),
        end_headers: true,
        padding: None,
    };
    s.send(vec![promise.into()]).await;
    let Frame::GoAway(g) = s.reset_or_goaway().await else {
        panic!()
    };
    assert_eq!(g.code, ErrorCode::PROTOCOL_ERROR);
    assert!(protocol_error(&call.await.unwrap().unwrap_err()));

    let push = Settings {
        enable_push: Some(true),
        ..Settings::default()
    };
    let (mut s, _sender) = FakeServer::start(push).await;
    let Frame::GoAway(g) = s.reset_or_goaway().await else {
        panic!()
    };
    assert_eq!(g.code, ErrorCode::PROTOCOL_ERROR);
}

#[tokio::test]
async fn refused_and_goaway_streams_are_retry_safe() {
    let (mut s, sender) = FakeServer::start(Settings::default()).await;
    let s1 = sender.clone();
    let first = tokio::spawn(async move { s1.send(get("/1")).await });
    let (id1, _) = s.request().await;
    let s2 = sender.clone();
    let second = tokio::spawn(async move { s2.send(get("/2")).await });
    let (id2, _) = s.request().await;
    let s3 = sender.clone();
    let third = tokio::spawn(async move { s3.send(get("/3")).await });
    let (id3, _) = s.request().await;
    // Stream 2 refused; then GOAWAY with stream 1 as the last processed:
    // stream 3 was not processed either; stream 1 completes.
    s.send(vec![
        RstStream::new(id2, ErrorCode::REFUSED_STREAM).into(),
        GoAway::new(id1, ErrorCode::NO_ERROR).into(),
    ])
    .await;
    let e2 = second.await.unwrap().unwrap_err();
    assert!(e2.retry_safe(), "{e2}");
    let e3 = third.await.unwrap().unwrap_err();
    assert!(e3.retry_safe(), "{e3}");
    assert!(matches!(e3, Error::Unprocessed { .. }), "{e3}");
    assert_ne!(id3, id1);
    // New requests are refused at once, safely.
    let e4 = sender.send(get("/4")).await.unwrap_err();
    assert!(e4.retry_safe());
    assert!(sender.is_closed());
    let f = s.head(id1, &[(":status", "200")], false);
    s.send(vec![f, data(id1, b"one", true)]).await;
    let r = first.await.unwrap().unwrap();
    assert_eq!(&r.body.collect(10).await.unwrap().0[..], b"one");
}

#[tokio::test]
async fn informational_responses_then_trailers() {
    let (mut s, sender) = FakeServer::start(Settings::default()).await;
    let call = tokio::spawn(async move {
        let r = sender.send(get("/")).await.unwrap();
        let status = r.head.status;
        let mut body = r.body;
        let mut frames = Vec::new();
        while let Some(f) = body.frame().await {
            frames.push(f.unwrap());
        }
        (status, frames)
    });
    let (id, _) = s.request().await;
    let early = s.head(id, &[(":status", "103"), ("link", "</a>")], false);
    let cont = s.head(id, &[(":status", "100")], false);
    let fin = s.head(
        id,
        &[(":status", "200"), ("content-type", "application/grpc")],
        false,
    );
    let trailers = s.head(id, &[("grpc-status", "0"), ("grpc-message", "ok")], true);
    s.send(vec![
        early,
        cont,
        fin,
        data(id, b"\0\0\0\0\0", false),
        trailers,
    ])
    .await;
    let (status, frames) = call.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].data().unwrap(), &b"\0\0\0\0\0"[..]);
    let BodyFrame::Trailers(t) = &frames[1] else {
        panic!()
    };
    assert_eq!(t.get("grpc-status").unwrap(), "0");
}

#[tokio::test]
async fn the_client_keeps_to_a_tiny_window() {
    // The server allows 10 bytes per stream and opens more 10 at a time.
    let tiny = Settings {
        initial_window_size: Some(10),
        ..Settings::default()
    };
    let (mut s, sender) = FakeServer::start(tiny).await;
    let call = tokio::spawn(async move {
        let head = RequestHead::new(Method::POST, "http", "fake", "/").unwrap();
        sender
            .send(Request::new(head, Bytes::from(vec![b'z'; 35])))
            .await
    });
    let (id, _) = s.request().await;
    let mut got = 0;
    loop {
        match s.next().await.unwrap() {
            Frame::Data(d) => {
                assert!(
                    d.data.len() <= 10,
                    "{} bytes beyond the window",
                    d.data.len()
                );
                got += d.data.len();
                if d.end_stream {
                    break;
                }
                if d.data.len() == 10 {
                    s.send(vec![WindowUpdate::new(id, 10).into()]).await;
                }
            }
            Frame::RstStream(r) => panic!("{r:?}"),
            _ => {}
        }
    }
    assert_eq!(got, 35);
    let f = s.head(id, &[(":status", "204")], true);
    s.send(vec![f]).await;
    assert_eq!(call.await.unwrap().unwrap().head.status, 204);
}
