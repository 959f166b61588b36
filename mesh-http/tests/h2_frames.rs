//! The frame codec against hand-built wire bytes: every frame type, with
//! padding and unknown flags, unknown types, every frame-level error and
//! its RFC 9113 code, the maximum frame size both ways, CONTINUATION
//! splitting, and the client preface.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use mesh_http::h2::frame::{
    Continuation, Data, Frame, FrameCodec, FrameErrorKind, FrameType, GoAway, Head, Headers,
    Limits, Ping, Priority, PrioritySpec, PushPromise, RstStream, Settings, StreamId, Unknown,
    WindowUpdate, flags,
};
use mesh_http::h2::{ErrorCode, PREFACE};
use tokio_util::codec::{Decoder, Encoder};

fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn codec() -> FrameCodec {
    FrameCodec::new(Side::Downstream, Limits::default())
}

fn decode_one(bytes: &[u8]) -> Frame {
    let mut buf = BytesMut::from(bytes);
    let frame = codec().decode(&mut buf).unwrap().expect("a whole frame");
    assert!(buf.is_empty(), "frame consumed exactly");
    frame
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    codec().encode(frame, &mut out).unwrap();
    out.to_vec()
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

#[test]
fn every_frame_type_decodes_and_encodes() {
    let cases: Vec<(Vec<u8>, Frame)> = vec![
        (
            raw(0x0, 0x1, 1, b"hello"),
            Frame::Data(Data {
                stream_id: sid(1),
                data: Bytes::from_static(b"hello"),
                end_stream: true,
                padding: None,
            }),
        ),
        (
            raw(0x0, 0x8, 3, b"\x03abc\0\0\0"),
            Frame::Data(Data {
                stream_id: sid(3),
                data: Bytes::from_static(b"abc"),
                end_stream: false,
                padding: Some(3),
            }),
        ),
        (
            raw(0x1, 0x4, 1, b"\x82\x86"),
            Frame::Headers(Headers::new(sid(1), Bytes::from_static(b"\x82\x86"))),
        ),
        (
            // PADDED | PRIORITY | END_STREAM, exclusive dependency on 3, weight 16.
            raw(0x1, 0x29, 5, b"\x02\x80\0\0\x03\x0f\x82\0\0"),
            Frame::Headers(Headers {
                stream_id: sid(5),
                block: Bytes::from_static(b"\x82"),
                end_stream: true,
                end_headers: false,
                priority: Some(PrioritySpec {
                    dependency: sid(3),
                    exclusive: true,
                    weight: 15,
                }),
                padding: Some(2),
            }),
        ),
        (
            raw(0x2, 0, 7, b"\0\0\0\x05\xff"),
            Frame::Priority(Priority {
                stream_id: sid(7),
                spec: PrioritySpec {
                    dependency: sid(5),
                    exclusive: false,
                    weight: 255,
                },
            }),
        ),
        (
            raw(0x3, 0, 1, b"\0\0\0\x08"),
            Frame::RstStream(RstStream::new(sid(1), ErrorCode::CANCEL)),
        ),
        (
            raw(
                0x4,
                0,
                0,
                b"\0\x01\0\0\x10\0\0\x03\0\0\0\x64\0\x04\0\x01\0\0\0\x05\0\0\x40\0",
            ),
            Frame::Settings(Settings {
                header_table_size: Some(4096),
                max_concurrent_streams: Some(100),
                initial_window_size: Some(65536),
                max_frame_size: Some(16384),
                ..Settings::default()
            }),
        ),
        (raw(0x4, 0x1, 0, b""), Frame::Settings(Settings::ack())),
        (
            raw(0x5, 0x4, 1, b"\0\0\0\x02\x82"),
            Frame::PushPromise(PushPromise {
                stream_id: sid(1),
                promised_id: sid(2),
                block: Bytes::from_static(b"\x82"),
                end_headers: true,
                padding: None,
            }),
        ),
        (
            raw(0x5, 0xc, 1, b"\x01\0\0\0\x04\x82\0"),
            Frame::PushPromise(PushPromise {
                stream_id: sid(1),
                promised_id: sid(4),
                block: Bytes::from_static(b"\x82"),
                end_headers: true,
                padding: Some(1),
            }),
        ),
        (
            raw(0x6, 0, 0, b"12345678"),
            Frame::Ping(Ping::new(*b"12345678")),
        ),
        (
            raw(0x6, 0x1, 0, b"12345678"),
            Frame::Ping(Ping::new(*b"12345678").to_ack()),
        ),
        (
            raw(0x7, 0, 0, b"\0\0\0\x09\0\0\0\x0bcalm down"),
            Frame::GoAway(GoAway {
                last_stream_id: sid(9),
                code: ErrorCode::ENHANCE_YOUR_CALM,
                debug_data: Bytes::from_static(b"calm down"),
            }),
        ),
        (
            raw(0x8, 0, 0, b"\0\x01\0\0"),
            Frame::WindowUpdate(WindowUpdate::new(StreamId::CONNECTION, 65536)),
        ),
        (
            raw(0x9, 0x4, 1, b"\x84"),
            Frame::Continuation(Continuation {
                stream_id: sid(1),
                block: Bytes::from_static(b"\x84"),
                end_headers: true,
            }),
        ),
        (
            raw(0xfa, 0xa5, 3, b"extension"),
            Frame::Unknown(Unknown {
                head: Head {
                    length: 9,
                    kind: FrameType::from_u8(0xfa),
                    flags: 0xa5,
                    stream_id: sid(3),
                },
                payload: Bytes::from_static(b"extension"),
            }),
        ),
    ];
    for (wire, frame) in cases {
        assert_eq!(decode_one(&wire), frame, "{wire:02x?}");
        assert_eq!(encode(&frame), wire, "{frame:?}");
    }
}

#[test]
fn unknown_flags_and_settings_and_reserved_bits_are_ignored() {
    // DATA with every flag set but END_STREAM and PADDED.
    let f = decode_one(&raw(0x0, 0xf6, 1, b"x"));
    assert_eq!(f, Frame::Data(Data::new(sid(1), Bytes::from_static(b"x"))));
    // ...and re-encoded without them.
    assert_eq!(encode(&f), raw(0x0, 0, 1, b"x"));
    // Unknown settings ids are skipped; the last of a repeated id wins.
    let f = decode_one(&raw(
        0x4,
        0,
        0,
        b"\0\x63\0\0\0\x01\0\x03\0\0\0\x01\0\x03\0\0\0\x02",
    ));
    assert_eq!(
        f,
        Frame::Settings(Settings {
            max_concurrent_streams: Some(2),
            ..Settings::default()
        })
    );
    // The reserved bit of stream ids and window increments.
    let f = decode_one(&raw(0x8, 0, 0x8000_0005, b"\x80\0\0\x01"));
    assert_eq!(f, Frame::WindowUpdate(WindowUpdate::new(sid(5), 1)));
    // Zero-length padded DATA: only the pad length byte, no data.
    let f = decode_one(&raw(0x0, 0x8, 1, b"\0"));
    let Frame::Data(d) = f else { panic!() };
    assert!(d.data.is_empty());
    assert_eq!(d.flow_controlled_len(), 1);
}

/// (wire, code, the stream that is reset or None for the connection)
fn error_cases() -> Vec<(&'static str, Vec<u8>, ErrorCode, Option<u32>)> {
    use ErrorCode as C;
    vec![
        (
            "DATA on stream 0",
            raw(0x0, 0, 0, b"x"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "DATA padding too long",
            raw(0x0, 0x8, 1, b"\x05abcd"),
            C::PROTOCOL_ERROR,
            None,
        ),
        // DATA cannot change connection state (RFC 9113 §4.2): a stream error.
        (
            "DATA padded but empty",
            raw(0x0, 0x8, 1, b""),
            C::FRAME_SIZE_ERROR,
            Some(1),
        ),
        (
            "HEADERS on stream 0",
            raw(0x1, 0x4, 0, b"\x82"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "HEADERS priority cut",
            raw(0x1, 0x20, 1, b"\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "HEADERS pad eats priority",
            raw(0x1, 0x28, 1, b"\x03\0\0\0\x03\x10\0\0"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "HEADERS self dependency",
            raw(0x1, 0x24, 3, b"\0\0\0\x03\x10\x82"),
            C::PROTOCOL_ERROR,
            Some(3),
        ),
        (
            "PRIORITY of 4 bytes",
            raw(0x2, 0, 3, b"\0\0\0\x01"),
            C::FRAME_SIZE_ERROR,
            Some(3),
        ),
        (
            "PRIORITY on stream 0",
            raw(0x2, 0, 0, b"\0\0\0\x01\x10"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "PRIORITY self dependency",
            raw(0x2, 0, 5, b"\0\0\0\x05\x10"),
            C::PROTOCOL_ERROR,
            Some(5),
        ),
        (
            "RST_STREAM of 3 bytes",
            raw(0x3, 0, 1, b"\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "RST_STREAM on stream 0",
            raw(0x3, 0, 0, b"\0\0\0\0"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "SETTINGS of 5 bytes",
            raw(0x4, 0, 0, b"\0\x01\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "SETTINGS ack with payload",
            raw(0x4, 0x1, 0, b"\0\x01\0\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "SETTINGS on stream 1",
            raw(0x4, 0, 1, b""),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "ENABLE_PUSH 2",
            raw(0x4, 0, 0, b"\0\x02\0\0\0\x02"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "INITIAL_WINDOW_SIZE 2^31",
            raw(0x4, 0, 0, b"\0\x04\x80\0\0\0"),
            C::FLOW_CONTROL_ERROR,
            None,
        ),
        (
            "MAX_FRAME_SIZE 16383",
            raw(0x4, 0, 0, b"\0\x05\0\0\x3f\xff"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "MAX_FRAME_SIZE 2^24",
            raw(0x4, 0, 0, b"\0\x05\x01\0\0\0"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "ENABLE_CONNECT_PROTOCOL 7",
            raw(0x4, 0, 0, b"\0\x08\0\0\0\x07"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "PUSH_PROMISE of 3 bytes",
            raw(0x5, 0x4, 1, b"\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "PUSH_PROMISE on stream 0",
            raw(0x5, 0x4, 0, b"\0\0\0\x02"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "PING of 7 bytes",
            raw(0x6, 0, 0, b"1234567"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "PING on stream 1",
            raw(0x6, 0, 1, b"12345678"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "GOAWAY of 7 bytes",
            raw(0x7, 0, 0, b"\0\0\0\0\0\0\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "GOAWAY on stream 1",
            raw(0x7, 0, 1, b"\0\0\0\0\0\0\0\0"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "WINDOW_UPDATE of 5 bytes",
            raw(0x8, 0, 1, b"\0\0\0\x01\0"),
            C::FRAME_SIZE_ERROR,
            None,
        ),
        (
            "WINDOW_UPDATE 0 on the connection",
            raw(0x8, 0, 0, b"\0\0\0\0"),
            C::PROTOCOL_ERROR,
            None,
        ),
        (
            "WINDOW_UPDATE 0 on a stream",
            raw(0x8, 0, 3, b"\x80\0\0\0"),
            C::PROTOCOL_ERROR,
            Some(3),
        ),
        (
            "CONTINUATION on stream 0",
            raw(0x9, 0x4, 0, b"\x82"),
            C::PROTOCOL_ERROR,
            None,
        ),
    ]
}

#[test]
fn every_frame_error_maps_to_its_rfc_code() {
    for (what, wire, code, stream) in error_cases() {
        let mut c = codec();
        let mut buf = BytesMut::from(&wire[..]);
        let err = c.decode(&mut buf).expect_err(what);
        assert_eq!(err.code(), code, "{what}: {err}");
        assert_eq!(
            err.stream_error().map(StreamId::get),
            stream,
            "{what}: {err}"
        );
        assert_eq!(err.side(), Side::Downstream);
        assert!(!err.retry_safe());
        // A stream error consumed the frame: the next one decodes.
        if stream.is_some() {
            buf.put_slice(&raw(0x6, 0, 0, b"abcdefgh"));
            assert_eq!(
                c.decode(&mut buf).unwrap(),
                Some(Frame::Ping(Ping::new(*b"abcdefgh")))
            );
        }
    }
}

#[test]
fn the_max_frame_size_is_enforced_before_the_payload_arrives() {
    let mut c = codec();
    assert_eq!(c.max_recv_frame_size(), 16_384);
    // An oversized DATA frame: only its header has arrived.
    let big = raw(0x0, 0, 1, &vec![7u8; 16_385]);
    let mut buf = BytesMut::from(&big[..100]);
    let err = c.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err.kind(),
        FrameErrorKind::TooLarge {
            length: 16_385,
            max: 16_384,
            ..
        }
    ));
    assert_eq!(err.code(), ErrorCode::FRAME_SIZE_ERROR);
    // DATA cannot change connection state: a stream error, and the rest of
    // the frame is skipped as it arrives.
    assert_eq!(err.stream_error(), Some(sid(1)));
    assert!(buf.is_empty());
    let mut rest = BytesMut::from(&big[100..]);
    rest.put_slice(&raw(0x6, 0, 0, b"abcdefgh"));
    for chunk in rest.chunks(1000) {
        buf.put_slice(chunk);
        if let Some(f) = c.decode(&mut buf).unwrap() {
            assert_eq!(f, Frame::Ping(Ping::new(*b"abcdefgh")));
        }
    }
    // HEADERS alters the HPACK state: a connection error.
    let mut c = codec();
    let mut buf = BytesMut::from(&raw(0x1, 0x4, 1, &vec![0x82; 16_385])[..]);
    let err = c.decode(&mut buf).unwrap_err();
    assert_eq!(
        (err.code(), err.stream_error()),
        (ErrorCode::FRAME_SIZE_ERROR, None)
    );
    // Once our larger SETTINGS_MAX_FRAME_SIZE is acknowledged, it is fine.
    let mut c = codec();
    c.set_max_recv_frame_size(1 << 20);
    let mut buf = BytesMut::from(&big[..]);
    assert!(matches!(c.decode(&mut buf).unwrap(), Some(Frame::Data(d)) if d.data.len() == 16_385));
}

#[test]
fn sending_respects_the_peers_max_frame_size() {
    let mut c = codec();
    let mut out = BytesMut::new();
    let data = Frame::Data(Data::new(sid(1), Bytes::from(vec![0; 16_385])));
    let err = c.encode(&data, &mut out).unwrap_err();
    assert!(matches!(
        err.kind(),
        FrameErrorKind::SendTooLarge {
            length: 16_385,
            max: 16_384,
            ..
        }
    ));
    assert_eq!(err.side(), Side::Internal);
    assert!(out.is_empty());
    c.set_max_send_frame_size(20_000);
    c.encode(&data, &mut out).unwrap();
    assert_eq!(out.len(), 9 + 16_385);
    // Frames the RFC forbids are refused, not sent.
    for bad in [
        Frame::Data(Data::new(StreamId::CONNECTION, Bytes::new())),
        Frame::WindowUpdate(WindowUpdate::new(sid(1), 0)),
        Frame::Settings(Settings {
            max_frame_size: Some(100),
            ..Settings::default()
        }),
        Frame::Priority(Priority {
            stream_id: sid(3),
            spec: PrioritySpec {
                dependency: sid(3),
                exclusive: false,
                weight: 0,
            },
        }),
    ] {
        let mut out = BytesMut::new();
        let err = c.encode(&bad, &mut out).unwrap_err();
        assert!(
            matches!(err.kind(), FrameErrorKind::InvalidSend { .. }),
            "{bad:?}: {err}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn large_field_blocks_are_split_into_continuation_frames() {
    let block: Bytes = (0..40_000u32).map(|i| i as u8).collect::<Vec<u8>>().into();
    let headers = Headers {
        stream_id: sid(1),
        block: block.clone(),
        end_stream: true,
        end_headers: true,
        priority: Some(PrioritySpec {
            dependency: StreamId::CONNECTION,
            exclusive: false,
            weight: 15,
        }),
        padding: Some(10),
    };
    let mut c = codec();
    let mut out = BytesMut::new();
    c.encode(Frame::Headers(headers.clone()), &mut out).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = c.decode(&mut out).unwrap() {
        assert!(f.head().length <= 16_384);
        frames.push(f);
    }
    assert_eq!(frames.len(), 3);
    let Frame::Headers(first) = &frames[0] else {
        panic!()
    };
    assert!(first.end_stream && !first.end_headers);
    assert_eq!(first.priority, headers.priority);
    assert_eq!(first.padding, Some(10));
    let mut joined = first.block.to_vec();
    for (i, f) in frames[1..].iter().enumerate() {
        let Frame::Continuation(c) = f else { panic!() };
        assert_eq!(c.end_headers, i == frames.len() - 2);
        joined.extend_from_slice(&c.block);
    }
    assert_eq!(joined, block);

    let promise = PushPromise {
        stream_id: sid(1),
        promised_id: sid(2),
        block: block.slice(..20_000),
        end_headers: true,
        padding: None,
    };
    c.encode(Frame::PushPromise(promise), &mut out).unwrap();
    let Some(Frame::PushPromise(p)) = c.decode(&mut out).unwrap() else {
        panic!()
    };
    assert!(!p.end_headers);
    let Some(Frame::Continuation(k)) = c.decode(&mut out).unwrap() else {
        panic!()
    };
    assert!(k.end_headers);
    assert_eq!(p.block.len() + k.block.len(), 20_000);
}

#[test]
fn payloads_are_slices_of_the_read_buffer() {
    let mut buf = BytesMut::from(&raw(0x0, 0, 1, &[9u8; 1000])[..]);
    buf.put_slice(&raw(0x1, 0x4, 3, &[0x82; 100]));
    let range = buf.as_ptr_range();
    let mut c = codec();
    let Some(Frame::Data(d)) = c.decode(&mut buf).unwrap() else {
        panic!()
    };
    let Some(Frame::Headers(h)) = c.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert!(range.contains(&d.data.as_ptr()));
    assert!(range.contains(&h.block.as_ptr()));
}

#[test]
fn the_client_preface_is_checked_first() {
    let mut input = PREFACE.to_vec();
    input.extend_from_slice(&raw(0x4, 0, 0, b""));
    for split in 0..input.len() {
        let mut c = codec().expect_preface();
        let mut buf = BytesMut::from(&input[..split]);
        assert_eq!(c.decode(&mut buf).unwrap(), None, "split at {split}");
        buf.put_slice(&input[split..]);
        assert_eq!(
            c.decode(&mut buf).unwrap(),
            Some(Frame::Settings(Settings::default()))
        );
    }
    let mut c = codec().expect_preface();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
    let err = c.decode(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), FrameErrorKind::BadPreface));
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn heads_parse_from_any_slice() {
    let wire = raw(
        0x1,
        flags::END_HEADERS | flags::END_STREAM,
        0x8000_0007,
        b"abc",
    );
    let head = Head::parse(&wire).unwrap();
    assert_eq!(head.length, 3);
    assert_eq!(head.kind, FrameType::HEADERS);
    assert!(head.has(flags::END_HEADERS));
    assert_eq!(head.stream_id, sid(7));
    assert_eq!(Head::parse(&wire[..8]), None);
    assert_eq!(
        Frame::decode(&head, Bytes::copy_from_slice(&wire[9..]), Side::Upstream)
            .unwrap()
            .stream_id(),
        sid(7)
    );
}
