//! OP_COMPRESSED: the compressors, and decompression that a small message
//! cannot turn into a large allocation.

use std::io::{self, Read};

use super::MongoErrorKind;

/// An OP_COMPRESSED compressor, by the id MongoDB gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compressor {
    /// 0: the message is stored as is (used in tests and by some drivers).
    Noop,
    /// 1: snappy's raw (block) format, not its framing format.
    Snappy,
    /// 2: zlib (RFC 1950, a deflate stream with its header and Adler-32).
    Zlib,
    /// 3: a zstd frame.
    Zstd,
}

impl Compressor {
    /// The compressor for its wire id, or `None` for an unknown id.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Compressor::Noop),
            1 => Some(Compressor::Snappy),
            2 => Some(Compressor::Zlib),
            3 => Some(Compressor::Zstd),
            _ => None,
        }
    }

    /// The wire id.
    pub const fn id(self) -> u8 {
        match self {
            Compressor::Noop => 0,
            Compressor::Snappy => 1,
            Compressor::Zlib => 2,
            Compressor::Zstd => 3,
        }
    }

    /// The name drivers and servers use in `hello`'s `compression` array.
    pub const fn as_str(self) -> &'static str {
        match self {
            Compressor::Noop => "noop",
            Compressor::Snappy => "snappy",
            Compressor::Zlib => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    /// Compresses `data` onto the end of `out`, as drivers do: snappy raw
    /// format, zlib at level 6, zstd at level 3.
    pub fn compress(self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Compressor::Noop => out.extend_from_slice(data),
            Compressor::Snappy => {
                let start = out.len();
                out.resize(start + snap::raw::max_compress_len(data.len()), 0);
                let n = snap::raw::Encoder::new()
                    .compress(data, &mut out[start..])
                    .map_err(io::Error::other)?;
                out.truncate(start + n);
            }
            Compressor::Zlib => {
                let mut enc = flate2::read::ZlibEncoder::new(data, flate2::Compression::new(6));
                enc.read_to_end(out)?;
            }
            Compressor::Zstd => {
                // One shot, so the frame records the content size.
                out.extend_from_slice(&zstd::bulk::compress(data, 3)?);
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Snappy's raw format expands at most 64 bytes from a 3-byte copy
/// element, so valid data never inflates beyond this ratio; a declared
/// length above it is rejected before the output is allocated.
const SNAPPY_MAX_RATIO: usize = 22;

/// The zstd window the decoder always allows (8 MiB): the largest window a
/// streaming compressor picks at levels up to 19 when it does not know the
/// content size. Above it, the window may not exceed the declared size
/// (rounded up to a power of two), so a small message cannot make the
/// decoder allocate more than this floor.
const ZSTD_MIN_WINDOW_LOG: u32 = 23;

/// Decompresses `data`, which declares `declared` bytes uncompressed, onto
/// the end of `out`. The caller has checked `declared` against the
/// decompressed size limit; here the output is never allowed to pass it,
/// and memory grows with the output actually produced (snappy, which needs
/// its output up front, is bounded by its expansion ratio instead).
pub(crate) fn decompress(
    compressor: Compressor,
    data: &[u8],
    declared: usize,
    out: &mut Vec<u8>,
) -> Result<(), MongoErrorKind> {
    let start = out.len();
    let corrupt = |source| MongoErrorKind::Decompress { compressor, source };
    match compressor {
        Compressor::Noop => out.extend_from_slice(data),
        Compressor::Snappy => {
            let len = snap::raw::decompress_len(data).map_err(|e| corrupt(io::Error::other(e)))?;
            if len != declared {
                return Err(MongoErrorKind::DecompressedSizeMismatch {
                    compressor,
                    declared,
                    actual: len,
                });
            }
            let bound = data.len().saturating_mul(SNAPPY_MAX_RATIO);
            if len > bound {
                return Err(MongoErrorKind::DecompressedTooLarge {
                    compressor,
                    size: len as i64,
                    limit: bound,
                });
            }
            out.resize(start + len, 0);
            snap::raw::Decoder::new()
                .decompress(data, &mut out[start..])
                .map_err(|e| corrupt(io::Error::other(e)))?;
        }
        Compressor::Zlib => {
            let dec = flate2::read::ZlibDecoder::new(data);
            read_bounded(dec, declared, out).map_err(corrupt)?;
        }
        Compressor::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(corrupt)?;
            let window_log = usize::BITS - declared.leading_zeros();
            dec.window_log_max(window_log.clamp(ZSTD_MIN_WINDOW_LOG, 31))
                .map_err(corrupt)?;
            read_bounded(dec, declared, out).map_err(corrupt)?;
        }
    }
    let actual = out.len() - start;
    if actual != declared {
        return Err(MongoErrorKind::DecompressedSizeMismatch {
            compressor,
            declared,
            actual,
        });
    }
    Ok(())
}

/// Reads at most `declared + 1` bytes (one more shows the data inflates
/// past its declaration), growing `out` as the output arrives.
fn read_bounded(r: impl Read, declared: usize, out: &mut Vec<u8>) -> io::Result<usize> {
    r.take(declared as u64 + 1).read_to_end(out)
}
