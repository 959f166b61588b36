//! The BSON reader and writer: malformed documents (each a typed error),
//! lazy against full validation, and property tests: documents of every
//! type round-trip, and no input makes the reader panic.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mongo_support;

use mesh_codecs::mongo::bson::{
    Array, ArrayBuf, Binary, BsonError, Document, DocumentBuf, ElementType, MAX_DEPTH_CAP, Value,
};
use mongo_support::{V, check_doc, encode_doc, read_everything, value_doc};
use proptest::prelude::*;

/// A document from its elements' bytes, with the length prefix and
/// terminator added.
fn frame(elements: &[u8]) -> Vec<u8> {
    let mut d = ((elements.len() + 5) as i32).to_le_bytes().to_vec();
    d.extend_from_slice(elements);
    d.push(0);
    d
}

fn el(tag: u8, key: &str, value: &[u8]) -> Vec<u8> {
    let mut e = vec![tag];
    e.extend_from_slice(key.as_bytes());
    e.push(0);
    e.extend_from_slice(value);
    e
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(s);
    v.push(0);
    v
}

#[test]
fn frames_are_checked_on_creation() {
    assert!(matches!(
        Document::new(&[5, 0, 0]),
        Err(BsonError::Truncated { .. })
    ));
    assert!(matches!(
        Document::new(&[4, 0, 0, 0, 0]),
        Err(BsonError::BadLength { length: 4, .. })
    ));
    assert!(matches!(
        Document::new(&[6, 0, 0, 0, 0]),
        Err(BsonError::Truncated { needed: 6, .. })
    ));
    assert!(matches!(
        Document::new(&[5, 0, 0, 0, 1]),
        Err(BsonError::MissingTerminator { offset: 4, .. })
    ));
    assert!(matches!(
        Document::new(&[5, 0, 0, 0, 0, 0]),
        Err(BsonError::BadLength { .. })
    ));
    let empty = Document::new(&[5, 0, 0, 0, 0]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.first().unwrap(), None);
    // from_prefix takes the first of several.
    let two = [5, 0, 0, 0, 0, 5, 0, 0, 0, 0];
    assert_eq!(Document::from_prefix(&two).unwrap().as_bytes().len(), 5);
}

