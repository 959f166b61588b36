//! gRPC status: the 17 codes, `grpc-status` / `grpc-message` /
//! `grpc-status-details-bin`, and where a response's status comes from.
//!
//! A proxy needs the status of every gRPC response (for metrics, for retry
//! decisions, for outlier detection), and must carry it on unchanged. So
//! [`Status`] keeps `grpc-status-details-bin` as the bytes that arrived,
//! decodes `grpc-message` leniently (a malformed escape is kept literally,
//! never an error, as the gRPC HTTP/2 spec requires) and encodes it so
//! that any UTF-8 text survives the hop.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use super::{Fields, FieldsMut, GRPC_MESSAGE, GRPC_STATUS, GRPC_STATUS_DETAILS_BIN};
use crate::h2::ErrorCode;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $n:literal, $name:literal;)*) => {
        /// A gRPC status code (`grpc-status`).
        ///
        /// The numbers are fixed by the gRPC spec; the names are the
        /// canonical upper-case ones that Istio and Envoy configuration use
        /// (`UNAVAILABLE`, `DEADLINE_EXCEEDED`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Code {
            $($(#[$doc])* $variant = $n,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: [Code; 17] = [$(Code::$variant,)*];

            /// The code with number `n`, if there is one.
            pub const fn from_u32(n: u32) -> Option<Code> {
                match n {
                    $($n => Some(Code::$variant),)*
                    _ => None,
                }
            }

            /// The canonical name, as configuration writes it
            /// (`"UNAVAILABLE"`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The decimal number as `grpc-status` carries it, without
            /// formatting at run time.
            pub const fn header_value(self) -> &'static str {
                match self {
                    $(Code::$variant => stringify!($n),)*
                }
            }
        }
    };
}

codes! {
    /// Not an error.
    Ok = 0, "OK";
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1, "CANCELLED";
    /// An error without a better code, or a status from elsewhere that
    /// this version does not know.
    Unknown = 2, "UNKNOWN";
    /// The client gave an invalid argument, whatever the system state.
    InvalidArgument = 3, "INVALID_ARGUMENT";
    /// The deadline expired before the operation completed.
    DeadlineExceeded = 4, "DEADLINE_EXCEEDED";
    /// A requested entity was not found.
    NotFound = 5, "NOT_FOUND";
    /// The entity a client tried to create already exists.
    AlreadyExists = 6, "ALREADY_EXISTS";
    /// The caller may not do this.
    PermissionDenied = 7, "PERMISSION_DENIED";
    /// A resource (quota, memory, a message size limit) is exhausted.
    ResourceExhausted = 8, "RESOURCE_EXHAUSTED";
    /// The system is not in a state the operation requires.
    FailedPrecondition = 9, "FAILED_PRECONDITION";
    /// The operation was aborted (a concurrency conflict).
    Aborted = 10, "ABORTED";
    /// The operation went past the valid range.
    OutOfRange = 11, "OUT_OF_RANGE";
    /// The method is not implemented or not supported.
    Unimplemented = 12, "UNIMPLEMENTED";
    /// An invariant the system relies on is broken.
    Internal = 13, "INTERNAL";
    /// The service is unavailable for now; a retry may succeed.
    Unavailable = 14, "UNAVAILABLE";
    /// Unrecoverable data loss or corruption.
    DataLoss = 15, "DATA_LOSS";
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16, "UNAUTHENTICATED";
}

impl Code {
    /// The code named `name`: the canonical upper-case name
    /// (`UNAVAILABLE`), compared ASCII case-insensitively so that
    /// `unavailable` is accepted too. Envoy's kebab-case `retry_on` tokens
    /// are a different vocabulary (see [`super::retry`]).
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }

    /// The code a gRPC client reports for a response without `grpc-status`,
    /// by its HTTP status (gRPC's `http-grpc-status-mapping`): 400
    /// INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
    /// UNIMPLEMENTED, 429, 502, 503 and 504 UNAVAILABLE, anything else
    /// UNKNOWN.
    pub const fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// The code a gRPC client reports for a stream the peer reset with
    /// RST_STREAM `code` (or a connection that ended with GOAWAY `code`),
    /// as the gRPC HTTP/2 protocol maps them: REFUSED_STREAM is
    /// UNAVAILABLE (nothing was processed), CANCEL is CANCELLED,
    /// ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED, INADEQUATE_SECURITY is
    /// PERMISSION_DENIED, and every other code is INTERNAL.
    pub const fn from_h2_error_code(code: ErrorCode) -> Code {
        match code.as_u32() {
            0x7 => Code::Unavailable,
            0x8 => Code::Cancelled,
            0xb => Code::ResourceExhausted,
            0xc => Code::PermissionDenied,
            _ => Code::Internal,
        }
    }

    /// Reads a `grpc-status` value: a decimal number. A number outside
    /// 0..=16 is [`Code::Unknown`] (clients must treat codes they do not
    /// know so); `None` when the value is not a number at all.
    pub fn parse_header(value: &[u8]) -> Option<Code> {
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Ten digits cover every u32; a longer number is no code we know.
        if value.len() > 10 {
            return Some(Code::Unknown);
        }
        let n = value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        Some(
            u32::try_from(n)
                .ok()
                .and_then(Code::from_u32)
                .unwrap_or(Code::Unknown),
        )
    }
}

