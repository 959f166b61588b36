//! The HPACK corpus stories and the encode loops that both `hpack` (the
//! criterion groups) and `hpack_interleaved` (the pass-by-pass ratios)
//! time, so the two measure exactly the same work.

use bytes::BytesMut;
use mesh_http::h2::hpack::{Encoder, EncoderConfig, FieldRef};
use mesh_testkit::hpack_corpus::{self, Case};

/// One story of the corpus: its cases in order.
pub type Story = Vec<Case>;

/// The inputs of the encode groups: the bench's name for each, and the
/// corpus implementation whose stories' header lists it encodes.
pub const ENCODE_INPUTS: [(&str, &str); 2] = [
    ("stories", "nghttp2"),
    ("table_size_changes", "nghttp2-change-table-size"),
];

/// The stories of one implementation of the corpus.
pub fn stories(implementation: &str) -> Vec<Story> {
    hpack_corpus::stories(implementation)
        .into_iter()
        .map(|s| s.cases)
        .collect()
}

/// Our default configuration with Huffman coding off: the like-for-like
/// contender beside loona-hpack, which never Huffman-codes.
pub fn no_huffman() -> EncoderConfig {
    EncoderConfig {
        huffman: false,
        ..EncoderConfig::default()
    }
}

/// Encodes every header list of `stories`, a fresh encoder per story, into
/// the reused `dst`; returns the encoded bytes.
pub fn encode_ours(stories: &[Story], config: EncoderConfig, dst: &mut BytesMut) -> usize {
    let mut total = 0;
    for story in stories {
        let mut e = Encoder::new(config);
        for case in story {
            if let Some(size) = case.table_size {
                e.set_peer_max_table_size(size);
            }
            dst.clear();
            e.encode(case.headers.iter().map(|(n, v)| FieldRef::new(n, v)), dst);
            total += dst.len();
        }
    }
    total
}

/// [`encode_ours`] with loona-hpack.
pub fn encode_loona(stories: &[Story], dst: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for story in stories {
        let mut e = loona_hpack::Encoder::new();
        for case in story {
            if let Some(size) = case.table_size {
                e.set_max_table_size(size);
            }
            dst.clear();
            e.encode_into(case.headers.iter().map(|(n, v)| (&n[..], &v[..])), dst)
                .expect("loona-hpack encodes");
            total += dst.len();
        }
    }
    total
}