/// Each malformed element, the error it must give, and whether the lazy
/// walk (which checks frames, not values) already sees it.
#[test]
fn malformed_elements_are_typed_errors() {
    type Check = fn(&BsonError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check, bool)> = vec![
        (
            "unknown type",
            el(0x14, "a", &[]),
            |e| {
                matches!(
                    e,
                    BsonError::UnknownType {
                        tag: 0x14,
                        offset: 4
                    }
                )
            },
            true,
        ),
        (
            "early terminator",
            vec![0, b'x'],
            |e| matches!(e, BsonError::MissingTerminator { offset: 4, .. }),
            true,
        ),
        (
            "key without NUL",
            vec![0x0A, b'a', b'b'],
            |e| matches!(e, BsonError::UnterminatedCString { what: "key", .. }),
            true,
        ),
        (
            "key not UTF-8",
            vec![0x0A, 0xC3, 0x28, 0],
            |e| {
                matches!(
                    e,
                    BsonError::InvalidUtf8 {
                        what: "key",
                        offset: 5
                    }
                )
            },
            true,
        ),
        (
            "string length 0",
            el(0x02, "s", &0i32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    BsonError::BadLength {
                        what: "string",
                        length: 0,
                        ..
                    }
                )
            },
            true,
        ),
        (
            "string length negative",
            el(0x02, "s", &(-3i32).to_le_bytes()),
            |e| matches!(e, BsonError::BadLength { length: -3, .. }),
            true,
        ),
        (
            "string too long",
            el(0x02, "s", &[9, 0, 0, 0, b'a', 0]),
            |e| matches!(e, BsonError::Truncated { .. }),
            true,
        ),
        (
            "string without NUL",
            el(0x02, "s", &[2, 0, 0, 0, b'a', b'b']),
            |e| matches!(e, BsonError::MissingTerminator { what: "string", .. }),
            true,
        ),
        (
            "string not UTF-8",
            el(0x02, "s", &string(&[0xff, 0xfe])),
            |e| matches!(e, BsonError::InvalidUtf8 { what: "string", .. }),
            false,
        ),
        (
            "boolean 2",
            el(0x08, "b", &[2]),
            |e| matches!(e, BsonError::InvalidBool { value: 2, .. }),
            false,
        ),
        (
            "int32 cut",
            el(0x10, "i", &[1, 2]),
            |e| matches!(e, BsonError::Truncated { needed: 4, .. }),
            true,
        ),
        (
            "document too small",
            el(0x03, "d", &[4, 0, 0, 0]),
            |e| {
                matches!(
                    e,
                    BsonError::BadLength {
                        what: "embedded document",
                        ..
                    }
                )
            },
            true,
        ),
        (
            "document without NUL",
            el(0x03, "d", &[5, 0, 0, 0, 1]),
            |e| {
                matches!(
                    e,
                    BsonError::MissingTerminator {
                        what: "embedded document",
                        ..
                    }
                )
            },
            true,
        ),
        (
            "binary negative",
            el(0x05, "b", &[0xff, 0xff, 0xff, 0xff, 0]),
            |e| matches!(e, BsonError::BadLength { what: "binary", .. }),
            true,
        ),
        (
            "old binary inner length",
            el(0x05, "b", &[6, 0, 0, 0, 2, 9, 0, 0, 0, 1, 2]),
            |e| {
                matches!(
                    e,
                    BsonError::BadLength {
                        what: "old binary inner length",
                        ..
                    }
                )
            },
            false,
        ),
        (
            "regex options unterminated",
            el(0x0B, "r", b"a\0b"),
            |e| matches!(e, BsonError::UnterminatedCString { .. }),
            true,
        ),
        (
            "code with scope too small",
            el(0x0F, "c", &[8, 0, 0, 0, 1, 0, 0, 0]),
            |e| {
                matches!(
                    e,
                    BsonError::BadLength {
                        what: "code with scope",
                        ..
                    }
                )
            },
            true,
        ),
        (
            "code with scope inner mismatch",
            el(0x0F, "c", &{
                let mut v = 18i32.to_le_bytes().to_vec();
                v.extend_from_slice(&string(b"xy"));
                v.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0]);
                v
            }),
            |e| matches!(e, BsonError::BadLength { .. }),
            false,
        ),
    ];
    for (name, elements, check, lazy) in cases {
        let bytes = frame(&elements);
        let doc = match Document::new(&bytes) {
            Ok(d) => d,
            Err(e) => panic!("{name}: frame {e}"),
        };
        let err = doc.validate(100).expect_err(name);
        assert!(check(&err), "{name}: {err:?}");
        let walk: Result<Vec<_>, _> = doc.iter().collect();
        assert_eq!(walk.is_err(), lazy, "{name}: lazy walk {walk:?}");
        if !lazy {
            let e = walk.unwrap()[0].value().unwrap_err();
            assert!(check(&e), "{name}: value {e:?}");
        }
        // Display never fails and names the problem.
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn lazy_reads_check_only_what_they_touch() {
    let mut bad = el(0x02, "bad", &string(&[0xc0, 0x80]));
    bad.extend_from_slice(&el(0x10, "good", &5i32.to_le_bytes()));
    let bytes = frame(&bad);
    let doc = Document::new(&bytes).unwrap();
    assert_eq!(doc.get_i32("good").unwrap(), Some(5));
    assert!(matches!(doc.get("bad"), Err(BsonError::InvalidUtf8 { .. })));
    assert!(doc.validate(10).is_err());
    assert_eq!(
        doc.get_element("bad").unwrap().unwrap().element_type(),
        ElementType::String
    );
    // The Debug output shows the bad value as its error.
    assert!(format!("{doc:?}").contains("InvalidUtf8"));
}

#[test]
fn depth_is_counted_from_the_top() {
    let mut d = DocumentBuf::new();
    for _ in 0..9 {
        let mut outer = DocumentBuf::new();
        outer.append("d", Value::Document(d.as_document())).unwrap();
        d = outer;
    }
    let doc = d.as_document();
    doc.validate(10).unwrap();
    assert!(matches!(
        doc.validate(9),
        Err(BsonError::TooDeep { limit: 9, .. })
    ));
    // Arrays and code-with-scope scopes count too.
    let mut arr = ArrayBuf::new();
    arr.push(Value::Document(doc)).unwrap();
    let mut top = DocumentBuf::new();
    top.append("a", Value::Array(arr.as_array())).unwrap();
    // top (1), array (2), then the ten levels of `doc`.
    top.as_document().validate(12).unwrap();
    assert!(top.as_document().validate(11).is_err());
    // Limits above the cap are lowered to it, not trusted.
    top.as_document().validate(usize::MAX).unwrap();
}

#[test]
fn writer_rejects_what_bson_cannot_hold() {
    let mut d = DocumentBuf::new();
    d.append("ok", Value::Int32(1)).unwrap();
    let before = d.clone();
    assert!(matches!(
        d.append("a\0b", Value::Null),
        Err(BsonError::ContainsNul { what: "key" })
    ));
    assert!(
        d.append(
            "r",
            Value::Regex(mesh_codecs::mongo::bson::Regex {
                pattern: "x\0",
                options: ""
            })
        )
        .is_err()
    );
    assert_eq!(d, before, "a failed append leaves the document as it was");
    let mut a = ArrayBuf::new();
    for i in 0..12 {
        a.push(Value::Int32(i)).unwrap();
    }
    let keys: Vec<_> = a
        .as_array()
        .as_document()
        .iter()
        .map(|e| e.unwrap().key().to_owned())
        .collect();
    assert_eq!(keys[10], "10");
    assert_eq!(a.as_array().count().unwrap(), 12);
    assert_eq!(a.as_array().get(11).unwrap(), Some(Value::Int32(11)));
    assert_eq!(Array::new(a.as_bytes()).unwrap().get(12).unwrap(), None);
    let b = Binary {
        subtype: Binary::OLD,
        bytes: b"abc",
    };
    let mut d = DocumentBuf::new();
    d.append("b", Value::Binary(b)).unwrap();
    assert_eq!(d.as_document().get_binary("b").unwrap(), Some(b));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn documents_round_trip(v in value_doc()) {
        let buf = encode_doc(&v);
        let doc = Document::new(buf.as_bytes()).unwrap();
        doc.validate(MAX_DEPTH_CAP).unwrap();
        check_doc(&v, doc);
        read_everything(doc).unwrap();
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(doc) = Document::new(&bytes) {
            let valid = doc.validate(MAX_DEPTH_CAP).is_ok();
            let read = read_everything(doc);
            // Full validation is complete: a valid document reads without error.
            prop_assert!(!valid || read.is_ok(), "{:?}", read);
        }
    }

    #[test]
    fn mutated_documents_never_panic(
        v in value_doc(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode_doc(&v).into_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        for doc_bytes in [&bytes[..], &bytes[..cut.index(bytes.len())]] {
            if let Ok(doc) = Document::new(doc_bytes) {
                let valid = doc.validate(MAX_DEPTH_CAP).is_ok();
                let read = read_everything(doc);
                prop_assert!(!valid || read.is_ok(), "{:?}", read);
                let _ = doc.get("a");
                let _ = format!("{doc:?}");
            }
        }
    }
}

#[test]
fn every_value_variant_round_trips() {
    let scope = vec![("x".to_owned(), V::I32(1))];
    let v = vec![
        ("d".to_owned(), V::Double(f64::NAN)),
        ("s".to_owned(), V::Str("ü".into())),
        ("o".to_owned(), V::Doc(vec![])),
        ("a".to_owned(), V::Arr(vec![V::Null, V::Min, V::Max])),
        ("b".to_owned(), V::Bin(2, vec![1, 2])),
        ("u".to_owned(), V::Undef),
        ("i".to_owned(), V::Oid([3; 12])),
        ("t".to_owned(), V::Bool(true)),
        ("dt".to_owned(), V::Date(-1)),
        ("re".to_owned(), V::Regex("a".into(), "i".into())),
        ("p".to_owned(), V::DbPtr("a.b".into(), [4; 12])),
        ("js".to_owned(), V::Js("f()".into())),
        ("sy".to_owned(), V::Sym("s".into())),
        ("jw".to_owned(), V::JsScope("g()".into(), scope)),
        ("n".to_owned(), V::I32(i32::MIN)),
        ("ts".to_owned(), V::Ts(1, 2)),
        ("l".to_owned(), V::I64(i64::MAX)),
        ("de".to_owned(), V::Dec([5; 16])),
    ];
    let buf = encode_doc(&v);
    let doc = buf.as_document();
    doc.validate(10).unwrap();
    check_doc(&v, doc);
    assert_eq!(doc.iter().count(), v.len());
}
