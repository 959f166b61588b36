//! SETTINGS frames (RFC 9113 §6.5) and their parameters.

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameErrorKind, FrameType, Head, StreamId, flags};

/// The parameter identifiers this codec knows (RFC 9113 §6.5.2, RFC 8441
/// §3, RFC 9218 §2.1). Others are ignored on receipt, as the RFC says.
pub mod id {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the receiver
    /// of the setting may use to encode for the sender.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218).
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;

    /// The RFC name of a known parameter.
    pub const fn name(id: u16) -> Option<&'static str> {
        Some(match id {
            HEADER_TABLE_SIZE => "SETTINGS_HEADER_TABLE_SIZE",
            ENABLE_PUSH => "SETTINGS_ENABLE_PUSH",
            MAX_CONCURRENT_STREAMS => "SETTINGS_MAX_CONCURRENT_STREAMS",
            INITIAL_WINDOW_SIZE => "SETTINGS_INITIAL_WINDOW_SIZE",
            MAX_FRAME_SIZE => "SETTINGS_MAX_FRAME_SIZE",
            MAX_HEADER_LIST_SIZE => "SETTINGS_MAX_HEADER_LIST_SIZE",
            ENABLE_CONNECT_PROTOCOL => "SETTINGS_ENABLE_CONNECT_PROTOCOL",
            NO_RFC7540_PRIORITIES => "SETTINGS_NO_RFC7540_PRIORITIES",
            _ => return None,
        })
    }
}

/// The smallest SETTINGS_MAX_FRAME_SIZE (and the initial frame size).
pub const MIN_MAX_FRAME_SIZE: u32 = 1 << 14;
/// The largest SETTINGS_MAX_FRAME_SIZE.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// A SETTINGS frame: the parameters the sender changes (`None` = not sent,
/// so the previous value stays), or an acknowledgement.
///
/// A field, not a list: the RFC processes parameters in order so the last
/// occurrence wins, which is what overwriting a field does, and a frame
/// with thousands of repeated parameters costs no memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Settings {
    /// This acknowledges the peer's SETTINGS (and carries no parameters).
    pub ack: bool,
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (at most 2^31-1).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (2^14..=2^24-1).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441).
    pub enable_connect_protocol: Option<bool>,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218).
    pub no_rfc7540_priorities: Option<bool>,
}

impl Settings {
    /// The acknowledgement of the peer's SETTINGS.
    pub fn ack() -> Settings {
        Settings {
            ack: true,
            ..Settings::default()
        }
    }

    /// The parameters that are set, as `(id, value)` in id order.
    pub fn params(&self) -> impl Iterator<Item = (u16, u32)> + use<> {
        let b = |v: Option<bool>| v.map(u32::from);
        [
            (id::HEADER_TABLE_SIZE, self.header_table_size),
            (id::ENABLE_PUSH, b(self.enable_push)),
            (id::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (id::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (id::MAX_FRAME_SIZE, self.max_frame_size),
            (id::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (id::ENABLE_CONNECT_PROTOCOL, b(self.enable_connect_protocol)),
            (id::NO_RFC7540_PRIORITIES, b(self.no_rfc7540_priorities)),
        ]
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
    }

    /// Applies one parameter, validating its value; unknown ids are
    /// ignored (RFC 9113 §6.5.2).
    pub fn set(&mut self, id: u16, value: u32) -> Result<(), FrameErrorKind> {
        let invalid = || FrameErrorKind::InvalidSetting { id, value };
        let flag = |v: u32| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(invalid()),
        };
        match id {
            id::HEADER_TABLE_SIZE => self.header_table_size = Some(value),
            id::ENABLE_PUSH => self.enable_push = Some(flag(value)?),
            id::MAX_CONCURRENT_STREAMS => self.max_concurrent_streams = Some(value),
            id::INITIAL_WINDOW_SIZE => {
                if value > super::WindowUpdate::MAX_INCREMENT {
                    return Err(invalid());
                }
                self.initial_window_size = Some(value);
            }
            id::MAX_FRAME_SIZE => {
                if !(MIN_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                    return Err(invalid());
                }
                self.max_frame_size = Some(value);
            }
            id::MAX_HEADER_LIST_SIZE => self.max_header_list_size = Some(value),
            id::ENABLE_CONNECT_PROTOCOL => self.enable_connect_protocol = Some(flag(value)?),
            id::NO_RFC7540_PRIORITIES => self.no_rfc7540_priorities = Some(flag(value)?),
            _ => {}
        }
        Ok(())
    }

    /// The frame header.
    pub fn head(&self) -> Head {
        Head {
            length: if self.ack {
                0
            } else {
                6 * self.params().count() as u32
            },
            kind: FrameType::SETTINGS,
            flags: if self.ack { flags::ACK } else { 0 },
            stream_id: StreamId::CONNECTION,
        }
    }

    pub(super) fn decode(head: &Head, payload: Bytes) -> Result<Settings, FrameErrorKind> {
        if !head.stream_id.is_connection() {
            return Err(FrameErrorKind::NotOnConnection {
                kind: head.kind,
                stream_id: head.stream_id,
            });
        }
        let bad_length = |expected| FrameErrorKind::BadLength {
            kind: head.kind,
            stream_id: head.stream_id,
            length: head.length,
            expected,
        };
        if head.has(flags::ACK) {
            if !payload.is_empty() {
                return Err(bad_length("a SETTINGS acknowledgement must be empty"));
            }
            return Ok(Settings::ack());
        }
        if payload.len() % 6 != 0 {
            return Err(bad_length("SETTINGS must be a multiple of 6 bytes"));
        }
        let mut settings = Settings::default();
        for p in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            settings.set(id, value)?;
        }
        Ok(settings)
    }

    pub(super) fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.head().to_bytes());
        if !self.ack {
            for (id, value) in self.params() {
                dst.put_u16(id);
                dst.put_u32(value);
            }
        }
    }
}
