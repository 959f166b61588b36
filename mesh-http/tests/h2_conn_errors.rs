//! A scripted peer (Python `h2`'s `hpack` and `hyperframe`, in
//! `tests/h2/malformed.py`) breaks one rule of RFC 9113 per case against
//! our server, and we check the answer: the frame (RST_STREAM for a
//! stream error, GOAWAY for a connection error) and the exact error code.
// Test helpers unwrap: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;

use mesh_http::h2::{Config, Request, Response, server};
use mesh_testkit::{require_python_module, unique_loopback};
use tokio::net::TcpListener;

/// What the server must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// RST_STREAM with this code on this stream.
    Reset(&'static str, u32),
    /// GOAWAY with this code.
    GoAway(&'static str),
    /// A PING acknowledgement (the case's frames were fine or ignored).
    PingAck,
    /// A response with this status.
    Response(u32),
}

use Expect::{GoAway, PingAck, Reset, Response as Resp};

const CASES: &[(&str, Expect)] = &[
    ("bad_preface", GoAway("PROTOCOL_ERROR")),
    ("first_frame_not_settings", GoAway("PROTOCOL_ERROR")),
    ("settings_bad_length", GoAway("FRAME_SIZE_ERROR")),
    ("settings_ack_with_payload", GoAway("FRAME_SIZE_ERROR")),
    ("settings_on_stream", GoAway("PROTOCOL_ERROR")),
    ("settings_enable_push_2", GoAway("PROTOCOL_ERROR")),
    ("settings_window_too_large", GoAway("FLOW_CONTROL_ERROR")),
    ("settings_frame_size_too_small", GoAway("PROTOCOL_ERROR")),
    (
        "settings_window_overflows_stream",
        GoAway("FLOW_CONTROL_ERROR"),
    ),
    ("ping_answered", PingAck),
    ("ping_bad_length", GoAway("FRAME_SIZE_ERROR")),
    ("ping_on_stream", GoAway("PROTOCOL_ERROR")),
    ("unknown_frame_ignored", PingAck),
    ("data_on_idle_stream", GoAway("PROTOCOL_ERROR")),
    ("rst_on_idle_stream", GoAway("PROTOCOL_ERROR")),
    ("window_update_on_idle_stream", GoAway("PROTOCOL_ERROR")),
    ("headers_on_even_stream", GoAway("PROTOCOL_ERROR")),
    ("headers_stream_id_goes_down", GoAway("PROTOCOL_ERROR")),
    ("data_on_half_closed_stream", Reset("STREAM_CLOSED", 1)),
    ("data_after_end_stream", GoAway("STREAM_CLOSED")),
    ("headers_after_end_stream", GoAway("STREAM_CLOSED")),
    ("data_after_client_reset", Reset("STREAM_CLOSED", 1)),
    ("headers_after_client_reset", Reset("STREAM_CLOSED", 1)),
    ("too_many_streams", Reset("REFUSED_STREAM", 201)),
    ("push_promise_from_client", GoAway("PROTOCOL_ERROR")),
    ("data_on_stream_0", GoAway("PROTOCOL_ERROR")),
    ("headers_on_stream_0", GoAway("PROTOCOL_ERROR")),
    ("rst_on_stream_0", GoAway("PROTOCOL_ERROR")),
    ("rst_bad_length", GoAway("FRAME_SIZE_ERROR")),
    ("window_update_bad_length", GoAway("FRAME_SIZE_ERROR")),
    ("priority_bad_length", Reset("FRAME_SIZE_ERROR", 1)),
    ("priority_self_dependency", Reset("PROTOCOL_ERROR", 1)),
    // A stream error by the frame layer, but the HEADERS frame's field
    // block is lost with it, so HPACK state cannot be trusted: a
    // connection error (RFC 9113 §5.4.1 allows it).
    ("headers_self_dependency", GoAway("PROTOCOL_ERROR")),
    ("padding_too_long", GoAway("PROTOCOL_ERROR")),
    ("data_too_large", Reset("FRAME_SIZE_ERROR", 1)),
    ("headers_too_large", GoAway("FRAME_SIZE_ERROR")),
    ("window_update_zero_on_connection", GoAway("PROTOCOL_ERROR")),
    ("window_update_zero_on_stream", Reset("PROTOCOL_ERROR", 1)),
    (
        "window_update_overflows_connection",
        GoAway("FLOW_CONTROL_ERROR"),
    ),
    (
        "window_update_overflows_stream",
        Reset("FLOW_CONTROL_ERROR", 1),
    ),
    ("data_beyond_stream_window", Reset("FLOW_CONTROL_ERROR", 1)),
    (
        "data_beyond_connection_window",
        GoAway("FLOW_CONTROL_ERROR"),
    ),
    ("continuation_joined", Resp(200)),
    ("continuation_without_headers", GoAway("PROTOCOL_ERROR")),
    ("data_inside_field_block", GoAway("PROTOCOL_ERROR")),
    ("continuation_on_other_stream", GoAway("PROTOCOL_ERROR")),
    ("unknown_frame_inside_field_block", GoAway("PROTOCOL_ERROR")),
    ("hpack_invalid_index", GoAway("COMPRESSION_ERROR")),
    ("hpack_table_size_too_large", GoAway("COMPRESSION_ERROR")),
    ("hpack_bomb", Reset("PROTOCOL_ERROR", 1)),
    ("uppercase_field_name", Reset("PROTOCOL_ERROR", 1)),
    ("missing_method", Reset("PROTOCOL_ERROR", 1)),
    ("missing_scheme", Reset("PROTOCOL_ERROR", 1)),
    ("missing_path", Reset("PROTOCOL_ERROR", 1)),
    ("empty_path", Reset("PROTOCOL_ERROR", 1)),
    ("path_with_space", Reset("PROTOCOL_ERROR", 1)),
    ("duplicate_path", Reset("PROTOCOL_ERROR", 1)),
    ("unknown_pseudo_header", Reset("PROTOCOL_ERROR", 1)),
    ("status_in_request", Reset("PROTOCOL_ERROR", 1)),
    ("pseudo_after_regular", Reset("PROTOCOL_ERROR", 1)),
    ("connection_header", Reset("PROTOCOL_ERROR", 1)),
    ("transfer_encoding", Reset("PROTOCOL_ERROR", 1)),
    ("te_not_trailers", Reset("PROTOCOL_ERROR", 1)),
    ("value_with_newline", Reset("PROTOCOL_ERROR", 1)),
    ("host_differs_from_authority", Reset("PROTOCOL_ERROR", 1)),
    ("content_length_short", Reset("PROTOCOL_ERROR", 1)),
    ("content_length_long", Reset("PROTOCOL_ERROR", 1)),
    ("trailers_with_pseudo_header", Reset("PROTOCOL_ERROR", 1)),
    ("trailers_without_end_stream", Reset("PROTOCOL_ERROR", 1)),
];

/// The numeric code of an error code name.
fn code(name: &str) -> u32 {
    (0..=0xd)
        .find(|&c| mesh_http::h2::ErrorCode::from_u32(c).name() == Some(name))
        .unwrap()
}

/// Our server: `/` answers at once; `/wait` never answers and never reads
/// its body, so its stream stays open.
async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind((unique_loopback(), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        stream_window: 65_535,
        ..Config::default()
    };
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = |req: Request| async move {
                    if req.head.path.as_deref() == Some(&b"/wait"[..]) {
                        let _body = req.body;
                        std::future::pending::<()>().await;
                    }
                    Response::with_status(200, "ok")
                };
                let _ = server::serve_connection(socket, &service, config).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_rule_gets_its_error_code() {
    let python = require_python_module("hyperframe");
    require_python_module("hpack");
    let addr = start_server().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/malformed.py");
    let names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .args(names)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: HashMap<String, serde_json::Value> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["case"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    let mut wrong = Vec::new();
    for (name, expect) in CASES {
        let v = &got[*name];
        let frame = v["frame"].as_str().unwrap();
        let c = v["code"].as_u64().map(|c| c as u32);
        let stream = v["stream"].as_u64().map(|s| s as u32);
        let ok = match *expect {
            Reset(n, s) => frame == "RST_STREAM" && c == Some(code(n)) && stream == Some(s),
            GoAway(n) => frame == "GOAWAY" && c == Some(code(n)),
            PingAck => frame == "PING_ACK",
            Resp(status) => frame == "RESPONSE" && c == Some(status),
        };
        if !ok {
            wrong.push(format!("{name}: expected {expect:?}, got {v}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
