//! The HTTP/1 head parser on arbitrary bytes: never panics, the borrowing
//! parser and the owned reader agree, and a head split in two reads parses
//! as it does in one.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mesh_http::h1::{EMPTY_HEADER, HeadReader, Limits, Status, parse_request, parse_response};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        allow_bare_lf: flags & 1 == 1,
        max_headers: 16,
        max_head_bytes: 4096,
        max_request_line: 1024,
        ..Limits::DEFAULT
    };
    let cut = usize::from(flags >> 1).min(data.len());

    let mut headers = [EMPTY_HEADER; 16];
    let whole = parse_request(data, &mut headers, &limits);
    let mut reader = HeadReader::new(limits);
    let mut buf = BytesMut::from(&data[..cut]);
    let mut split = reader.read_request(&mut buf);
    if let Ok(None) = split {
        buf.extend_from_slice(&data[cut..]);
        split = reader.read_request(&mut buf);
    }
    match (&whole, &split) {
        (Ok(Status::Complete((req, len))), Ok(Some(head))) => {
            assert!(*len <= data.len());
            assert_eq!(req.target, &head.target[..]);
            assert_eq!(req.headers.len(), head.headers.len());
            for (a, b) in req.headers.iter().zip(head.headers.iter()) {
                assert_eq!((a.name, a.value), (&b.name[..], &b.value[..]));
            }
        }
        (Ok(Status::Complete(_)), other) => panic!("one read parses, two reads give {other:?}"),
        (Err(e), Ok(Some(_))) => panic!("one read fails with {e}, two reads parse"),
        _ => {}
    }

    let mut headers = [EMPTY_HEADER; 16];
    if let Ok(Status::Complete((res, len))) = parse_response(data, &mut headers, &limits) {
        assert!(len <= data.len());
        assert!((100..600).contains(&res.status));
    }
});
