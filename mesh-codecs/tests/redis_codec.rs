//! The RESP codec on spec vectors, cut at every byte, on malformed input,
//! at its limits, with inline commands, and counting its parse steps to
//! prove that work stays linear however the input is split into reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod redis_support;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use mesh_codecs::redis::{
    DecodeErrorKind, DecoderConfig, Frame, Kind, Limit, Limits, Malformed, RawFrame, RawRespCodec,
    RespCodec, command, decode_frame,
};
use mesh_core::{ErrorClass, Side};
use redis_support::from_view;
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The examples of the RESP2 and RESP3 specifications, and then some.
fn vectors() -> Vec<(&'static str, Frame)> {
    vec![
        ("+OK\r\n", Frame::SimpleString(b("OK"))),
        ("+\r\n", Frame::SimpleString(b(""))),
        (
            "-ERR unknown command 'foobar'\r\n",
            Frame::Error(b("ERR unknown command 'foobar'")),
        ),
        (":1000\r\n", Frame::Integer(1000)),
        (":-1\r\n", Frame::Integer(-1)),
        (":9223372036854775807\r\n", Frame::Integer(i64::MAX)),
        (":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
        ("$6\r\nfoobar\r\n", Frame::BulkString(b("foobar"))),
        ("$0\r\n\r\n", Frame::BulkString(b(""))),
        ("$4\r\na\r\nb\r\n", Frame::BulkString(b("a\r\nb"))),
        ("$-1\r\n", Frame::NullBulkString),
        ("*0\r\n", Frame::Array(vec![])),
        ("*-1\r\n", Frame::NullArray),
        (
            "*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
            Frame::Array(vec![Frame::bulk("foo"), Frame::bulk("bar")]),
        ),
        (
            "*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Foo\r\n-Bar\r\n",
            Frame::Array(vec![
                Frame::Array(vec![
                    Frame::Integer(1),
                    Frame::Integer(2),
                    Frame::Integer(3),
                ]),
                Frame::Array(vec![Frame::simple("Foo"), Frame::error("Bar")]),
            ]),
        ),
        (
            "*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n",
            Frame::Array(vec![
                Frame::bulk("foo"),
                Frame::NullBulkString,
                Frame::bulk("bar"),
            ]),
        ),
        ("_\r\n", Frame::Null),
        ("#t\r\n", Frame::Boolean(true)),
        ("#f\r\n", Frame::Boolean(false)),
        (",1.23\r\n", Frame::Double(b("1.23"))),
        (",10\r\n", Frame::Double(b("10"))),
        (",inf\r\n", Frame::Double(b("inf"))),
        (",-inf\r\n", Frame::Double(b("-inf"))),
        (",nan\r\n", Frame::Double(b("nan"))),
        (",1.5e-07\r\n", Frame::Double(b("1.5e-07"))),
        (
            "(3492890328409238509324850943850943825024385\r\n",
            Frame::BigNumber(b("3492890328409238509324850943850943825024385")),
        ),
        ("(-12\r\n", Frame::BigNumber(b("-12"))),
        (
            "!21\r\nSYNTAX invalid syntax\r\n",
            Frame::BulkError(b("SYNTAX invalid syntax")),
        ),
        (
            "=15\r\ntxt:Some string\r\n",
            Frame::Verbatim {
                format: *b"txt",
                text: b("Some string"),
            },
        ),
        (
            "=4\r\nmkd:\r\n",
            Frame::Verbatim {
                format: *b"mkd",
                text: b(""),
            },
        ),
        (
            "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
            Frame::Map(vec![
                (Frame::simple("first"), Frame::Integer(1)),
                (Frame::simple("second"), Frame::Integer(2)),
            ]),
        ),
        ("%0\r\n", Frame::Map(vec![])),
        (
            "~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n",
            Frame::Set(vec![
                Frame::simple("orange"),
                Frame::simple("apple"),
                Frame::Boolean(true),
                Frame::Integer(100),
                Frame::Integer(999),
            ]),
        ),
        (
            "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
            Frame::Attribute {
                attributes: vec![(
                    Frame::simple("key-popularity"),
                    Frame::Map(vec![
                        (Frame::bulk("a"), Frame::Double(b("0.1923"))),
                        (Frame::bulk("b"), Frame::Double(b("0.0012"))),
                    ]),
                )],
                frame: Box::new(Frame::Array(vec![
                    Frame::Integer(2039123),
                    Frame::Integer(9543892),
                ])),
            },
        ),
        (
            "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n",
            Frame::Array(vec![
                Frame::Attribute {
                    attributes: vec![(Frame::simple("ttl"), Frame::Integer(3600))],
                    frame: Box::new(Frame::Integer(1)),
                },
                Frame::Integer(2),
            ]),
        ),
        (
            "|0\r\n_\r\n",
            Frame::Attribute {
                attributes: vec![],
                frame: Box::new(Frame::Null),
            },
        ),
        (
            ">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n",
            Frame::Push(vec![
                Frame::simple("pubsub"),
                Frame::simple("message"),
                Frame::simple("somechannel"),
                Frame::simple("this is the message"),
            ]),
        ),
    ]
}

#[test]
fn spec_vectors_decode_and_encode_exactly() {
    for (wire, expected) in vectors() {
        let mut codec = RespCodec::replies();
        let mut buf = BytesMut::from(wire.as_bytes());
        assert_eq!(
            codec.decode(&mut buf).unwrap().as_ref(),
            Some(&expected),
            "{wire:?}"
        );
        assert!(buf.is_empty());
        let bytes = Bytes::from_static(wire.as_bytes());
        let (frame, used) = decode_frame(&bytes, &DecoderConfig::replies())
            .unwrap()
            .unwrap();
        assert_eq!((frame, used), (expected.clone(), wire.len()), "{wire:?}");
        assert_eq!(expected.to_bytes().unwrap(), wire.as_bytes(), "{wire:?}");
        assert_eq!(expected.encoded_len(), wire.len(), "{wire:?}");
    }
}

#[test]
fn decoded_strings_share_the_input_buffer() {
    let input = Bytes::from_static(b"*2\r\n$5\r\nhello\r\n+world\r\n");
    let (frame, _) = decode_frame(&input, &DecoderConfig::default())
        .unwrap()
        .unwrap();
    let Frame::Array(items) = frame else { panic!() };
    for (item, at) in items.iter().zip([8, 16]) {
        let text = item.as_bytes().unwrap();
        assert_eq!(
            text.as_ptr(),
            input[at..].as_ptr(),
            "a slice of the input, not a copy"
        );
    }
}

/// Feeds `wire` to a fresh codec cut at `cut`, and expects nothing before
/// all bytes are there and `expected` after.
fn decode_split(wire: &[u8], cut: usize, config: DecoderConfig) -> Vec<Frame> {
    let mut codec = RespCodec::new(config);
    let mut buf = BytesMut::from(&wire[..cut]);
    let mut out = Vec::new();
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        out.push(f);
    }
    buf.extend_from_slice(&wire[cut..]);
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        out.push(f);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    out
}

