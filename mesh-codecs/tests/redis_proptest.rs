//! Property tests of the RESP codec: every frame round-trips through the
//! encoder, the codec and the one-shot decoders, however the bytes are
//! split into reads; no input makes a decoder panic, and a decoder fed in
//! pieces always says what it says fed at once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod redis_support;

use bytes::{Bytes, BytesMut};
use mesh_codecs::redis::{
    DecoderConfig, Frame, RawFrame, RespCodec, decode_frame, hash_tag, slot, to_resp2,
};
use proptest::prelude::*;
use redis_support::from_view;
use tokio_util::codec::Decoder;

fn line_text() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..20,
    )
    .prop_map(Bytes::from)
}

fn binary() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn double_text() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        any::<f64>().prop_map(|v| Frame::double(v)
            .as_bytes()
            .map(Bytes::copy_from_slice)
            .unwrap()),
        Just(Bytes::from_static(b"1e+20")),
        Just(Bytes::from_static(b"-0.5")),
        Just(Bytes::from_static(b"inf")),
    ]
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::SimpleString),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        binary().prop_map(Frame::BulkString),
        Just(Frame::NullBulkString),
        Just(Frame::NullArray),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        double_text().prop_map(Frame::Double),
        ("[+-]?[0-9]{1,60}").prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        binary().prop_map(Frame::BulkError),
        (any::<[u8; 3]>(), binary()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Set),
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, f)| Frame::Attribute {
                attributes,
                frame: Box::new(f)
            }),
        ]
    })
}

/// Decodes everything in `wire`, fed in reads at the given cut points.
fn codec_decode(wire: &[u8], cuts: &[usize], config: DecoderConfig) -> Result<Vec<Frame>, String> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(wire.len());
    points.sort_unstable();
    let mut codec = RespCodec::new(config);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points {
        buf.extend_from_slice(&wire[at..p]);
        at = p;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(out)
}

/// Decodes everything in `wire` with the one-shot reader.
fn oneshot_decode(wire: &Bytes, config: DecoderConfig) -> Result<Vec<Frame>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        match decode_frame(&wire.slice(at..), &config) {
            Ok(Some((f, used))) => {
                assert!(used > 0);
                out.push(f);
                at += used;
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn no_resp3(f: &Frame) -> bool {
    match f {
        Frame::SimpleString(_) | Frame::Error(_) | Frame::Integer(_) | Frame::BulkString(_) => true,
        Frame::NullBulkString | Frame::NullArray => true,
        Frame::Array(items) => items.iter().all(no_resp3),
        _ => false,
    }
}

proptest! {
    // 512 cases by default; `PROPTEST_CASES` raises it for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn frames_round_trip(frames in proptest::collection::vec(frame(), 1..6), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire).unwrap();
        }
        let total: usize = frames.iter().map(Frame::encoded_len).sum();
        prop_assert_eq!(wire.len(), total);
        let wire = wire.freeze();
        prop_assert_eq!(&codec_decode(&wire, &cuts, DecoderConfig::replies()).unwrap(), &frames);
        prop_assert_eq!(&oneshot_decode(&wire, DecoderConfig::replies()).unwrap(), &frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_reads_agree(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        inline in any::<bool>(),
    ) {
        let config = DecoderConfig { inline_commands: inline, ..DecoderConfig::default() };
        let wire = Bytes::from(data);
        let streamed = codec_decode(&wire, &cuts, config);
        let whole = codec_decode(&wire, &[], config);
        let oneshot = oneshot_decode(&wire, config);
        prop_assert_eq!(streamed.is_ok(), whole.is_ok());
        prop_assert_eq!(whole.is_ok(), oneshot.is_ok());
        if let (Ok(a), Ok(b), Ok(c)) = (streamed, whole, oneshot) {
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&b, &c);
        }
    }

    #[test]
    fn damaged_frames_never_panic_and_split_reads_agree(
        f in frame(),
        damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
    ) {
        let mut wire = f.to_bytes().unwrap().to_vec();
        for (at, byte) in damage {
            let len = wire.len();
            wire[at % len] = byte;
        }
        let wire = Bytes::from(wire);
        let streamed = codec_decode(&wire, &cuts, DecoderConfig::replies());
        let oneshot = oneshot_decode(&wire, DecoderConfig::replies());
        prop_assert_eq!(streamed.is_ok(), oneshot.is_ok());
        if let (Ok(a), Ok(b)) = (streamed, oneshot) {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn raw_views_say_what_was_encoded(f in frame()) {
        let wire = f.to_bytes().unwrap();
        let (raw, used) = RawFrame::decode(&wire, &DecoderConfig::replies()).unwrap().unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(raw.as_bytes(), &wire[..]);
        prop_assert_eq!(&raw.to_frame(), &f);
        prop_assert_eq!(&from_view(raw.root()), &f);
    }

    #[test]
    fn resp2_conversion_leaves_only_resp2(f in frame()) {
        let converted = to_resp2(f, None);
        prop_assert!(no_resp3(&converted), "{:?}", converted);
        let wire = converted.to_bytes().unwrap();
        let (back, _) = decode_frame(&wire, &DecoderConfig::replies()).unwrap().unwrap();
        prop_assert_eq!(back, converted);
    }

    #[test]
    fn hash_tags_follow_the_cluster_rule(key in proptest::collection::vec(prop_oneof![Just(b'{'), Just(b'}'), Just(b'a'), any::<u8>()], 0..16)) {
        // The rule, written the slow way.
        let expected: &[u8] = match key.iter().position(|&c| c == b'{') {
            Some(open) => match key[open + 1..].iter().position(|&c| c == b'}') {
                Some(0) | None => &key,
                Some(len) => &key[open + 1..open + 1 + len],
            },
            None => &key,
        };
        prop_assert_eq!(hash_tag(&key), expected);
        prop_assert!(slot(&key) < 16384);
    }
}
