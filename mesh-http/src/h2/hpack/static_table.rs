//! The static table (RFC 7541 Appendix A).

use bytes::Bytes;

/// The 61 entries of the static table; index `i` (1-based) is
/// `STATIC[i - 1]`. `Bytes` that borrow constants: cloning one is free.
pub(super) static STATIC: [(Bytes, Bytes); 61] = [
    (Bytes::from_static(b":authority"), Bytes::from_static(b"")),
    (Bytes::from_static(b":method"), Bytes::from_static(b"GET")),
    (Bytes::from_static(b":method"), Bytes::from_static(b"POST")),
    (Bytes::from_static(b":path"), Bytes::from_static(b"/")),
    (
        Bytes::from_static(b":path"),
        Bytes::from_static(b"/index.html"),
    ),
    (Bytes::from_static(b":scheme"), Bytes::from_static(b"http")),
    (Bytes::from_static(b":scheme"), Bytes::from_static(b"https")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"200")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"204")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"206")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"304")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"400")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"404")),
    (Bytes::from_static(b":status"), Bytes::from_static(b"500")),
    (
        Bytes::from_static(b"accept-charset"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"accept-encoding"),
        Bytes::from_static(b"gzip, deflate"),
    ),
    (
        Bytes::from_static(b"accept-language"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"accept-ranges"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"accept"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"access-control-allow-origin"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"age"), Bytes::from_static(b"")),
    (Bytes::from_static(b"allow"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"authorization"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"cache-control"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-disposition"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-encoding"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-language"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-length"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-location"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"content-range"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"content-type"), Bytes::from_static(b"")),
    (Bytes::from_static(b"cookie"), Bytes::from_static(b"")),
    (Bytes::from_static(b"date"), Bytes::from_static(b"")),
    (Bytes::from_static(b"etag"), Bytes::from_static(b"")),
    (Bytes::from_static(b"expect"), Bytes::from_static(b"")),
    (Bytes::from_static(b"expires"), Bytes::from_static(b"")),
    (Bytes::from_static(b"from"), Bytes::from_static(b"")),
    (Bytes::from_static(b"host"), Bytes::from_static(b"")),
    (Bytes::from_static(b"if-match"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"if-modified-since"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"if-none-match"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"if-range"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"if-unmodified-since"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"last-modified"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"link"), Bytes::from_static(b"")),
    (Bytes::from_static(b"location"), Bytes::from_static(b"")),
    (Bytes::from_static(b"max-forwards"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"proxy-authenticate"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"proxy-authorization"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"range"), Bytes::from_static(b"")),
    (Bytes::from_static(b"referer"), Bytes::from_static(b"")),
    (Bytes::from_static(b"refresh"), Bytes::from_static(b"")),
    (Bytes::from_static(b"retry-after"), Bytes::from_static(b"")),
    (Bytes::from_static(b"server"), Bytes::from_static(b"")),
    (Bytes::from_static(b"set-cookie"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"strict-transport-security"),
        Bytes::from_static(b""),
    ),
    (
        Bytes::from_static(b"transfer-encoding"),
        Bytes::from_static(b""),
    ),
    (Bytes::from_static(b"user-agent"), Bytes::from_static(b"")),
    (Bytes::from_static(b"vary"), Bytes::from_static(b"")),
    (Bytes::from_static(b"via"), Bytes::from_static(b"")),
    (
        Bytes::from_static(b"www-authenticate"),
        Bytes::from_static(b""),
    ),
];

/// The number of static entries: dynamic indices start after it.
pub(super) const LEN: usize = STATIC.len();

/// The static entry at 1-based `index`.
#[inline]
pub(super) fn get(index: usize) -> Option<&'static (Bytes, Bytes)> {
    STATIC.get(index.wrapping_sub(1))
}

/// The first static index with this name.
#[inline]
fn name_index(name: &[u8]) -> Option<usize> {
    Some(match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        b"accept-charset" => 15,
        b"accept-encoding" => 16,
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    })
}

/// What the static table offers for a field: the index of an entry with
/// the same name and value, or else of one with the same name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Match {
    /// Name and value match: the field is just this index.
    Field(usize),
    /// Only the name matches.
    Name(usize),
    /// The name is not in the static table.
    None,
}

/// Looks `name: value` up (a `match` on the name, then a scan of the few
/// entries that share it).
#[inline]
pub(super) fn find(name: &[u8], value: &[u8]) -> Match {
    let Some(first) = name_index(name) else {
        return Match::None;
    };
    let mut i = first;
    while let Some((n, v)) = STATIC.get(i - 1) {
        if n != name {
            break;
        }
        if v == value {
            return Match::Field(i);
        }
        i += 1;
    }
    Match::Name(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(find(b":method", b"POST"), Match::Field(3));
        assert_eq!(find(b":method", b"PUT"), Match::Name(2));
        assert_eq!(find(b":status", b"500"), Match::Field(14));
        assert_eq!(find(b"accept-charset", b""), Match::Field(15));
        assert_eq!(find(b"www-authenticate", b"x"), Match::Name(61));
        assert_eq!(find(b"x-custom", b""), Match::None);
        for (i, (n, v)) in STATIC.iter().enumerate() {
            assert!(
                matches!(find(n, v), Match::Field(j) if STATIC[j - 1] == (n.clone(), v.clone()))
            );
            assert_eq!(get(i + 1).unwrap(), &STATIC[i]);
        }
        assert_eq!(get(0), None);
        assert_eq!(get(62), None);
    }
}
