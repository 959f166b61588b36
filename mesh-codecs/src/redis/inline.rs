//! Inline commands: `PING\r\n` typed into telnet, one line of
//! space-separated arguments with Redis's quoting rules.
//!
//! Redis treats every request that does not start with `*` as an inline
//! command, so they are decoded only where a decoder is configured for
//! requests ([`DecoderConfig::inline_commands`](super::DecoderConfig)),
//! never by sniffing: they look like an HTTP request line.
//!
//! The rules are Redis's (`sdssplitargs`): arguments are separated by
//! whitespace; `"..."` supports the escapes `\n \r \t \b \a \\ \" \xHH`,
//! `'...'` supports `\'`; a closing quote must be followed by whitespace or
//! the end of the line; a quote inside an unquoted argument starts a quoted
//! part of it; a NUL byte ends the line. An empty line is no command.

use bytes::Bytes;

use super::error::{Fault, Limit, Malformed};
use super::limits::Limits;

/// Finds the end of the inline line of `buf`, searching from `from`:
/// `Ok((line_end, next))`, where `line_end` excludes the `\r\n` (or lone
/// `\n`) and `next` is where the next frame starts, or `Err(resume)`, where
/// to resume the search once more bytes arrive.
pub(crate) fn line_from(
    buf: &[u8],
    from: usize,
    limits: &Limits,
) -> Result<Result<(usize, usize), usize>, Fault> {
    let max = limits.max_inline_len;
    match memchr::memchr(b'\n', buf.get(from..).unwrap_or(&[])) {
        Some(off) => {
            let nl = from + off;
            if nl + 1 > max {
                return Err(Fault::limit(Limit::InlineLen, (nl + 1) as u64, max as u64));
            }
            let end = if nl > 0 && buf[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            Ok(Ok((end, nl + 1)))
        }
        None if buf.len() > max => {
            Err(Fault::limit(Limit::InlineLen, buf.len() as u64, max as u64))
        }
        None => Ok(Err(buf.len())),
    }
}

/// Splits the inline line `src[..line_end]` into arguments, sliced from
/// `src` where an argument is unquoted. `None` for a line without
/// arguments.
pub(crate) fn command(src: &Bytes, line_end: usize) -> Result<Option<Vec<Bytes>>, Fault> {
    let s = &src[..line_end];
    // C string semantics: the end of the line reads as NUL.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
        if at(p) == 0 {
            break;
        }
        let start = p;
        // Some once the argument is not a plain slice of the line.
        let mut owned: Option<Vec<u8>> = None;
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = at(p);
            if in_double {
                let buf = owned.get_or_insert_with(Vec::new);
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) {
                    buf.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    buf.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(Fault::malformed(Malformed::UnbalancedQuotes, p));
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(Fault::malformed(Malformed::UnbalancedQuotes, p));
                } else {
                    buf.push(c);
                }
            } else if in_single {
                let buf = owned.get_or_insert_with(Vec::new);
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    buf.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(Fault::malformed(Malformed::UnbalancedQuotes, p));
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(Fault::malformed(Malformed::UnbalancedQuotes, p));
                } else {
                    buf.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' | b'\'' => {
                        // Whatever came before the quote joins the argument.
                        owned.get_or_insert_with(|| s[start..p].to_vec());
                        if c == b'"' {
                            in_double = true;
                        } else {
                            in_single = true;
                        }
                    }
                    _ => {
                        if let Some(buf) = owned.as_mut() {
                            buf.push(c);
                        }
                    }
                }
            }
            p += 1;
        }
        args.push(match owned {
            Some(buf) => Bytes::from(buf),
            None => src.slice(start..p),
        });
        if at(p) == 0 && p < s.len() {
            // A NUL ends the line.
            break;
        }
    }
    Ok((!args.is_empty()).then_some(args))
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, Fault> {
        let src = Bytes::copy_from_slice(line.as_bytes());
        Ok(match command(&src, src.len())? {
            None => vec![],
            Some(args) => args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        })
    }

    #[test]
    fn splits_like_redis() {
        assert_eq!(split("PING").unwrap(), ["PING"]);
        assert_eq!(split("  set  a   b ").unwrap(), ["set", "a", "b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split(r#"set "a b" 'c d'"#).unwrap(), ["set", "a b", "c d"]);
        assert_eq!(
            split(r#"set "\x41\n\"" 'it\'s'"#).unwrap(),
            ["set", "A\n\"", "it's"]
        );
        assert_eq!(
            split(r#"set k"v w"x"#).err(),
            Some(Fault::malformed(Malformed::UnbalancedQuotes, 9))
        );
        assert_eq!(split(r#"set k"v w""#).unwrap(), ["set", "kv w"]);
        assert_eq!(
            split(r#"get "unterminated"#).err(),
            Some(Fault::malformed(Malformed::UnbalancedQuotes, 17))
        );
        assert_eq!(split("get a\0b c").unwrap(), ["get", "a"]);
        assert_eq!(split("a\tb\x0bc").unwrap(), ["a", "b\x0bc"]);
    }

    #[test]
    fn lines() {
        let limits = Limits::default();
        assert_eq!(line_from(b"PING\r\n", 0, &limits), Ok(Ok((4, 6))));
        assert_eq!(line_from(b"PING\n", 2, &limits), Ok(Ok((4, 5))));
        assert_eq!(line_from(b"\n", 0, &limits), Ok(Ok((0, 1))));
        assert_eq!(line_from(b"PING\r", 0, &limits), Ok(Err(5)));
        let small = Limits {
            max_inline_len: 4,
            ..limits
        };
        assert!(line_from(b"PINGPONG", 0, &small).is_err());
        assert!(line_from(b"PING\r\n", 0, &small).is_err());
    }
}
