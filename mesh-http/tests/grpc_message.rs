//! gRPC message framing: round trips, every split of the input, arbitrary
//! bytes, and the work done while a large message trickles in.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::grpc::{Code, Encoding, Limits, Message, MessageCodec, MessageErrorKind};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn codec(encoding: Encoding) -> MessageCodec {
    MessageCodec::new(Side::Downstream, Limits::default())
        .send_encoding(encoding)
        .recv_encoding(encoding)
}

fn encode_all(encoding: Encoding, messages: &[Bytes]) -> BytesMut {
    let mut c = codec(encoding);
    let mut wire = BytesMut::new();
    for m in messages {
        c.encode(m.clone(), &mut wire).unwrap();
    }
    wire
}

/// Feeds `wire` in the given pieces and decodes everything, ending the
/// stream with `decode_eof`.
fn decode_pieces<'a>(encoding: Encoding, pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<Bytes> {
    let mut c = codec(encoding);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.put_slice(piece);
        while let Some(m) = c.decode(&mut buf).unwrap() {
            out.push(m);
        }
    }
    while let Some(m) = c.decode_eof(&mut buf).unwrap() {
        out.push(m);
    }
    out
}

fn sample() -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"hello"),
        Bytes::new(),
        Bytes::from(vec![7u8; 300]),
        Bytes::from_static(b"\x00\x00\x00\x00\x05"),
    ]
}

#[test]
fn every_byte_split_of_a_message_sequence() {
    for encoding in [Encoding::Identity, Encoding::Gzip] {
        let messages = sample();
        let wire = encode_all(encoding, &messages);
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            assert_eq!(decode_pieces(encoding, [a, b]), messages, "cut at {cut}");
        }
        // One byte at a time.
        assert_eq!(decode_pieces(encoding, wire.chunks(1)), messages);
    }
}

#[test]
fn waiting_for_a_large_message_does_no_work_per_byte() {
    // Once the prefix is read, the codec remembers it and each further call
    // is one length comparison: nothing is re-read, consumed, copied or
    // reserved until the payload is whole, so n pieces cost O(n).
    let payload = Bytes::from(vec![1u8; 64 << 10]);
    let wire = encode_all(Encoding::Identity, std::slice::from_ref(&payload));
    let mut c = codec(Encoding::Identity);
    let mut buf = BytesMut::with_capacity(wire.len());
    for (i, b) in wire[..wire.len() - 1].iter().enumerate() {
        buf.put_u8(*b);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        let fed = i + 1;
        if fed < 5 {
            assert_eq!(buf.len(), fed, "a partial prefix stays in the buffer");
        } else {
            assert!(c.is_mid_message());
            assert_eq!(buf.len(), fed - 5, "the prefix was consumed once");
            assert_eq!(buf.capacity(), wire.len() - 5, "nothing reserved");
        }
    }
    buf.put_u8(wire[wire.len() - 1]);
    assert_eq!(c.decode(&mut buf).unwrap().unwrap(), payload);
    assert!(!c.is_mid_message() && buf.is_empty());
}

#[test]
fn three_mebibytes_within_the_default_limit() {
    let big = Bytes::from(incompressible(3 << 20));
    for encoding in [Encoding::Identity, Encoding::Gzip] {
        let wire = encode_all(encoding, &[big.clone(), Bytes::new()]);
        let got = decode_pieces(encoding, wire.chunks(16 << 10));
        assert_eq!(got.len(), 2);
        assert!(got[0] == big && got[1].is_empty());
    }
    // Above the limit: refused at the prefix, on the wire or inflated.
    let limits = Limits {
        max_message_size: (3 << 20) - 1,
    };
    let wire = encode_all(Encoding::Identity, std::slice::from_ref(&big));
    let e = MessageCodec::new(Side::Upstream, limits)
        .decode(&mut BytesMut::from(&wire[..5]))
        .unwrap_err();
    assert!(matches!(e.kind(), MessageErrorKind::TooLarge { .. }), "{e}");
    let zeros = Bytes::from(vec![0u8; 3 << 20]);
    let mut wire = encode_all(Encoding::Gzip, &[zeros]);
    let e = MessageCodec::new(Side::Upstream, limits)
        .recv_encoding(Encoding::Gzip)
        .decode(&mut wire)
        .unwrap_err();
    assert!(
        matches!(e.kind(), MessageErrorKind::InflatesTooLarge { .. }),
        "{e}"
    );
    assert_eq!(e.code(), Code::ResourceExhausted);
}

/// Bytes that do not compress well, deterministically.
fn incompressible(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn raw_decoding_keeps_compressed_payloads() {
    let wire = encode_all(Encoding::Gzip, &sample());
    let mut c = MessageCodec::new(Side::Downstream, Limits::default());
    let mut buf = wire.clone();
    let mut again = BytesMut::new();
    while let Some(m) = c.decode_message(&mut buf).unwrap() {
        assert!(m.compressed);
        c.encode(m, &mut again).unwrap();
    }
    c.finish(&buf).unwrap();
    assert_eq!(again, wire, "forwarded byte for byte");
}

fn payloads() -> impl Strategy<Value = Vec<Bytes>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 0..2048),
            // Compressible runs.
            (any::<u8>(), 0usize..4096).prop_map(|(b, n)| vec![b; n]),
        ]
        .prop_map(Bytes::from),
        0..8,
    )
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Identity), Just(Encoding::Gzip)]
}

proptest! {
    #[test]
    fn round_trip_split_anywhere(
        messages in payloads(),
        encoding in encoding(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let wire = encode_all(encoding, &messages);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([wire.len()]) {
            pieces.push(&wire[start..p]);
            start = p;
        }
        prop_assert_eq!(decode_pieces(encoding, pieces), messages);
    }

    #[test]
    fn raw_messages_round_trip(
        messages in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..512)), 0..8),
    ) {
        let messages: Vec<Message> = messages
            .into_iter()
            .map(|(compressed, p)| Message { compressed, payload: Bytes::from(p) })
            .collect();
        let mut c = MessageCodec::new(Side::Upstream, Limits::default());
        let mut wire = BytesMut::new();
        for m in &messages {
            c.encode(m.clone(), &mut wire).unwrap();
        }
        prop_assert_eq!(wire.len(), messages.iter().map(Message::wire_len).sum::<usize>());
        let mut got = Vec::new();
        while let Some(m) = c.decode_message(&mut wire).unwrap() {
            got.push(m);
        }
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..512),
        chunk in 1usize..64,
        encoding in encoding(),
        max in 0usize..1024,
    ) {
        let mut c = MessageCodec::new(Side::Downstream, Limits { max_message_size: max })
            .recv_encoding(encoding);
        let mut buf = BytesMut::new();
        'feed: for piece in data.chunks(chunk) {
            buf.put_slice(piece);
            loop {
                match c.decode(&mut buf) {
                    Ok(Some(m)) => prop_assert!(m.len() <= max),
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
        let _ = c.decode_eof(&mut buf);
    }
}
