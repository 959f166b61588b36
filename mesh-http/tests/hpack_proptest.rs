//! Property tests: header lists round-trip through our encoder and decoder
//! across blocks and table size changes, in every encoder mode; arbitrary
//! bytes never make the decoder panic; Huffman round-trips any bytes.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h2::hpack::{
    Decoder, Encoder, EncoderConfig, Field, HeaderList, Indexing, Limits, huffman,
};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        // Names in the static table, with and without static values.
        prop::sample::select(vec![
            ":method",
            ":path",
            ":status",
            ":authority",
            "accept-encoding",
            "cookie",
            "authorization",
            "set-cookie",
            "user-agent",
            "content-length",
        ])
        .prop_map(|s| Bytes::from_static(s.as_bytes())),
        // A small pool of custom names, so they repeat and get indexed.
        (0u8..6).prop_map(|i| Bytes::from(format!("x-custom-{i}"))),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from),
    ]
}

fn value() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop::sample::select(vec!["GET", "/", "200", "gzip, deflate", "", "a"])
            .prop_map(|s| Bytes::from_static(s.as_bytes())),
        (0u8..8).prop_map(|i| Bytes::from(format!("value-{i}"))),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    (name(), value(), prop::bool::weighted(0.1)).prop_map(|(name, value, never_indexed)| Field {
        name,
        value,
        never_indexed,
    })
}

/// A block of fields, or a change of the peer's table size setting.
#[derive(Debug, Clone)]
enum Step {
    Block(Vec<Field>),
    TableSize(usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::collection::vec(field(), 0..12).prop_map(Step::Block),
            1 => prop::sample::select(vec![0usize, 64, 100, 256, 1000, 4096, 8192]).prop_map(Step::TableSize),
        ],
        1..20,
    )
}

fn config() -> impl Strategy<Value = EncoderConfig> {
    (
        prop::sample::select(vec![0usize, 100, 512, 4096, 65536]),
        any::<bool>(),
        prop::sample::select(vec![Indexing::Selective, Indexing::All, Indexing::Never]),
        any::<bool>(),
    )
        .prop_map(
            |(max_table_size, huffman, indexing, sensitive_defaults)| EncoderConfig {
                max_table_size,
                huffman,
                indexing,
                sensitive_defaults,
            },
        )
}

fn sensitive_default(f: &Field) -> bool {
    f.name == "authorization"
        || f.name == "proxy-authorization"
        || f.name == "cookie" && f.value.len() < 20
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn header_lists_round_trip(steps in steps(), config in config()) {
        let mut encoder = Encoder::new(config);
        let mut decoder = Decoder::new(Side::Downstream, Limits { max_header_list_size: usize::MAX, ..Limits::default() });
        for step in steps {
            match step {
                Step::TableSize(size) => {
                    decoder.set_max_table_size(size);
                    encoder.set_peer_max_table_size(size);
                }
                Step::Block(fields) => {
                    let mut wire = BytesMut::new();
                    encoder.encode(&fields, &mut wire);
                    let mut out = Vec::new();
                    decoder.decode(&wire.freeze(), &mut out).unwrap();
                    prop_assert_eq!(out.len(), fields.len());
                    for (got, sent) in out.iter().zip(&fields) {
                        prop_assert_eq!(&got.name, &sent.name);
                        prop_assert_eq!(&got.value, &sent.value);
                        let never = sent.never_indexed || config.sensitive_defaults && sensitive_default(sent);
                        prop_assert_eq!(got.never_indexed, never);
                    }
                    prop_assert!(decoder.table_size() <= decoder.table_capacity());
                    prop_assert!(decoder.table_capacity() <= config.max_table_size.max(decoder.max_table_size()));
                }
            }
        }
    }

    #[test]
    fn arbitrary_blocks_never_panic(blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8),
                                    limit in 0usize..2000) {
        let limits = Limits { max_header_list_size: limit, ..Limits::default() };
        let mut decoder = Decoder::new(Side::Downstream, limits);
        // A second decoder fills a HeaderList in lockstep: same verdict, same fields.
        let mut list_decoder = Decoder::new(Side::Downstream, limits);
        for block in blocks {
            let mut out = Vec::new();
            let block = Bytes::from(block);
            let result = decoder.decode(&block, &mut out);
            let mut list = HeaderList::new();
            let list_result = list_decoder.decode_list(&block, &mut list);
            prop_assert_eq!(result.as_ref().err().map(|e| e.kind().clone()),
                            list_result.as_ref().err().map(|e| e.kind().clone()));
            prop_assert_eq!(list.into_fields(), out.clone());
            if result.is_ok() {
                let size: usize = out.iter().map(Field::size).sum();
                prop_assert!(size <= limit);
            }
            prop_assert!(decoder.table_size() <= decoder.table_capacity());
            prop_assert_eq!(list_decoder.table_size(), decoder.table_size());
        }
    }

    #[test]
    fn huffman_round_trips(data in prop::collection::vec(any::<u8>(), 0..500)) {
        let mut code = BytesMut::new();
        huffman::encode(&data, &mut code);
        prop_assert_eq!(code.len(), huffman::encoded_len(&data));
        prop_assert_eq!(huffman::decode_to_vec(&code).unwrap(), data);
    }

    #[test]
    fn huffman_decodes_arbitrary_bytes_without_panicking(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(text) = huffman::decode_to_vec(&data) {
            // Whatever decodes re-encodes to the same bits (padding is
            // canonical: all ones, under 8 bits).
            let mut again = BytesMut::new();
            huffman::encode(&text, &mut again);
            prop_assert_eq!(&again[..], &data[..]);
        }
    }
}
