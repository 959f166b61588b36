//! Every hardening limit of an HTTP/2 server connection, attacked by a
//! raw frame-level peer (our frame codec and HPACK encoder over an
//! in-memory pipe), with tokio's paused clock standing in for time: rapid
//! reset, MadeYouReset, CONTINUATION floods (frames and bytes), an HPACK
//! bomb, SETTINGS, PING and empty-DATA floods, a peer that never reads its
//! acknowledgements, a peer that never opens its window (stream and
//! connection), too many streams, and SETTINGS timeouts.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h2::frame::{
    self, Continuation, Data, Frame, FrameCodec, GoAway, Headers, Ping, RstStream, Settings,
    StreamId, WindowUpdate,
};
use mesh_http::h2::hpack::Encoder;
use mesh_http::h2::{
    Config, Error, ErrorCode, Limits, PREFACE, RateLimit, Request, Response, server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

/// A client that writes whatever frames it is told to.
struct Attacker {
    io: DuplexStream,
    codec: FrameCodec,
    hpack: Encoder,
    rbuf: BytesMut,
}

/// `/` answers at once with `size` bytes (the query, if any, or 2);
/// `/wait` never answers and never reads.
async fn service(req: Request) -> Response {
    let path = req.head.path.clone().unwrap_or_default();
    if &path[..] == b"/wait" {
        let _body = req.body;
        std::future::pending::<()>().await;
    }
    let size = std::str::from_utf8(&path[1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    Response::with_status(200, Bytes::from(vec![b'x'; size]))
}

impl Attacker {
    /// Connects to a fresh server with `config` and exchanges SETTINGS
    /// (ours: `settings`).
    async fn start(
        config: Config,
        settings: Settings,
        pipe: usize,
    ) -> (Attacker, JoinHandle<Result<(), Error>>) {
        let (a, b) = tokio::io::duplex(pipe);
        let server =
            tokio::spawn(async move { server::serve_connection(b, &service, config).await });
        let mut attacker = Attacker {
            io: a,
            codec: FrameCodec::new(Side::Upstream, frame::Limits::default()),
            hpack: Encoder::default(),
            rbuf: BytesMut::new(),
        };
        attacker.io.write_all(PREFACE).await.unwrap();
        attacker.send(vec![settings.into()]).await;
        match attacker.next().await {
            Some(Frame::Settings(s)) if !s.ack => {}
            other => panic!("expected the server's SETTINGS, got {other:?}"),
        }
        attacker.send(vec![Settings::ack().into()]).await;
        (attacker, server)
    }

    async fn send(&mut self, frames: Vec<Frame>) {
        let mut out = BytesMut::new();
        for f in frames {
            // Raw encoding: no checks, so broken frames go out as they are.
            f.encode(&mut out);
        }
        self.io.write_all(&out).await.unwrap();
    }

    fn headers(&mut self, id: u32, path: &str, end_stream: bool) -> Frame {
        let mut block = BytesMut::new();
        self.hpack.encode(
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "test"),
                (":path", path),
            ],
            &mut block,
        );
        let mut h = Headers::new(StreamId::new(id), block.freeze());
        h.end_stream = end_stream;
        h.into()
    }

    /// The next frame from the server; `None` when it closed.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.codec.decode(&mut self.rbuf).unwrap() {
                return Some(f);
            }
            if self.io.read_buf(&mut self.rbuf).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// Reads until a GOAWAY (panics if the connection closes first).
    async fn goaway(&mut self) -> GoAway {
        loop {
            match self.next().await {
                Some(Frame::GoAway(g)) => return g,
                Some(_) => {}
                None => panic!("closed without GOAWAY"),
            }
        }
    }

    /// Reads until a RST_STREAM or GOAWAY, whichever comes first.
    async fn reset_or_goaway(&mut self) -> Frame {
        loop {
            match self.next().await {
                Some(f @ (Frame::RstStream(_) | Frame::GoAway(_))) => return f,
                Some(_) => {}
                None => panic!("closed without RST_STREAM or GOAWAY"),
            }
        }
    }

    /// Sends a PING and reads until its acknowledgement: proof that the
    /// connection is still up and everything before it was processed.
    async fn ping_pong(&mut self, payload: [u8; 8]) {
        self.send(vec![Ping::new(payload).into()]).await;
        loop {
            match self.next().await {
                Some(Frame::Ping(p)) if p.ack && p.payload == payload => return,
                Some(Frame::GoAway(g)) => panic!("GOAWAY instead of PING ACK: {g:?}"),
                Some(_) => {}
                None => panic!("closed instead of PING ACK"),
            }
        }
    }
}

