//! RFC 9112 / RFC 9110 examples as tables, and every byte split of a head
//! and of a chunked body.
// Test helpers (not only #[test] functions) unwrap: a panic here is a
// failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use mesh_http::h1::{
    BodyDecoder, EMPTY_HEADER, ErrorKind, Frame, Framing, HeadReader, Limits, MessageKind,
    ParsedRequest, Status, TargetForm, Version, parse_request, parse_response,
};

const L: Limits = Limits::DEFAULT;

/// A parsed request as text: method, target, version, fields, head length.
type Parsed = (String, String, Version, Vec<(String, String)>, usize);

/// An expected status line: version, status, reason.
type StatusLine<'a> = Result<(Version, u16, &'a str), ErrorKind>;

fn request(buf: &[u8]) -> Result<Parsed, ErrorKind> {
    let mut headers = [EMPTY_HEADER; 32];
    match parse_request(buf, &mut headers, &L) {
        Ok(Status::Complete((req, len))) => Ok((
            String::from_utf8_lossy(req.method).into_owned(),
            String::from_utf8_lossy(req.target).into_owned(),
            req.version,
            req.headers
                .iter()
                .map(|h| {
                    (
                        String::from_utf8_lossy(h.name).into_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            len,
        )),
        Ok(Status::Partial) => panic!("partial: {:?}", String::from_utf8_lossy(buf)),
        Err(e) => Err(e.kind),
    }
}

#[test]
fn request_lines_of_rfc_9112_section_3() {
    // (input, method, target, form)
    let table: &[(&[u8], &str, &str, TargetForm)] = &[
        // §3.2.1 origin-form
        (
            b"GET /where?q=now HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
            "GET",
            "/where?q=now",
            TargetForm::Origin,
        ),
        // §3.2.2 absolute-form
        (
            b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\n\r\n",
            "GET",
            "http://www.example.org/pub/WWW/TheProject.html",
            TargetForm::Absolute,
        ),
        // §3.2.3 authority-form
        (
            b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
            "CONNECT",
            "www.example.com:80",
            TargetForm::Authority,
        ),
        (
            b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n",
            "CONNECT",
            "[2001:db8::1]:443",
            TargetForm::Authority,
        ),
        // §3.2.4 asterisk-form
        (
            b"OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n",
            "OPTIONS",
            "*",
            TargetForm::Asterisk,
        ),
        // An extension method (a token).
        (
            b"M-SEARCH * HTTP/1.1\r\n\r\n",
            "M-SEARCH",
            "*",
            TargetForm::Origin,
        ),
    ];
    for (input, method, target, form) in table {
        if *method == "M-SEARCH" {
            // `*` goes only with OPTIONS.
            assert_eq!(request(input).unwrap_err(), ErrorKind::TargetForm);
            continue;
        }
        let (m, t, v, _, len) = request(input).unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), v, len),
            (*method, *target, Version::Http11, input.len())
        );
        let mut headers = [EMPTY_HEADER; 4];
        let Status::Complete((req, _)) = parse_request(input, &mut headers, &L).unwrap() else {
            panic!()
        };
        let req: ParsedRequest<'_, '_> = req;
        assert_eq!(req.target_form(), *form);
    }
}

