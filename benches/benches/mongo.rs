//! The `mongo_summary` group: summarising one OP_MSG message, as a proxy
//! does for every message it relays (logs, metrics, routing).
//!
//! Inputs, each one complete OP_MSG message built once outside the timed
//! code:
//! - `flat`: a `find` request whose body has 30 top-level fields (filter,
//!   sort, projection, options, `lsid`, `txnNumber`, `$clusterTime`,
//!   `$readPreference`, `comment`, `$db` last, as drivers send it).
//! - `deep`: the same request with its filter nested 150 levels deep
//!   (mongod allows 200).
//! - `large`: a `find` reply whose `cursor.firstBatch` holds 1,000
//!   documents (about 180 KB; `flat` is about 0.8 KB, `deep` 4.7 KB).
//!
//! Timed, for every contender: parse the header (length, ids, opcode) and
//! the OP_MSG flag bits and sections, then read the summary fields. For a
//! request: the command name (first key) and its collection, `$db`,
//! `lsid.id`, `txnNumber`, `$readPreference.mode`, `comment`, and the
//! documents of any kind 1 section. For a reply: `ok`, `errmsg`, `code`,
//! `codeName`, `n`, `writeErrors` (counted), `writeConcernError`,
//! `cursor.id`, `cursor.ns`, and the documents of `cursor.firstBatch` or
//! `cursor.nextBatch` (counted).
//!
//! How much each contender validates inside the timed code:
//! - `ours`: `mongo::parse` with `Validation::Frame` then
//!   `Summary::from_op`. Checks the header against the limits, the flag
//!   bits, every section's structure, the body's length prefix and
//!   terminator; then, in one pass over the body, every top-level
//!   element's type byte, key (NUL-terminated, UTF-8) and value length;
//!   every value it returns (UTF-8 strings); and the same for the
//!   elements of `lsid`, `$readPreference`, `cursor` and the counted
//!   arrays. It validates what it reads, and nothing it skips.
//! - `bson-raw`: the bson crate's `RawDocument::from_bytes` (length prefix
//!   and terminator) on the body and on each kind 1 document, then one
//!   `RawDocument::get` per field (each walks from the start, checking
//!   every element it passes the same way as ours: type byte, UTF-8 key,
//!   value length; and the returned value), and `RawArray` iteration to
//!   count. Absent fields cost a full walk, as they do for ours; `get`
//!   (not `get_str`) is used so an absent field is not an error. The
//!   header and sections are parsed by hand with the same checks as ours.
//! - `bson-full`: `bson::Document::try_from(&RawDocument)`: a full,
//!   allocating decode that validates every element and value of the
//!   whole body recursively, then the same lookups on the decoded
//!   document.
//! - `ours-full`: informative, ours with `Validation::Full` (every
//!   document validated completely to the depth limit, like `bson-full`
//!   but without allocating), then the same summary.
//! - `memchr`, `memcpy`: the hardware floors over the message bytes.
// Benchmark setup: inputs are built once and known good; a failure is a
// broken benchmark, reported with its location.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use bson::RawDocument;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::{memchr_floor, memcpy_floor};
use mesh_codecs::mongo::bson::{ArrayBuf, Binary, DocumentBuf, Value};
use mesh_codecs::mongo::{Limits, MsgFlags, OpMsgBuilder, Status, Summary, Validation, parse};

