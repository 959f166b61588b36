//! The frame codec under every split of its input, arbitrary frames
//! round-tripped, and arbitrary bytes.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h2::frame::{
    Continuation, Data, Frame, FrameCodec, FrameType, GoAway, Head, Headers, Limits, Ping,
    Priority, PrioritySpec, PushPromise, RstStream, Settings, StreamId, Unknown, WindowUpdate,
};
use mesh_http::h2::{ErrorCode, PREFACE};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn codec() -> FrameCodec {
    FrameCodec::new(Side::Upstream, Limits::default())
}

/// One frame of every type, padded where the type allows it.
fn sequence() -> Vec<Frame> {
    let s = StreamId::new;
    vec![
        Settings {
            enable_push: Some(false),
            initial_window_size: Some(1 << 20),
            ..Settings::default()
        }
        .into(),
        Settings::ack().into(),
        WindowUpdate::new(StreamId::CONNECTION, 1 << 16).into(),
        Headers {
            stream_id: s(1),
            block: Bytes::from_static(
                b"\x82\x86\x84\x41\x8a\x08\x9d\x5c\x0b\x81\x70\xdc\x78\x0f\x03",
            ),
            end_stream: false,
            end_headers: false,
            priority: Some(PrioritySpec {
                dependency: s(0),
                exclusive: true,
                weight: 200,
            }),
            padding: Some(5),
        }
        .into(),
        Continuation {
            stream_id: s(1),
            block: Bytes::from_static(b"\x53\x03\x2a\x2f\x2a"),
            end_headers: true,
        }
        .into(),
        Data {
            stream_id: s(1),
            data: Bytes::from(vec![0xab; 300]),
            end_stream: true,
            padding: Some(17),
        }
        .into(),
        Priority {
            stream_id: s(3),
            spec: PrioritySpec {
                dependency: s(1),
                exclusive: false,
                weight: 3,
            },
        }
        .into(),
        PushPromise {
            stream_id: s(1),
            promised_id: s(2),
            block: Bytes::from_static(b"\x82\x87"),
            end_headers: true,
            padding: Some(0),
        }
        .into(),
        Ping::new(*b"\x00\x01\x02\x03\x04\x05\x06\x07").into(),
        RstStream::new(s(3), ErrorCode::REFUSED_STREAM).into(),
        Unknown {
            head: Head {
                length: 0,
                kind: FrameType::from_u8(0x42),
                flags: 0xff,
                stream_id: s(9),
            },
            payload: Bytes::from_static(b"whatever"),
        }
        .into(),
        GoAway {
            last_stream_id: s(1),
            code: ErrorCode::NO_ERROR,
            debug_data: Bytes::from_static(b"bye"),
        }
        .into(),
    ]
}

fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut c = codec();
    let mut out = BytesMut::new();
    for f in frames {
        c.encode(f, &mut out).unwrap();
    }
    out
}

/// Decodes `chunks` fed one after another, returning every frame.
fn decode_chunks<'a>(c: &mut FrameCodec, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Frame> {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.put_slice(chunk);
        while let Some(f) = c.decode(&mut buf).unwrap() {
            frames.push(f);
        }
    }
    assert!(buf.is_empty());
    frames
}

fn normalise(frames: Vec<Frame>) -> Vec<Frame> {
    // Unknown frames are re-encoded with their payload's real length.
    frames
        .into_iter()
        .map(|f| match f {
            Frame::Unknown(mut u) => {
                u.head.length = u.payload.len() as u32;
                Frame::Unknown(u)
            }
            f => f,
        })
        .collect()
}

#[test]
fn every_byte_split_of_a_frame_sequence() {
    let frames = normalise(sequence());
    let mut wire = PREFACE.to_vec();
    wire.extend_from_slice(&encode_all(&frames));
    // Two pieces, cut at every byte.
    for cut in 0..=wire.len() {
        let mut c = codec().expect_preface();
        let got = decode_chunks(&mut c, [&wire[..cut], &wire[cut..]]);
        assert_eq!(got, frames, "cut at {cut}");
    }
    // One byte at a time.
    let mut c = codec().expect_preface();
    assert_eq!(decode_chunks(&mut c, wire.chunks(1)), frames);
}

#[test]
fn waiting_for_a_large_frame_does_no_work_per_byte() {
    // While a frame is incomplete, each decode call only re-reads its 9-byte
    // header: nothing is consumed, copied or allocated, so feeding a frame
    // in n pieces costs O(n) calls of O(1) each.
    let wire = encode_all(&[Data::new(StreamId::new(1), Bytes::from(vec![1; 16_000])).into()]);
    let mut c = codec();
    let mut buf = BytesMut::with_capacity(wire.len());
    let mut calls = 0;
    for b in &wire[..wire.len() - 1] {
        buf.put_u8(*b);
        calls += 1;
        assert!(c.decode(&mut buf).unwrap().is_none());
        assert_eq!(
            buf.len(),
            calls,
            "nothing consumed before the frame is whole"
        );
    }
    buf.put_u8(wire[wire.len() - 1]);
    assert!(matches!(c.decode(&mut buf).unwrap(), Some(Frame::Data(d)) if d.data.len() == 16_000));
}