#[test]
fn every_vector_cut_at_every_byte() {
    for (wire, expected) in vectors() {
        let wire = wire.as_bytes();
        for cut in 0..=wire.len() {
            assert_eq!(
                decode_split(wire, cut, DecoderConfig::replies()),
                std::slice::from_ref(&expected),
                "{wire:?} cut at {cut}"
            );
            // The one-shot reader says "need more" for every proper prefix.
            let prefix = Bytes::copy_from_slice(&wire[..cut]);
            let got = decode_frame(&prefix, &DecoderConfig::replies()).unwrap();
            assert_eq!(got.is_some(), cut == wire.len(), "{wire:?} prefix {cut}");
        }
    }
}

#[test]
fn every_vector_fed_one_byte_per_read() {
    let all: Vec<u8> = vectors().iter().flat_map(|(w, _)| w.bytes()).collect();
    let mut codec = RespCodec::replies();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for &byte in &all {
        buf.extend_from_slice(&[byte]);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            out.push(f);
        }
    }
    let expected: Vec<Frame> = vectors().into_iter().map(|(_, f)| f).collect();
    assert_eq!(out, expected);
}

#[test]
fn a_pipelined_buffer_decodes_in_order() {
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        let f = Frame::command(["SET", &format!("key:{i}"), &"v".repeat(i % 37)]);
        f.encode(&mut wire).unwrap();
        expected.push(f);
    }
    let mut codec = RespCodec::requests();
    let mut out = Vec::new();
    while let Some(f) = codec.decode(&mut wire).unwrap() {
        out.push(f);
    }
    assert_eq!(out, expected);
    assert!(wire.is_empty());
}

