//! Shared by the MongoDB tests: an owned model of BSON values, proptest
//! strategies for it, and the checks that our reader reads back what our
//! writer wrote.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use mesh_codecs::mongo::bson::{
    ArrayBuf, Binary, BsonError, CodeWithScope, DbPointer, Decimal128, Document, DocumentBuf,
    ObjectId, Regex, Timestamp, Value,
};
use proptest::prelude::*;

/// An owned BSON value.
#[derive(Debug, Clone)]
pub enum V {
    Double(f64),
    Str(String),
    Doc(Vec<(String, V)>),
    Arr(Vec<V>),
    Bin(u8, Vec<u8>),
    Undef,
    Oid([u8; 12]),
    Bool(bool),
    Date(i64),
    Null,
    Regex(String, String),
    DbPtr(String, [u8; 12]),
    Js(String),
    Sym(String),
    JsScope(String, Vec<(String, V)>),
    I32(i32),
    Ts(u32, u32),
    I64(i64),
    Dec([u8; 16]),
    Min,
    Max,
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["_id", "$db", "a", "documents", "ok", "lsid"])
            .prop_map(str::to_owned),
        "\\PC{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = V> {
    prop_oneof![
        any::<f64>().prop_map(V::Double),
        "\\PC{0,12}".prop_map(V::Str),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(t, b)| V::Bin(t, b)),
        Just(V::Undef),
        any::<[u8; 12]>().prop_map(V::Oid),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Date),
        Just(V::Null),
        ("\\PC{0,5}", "[imsx]{0,3}").prop_map(|(p, o)| V::Regex(p, o)),
        ("\\PC{0,6}", any::<[u8; 12]>()).prop_map(|(n, id)| V::DbPtr(n, id)),
        "\\PC{0,8}".prop_map(V::Js),
        "\\PC{0,8}".prop_map(V::Sym),
        any::<i32>().prop_map(V::I32),
        (any::<u32>(), any::<u32>()).prop_map(|(t, i)| V::Ts(t, i)),
        any::<i64>().prop_map(V::I64),
        any::<[u8; 16]>().prop_map(V::Dec),
        Just(V::Min),
        Just(V::Max),
    ]
}

/// Any value, nested a few levels.
pub fn value() -> impl Strategy<Value = V> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((key(), inner.clone()), 0..6).prop_map(V::Doc),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(V::Arr),
            ("\\PC{0,8}", proptest::collection::vec((key(), inner), 0..3))
                .prop_map(|(c, s)| V::JsScope(c, s)),
        ]
    })
}

/// A document's elements.
pub fn value_doc() -> impl Strategy<Value = Vec<(String, V)>> {
    proptest::collection::vec((key(), value()), 0..8)
}

/// Writes `v` with our writer; nested values are built first.
pub fn encode_doc(fields: &[(String, V)]) -> DocumentBuf {
    let mut d = DocumentBuf::new();
    for (k, v) in fields {
        with_value(v, &mut |val| {
            d.append(k, val).unwrap();
        });
    }
    d
}