fn doc(fields: &[(&str, Value<'_>)]) -> DocumentBuf {
    let mut d = DocumentBuf::new();
    for (k, v) in fields {
        d.append(k, *v).expect("bench document");
    }
    d
}

fn op_msg(response_to: i32, body: &DocumentBuf) -> Vec<u8> {
    OpMsgBuilder::new(1234, response_to)
        .flags(MsgFlags::default())
        .body(body.as_document())
        .build()
        .expect("bench message")
        .wire_bytes()
        .to_vec()
}

/// A driver's `find` with 30 top-level fields and `filter` as given.
fn find_request(filter: &DocumentBuf) -> Vec<u8> {
    let sort = doc(&[("createdAt", Value::Int32(-1)), ("_id", Value::Int32(1))]);
    let projection = doc(&[
        ("name", Value::Int32(1)),
        ("email", Value::Int32(1)),
        ("address", Value::Int32(1)),
    ]);
    let hint = doc(&[("status_1_createdAt_-1", Value::Int32(1))]);
    let read_concern = doc(&[("level", Value::String("majority"))]);
    let collation = doc(&[
        ("locale", Value::String("en")),
        ("strength", Value::Int32(2)),
    ]);
    let lsid = doc(&[(
        "id",
        Value::Binary(Binary {
            subtype: Binary::UUID,
            bytes: &[0x5a; 16],
        }),
    )]);
    let sig = doc(&[
        (
            "hash",
            Value::Binary(Binary {
                subtype: 0,
                bytes: &[1; 20],
            }),
        ),
        ("keyId", Value::Int64(7_000_000_000)),
    ]);
    let cluster_time = doc(&[
        (
            "clusterTime",
            Value::Timestamp(mesh_codecs::mongo::bson::Timestamp {
                time: 1_700_000_000,
                increment: 3,
            }),
        ),
        ("signature", Value::Document(sig.as_document())),
    ]);
    let rp = doc(&[("mode", Value::String("secondaryPreferred"))]);
    let let_vars = doc(&[("minAge", Value::Int32(21))]);
    let body = doc(&[
        ("find", Value::String("customers")),
        ("filter", Value::Document(filter.as_document())),
        ("sort", Value::Document(sort.as_document())),
        ("projection", Value::Document(projection.as_document())),
        ("hint", Value::Document(hint.as_document())),
        ("skip", Value::Int64(20)),
        ("limit", Value::Int64(50)),
        ("batchSize", Value::Int32(50)),
        ("singleBatch", Value::Boolean(false)),
        ("maxTimeMS", Value::Int64(5000)),
        ("readConcern", Value::Document(read_concern.as_document())),
        ("max", Value::Document(DocumentBuf::new().as_document())),
        ("min", Value::Document(DocumentBuf::new().as_document())),
        ("returnKey", Value::Boolean(false)),
        ("showRecordId", Value::Boolean(false)),
        ("tailable", Value::Boolean(false)),
        ("oplogReplay", Value::Boolean(false)),
        ("noCursorTimeout", Value::Boolean(false)),
        ("awaitData", Value::Boolean(false)),
        ("allowPartialResults", Value::Boolean(false)),
        ("collation", Value::Document(collation.as_document())),
        ("allowDiskUse", Value::Boolean(true)),
        ("let", Value::Document(let_vars.as_document())),
        ("lsid", Value::Document(lsid.as_document())),
        ("txnNumber", Value::Int64(42)),
        ("$clusterTime", Value::Document(cluster_time.as_document())),
        ("$readPreference", Value::Document(rp.as_document())),
        ("comment", Value::String("dashboard: recent customers")),
        ("apiVersion", Value::String("1")),
        ("$db", Value::String("shop")),
    ]);
    op_msg(0, &body)
}

fn flat() -> Vec<u8> {
    let inner = doc(&[("$gte", Value::Int32(21))]);
    let filter = doc(&[
        ("status", Value::String("active")),
        ("age", Value::Document(inner.as_document())),
    ]);
    find_request(&filter)
}

fn deep() -> Vec<u8> {
    let mut filter = doc(&[("status", Value::String("active"))]);
    for i in 0..149 {
        let mut arr = ArrayBuf::new();
        arr.push(Value::Int32(i)).expect("bench array");
        filter = doc(&[
            ("$and", Value::Document(filter.as_document())),
            ("n", Value::Array(arr.as_array())),
        ]);
    }
    find_request(&filter)
}

fn large() -> Vec<u8> {
    let mut batch = ArrayBuf::new();
    for i in 0..1000 {
        let address = doc(&[
            ("street", Value::String("1 Main Street")),
            ("city", Value::String("Springfield")),
            ("zip", Value::String("12345")),
        ]);
        let d = doc(&[
            ("_id", Value::Int64(i)),
            ("name", Value::String("Customer Name")),
            ("email", Value::String("customer@example.com")),
            ("age", Value::Int32(30)),
            ("address", Value::Document(address.as_document())),
            ("createdAt", Value::DateTime(1_700_000_000_000 + i)),
        ]);
        batch
            .push(Value::Document(d.as_document()))
            .expect("bench batch");
    }
    let cursor = doc(&[
        ("firstBatch", Value::Array(batch.as_array())),
        ("id", Value::Int64(8_123_456_789)),
        ("ns", Value::String("shop.customers")),
    ]);
    let body = doc(&[
        ("cursor", Value::Document(cursor.as_document())),
        ("ok", Value::Double(1.0)),
    ]);
    op_msg(1234, &body)
}

/// What every contender extracts; compared once outside the timed code so
/// all contenders are seen to agree.
#[derive(Debug, PartialEq, Default)]
struct Fields<'a> {
    command: Option<&'a str>,
    database: Option<&'a str>,
    collection: Option<&'a str>,
    session: Option<&'a [u8]>,
    txn: Option<i64>,
    read_preference: Option<&'a str>,
    comment: Option<&'a str>,
    ok: Option<bool>,
    errmsg: Option<&'a str>,
    code: Option<i32>,
    cursor_id: Option<i64>,
    documents: usize,
    write_errors: usize,
}

fn ours<'a>(msg: &'a [u8], limits: &'a Limits) -> Fields<'a> {
    let Ok(Status::Complete(p)) = parse(msg, limits) else {
        panic!("bench input")
    };
    let s = Summary::from_op(&p.header, &p.op).expect("bench summary");
    let r = s.reply.unwrap_or_default();
    Fields {
        command: s.command,
        database: s.database,
        collection: s.collection,
        session: s.session_id.map(|b| b.bytes),
        txn: s.txn_number,
        read_preference: s.read_preference,
        comment: s.comment.and_then(|c| c.as_str()),
        ok: r.ok,
        errmsg: r.errmsg,
        code: r.code,
        cursor_id: s.cursor_id,
        documents: s.documents,
        write_errors: r.write_errors,
    }
}

/// The header and sections, parsed by hand with the checks ours makes:
/// the length against the buffer and the limit, the opcode, the flag
/// bits, each section's kind and size. Returns the body and the number of
/// kind 1 documents (each framed by `RawDocument::from_bytes`).
fn raw_sections(msg: &[u8]) -> (&RawDocument, usize) {
    let i32_at = |at: usize| i32::from_le_bytes(msg[at..at + 4].try_into().expect("4 bytes"));
    let len = i32_at(0) as usize;
    assert!(len == msg.len() && len <= Limits::DEFAULT_MAX_MESSAGE_SIZE && i32_at(12) == 2013);
    let flags = i32_at(16) as u32;
    assert_eq!(flags & 0xFFFF & !3, 0);
    let end = if flags & 1 != 0 { len - 4 } else { len };
    let mut pos = 20;
    let mut body = None;
    let mut docs = 0;
    while pos < end {
        let kind = msg[pos];
        let size = i32_at(pos + 1) as usize;
        match kind {
            0 => {
                body = Some(RawDocument::from_bytes(&msg[pos + 1..pos + 1 + size]).expect("body"));
                pos += 1 + size;
            }
            1 => {
                let seq = &msg[pos + 5..pos + 1 + size];
                let nul = seq.iter().position(|&b| b == 0).expect("identifier");
                std::str::from_utf8(&seq[..nul]).expect("identifier");
                let mut rest = &seq[nul + 1..];
                while !rest.is_empty() {
                    let n = i32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                    RawDocument::from_bytes(&rest[..n]).expect("sequence document");
                    rest = &rest[n..];
                    docs += 1;
                }
                pos += 1 + size;
            }
            _ => panic!("section kind"),
        }
    }
    (body.expect("one body"), docs)
}

/// Counts an array's elements, checking each as RawArray iteration does.
fn count_raw(a: &bson::RawArray) -> usize {
    let mut n = 0;
    for v in a {
        black_box(v.expect("element"));
        n += 1;
    }
    n
}

fn bson_raw(msg: &[u8]) -> Fields<'_> {
    let (body, documents) = raw_sections(msg);
    let mut f = Fields {
        documents,
        ..Fields::default()
    };
    let response_to = i32::from_le_bytes(msg[8..12].try_into().expect("4 bytes"));
    if response_to == 0 {
        let (name, value) = body.iter().next().expect("command").expect("first element");
        f.command = Some(name.as_str());
        f.collection = value.as_str();
        let get = |k: &str| body.get(k).expect("valid body");
        f.database = get("$db").and_then(|v| v.as_str());
        f.session = get("lsid")
            .and_then(|v| v.as_document())
            .and_then(|d| d.get("id").expect("lsid").and_then(|v| v.as_binary()))
            .map(|b| b.bytes);
        f.txn = get("txnNumber").and_then(|v| v.as_i64());
        f.read_preference = get("$readPreference")
            .and_then(|v| v.as_document())
            .and_then(|d| d.get("mode").expect("mode").and_then(|v| v.as_str()));
        f.comment = get("comment").and_then(|v| v.as_str());
    } else {
        let get = |k: &str| body.get(k).expect("valid body");
        f.ok = get("ok").and_then(|v| v.as_f64()).map(|ok| ok != 0.0);
        f.errmsg = get("errmsg").and_then(|v| v.as_str());
        f.code = get("code").and_then(|v| v.as_i32());
        black_box(get("codeName"));
        black_box(get("n"));
        f.write_errors = get("writeErrors")
            .and_then(|v| v.as_array())
            .map_or(0, count_raw);
        black_box(get("writeConcernError"));
        if let Some(cursor) = get("cursor").and_then(|v| v.as_document()) {
            let get = |k: &str| cursor.get(k).expect("valid cursor");
            f.cursor_id = get("id").and_then(|v| v.as_i64());
            let ns = get("ns").and_then(|v| v.as_str()).expect("ns");
            let (db, coll) = ns.split_once('.').expect("db.coll");
            (f.database, f.collection) = (Some(db), Some(coll));
            let batch = get("firstBatch").or_else(|| get("nextBatch"));
            f.documents += batch.and_then(|v| v.as_array()).map_or(0, count_raw);
        }
    }
    f
}