fn stream() -> impl Strategy<Value = StreamId> {
    (1u32..=StreamId::MAX.get()).prop_map(StreamId::new)
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn priority_spec() -> impl Strategy<Value = PrioritySpec> {
    (0u32..=StreamId::MAX.get(), any::<bool>(), any::<u8>()).prop_map(|(d, exclusive, weight)| {
        PrioritySpec {
            dependency: StreamId::new(d),
            exclusive,
            weight,
        }
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        any::<bool>(),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<u32>()),
        prop::option::of(0u32..=WindowUpdate::MAX_INCREMENT),
        prop::option::of(16_384u32..=16_777_215),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(ack, hts, push, mcs, iws, mfs, mhls, connect)| {
            if ack {
                return Settings::ack();
            }
            Settings {
                ack,
                header_table_size: hts,
                enable_push: push,
                max_concurrent_streams: mcs,
                initial_window_size: iws,
                max_frame_size: mfs,
                max_header_list_size: mhls,
                enable_connect_protocol: connect,
                no_rfc7540_priorities: None,
            }
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            stream(),
            bytes(2000),
            any::<bool>(),
            prop::option::of(any::<u8>())
        )
            .prop_map(|(stream_id, data, end_stream, padding)| Data {
                stream_id,
                data,
                end_stream,
                padding
            }
            .into()),
        (
            stream(),
            bytes(2000),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(priority_spec()),
            prop::option::of(any::<u8>())
        )
            .prop_filter("no self-dependency", |(s, _, _, _, p, _)| p
                .is_none_or(|p| p.dependency != *s))
            .prop_map(
                |(stream_id, block, end_stream, end_headers, priority, padding)| Headers {
                    stream_id,
                    block,
                    end_stream,
                    end_headers,
                    priority,
                    padding
                }
                .into()
            ),
        (stream(), priority_spec())
            .prop_filter("no self-dependency", |(s, p)| p.dependency != *s)
            .prop_map(|(stream_id, spec)| Priority { stream_id, spec }.into()),
        (stream(), any::<u32>())
            .prop_map(|(s, c)| RstStream::new(s, ErrorCode::from_u32(c)).into()),
        settings().prop_map(Frame::from),
        (
            stream(),
            stream(),
            bytes(500),
            any::<bool>(),
            prop::option::of(any::<u8>())
        )
            .prop_map(|(stream_id, promised_id, block, end_headers, padding)| {
                PushPromise {
                    stream_id,
                    promised_id,
                    block,
                    end_headers,
                    padding,
                }
                .into()
            }),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, payload)| Ping { ack, payload }.into()),
        (0u32..=StreamId::MAX.get(), any::<u32>(), bytes(100)).prop_map(|(l, c, debug_data)| {
            GoAway {
                last_stream_id: StreamId::new(l),
                code: ErrorCode::from_u32(c),
                debug_data,
            }
            .into()
        }),
        (
            0u32..=StreamId::MAX.get(),
            1u32..=WindowUpdate::MAX_INCREMENT
        )
            .prop_map(|(s, i)| WindowUpdate::new(StreamId::new(s), i).into()),
        (stream(), bytes(500), any::<bool>()).prop_map(|(stream_id, block, end_headers)| {
            Continuation {
                stream_id,
                block,
                end_headers,
            }
            .into()
        }),
        (
            10u8..=255,
            any::<u8>(),
            0u32..=StreamId::MAX.get(),
            bytes(300)
        )
            .prop_map(|(t, flags, s, payload)| Unknown {
                head: Head {
                    length: payload.len() as u32,
                    kind: FrameType::from_u8(t),
                    flags,
                    stream_id: StreamId::new(s)
                },
                payload,
            }
            .into()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_round_trip(frames in prop::collection::vec(frame(), 1..10), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let wire = encode_all(&frames);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(0);
        points.push(wire.len());
        points.sort_unstable();
        let chunks: Vec<&[u8]> = points.windows(2).map(|w| &wire[w[0]..w[1]]).collect();
        let mut c = codec();
        let got = decode_chunks(&mut c, chunks);
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4000), chunk in 1usize..600, preface in any::<bool>()) {
        let mut c = codec();
        if preface {
            c = c.expect_preface();
        }
        let mut buf = BytesMut::new();
        'feed: for piece in data.chunks(chunk) {
            buf.put_slice(piece);
            loop {
                match c.decode(&mut buf) {
                    Ok(Some(f)) => prop_assert!(f.head().length <= c.max_recv_frame_size()),
                    Ok(None) => break,
                    Err(e) if e.stream_error().is_some() => continue,
                    Err(_) => break 'feed,
                }
            }
        }
    }
}