fn with_value(v: &V, f: &mut dyn FnMut(Value<'_>)) {
    match v {
        V::Double(x) => f(Value::Double(*x)),
        V::Str(s) => f(Value::String(s)),
        V::Doc(fields) => {
            let d = encode_doc(fields);
            f(Value::Document(d.as_document()))
        }
        V::Arr(items) => {
            let mut a = ArrayBuf::new();
            for item in items {
                with_value(item, &mut |val| {
                    a.push(val).unwrap();
                });
            }
            f(Value::Array(a.as_array()))
        }
        V::Bin(t, b) => f(Value::Binary(Binary {
            subtype: *t,
            bytes: b,
        })),
        V::Undef => f(Value::Undefined),
        V::Oid(id) => f(Value::ObjectId(ObjectId(*id))),
        V::Bool(b) => f(Value::Boolean(*b)),
        V::Date(ms) => f(Value::DateTime(*ms)),
        V::Null => f(Value::Null),
        V::Regex(p, o) => f(Value::Regex(Regex {
            pattern: p,
            options: o,
        })),
        V::DbPtr(n, id) => f(Value::DbPointer(DbPointer {
            namespace: n,
            id: ObjectId(*id),
        })),
        V::Js(s) => f(Value::JavaScript(s)),
        V::Sym(s) => f(Value::Symbol(s)),
        V::JsScope(c, scope) => {
            let d = encode_doc(scope);
            f(Value::JavaScriptWithScope(CodeWithScope {
                code: c,
                scope: d.as_document(),
            }))
        }
        V::I32(x) => f(Value::Int32(*x)),
        V::Ts(time, increment) => f(Value::Timestamp(Timestamp {
            time: *time,
            increment: *increment,
        })),
        V::I64(x) => f(Value::Int64(*x)),
        V::Dec(d) => f(Value::Decimal128(Decimal128(*d))),
        V::Min => f(Value::MinKey),
        V::Max => f(Value::MaxKey),
    }
}

/// Asserts that `doc` holds exactly `fields`, read with our reader.
pub fn check_doc(fields: &[(String, V)], doc: Document<'_>) {
    let els: Vec<_> = doc.iter().map(|e| e.unwrap()).collect();
    assert_eq!(els.len(), fields.len());
    for ((k, v), el) in fields.iter().zip(&els) {
        assert_eq!(el.key(), k);
        check_value(v, el.value().unwrap());
    }
    // A lookup finds the first element with the key.
    for (k, v) in fields {
        if fields
            .iter()
            .find(|(k2, _)| k2 == k)
            .map(|(_, v2)| v2 as *const V)
            == Some(v as *const V)
        {
            check_value(v, doc.get(k).unwrap().unwrap());
        }
    }
}

pub fn check_value(want: &V, got: Value<'_>) {
    match (want, got) {
        (V::Double(a), Value::Double(b)) => assert_eq!(a.to_bits(), b.to_bits()),
        (V::Str(a), Value::String(b))
        | (V::Js(a), Value::JavaScript(b))
        | (V::Sym(a), Value::Symbol(b)) => {
            assert_eq!(a, b)
        }
        (V::Doc(f), Value::Document(d)) => check_doc(f, d),
        (V::Arr(items), Value::Array(a)) => {
            let vals: Vec<_> = a.iter().map(|v| v.unwrap()).collect();
            assert_eq!(vals.len(), items.len());
            assert_eq!(a.count().unwrap(), items.len());
            for (w, g) in items.iter().zip(vals) {
                check_value(w, g);
            }
        }
        (V::Bin(t, b), Value::Binary(g)) => assert_eq!((*t, &b[..]), (g.subtype, g.bytes)),
        (V::Undef, Value::Undefined)
        | (V::Null, Value::Null)
        | (V::Min, Value::MinKey)
        | (V::Max, Value::MaxKey) => {}
        (V::Oid(a), Value::ObjectId(b)) => assert_eq!(*a, b.0),
        (V::Bool(a), Value::Boolean(b)) => assert_eq!(*a, b),
        (V::Date(a), Value::DateTime(b)) | (V::I64(a), Value::Int64(b)) => assert_eq!(*a, b),
        (V::Regex(p, o), Value::Regex(r)) => assert_eq!((&p[..], &o[..]), (r.pattern, r.options)),
        (V::DbPtr(n, id), Value::DbPointer(p)) => assert_eq!((&n[..], *id), (p.namespace, p.id.0)),
        (V::JsScope(c, s), Value::JavaScriptWithScope(g)) => {
            assert_eq!(c, g.code);
            check_doc(s, g.scope);
        }
        (V::I32(a), Value::Int32(b)) => assert_eq!(*a, b),
        (V::Ts(t, i), Value::Timestamp(g)) => assert_eq!((*t, *i), (g.time, g.increment)),
        (V::Dec(a), Value::Decimal128(b)) => assert_eq!(*a, b.0),
        (w, g) => panic!("expected {w:?}, read {g:?}"),
    }
}

/// Reads every element and value of `doc`, nested ones included, through
/// the lazy API; the first error stops it.
pub fn read_everything(doc: Document<'_>) -> Result<usize, BsonError> {
    let mut n = 0;
    for el in doc.iter() {
        let el = el?;
        n += 1;
        match el.value()? {
            Value::Document(d) => n += read_everything(d)?,
            Value::Array(a) => {
                for v in a.iter() {
                    v?;
                }
                n += read_everything(a.as_document())?;
            }
            Value::JavaScriptWithScope(c) => n += read_everything(c.scope)?,
            Value::String(_) | Value::Int32(_) => {}
            other => {
                let _ = other.element_type();
            }
        }
    }
    Ok(n)
}