/// Full decode; the fields borrow from the decoded document.
fn bson_full(msg: &[u8], out: &mut dyn FnMut(&bson::Document, usize)) {
    let (body, documents) = raw_sections(msg);
    let doc = bson::Document::try_from(body).expect("full decode");
    out(&doc, documents);
}

fn full_fields(doc: &bson::Document, documents: usize, request: bool) -> Fields<'_> {
    let mut f = Fields {
        documents,
        ..Fields::default()
    };
    if request {
        let (name, value) = doc.iter().next().expect("command");
        f.command = Some(name.as_str());
        f.collection = value.as_str();
        f.database = doc.get_str("$db").ok();
        f.session = doc
            .get_document("lsid")
            .ok()
            .and_then(|d| match d.get("id") {
                Some(bson::Bson::Binary(b)) => Some(&b.bytes[..]),
                _ => None,
            });
        f.txn = doc.get_i64("txnNumber").ok();
        f.read_preference = doc
            .get_document("$readPreference")
            .ok()
            .and_then(|d| d.get_str("mode").ok());
        f.comment = doc.get("comment").and_then(|v| v.as_str());
    } else {
        f.ok = doc.get("ok").and_then(|v| v.as_f64()).map(|ok| ok != 0.0);
        f.errmsg = doc.get("errmsg").and_then(|v| v.as_str());
        f.code = doc.get("code").and_then(|v| v.as_i32());
        black_box(doc.get("codeName"));
        black_box(doc.get("n"));
        f.write_errors = doc
            .get("writeErrors")
            .and_then(|v| v.as_array())
            .map_or(0, |a| a.len());
        black_box(doc.get("writeConcernError"));
        if let Ok(cursor) = doc.get_document("cursor") {
            f.cursor_id = cursor.get_i64("id").ok();
            let ns = cursor.get_str("ns").expect("ns");
            let (db, coll) = ns.split_once('.').expect("db.coll");
            (f.database, f.collection) = (Some(db), Some(coll));
            let batch = cursor
                .get_array("firstBatch")
                .or_else(|_| cursor.get_array("nextBatch"));
            f.documents += batch.map_or(0, |a| a.len());
        }
    }
    f
}

