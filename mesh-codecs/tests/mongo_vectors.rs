//! Wire vectors made by Python (`tests/mongo/wire_vectors.py`): every
//! opcode laid out with `struct` from the protocol documentation, BSON by
//! pymongo's `bson`, an OP_MSG checksum by an independent CRC-32C, zlib by
//! Python's zlib, and a document with every BSON type. Each message is
//! decoded whole and cut at every byte.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use bytes::BytesMut;
use mesh_codecs::mongo::bson::{Document, ElementType, Value};
use mesh_codecs::mongo::{Limits, Message, MongoCodec, MongoErrorKind, Op, OpCode};
use mesh_testkit::require_python_module;
use serde_json::Value as Json;
use tokio_util::codec::Decoder;

fn vectors() -> Json {
    let python = require_python_module("bson");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mongo/wire_vectors.py");
    let out = Command::new(python).arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes `raw` fed in two pieces cut at `cut`.
fn decode_cut(raw: &[u8], cut: usize) -> Message {
    let mut codec = MongoCodec::new(Limits::default());
    let mut buf = BytesMut::from(&raw[..cut]);
    if cut < raw.len() {
        assert!(
            codec.decode(&mut buf).unwrap().is_none(),
            "complete at {cut}"
        );
        buf.extend_from_slice(&raw[cut..]);
    }
    let msg = codec.decode(&mut buf).unwrap().expect("a message");
    assert!(buf.is_empty());
    msg
}

fn check_message(name: &str, raw: &[u8], e: &Json) {
    let msg = decode_cut(raw, raw.len());
    for cut in 0..raw.len() {
        assert_eq!(decode_cut(raw, cut), msg, "{name} cut at {cut}");
    }
    let ctx = format!("{name}: {e}");
    let i = |k: &str| e[k].as_i64().unwrap_or_else(|| panic!("{k} in {ctx}"));
    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    assert_eq!(i64::from(msg.op_code().as_i32()), i("op"), "{ctx}");
    assert_eq!(i64::from(msg.request_id()), i("request_id"), "{ctx}");
    assert_eq!(i64::from(msg.response_to()), i("response_to"), "{ctx}");
    assert_eq!(
        msg.compressor().map(|c| i64::from(c.id())),
        e.get("compressor").and_then(|v| v.as_i64()),
        "{ctx}"
    );
    assert_eq!(msg.wire_bytes().as_ref(), raw, "{ctx}");
    let sum = msg.summary().unwrap();
    for (field, ours) in [
        ("command", sum.command),
        ("database", sum.database),
        ("collection", sum.collection),
        ("read_preference", sum.read_preference),
    ] {
        assert_eq!(ours.map(str::to_owned), s(field), "{field} of {ctx}");
    }
    match msg.op().unwrap() {
        Op::Query(q) => {
            assert_eq!(i64::from(q.flags), i("flags"), "{ctx}");
            assert_eq!(q.full_collection_name, s("namespace").unwrap());
            assert_eq!(i64::from(q.number_to_skip), i("skip"));
            assert_eq!(i64::from(q.number_to_return), i("to_return"));
            assert_eq!(
                q.return_fields_selector.is_some(),
                e["has_selector"].as_bool().unwrap()
            );
        }
        Op::Reply(r) => {
            assert_eq!(i64::from(r.response_flags), i("flags"), "{ctx}");
            assert_eq!(r.cursor_id, i("cursor_id"));
            assert_eq!(i64::from(r.starting_from), i("starting_from"));
            assert_eq!(i64::from(r.number_returned), i("returned"));
            assert_eq!(r.documents().count() as i64, i("returned"));
            assert_eq!(sum.documents as i64, i("returned"));
            assert_eq!(sum.cursor_id, Some(i("cursor_id")));
            let status = sum.reply.unwrap();
            if let Some(ok) = e.get("ok") {
                assert_eq!(status.ok, ok.as_bool(), "{ctx}");
            }
            assert_eq!(status.errmsg.map(str::to_owned), s("errmsg"), "{ctx}");
            assert_eq!(
                status.code.map(i64::from),
                e.get("code").and_then(|c| c.as_i64())
            );
        }
        Op::Insert(ins) => {
            assert_eq!(i64::from(ins.flags), i("flags"));
            assert_eq!(ins.full_collection_name, s("namespace").unwrap());
            assert_eq!(ins.count() as i64, i("documents"));
            assert_eq!(ins.documents().count() as i64, i("documents"));
            assert_eq!(sum.documents as i64, i("documents"));
        }
        Op::Update(u) => {
            assert_eq!(i64::from(u.flags), i("flags"));
            assert_eq!(u.full_collection_name, s("namespace").unwrap());
            assert_eq!(u.selector.get_i32("_id").unwrap(), Some(1));
            let set = u.update.get_document("$set").unwrap().unwrap();
            assert_eq!(set.get_str("status").unwrap(), Some("paid"));
        }
        Op::Delete(d) => {
            assert_eq!(i64::from(d.flags), i("flags"));
            assert_eq!(d.full_collection_name, s("namespace").unwrap());
            assert_eq!(d.selector.get_str("status").unwrap(), Some("void"));
        }
        Op::GetMore(g) => {
            assert_eq!(g.full_collection_name, s("namespace").unwrap());
            assert_eq!(i64::from(g.number_to_return), i("to_return"));
            assert_eq!(g.cursor_id, i("cursor_id"));
            assert_eq!(sum.cursor_id, Some(i("cursor_id")));
        }
        Op::KillCursors(k) => {
            let want: Vec<i64> = e["cursor_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(k.cursor_ids().collect::<Vec<_>>(), want);
        }
        Op::Msg(m) => {
            assert_eq!(i64::from(m.flags().bits()), i("flags"), "{ctx}");
            assert_eq!(
                m.checksum().map(i64::from),
                e.get("checksum").and_then(|v| v.as_i64())
            );
            if let Some(seq) = s("sequence") {
                assert_eq!(m.sequences().next().unwrap().identifier(), seq);
            }
            if e.get("documents").is_some() {
                assert_eq!(sum.documents as i64, i("documents"), "{ctx}");
            }
            assert_eq!(sum.session_id.map(|b| hex(b.bytes)), s("lsid"));
            assert_eq!(sum.txn_number, e.get("txn_number").and_then(|v| v.as_i64()));
            assert_eq!(
                sum.comment.and_then(|c| c.as_str()).map(str::to_owned),
                s("comment")
            );
            if let Some(id) = e.get("cursor_id") {
                assert_eq!(sum.cursor_id, id.as_i64());
            }
            if let Some(ok) = e.get("ok") {
                assert_eq!(sum.reply.unwrap().ok, ok.as_bool());
            }
            assert_eq!(sum.more_to_come, m.flags().more_to_come());
        }
        Op::Compressed(_) => panic!("the decoder decompresses"),
    }
}

#[test]
fn python_wire_vectors_decode() {
    let v = vectors();
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 14);
    let mut ops = std::collections::BTreeSet::new();
    for m in messages {
        let raw = unhex(m["hex"].as_str().unwrap());
        check_message(m["name"].as_str().unwrap(), &raw, &m["expect"]);
        ops.insert(m["expect"]["op"].as_i64().unwrap());
    }
    // Every opcode but OP_COMPRESSED itself, which wraps two of them.
    assert_eq!(ops.len(), 8);
}

#[test]
fn python_checksum_detects_every_flipped_byte() {
    let v = vectors();
    let m = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["expect"].get("checksum").is_some())
        .unwrap();
    let raw = unhex(m["hex"].as_str().unwrap());
    for at in 0..raw.len() {
        let mut bad = raw.clone();
        bad[at] ^= 0x20;
        let mut codec = MongoCodec::new(Limits::default());
        let mut buf = BytesMut::from(&bad[..]);
        match codec.decode(&mut buf) {
            Err(e) if at >= 21 => assert!(
                matches!(e.kind(), MongoErrorKind::ChecksumMismatch { .. }),
                "byte {at}: {e}"
            ),
            Err(_) => {}
            // A flipped length byte can make the message look longer.
            Ok(None) => assert!(at < 4, "byte {at}"),
            // The request id and responseTo are covered by the checksum.
            Ok(Some(_)) => panic!("byte {at} flipped and the checksum still passed"),
        }
    }
}

