//! Message compression: `grpc-encoding` and gzip.
//!
//! Each direction of a stream names its compression in `grpc-encoding`;
//! a message is compressed only if its own flag says so, so an encoding
//! is a permission, not a promise. gzip (RFC 1952) is the one encoding
//! every gRPC implementation supports; it goes through `flate2`.
//!
//! Decompression is where a small message can become a large one (a
//! "zip bomb": a few kilobytes of gzip inflate to gigabytes), so it stops
//! as soon as the output passes the same maximum message size that
//! bounds the wire length, having produced at most one byte more.

use std::io::{self, Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{Fields, GRPC_ENCODING};

/// The compression of one direction of a stream (`grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// No compression: a message with the compressed flag is an error.
    #[default]
    Identity,
    /// gzip (RFC 1952).
    Gzip,
}

/// A `grpc-encoding` this crate cannot decode. A server answers it with
/// `UNIMPLEMENTED` and its `grpc-accept-encoding` ([`Encoding::ACCEPT`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported grpc-encoding {:?} (supported: {})", String::from_utf8_lossy(.name), Encoding::ACCEPT)]
pub struct UnsupportedEncoding {
    /// The encoding that was named.
    pub name: Bytes,
}

impl Encoding {
    /// The `grpc-accept-encoding` value listing what we decode.
    pub const ACCEPT: &'static str = "identity,gzip";

    /// Parses a `grpc-encoding` value (ASCII case-insensitive, as gRPC
    /// implementations compare it).
    pub fn parse(value: &[u8]) -> Result<Encoding, UnsupportedEncoding> {
        if value.eq_ignore_ascii_case(b"identity") {
            Ok(Encoding::Identity)
        } else if value.eq_ignore_ascii_case(b"gzip") {
            Ok(Encoding::Gzip)
        } else {
            Err(UnsupportedEncoding {
                name: Bytes::copy_from_slice(value),
            })
        }
    }

    /// The encoding a head declares in `grpc-encoding`; identity when it
    /// declares none.
    pub fn from_fields(fields: &(impl Fields + ?Sized)) -> Result<Encoding, UnsupportedEncoding> {
        fields
            .field(GRPC_ENCODING)
            .map_or(Ok(Encoding::Identity), |v| Encoding::parse(v))
    }

    /// The `grpc-encoding` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
        }
    }
}

/// Why a compressed message could not be decompressed.
#[derive(Debug)]
pub(crate) enum InflateError {
    /// The output passed the limit.
    TooLarge,
    /// The input is not valid gzip (bad header, CRC, length, truncation).
    Corrupt(io::Error),
}

/// Inflates gzip `data`, failing once the output exceeds `max` bytes.
/// Concatenated gzip members are one message, as RFC 1952 and Java's
/// `GZIPInputStream` have it.
pub(crate) fn gunzip(data: &[u8], max: usize) -> Result<Bytes, InflateError> {
    // Room for the usual ratio, never more than the limit up front: the
    // rest grows with what the input really produces.
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(InflateError::Corrupt)?;
    if out.len() > max {
        return Err(InflateError::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// Appends the gzip compression of `data` to `dst`.
pub(crate) fn gzip(data: &[u8], dst: &mut BytesMut) {
    let mut encoder = GzEncoder::new(dst.writer(), Compression::default());
    // Writing into a `BytesMut` cannot fail: it grows as needed.
    let _ = encoder.write_all(data);
    let _ = encoder.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::hpack::Field;

    #[test]
    fn parse_names() {
        assert_eq!(Encoding::parse(b"gzip"), Ok(Encoding::Gzip));
        assert_eq!(Encoding::parse(b"GZIP"), Ok(Encoding::Gzip));
        assert_eq!(Encoding::parse(b"identity"), Ok(Encoding::Identity));
        let e = Encoding::parse(b"snappy").unwrap_err();
        assert_eq!(e.name, "snappy");
        assert!(e.to_string().contains("identity,gzip"), "{e}");
        assert_eq!(Encoding::from_fields(&Vec::new()), Ok(Encoding::Identity));
        assert_eq!(
            Encoding::from_fields(&[Field::new("grpc-encoding", "gzip")]),
            Ok(Encoding::Gzip)
        );
        for e in [Encoding::Identity, Encoding::Gzip] {
            assert_eq!(Encoding::parse(e.as_str().as_bytes()), Ok(e));
        }
    }

    #[test]
    fn gzip_round_trip_and_members() {
        let mut z = BytesMut::new();
        gzip(b"hello ", &mut z);
        gzip(b"world", &mut z);
        assert_eq!(gunzip(&z, 64).unwrap(), "hello world");
        assert_eq!(gunzip(&z, 11).unwrap(), "hello world");
        assert!(matches!(gunzip(&z, 10), Err(InflateError::TooLarge)));
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut z = BytesMut::new();
        gzip(b"hello", &mut z);
        let n = z.len();
        // Truncated, CRC flipped, not gzip at all, trailing garbage.
        assert!(matches!(
            gunzip(&z[..n - 1], 64),
            Err(InflateError::Corrupt(_))
        ));
        let mut bad_crc = z.to_vec();
        bad_crc[n - 8] ^= 1;
        assert!(matches!(
            gunzip(&bad_crc, 64),
            Err(InflateError::Corrupt(_))
        ));
        assert!(matches!(
            gunzip(b"hello", 64),
            Err(InflateError::Corrupt(_))
        ));
        let mut trailing = z.to_vec();
        trailing.extend_from_slice(b"xx");
        assert!(gunzip(&trailing, 64).is_err());
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        // 16 MiB of zeros is a few dozen KiB of gzip.
        let zeros = vec![0u8; 16 << 20];
        let mut z = BytesMut::new();
        gzip(&zeros, &mut z);
        assert!(z.len() < 128 << 10, "{}", z.len());
        assert!(matches!(gunzip(&z, 1 << 20), Err(InflateError::TooLarge)));
    }
}
