//! The command table against a real `redis-server`: every command and
//! subcommand `COMMAND` reports, with the same arity, flags, legacy key
//! positions and key specs, and key extraction that agrees with
//! `COMMAND GETKEYS`.
//!
//! The table is generated from the server's answer; run this test with
//! `MESH_REDIS_REGENERATE=1` to rewrite `src/redis/command/table.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

mod redis_support;

use mesh_codecs::redis::{BeginSearch, CommandFlags, Frame, Request, command, commands};
use mesh_testkit::redis_server;
use redis_support::{Conn, words};

const TABLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/redis/command/table.rs");

fn text(f: &Frame) -> String {
    String::from_utf8(
        f.as_bytes()
            .unwrap_or_else(|| panic!("not a string: {f:?}"))
            .to_vec(),
    )
    .unwrap()
}

fn int(f: &Frame) -> i64 {
    f.as_integer()
        .unwrap_or_else(|| panic!("not an integer: {f:?}"))
}

fn items(f: &Frame) -> &[Frame] {
    f.as_elements()
        .unwrap_or_else(|| panic!("not an array: {f:?}"))
}

/// A RESP2 map (a flat array of names and values) as pairs.
fn fields(f: &Frame) -> Vec<(String, &Frame)> {
    items(f)
        .chunks(2)
        .map(|kv| (text(&kv[0]), &kv[1]))
        .collect()
}

fn field<'a>(f: &'a Frame, name: &str) -> &'a Frame {
    fields(f)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no field {name} in {f:?}"))
        .1
}

fn flags_source(entry: &[Frame]) -> String {
    let mut flags = Vec::new();
    for flag in items(&entry[2]).iter().map(text) {
        let name = match flag.as_str() {
            "readonly" => "READ",
            "write" => "WRITE",
            "blocking" => "BLOCKING",
            "pubsub" => "PUBSUB",
            "admin" => "ADMIN",
            "movablekeys" => "MOVABLE_KEYS",
            "fast" => "FAST",
            "noscript" => "NO_SCRIPT",
            "denyoom" => "DENY_OOM",
            "no_multi" => "NO_MULTI",
            "no_auth" => "NO_AUTH",
            _ => continue,
        };
        flags.push(name);
    }
    for category in items(&entry[6]).iter().map(text) {
        let name = match category.as_str() {
            "@transaction" => "TRANSACTION",
            "@connection" => "CONNECTION",
            "@scripting" => "SCRIPTING",
            "@dangerous" => "DANGEROUS",
            _ => continue,
        };
        flags.push(name);
    }
    format!("f(&[{}])", flags.join(", "))
}

fn key_spec_source(spec: &Frame) -> String {
    let flags: Vec<String> = items(field(spec, "flags")).iter().map(text).collect();
    let begin = field(spec, "begin_search");
    let begin = match text(field(begin, "type")).as_str() {
        "index" => format!("idx({})", int(field(field(begin, "spec"), "index"))),
        "keyword" => {
            let s = field(begin, "spec");
            format!(
                "kw({:?}, {})",
                text(field(s, "keyword")),
                int(field(s, "startfrom"))
            )
        }
        "unknown" => "BS_UNKNOWN".to_owned(),
        other => panic!("begin_search type {other}"),
    };
    let find = field(spec, "find_keys");
    let find = match text(field(find, "type")).as_str() {
        "range" => {
            let s = field(find, "spec");
            format!(
                "range({}, {}, {})",
                int(field(s, "lastkey")),
                int(field(s, "keystep")),
                int(field(s, "limit"))
            )
        }
        "keynum" => {
            let s = field(find, "spec");
            format!(
                "keynum({}, {}, {})",
                int(field(s, "keynumidx")),
                int(field(s, "firstkey")),
                int(field(s, "keystep"))
            )
        }
        "unknown" => "FK_UNKNOWN".to_owned(),
        other => panic!("find_keys type {other}"),
    };
    let incomplete = flags.iter().any(|f| f == "incomplete");
    let not_key = flags.iter().any(|f| f == "not_key");
    format!("ks({begin}, {find}, {incomplete}, {not_key})")
}

fn command_source(entry: &Frame, indent: usize, out: &mut String) {
    let e = items(entry);
    let pad = " ".repeat(indent);
    let specs: Vec<String> = items(&e[8]).iter().map(key_spec_source).collect();
    out.push_str(&format!(
        "{pad}c({:?}, {}, {}, [{}, {}, {}], &[{}], &[",
        text(&e[0]),
        int(&e[1]),
        flags_source(e),
        int(&e[3]),
        int(&e[4]),
        int(&e[5]),
        specs.join(", ")
    ));
    let mut subs: Vec<&Frame> = items(&e[9]).iter().collect();
    if subs.is_empty() {
        out.push_str("]),\n");
        return;
    }
    subs.sort_by_key(|s| text(&items(s)[0]));
    out.push('\n');
    for sub in subs {
        command_source(sub, indent + 4, out);
    }
    out.push_str(&format!("{pad}]),\n"));
}

