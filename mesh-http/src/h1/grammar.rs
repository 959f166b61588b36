//! RFC 9110/9112 grammar rules as nom combinators, for the parts of a
//! message that are parsed off the hot path: list-valued fields
//! (`Connection`, `Transfer-Encoding`, `Content-Length`) and chunk
//! extensions.
//!
//! These run on one field value or one chunk line at a time, which the head
//! parser or the chunked decoder has already delimited, so they are
//! `complete` parsers: the input is the whole value.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{opt, recognize};
use nom::multi::many0_count;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::chars::{is_ows, is_tchar};

type Res<'a, T> = IResult<&'a [u8], T>;

/// `OWS = *( SP / HTAB )` (also `BWS`).
pub(crate) fn ows(i: &[u8]) -> Res<'_, &[u8]> {
    take_while(is_ows)(i)
}

/// `token = 1*tchar`.
pub(crate) fn token(i: &[u8]) -> Res<'_, &[u8]> {
    take_while1(is_tchar)(i)
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`.
fn is_qdtext(b: u8) -> bool {
    b == b'\t'
        || b == b' '
        || b == 0x21
        || (0x23..=0x5b).contains(&b)
        || (0x5d..=0x7e).contains(&b)
        || b >= 0x80
}

/// The byte after a backslash: `HTAB / SP / VCHAR / obs-text`.
fn is_quoted_pair_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// `quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )`.
fn quoted_pair(i: &[u8]) -> Res<'_, &[u8]> {
    match i {
        [b'\\', b, ..] if is_quoted_pair_byte(*b) => Ok((&i[2..], &i[..2])),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Escaped,
        ))),
    }
}

/// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`, returned
/// with its quotes.
pub(crate) fn quoted_string(i: &[u8]) -> Res<'_, &[u8]> {
    recognize((
        tag(&b"\""[..]),
        many0_count(alt((take_while1(is_qdtext), quoted_pair))),
        tag(&b"\""[..]),
    ))
    .parse(i)
}

/// `token / quoted-string`.
fn word(i: &[u8]) -> Res<'_, &[u8]> {
    alt((token, quoted_string)).parse(i)
}

/// One `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`
/// step: the shape shared by chunk extensions and transfer parameters
/// (where the value is required, checked by the caller's grammar choice).
fn parameter(value_required: bool) -> impl Fn(&[u8]) -> Res<'_, &[u8]> {
    move |i| {
        let (i, _) = (ows, tag(&b";"[..]), ows).parse(i)?;
        let (i, name) = token(i)?;
        let mut value = preceded((ows, tag(&b"="[..]), ows), word);
        if value_required {
            let (i, _) = value.parse(i)?;
            Ok((i, name))
        } else {
            let (i, _) = opt(value).parse(i)?;
            Ok((i, name))
        }
    }
}

/// The reference for the hand-written scanner in `chunked`: validates
/// `chunk-ext` (RFC 9112 §7.1.1): the whole of `ext` must be
/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
/// Returns the offset of the first byte that breaks the grammar.
#[cfg(test)]
pub(crate) fn chunk_ext(ext: &[u8]) -> Result<(), usize> {
    let step = parameter(false);
    let mut rest = ext;
    while !rest.is_empty() {
        match step(rest) {
            Ok((tail, _)) => rest = tail,
            Err(_) => return Err(ext.len() - rest.len()),
        }
    }
    Ok(())
}

/// `transfer-coding = token *( OWS ";" OWS transfer-parameter )`: the
/// coding's name.
fn transfer_coding(i: &[u8]) -> Res<'_, &[u8]> {
    let (i, name) = token(i)?;
    let (i, _) = many0_count(parameter(true)).parse(i)?;
    Ok((i, name))
}