impl From<Code> for u32 {
    fn from(code: Code) -> u32 {
        code as u32
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a gRPC status code: {value:?} (a name such as UNAVAILABLE or a number 0..=16)")]
pub struct UnknownCode {
    /// What was given.
    pub value: String,
}

impl FromStr for Code {
    type Err = UnknownCode;

    /// A name (`UNAVAILABLE`, any case) or a number 0..=16 (`"14"`), the
    /// two forms configuration uses.
    fn from_str(s: &str) -> Result<Code, UnknownCode> {
        let s = s.trim();
        Code::from_name(s)
            .or_else(|| s.parse::<u32>().ok().and_then(Code::from_u32))
            .ok_or_else(|| UnknownCode {
                value: s.to_owned(),
            })
    }
}

/// A gRPC status: code, message and opaque details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// The message, decoded from `grpc-message` (any UTF-8; bytes that
    /// were not UTF-8 after decoding are replaced by U+FFFD). Empty when
    /// there was none.
    pub message: String,
    /// `grpc-status-details-bin` exactly as it arrived: base64 of a
    /// `google.rpc.Status` that only the application reads, so a proxy
    /// never decodes or re-encodes it.
    pub details: Option<Bytes>,
}

impl Status {
    /// A status with a message and no details.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// `OK`, without a message.
    pub fn ok() -> Status {
        Status::new(Code::Ok, "")
    }

    /// The status in a block of fields (trailers, or the headers of a
    /// trailers-only response), or `None` when it has no `grpc-status`.
    /// A `grpc-status` that is not a number reads as `INTERNAL` (the
    /// response is malformed), keeping the original value in the message.
    pub fn from_fields(fields: &(impl Fields + ?Sized)) -> Option<Status> {
        let raw = fields.field(GRPC_STATUS)?;
        let details = fields.field(GRPC_STATUS_DETAILS_BIN).cloned();
        let Some(code) = Code::parse_header(raw) else {
            return Some(Status {
                code: Code::Internal,
                message: format!("malformed grpc-status: {:?}", String::from_utf8_lossy(raw)),
                details,
            });
        };
        let message = fields
            .field(GRPC_MESSAGE)
            .map(|m| decode_message(m))
            .unwrap_or_default();
        Some(Status {
            code,
            message,
            details,
        })
    }

