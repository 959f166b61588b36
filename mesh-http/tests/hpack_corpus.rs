//! The public hpack-test-case corpus (github.com/http2jp/hpack-test-case),
//! as shipped in the `httlib-hpack` crate package under `fixtures/`.
//!
//! 1. Every story of every implementation decodes, in order, to exactly
//!    the header lists the story records, with our decoder's table size
//!    setting following each case's `header_table_size`, both into
//!    `Bytes` fields and into a reused `HeaderList`.
//! 2. Every story's header lists, encoded by our encoder and decoded by our
//!    decoder (in every indexing mode), come back unchanged.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::BytesMut;
use mesh_core::Side;
use mesh_http::h2::hpack::{Decoder, Encoder, EncoderConfig, Field, HeaderList, Indexing, Limits};
use mesh_testkit::hpack_corpus::{self, Story};

fn corpus() -> &'static [Story] {
    static CORPUS: OnceLock<Vec<Story>> = OnceLock::new();
    CORPUS.get_or_init(hpack_corpus::all)
}

fn same(decoded: &[Field], expected: &[(Vec<u8>, Vec<u8>)]) -> bool {
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected)
            .all(|(f, (n, v))| f.name == n[..] && f.value == v[..])
}

fn unlimited() -> Limits {
    Limits {
        max_header_list_size: usize::MAX,
        ..Limits::default()
    }
}

#[test]
fn decodes_every_story_of_every_implementation() {
    let stories = corpus();
    let mut per_impl: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for story in stories {
        let mut decoder = Decoder::new(Side::Downstream, unlimited());
        let mut list_decoder = Decoder::new(Side::Downstream, unlimited());
        let mut list = HeaderList::new();
        for (seq, case) in story.cases.iter().enumerate() {
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
                list_decoder.set_max_table_size(size);
            }
            let mut fields = Vec::new();
            decoder.decode(&case.wire, &mut fields).unwrap_or_else(|e| {
                panic!("{}/{} case {seq}: {e}", story.implementation, story.name)
            });
            assert!(
                same(&fields, &case.headers),
                "{}/{} case {seq}: decoded {fields:?}",
                story.implementation,
                story.name
            );
            list.clear();
            list_decoder
                .decode_list(&case.wire, &mut list)
                .unwrap_or_else(|e| {
                    panic!("{}/{} case {seq}: {e}", story.implementation, story.name)
                });
            assert!(
                list.iter()
                    .map(|f| (f.name.to_vec(), f.value.to_vec()))
                    .eq(case.headers.iter().cloned()),
                "{}/{} case {seq}: decoded {list:?}",
                story.implementation,
                story.name
            );
            assert_eq!(list_decoder.table_size(), decoder.table_size());
        }
        let e = per_impl.entry(&story.implementation).or_default();
        e.0 += 1;
        e.1 += story.cases.len();
    }
    for (implementation, (stories, cases)) in &per_impl {
        println!("{implementation}: {stories} stories, {cases} header blocks decoded");
    }
    // The package ships 14 implementations' stories (raw-data excluded).
    assert_eq!(per_impl.len(), 14, "{:?}", per_impl.keys());
    assert_eq!(stories.len(), 446);
    assert!(per_impl.values().all(|&(s, _)| s >= 31));
}

/// Encodes each story with `config` and decodes it back; returns the total
/// encoded size.
fn round_trip(story: &Story, config: EncoderConfig) -> usize {
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(Side::Upstream, unlimited());
    let mut total = 0;
    for (seq, case) in story.cases.iter().enumerate() {
        if let Some(size) = case.table_size {
            // What a SETTINGS exchange does: our decoder's setting is the
            // peer encoder's limit.
            decoder.set_max_table_size(size);
            encoder.set_peer_max_table_size(size);
        }
        let fields: Vec<(&[u8], &[u8])> =
            case.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut block = BytesMut::new();
        encoder.encode(fields.iter().copied(), &mut block);
        total += block.len();
        let mut decoded = Vec::new();
        decoder
            .decode(&block.freeze(), &mut decoded)
            .unwrap_or_else(|e| panic!("{}/{} case {seq}: {e}", story.implementation, story.name));
        assert!(
            same(&decoded, &case.headers),
            "{}/{} case {seq} ({config:?}): got {decoded:?}",
            story.implementation,
            story.name
        );
        for f in &decoded {
            let sensitive = f.name == "authorization"
                || f.name == "proxy-authorization"
                || f.name == "cookie" && f.value.len() < 20;
            assert_eq!(
                f.never_indexed,
                config.sensitive_defaults && sensitive,
                "{f:?}"
            );
        }
    }
    total
}

#[test]
fn every_story_round_trips_through_our_encoder() {
    let configs = [
        EncoderConfig::default(),
        EncoderConfig {
            indexing: Indexing::All,
            ..EncoderConfig::default()
        },
        EncoderConfig {
            indexing: Indexing::Never,
            huffman: false,
            sensitive_defaults: false,
            ..EncoderConfig::default()
        },
        EncoderConfig {
            max_table_size: 256,
            ..EncoderConfig::default()
        },
    ];
    let mut sizes: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for story in corpus() {
        let s = sizes.entry(&story.implementation).or_default();
        s[0] += story.cases.iter().map(|c| c.wire.len()).sum::<usize>();
        // Every story in the default mode. The implementations encoded the
        // same header lists, so the other modes run on the nghttp2 stories
        // only (three sets, each with its own table size changes).
        let modes = if story.implementation.starts_with("nghttp2") {
            configs.len()
        } else {
            1
        };
        for (i, config) in configs.iter().enumerate().take(modes) {
            s[i + 1] += round_trip(story, *config);
        }
    }
    println!(
        "implementation: their bytes, ours (selective, all, never, 256-byte table; nghttp2* only for the last three)"
    );
    for (implementation, s) in &sizes {
        println!("{implementation}: {s:?}");
    }
    // Our default encoding is never worse than a stateless one without
    // Huffman, and within a few percent of the best published encoder's.
    let nghttp2 = sizes["nghttp2"];
    assert!(nghttp2[1] < nghttp2[3]);
    assert!(nghttp2[1] * 100 <= nghttp2[0] * 105, "{nghttp2:?}");
}
