//! Hop-by-hop fields (RFC 9110 §7.6.1): what a proxy removes before it
//! forwards a message.

use super::connection::connection_tokens;
use super::message::HeaderMap;

/// Fields that always describe one connection, never the message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields a Connection option may not remove: a client naming `Host` in
/// Connection must not make the proxy route the request without one.
/// (Content-Length is rewritten by the encoder from the body anyway.)
const PROTECTED: &[&str] = &["host"];

/// Removes the hop-by-hop fields of `headers`: Connection and every field
/// it names, Keep-Alive, Proxy-Connection and every other `Proxy-*` field,
/// TE (except that `te: trailers` is kept, as gRPC needs it), Trailer,
/// Transfer-Encoding and Upgrade. Returns how many fields were removed.
///
/// ```
/// use mesh_http::h1::{remove_hop_by_hop, HeaderMap};
///
/// let mut h = HeaderMap::new();
/// h.append("Connection", "close, X-Secret")?;
/// h.append("X-Secret", "1")?;
/// h.append("TE", "trailers, deflate")?;
/// h.append("Host", "a")?;
/// remove_hop_by_hop(&mut h);
/// assert_eq!(h.iter().map(|f| &f.name[..]).collect::<Vec<_>>(), [&b"Host"[..], b"te"]);
/// assert_eq!(h.get("te").unwrap(), "trailers");
/// # Ok::<(), mesh_http::h1::InvalidField>(())
/// ```
pub fn remove_hop_by_hop(headers: &mut HeaderMap) -> usize {
    let mut named: Vec<Vec<u8>> = Vec::new();
    for value in headers.get_all("connection") {
        for t in connection_tokens(value) {
            if !PROTECTED
                .iter()
                .any(|p| t.eq_ignore_ascii_case(p.as_bytes()))
            {
                named.push(t.to_ascii_lowercase());
            }
        }
    }
    let te_trailers = headers.get_all("te").any(|v| {
        connection_tokens(v).iter().any(|t| {
            // `trailers` may carry no parameters; a `;q=` makes it a coding.
            t.eq_ignore_ascii_case(b"trailers")
        })
    });
    let before = headers.len();
    headers.retain(|f| {
        let name = &f.name[..];
        let hop = HOP_BY_HOP
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
            || (name.len() > 6 && name[..6].eq_ignore_ascii_case(b"proxy-"))
            || named.iter().any(|n| name.eq_ignore_ascii_case(n));
        !hop
    });
    let removed = before - headers.len();
    if te_trailers {
        // A fixed, valid field: appending cannot fail.
        let _ = headers.append("te", "trailers");
        return removed - 1;
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_what_the_rfc_lists_and_what_connection_names() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("Host", "example"),
            ("Connection", "keep-alive, Upgrade, x-hop"),
            ("Connection", "host"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic x"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "gzip"),
            ("Trailer", "Expires"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("X-Hop", "1"),
            ("X-End-To-End", "2"),
            ("Proxy", "not a proxy- field"),
        ] {
            h.append(n, v).unwrap();
        }
        remove_hop_by_hop(&mut h);
        let names: Vec<_> = h
            .iter()
            .map(|f| String::from_utf8_lossy(&f.name).into_owned())
            .collect();
        assert_eq!(names, ["Host", "X-End-To-End", "Proxy"]);
        assert!(!h.contains("te"), "TE without trailers is dropped");
    }
}