fn decode_error(wire: &[u8], config: DecoderConfig) -> mesh_codecs::redis::DecodeError {
    let mut codec = RespCodec::new(config);
    let mut buf = BytesMut::from(wire);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("{wire:?} decoded without an error"),
            Err(e) => return e,
        }
    }
}

#[test]
fn malformed_input_is_a_typed_error() {
    let cases: &[(&str, Malformed)] = &[
        ("?x\r\n", Malformed::UnknownType(b'?')),
        ("$-2\r\n", Malformed::NegativeLength),
        ("$3\r\nfoox\r\n", Malformed::MissingCrlf),
        ("$x\r\n", Malformed::Length),
        ("$\r\n", Malformed::Length),
        ("*1x\r\n", Malformed::Length),
        ("$012345678901234567890\r\n", Malformed::Length),
        (":12a\r\n", Malformed::Integer),
        (":99999999999999999999\r\n", Malformed::Integer),
        ("#x\r\n", Malformed::Boolean),
        ("#tt\r\n", Malformed::MissingCrlf),
        (",1.2.3\r\n", Malformed::Double),
        (",\r\n", Malformed::Double),
        ("(12a\r\n", Malformed::BigNumber),
        ("=3\r\ntxt\r\n", Malformed::Verbatim),
        ("=5\r\ntxt-a\r\n", Malformed::Verbatim),
        ("+a\rb\r\n", Malformed::LineBreak),
        ("+a\nb\r\n", Malformed::LineBreak),
        ("*?\r\n", Malformed::Streamed),
        ("$?\r\n", Malformed::Streamed),
        ("%-1\r\n", Malformed::NegativeLength),
        ("!-1\r\n", Malformed::NegativeLength),
        ("_x\r\n", Malformed::MissingCrlf),
        ("*2\r\n:1\r\n_\n", Malformed::MissingCrlf),
        ("*2\r\n:1\r\n:2\n", Malformed::Integer),
    ];
    for &(wire, what) in cases {
        for config in [DecoderConfig::replies(), DecoderConfig::default()] {
            let err = decode_error(wire.as_bytes(), config);
            match err.kind() {
                DecodeErrorKind::Malformed { what: got, .. } => assert_eq!(*got, what, "{wire:?}"),
                other => panic!("{wire:?}: {other:?}"),
            }
            assert_eq!(err.side(), config.peer, "blamed on the peer");
            assert!(!err.retry_safe());
            // The one-shot reader agrees.
            let bytes = Bytes::from_static(wire.as_bytes());
            assert!(decode_frame(&bytes, &config).is_err(), "{wire:?}");
        }
    }
}

#[test]
fn limits_are_typed_errors_before_any_payload_arrives() {
    let small = Limits {
        max_bulk_len: 10,
        max_aggregate_len: 3,
        max_depth: 2,
        max_line_len: 5,
        max_inline_len: 8,
    };
    let config = DecoderConfig {
        limits: small,
        ..DecoderConfig::replies()
    };
    let requests = DecoderConfig {
        limits: small,
        ..DecoderConfig::requests()
    };
    let cases: &[(&[u8], DecoderConfig, Limit, u64)] = &[
        (b"$11\r\n", config, Limit::BulkLen, 11),
        (b"!11\r\n", config, Limit::BulkLen, 11),
        (b"*4\r\n", config, Limit::AggregateLen, 4),
        (b"%4\r\n", config, Limit::AggregateLen, 4),
        (b"*1\r\n*1\r\n*1\r\n", config, Limit::Depth, 3),
        (b"|1\r\n+a\r\n+b\r\n*1\r\n*1\r\n", config, Limit::Depth, 3),
        (b"+123456", config, Limit::LineLen, 6),
        (b"+123456\r\n", config, Limit::LineLen, 6),
        (b"GET 12345", requests, Limit::InlineLen, 9),
    ];
    for &(wire, config, limit, value) in cases {
        let err = decode_error(wire, config);
        match err.kind() {
            DecodeErrorKind::LimitExceeded {
                limit: l, value: v, ..
            } => {
                assert_eq!((*l, *v), (limit, value), "{wire:?}")
            }
            other => panic!("{wire:?}: {other:?}"),
        }
        assert_eq!(err.side(), Side::Internal, "the proxy's own limit");
        assert!(
            decode_frame(&Bytes::copy_from_slice(wire), &config).is_err(),
            "{wire:?}"
        );
    }
    // Exactly at the limits is fine.
    let ok = b"*3\r\n*1\r\n$10\r\n0123456789\r\n+12345\r\n:1\r\n";
    let frame = RespCodec::new(config)
        .decode(&mut BytesMut::from(&ok[..]))
        .unwrap();
    assert!(frame.is_some());
}

