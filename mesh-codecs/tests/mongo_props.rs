//! Property tests of the MongoDB codec: OP_MSG messages (any flags, any
//! section order, any compressor) round-trip through the encoder and the
//! decoder cut anywhere; arbitrary and mutated bytes never panic the
//! decoder, the borrowing parse, the summary or the sniffer.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mongo_support;

use bytes::BytesMut;
use mesh_codecs::mongo::bson::DocumentBuf;
use mesh_codecs::mongo::{
    Compressor, HEADER_LEN, Header, Limits, Message, MongoCodec, MongoSniffer, MsgFlags, Op,
    OpMsgBuilder, Section, Status, Validation, parse,
};
use mesh_core::{Detection, Sniff};
use mongo_support::{encode_doc, value_doc};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, Clone)]
struct MsgSpec {
    request_id: i32,
    response_to: i32,
    flags: u32,
    body: DocumentBuf,
    body_at: usize,
    sequences: Vec<(String, Vec<DocumentBuf>)>,
    compressor: Option<Compressor>,
}

fn msg_spec() -> impl Strategy<Value = MsgSpec> {
    (
        any::<i32>(),
        any::<i32>(),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<u16>()),
        value_doc(),
        any::<prop::sample::Index>(),
        proptest::collection::vec(
            (
                "[a-zA-Z$.]{1,10}",
                proptest::collection::vec(value_doc(), 0..4),
            ),
            0..3,
        ),
        prop_oneof![
            Just(None),
            Just(Some(Compressor::Noop)),
            Just(Some(Compressor::Snappy)),
            Just(Some(Compressor::Zlib)),
            Just(Some(Compressor::Zstd)),
        ],
    )
        .prop_map(
            |(request_id, response_to, (crc, more, exhaust, high), body, at, seqs, compressor)| {
                let mut flags = u32::from(high) << 16;
                if crc {
                    flags |= MsgFlags::CHECKSUM_PRESENT.bits();
                }
                if more {
                    flags |= MsgFlags::MORE_TO_COME.bits();
                }
                if exhaust {
                    flags |= MsgFlags::EXHAUST_ALLOWED.bits();
                }
                MsgSpec {
                    request_id,
                    response_to,
                    flags,
                    body: encode_doc(&body),
                    body_at: at.index(seqs.len() + 1),
                    sequences: seqs
                        .into_iter()
                        .map(|(id, docs)| (id, docs.iter().map(|d| encode_doc(d)).collect()))
                        .collect(),
                    compressor,
                }
            },
        )
}

fn build(spec: &MsgSpec) -> Message {
    let mut b = OpMsgBuilder::new(spec.request_id, spec.response_to).flags(MsgFlags(spec.flags));
    for (i, (id, docs)) in spec.sequences.iter().enumerate() {
        if i == spec.body_at {
            b = b.body(spec.body.as_document());
        }
        b = b.sequence(id, docs.iter().map(|d| d.as_document()));
    }
    if spec.body_at == spec.sequences.len() {
        b = b.body(spec.body.as_document());
    }
    let msg = b.build().unwrap();
    match spec.compressor {
        Some(c) => msg.compress(c).unwrap(),
        None => msg,
    }
}

