//! Padding of DATA, HEADERS and PUSH_PROMISE (RFC 9113 §6.1, §6.2, §6.6).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, Head, flags};

/// Splits the padding off `payload` and returns what is between the pad
/// length byte and the padding, with the pad length if the frame is padded.
///
/// `fixed` is the size of the fields that must follow the pad length byte
/// (the priority block, the promised stream id): a payload too short for
/// them is a FRAME_SIZE_ERROR, padding that eats into them or past the end
/// a PROTOCOL_ERROR (RFC 9113 §6.1, §6.2).
pub(super) fn strip(
    head: &Head,
    mut payload: Bytes,
    fixed: usize,
) -> Result<(Bytes, Option<u8>), FrameErrorKind> {
    let padded = head.has(flags::PADDED);
    let need = fixed + usize::from(padded);
    if payload.len() < need {
        return Err(FrameErrorKind::BadLength {
            kind: head.kind,
            stream_id: head.stream_id,
            length: head.length,
            expected: if padded {
                "the pad length and mandatory fields do not fit"
            } else {
                "the mandatory fields do not fit"
            },
        });
    }
    if !padded {
        return Ok((payload, None));
    }
    let pad_len = payload[0];
    let room = payload.len() - need;
    if usize::from(pad_len) > room {
        return Err(FrameErrorKind::Padding {
            kind: head.kind,
            stream_id: head.stream_id,
            pad_len,
            length: head.length,
        });
    }
    let end = payload.len() - usize::from(pad_len);
    payload.truncate(end);
    bytes::Buf::advance(&mut payload, 1);
    Ok((payload, Some(pad_len)))
}

/// The bytes padding adds to a payload: the pad length byte and the pad.
pub(super) fn overhead(padding: Option<u8>) -> usize {
    padding.map_or(0, |p| 1 + usize::from(p))
}

/// Writes the pad length byte, if padded.
pub(super) fn put_len(dst: &mut BytesMut, padding: Option<u8>) {
    if let Some(p) = padding {
        dst.put_u8(p);
    }
}

/// Writes the padding itself (zeros, as the RFC requires), if padded.
pub(super) fn put_pad(dst: &mut BytesMut, padding: Option<u8>) {
    if let Some(p) = padding {
        dst.put_bytes(0, usize::from(p));
    }
}
