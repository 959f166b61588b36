//! The HTTP/2 frame decoder on arbitrary input, fed in pieces whose size
//! the input chooses: it must never panic, never return a frame longer
//! than the limit, and every frame it returns must survive re-encoding.
#![no_main]

use bytes::{BufMut, BytesMut};
use libfuzzer_sys::fuzz_target;
use mesh_core::Side;
use mesh_http::h2::frame::{Frame, FrameCodec, Limits};
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x3f) + 1;
    let mut codec = FrameCodec::new(Side::Downstream, Limits::default());
    if control & 0x40 != 0 {
        codec = codec.expect_preface();
    }
    let mut buf = BytesMut::new();
    for piece in data.chunks(chunk) {
        buf.put_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => check(&frame, codec.max_recv_frame_size()),
                Ok(None) => break,
                Err(e) if e.stream_error().is_some() => continue,
                Err(_) => return,
            }
        }
    }
});

fn check(frame: &Frame, max: u32) {
    assert!(frame.head().length <= max);
    let mut codec = FrameCodec::new(Side::Upstream, Limits::default());
    codec.set_max_send_frame_size(max);
    codec.set_max_recv_frame_size(max);
    let mut out = BytesMut::new();
    codec
        .encode(frame, &mut out)
        .expect("a decoded frame can be sent again");
    let again = codec.decode(&mut out).expect("re-decodes").expect("whole");
    let mut frame = frame.clone();
    if let Frame::Unknown(u) = &mut frame {
        u.head.length = u.payload.len() as u32;
    }
    // Unknown flags are dropped on the way, so compare the typed frames.
    assert_eq!(again, frame);
    assert!(out.is_empty());
}
