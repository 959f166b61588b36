//! HPACK decoder limits and ordering rules, and the encoder's handling of
//! sensitive fields and table size changes.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use mesh_core::{ErrorClass, Side};
use mesh_http::h2::ErrorCode;
use mesh_http::h2::hpack::huffman::HuffmanError;
use mesh_http::h2::hpack::{
    Decoder, Encoder, EncoderConfig, Field, FieldRef, HpackErrorKind, Limits,
};

fn unhex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn decoder() -> Decoder {
    Decoder::new(Side::Downstream, Limits::default())
}

fn decode(d: &mut Decoder, block: &Bytes) -> Result<Vec<Field>, HpackErrorKind> {
    let mut out = Vec::new();
    d.decode(block, &mut out)
        .map(|()| out)
        .map_err(|e| e.kind().clone())
}

#[test]
fn a_decompression_bomb_is_an_error_not_an_allocation() {
    // One 4 000-byte entry, then 20 000 one-byte references to it: 80 MB
    // of headers from a 20 kB block.
    let mut block = BytesMut::new();
    block.put_slice(&[0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]); // value length 4000
    block.put_bytes(b'v', 4000);
    block.put_bytes(0xbe, 20_000);
    let block = block.freeze();
    let mut d = decoder();
    let mut emitted = 0usize;
    let err = d.decode_with(&block, |_| emitted += 1).unwrap_err();
    let HpackErrorKind::HeaderListTooLarge { size, limit } = *err.kind() else {
        panic!("{err}");
    };
    assert_eq!(limit, Limits::DEFAULT_HEADER_LIST_SIZE);
    assert!(size > limit);
    // Fields stop being handed out at the cap: 16 fit in 64 KiB.
    assert_eq!(emitted, 16);
    assert!(err.is_stream_error());
    assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
    assert_eq!(err.side(), Side::Downstream);
    assert!(!err.retry_safe());
    assert!(
        err.to_string().contains("exceeds the limit of 65536"),
        "{err}"
    );
    // The table stayed in step with the peer: the next block works.
    let next = decode(&mut d, &Bytes::from_static(&[0xbe])).unwrap();
    assert_eq!(next[0].value.len(), 4000);
}

#[test]
fn an_oversized_list_still_updates_the_table() {
    let mut d = Decoder::new(
        Side::Upstream,
        Limits {
            max_header_list_size: 40,
            ..Limits::default()
        },
    );
    // Two literals with indexing: the first fits, the second passes the
    // cap but must still be inserted.
    let block = unhex("4001 6101 31 4001 6201 32");
    assert!(matches!(
        decode(&mut d, &block),
        Err(HpackErrorKind::HeaderListTooLarge {
            size: 68,
            limit: 40
        })
    ));
    assert_eq!(d.table_len(), 2);
    let f = decode(&mut d, &unhex("be")).unwrap();
    assert_eq!(f, [Field::new("b", "2")]);
    // A literal without indexing past the cap is skipped, not decoded:
    // even an invalid Huffman string in it is not looked at.
    let block = unhex("4001 6101 31 0001 6101 32 0001 63 81 ff");
    assert!(matches!(
        decode(&mut d, &block),
        Err(HpackErrorKind::HeaderListTooLarge { .. })
    ));
}

#[test]
fn table_size_updates_must_come_first_and_within_the_setting() {
    let mut d = decoder();
    // 4097 > 4096.
    let err = decode(&mut d, &unhex("3fe2 1f")).unwrap_err();
    assert_eq!(
        err,
        HpackErrorKind::TableSizeTooLarge {
            size: 4097,
            max: 4096
        }
    );
    let mut d = decoder();
    let err = decode(&mut d, &unhex("82 3f11")).unwrap_err();
    assert_eq!(err, HpackErrorKind::TableSizeUpdateNotFirst);
    let mut d = decoder();
    // Two updates (the smallest, then the final size) are fine.
    assert_eq!(decode(&mut d, &unhex("20 3f11 82")).unwrap().len(), 1);
    assert_eq!(d.table_capacity(), 48);
}

