//! Settings of an HTTP/2 connection: what we advertise, how much we buffer,
//! and the hardening limits, each with a documented default.

use std::time::Duration;

use super::frame::settings::{MAX_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE};

/// The RFC's initial window (RFC 9113 §6.9.2): what every window starts at
/// until SETTINGS or WINDOW_UPDATE say otherwise.
pub const DEFAULT_WINDOW: u32 = 65_535;

/// The largest window there is (2^31 - 1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// "At most `max` events per `per`", enforced as a token bucket that holds
/// `max` tokens and refills smoothly at `max / per` (so a burst of `max` is
/// allowed, then the sustained rate).
///
/// A peer over the rate gets GOAWAY with ENHANCE_YOUR_CALM: the limits
/// that use this type count things a well-behaved peer does rarely (resets,
/// SETTINGS, PINGs, empty DATA frames), whose only bulk use is an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The burst, and the number of events per interval (at least 1).
    pub max: u32,
    /// The interval over which `max` events are allowed.
    pub per: Duration,
}

impl RateLimit {
    /// At most `max` per `per`.
    pub const fn new(max: u32, per: Duration) -> RateLimit {
        RateLimit { max, per }
    }
}

/// The hardening limits of a connection (each one attacked by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest decoded header list of one HEADERS block (RFC 9113
    /// size: name, value and 32 per field), advertised as
    /// SETTINGS_MAX_HEADER_LIST_SIZE and enforced by the HPACK decoder per
    /// stream: a larger list (an HPACK bomb that references one big table
    /// entry thousands of times) resets that stream, and the decoded
    /// fields beyond the cap are never materialised. Default 64 KiB.
    pub max_header_list_size: u32,
    /// The largest encoded header block, HEADERS and its CONTINUATION
    /// frames together, held while it is assembled. Beyond it the
    /// connection ends with ENHANCE_YOUR_CALM (the block cannot be skipped
    /// without breaking HPACK). Default 64 KiB.
    pub max_header_block_size: usize,
    /// The most CONTINUATION frames one header block may take: empty or
    /// tiny CONTINUATION frames cost work without adding bytes (the 2024
    /// CONTINUATION flood). Beyond: GOAWAY ENHANCE_YOUR_CALM. Default 32.
    pub max_continuation_frames: u32,
    /// Stream resets the peer causes: RST_STREAM frames it sends (rapid
    /// reset, CVE-2023-44487) and stream errors it provokes us into
    /// (MadeYouReset, CVE-2025-8671: a malformed message, a window
    /// overflow, a frame on a half-closed stream). Over the rate: GOAWAY
    /// ENHANCE_YOUR_CALM. Default 1 000 per 30 s (about 33 per second,
    /// with bursts of 1 000), as nghttp2 allows.
    pub resets: RateLimit,
    /// SETTINGS frames from the peer (each one costs an acknowledgement).
    /// Default 100 per 10 s.
    pub settings: RateLimit,
    /// PING frames from the peer (each one costs an acknowledgement).
    /// Default 1 000 per 10 s, room for gRPC's BDP probes.
    pub pings: RateLimit,
    /// DATA frames with no data and no END_STREAM (CVE-2019-9518): they
    /// cost a frame's work and carry nothing. Default 100 per 10 s.
    pub empty_data: RateLimit,
    /// The most frames we queue in answer to the peer (SETTINGS and PING
    /// acknowledgements, RST_STREAM) while the peer does not read them:
    /// beyond, GOAWAY ENHANCE_YOUR_CALM (CVE-2019-9512, -9514, -9515).
    /// Default 1 000.
    pub max_pending_control: usize,
    /// The most informational (1xx) responses a client accepts before a
    /// stream's final response. Default 8.
    pub max_informational: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_list_size: 64 * 1024,
            max_header_block_size: 64 * 1024,
            max_continuation_frames: 32,
            resets: RateLimit::new(1_000, Duration::from_secs(30)),
            settings: RateLimit::new(100, Duration::from_secs(10)),
            pings: RateLimit::new(1_000, Duration::from_secs(10)),
            empty_data: RateLimit::new(100, Duration::from_secs(10)),
            max_pending_control: 1_000,
            max_informational: 8,
        }
    }
}