fn table_source(reply: &Frame, version: &str) -> String {
    let mut entries: Vec<&Frame> = items(reply).iter().collect();
    entries.sort_by_key(|e| text(&items(e)[0]));
    let mut out = format!(
        "//! Generated from Redis {version}'s `COMMAND` by `tests/redis_command_table.rs`\n\
         //! (run it with `MESH_REDIS_REGENERATE=1` to rewrite this file). Do not edit.\n\n"
    );
    out.push_str(TABLE_PRELUDE);
    out.push_str("pub(super) static COMMANDS: &[Command] = &[\n");
    for entry in entries {
        command_source(entry, 4, &mut out);
    }
    out.push_str("];\n");
    out
}

const TABLE_PRELUDE: &str = r#"use super::{BeginSearch, Command, CommandFlags as F, FindKeys, KeySpec};

const READ: F = F::READ;
const WRITE: F = F::WRITE;
const BLOCKING: F = F::BLOCKING;
const PUBSUB: F = F::PUBSUB;
const ADMIN: F = F::ADMIN;
const TRANSACTION: F = F::TRANSACTION;
const MOVABLE_KEYS: F = F::MOVABLE_KEYS;
const FAST: F = F::FAST;
const NO_SCRIPT: F = F::NO_SCRIPT;
const DENY_OOM: F = F::DENY_OOM;
const NO_MULTI: F = F::NO_MULTI;
const NO_AUTH: F = F::NO_AUTH;
const CONNECTION: F = F::CONNECTION;
const SCRIPTING: F = F::SCRIPTING;
const DANGEROUS: F = F::DANGEROUS;
const BS_UNKNOWN: BeginSearch = BeginSearch::Unknown;
const FK_UNKNOWN: FindKeys = FindKeys::Unknown;

const fn f(flags: &[F]) -> F {
    let mut out = F::empty();
    let mut i = 0;
    while i < flags.len() {
        out = out.union(flags[i]);
        i += 1;
    }
    out
}

const fn c(
    name: &'static str,
    arity: i32,
    flags: F,
    keys: [i32; 3],
    key_specs: &'static [KeySpec],
    subcommands: &'static [Command],
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys[0],
        last_key: keys[1],
        step: keys[2],
        key_specs,
        subcommands,
    }
}

const fn ks(begin: BeginSearch, find: FindKeys, incomplete: bool, not_key: bool) -> KeySpec {
    KeySpec { begin, find, incomplete, not_key }
}

const fn idx(index: i32) -> BeginSearch {
    BeginSearch::Index(index)
}

const fn kw(keyword: &'static str, start_from: i32) -> BeginSearch {
    BeginSearch::Keyword { keyword, start_from }
}

const fn range(last_key: i32, step: i32, limit: i32) -> FindKeys {
    FindKeys::Range { last_key, step, limit }
}

const fn keynum(key_num_index: i32, first_key: i32, step: i32) -> FindKeys {
    FindKeys::KeyNum { key_num_index, first_key, step }
}

"#;

#[tokio::test]
async fn table_is_what_redis_reports() {
    let (_server, addr, _dir) = redis_server(&[]);
    let mut conn = Conn::connect(addr, false).await;
    let reply = conn.call(&["COMMAND"]).await;
    let info = conn.call(&["INFO", "server"]).await;
    let info = text(&info);
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap()
        .trim()
        .to_owned();
    let generated = table_source(&reply, &version);
    if std::env::var_os("MESH_REDIS_REGENERATE").is_some() {
        std::fs::write(TABLE_PATH, &generated).unwrap();
    }
    let current = std::fs::read_to_string(TABLE_PATH).unwrap();
    assert!(
        current == generated,
        "src/redis/command/table.rs differs from what redis-server {version} reports; \
         rerun this test with MESH_REDIS_REGENERATE=1"
    );
    let count = conn.call(&["COMMAND", "COUNT"]).await;
    assert_eq!(commands().len() as i64, int(&count));
    // Spot checks of the generated data through the public API.
    let get = command(b"GET").unwrap();
    assert_eq!(
        (get.arity, get.first_key, get.last_key, get.step),
        (2, 1, 1, 1)
    );
    assert!(get.is_read() && !get.is_write());
    assert!(command(b"blpop").unwrap().is_blocking());
    assert!(
        command(b"multi")
            .unwrap()
            .flags
            .contains(CommandFlags::TRANSACTION)
    );
    assert!(
        command(b"subscribe")
            .unwrap()
            .flags
            .contains(CommandFlags::PUBSUB)
    );
    assert!(
        command(b"config")
            .unwrap()
            .subcommand(b"SET")
            .unwrap()
            .flags
            .contains(CommandFlags::ADMIN)
    );
    let eval = command(b"eval").unwrap();
    assert_eq!((eval.first_key, eval.last_key, eval.step), (0, 0, 0));
}