#[test]
fn lowering_the_setting_requires_an_update_in_the_next_block() {
    let mut d = decoder();
    d.set_max_table_size(1000);
    d.set_max_table_size(2000);
    // No update: error, and the requirement stays.
    let err = decode(&mut d, &unhex("82")).unwrap_err();
    assert_eq!(err, HpackErrorKind::TableSizeUpdateMissing { max: 1000 });
    let err = decode(&mut d, &unhex("82")).unwrap_err();
    assert_eq!(err, HpackErrorKind::TableSizeUpdateMissing { max: 1000 });
    // The first update must honour the smallest setting of the interval.
    let mut d2 = decoder();
    d2.set_max_table_size(1000);
    d2.set_max_table_size(2000);
    let err = decode(&mut d2, &unhex("3fb1 0f 82")).unwrap_err(); // 2000
    assert_eq!(
        err,
        HpackErrorKind::TableSizeTooLarge {
            size: 2000,
            max: 1000
        }
    );
    // 1000 then 2000: fine, and the table ends at 2000.
    let f = decode(&mut d, &unhex("3fc9 07 3fb1 0f 82")).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(d.table_capacity(), 2000);
    // Raising the setting needs nothing.
    d.set_max_table_size(8192);
    assert_eq!(decode(&mut d, &unhex("82")).unwrap().len(), 1);
}

#[test]
fn malformed_blocks_are_compression_errors() {
    let cases: &[(&str, HpackErrorKind)] = &[
        (
            "80",
            HpackErrorKind::InvalidIndex {
                index: 0,
                table_len: 61,
            },
        ),
        (
            "be",
            HpackErrorKind::InvalidIndex {
                index: 62,
                table_len: 61,
            },
        ),
        (
            "7f00",
            HpackErrorKind::InvalidIndex {
                index: 63,
                table_len: 61,
            },
        ),
        ("ff", HpackErrorKind::Truncated { what: "an integer" }),
        ("ffff ffff ff0f", HpackErrorKind::IntegerOverflow),
        (
            "40",
            HpackErrorKind::Truncated {
                what: "a string length",
            },
        ),
        ("4003 61", HpackErrorKind::Truncated { what: "a string" }),
        (
            "0001 61",
            HpackErrorKind::Truncated {
                what: "a string length",
            },
        ),
        (
            "0001 6184 ffff ffff",
            HpackErrorKind::Huffman(HuffmanError::Eos),
        ),
        (
            "0001 6183 ffff ff",
            HpackErrorKind::Huffman(HuffmanError::Padding),
        ),
        (
            "0001 6181 00",
            HpackErrorKind::Huffman(HuffmanError::Padding),
        ),
    ];
    for (wire, want) in cases {
        let mut d = decoder();
        let mut out = Vec::new();
        let err = d.decode(&unhex(wire), &mut out).unwrap_err();
        assert_eq!(err.kind(), want, "{wire}");
        assert_eq!(err.code(), ErrorCode::COMPRESSION_ERROR);
        assert!(!err.is_stream_error());
    }
}

#[test]
fn never_indexed_fields_stay_never_indexed_through_a_proxy() {
    // A client sends a never-indexed `x-token` (name literal) and
    // `authorization` (static name 23).
    let mut client = Encoder::default();
    let mut wire = BytesMut::new();
    client.encode(
        [
            FieldRef {
                name: b"x-token",
                value: b"s3cr3t-value-long-enough-to-index",
                never_indexed: true,
            },
            FieldRef::new(b"authorization", b"Basic dXNlcjpwYXNz"),
        ],
        &mut wire,
    );
    assert_eq!(wire[0] & 0xf0, 0x10, "never-indexed literal");
    let mut proxy_in = decoder();
    let fields = decode(&mut proxy_in, &wire.freeze()).unwrap();
    assert!(fields.iter().all(|f| f.never_indexed));
    assert_eq!(proxy_in.table_len(), 0);
    // The proxy re-encodes with sensitive defaults off: the flags carry.
    let mut proxy_out = Encoder::new(EncoderConfig {
        sensitive_defaults: false,
        ..EncoderConfig::default()
    });
    let mut wire2 = BytesMut::new();
    proxy_out.encode(&fields, &mut wire2);
    let mut server = decoder();
    let again = decode(&mut server, &wire2.freeze()).unwrap();
    assert_eq!(again, fields);
    assert_eq!(server.table_len(), 0);
    // Sent twice, a never-indexed field is a literal both times.
    let mut wire3 = BytesMut::new();
    proxy_out.encode(&fields, &mut wire3);
    assert_eq!(decode(&mut server, &wire3.freeze()).unwrap(), fields);
    assert_eq!(server.table_len(), 0);
}

