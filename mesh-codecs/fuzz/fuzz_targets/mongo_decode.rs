//! Arbitrary bytes through everything that reads MongoDB traffic: the
//! codec (fully validating and frame-only), fed whole and in two pieces;
//! the borrowing parse; summaries; the sniffer; and the lazy BSON reader
//! on whatever documents come out. Only a panic is a failure, plus one
//! invariant: a message the fully validating decoder accepts can always be
//! summarised.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mesh_codecs::mongo::bson::{Document, Value};
use mesh_codecs::mongo::{
    Limits, MongoCodec, MongoSniffer, Op, Status, Summary, Validation, parse,
};
use mesh_core::Sniff;
use tokio_util::codec::Decoder;

/// Reads every element and value, nested ones included, to a fixed depth.
fn walk(doc: Document<'_>, depth: usize) {
    if depth > 64 {
        return;
    }
    for el in doc.iter() {
        let Ok(el) = el else { return };
        match el.value() {
            Ok(Value::Document(d)) => walk(d, depth + 1),
            Ok(Value::Array(a)) => walk(a.as_document(), depth + 1),
            Ok(Value::JavaScriptWithScope(c)) => walk(c.scope, depth + 1),
            _ => {}
        }
    }
}

fn decode(data: &[u8], limits: Limits, cut: usize) {
    let mut codec = MongoCodec::new(limits);
    let mut buf = BytesMut::from(&data[..cut]);
    let mut rest = Some(&data[cut..]);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(msg)) => {
                let summary = msg.summary();
                if limits.validation == Validation::Full {
                    assert!(summary.is_ok(), "validated message failed to summarise");
                }
                if let Ok(Op::Msg(m)) = msg.op() {
                    walk(m.body(), 0);
                    for seq in m.sequences() {
                        seq.documents().for_each(|d| walk(d, 0));
                    }
                }
            }
            Ok(None) => match rest.take() {
                Some(r) => buf.extend_from_slice(r),
                None => return,
            },
            Err(_) => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    for validation in [Validation::Full, Validation::Frame] {
        let limits = Limits::default()
            .with_validation(validation)
            .with_max_message_size(1 << 20)
            .with_max_decompressed_size(1 << 20);
        decode(data, limits, cut);
        if let Ok(Status::Complete(p)) = parse(data, &limits) {
            let _ = Summary::from_op(&p.header, &p.op);
            if let Op::Compressed(c) = p.op {
                let _ = c.decompress(&p.header);
            }
        }
    }
    let _ = MongoSniffer::default().sniff(data);
    if let Ok(doc) = Document::new(data) {
        let _ = doc.validate(200);
        walk(doc, 0);
    }
});