fn check(spec: &MsgSpec, msg: &Message) {
    assert_eq!(msg.request_id(), spec.request_id);
    assert_eq!(msg.response_to(), spec.response_to);
    assert_eq!(msg.compressor(), spec.compressor);
    let Op::Msg(m) = msg.op().unwrap() else {
        panic!("not OP_MSG")
    };
    assert_eq!(m.flags().bits(), spec.flags);
    assert_eq!(
        m.checksum().is_some(),
        MsgFlags(spec.flags).checksum_present()
    );
    assert_eq!(m.body().as_bytes(), spec.body.as_bytes());
    let sections: Vec<_> = m.sections().collect();
    assert_eq!(sections.len(), spec.sequences.len() + 1);
    let mut seqs = spec.sequences.iter();
    for (i, s) in sections.iter().enumerate() {
        match s {
            Section::Body(b) => {
                assert_eq!(i, spec.body_at);
                assert_eq!(b.as_bytes(), spec.body.as_bytes());
            }
            Section::Sequence(seq) => {
                let (id, docs) = seqs.next().unwrap();
                assert_eq!(seq.identifier(), id);
                let got: Vec<_> = seq.documents().map(|d| d.as_bytes().to_vec()).collect();
                let want: Vec<_> = docs.iter().map(|d| d.as_bytes().to_vec()).collect();
                assert_eq!(got, want);
            }
        }
    }
    // The summary is always readable from a fully validated message.
    let s = msg.summary().unwrap();
    let seq_docs: usize = spec.sequences.iter().map(|(_, d)| d.len()).sum();
    assert!(s.documents >= seq_docs);
    assert_eq!(s.more_to_come, MsgFlags(spec.flags).more_to_come());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn op_msg_round_trips_cut_anywhere(
        specs in proptest::collection::vec(msg_spec(), 1..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let msgs: Vec<_> = specs.iter().map(build).collect();
        let mut codec = MongoCodec::new(Limits::default());
        let mut wire = BytesMut::new();
        for m in &msgs {
            codec.encode(m.clone(), &mut wire).unwrap();
        }
        let wire = wire.freeze();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for p in points {
            buf.extend_from_slice(&wire[from..p]);
            from = p;
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got.len(), specs.len());
        for (spec, m) in specs.iter().zip(&got) {
            check(spec, m);
        }
        prop_assert_eq!(&got, &msgs);
        // The borrowing parse reads the first message in place.
        let limits = Limits::default();
        match parse(&wire, &limits).unwrap() {
            Status::Complete(p) => prop_assert_eq!(p.len, msgs[0].wire_bytes().len()),
            Status::Partial => prop_assert!(false, "complete input was Partial"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        never_panics(&bytes);
    }

    /// Bytes behind a valid header reach the opcode parsers.
    #[test]
    fn arbitrary_bodies_never_panic(
        op in prop::sample::select(vec![1, 2001, 2002, 2004, 2005, 2006, 2007, 2012, 2013]),
        response_to in prop_oneof![Just(0), any::<i32>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = Header {
            message_length: (HEADER_LEN + body.len()) as i32,
            request_id: 1,
            response_to,
            op_code: op,
        };
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&body);
        never_panics(&bytes);
    }

    /// Valid messages with a few bytes changed reach deep into the parsers.
    #[test]
    fn mutated_messages_never_panic(
        spec in msg_spec(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = build(&spec).wire_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            // Keep the length, so the edit is inside the message.
            if i >= 4 {
                bytes[i] = b;
            }
        }
        never_panics(&bytes);
    }

    #[test]
    fn sniffer_is_monotone(spec in msg_spec(), noise in proptest::collection::vec(any::<u8>(), 0..40)) {
        let sniffer = MongoSniffer::default();
        for input in [build(&spec).wire_bytes().to_vec(), noise] {
            let mut decided = None;
            for n in 0..=input.len() {
                let d = sniffer.sniff(&input[..n]);
                if let Some(prev) = decided {
                    prop_assert_eq!(d, prev, "prefix {}", n);
                } else if d != Detection::NeedMore {
                    decided = Some(d);
                }
            }
        }
    }
}

/// Runs everything that reads bytes over `bytes`; only panics matter.
/// Under full validation, a message that decodes also summarises.
fn never_panics(bytes: &[u8]) {
    for validation in [Validation::Full, Validation::Frame] {
        let limits = Limits::default().with_validation(validation);
        let mut codec = MongoCodec::new(limits);
        let mut buf = BytesMut::from(bytes);
        while let Ok(Some(msg)) = codec.decode(&mut buf) {
            let summary = msg.summary();
            if validation == Validation::Full {
                assert!(summary.is_ok(), "{summary:?}");
            }
            let _ = format!("{:?}", msg.op());
        }
        if let Ok(Status::Complete(p)) = parse(bytes, &limits) {
            let _ = mesh_codecs::mongo::Summary::from_op(&p.header, &p.op);
            if let Op::Compressed(c) = p.op {
                let _ = c.decompress(&p.header);
            }
        }
        let _ = Message::from_bytes(bytes::Bytes::copy_from_slice(bytes), &limits);
    }
    let _ = MongoSniffer::default().sniff(bytes);
}
