//! gRPC status, `grpc-timeout` and local replies: property tests, and the
//! replies carried through the HTTP/2 frame codec and HPACK.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::grpc::status::{decode_message, encode_message};
use mesh_http::grpc::{Code, LocalReply, ResponseStatus, Status, StatusSource, timeout};
use mesh_http::h2::frame::{Frame, FrameCodec, Limits, StreamId};
use mesh_http::h2::hpack::{self, Field};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn local_replies_are_one_headers_frame_with_end_stream() {
    let mut encoder = hpack::Encoder::default();
    let mut decoder = hpack::Decoder::new(Side::Upstream, hpack::Limits::default());
    let mut server = FrameCodec::new(Side::Downstream, Limits::default());
    let mut client = FrameCodec::new(Side::Upstream, Limits::default());
    let replies = [
        LocalReply::unavailable("no healthy upstream"),
        LocalReply::resource_exhausted("upstream overflow"),
        LocalReply::deadline_exceeded("deadline exceeded after 1.5 s"),
        LocalReply::unimplemented("no route for /pkg.Svc/Method"),
        LocalReply::permission_denied("RBAC: access denied — für dich nicht"),
    ];
    let mut wire = BytesMut::new();
    for (i, reply) in replies.iter().enumerate() {
        let frame = reply.headers_frame(StreamId::new(2 * i as u32 + 1), &mut encoder);
        server.encode(Frame::from(frame), &mut wire).unwrap();
    }
    for (i, reply) in replies.iter().enumerate() {
        let Some(Frame::Headers(h)) = client.decode(&mut wire).unwrap() else {
            panic!("a HEADERS frame")
        };
        assert_eq!(h.stream_id, StreamId::new(2 * i as u32 + 1));
        assert!(
            h.end_stream && h.end_headers,
            "trailers-only: END_STREAM on HEADERS"
        );
        let mut fields = Vec::new();
        decoder.decode(&h.block, &mut fields).unwrap();
        assert_eq!(fields[0], Field::new(":status", "200"));
        assert_eq!(fields[1], Field::new("content-type", "application/grpc"));
        let read = ResponseStatus::read(200, &fields, None);
        assert_eq!(read.source, StatusSource::Headers);
        assert_eq!(read.status, reply.status);
    }
    assert!(wire.is_empty());
}

#[test]
fn details_pass_through_hpack_untouched() {
    let details = Bytes::from_static(b"CA0SBm5vcGUhIRoOCgx0eXBlLmdvb2dsZQ");
    let reply = LocalReply::new(Status {
        code: Code::FailedPrecondition,
        message: "100% \u{1F600}".into(),
        details: Some(details.clone()),
    });
    let mut block = BytesMut::new();
    hpack::Encoder::default().encode(&reply.fields(), &mut block);
    let mut fields = Vec::new();
    hpack::Decoder::new(Side::Upstream, hpack::Limits::default())
        .decode(&block.freeze(), &mut fields)
        .unwrap();
    let status = Status::from_fields(&fields).unwrap();
    assert_eq!(status.details.as_ref(), Some(&details));
    assert_eq!(status, reply.status);
    assert!(fields.iter().any(|f| f.value == "100%25 %F0%9F%98%80"));
}

/// The longest timeout `grpc-timeout` can say: 99 999 999 hours.
const MAX_TIMEOUT_SECS: u64 = 99_999_999 * 3600;

#[test]
fn longer_timeouts_are_clamped() {
    for d in [Duration::from_secs(MAX_TIMEOUT_SECS + 1), Duration::MAX] {
        assert_eq!(timeout::encode(d).as_str(), "99999999H");
    }
}

/// A valid `grpc-timeout` value.
fn timeout_value() -> impl Strategy<Value = String> {
    "[0-9]{1,8}[HMSmun]"
}

proptest! {
    #[test]
    fn timeout_encode_parse_round_trip(nanos in any::<u64>(), secs in 0u64..=MAX_TIMEOUT_SECS) {
        for d in [Duration::from_nanos(nanos), Duration::from_secs(secs)] {
            let value = timeout::encode(d);
            prop_assert!(value.as_bytes().len() <= 9);
            let back = timeout::parse(value.as_bytes()).unwrap();
            // Rounded up, by less than one unit of the chosen unit, which
            // is less than 10^-5 of the value once past nanoseconds.
            prop_assert!(back >= d, "{d:?} -> {value} -> {back:?}");
            let err = (back - d).as_nanos();
            prop_assert!(err == 0 || err * 100_000 <= back.as_nanos(), "{d:?} -> {value}");
        }
    }

    #[test]
    fn parsed_timeouts_encode_exactly(value in timeout_value()) {
        let d = timeout::parse(value.as_bytes()).unwrap();
        let again = timeout::encode(d);
        prop_assert_eq!(timeout::parse(again.as_bytes()), Some(d));
    }

    #[test]
    fn timeout_parse_never_panics(value in prop::collection::vec(any::<u8>(), 0..16)) {
        if let Some(d) = timeout::parse(&value) {
            // Only the grammar parses.
            let s = std::str::from_utf8(&value).unwrap();
            prop_assert!(s.len() >= 2 && s.len() <= 9, "{s:?}");
            prop_assert!(s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit()));
            prop_assert!("HMSmun".contains(&s[s.len() - 1..]));
            prop_assert!(d <= Duration::from_secs(99_999_999 * 3600));
        }
    }

    #[test]
    fn message_percent_round_trip(message in any::<String>()) {
        let wire = encode_message(&message);
        prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        // A valid HTTP/2 field value: no whitespace at either end.
        prop_assert!(!wire.starts_with(' ') && !wire.ends_with(' '));
        prop_assert_eq!(decode_message(wire.as_bytes()), message);
    }

    #[test]
    fn message_decode_never_panics(value in prop::collection::vec(any::<u8>(), 0..64)) {
        let text = decode_message(&value);
        // Printable ASCII without escapes comes back as it was.
        if value.iter().all(|&b| (0x20..=0x7e).contains(&b) && b != b'%') {
            prop_assert_eq!(text.as_bytes(), &value[..]);
        }
    }

    #[test]
    fn status_fields_round_trip(
        code in 0u32..17,
        message in any::<String>(),
        details in prop::option::of("[A-Za-z0-9+/]{0,40}={0,2}"),
    ) {
        let status = Status {
            code: Code::from_u32(code).unwrap(),
            message,
            details: details.map(Bytes::from),
        };
        let mut fields = Vec::new();
        status.write_fields(&mut fields);
        prop_assert_eq!(Status::from_fields(&fields), Some(status));
    }

    #[test]
    fn grpc_status_values_never_panic(value in prop::collection::vec(any::<u8>(), 0..24)) {
        let fields = [Field::new("grpc-status", Bytes::from(value.clone())), Field::new("grpc-message", Bytes::from(value))];
        let status = Status::from_fields(&fields).unwrap();
        prop_assert!(Code::ALL.contains(&status.code));
    }
}