#[test]
fn declared_lengths_allocate_nothing_before_the_bytes_arrive() {
    // Redis's largest lengths, with almost nothing behind them: a decoder
    // that reserved what they declare would need tens of gigabytes.
    let config = DecoderConfig::replies();
    for wire in [
        &b"*2147483647\r\n:1\r\n:2\r\n"[..],
        b"%2147483647\r\n:1\r\n:2\r\n",
        b"$536870912\r\nabc",
        b"*1\r\n*2147483647\r\n",
    ] {
        let mut codec = RespCodec::new(config);
        let mut buf = BytesMut::from(wire);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert_eq!(buf.capacity(), wire.len(), "the codec reserved nothing");
        assert_eq!(
            decode_frame(&Bytes::copy_from_slice(wire), &config).unwrap(),
            None
        );
    }
}

#[test]
fn inline_commands_decode_as_arrays_of_bulk_strings() {
    let wire = b"PING\r\n\r\n  \nset  key \"a \\x41\"\n*1\r\n$4\r\nPING\r\nget k\r\n";
    let expected = [
        Frame::command(["PING"]),
        Frame::command(["set", "key", "a A"]),
        Frame::command(["PING"]),
        Frame::command(["get", "k"]),
    ];
    for cut in 0..=wire.len() {
        assert_eq!(
            decode_split(wire, cut, DecoderConfig::requests()),
            expected,
            "cut at {cut}"
        );
    }
    let bytes = Bytes::from_static(wire);
    let config = DecoderConfig::requests();
    let (first, used) = decode_frame(&bytes, &config).unwrap().unwrap();
    assert_eq!((first, used), (expected[0].clone(), 6));
    let (second, _) = decode_frame(&bytes.slice(used..), &config)
        .unwrap()
        .unwrap();
    assert_eq!(second, expected[1], "empty lines are skipped");
    // Without inline commands, the same bytes are not RESP.
    let err = decode_error(b"PING\r\n", DecoderConfig::replies());
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::Malformed {
            what: Malformed::UnknownType(b'P'),
            ..
        }
    ));
    let err = decode_error(b"get \"unbalanced\r\n", DecoderConfig::requests());
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::Malformed {
            what: Malformed::UnbalancedQuotes,
            ..
        }
    ));
    assert_eq!(err.side(), Side::Downstream);
}

#[test]
fn end_of_stream_inside_a_frame_is_an_error() {
    let mut codec = RespCodec::replies();
    let mut buf = BytesMut::from(&b"+OK\r\n*2\r\n:1\r\n"[..]);
    assert_eq!(
        codec.decode_eof(&mut buf).unwrap(),
        Some(Frame::simple("OK"))
    );
    let err = codec.decode_eof(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof)
    );
    assert_eq!(err.side(), Side::Upstream);
    assert_eq!(codec.decode_eof(&mut BytesMut::new()).unwrap(), None);
}

/// Decodes `wire` fed in reads of `chunk` bytes and returns the frames
/// and the steps taken.
fn decode_in_chunks(wire: &[u8], chunk: usize) -> (Vec<Frame>, u64, usize) {
    let mut codec = RespCodec::replies();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut reads = 0;
    for piece in wire.chunks(chunk) {
        buf.extend_from_slice(piece);
        reads += 1;
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            out.push(f);
        }
    }
    (out, codec.steps(), reads)
}

