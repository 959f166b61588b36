//! Arbitrary bytes through everything that reads RESP: the codecs (raw
//! and owned, with and without inline commands) fed whole and in two
//! pieces, the one-shot decoders, the views, the request and key
//! extraction, RESP2 conversion and the sniffer. Beyond "no panic", the
//! invariants are: a decoder fed in pieces says what it says fed at once;
//! every decoded frame re-encodes to bytes that decode to the same frame;
//! a raw frame's bytes are exactly the bytes it was decoded from (inline
//! commands aside, which are re-encoded).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mesh_codecs::redis::{
    DecoderConfig, FrameRef, RawFrame, RawRespCodec, RespSniffer, decode_frame, to_resp2,
};
use mesh_core::Sniff;
use tokio_util::codec::Decoder;

/// Decodes `data` fed at once or in two pieces: the frames, and whether
/// decoding failed.
fn decode_all(data: &[u8], config: DecoderConfig, cut: Option<usize>) -> (Vec<RawFrame>, bool) {
    let mut codec = RawRespCodec::new(config);
    let cut = cut.unwrap_or(data.len()).min(data.len());
    let mut buf = BytesMut::from(&data[..cut]);
    let mut frames = Vec::new();
    for piece in [&data[cut..], &[][..]] {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
        buf.extend_from_slice(piece);
    }
    (frames, false)
}

/// Reads every view of a frame, to a fixed depth.
fn walk(view: FrameRef<'_>, depth: usize) {
    if depth > 200 {
        return;
    }
    let _ = (view.kind(), view.as_bytes(), view.to_bytes(), view.as_integer(), view.as_bool());
    let _ = (view.verbatim_format(), view.is_null(), view.len(), view.without_attributes().kind());
    for child in view.children() {
        walk(child, depth + 1);
    }
}

fn check(raw: &RawFrame, config: &DecoderConfig) {
    walk(raw.root(), 0);
    let frame = raw.to_frame();
    let wire = frame.to_bytes().expect("a decoded frame encodes");
    let replies = DecoderConfig { inline_commands: false, ..*config };
    let (again, used) = decode_frame(&wire, &replies).expect("re-decodes").expect("whole");
    assert_eq!(used, wire.len());
    assert_eq!(again, frame);
    if let Some(request) = raw.request() {
        let _ = (request.name(), request.get(1), request.bytes(1));
        if let Some(command) = request.command() {
            let _ = command.keys(&request).count();
            let _ = command.routing_keys(&request).map(mesh_codecs::redis::slot).count();
            if let Some(owned) = mesh_codecs::redis::Request::new(&frame) {
                if let Some(parts) = command.split(&owned) {
                    assert!(!parts.is_empty());
                }
            }
        }
    }
    let converted = to_resp2(frame, None);
    let wire = converted.to_bytes().expect("a converted frame encodes");
    let (back, _) = decode_frame(&wire, &replies).expect("re-decodes").expect("whole");
    assert_eq!(back, converted);
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let config = DecoderConfig {
        inline_commands: control & 1 == 1,
        ..DecoderConfig::default()
    };
    let cut = usize::from(control >> 1) * data.len() / 127;
    let _ = RespSniffer.sniff(data);

    let (whole, failed) = decode_all(data, config, None);
    let (split, split_failed) = decode_all(data, config, Some(cut));
    assert_eq!(failed, split_failed);
    assert_eq!(whole, split);

    // Without inline commands, frames are exactly the input's bytes, in
    // order (inline commands are re-encoded, and empty lines skipped).
    let mut at = 0;
    for raw in &whole {
        if !config.inline_commands {
            assert!(data[at..].starts_with(raw.as_bytes()));
            at += raw.as_bytes().len();
        }
        check(raw, &config);
    }

    let bytes = Bytes::copy_from_slice(data);
    if let Ok(Some((raw, used))) = RawFrame::decode(&bytes, &config) {
        assert!(used <= data.len());
        assert_eq!(Some(&raw), whole.first());
        let (frame, used_too) = decode_frame(&bytes, &config).expect("same").expect("same");
        assert_eq!((frame, used_too), (raw.to_frame(), used));
    }
});
