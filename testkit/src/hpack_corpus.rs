//! The public hpack-test-case corpus (github.com/http2jp/hpack-test-case),
//! as the `httlib-hpack` package ships it under `fixtures/`: one folder per
//! encoder implementation, one JSON story per file, each a sequence of
//! header blocks with the header list they encode.
//!
//! The package is found by asking cargo where it is (`cargo metadata`), so
//! the corpus is read from the registry copy of the exact version the
//! workspace locks; `httlib-hpack` is a dependency of the tests and
//! benchmarks that read it.

use std::path::PathBuf;

use bytes::Bytes;
use std::process::Command;

/// One header block of a story.
#[derive(Debug, Clone)]
pub struct Case {
    /// The table size in force from this block on (`header_table_size`).
    pub table_size: Option<usize>,
    /// The encoded block.
    pub wire: Bytes,
    /// The header list it encodes, in order.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One story: header blocks to be decoded in order by one decoder.
#[derive(Debug, Clone)]
pub struct Story {
    /// The implementation that encoded it (the folder name).
    pub implementation: String,
    /// The file name.
    pub name: String,
    /// Its header blocks.
    pub cases: Vec<Case>,
}

/// The `fixtures/` folder of the locked httlib-hpack package.
///
/// Not `cargo metadata --offline`: metadata resolves every platform's
/// packages, and a fresh machine has downloaded only its own platform's.
pub fn fixtures_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
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
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let package = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "httlib-hpack")
        .expect("httlib-hpack is a dependency of the workspace's tests and benches");
    let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest path"));
    let dir = manifest.parent().expect("package dir").join("fixtures");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

/// Every story of every implementation, sorted by implementation and name.
pub fn all() -> Vec<Story> {
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter()
        .flat_map(|d| stories(&d.file_name().expect("name").to_string_lossy()))
        .collect()
}

/// The stories of one implementation, sorted by name.
pub fn stories(implementation: &str) -> Vec<Story> {
    let dir = fixtures_dir().join(implementation);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).expect("read story"))
                    .expect("story JSON");
            let cases = json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|c| Case {
                    table_size: c["header_table_size"].as_u64().map(|n| n as usize),
                    wire: unhex(c["wire"].as_str().expect("wire")),
                    headers: c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("header").iter())
                        .map(|(n, v)| {
                            let v = v.as_str().expect("value");
                            (n.as_bytes().to_vec(), v.as_bytes().to_vec())
                        })
                        .collect(),
                })
                .collect();
            Story {
                implementation: implementation.to_owned(),
                name: file
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                cases,
            }
        })
        .collect()
}

fn unhex(s: &str) -> Bytes {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not hex: {c}"),
    };
    assert_eq!(s.len() % 2, 0, "odd hex length");
    s.as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect::<Vec<u8>>()
        .into()
}
