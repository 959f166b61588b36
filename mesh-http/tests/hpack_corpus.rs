//! The public hpack-test-case corpus (github.com/http2jp/hpack-test-case),
//! as shipped in the `httlib-hpack` crate package under `fixtures/`.
//!
//! 1. Every story of every implementation decodes, in order, to exactly
//!    the header lists the story records, with our decoder's table size
//!    setting following each case's `header_table_size`.
//! 2. Every story's header lists, encoded by our encoder and decoded by our
//!    decoder (in every indexing mode), come back unchanged.
// Test helpers too: a panic is a failed assertion with a location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use mesh_core::Side;
use mesh_http::h2::hpack::{Decoder, Encoder, EncoderConfig, Field, Indexing, Limits};

struct Case {
    table_size: Option<usize>,
    wire: Bytes,
    headers: Vec<(String, String)>,
}

struct Story {
    implementation: String,
    name: String,
    cases: Vec<Case>,
}

/// The `fixtures/` folder of the httlib-hpack package, found by asking
/// cargo (the one running this test) where the package is. Not
/// `--offline`: metadata resolves every platform's packages, and a fresh
/// machine has downloaded only its own platform's.
fn fixtures_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "httlib-hpack")
        .expect("httlib-hpack is a dev-dependency of mesh-http");
    let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
    let dir = manifest.parent().unwrap().join("fixtures");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

fn unhex(s: &str) -> Bytes {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not hex: {c}"),
    };
    assert_eq!(s.len() % 2, 0);
    s.as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect::<Vec<u8>>()
        .into()
}

fn corpus() -> &'static [Story] {
    static CORPUS: OnceLock<Vec<Story>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut stories = Vec::new();
        let mut dirs: Vec<_> = std::fs::read_dir(fixtures_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let implementation = dir.file_name().unwrap().to_string_lossy().into_owned();
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for file in files {
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
                let cases = json["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| Case {
                        table_size: c["header_table_size"].as_u64().map(|n| n as usize),
                        wire: unhex(c["wire"].as_str().unwrap()),
                        headers: c["headers"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .flat_map(|h| h.as_object().unwrap().iter())
                            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
                            .collect(),
                    })
                    .collect();
                stories.push(Story {
                    implementation: implementation.clone(),
                    name: file.file_name().unwrap().to_string_lossy().into_owned(),
                    cases,
                });
            }
        }
        stories
    })
}

fn same(decoded: &[Field], expected: &[(String, String)]) -> bool {
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected)
            .all(|(f, (n, v))| f.name == n.as_bytes() && f.value == v.as_bytes())
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
        for (seq, case) in story.cases.iter().enumerate() {
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
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
        let fields: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
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
