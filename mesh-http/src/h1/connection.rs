//! What a message asks of its connection: keep-alive or close, upgrade,
//! `Expect: 100-continue` (RFC 9112 §9, RFC 9110 §7.6.1, §7.8, §10.1.1).

use super::grammar;
use super::message::{HeaderMap, RequestHead, ResponseHead};
use super::parse::Version;

/// The options of the Connection fields of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `close`: the connection ends after this message.
    pub close: bool,
    /// `keep-alive`: an HTTP/1.0 peer asks to keep the connection.
    pub keep_alive: bool,
    /// `upgrade`: the Upgrade field applies to this connection.
    pub upgrade: bool,
}

/// Reads every Connection field of `headers`. A malformed list is read
/// leniently (comma-separated, trimmed): it only ever adds options.
pub fn connection_options(headers: &HeaderMap) -> ConnectionOptions {
    let mut out = ConnectionOptions::default();
    for value in headers.get_all("connection") {
        for option in connection_tokens(value) {
            if option.eq_ignore_ascii_case(b"close") {
                out.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                out.keep_alive = true;
            } else if option.eq_ignore_ascii_case(b"upgrade") {
                out.upgrade = true;
            }
        }
    }
    out
}

/// The options named in one Connection value: the grammar's tokens when it
/// is a valid list, else every comma-separated trimmed part.
pub(crate) fn connection_tokens(value: &[u8]) -> Vec<&[u8]> {
    let mut tokens = Vec::new();
    if grammar::tokens(value, |t| {
        tokens.push(t);
        Ok(())
    })
    .is_ok()
    {
        return tokens;
    }
    value
        .split(|&b| b == b',')
        .map(|part| part.trim_ascii())
        .filter(|part| !part.is_empty())
        .collect()
}

/// Whether the connection stays open after a message of this version with
/// these options (RFC 9112 §9.3).
pub fn keeps_alive(version: Version, options: ConnectionOptions) -> bool {
    match version {
        Version::Http11 => !options.close,
        Version::Http10 => options.keep_alive && !options.close,
    }
}

/// Whether the request asks for `100 Continue` before it sends its body
/// (only HTTP/1.1 clients may, RFC 9110 §10.1.1).
pub fn expects_continue(head: &RequestHead) -> bool {
    head.version == Version::Http11
        && head
            .headers
            .get_all("expect")
            .any(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"))
}

/// Whether the request asks to take the connection over: CONNECT, or an
/// Upgrade field named by Connection.
pub fn wants_upgrade(head: &RequestHead) -> bool {
    head.method.is_connect()
        || (head.headers.contains("upgrade") && connection_options(&head.headers).upgrade)
}

/// Whether `response` to `request` hands the connection over (a 101 to an
/// upgrade request, or a 2xx to CONNECT).
pub fn is_upgrade_response(request: &RequestHead, response: &ResponseHead) -> bool {
    if request.method.is_connect() {
        (200..300).contains(&response.status)
    } else {
        response.status == 101 && wants_upgrade(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::Method;

    fn head(fields: &[(&'static str, &'static str)]) -> RequestHead {
        let mut h = RequestHead::new(Method::GET, "/").unwrap();
        for (n, v) in fields {
            h.headers.append(*n, *v).unwrap();
        }
        h
    }

    #[test]
    fn keep_alive_rules() {
        let none = ConnectionOptions::default();
        assert!(keeps_alive(Version::Http11, none));
        assert!(!keeps_alive(Version::Http10, none));
        let h = head(&[("Connection", "Keep-Alive")]);
        assert!(keeps_alive(Version::Http10, connection_options(&h.headers)));
        let h = head(&[("Connection", "keep-alive, close")]);
        assert!(!keeps_alive(
            Version::Http11,
            connection_options(&h.headers)
        ));
        let h = head(&[("Connection", "foo bar, close")]);
        assert!(
            connection_options(&h.headers).close,
            "lenient on a malformed list"
        );
    }

    #[test]
    fn expect_and_upgrade() {
        assert!(expects_continue(&head(&[("Expect", "100-Continue")])));
        let mut h10 = head(&[("Expect", "100-continue")]);
        h10.version = Version::Http10;
        assert!(!expects_continue(&h10));
        let ws = head(&[("Connection", "Upgrade"), ("Upgrade", "websocket")]);
        assert!(wants_upgrade(&ws));
        assert!(!wants_upgrade(&head(&[("Upgrade", "websocket")])));
        assert!(is_upgrade_response(&ws, &ResponseHead::new(101)));
        assert!(!is_upgrade_response(&ws, &ResponseHead::new(200)));
        let connect = RequestHead::new(Method::CONNECT, "a:443").unwrap();
        assert!(is_upgrade_response(&connect, &ResponseHead::new(200)));
        assert!(!is_upgrade_response(&connect, &ResponseHead::new(407)));
    }
}
