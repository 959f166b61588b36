//! The MongoDB codec: limits, malformed messages, resumability at every
//! byte, linear work, no allocation ahead of the bytes, compression bombs,
//! the sniffer, summaries and pairing.
// Test code: a panic is a failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use mesh_codecs::mongo::bson::{ArrayBuf, Binary, DocumentBuf, Value};
use mesh_codecs::mongo::{
    Compressor, Direction, HEADER_LEN, Header, Limits, Message, MongoCodec, MongoErrorKind,
    MongoSniffer, MsgFlags, Op, OpCode, OpMsgBuilder, Pairing, Status, Validation, parse,
};
use mesh_core::{DetectConfig, Detection, Detector, ErrorClass, Protocol, Side, Sniff, Step};
use tokio_util::codec::{Decoder, Encoder};

fn doc(fields: &[(&str, Value<'_>)]) -> DocumentBuf {
    let mut d = DocumentBuf::new();
    for (k, v) in fields {
        d.append(k, *v).unwrap();
    }
    d
}

fn find_body() -> DocumentBuf {
    let filter = doc(&[("age", Value::Int32(30))]);
    let rp = doc(&[("mode", Value::String("secondaryPreferred"))]);
    let lsid = doc(&[(
        "id",
        Value::Binary(Binary {
            subtype: Binary::UUID,
            bytes: &[7; 16],
        }),
    )]);
    doc(&[
        ("find", Value::String("users")),
        ("filter", Value::Document(filter.as_document())),
        ("lsid", Value::Document(lsid.as_document())),
        ("txnNumber", Value::Int64(3)),
        ("$readPreference", Value::Document(rp.as_document())),
        ("comment", Value::String("why")),
        ("$db", Value::String("app")),
    ])
}

fn op_msg(request_id: i32, response_to: i32, flags: MsgFlags, body: &DocumentBuf) -> Message {
    OpMsgBuilder::new(request_id, response_to)
        .flags(flags)
        .body(body.as_document())
        .build()
        .unwrap()
}

/// A message built from a header and a raw body.
fn raw(request_id: i32, response_to: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let h = Header {
        message_length: (HEADER_LEN + body.len()) as i32,
        request_id,
        response_to,
        op_code: op,
    };
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn decode_one(limits: Limits, bytes: &[u8]) -> Result<Message, String> {
    let mut codec = MongoCodec::new(limits);
    let mut buf = BytesMut::from(bytes);
    match codec.decode(&mut buf) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err("incomplete".into()),
        Err(e) => Err(format!("{:?}", e.kind())),
    }
}

#[test]
fn op_msg_summary_reads_every_field() {
    let msg = op_msg(7, 0, MsgFlags::default(), &find_body());
    let s = msg.summary().unwrap();
    assert_eq!(s.op, OpCode::Msg);
    assert_eq!(s.direction, Direction::Request);
    assert_eq!(s.command, Some("find"));
    assert_eq!(s.database, Some("app"));
    assert_eq!(s.collection, Some("users"));
    assert_eq!(s.session_id.unwrap().bytes, &[7; 16]);
    assert_eq!(s.txn_number, Some(3));
    assert_eq!(s.read_preference, Some("secondaryPreferred"));
    assert_eq!(s.comment, Some(Value::String("why")));
    assert_eq!(s.message_len, msg.as_bytes().len());
    assert!(s.expects_reply());
    assert!(s.reply.is_none());
}

#[test]
fn reply_summary_reads_status_cursor_and_errors() {
    let mut batch = ArrayBuf::new();
    for i in 0..5 {
        batch
            .push(Value::Document(
                doc(&[("_id", Value::Int32(i))]).as_document(),
            ))
            .unwrap();
    }
    let cursor = doc(&[
        ("nextBatch", Value::Array(batch.as_array())),
        ("id", Value::Int64(77)),
        ("ns", Value::String("app.users")),
    ]);
    let body = doc(&[
        ("cursor", Value::Document(cursor.as_document())),
        ("ok", Value::Double(1.0)),
    ]);
    let msg = op_msg(8, 7, MsgFlags::MORE_TO_COME, &body);
    let s = msg.summary().unwrap();
    assert_eq!(s.direction, Direction::Reply);
    assert_eq!((s.cursor_id, s.documents), (Some(77), 5));
    assert_eq!((s.database, s.collection), (Some("app"), Some("users")));
    assert!(s.more_to_come && !s.expects_reply());
    assert_eq!(s.reply.unwrap().ok, Some(true));
    assert!(!s.reply.unwrap().is_error());

    let mut errors = ArrayBuf::new();
    errors
        .push(Value::Document(
            doc(&[("code", Value::Int32(11000))]).as_document(),
        ))
        .unwrap();
    let wce = doc(&[("code", Value::Int32(64))]);
    let body = doc(&[
        ("n", Value::Int32(0)),
        ("writeErrors", Value::Array(errors.as_array())),
        ("writeConcernError", Value::Document(wce.as_document())),
        ("ok", Value::Int32(1)),
    ]);
    let msg = op_msg(9, 7, MsgFlags::default(), &body);
    let r = msg.summary().unwrap().reply.unwrap();
    assert_eq!(
        (r.ok, r.n, r.write_errors, r.write_concern_error),
        (Some(true), Some(0), 1, true)
    );
    assert!(r.is_error());

    let body = doc(&[
        ("ok", Value::Boolean(false)),
        ("errmsg", Value::String("not primary")),
        ("code", Value::Double(10107.0)),
        ("codeName", Value::String("NotWritablePrimary")),
    ]);
    let msg = op_msg(10, 7, MsgFlags::default(), &body);
    let r = msg.summary().unwrap().reply.unwrap();
    assert_eq!(r.ok, Some(false));
    assert_eq!(r.errmsg, Some("not primary"));
    assert_eq!(r.code, Some(10107));
    assert_eq!(r.code_name, Some("NotWritablePrimary"));
}

#[test]
fn write_commands_count_sequence_and_array_documents() {
    let d = doc(&[("x", Value::Int32(1))]);
    let body = doc(&[("insert", Value::String("c")), ("$db", Value::String("d"))]);
    let msg = OpMsgBuilder::new(1, 0)
        .sequence("documents", [d.as_document(); 3])
        .body(body.as_document())
        .build()
        .unwrap();
    assert_eq!(msg.summary().unwrap().documents, 3);

    let mut arr = ArrayBuf::new();
    for _ in 0..4 {
        arr.push(Value::Document(d.as_document())).unwrap();
    }
    let body = doc(&[
        ("delete", Value::String("c")),
        ("deletes", Value::Array(arr.as_array())),
        ("$db", Value::String("d")),
    ]);
    assert_eq!(
        op_msg(1, 0, MsgFlags::default(), &body)
            .summary()
            .unwrap()
            .documents,
        4
    );

    let body = doc(&[
        ("getMore", Value::Int64(99)),
        ("collection", Value::String("c")),
        ("$db", Value::String("d")),
    ]);
    let msg = op_msg(1, 0, MsgFlags::default(), &body);
    let s = msg.summary().unwrap();
    assert_eq!(
        (s.command, s.collection, s.cursor_id),
        (Some("getMore"), Some("c"), Some(99))
    );

    // A command whose first value is not a collection name.
    let body = doc(&[("hello", Value::Int32(1)), ("$db", Value::String("admin"))]);
    let msg = op_msg(1, 0, MsgFlags::default(), &body);
    let s = msg.summary().unwrap();
    assert_eq!((s.command, s.collection), (Some("hello"), None));
}

#[test]
fn pairing_follows_exhaust_streams_and_evicts() {
    let mut p = Pairing::new(2);
    p.request(1, "find");
    p.request(2, "getMore");
    assert_eq!(p.reply(2, 100, true), Some("getMore"));
    assert_eq!(p.reply(100, 101, true), Some("getMore"));
    assert_eq!(p.reply(101, 102, false), Some("getMore"));
    assert_eq!(p.reply(102, 103, false), None);
    assert_eq!(p.reply(1, 104, false), Some("find"));
    assert_eq!(p.pending(), 0);
    for id in 10..13 {
        p.request(id, "x");
    }
    assert_eq!((p.pending(), p.evicted()), (2, 1));
    assert_eq!(p.reply(10, 0, false), None);
}

#[test]
fn limits_message_size_is_checked_from_four_bytes() {
    let mut codec = MongoCodec::new(Limits::default());
    let mut buf = BytesMut::from(&48_000_001i32.to_le_bytes()[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err.kind(),
        MongoErrorKind::TooLarge {
            length: 48_000_001,
            limit: 48_000_000
        }
    ));
    assert_eq!(err.side(), Side::Downstream);
    assert!(!err.retry_safe());

    // Exactly at the limit is fine: it waits for the bytes.
    let mut buf = BytesMut::from(&48_000_000i32.to_le_bytes()[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());

    let mut codec = MongoCodec::upstream(Limits::default().with_max_message_size(1000));
    let mut buf = BytesMut::from(&1001i32.to_le_bytes()[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert_eq!(err.side(), Side::Upstream);

    for bad in [-1i32, 0, 15, 20] {
        let mut buf = BytesMut::from(&bad.to_le_bytes()[..]);
        let err = MongoCodec::default().decode(&mut buf).unwrap_err();
        assert!(
            matches!(err.kind(), MongoErrorKind::TooShort { op: None, .. }),
            "{bad}"
        );
    }
    // A length too short for its opcode, once the opcode is there.
    let bytes = raw(1, 0, 2013, &[0; 6]);
    let err = decode_one(Limits::default(), &bytes).unwrap_err();
    assert!(err.contains("TooShort") && err.contains("Msg"), "{err}");
    let err = decode_one(Limits::default(), &raw(1, 0, 2010, &[0; 40])).unwrap_err();
    assert!(err.contains("UnknownOpCode { op_code: 2010 }"), "{err}");
}

#[test]
fn nothing_is_reserved_ahead_of_the_bytes() {
    let mut codec = MongoCodec::default();
    let header = Header {
        message_length: 40_000_000,
        request_id: 1,
        response_to: 0,
        op_code: 2013,
    };
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&header.to_bytes());
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() < 256 * 1024, "reserved {}", buf.capacity());
}

#[test]
fn bson_depth_limit() {
    fn nested(depth: usize) -> DocumentBuf {
        let mut d = doc(&[("leaf", Value::Int32(1))]);
        for _ in 1..depth {
            d = doc(&[("a", Value::Document(d.as_document()))]);
        }
        d
    }
    // The body sits at depth 1; 200 levels pass, 201 do not.
    let ok = op_msg(1, 0, MsgFlags::default(), &nested(200));
    decode_one(Limits::default(), ok.wire_bytes()).unwrap();
    let deep = op_msg(1, 0, MsgFlags::default(), &nested(201));
    let err = decode_one(Limits::default(), deep.wire_bytes()).unwrap_err();
    assert!(err.contains("TooDeep { limit: 200"), "{err}");
    let err = decode_one(Limits::default().with_max_bson_depth(5), ok.wire_bytes()).unwrap_err();
    assert!(err.contains("TooDeep { limit: 5"), "{err}");
    // Frame validation leaves the depth to whoever reads that deep.
    let lazy = Limits::default().with_validation(Validation::Frame);
    decode_one(lazy, deep.wire_bytes()).unwrap();
}

fn compressed(op: i32, declared: i32, id: u8, data: &[u8]) -> Vec<u8> {
    let mut body = op.to_le_bytes().to_vec();
    body.extend_from_slice(&declared.to_le_bytes());
    body.push(id);
    body.extend_from_slice(data);
    raw(5, 0, 2012, &body)
}

#[test]
fn compression_round_trips_every_compressor() {
    let msg = op_msg(3, 0, MsgFlags::CHECKSUM_PRESENT, &find_body());
    for c in [
        Compressor::Noop,
        Compressor::Snappy,
        Compressor::Zlib,
        Compressor::Zstd,
    ] {
        let z = msg.compress(c).unwrap();
        assert_eq!(z.compressor(), Some(c));
        assert_ne!(z.wire_bytes(), msg.wire_bytes());
        let back = decode_one(Limits::default(), z.wire_bytes()).unwrap();
        assert_eq!(back.as_bytes(), msg.as_bytes(), "{c}");
        assert_eq!(back.wire_bytes(), z.wire_bytes());
        assert_eq!(back.header(), msg.header());
        assert_eq!(back.summary().unwrap().compressor, Some(c));
        assert_eq!(back.summary().unwrap().command, Some("find"));
        assert_eq!(Compressor::from_id(c.id()), Some(c));
    }
}

#[test]
fn decompression_bombs_are_errors() {
    let body = vec![0u8; 4_000_000];
    let mut inner = 0u32.to_le_bytes().to_vec(); // OP_MSG flags
    inner.push(0);
    let d = doc(&[(
        "pad",
        Value::Binary(Binary {
            subtype: 0,
            bytes: &body,
        }),
    )]);
    inner.extend_from_slice(d.as_bytes());
    let small = Limits::default().with_max_decompressed_size(1_000_000);
    for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
        let mut data = Vec::new();
        c.compress(&inner, &mut data).unwrap();
        assert!(data.len() < 300_000, "{c}: {}", data.len());
        // Declared honestly, over the limit: refused before inflating.
        let bytes = compressed(2013, inner.len() as i32, c.id(), &data);
        let err = decode_one(small, &bytes).unwrap_err();
        assert!(err.contains("DecompressedTooLarge"), "{c}: {err}");
        // Declared small, inflating large: stopped one byte past the
        // declaration.
        let bytes = compressed(2013, 1000, c.id(), &data);
        let err = decode_one(small, &bytes).unwrap_err();
        assert!(err.contains("DecompressedSizeMismatch"), "{c}: {err}");
        // Within the limit, it decodes.
        let bytes = compressed(2013, inner.len() as i32, c.id(), &data);
        decode_one(Limits::default(), &bytes).unwrap();
    }
    // Snappy says how long its output is; a claim beyond what the input
    // can expand to is refused before the output is allocated.
    let mut lie = Vec::new();
    let mut n: u32 = 40_000_000;
    while n >= 0x80 {
        lie.push((n as u8) | 0x80);
        n >>= 7;
    }
    lie.push(n as u8);
    lie.extend_from_slice(&[0; 8]);
    let bytes = compressed(2013, 40_000_000, 1, &lie);
    let err = decode_one(Limits::default(), &bytes).unwrap_err();
    assert!(
        err.contains("DecompressedTooLarge") && err.contains("Snappy"),
        "{err}"
    );
    // A zstd frame asking for a 1 GiB window is refused.
    let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xA0, 0x09, 0x00, 0x00, b'x'];
    let bytes = compressed(2013, 10, 3, &frame);
    let err = decode_one(Limits::default(), &bytes).unwrap_err();
    assert!(err.contains("Decompress") && err.contains("Zstd"), "{err}");
    // Corrupt zlib, unknown compressor, nested compression, noop size lie.
    let err = decode_one(Limits::default(), &compressed(2013, 10, 2, b"not zlib")).unwrap_err();
    assert!(err.contains("Decompress {"), "{err}");
    let err = decode_one(Limits::default(), &compressed(2013, 10, 9, b"x")).unwrap_err();
    assert!(err.contains("UnknownCompressor { id: 9 }"), "{err}");
    let err = decode_one(Limits::default(), &compressed(2012, 10, 0, &[0; 10])).unwrap_err();
    assert!(err.contains("UnexpectedOpCode"), "{err}");
    let err = decode_one(Limits::default(), &compressed(2013, 12, 0, &[0; 10])).unwrap_err();
    assert!(err.contains("DecompressedSizeMismatch"), "{err}");
    let err = decode_one(Limits::default(), &compressed(2013, -1, 0, &[0; 10])).unwrap_err();
    assert!(err.contains("uncompressedSize"), "{err}");
}

#[test]
fn op_msg_structure_errors() {
    let body = doc(&[("ping", Value::Int32(1)), ("$db", Value::String("admin"))]);
    let section = |kind: u8, bytes: &[u8]| {
        let mut s = vec![kind];
        s.extend_from_slice(bytes);
        s
    };
    let msg = |flags: u32, sections: &[Vec<u8>]| {
        let mut b = flags.to_le_bytes().to_vec();
        for s in sections {
            b.extend_from_slice(s);
        }
        raw(1, 0, 2013, &b)
    };
    let b0 = section(0, body.as_bytes());
    decode_one(Limits::default(), &msg(0, std::slice::from_ref(&b0))).unwrap();
    // An unknown optional bit (16-31) is ignored; a required one is not.
    decode_one(Limits::default(), &msg(1 << 20, std::slice::from_ref(&b0))).unwrap();
    let err = decode_one(Limits::default(), &msg(1 << 5, std::slice::from_ref(&b0))).unwrap_err();
    assert!(err.contains("UnknownRequiredFlags"), "{err}");
    let err = decode_one(Limits::default(), &msg(0, &[b0.clone(), b0.clone()])).unwrap_err();
    assert!(err.contains("BodySections { count: 2 }"), "{err}");
    let mut seq = 9i32.to_le_bytes().to_vec();
    seq.extend_from_slice(b"docs\0");
    let s1 = section(1, &seq);
    let err = decode_one(Limits::default(), &msg(0, std::slice::from_ref(&s1))).unwrap_err();
    assert!(err.contains("BodySections { count: 0 }"), "{err}");
    decode_one(Limits::default(), &msg(0, &[s1, b0.clone()])).unwrap();
    let err = decode_one(Limits::default(), &msg(0, &[section(2, body.as_bytes())])).unwrap_err();
    assert!(err.contains("UnknownSectionKind { kind: 2"), "{err}");
    // A sequence whose size runs past the message.
    let mut seq = 900i32.to_le_bytes().to_vec();
    seq.extend_from_slice(b"docs\0");
    let err = decode_one(Limits::default(), &msg(0, &[b0.clone(), section(1, &seq)])).unwrap_err();
    assert!(err.contains("document sequence size"), "{err}");
    // A sequence whose last document is cut by the sequence size.
    let mut seq = (4 + 5 + 3i32).to_le_bytes().to_vec();
    seq.extend_from_slice(b"docs\0");
    seq.extend_from_slice(&body.as_bytes()[..3]);
    let err = decode_one(Limits::default(), &msg(0, &[b0.clone(), section(1, &seq)])).unwrap_err();
    assert!(
        err.contains("Bson") && err.contains("document sequence"),
        "{err}"
    );
    // checksumPresent without a checksum that matches.
    let mut m = msg(1, std::slice::from_ref(&b0));
    m.extend_from_slice(&[1, 2, 3, 4]);
    let len = m.len() as i32;
    m[..4].copy_from_slice(&len.to_le_bytes());
    let err = decode_one(Limits::default(), &m).unwrap_err();
    assert!(err.contains("ChecksumMismatch"), "{err}");
    // A body that is not valid BSON inside: caught by full validation,
    // left for the reader by frame validation.
    let mut bad = body.as_bytes().to_vec();
    bad[4] = 0x42; // unknown element type
    let m = msg(0, &[section(0, &bad)]);
    let err = decode_one(Limits::default(), &m).unwrap_err();
    assert!(err.contains("UnknownType { tag: 66"), "{err}");
    let lazy = decode_one(Limits::default().with_validation(Validation::Frame), &m).unwrap();
    assert!(lazy.summary().is_err());
}

#[test]
fn legacy_structure_errors() {
    // OP_REPLY claiming more documents than it has.
    let d = doc(&[("ok", Value::Double(1.0))]);
    let mut body = 0i32.to_le_bytes().to_vec();
    body.extend_from_slice(&0i64.to_le_bytes());
    body.extend_from_slice(&0i32.to_le_bytes());
    body.extend_from_slice(&2i32.to_le_bytes());
    body.extend_from_slice(d.as_bytes());
    let err = decode_one(Limits::default(), &raw(2, 1, 1, &body)).unwrap_err();
    assert!(err.contains("numberReturned"), "{err}");
    // OP_KILL_CURSORS with a count that disagrees with its ids.
    let mut body = 0i32.to_le_bytes().to_vec();
    body.extend_from_slice(&3i32.to_le_bytes());
    body.extend_from_slice(&[0; 16]);
    let err = decode_one(Limits::default(), &raw(2, 0, 2007, &body)).unwrap_err();
    assert!(err.contains("numberOfCursorIDs"), "{err}");
    // OP_GET_MORE with bytes left over.
    let mut body = 0i32.to_le_bytes().to_vec();
    body.extend_from_slice(b"a.b\0");
    body.extend_from_slice(&[0; 13]);
    let err = decode_one(Limits::default(), &raw(2, 0, 2005, &body)).unwrap_err();
    assert!(err.contains("trailing bytes"), "{err}");
    // OP_QUERY whose namespace never ends.
    let mut body = 0i32.to_le_bytes().to_vec();
    body.extend_from_slice(&[b'a'; 30]);
    let err = decode_one(Limits::default(), &raw(2, 0, 2004, &body)).unwrap_err();
    assert!(err.contains("fullCollectionName"), "{err}");
}

/// A stream of different messages: OP_MSG with a sequence and a checksum,
/// a compressed one, and legacy ones.
fn stream() -> (Vec<u8>, Vec<Message>) {
    let d = doc(&[("x", Value::String("y"))]);
    let insert = doc(&[("insert", Value::String("c")), ("$db", Value::String("d"))]);
    let a = OpMsgBuilder::new(1, 0)
        .flags(MsgFlags::CHECKSUM_PRESENT)
        .body(insert.as_document())
        .sequence("documents", [d.as_document(); 2])
        .build()
        .unwrap();
    let b = op_msg(2, 0, MsgFlags::default(), &find_body())
        .compress(Compressor::Snappy)
        .unwrap();
    let mut q = 0i32.to_le_bytes().to_vec();
    q.extend_from_slice(b"admin.$cmd\0");
    q.extend_from_slice(&[0; 4]);
    q.extend_from_slice(&(-1i32).to_le_bytes());
    q.extend_from_slice(doc(&[("ping", Value::Int32(1))]).as_bytes());
    let c = Message::from_bytes(Bytes::from(raw(3, 0, 2004, &q)), &Limits::default()).unwrap();
    let mut k = 0i32.to_le_bytes().to_vec();
    k.extend_from_slice(&1i32.to_le_bytes());
    k.extend_from_slice(&42i64.to_le_bytes());
    let e = Message::from_bytes(Bytes::from(raw(4, 0, 2007, &k)), &Limits::default()).unwrap();
    let msgs = vec![a, b, c, e];
    let mut bytes = BytesMut::new();
    let mut codec = MongoCodec::default();
    for m in &msgs {
        codec.encode(m, &mut bytes).unwrap();
    }
    (bytes.to_vec(), msgs)
}

#[test]
fn split_at_every_byte_and_fed_byte_by_byte() {
    let (bytes, msgs) = stream();
    for cut in 0..=bytes.len() {
        let mut codec = MongoCodec::default();
        let mut buf = BytesMut::from(&bytes[..cut]);
        let mut got = Vec::new();
        while let Some(m) = codec.decode(&mut buf).unwrap() {
            got.push(m);
        }
        buf.extend_from_slice(&bytes[cut..]);
        while let Some(m) = codec.decode(&mut buf).unwrap() {
            got.push(m);
        }
        assert!(buf.is_empty());
        assert_eq!(got, msgs, "cut at {cut}");
    }
    let mut codec = MongoCodec::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in &bytes {
        buf.extend_from_slice(&[b]);
        while let Some(m) = codec.decode(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got, msgs);
    // The borrowing parse agrees, and is Partial on every proper prefix.
    let limits = Limits::default();
    let first = msgs[0].wire_bytes();
    for n in 0..first.len() {
        assert_eq!(
            parse(&first[..n], &limits).unwrap(),
            Status::Partial,
            "prefix {n}"
        );
    }
    let Status::Complete(p) = parse(&bytes, &limits).unwrap() else {
        panic!("complete")
    };
    assert_eq!(p.len, first.len());
    assert!(matches!(p.op, Op::Msg(m) if m.checksum().is_some()));
}

#[test]
fn messages_are_split_without_copying() {
    let (bytes, _) = stream();
    let mut buf = BytesMut::from(&bytes[..]);
    let base = buf.as_ptr() as usize;
    let msg = MongoCodec::default().decode(&mut buf).unwrap().unwrap();
    assert_eq!(msg.wire_bytes().as_ptr() as usize, base);
    let Op::Msg(m) = msg.op().unwrap() else {
        panic!()
    };
    let body = m.body().as_bytes().as_ptr() as usize;
    assert!(body > base && body < base + msg.wire_bytes().len());
}

#[test]
fn work_is_linear_in_the_bytes_received() {
    // A 1 MiB message fed one byte at a time: each call before the end
    // reads at most the header, the complete message is parsed once.
    let big = vec![b'z'; 1 << 20];
    let body = doc(&[
        ("insert", Value::String("c")),
        ("pad", Value::String(std::str::from_utf8(&big).unwrap())),
        ("$db", Value::String("d")),
    ]);
    let msg = op_msg(1, 0, MsgFlags::default(), &body);
    let wire = msg.wire_bytes();
    let mut codec = MongoCodec::default();
    let mut buf = BytesMut::new();
    let mut got = 0;
    for chunk in wire.chunks(1) {
        buf.extend_from_slice(chunk);
        if codec.decode(&mut buf).unwrap().is_some() {
            got += 1;
        }
    }
    assert_eq!(got, 1);
    let stats = codec.stats();
    let n = wire.len() as u64;
    assert_eq!(stats.decode_calls, n);
    assert_eq!(stats.bytes_parsed, n);
    assert!(stats.header_bytes_inspected <= 16 * n);
    // Total work: at most 16 header bytes per call plus one pass over the
    // message, so linear: 17 units per byte received at most.
    assert!(stats.header_bytes_inspected + stats.bytes_parsed <= 17 * n);
}

#[test]
fn sniffer_recognises_clients_only() {
    let sniffer = MongoSniffer::default();
    let msg = op_msg(1, 0, MsgFlags::default(), &find_body());
    let wire = msg.wire_bytes();
    for n in 0..21 {
        assert_eq!(sniffer.sniff(&wire[..n]), Detection::NeedMore, "prefix {n}");
    }
    for n in 21..wire.len() {
        assert_eq!(sniffer.sniff(&wire[..n]), Detection::Match(Protocol::Mongo));
    }
    // A reply is not a client's first message.
    let reply = op_msg(2, 1, MsgFlags::default(), &find_body());
    assert_eq!(sniffer.sniff(reply.wire_bytes()), Detection::NoMatch);
    // Text is turned away at four bytes.
    for text in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"*1\r\n$4\r\nPING\r\n",
        b"PRI * HTTP/2.0\r\n",
    ] {
        assert_eq!(sniffer.sniff(&text[..4]), Detection::NoMatch, "{text:?}");
    }
    // A TLS ClientHello's record header reads as a sane length (33 MB),
    // but its handshake header and version are not responseTo 0.
    let hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x11\x22\x33\x44";
    assert_eq!(sniffer.sniff(&hello[..4]), Detection::NeedMore);
    assert_eq!(sniffer.sniff(hello), Detection::NoMatch);
    // OP_QUERY matches on its header; OP_REPLY never.
    let mut q = raw(5, 0, 2004, &[0; 30]);
    assert_eq!(sniffer.sniff(&q[..16]), Detection::Match(Protocol::Mongo));
    q[12..16].copy_from_slice(&1i32.to_le_bytes());
    assert_eq!(sniffer.sniff(&q[..16]), Detection::NoMatch);
    // OP_MSG with an unknown required flag bit, or section kind 7.
    let mut m = wire.to_vec();
    m[16] = 0x10;
    assert_eq!(sniffer.sniff(&m), Detection::NoMatch);
    let mut m = wire.to_vec();
    m[20] = 7;
    assert_eq!(sniffer.sniff(&m), Detection::NoMatch);
    let detector = Detector::new(DetectConfig::default()).with(sniffer);
    assert_eq!(detector.decide(wire), Step::Decided(Protocol::Mongo));
    assert_eq!(detector.decide(b"GET / HTTP/1.1\r\n"), Step::NoMatch);
}

#[test]
fn good_messages_come_out_before_an_error() {
    let (bytes, msgs) = stream();
    let mut with_garbage = bytes.clone();
    with_garbage.extend_from_slice(&[0xff; 20]);
    let mut codec = MongoCodec::default();
    let mut buf = BytesMut::from(&with_garbage[..]);
    for m in &msgs {
        assert_eq!(codec.decode(&mut buf).unwrap().as_ref(), Some(m));
    }
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), MongoErrorKind::TooShort { length: -1, .. }),
        "{err}"
    );
}