#[test]
fn a_large_aggregate_in_many_reads_is_scanned_once() {
    // 20,000 elements, in reads of 1 to 4096 bytes: a decoder that
    // rescanned the aggregate from its start on every read would take up
    // to 20,000 * 20,000 / 2 steps; ours takes one per element plus at
    // most one per read for a header cut in two.
    let n = 20_000;
    let frame = Frame::Array(
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    Frame::Integer(i)
                } else {
                    Frame::bulk(format!("v{i}"))
                }
            })
            .collect(),
    );
    let wire = frame.to_bytes().unwrap();
    for chunk in [1, 5, 64, 4096, wire.len()] {
        let (frames, steps, reads) = decode_in_chunks(&wire, chunk);
        assert_eq!(frames, std::slice::from_ref(&frame));
        let bound = n as u64 + 1 + reads as u64;
        assert!(steps <= bound, "chunk {chunk}: {steps} steps > {bound}");
    }
}

#[test]
fn nested_aggregates_in_many_reads_are_scanned_once() {
    let leaf = Frame::Map(
        (0..50)
            .map(|i| {
                (
                    Frame::Integer(i),
                    Frame::Set(vec![Frame::Null, Frame::Boolean(true)]),
                )
            })
            .collect(),
    );
    let frame = Frame::Array(
        (0..200)
            .map(|_| Frame::Push(vec![leaf.clone(), Frame::Double(b("1.5"))]))
            .collect(),
    );
    let wire = frame.to_bytes().unwrap();
    let headers = count_frames(&frame);
    for chunk in [1, 3, 100] {
        let (frames, steps, reads) = decode_in_chunks(&wire, chunk);
        assert_eq!(frames, std::slice::from_ref(&frame));
        // Line bytes count too: the doubles' text.
        let bound = headers + reads as u64 + 3 * 200;
        assert!(steps <= bound, "chunk {chunk}: {steps} steps > {bound}");
    }
}

fn count_frames(f: &Frame) -> u64 {
    1 + match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().map(count_frames).sum(),
        Frame::Map(p) => p
            .iter()
            .map(|(k, v)| count_frames(k) + count_frames(v))
            .sum(),
        Frame::Attribute { attributes, frame } => {
            attributes
                .iter()
                .map(|(k, v)| count_frames(k) + count_frames(v))
                .sum::<u64>()
                + count_frames(frame)
        }
        _ => 0,
    }
}

#[test]
fn a_long_line_in_many_reads_is_searched_once() {
    let text = "x".repeat(200_000);
    let frame = Frame::SimpleString(Bytes::from(text.clone()));
    let wire = frame.to_bytes().unwrap();
    let (frames, steps, reads) = decode_in_chunks(&wire, 1);
    assert_eq!(frames, [frame]);
    // Each byte of the line is searched once; a restarting decoder would
    // search 2e10 bytes.
    let bound = wire.len() as u64 + reads as u64;
    assert!(steps <= bound, "{steps} steps > {bound}");
}

#[test]
fn a_large_bulk_string_in_many_reads_costs_nothing_per_byte() {
    let payload = vec![b'z'; 1 << 20];
    let frame = Frame::BulkString(Bytes::from(payload));
    let wire = frame.to_bytes().unwrap();
    let (frames, steps, _) = decode_in_chunks(&wire, 1);
    assert_eq!(frames, [frame]);
    // The header is read a few times while it arrives, the payload never.
    assert!(steps <= 20, "{steps} steps");
}

#[test]
fn a_pipeline_is_not_rescanned() {
    let mut wire = BytesMut::new();
    let n = 5_000u64;
    for i in 0..n {
        Frame::command(["GET", &format!("key:{i}")])
            .encode(&mut wire)
            .unwrap();
    }
    for chunk in [7, 1000, wire.len()] {
        let (frames, steps, reads) = decode_in_chunks(&wire, chunk);
        assert_eq!(frames.len() as u64, n);
        // 3 headers per command, each scanned once.
        let bound = 3 * n + reads as u64;
        assert!(steps <= bound, "chunk {chunk}: {steps} steps > {bound}");
    }
}

