//! The gRPC message decoder on arbitrary input, fed in pieces whose size
//! the input chooses, with identity or gzip and a small or default limit:
//! it must never panic, never return a message above the limit, and every
//! framed message it returns must re-encode to the bytes it came from,
//! and splitting messages out of one frozen buffer (`split_message`, the
//! zero-copy path) must give the same messages as the streaming decoder.
#![no_main]

use bytes::{BufMut, Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mesh_core::Side;
use mesh_http::grpc::{Encoding, Limits, MessageCodec};
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x1f) + 1;
    let encoding = if control & 0x20 != 0 { Encoding::Gzip } else { Encoding::Identity };
    let max = if control & 0x40 != 0 { 1024 } else { Limits::DEFAULT_MAX_MESSAGE_SIZE };
    let raw = control & 0x80 != 0;
    let mut codec = MessageCodec::new(Side::Downstream, Limits { max_message_size: max })
        .recv_encoding(encoding);
    let mut buf = BytesMut::new();
    let mut consumed = 0;
    let mut seen = Vec::new();
    'feed: for piece in data.chunks(chunk) {
        buf.put_slice(piece);
        loop {
            if raw {
                match codec.decode_message(&mut buf) {
                    Ok(Some(message)) => {
                        assert!(message.payload.len() <= max);
                        let mut again = BytesMut::new();
                        codec.clone().encode(message.clone(), &mut again).expect("re-encodes");
                        let start = consumed;
                        consumed += again.len();
                        assert_eq!(&again[..], &data[start..consumed]);
                        seen.push(message);
                    }
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            } else {
                match codec.decode(&mut buf) {
                    Ok(Some(message)) => assert!(message.len() <= max),
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
    if raw {
        let mut whole = Bytes::copy_from_slice(data);
        let mut splitter =
            MessageCodec::new(Side::Downstream, Limits { max_message_size: max });
        let mut split = Vec::new();
        while let Ok(Some(message)) = splitter.split_message(&mut whole) {
            split.push(message);
        }
        assert_eq!(split, seen);
    }
});