fn config(limits: Limits) -> Config {
    Config {
        limits,
        ..Config::default()
    }
}

fn rate(max: u32, secs: u64) -> RateLimit {
    RateLimit::new(max, Duration::from_secs(secs))
}

/// A HEADERS frame for stream 1 without END_HEADERS, then `count`
/// CONTINUATION frames carrying `block`, none of them ending the block.
fn unfinished_headers(a: &mut Attacker, count: usize, block: Bytes) -> Vec<Frame> {
    let Frame::Headers(mut h) = a.headers(1, "/", true) else {
        unreachable!()
    };
    h.end_headers = false;
    let mut frames: Vec<Frame> = vec![h.into()];
    for _ in 0..count {
        frames.push(
            Continuation {
                stream_id: StreamId::new(1),
                block: block.clone(),
                end_headers: false,
            }
            .into(),
        );
    }
    frames
}

fn calm(g: &GoAway) {
    assert_eq!(g.code, ErrorCode::ENHANCE_YOUR_CALM, "{g:?}");
}

async fn server_error(server: JoinHandle<Result<(), Error>>) -> Error {
    server.await.unwrap().unwrap_err()
}

#[tokio::test(start_paused = true)]
async fn rapid_reset_is_capped_per_interval() {
    let limits = Limits {
        resets: rate(10, 1),
        ..Limits::default()
    };
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    let mut id = 1;
    // Ten resets per second for three seconds: within the limit.
    for round in 0..3u8 {
        let mut frames = Vec::new();
        for _ in 0..10 {
            frames.push(a.headers(id, "/wait", false));
            frames.push(RstStream::new(StreamId::new(id), ErrorCode::CANCEL).into());
            id += 2;
        }
        a.send(frames).await;
        a.ping_pong([round; 8]).await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    // Then a burst: the eleventh reset within a second ends it.
    let mut frames = Vec::new();
    for _ in 0..11 {
        frames.push(a.headers(id, "/wait", false));
        frames.push(RstStream::new(StreamId::new(id), ErrorCode::CANCEL).into());
        id += 2;
    }
    a.send(frames).await;
    let g = a.goaway().await;
    calm(&g);
    assert!(String::from_utf8_lossy(&g.debug_data).contains("stream resets"));
    assert_eq!(g.last_stream_id, StreamId::new(id - 2));
    let err = server_error(server).await;
    assert_eq!(err.code(), Some(ErrorCode::ENHANCE_YOUR_CALM));
}

#[tokio::test(start_paused = true)]
async fn made_you_reset_counts_the_resets_the_peer_provokes() {
    let limits = Limits {
        resets: rate(6, 10),
        ..Limits::default()
    };
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    let mut id = 1;
    let mut provoked = 0;
    // Three ways to make the server reset a stream, twice each: a window
    // overflow, DATA after END_STREAM, a malformed request. Each one is a
    // legitimate stream error, answered with RST_STREAM...
    for _ in 0..2 {
        let open = a.headers(id, "/wait", false);
        let overflow = WindowUpdate::new(StreamId::new(id), (1 << 31) - 1).into();
        a.send(vec![open, overflow]).await;
        id += 2;
        let open = a.headers(id, "/wait", true);
        let late = Data::new(StreamId::new(id), Bytes::from_static(b"x")).into();
        a.send(vec![open, late]).await;
        id += 2;
        let mut block = BytesMut::new();
        a.hpack
            .encode([(":method", "GET"), (":path", "/")], &mut block);
        let mut bad = Headers::new(StreamId::new(id), block.freeze());
        bad.end_stream = true;
        a.send(vec![bad.into()]).await;
        id += 2;
        provoked += 3;
    }
    for _ in 0..provoked {
        assert!(matches!(a.reset_or_goaway().await, Frame::RstStream(_)));
    }
    // ...until the seventh within the interval.
    let open = a.headers(id, "/wait", false);
    let overflow = WindowUpdate::new(StreamId::new(id), (1 << 31) - 1).into();
    a.send(vec![open, overflow]).await;
    let Frame::GoAway(g) = a.reset_or_goaway().await else {
        panic!("expected GOAWAY")
    };
    calm(&g);
    server_error(server).await;
}

#[tokio::test(start_paused = true)]
async fn continuation_floods_are_capped_by_frames_and_bytes() {
    let limits = Limits {
        max_continuation_frames: 8,
        max_header_block_size: 32 * 1024,
        ..Limits::default()
    };
    // Empty CONTINUATION frames: no bytes, only work.
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    let frames = unfinished_headers(&mut a, 9, Bytes::new());
    a.send(frames).await;
    let g = a.goaway().await;
    calm(&g);
    assert!(String::from_utf8_lossy(&g.debug_data).contains("CONTINUATION"));
    server_error(server).await;

    // Large CONTINUATION frames: the block passes the byte cap.
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    let frames = unfinished_headers(&mut a, 3, Bytes::from(vec![0x80u8 | 2; 16_000]));
    a.send(frames).await;
    let g = a.goaway().await;
    calm(&g);
    assert!(String::from_utf8_lossy(&g.debug_data).contains("exceeds the limit of 32768"));
    server_error(server).await;
}

#[tokio::test(start_paused = true)]
async fn an_hpack_bomb_fails_only_its_stream() {
    let limits = Limits {
        max_header_list_size: 16 * 1024,
        ..Limits::default()
    };
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    // A 3 000-byte value enters the dynamic table, then 50 references to
    // it: a block of 3 KB that decodes to 150 KB.
    let big = "b".repeat(3000);
    let mut block = BytesMut::new();
    a.hpack.encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "test"),
            (":path", "/"),
            ("x-bomb", big.as_str()),
        ],
        &mut block,
    );
    block.extend_from_slice(&[0xbe; 50]);
    let mut h = Headers::new(StreamId::new(1), block.freeze());
    h.end_stream = true;
    a.send(vec![h.into()]).await;
    let Frame::RstStream(r) = a.reset_or_goaway().await else {
        panic!("expected RST_STREAM")
    };
    assert_eq!(
        (r.stream_id, r.code),
        (StreamId::new(1), ErrorCode::PROTOCOL_ERROR)
    );
    // The decoder stayed in step with the encoder: the next request uses
    // the table entry the bomb added (once), and is served.
    let mut block = BytesMut::new();
    a.hpack.encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "test"),
            (":path", "/7"),
            ("x-bomb", big.as_str()),
        ],
        &mut block,
    );
    let mut h = Headers::new(StreamId::new(3), block.freeze());
    h.end_stream = true;
    a.send(vec![h.into()]).await;
    let mut body = 0;
    loop {
        match a.next().await.unwrap() {
            Frame::Headers(h) => assert_eq!(h.stream_id, StreamId::new(3)),
            Frame::Data(d) => {
                body += d.data.len();
                if d.end_stream {
                    break;
                }
            }
            Frame::GoAway(g) => panic!("{g:?}"),
            _ => {}
        }
    }
    assert_eq!(body, 7);
    drop(a);
    server.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn settings_ping_and_empty_data_floods() {
    let limits = Limits {
        settings: rate(5, 1),
        pings: rate(5, 1),
        empty_data: rate(5, 1),
        ..Limits::default()
    };
    // SETTINGS: five per second pass (the handshake's counts too), then...
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    a.send(vec![Settings::default().into(); 4]).await;
    a.ping_pong([1; 8]).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    a.send(vec![Settings::default().into(); 6]).await;
    calm(&a.goaway().await);
    server_error(server).await;

    // PING: the pongs above used the budget too.
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    for i in 0..5 {
        a.ping_pong([i; 8]).await;
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    for i in 0..5 {
        a.ping_pong([i; 8]).await;
    }
    a.send(vec![Ping::new([9; 8]).into()]).await;
    calm(&a.goaway().await);
    server_error(server).await;

    // Empty DATA frames without END_STREAM.
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 1 << 20).await;
    let mut frames = vec![a.headers(1, "/wait", false)];
    for _ in 0..6 {
        frames.push(Data::new(StreamId::new(1), Bytes::new()).into());
    }
    a.send(frames).await;
    let g = a.goaway().await;
    calm(&g);
    assert!(String::from_utf8_lossy(&g.debug_data).contains("empty DATA"));
    server_error(server).await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_does_not_read_its_acknowledgements() {
    let limits = Limits {
        pings: rate(100_000, 1),
        max_pending_control: 50,
        ..Limits::default()
    };
    // A pipe of 256 bytes that the attacker never reads from again.
    let (mut a, server) = Attacker::start(config(limits), Settings::default(), 256).await;
    let mut out = BytesMut::new();
    for i in 0..200u8 {
        Frame::from(Ping::new([i; 8])).encode(&mut out);
    }
    // The server stops reading once it gives up, and then closes: the
    // write may fail.
    let _ = a.io.write_all(&out).await;
    let err = server_error(server).await;
    assert_eq!(err.code(), Some(ErrorCode::ENHANCE_YOUR_CALM), "{err}");
    assert!(err.to_string().contains("wait unread"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_window_that_never_opens_times_out() {
    let window_timeout = Duration::from_secs(5);
    let base = Config {
        send_window_timeout: window_timeout,
        ..Config::default()
    };
    // The stream window: the attacker allows 0 bytes per stream.
    let no_window = Settings {
        initial_window_size: Some(0),
        ..Settings::default()
    };
    let (mut a, server) = Attacker::start(base, no_window, 1 << 20).await;
    let h = a.headers(1, "/100000", true);
    a.send(vec![h]).await;
    let start = Instant::now();
    let Frame::RstStream(r) = a.reset_or_goaway().await else {
        panic!("expected RST_STREAM")
    };
    assert_eq!((r.stream_id, r.code), (StreamId::new(1), ErrorCode::CANCEL));
    assert!(start.elapsed() >= window_timeout, "{:?}", start.elapsed());
    // The connection is fine otherwise.
    a.ping_pong([7; 8]).await;
    drop(a);
    server.await.unwrap().unwrap();

    // The connection window: streams may take 1 MiB, but the connection
    // never gets more than the RFC's 65 535.
    let big_streams = Settings {
        initial_window_size: Some(1 << 20),
        ..Settings::default()
    };
    let (mut a, server) = Attacker::start(base, big_streams, 1 << 20).await;
    let h = a.headers(1, "/200000", true);
    a.send(vec![h]).await;
    let start = Instant::now();
    let mut received = 0;
    let g = loop {
        match a.next().await.unwrap() {
            Frame::Data(d) => received += d.data.len(),
            Frame::GoAway(g) => break g,
            _ => {}
        }
    };
    assert_eq!(received, 65_535);
    calm(&g);
    assert!(start.elapsed() >= window_timeout);
    let err = server_error(server).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn streams_beyond_the_limit_are_refused() {
    let c = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let (mut a, server) = Attacker::start(c, Settings::default(), 1 << 20).await;
    let frames = vec![
        a.headers(1, "/wait", true),
        a.headers(3, "/wait", true),
        a.headers(5, "/wait", true),
    ];
    a.send(frames).await;
    let Frame::RstStream(r) = a.reset_or_goaway().await else {
        panic!("expected RST_STREAM")
    };
    assert_eq!(
        (r.stream_id, r.code),
        (StreamId::new(5), ErrorCode::REFUSED_STREAM)
    );
    // Once a stream ends, there is room again.
    a.send(vec![
        RstStream::new(StreamId::new(1), ErrorCode::CANCEL).into(),
    ])
    .await;
    let h = a.headers(7, "/", true);
    a.send(vec![h]).await;
    loop {
        match a.next().await.unwrap() {
            Frame::Headers(h) if h.stream_id == StreamId::new(7) => break,
            Frame::RstStream(r) => panic!("{r:?}"),
            _ => {}
        }
    }
    // Leaving with stream 3 open cuts it short.
    drop(a);
    let err = server_error(server).await;
    assert!(matches!(err, Error::Closed { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn settings_must_be_exchanged_in_time() {
    let c = Config {
        settings_timeout: Duration::from_secs(3),
        ..Config::default()
    };
    // A client that sends its SETTINGS but never acknowledges ours.
    let (a, b) = tokio::io::duplex(1 << 16);
    let (_incoming, connection) = server::handshake(b, c);
    let server = tokio::spawn(connection.run());
    let mut a = Attacker {
        io: a,
        codec: FrameCodec::new(Side::Upstream, frame::Limits::default()),
        hpack: Encoder::default(),
        rbuf: BytesMut::new(),
    };
    a.io.write_all(PREFACE).await.unwrap();
    a.send(vec![Settings::default().into()]).await;
    let start = Instant::now();
    let g = a.goaway().await;
    assert_eq!(g.code, ErrorCode::SETTINGS_TIMEOUT);
    assert!(start.elapsed() >= Duration::from_secs(3));
    assert!(matches!(server_error(server).await, Error::Timeout { .. }));

    // A client that connects and says nothing at all.
    let (a, b) = tokio::io::duplex(1 << 16);
    let (_incoming, connection) = server::handshake(b, c);
    let server = tokio::spawn(connection.run());
    let mut a = Attacker {
        io: a,
        codec: FrameCodec::new(Side::Upstream, frame::Limits::default()),
        hpack: Encoder::default(),
        rbuf: BytesMut::new(),
    };
    assert_eq!(a.goaway().await.code, ErrorCode::SETTINGS_TIMEOUT);
    server_error(server).await;
}