fn check_value(key: &str, v: Value<'_>, want: &Json) {
    let ctx = format!("{key}: {v:?} vs {want}");
    match v {
        Value::Double(x) => assert_eq!(x, want.as_f64().unwrap(), "{ctx}"),
        Value::String(s) | Value::JavaScript(s) | Value::Symbol(s) => {
            assert_eq!(s, want.as_str().unwrap(), "{ctx}")
        }
        Value::Document(d) => assert_eq!(d.get_i32("a").unwrap(), Some(1), "{ctx}"),
        Value::Array(a) => {
            let vals: Vec<_> = a.iter().map(|v| v.unwrap()).collect();
            assert_eq!(
                vals,
                [Value::Int32(1), Value::String("two"), Value::Double(3.0)],
                "{ctx}"
            );
        }
        Value::Binary(b) => {
            assert_eq!(
                i64::from(b.subtype),
                want["subtype"].as_i64().unwrap(),
                "{ctx}"
            );
            assert_eq!(hex(b.bytes), want["hex"].as_str().unwrap(), "{ctx}");
        }
        Value::ObjectId(id) => assert_eq!(hex(&id.0), want.as_str().unwrap()),
        Value::Boolean(b) => assert_eq!(b, want.as_bool().unwrap()),
        Value::DateTime(ms) => assert_eq!(ms, want.as_i64().unwrap()),
        Value::Regex(r) => {
            assert_eq!(r.pattern, want["pattern"].as_str().unwrap());
            assert_eq!(r.options, want["options"].as_str().unwrap());
        }
        Value::DbPointer(p) => {
            assert_eq!(p.namespace, want["namespace"].as_str().unwrap());
            assert_eq!(hex(&p.id.0), want["id"].as_str().unwrap());
        }
        Value::JavaScriptWithScope(c) => {
            assert_eq!(c.code, want["code"].as_str().unwrap());
            assert_eq!(
                c.scope.get("x").unwrap().and_then(|v| v.as_integer()),
                want["x"].as_i64()
            );
        }
        Value::Int32(x) => assert_eq!(i64::from(x), want.as_i64().unwrap()),
        Value::Int64(x) => assert_eq!(x, want.as_i64().unwrap()),
        Value::Timestamp(t) => {
            assert_eq!(i64::from(t.time), want["time"].as_i64().unwrap());
            assert_eq!(i64::from(t.increment), want["increment"].as_i64().unwrap());
        }
        Value::Decimal128(d) => assert_eq!(hex(&d.0), want.as_str().unwrap()),
        Value::Null | Value::Undefined | Value::MinKey | Value::MaxKey => {
            assert!(want.is_null(), "{ctx}")
        }
    }
}

