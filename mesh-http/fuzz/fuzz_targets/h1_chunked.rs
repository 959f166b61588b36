//! The chunked body decoder on arbitrary bytes: never panics, and feeding
//! the input in pieces gives the same data, trailers and verdict as feeding
//! it at once (resumable at every byte).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mesh_http::h1::{BodyDecoder, Frame, Framing, Limits, MessageKind};

/// Data, trailer count, and whether the body completed or failed.
fn decode(pieces: &[&[u8]], limits: Limits) -> (Vec<u8>, usize, Result<bool, String>) {
    let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, limits);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut trailers = 0;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(Frame::Data(d))) => {
                    assert!(!d.is_empty());
                    data.extend_from_slice(&d)
                }
                Ok(Some(Frame::Trailers(t))) => trailers += t.len(),
                Ok(None) => break,
                Err(e) => return (data, trailers, Err(e.to_string())),
            }
        }
        if dec.is_done() {
            break;
        }
    }
    (data, trailers, Ok(dec.is_done()))
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, data)) = input.split_first() else {
        return;
    };
    let limits = Limits {
        allow_bare_lf: flags & 1 == 1,
        max_chunk_line: 256,
        max_trailer_bytes: 512,
        max_headers: 8,
        ..Limits::DEFAULT
    };
    let step = usize::from(flags >> 1).max(1);
    let at_once = decode(&[data], limits);
    let pieces: Vec<&[u8]> = data.chunks(step).collect();
    let in_pieces = decode(&pieces, limits);
    match (&at_once.2, &in_pieces.2) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            assert_eq!(at_once.0, in_pieces.0);
            assert_eq!(at_once.1, in_pieces.1);
        }
        (Err(_), Err(_)) => {}
        // Data handed out before an error may differ in how it was split,
        // never in the verdict.
        (a, b) => panic!("at once {a:?}, in pieces of {step}: {b:?}"),
    }
});
