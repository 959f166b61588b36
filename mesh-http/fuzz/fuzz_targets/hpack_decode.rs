//! The HPACK decoder on arbitrary header blocks (several per input, so
//! the dynamic table carries over): it must never panic, never exceed its
//! limits, decoding into a `HeaderList` must agree with decoding into
//! `Bytes` fields, and whatever it decodes must round-trip through our
//! encoder.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mesh_core::Side;
use mesh_http::h2::hpack::{Decoder, Encoder, EncoderConfig, HeaderList, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_table_size: usize::from(control & 0x0f) * 512,
        max_header_list_size: usize::from(control >> 4) * 1024 + 64,
    };
    let mut decoder = Decoder::new(Side::Downstream, limits);
    let mut list_decoder = Decoder::new(Side::Downstream, limits);
    // No sensitive defaults: the decoded never-indexed flags must carry over as they are.
    let mut encoder = Encoder::new(EncoderConfig {
        sensitive_defaults: false,
        ..EncoderConfig::default()
    });
    let mut check = Decoder::new(
        Side::Upstream,
        Limits {
            max_header_list_size: usize::MAX,
            ..Limits::default()
        },
    );
    // Blocks are separated by 0xfe bytes.
    for block in data.split(|&b| b == 0xfe) {
        let mut fields = Vec::new();
        let result = decoder.decode(&Bytes::copy_from_slice(block), &mut fields);
        let ok = result.is_ok();
        assert!(decoder.table_size() <= decoder.table_capacity());
        let mut list = HeaderList::new();
        let list_result = list_decoder.decode_list(block, &mut list);
        assert_eq!(
            result.err().map(|e| e.kind().clone()),
            list_result.err().map(|e| e.kind().clone())
        );
        assert_eq!(list.into_fields(), fields);
        assert_eq!(list_decoder.table_size(), decoder.table_size());
        if !ok {
            continue;
        }
        let size: usize = fields.iter().map(|f| f.size()).sum();
        assert!(size <= limits.max_header_list_size);
        let mut wire = BytesMut::new();
        encoder.encode(&fields, &mut wire);
        let mut again = Vec::new();
        check
            .decode(&wire.freeze(), &mut again)
            .expect("our own encoding decodes");
        assert_eq!(again, fields);
    }
});