/// Walks a list-valued field (`#element`, RFC 9110 §5.6.1): empty elements
/// and surrounding whitespace are allowed; each non-empty element must
/// match `element`, and is given to `each`. `Err(())` on a malformed list.
pub(crate) fn list<'a, T>(
    value: &'a [u8],
    element: impl Fn(&'a [u8]) -> Res<'a, T>,
    mut each: impl FnMut(T) -> Result<(), ()>,
) -> Result<(), ()> {
    let mut rest = value;
    loop {
        let (i, _) = ows(rest).map_err(|_| ())?;
        rest = i;
        match rest.first() {
            None => return Ok(()),
            Some(b',') => {
                rest = &rest[1..];
                continue;
            }
            Some(_) => {}
        }
        let (i, item) = element(rest).map_err(|_| ())?;
        each(item)?;
        let (i, _) = ows(i).map_err(|_| ())?;
        match i.first() {
            None => return Ok(()),
            Some(b',') => rest = &i[1..],
            Some(_) => return Err(()),
        }
    }
}

/// The names of the codings of a `Transfer-Encoding` value, in order.
pub(crate) fn transfer_codings<'a>(
    value: &'a [u8],
    each: impl FnMut(&'a [u8]) -> Result<(), ()>,
) -> Result<(), ()> {
    list(value, transfer_coding, each)
}

/// The options (tokens) of a `Connection` value, in order.
pub(crate) fn tokens<'a>(
    value: &'a [u8],
    each: impl FnMut(&'a [u8]) -> Result<(), ()>,
) -> Result<(), ()> {
    list(value, token, each)
}

/// `1*DIGIT`: one member of a `Content-Length` list.
pub(crate) fn digits(i: &[u8]) -> Res<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_digit())(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Each<'a> = &'a mut dyn FnMut(&[u8]) -> Result<(), ()>;
    type Walker = fn(&[u8], Each<'_>) -> Result<(), ()>;

    fn collect(value: &[u8], f: Walker) -> Option<Vec<String>> {
        let mut out = Vec::new();
        f(value, &mut |t| {
            out.push(String::from_utf8_lossy(t).into_owned());
            Ok(())
        })
        .ok()
        .map(|_| out)
    }

    fn te(value: &[u8], each: Each<'_>) -> Result<(), ()> {
        transfer_codings(value, each)
    }

    fn conn(value: &[u8], each: Each<'_>) -> Result<(), ()> {
        tokens(value, each)
    }

    #[test]
    fn lists() {
        assert_eq!(collect(b"gzip, chunked", te).unwrap(), ["gzip", "chunked"]);
        assert_eq!(collect(b" ,, chunked ,", te).unwrap(), ["chunked"]);
        assert_eq!(
            collect(b"gzip;q=1 ; level=\"9\", chunked", te).unwrap(),
            ["gzip", "chunked"]
        );
        assert_eq!(collect(b"", te).unwrap(), Vec::<String>::new());
        assert!(collect(b"chunked chunked", te).is_none());
        assert!(collect(b"gzip;", te).is_none());
        assert!(
            collect(b"gzip;q", te).is_none(),
            "transfer parameters need a value"
        );
        assert!(collect(b"\"chunked\"", te).is_none());
        assert_eq!(
            collect(b"keep-alive, Upgrade", conn).unwrap(),
            ["keep-alive", "Upgrade"]
        );
        assert!(collect(b"close; x", conn).is_none());
    }

    #[test]
    fn chunk_extensions() {
        for ok in [
            &b""[..],
            b";a",
            b";a=b",
            b" ; a = b",
            b";a=\"quoted \\\" string\";b;c=d",
            b"\t;name=\"\"",
        ] {
            assert_eq!(chunk_ext(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
        for (bad, at) in [
            (&b"a"[..], 0),
            (b";", 0),
            (b";a=", 2),
            (b";a=\"open", 2),
            (b";a;", 2),
            (b";a b", 2),
            (b";a=b c", 4),
            (b"; =b", 0),
        ] {
            assert_eq!(
                chunk_ext(bad),
                Err(at),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted_string(b"\"a\\\"b\" rest").unwrap(),
            (&b" rest"[..], &b"\"a\\\"b\""[..])
        );
        assert!(quoted_string(b"\"a\rb\"").is_err());
        assert!(quoted_string(b"\"a\\\x7f\"").is_err());
    }
}
