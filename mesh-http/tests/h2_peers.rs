//! Real peers: curl and nghttp (both on libnghttp2) talk h2c with prior
//! knowledge to a minimal server built from our frame codec and HPACK;
//! Python's hyperframe and hpack build frames and header blocks we must
//! read, and read the ones we write.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h2::ErrorCode;
use mesh_http::h2::frame::{
    self, Continuation, Data, Frame, FrameCodec, GoAway, Headers, Ping, PrioritySpec, Settings,
    StreamId, WindowUpdate,
};
use mesh_http::h2::hpack::{self, Decoder as HpackDecoder, Encoder as HpackEncoder, Field};
use mesh_testkit::{listen_addr, require_binary, require_python_module};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Decoder, Encoder};

/// What the minimal server saw of the one request it answered.
#[derive(Debug, Default)]
struct Seen {
    fields: Vec<Field>,
    body: usize,
    frame_types: Vec<String>,
}

fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .map(|f| &f.value[..])
}

async fn write(sock: &mut TcpStream, codec: &mut FrameCodec, frames: Vec<Frame>) {
    let mut out = BytesMut::new();
    for f in frames {
        codec.encode(f, &mut out).unwrap();
    }
    sock.write_all(&out).await.unwrap();
}

/// Accepts one h2c connection, answers its one request with our
/// encoder, and returns what it decoded, once the client goes away.
async fn serve_one(listener: TcpListener) -> Seen {
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut codec = FrameCodec::new(Side::Downstream, frame::Limits::default()).expect_preface();
    let mut decoder = HpackDecoder::new(Side::Downstream, hpack::Limits::default());
    let mut encoder = HpackEncoder::default();
    // Large windows so that a big upload is never blocked on us.
    write(
        &mut sock,
        &mut codec,
        vec![
            Settings {
                initial_window_size: Some(1 << 24),
                max_concurrent_streams: Some(10),
                ..Settings::default()
            }
            .into(),
            WindowUpdate::new(StreamId::CONNECTION, 1 << 24).into(),
        ],
    )
    .await;
    let mut buf = BytesMut::new();
    let mut seen = Seen::default();
    let mut block = BytesMut::new();
    let mut answered = false;
    let mut stream = StreamId::CONNECTION;
    loop {
        let frame = match codec.decode(&mut buf).unwrap() {
            Some(f) => f,
            None => {
                if sock.read_buf(&mut buf).await.unwrap() == 0 {
                    return seen;
                }
                continue;
            }
        };
        seen.frame_types.push(frame.head().kind.to_string());
        let mut end_stream = false;
        match frame {
            Frame::Settings(s) if !s.ack => {
                if let Some(size) = s.header_table_size {
                    encoder.set_peer_max_table_size(size as usize);
                }
                if let Some(size) = s.max_frame_size {
                    codec.set_max_send_frame_size(size);
                }
                write(&mut sock, &mut codec, vec![Settings::ack().into()]).await;
            }
            Frame::Headers(h) => {
                stream = h.stream_id;
                block.extend_from_slice(&h.block);
                end_stream = h.end_stream;
                if h.end_headers {
                    decoder
                        .decode(&block.split().freeze(), &mut seen.fields)
                        .unwrap();
                }
            }
            Frame::Continuation(c) => {
                block.extend_from_slice(&c.block);
                if c.end_headers {
                    decoder
                        .decode(&block.split().freeze(), &mut seen.fields)
                        .unwrap();
                }
            }
            Frame::Data(d) => {
                seen.body += d.data.len();
                end_stream = d.end_stream;
            }
            Frame::Ping(p) if !p.ack => write(&mut sock, &mut codec, vec![p.to_ack().into()]).await,
            Frame::GoAway(_) => return seen,
            _ => {}
        }
        if end_stream && !answered {
            answered = true;
            let path = field(&seen.fields, ":path").unwrap_or_default().to_vec();
            let mut head = BytesMut::new();
            encoder.encode(
                [
                    (&b":status"[..], &b"200"[..]),
                    (b"content-type", b"text/plain"),
                    (b"x-request-path", &path),
                    (b"x-body-bytes", seen.body.to_string().as_bytes()),
                ],
                &mut head,
            );
            let mut headers = Headers::new(stream, head.freeze());
            headers.end_stream = false;
            let mut data = Data::new(stream, Bytes::from_static(b"hello from meshkit\n"));
            data.end_stream = true;
            data.padding = Some(8);
            write(&mut sock, &mut codec, vec![headers.into(), data.into()]).await;
        }
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind(listen_addr()).await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_posts_to_our_frames_and_reads_our_headers() {
    let curl = require_binary("curl");
    let (listener, addr) = listener().await;
    let server = tokio::spawn(serve_one(listener));
    let body = vec![b'z'; 200_000];
    let client = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(curl)
            .args(["--http2-prior-knowledge", "-sS", "-i", "--max-time", "20"])
            .args(["-H", "authorization: Bearer token"])
            .args(["-H", &format!("x-long: {}", "X".repeat(20_000))])
            .args(["--data-binary", "@-"])
            .arg(format!("http://{addr}/upload?x=1"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        child.wait_with_output().unwrap()
    });
    let out = client.await.unwrap();
    let seen = server.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("HTTP/2 200"), "{stdout}");
    assert!(stdout.contains("x-request-path: /upload?x=1"), "{stdout}");
    assert!(stdout.contains("x-body-bytes: 200000"), "{stdout}");
    assert!(stdout.ends_with("hello from meshkit\n"), "{stdout}");
    let f = &seen.fields;
    assert_eq!(field(f, ":method"), Some(&b"POST"[..]));
    assert_eq!(field(f, ":scheme"), Some(&b"http"[..]));
    assert_eq!(field(f, ":authority"), Some(addr.to_string().as_bytes()));
    assert_eq!(field(f, "authorization"), Some(&b"Bearer token"[..]));
    assert_eq!(field(f, "x-long").map(<[u8]>::len), Some(20_000));
    assert!(field(f, "user-agent").is_some_and(|v| v.starts_with(b"curl/")));
    assert_eq!(seen.body, 200_000);
    // A 20 kB header ('X' is 8 bits in Huffman) does not fit in one 16 kB
    // frame: curl continued it.
    assert!(
        seen.frame_types.iter().any(|t| t == "CONTINUATION"),
        "{:?}",
        seen.frame_types
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_reads_our_frames_and_hpack() {
    let nghttp = require_binary("nghttp");
    let (listener, addr) = listener().await;
    let server = tokio::spawn(serve_one(listener));
    let client = tokio::task::spawn_blocking(move || {
        Command::new(nghttp)
            .args(["-v", "-t", "20", "-H", "x-test: nghttp"])
            .arg(format!("http://{addr}/index.html"))
            .output()
            .unwrap()
    });
    let out = client.await.unwrap();
    let seen = server.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nghttp failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // nghttp's own decoder printed our response headers and body.
    assert!(stdout.contains(":status: 200"), "{stdout}");
    assert!(stdout.contains("x-request-path: /index.html"), "{stdout}");
    assert!(stdout.contains("hello from meshkit"), "{stdout}");
    // nghttp counts the pad length byte in padlen: 1 + our 8.
    assert!(
        stdout.contains("; END_STREAM | PADDED\n          (padlen=9)"),
        "our padded DATA frame: {stdout}"
    );
    assert_eq!(field(&seen.fields, "x-test"), Some(&b"nghttp"[..]));
    assert_eq!(field(&seen.fields, ":path"), Some(&b"/index.html"[..]));
}

fn python(script: &str, stdin: &str) -> String {
    let py = require_python_module("hyperframe");
    require_python_module("hpack");
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PYTHON_WRITES: &str = r#"
import sys
from hyperframe.frame import *
from hpack import Encoder, NeverIndexedHeaderTuple
e = Encoder()
e.header_table_size = 8192
block = e.encode([(':method', 'POST'), (':scheme', 'https'), (':path', '/upload'),
                  (':authority', 'example.com'), NeverIndexedHeaderTuple('authorization', 'Bearer abc'),
                  ('x-custom', 'v' * 50)], huffman=True)
block2 = e.encode([(':method', 'GET'), (':path', '/pushed'), ('x-custom', 'v' * 50)], huffman=True)
s = SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 8192,
                               SettingsFrame.INITIAL_WINDOW_SIZE: 1000000,
                               SettingsFrame.MAX_FRAME_SIZE: 32768})
h = HeadersFrame(1, data=block[:10], pad_length=7, depends_on=0, stream_weight=41, exclusive=True)
h.flags.add('PADDED'); h.flags.add('PRIORITY')
c = ContinuationFrame(1, data=block[10:]); c.flags.add('END_HEADERS')
d = DataFrame(1, data=b'x' * 1000, pad_length=20); d.flags.add('PADDED'); d.flags.add('END_STREAM')
pp = PushPromiseFrame(1, promised_stream_id=2, data=block2, pad_length=3)
pp.flags.add('PADDED'); pp.flags.add('END_HEADERS')
frames = [s, h, c, d, PriorityFrame(3, depends_on=1, stream_weight=7), RstStreamFrame(3, error_code=8), pp,
          PingFrame(0, opaque_data=b'12345678'), WindowUpdateFrame(0, window_increment=12345),
          # hyperframe 6.1 writes ExtensionFrame with a length of 0 whatever
          # the body, so the extension frame is built by hand.
          bytes.fromhex('0000030b0300000005') + b'ext',
          GoAwayFrame(0, last_stream_id=1, error_code=11, additional_data=b'done')]
sys.stdout.write(b''.join(f if isinstance(f, bytes) else f.serialize() for f in frames).hex())
"#;

#[test]
fn we_read_what_python_hyperframe_and_hpack_write() {
    let hex = python(PYTHON_WRITES, "");
    let wire: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut codec = FrameCodec::new(Side::Upstream, frame::Limits::default());
    let mut buf = BytesMut::from(&wire[..]);
    let mut frames = Vec::new();
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        frames.push(f);
    }
    assert!(buf.is_empty());
    assert_eq!(frames.len(), 11);
    let Frame::Settings(s) = &frames[0] else {
        panic!("{:?}", frames[0])
    };
    assert_eq!(
        (s.header_table_size, s.initial_window_size, s.max_frame_size),
        (Some(8192), Some(1_000_000), Some(32768))
    );
    let Frame::Headers(h) = &frames[1] else {
        panic!()
    };
    assert_eq!(h.padding, Some(7));
    assert_eq!(
        h.priority,
        Some(PrioritySpec {
            dependency: StreamId::CONNECTION,
            exclusive: true,
            weight: 41
        })
    );
    assert!(!h.end_headers);
    let Frame::Continuation(c) = &frames[2] else {
        panic!()
    };
    assert!(c.end_headers);
    let mut block = h.block.to_vec();
    block.extend_from_slice(&c.block);
    let mut decoder = HpackDecoder::new(
        Side::Upstream,
        hpack::Limits {
            max_table_size: 8192,
            ..Default::default()
        },
    );
    let mut fields = Vec::new();
    decoder.decode(&Bytes::from(block), &mut fields).unwrap();
    let names: Vec<&[u8]> = fields.iter().map(|f| &f.name[..]).collect();
    assert_eq!(
        names,
        [
            &b":method"[..],
            b":scheme",
            b":path",
            b":authority",
            b"authorization",
            b"x-custom"
        ]
    );
    assert!(fields[4].never_indexed && fields[4].value == "Bearer abc");
    assert!(!fields[5].never_indexed && fields[5].value.len() == 50);
    let Frame::Data(d) = &frames[3] else { panic!() };
    assert_eq!(
        (
            d.data.len(),
            d.padding,
            d.end_stream,
            d.flow_controlled_len()
        ),
        (1000, Some(20), true, 1021)
    );
    assert!(
        matches!(&frames[4], Frame::Priority(p) if p.spec.dependency == StreamId::new(1) && p.spec.weight == 7)
    );
    assert!(matches!(&frames[5], Frame::RstStream(r) if r.code == ErrorCode::CANCEL));
    let Frame::PushPromise(p) = &frames[6] else {
        panic!()
    };
    assert_eq!(
        (p.promised_id, p.padding, p.end_headers),
        (StreamId::new(2), Some(3), true)
    );
    let mut pushed = Vec::new();
    decoder.decode(&p.block, &mut pushed).unwrap();
    assert_eq!(pushed[2], fields[5], "x-custom came from the dynamic table");
    assert_eq!(frames[7], Frame::Ping(Ping::new(*b"12345678")));
    assert_eq!(
        frames[8],
        Frame::WindowUpdate(WindowUpdate::new(StreamId::CONNECTION, 12345))
    );
    assert!(
        matches!(&frames[9], Frame::Unknown(u) if u.head.kind.as_u8() == 0xb && u.payload == "ext")
    );
    let Frame::GoAway(g) = &frames[10] else {
        panic!()
    };
    assert_eq!(
        (g.last_stream_id, g.code, &g.debug_data[..]),
        (StreamId::new(1), ErrorCode::ENHANCE_YOUR_CALM, &b"done"[..])
    );
}

const PYTHON_READS: &str = r#"
import sys, json
from hyperframe.frame import *
from hpack import Decoder, NeverIndexedHeaderTuple
data = bytes.fromhex(sys.stdin.read())
pos, out, dec, block = 0, [], Decoder(), b''
dec.max_header_list_size = 1 << 20
while pos < len(data):
    f, length = Frame.parse_frame_header(memoryview(data[pos:pos + 9]))
    f.parse_body(memoryview(data[pos + 9:pos + 9 + length]))
    pos += 9 + length
    item = {'type': type(f).__name__, 'stream': f.stream_id, 'flags': sorted(f.flags)}
    if isinstance(f, (HeadersFrame, ContinuationFrame)):
        block += f.data
        if 'END_HEADERS' in f.flags:
            item['headers'] = [[h[0], len(h[1]), isinstance(h, NeverIndexedHeaderTuple)] for h in dec.decode(block)]
            block = b''
    if isinstance(f, DataFrame):
        item['len'] = len(f.data)
        item['pad'] = f.pad_length
    if isinstance(f, SettingsFrame):
        item['settings'] = {str(k): v for k, v in f.settings.items()}
    if isinstance(f, GoAwayFrame):
        item['code'] = f.error_code
    out.append(item)
print(json.dumps(out))
"#;

#[test]
fn python_hyperframe_and_hpack_read_what_we_write() {
    let mut encoder = HpackEncoder::default();
    let mut block = BytesMut::new();
    let big = "b".repeat(30_000);
    encoder.encode(
        [
            (":method", "GET"),
            (":path", "/"),
            ("authorization", "Basic eHk6eHk="),
            ("x-big", big.as_str()),
            ("x-big", big.as_str()),
        ],
        &mut block,
    );
    let mut headers = Headers::new(StreamId::new(1), block.freeze());
    headers.padding = Some(4);
    headers.priority = Some(PrioritySpec {
        dependency: StreamId::CONNECTION,
        exclusive: false,
        weight: 100,
    });
    let mut data = Data::new(StreamId::new(1), Bytes::from(vec![1u8; 5000]));
    data.padding = Some(255);
    data.end_stream = true;
    let frames: Vec<Frame> = vec![
        Settings {
            header_table_size: Some(0),
            enable_push: Some(false),
            ..Settings::default()
        }
        .into(),
        headers.into(),
        data.into(),
        Ping::new([0; 8]).to_ack().into(),
        Continuation {
            stream_id: StreamId::new(3),
            block: Bytes::new(),
            end_headers: false,
        }
        .into(),
        GoAway::new(StreamId::new(1), ErrorCode::NO_ERROR).into(),
    ];
    let mut codec = FrameCodec::new(Side::Downstream, frame::Limits::default());
    let mut wire = BytesMut::new();
    for f in frames {
        codec.encode(f, &mut wire).unwrap();
    }
    let hex: String = wire.iter().map(|b| format!("{b:02x}")).collect();
    let out: serde_json::Value = serde_json::from_str(&python(PYTHON_READS, &hex)).unwrap();
    let items = out.as_array().unwrap();
    let types: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    // The 60 kB block was split into HEADERS and CONTINUATION frames.
    let n = types.len();
    assert_eq!(types[..2], ["SettingsFrame", "HeadersFrame"]);
    assert!(
        n >= 8 && types[2..n - 4].iter().all(|t| *t == "ContinuationFrame"),
        "{types:?}"
    );
    assert_eq!(
        types[n - 4..],
        ["DataFrame", "PingFrame", "ContinuationFrame", "GoAwayFrame"]
    );
    assert_eq!(items[0]["settings"]["1"], 0);
    assert_eq!(items[0]["settings"]["2"], 0);
    assert_eq!(items[1]["flags"], serde_json::json!(["PADDED", "PRIORITY"]));
    let last = &items[n - 5];
    assert_eq!(last["flags"], serde_json::json!(["END_HEADERS"]));
    let fields = &last["headers"];
    assert_eq!(fields[0], serde_json::json!([":method", 3, false]));
    assert_eq!(fields[2], serde_json::json!(["authorization", 14, true]));
    assert_eq!(fields[3], serde_json::json!(["x-big", 30_000, false]));
    assert_eq!(fields[4], serde_json::json!(["x-big", 30_000, false]));
    let data = &items[n - 4];
    assert_eq!(
        (data["len"].as_u64(), data["pad"].as_u64()),
        (Some(5000), Some(255))
    );
    assert_eq!(data["flags"], serde_json::json!(["END_STREAM", "PADDED"]));
    assert_eq!(items[n - 3]["flags"], serde_json::json!(["ACK"]));
    assert_eq!(items[n - 1]["code"], 0);
}