fn mongo_summary(c: &mut Criterion) {
    let frame = Limits::default().with_validation(Validation::Frame);
    let full = Limits::default();
    let inputs = [("flat", flat()), ("deep", deep()), ("large", large())];

    // All contenders agree on every input.
    for (name, msg) in &inputs {
        let want = ours(msg, &frame);
        assert_eq!(ours(msg, &full), want, "{name}");
        assert_eq!(bson_raw(msg), want, "{name}");
        let request = *name != "large";
        bson_full(msg, &mut |d, n| {
            assert_eq!(full_fields(d, n, request), want, "{name}")
        });
    }

    let mut group = c.benchmark_group("mongo_summary");
    for (name, msg) in &inputs {
        let request = *name != "large";
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", name), msg, |b, msg| {
            b.iter(|| black_box(ours(black_box(msg), &frame)))
        });
        group.bench_with_input(BenchmarkId::new("bson-raw", name), msg, |b, msg| {
            b.iter(|| black_box(bson_raw(black_box(msg))))
        });
        group.bench_with_input(BenchmarkId::new("bson-full", name), msg, |b, msg| {
            b.iter(|| {
                bson_full(black_box(msg), &mut |d, n| {
                    black_box(full_fields(d, n, request));
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("ours-full", name), msg, |b, msg| {
            b.iter(|| black_box(ours(black_box(msg), &full)))
        });
        memchr_floor(&mut group, name, msg);
        memcpy_floor(&mut group, name, msg);
    }
    group.finish();
}

criterion_group!(benches, mongo_summary);
criterion_main!(benches);