#[test]
fn python_bson_every_type() {
    let v = vectors();
    let raw = unhex(v["bson"]["hex"].as_str().unwrap());
    let want = v["bson"]["elements"].as_array().unwrap();
    let doc = Document::new(&raw).unwrap();
    doc.validate(Limits::DEFAULT_MAX_BSON_DEPTH).unwrap();
    let elements: Vec<_> = doc.iter().map(|e| e.unwrap()).collect();
    assert_eq!(elements.len(), want.len());
    let mut types = std::collections::BTreeSet::new();
    for (el, w) in elements.iter().zip(want) {
        assert_eq!(el.key(), w[0].as_str().unwrap());
        assert_eq!(
            i64::from(el.element_type() as u8),
            w[1].as_i64().unwrap(),
            "{}",
            el.key()
        );
        let value = el.value().unwrap();
        assert_eq!(value.element_type(), el.element_type());
        check_value(el.key(), value, &w[2]);
        types.insert(el.element_type() as u8);
        // The keyed lookup finds the same element.
        assert_eq!(doc.get(el.key()).unwrap(), Some(value));
    }
    assert_eq!(types.len(), 21, "every BSON type");
    // Typed getters: right type, wrong type, absent.
    assert_eq!(doc.get_f64("double").unwrap(), Some(2.5));
    assert_eq!(doc.get_symbol("symbol").unwrap(), Some("sym"));
    assert!(doc.get_i64("absent").unwrap().is_none());
    let err = doc.get_i64("int32").unwrap_err();
    assert!(err.to_string().contains("Int32"), "{err}");
    assert_eq!(ElementType::from_u8(0x14), None);
}

#[test]
fn op_code_round_trip() {
    for v in [1, 2001, 2002, 2004, 2005, 2006, 2007, 2012, 2013] {
        assert_eq!(OpCode::from_i32(v).unwrap().as_i32(), v);
    }
    assert_eq!(OpCode::from_i32(2010), None); // OP_COMMAND, removed
}