#[test]
fn credentials_and_short_cookies_are_never_indexed_by_default() {
    let mut e = Encoder::default();
    let mut d = decoder();
    let long_cookie = "session=0123456789abcdef0123456789";
    let fields = [
        ("authorization", "Bearer abc"),
        ("proxy-authorization", "Basic eHk="),
        ("cookie", "id=42"),
        ("cookie", long_cookie),
        ("x-other", "value"),
    ];
    let mut wire = BytesMut::new();
    e.encode(fields, &mut wire);
    let out = decode(&mut d, &wire.freeze()).unwrap();
    let flags: Vec<bool> = out.iter().map(|f| f.never_indexed).collect();
    assert_eq!(flags, [true, true, true, false, false]);
    // Only the long cookie and x-other went into the table.
    assert_eq!(d.table_len(), 2);
    // Repeated: the indexed ones are single bytes now.
    let mut wire = BytesMut::new();
    e.encode([("cookie", long_cookie), ("x-other", "value")], &mut wire);
    assert_eq!(&wire[..], [0xbf, 0xbe]);
}

#[test]
fn encoder_signals_table_size_changes() {
    // A smaller table than the RFC's initial 4096: announced at once.
    let mut e = Encoder::new(EncoderConfig {
        max_table_size: 1024,
        ..EncoderConfig::default()
    });
    let mut wire = BytesMut::new();
    e.encode([(":method", "GET")], &mut wire);
    assert_eq!(&wire[..], unhex("3fe1 07 82"));
    // The peer lowers its setting to 0 and raises it again before our next
    // block: the smallest, then the final size (capped by our 1024).
    e.set_peer_max_table_size(0);
    e.set_peer_max_table_size(8192);
    let mut wire = BytesMut::new();
    e.encode([(":method", "GET")], &mut wire);
    assert_eq!(&wire[..], unhex("20 3fe1 07 82"));
    // Nothing owed afterwards.
    let mut wire = BytesMut::new();
    e.encode([(":method", "GET")], &mut wire);
    assert_eq!(&wire[..], [0x82]);
}

#[test]
fn entries_larger_than_the_table_empty_it_on_both_sides() {
    let mut e = Encoder::new(EncoderConfig {
        max_table_size: 100,
        indexing: mesh_http::h2::hpack::Indexing::All,
        ..EncoderConfig::default()
    });
    let mut d = decoder();
    let big = "v".repeat(80);
    for fields in [
        vec![("a", "1"), ("b", "2")],
        vec![("c", big.as_str())],
        vec![("a", "1"), ("c", big.as_str())],
    ] {
        let mut wire = BytesMut::new();
        e.encode(fields.iter().copied(), &mut wire);
        let out = decode(&mut d, &wire.freeze()).unwrap();
        let got: Vec<(&[u8], &[u8])> = out.iter().map(|f| (&f.name[..], &f.value[..])).collect();
        let want: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(got, want);
        assert!(d.table_size() <= 100);
    }
}

#[test]
fn plain_literals_are_slices_of_the_block() {
    let mut d = decoder();
    let block = unhex("0004 6e61 6d65 0576 616c 7565");
    let out = decode(&mut d, &block).unwrap();
    assert_eq!(out, [Field::new("name", "value")]);
    // Zero copy: the value points into the block's memory.
    let range = block.as_ptr_range();
    assert!(range.contains(&out[0].value.as_ptr()));
    assert!(range.contains(&out[0].name.as_ptr()));
}