#[tokio::test]
async fn framed_over_a_tiny_pipe() {
    let (client, server) = tokio::io::duplex(7);
    let frames: Vec<Frame> = vectors().into_iter().map(|(_, f)| f).collect();
    let expected = frames.clone();
    let writer = tokio::spawn(async move {
        let mut sink = FramedWrite::new(client, RespCodec::default());
        for f in &frames {
            sink.send(f).await.unwrap();
        }
    });
    let mut stream = FramedRead::new(server, RespCodec::replies());
    let mut got = Vec::new();
    while let Some(frame) = stream.next().await {
        got.push(frame.unwrap());
    }
    writer.await.unwrap();
    assert_eq!(got, expected);
}

#[test]
fn encoder_refuses_frames_that_would_split_the_stream() {
    let mut codec = RespCodec::default();
    let mut dst = BytesMut::new();
    for bad in [
        Frame::simple("OK\r\n+INJECTED"),
        Frame::error("ERR\n"),
        Frame::Double(b("1\r\n")),
        Frame::BigNumber(b("1\n2")),
    ] {
        let err = codec.encode(&bad, &mut dst).unwrap_err();
        assert_eq!(err.side(), Side::Internal);
        assert!(err.retry_safe(), "nothing was written");
        assert!(dst.is_empty());
    }
}

#[test]
fn doubles_keep_their_text_and_parse() {
    assert_eq!(Frame::double(1.5), Frame::Double(b("1.5")));
    assert_eq!(Frame::double(f64::INFINITY), Frame::Double(b("inf")));
    assert_eq!(Frame::double(f64::NEG_INFINITY), Frame::Double(b("-inf")));
    assert_eq!(Frame::double(f64::NAN), Frame::Double(b("nan")));
    for v in [0.1, -2.5e300, 1e-300, 3.0] {
        assert_eq!(Frame::double(v).as_f64(), Some(v));
        let wire = Frame::double(v).to_bytes().unwrap();
        assert_eq!(
            decode_frame(&wire, &DecoderConfig::replies())
                .unwrap()
                .unwrap()
                .0
                .as_f64(),
            Some(v)
        );
    }
    assert!(Frame::double(f64::NAN).as_f64().unwrap().is_nan());
    assert_eq!(Frame::Double(b("-inf")).as_f64(), Some(f64::NEG_INFINITY));
}

#[test]
fn raw_frames_keep_their_wire_bytes_and_views_agree() {
    for (wire, expected) in vectors() {
        let bytes = wire.as_bytes();
        for cut in 0..=bytes.len() {
            let mut codec = RawRespCodec::replies();
            let mut buf = BytesMut::from(&bytes[..cut]);
            let early = codec.decode(&mut buf).unwrap();
            assert_eq!(early.is_some(), cut == bytes.len(), "{wire:?} cut at {cut}");
            buf.extend_from_slice(&bytes[cut..]);
            let raw = early.or_else(|| codec.decode(&mut buf).unwrap()).unwrap();
            assert_eq!(raw.as_bytes(), bytes, "forwarded unchanged");
            assert_eq!(raw.to_frame(), expected, "{wire:?}");
            assert_eq!(from_view(raw.root()), expected, "{wire:?}");
        }
    }
}

#[test]
fn raw_views_borrow_the_frame_buffer() {
    let wire = Bytes::from_static(b"%2\r\n+name\r\n$5\r\nredis\r\n+n\r\n:7\r\n");
    let (raw, used) = RawFrame::decode(&wire, &DecoderConfig::replies())
        .unwrap()
        .unwrap();
    assert_eq!(used, wire.len());
    let root = raw.root();
    assert_eq!((root.kind(), root.len()), (Kind::Map, 2));
    let items: Vec<_> = root.children().collect();
    assert_eq!(
        items[1].as_bytes().unwrap().as_ptr(),
        wire[15..].as_ptr(),
        "no copy"
    );
    assert_eq!(items[3].as_integer(), Some(7));
    assert_eq!(items[3].as_bytes(), None);
    assert!(!root.is_null() && root.as_integer().is_none());
    assert_eq!(
        raw.bytes().as_ptr(),
        wire.as_ptr(),
        "the frame is a slice of the input"
    );
}