#[test]
fn request_line_errors() {
    use ErrorKind::*;
    let table: &[(&[u8], ErrorKind)] = &[
        (b"GET  / HTTP/1.1\r\n\r\n", InvalidTarget { offset: 4 }),
        (b"GET / HTTP/1.1 \r\n\r\n", BareCr { offset: 14 }),
        (b"G(T / HTTP/1.1\r\n\r\n", InvalidMethod { offset: 1 }),
        (b" GET / HTTP/1.1\r\n\r\n", InvalidMethod { offset: 0 }),
        (b"GET /a\x7f HTTP/1.1\r\n\r\n", InvalidTarget { offset: 6 }),
        (
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
            InvalidTarget { offset: 8 },
        ),
        (
            b"GET / HTTP/2.0\r\n\r\n",
            UnsupportedVersion { major: 2, minor: 0 },
        ),
        (
            b"GET / HTTP/1.2\r\n\r\n",
            UnsupportedVersion { major: 1, minor: 2 },
        ),
        (b"GET / HTTPS/1.1\r\n\r\n", InvalidVersion { offset: 10 }),
        (b"GET / http/1.1\r\n\r\n", InvalidVersion { offset: 6 }),
        (b"GET / HTTP/1.1\n\r\n", BareLf { offset: 14 }),
        (b"GET a/b HTTP/1.1\r\n\r\n", TargetForm),
        (b"CONNECT /x HTTP/1.1\r\n\r\n", TargetForm),
        (b"CONNECT host HTTP/1.1\r\n\r\n", TargetForm),
        (b"GET * HTTP/1.1\r\n\r\n", TargetForm),
    ];
    for (input, expected) in table {
        assert_eq!(
            request(input).unwrap_err(),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn fields_of_rfc_9112_section_5() {
    let input = b"GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Empty:\r\nX-Spaces: \t a  b \t\r\nX-Obs: caf\xe9\r\n\r\n";
    let (_, _, _, fields, _) = request(input).unwrap();
    assert_eq!(
        fields,
        [
            ("Host".into(), "www.example.com".into()),
            ("X-Empty".into(), "".into()),
            ("X-Spaces".into(), "a  b".into()),
            ("X-Obs".into(), "caf\u{fffd}".into()),
        ]
    );
    use ErrorKind::*;
    let table: &[(&[u8], ErrorKind)] = &[
        // §5.1: no whitespace between name and colon.
        (
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            WhitespaceBeforeColon { offset: 20 },
        ),
        // §5.2: obs-fold refused.
        (
            b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
            ObsFold { offset: 22 },
        ),
        // §2.2: whitespace before the first field.
        (b"GET / HTTP/1.1\r\n A: b\r\n\r\n", ObsFold { offset: 16 }),
        (
            b"GET / HTTP/1.1\r\n: b\r\n\r\n",
            InvalidHeaderName { offset: 16 },
        ),
        (
            b"GET / HTTP/1.1\r\nA\"B: b\r\n\r\n",
            InvalidHeaderName { offset: 17 },
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            NulInValue { offset: 20 },
        ),
        (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", BareCr { offset: 20 }),
        (
            b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n",
            BareLf { offset: 20 },
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
            InvalidHeaderValue {
                offset: 20,
                byte: 1,
            },
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
            InvalidHeaderValue {
                offset: 20,
                byte: 0x7f,
            },
        ),
        (b"GET / HTTP/1.1\r\nA: b\r\n\n", BareLf { offset: 22 }),
        (b"GET / HTTP/1.1\r\nA: b\r\n\rX", BareCr { offset: 22 }),
    ];
    for (input, expected) in table {
        assert_eq!(
            request(input).unwrap_err(),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn bare_lf_switch() {
    let input = b"\nGET / HTTP/1.1\nHost: a\nX: b\n\n";
    assert_eq!(request(input).unwrap_err(), ErrorKind::BareLf { offset: 0 });
    let lax = Limits {
        allow_bare_lf: true,
        ..L
    };
    let mut headers = [EMPTY_HEADER; 4];
    let Status::Complete((req, len)) = parse_request(input, &mut headers, &lax).unwrap() else {
        panic!()
    };
    assert_eq!(len, input.len());
    assert_eq!(req.headers.len(), 2);
    assert_eq!(req.header("x"), Some(&b"b"[..]));
}

#[test]
fn status_lines() {
    let table: &[(&[u8], StatusLine<'_>)] = &[
        (b"HTTP/1.1 200 OK\r\n\r\n", Ok((Version::Http11, 200, "OK"))),
        (
            b"HTTP/1.0 404 Not Found\r\n\r\n",
            Ok((Version::Http10, 404, "Not Found")),
        ),
        (b"HTTP/1.1 204 \r\n\r\n", Ok((Version::Http11, 204, ""))),
        (b"HTTP/1.1 304\r\n\r\n", Ok((Version::Http11, 304, ""))),
        (
            b"HTTP/1.1 599 Whatever \xe9\t!\r\n\r\n",
            Ok((Version::Http11, 599, "Whatever \u{fffd}\t!")),
        ),
        (
            b"HTTP/1.1 099 X\r\n\r\n",
            Err(ErrorKind::InvalidStatus { offset: 9 }),
        ),
        (
            b"HTTP/1.1 600 X\r\n\r\n",
            Err(ErrorKind::InvalidStatus { offset: 9 }),
        ),
        (
            b"HTTP/1.1 20 OK\r\n\r\n",
            Err(ErrorKind::InvalidStatus { offset: 11 }),
        ),
        (
            b"HTTP/1.1 2000 OK\r\n\r\n",
            Err(ErrorKind::InvalidReason { offset: 12 }),
        ),
        (
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            Err(ErrorKind::InvalidReason { offset: 14 }),
        ),
        (
            b"HTTP/1.1  200 OK\r\n\r\n",
            Err(ErrorKind::InvalidStatus { offset: 9 }),
        ),
        (
            b"ICY 200 OK\r\n\r\n",
            Err(ErrorKind::InvalidVersion { offset: 0 }),
        ),
    ];
    for (input, expected) in table {
        let mut headers = [EMPTY_HEADER; 4];
        let got = match parse_response(input, &mut headers, &L) {
            Ok(Status::Complete((res, _))) => Ok((
                res.version,
                res.status,
                String::from_utf8_lossy(res.reason).into_owned(),
            )),
            Ok(Status::Partial) => panic!("partial"),
            Err(e) => Err(e.kind),
        };
        let expected = expected.map(|(v, s, r)| (v, s, r.to_owned()));
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn limits_give_414_and_431() {
    let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    let err = request(long_target.as_bytes()).unwrap_err();
    assert_eq!(err, ErrorKind::RequestLineTooLong { limit: 8192 });
    assert_eq!(err.status(), 414);

    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let mut headers = [EMPTY_HEADER; 200];
    let err = parse_request(many.as_bytes(), &mut headers, &L).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyHeaders { limit: 100 });
    assert_eq!(err.status(), 431);

    let mut big = String::from("GET / HTTP/1.1\r\n");
    for i in 0..20 {
        big.push_str(&format!("X-{i}: {}\r\n", "v".repeat(4000)));
    }
    let err = parse_request(big.as_bytes(), &mut headers, &L).unwrap_err();
    assert_eq!(err.kind, ErrorKind::HeadTooLarge { limit: 65536 });
    assert_eq!(err.status(), 431);
    // Without its end, too: refused once 64 KiB arrived, not later.
    let err = parse_request(&big.as_bytes()[..65536], &mut headers, &L).unwrap_err();
    assert_eq!(err.kind, ErrorKind::HeadTooLarge { limit: 65536 });
}

/// A head with every feature the parser has: leading empty line, long
/// target, empty value, whitespace, obs-text, many fields.
const HEAD: &[u8] = b"\r\nPOST /upload/file?name=a%20b&x=1 HTTP/1.1\r\n\
Host: example.com:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0\r\n\
X-Empty:\r\n\
X-Tabs:\t\tvalue with\ttabs\t \r\n\
X-Obs: caf\xe9\r\n\
Content-Length: 5\r\n\r\nhello";

#[test]
fn every_split_of_a_head_is_partial_then_the_same_head() {
    let head_len = HEAD.len() - 5;
    let mut headers = [EMPTY_HEADER; 16];
    let Status::Complete((whole, len)) = parse_request(HEAD, &mut headers, &L).unwrap() else {
        panic!()
    };
    assert_eq!(len, head_len);
    assert_eq!(whole.headers.len(), 6);
    for cut in 0..head_len {
        let mut h = [EMPTY_HEADER; 16];
        assert_eq!(
            parse_request(&HEAD[..cut], &mut h, &L).unwrap(),
            Status::Partial,
            "cut at {cut}"
        );
    }
    // Through the owned reader: the head in two reads, cut anywhere.
    for cut in 0..=HEAD.len() {
        let mut reader = HeadReader::new(L);
        let mut buf = BytesMut::from(&HEAD[..cut]);
        let first = reader.read_request(&mut buf).unwrap();
        let head = match first {
            Some(h) => {
                assert!(cut >= head_len);
                buf.extend_from_slice(&HEAD[cut..]);
                h
            }
            None => {
                assert!(cut < head_len, "cut at {cut}");
                buf.extend_from_slice(&HEAD[cut..]);
                reader.read_request(&mut buf).unwrap().unwrap()
            }
        };
        assert_eq!(&head.target[..], b"/upload/file?name=a%20b&x=1");
        assert_eq!(head.headers.len(), 6);
        assert_eq!(head.headers.get("x-tabs").unwrap(), "value with\ttabs");
        assert_eq!(&buf[..], b"hello");
    }
}

#[test]
fn every_split_of_a_response_head() {
    let resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    for cut in 0..resp.len() {
        let mut h = [EMPTY_HEADER; 8];
        assert_eq!(
            parse_response(&resp[..cut], &mut h, &L).unwrap(),
            Status::Partial,
            "cut {cut}"
        );
    }
    let mut h = [EMPTY_HEADER; 8];
    assert!(parse_response(resp, &mut h, &L).unwrap().is_complete());
}

/// RFC 9112 §7.1's shape with extensions and trailers (the classic
/// "Wikipedia in chunks" example).
const CHUNKED: &[u8] = b"4\r\nWiki\r\n6;note=\"x y\"\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n";

fn decode_all(pieces: &[&[u8]]) -> (Vec<u8>, Vec<(String, String)>, usize) {
    let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, L);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut trailers = Vec::new();
    let mut frames = 0;
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(frame) = dec.decode(&mut buf).unwrap() {
            frames += 1;
            match frame {
                Frame::Data(d) => {
                    assert!(!d.is_empty());
                    data.extend_from_slice(&d)
                }
                Frame::Trailers(t) => {
                    for f in &t {
                        trailers.push((
                            String::from_utf8_lossy(&f.name).into_owned(),
                            String::from_utf8_lossy(&f.value).into_owned(),
                        ));
                    }
                }
            }
        }
    }
    assert!(dec.is_done());
    assert!(buf.is_empty());
    (data, trailers, frames)
}

#[test]
fn every_split_of_a_chunked_body() {
    let expected = b"Wikipedia in \r\n\r\nchunks.".to_vec();
    let (data, trailers, _) = decode_all(&[CHUNKED]);
    assert_eq!(data, expected);
    assert_eq!(
        trailers,
        [("Expires".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into())]
    );
    for cut in 0..=CHUNKED.len() {
        let (data, t, _) = decode_all(&[&CHUNKED[..cut], &CHUNKED[cut..]]);
        assert_eq!(data, expected, "cut at {cut}");
        assert_eq!(t.len(), 1);
    }
    for a in (0..CHUNKED.len()).step_by(3) {
        for b in a..CHUNKED.len() {
            let (data, _, _) = decode_all(&[&CHUNKED[..a], &CHUNKED[a..b], &CHUNKED[b..]]);
            assert_eq!(data, expected, "cuts at {a} and {b}");
        }
    }
    // One byte at a time.
    let bytes: Vec<&[u8]> = CHUNKED.chunks(1).collect();
    let (data, _, _) = decode_all(&bytes);
    assert_eq!(data, expected);
}

#[test]
fn chunked_decoding_is_linear_byte_by_byte() {
    // Long extensions and a big trailer, fed one byte at a time.
    let mut body = Vec::new();
    for _ in 0..50 {
        body.extend_from_slice(
            format!("10;{}\r\n", "e=v;".repeat(200).trim_end_matches(';')).as_bytes(),
        );
        body.extend_from_slice(&[b'x'; 16]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    for i in 0..100 {
        body.extend_from_slice(format!("X-T-{i}: {}\r\n", "t".repeat(100)).as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    let mut dec = BodyDecoder::new(Framing::Chunked, MessageKind::Request, L);
    let mut buf = BytesMut::new();
    let mut total = 0;
    for &b in &body {
        buf.extend_from_slice(&[b]);
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            total += f.data().map_or(0, |d| d.len());
        }
    }
    assert!(dec.is_done());
    assert_eq!(total, 50 * 16);
    let n = body.len() as u64;
    assert!(dec.steps() <= 25 * n, "{} steps for {n} bytes", dec.steps());
}