/// Commands whose keys we extract and compare with `COMMAND GETKEYS`.
const GETKEYS_CASES: &[&str] = &[
    "GET k",
    "set k v EX 10",
    "MGET a b c",
    "MSET a 1 b 2 c 3",
    "DEL a b c",
    "EXISTS a b",
    "TOUCH a",
    "UNLINK a b",
    "EVAL script 2 k1 k2 arg",
    "EVAL script 0",
    "EVALSHA 0123456789012345678901234567890123456789 1 k1 arg",
    "EVAL_RO script 1 k",
    "FCALL fn 2 a b c",
    "ZUNIONSTORE dst 2 a b WEIGHTS 1 2",
    "ZUNION 2 a b",
    "ZINTERCARD 2 a b LIMIT 1",
    "LMPOP 2 a b LEFT",
    "BLMPOP 0 2 a b LEFT",
    "BZMPOP 0 1 z MIN",
    "SINTERCARD 2 a b",
    "XREAD COUNT 2 STREAMS s1 s2 0 0",
    "XREAD BLOCK 0 STREAMS s1 $",
    "XREADGROUP GROUP g c STREAMS s1 >",
    "MIGRATE host 6379 k 0 5000",
    "MIGRATE host 6379 \"\" 0 5000 KEYS a b c",
    "GEORADIUS g 0 0 1 km STORE dst",
    "GEORADIUSBYMEMBER g m 1 km STOREDIST dst",
    "BLPOP a b 0",
    "BRPOPLPUSH a b 0",
    "LMOVE a b LEFT RIGHT",
    "RENAME a b",
    "OBJECT ENCODING k",
    "MEMORY USAGE k",
    "XINFO STREAM s",
    "XGROUP CREATE s g $",
    "PFCOUNT a b",
    "PFMERGE d a b",
    "BITOP AND d a b",
    "SMOVE a b m",
    "COPY a b",
    "LCS a b",
    "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km",
    "WATCH a b",
    "SORT k LIMIT 0 1",
    "SPUBLISH ch msg",
    "PING",
    "CONFIG GET maxmemory",
];

#[tokio::test]
async fn keys_agree_with_command_getkeys() {
    let (_server, addr, _dir) = redis_server(&[]);
    let mut conn = Conn::connect(addr, false).await;
    for case in GETKEYS_CASES {
        let args = words(case);
        let mut getkeys = vec!["COMMAND", "GETKEYS"];
        getkeys.extend(&args);
        let reply = conn.call(&getkeys).await;
        let expected: Vec<String> = match &reply {
            Frame::Array(keys) => keys.iter().map(text).collect(),
            Frame::Error(_) => vec![],
            other => panic!("{case}: GETKEYS answered {other:?}"),
        };
        let frame = Frame::command(&args);
        let request = Request::new(&frame).unwrap();
        let cmd = request
            .command()
            .unwrap_or_else(|| panic!("{case}: not in the table"));
        let ours: Vec<String> = cmd
            .keys(&request)
            .map(|k| String::from_utf8(k.to_vec()).unwrap())
            .collect();
        assert_eq!(ours, expected, "{case}");
    }
    // SORT's STORE cannot be described by a key spec: Redis's own GETKEYS
    // parses SORT; the table says there is a spec it cannot describe.
    let frame = Frame::command(["SORT", "k", "STORE", "dst"]);
    let request = Request::new(&frame).unwrap();
    let sort = request.command().unwrap();
    assert_eq!(sort.keys(&request).collect::<Vec<_>>(), [&b"k"[..]]);
    assert!(
        sort.key_specs
            .iter()
            .any(|s| s.begin == BeginSearch::Unknown)
    );
    // Shard channels are hashed like keys for routing.
    let frame = Frame::command(["SPUBLISH", "ch", "msg"]);
    let request = Request::new(&frame).unwrap();
    let spublish = request.command().unwrap();
    assert_eq!(
        spublish.routing_keys(&request).collect::<Vec<_>>(),
        [&b"ch"[..]]
    );
}