/// Settings of an HTTP/2 connection, client or server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The hardening limits.
    pub limits: Limits,
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise: how many streams the
    /// peer may open at once. Streams beyond are refused with
    /// REFUSED_STREAM (safe for the peer to retry). Default 100 (the
    /// RFC's recommended minimum). A client only ever receives pushed
    /// streams, which it disables, so the value matters to servers.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise: how many bytes the peer
    /// may send on a stream before the reader takes them. This is the
    /// memory one stream's unread body may use. Default 256 KiB; raised
    /// to the RFC's 65 535 if lower (so a peer that sends before it sees
    /// our SETTINGS never overruns it).
    pub stream_window: u32,
    /// The connection's receive window: what all streams together may have
    /// unread. Announced with a WINDOW_UPDATE right after the preface.
    /// This bounds the memory of a connection's receive buffers. Default
    /// 1 MiB; at least 65 535.
    pub connection_window: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise. Default 16 384.
    pub max_frame_size: u32,
    /// How many bytes of one stream's outgoing body may wait for the
    /// peer's flow-control window; a body writer blocks beyond. Default
    /// 64 KiB.
    pub stream_send_buffer: usize,
    /// How many bytes may wait to be written to the socket before DATA
    /// frames stop being scheduled (control frames are always queued, up
    /// to [`Limits::max_pending_control`]). Default 64 KiB.
    pub write_buffer: usize,
    /// How long the peer has to acknowledge our SETTINGS (and to send its
    /// own first SETTINGS) before GOAWAY SETTINGS_TIMEOUT. Default 10 s.
    pub settings_timeout: Duration,
    /// How long data may wait for a peer that keeps its flow-control window
    /// closed: a stream whose window stays at zero that long is reset
    /// (CANCEL), and a connection window that stays closed ends the
    /// connection (GOAWAY ENHANCE_YOUR_CALM). Default 30 s.
    pub send_window_timeout: Duration,
    /// How long a graceful shutdown waits for the peer to acknowledge the
    /// first GOAWAY's PING before it sends the final GOAWAY. Default 1 s.
    pub shutdown_ping_timeout: Duration,
    /// Close the connection (GOAWAY NO_ERROR) after it had no open stream
    /// this long; `None` keeps idle connections. Default `None`.
    pub idle_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            max_concurrent_streams: 100,
            stream_window: 256 * 1024,
            connection_window: 1024 * 1024,
            max_frame_size: MIN_MAX_FRAME_SIZE,
            stream_send_buffer: 64 * 1024,
            write_buffer: 64 * 1024,
            settings_timeout: Duration::from_secs(10),
            send_window_timeout: Duration::from_secs(30),
            shutdown_ping_timeout: Duration::from_secs(1),
            idle_timeout: None,
        }
    }
}

impl Config {
    /// The configuration with every value brought into its legal range
    /// (windows at least 65 535 and at most 2^31-1, frame size within the
    /// RFC's bounds, buffers at least one byte).
    pub(crate) fn normalized(mut self) -> Config {
        self.stream_window = self.stream_window.clamp(DEFAULT_WINDOW, MAX_WINDOW);
        self.connection_window = self.connection_window.clamp(DEFAULT_WINDOW, MAX_WINDOW);
        self.max_frame_size = self
            .max_frame_size
            .clamp(MIN_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
        self.stream_send_buffer = self.stream_send_buffer.max(1);
        self.write_buffer = self.write_buffer.max(1);
        self.limits.max_continuation_frames = self.limits.max_continuation_frames.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_clamps_to_the_rfc() {
        let c = Config {
            stream_window: 1,
            connection_window: u32::MAX,
            max_frame_size: 1,
            stream_send_buffer: 0,
            ..Config::default()
        }
        .normalized();
        assert_eq!(c.stream_window, DEFAULT_WINDOW);
        assert_eq!(c.connection_window, MAX_WINDOW);
        assert_eq!(c.max_frame_size, MIN_MAX_FRAME_SIZE);
        assert_eq!(c.stream_send_buffer, 1);
        assert_eq!(Config::default().normalized(), Config::default());
    }
}