    /// Appends `grpc-status`, then `grpc-message` (percent-encoded; left
    /// out when empty) and `grpc-status-details-bin` (verbatim; when
    /// present).
    pub fn write_fields(&self, out: &mut impl FieldsMut) {
        out.append_field(
            GRPC_STATUS,
            Bytes::from_static(self.code.header_value().as_bytes()),
        );
        if !self.message.is_empty() {
            let encoded = encode_message(&self.message).into_owned();
            out.append_field(GRPC_MESSAGE, Bytes::from(encoded));
        }
        if let Some(details) = &self.details {
            out.append_field(GRPC_STATUS_DETAILS_BIN, details.clone());
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// Where [`ResponseStatus::read`] found the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusSource {
    /// `grpc-status` in the trailers: the normal case.
    Trailers,
    /// `grpc-status` in the response headers: a trailers-only response.
    Headers,
    /// No `grpc-status` anywhere: inferred from the HTTP status
    /// ([`Code::from_http_status`]); typically a proxy or load balancer on
    /// the way that does not speak gRPC answered.
    HttpStatus,
}

/// The status of a finished gRPC response and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseStatus {
    /// The status.
    pub status: Status,
    /// Where it was read.
    pub source: StatusSource,
}

impl ResponseStatus {
    /// The status of a response with HTTP status `http_status`, response
    /// `headers` and, if a second HEADERS frame ended the stream,
    /// `trailers`: from the trailers, else from the headers (trailers-only),
    /// else inferred from the HTTP status.
    pub fn read<F: Fields + ?Sized>(
        http_status: u16,
        headers: &F,
        trailers: Option<&F>,
    ) -> ResponseStatus {
        if let Some(status) = trailers.and_then(|t| Status::from_fields(t)) {
            return ResponseStatus {
                status,
                source: StatusSource::Trailers,
            };
        }
        if let Some(status) = Status::from_fields(headers) {
            return ResponseStatus {
                status,
                source: StatusSource::Headers,
            };
        }
        ResponseStatus {
            status: Status::new(
                Code::from_http_status(http_status),
                format!("HTTP status {http_status} without grpc-status"),
            ),
            source: StatusSource::HttpStatus,
        }
    }
}

/// Whether `b` goes on the wire unescaped in `grpc-message`: printable
/// ASCII (space to `~`) except `%` (the spec's Percent-Byte-Unencoded).
const fn unreserved(b: u8) -> bool {
    matches!(b, 0x20..=0x24 | 0x26..=0x7e)
}

/// Percent-encodes a status message for `grpc-message`: its UTF-8 bytes,
/// with every byte outside printable ASCII, and `%` itself, written as
/// `%XX` (upper-case hex). Borrowed when nothing needed escaping.
///
/// A space at either end is escaped too (`%20`): the spec would let it
/// through, but an HTTP/2 field value must not begin or end with
/// whitespace (RFC 9113 §8.2.1), and a strict peer treats such a response
/// as malformed. Any gRPC decoder reads `%20` back as a space.
pub fn encode_message(message: &str) -> Cow<'_, str> {
    let bytes = message.as_bytes();
    let last = bytes.len().saturating_sub(1);
    let literal = |i: usize, b: u8| unreserved(b) && !(b == b' ' && (i == 0 || i == last));
    let Some(first) = bytes.iter().enumerate().position(|(i, &b)| !literal(i, b)) else {
        return Cow::Borrowed(message);
    };
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() + 16);
    out.push_str(&message[..first]);
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if literal(i, b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    Cow::Owned(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a `grpc-message` value. Never fails, as the spec asks: a `%`
/// not followed by two hex digits is kept as it is, and bytes that do not
/// form UTF-8 after decoding become U+FFFD.
pub fn decode_message(value: &[u8]) -> String {
    if !value.contains(&b'%') {
        return String::from_utf8_lossy(value).into_owned();
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                value.get(i + 1).copied().and_then(hex_value),
                value.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::HeaderMap;
    use crate::h2::hpack::Field;

    #[test]
    fn codes_by_number_and_name() {
        let names = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        for (n, name) in names.iter().enumerate() {
            let code = Code::from_u32(n as u32).unwrap();
            assert_eq!(code.as_str(), *name);
            assert_eq!(u32::from(code), n as u32);
            assert_eq!(code.header_value(), n.to_string());
            assert_eq!(Code::from_name(name), Some(code));
            assert_eq!(Code::from_name(&name.to_lowercase()), Some(code));
            assert_eq!(name.parse::<Code>().unwrap(), code);
            assert_eq!(n.to_string().parse::<Code>().unwrap(), code);
            assert_eq!(Code::parse_header(n.to_string().as_bytes()), Some(code));
            assert_eq!(Code::ALL[n], code);
        }
        assert_eq!(Code::from_u32(17), None);
        assert_eq!(Code::from_name("UNAVAILABLE "), None);
        assert_eq!(Code::from_name("deadline-exceeded"), None);
        assert!("17".parse::<Code>().is_err());
        assert_eq!("NOPE".parse::<Code>().unwrap_err().value, "NOPE");
    }

    #[test]
    fn grpc_status_values() {
        assert_eq!(Code::parse_header(b"17"), Some(Code::Unknown));
        assert_eq!(Code::parse_header(b"4294967295"), Some(Code::Unknown));
        assert_eq!(
            Code::parse_header(b"99999999999999999999"),
            Some(Code::Unknown)
        );
        assert_eq!(Code::parse_header(b"014"), Some(Code::Unavailable));
        for bad in [&b""[..], b" 14", b"14 ", b"-1", b"1x", b"\xff"] {
            assert_eq!(Code::parse_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_status_mapping() {
        let table = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (200, Code::Unknown),
            (500, Code::Unknown),
            (405, Code::Unknown),
            (301, Code::Unknown),
        ];
        for (http, code) in table {
            assert_eq!(Code::from_http_status(http), code, "{http}");
        }
    }

    #[test]
    fn h2_error_code_mapping() {
        let table = [
            (ErrorCode::NO_ERROR, Code::Internal),
            (ErrorCode::PROTOCOL_ERROR, Code::Internal),
            (ErrorCode::INTERNAL_ERROR, Code::Internal),
            (ErrorCode::FLOW_CONTROL_ERROR, Code::Internal),
            (ErrorCode::SETTINGS_TIMEOUT, Code::Internal),
            (ErrorCode::FRAME_SIZE_ERROR, Code::Internal),
            (ErrorCode::REFUSED_STREAM, Code::Unavailable),
            (ErrorCode::CANCEL, Code::Cancelled),
            (ErrorCode::COMPRESSION_ERROR, Code::Internal),
            (ErrorCode::CONNECT_ERROR, Code::Internal),
            (ErrorCode::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (ErrorCode::INADEQUATE_SECURITY, Code::PermissionDenied),
            (ErrorCode::from_u32(0xff), Code::Internal),
        ];
        for (h2, code) in table {
            assert_eq!(Code::from_h2_error_code(h2), code, "{h2}");
        }
    }

    #[test]
    fn message_percent_encoding() {
        // Vectors in the spirit of grpc-go's and grpc-java's tests.
        let table = [
            ("", ""),
            ("Hello", "Hello"),
            (
                "my favorite character is \u{0000}",
                "my favorite character is %00",
            ),
            ("my favorite character is %", "my favorite character is %25"),
            ("\u{1F600}", "%F0%9F%98%80"),
            ("déjà vu\n", "d%C3%A9j%C3%A0 vu%0A"),
            ("~ !$&", "~ !$&"),
            (" edges ", "%20edges%20"),
            (" ", "%20"),
            ("a  b", "a  b"),
            ("\u{7f}", "%7F"),
        ];
        for (plain, wire) in table {
            assert_eq!(encode_message(plain), wire);
            assert_eq!(decode_message(wire.as_bytes()), plain);
        }
        assert!(matches!(encode_message("plain text"), Cow::Borrowed(_)));
    }

    #[test]
    fn malformed_messages_are_kept() {
        assert_eq!(decode_message(b"100%"), "100%");
        assert_eq!(decode_message(b"%4"), "%4");
        assert_eq!(decode_message(b"%zz%41"), "%zzA");
        assert_eq!(decode_message(b"%e2%82%ac"), "\u{20ac}");
        // Decoded bytes that are not UTF-8 become U+FFFD, not an error.
        assert_eq!(decode_message(b"a%FFb"), "a\u{fffd}b");
        assert_eq!(decode_message(b"\xff"), "\u{fffd}");
    }

    #[test]
    fn status_fields_round_trip_with_details_untouched() {
        let details = Bytes::from_static(b"CAMSBGJhZCE=");
        let status = Status {
            code: Code::InvalidArgument,
            message: "bad ünïcödé 100%".into(),
            details: Some(details.clone()),
        };
        let mut fields = vec![Field::new(":status", "200")];
        status.write_fields(&mut fields);
        assert_eq!(fields[1], Field::new("grpc-status", "3"));
        assert_eq!(
            fields[2],
            Field::new("grpc-message", "bad %C3%BCn%C3%AFc%C3%B6d%C3%A9 100%25")
        );
        assert_eq!(fields[3].value, details);
        assert_eq!(Status::from_fields(&fields).unwrap(), status);

        let mut ok = Vec::new();
        Status::ok().write_fields(&mut ok);
        assert_eq!(ok, [Field::new("grpc-status", "0")]);
        assert_eq!(Status::from_fields(&ok).unwrap(), Status::ok());
        assert_eq!(
            Status::from_fields(&[Field::new("grpc-message", "x")]),
            None
        );
    }

    #[test]
    fn malformed_status_is_internal() {
        let s = Status::from_fields(&[Field::new("grpc-status", "oops")]).unwrap();
        assert_eq!(s.code, Code::Internal);
        assert!(s.message.contains("oops"), "{s}");
    }

    #[test]
    fn response_status_sources() {
        let ok_headers = [
            Field::new(":status", "200"),
            Field::new("content-type", "application/grpc"),
        ];
        let trailers = [
            Field::new("grpc-status", "5"),
            Field::new("grpc-message", "no such key"),
        ];
        let r = ResponseStatus::read(200, &ok_headers[..], Some(&trailers[..]));
        assert_eq!(r.source, StatusSource::Trailers);
        assert_eq!(r.status, Status::new(Code::NotFound, "no such key"));

        // Trailers-only: the status is in the one HEADERS frame.
        let only = [
            Field::new(":status", "200"),
            Field::new("content-type", "application/grpc"),
            Field::new("grpc-status", "14"),
        ];
        let r = ResponseStatus::read(200, &only[..], None);
        assert_eq!(
            (r.source, r.status.code),
            (StatusSource::Headers, Code::Unavailable)
        );
        // Trailers without a status fall back to the headers.
        let r = ResponseStatus::read(200, &only[..], Some(&[Field::new("x", "y")][..]));
        assert_eq!(r.source, StatusSource::Headers);
        // Trailers win over headers.
        let r = ResponseStatus::read(200, &only[..], Some(&trailers[..]));
        assert_eq!(r.status.code, Code::NotFound);

        // No grpc-status anywhere: the HTTP status decides.
        for (http, code) in [
            (503, Code::Unavailable),
            (404, Code::Unimplemented),
            (200, Code::Unknown),
        ] {
            let r = ResponseStatus::read(http, &HeaderMap::new(), None);
            assert_eq!((r.source, r.status.code), (StatusSource::HttpStatus, code));
        }
    }
}