#[test]
fn raw_requests_read_arguments_in_place() {
    let mut buf = BytesMut::new();
    Frame::command(["mget", "{a}1", "{a}2", "b"])
        .encode(&mut buf)
        .unwrap();
    Frame::Array(vec![Frame::bulk("GET"), Frame::Array(vec![])])
        .encode(&mut buf)
        .unwrap();
    Frame::Array(vec![Frame::bulk("GET"), Frame::Integer(1)])
        .encode(&mut buf)
        .unwrap();
    Frame::Array(vec![]).encode(&mut buf).unwrap();
    Frame::bulk("GET").encode(&mut buf).unwrap();
    let mut codec = RawRespCodec::default();
    let mget = codec.decode(&mut buf).unwrap().unwrap();
    let request = mget.request().unwrap();
    assert_eq!((request.name(), request.len()), (&b"mget"[..], 4));
    assert!(request.is("MGET"));
    assert_eq!(request.get(2), Some(&b"{a}2"[..]));
    assert_eq!(request.get(4), None);
    let arg = request.bytes(3).unwrap();
    assert_eq!(
        arg.as_ptr(),
        request.get(3).unwrap().as_ptr(),
        "shares the frame buffer"
    );
    let cmd = request.command().unwrap();
    assert_eq!(cmd.name, "mget");
    assert_eq!(
        cmd.keys(&request).collect::<Vec<_>>(),
        [&b"{a}1"[..], b"{a}2", b"b"]
    );
    assert_eq!(command(request.name()).unwrap().name, "mget");
    for _ in 0..4 {
        let not_a_request = codec.decode(&mut buf).unwrap().unwrap();
        assert!(
            not_a_request.request().is_none(),
            "{:?}",
            not_a_request.to_frame()
        );
    }
}

#[test]
fn inline_commands_become_resp_arrays_in_raw_frames() {
    let mut codec = RawRespCodec::requests();
    let mut buf = BytesMut::from(&b"set k \"a b\"\r\n"[..]);
    let raw = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        raw.as_bytes(),
        b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$3\r\na b\r\n"
    );
    assert_eq!(raw.request().unwrap().get(2), Some(&b"a b"[..]));
    assert_eq!(RawFrame::command(["set", "k", "a b"]), raw);
}

#[tokio::test]
async fn raw_frames_are_forwarded_byte_for_byte() {
    let wire: Vec<u8> = vectors().iter().flat_map(|(w, _)| w.bytes()).collect();
    let (client, proxy_in) = tokio::io::duplex(5);
    let (proxy_out, server) = tokio::io::duplex(5);
    let input = wire.clone();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut client = client;
        client.write_all(&input).await.unwrap();
    });
    let relay = tokio::spawn(async move {
        let mut from = FramedRead::new(proxy_in, RawRespCodec::replies());
        let mut to = FramedWrite::new(proxy_out, RawRespCodec::replies());
        while let Some(frame) = from.next().await {
            to.send(frame.unwrap()).await.unwrap();
        }
    });
    let mut received = Vec::new();
    {
        use tokio::io::AsyncReadExt;
        let mut server = server;
        server.read_to_end(&mut received).await.unwrap();
    }
    writer.await.unwrap();
    relay.await.unwrap();
    assert_eq!(received, wire);
}

/// Inputs the fuzz target found (they tripped the target's own
/// bookkeeping, not the codec): inline commands, empty lines and RESP
/// mixed in one request stream.
#[test]
fn fuzz_found_inline_sequences() {
    let cases: &[(&[u8], Vec<Frame>)] = &[
        (
            b"KK\x05\n\n*0\r\n$1\r\n)\r\n",
            vec![
                Frame::command([&b"KK\x05"[..]]),
                Frame::Array(vec![]),
                Frame::command(["$1"]),
                Frame::command([")"]),
            ],
        ),
        (
            b"\n*1\r\n-\0+\x01MMM$M\xff2\r\n",
            vec![Frame::Array(vec![Frame::Error(Bytes::from_static(
                b"\0+\x01MMM$M\xff2",
            ))])],
        ),
    ];
    for (wire, expected) in cases {
        for cut in 0..=wire.len() {
            assert_eq!(
                &decode_split(wire, cut, DecoderConfig::requests()),
                expected,
                "{wire:?} cut at {cut}"
            );
        }
    }
}
