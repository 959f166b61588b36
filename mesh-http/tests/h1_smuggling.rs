//! Request smuggling (RFC 9112 §6.1–6.3, §11.2): each defence is its own
//! error, answered with its 4xx status, and a smuggled request never
//! reaches the service.
// Test helpers (not only #[test] functions) unwrap: a panic here is a
// failed assertion with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use mesh_core::{ErrorClass, Side};
use mesh_http::h1::{
    BodyDecoder, BodyError, ErrorKind, Framing, HeadReader, Limits, MessageKind, Request, Response,
    ServerConfig, ServerError, request_framing, serve_connection,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The verdict on a raw request: its head's framing, then its body.
fn verdict(raw: &[u8], limits: Limits) -> Result<Framing, ErrorKind> {
    let mut buf = BytesMut::from(raw);
    let head = HeadReader::new(limits)
        .read_request(&mut buf)
        .map_err(|e| e.kind)?
        .expect("a complete head");
    let framing = request_framing(head.version, head.headers.pairs())?;
    let mut body = BodyDecoder::new(framing, MessageKind::Request, limits);
    while body.decode(&mut buf).map_err(|e| e.kind)?.is_some() {}
    Ok(framing)
}

#[test]
fn each_smuggling_vector_has_its_own_error() {
    use ErrorKind::*;
    let table: &[(&str, &[u8], ErrorKind, u16)] = &[
        (
            "CL.TE: both framings",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
            TransferEncodingWithContentLength,
            400,
        ),
        (
            "TE.CL: both framings, other order",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
            TransferEncodingWithContentLength,
            400,
        ),
        (
            "differing Content-Length fields",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            ConflictingContentLength { first: 5, second: 6 },
            400,
        ),
        (
            "differing Content-Length list members",
            b"POST / HTTP/1.1\r\nContent-Length: 5, 50\r\n\r\nhello",
            ConflictingContentLength { first: 5, second: 50 },
            400,
        ),
        (
            "repeated Content-Length",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-length: 5\r\n\r\nhello",
            RepeatedContentLength { value: 5 },
            400,
        ),
        (
            "signed Content-Length",
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
            InvalidContentLength,
            400,
        ),
        (
            "request Transfer-Encoding not ending in chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            TransferEncodingNotChunked,
            400,
        ),
        (
            "a second Transfer-Encoding field hiding chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            TransferEncodingNotChunked,
            400,
        ),
        (
            "chunked twice",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            RepeatedChunked,
            400,
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            TransferEncodingInHttp10,
            400,
        ),
        (
            "an unknown coding (xchunked)",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
            UnknownTransferCoding,
            501,
        ),
        (
            "whitespace before the colon of Transfer-Encoding",
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
            WhitespaceBeforeColon { offset: 34 },
            400,
        ),
        (
            "Transfer-Encoding folded onto a second line",
            b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
            ObsFold { offset: 37 },
            400,
        ),
        (
            "bare LF ending a field",
            b"POST / HTTP/1.1\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
            BareLf { offset: 21 },
            400,
        ),
        (
            "bare CR inside a value",
            b"POST / HTTP/1.1\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
            BareCr { offset: 21 },
            400,
        ),
        (
            "NUL inside a value",
            b"POST / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            NulInValue { offset: 21 },
            400,
        ),
        (
            "negative chunk size",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n",
            InvalidChunkSize { offset: 0 },
            400,
        ),
        (
            "chunk size with a 0x prefix",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            InvalidChunkSize { offset: 1 },
            400,
        ),
        (
            "chunk size overflowing 64 bits",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            InvalidChunkSize { offset: 16 },
            400,
        ),
        (
            "bare LF ending a chunk-size line",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
            BareLf { offset: 1 },
            400,
        ),
        (
            "chunk data longer than its size",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
            InvalidChunkTerminator,
            400,
        ),
    ];
    for (name, raw, expected, status) in table {
        let got = verdict(raw, Limits::DEFAULT);
        assert_eq!(got, Err(*expected), "{name}");
        assert_eq!(expected.status(), *status, "{name}");
        assert!(
            expected.is_smuggling()
                || matches!(expected, UnknownTransferCoding | InvalidChunkTerminator),
            "{name} counts as a smuggling defence"
        );
    }
}

#[test]
fn the_bare_lf_switch_allows_what_it_says_and_nothing_else() {
    let lax = Limits {
        allow_bare_lf: true,
        ..Limits::DEFAULT
    };
    let raw = b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n";
    assert_eq!(
        verdict(raw, Limits::DEFAULT),
        Err(ErrorKind::BareLf { offset: 15 })
    );
    assert_eq!(verdict(raw, lax), Ok(Framing::Chunked));
    // Bare CR stays refused.
    let raw = b"POST / HTTP/1.1\nX: a\rb\n\n";
    assert_eq!(verdict(raw, lax), Err(ErrorKind::BareCr { offset: 20 }));
}

/// Sends `raw` to a server connection; returns what it wrote back, how
/// the connection ended and how many requests reached the service.
async fn serve_raw(raw: &'static [u8]) -> (String, Result<(), ServerError>, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let task = tokio::spawn(async move {
        let service = move |req: Request| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let body = req.body.collect(1 << 20).await;
                match body {
                    Ok(_) => Response::with_status(200, "ok"),
                    Err(e) => Response::with_status(400, e.to_string()),
                }
            }
        };
        serve_connection(server, &service, &ServerConfig::default()).await
    });
    client.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    let result = task.await.unwrap();
    (
        String::from_utf8_lossy(&out).into_owned(),
        result,
        calls.load(Ordering::SeqCst),
    )
}

#[tokio::test]
async fn the_server_answers_smuggling_with_400_and_never_calls_the_service() {
    let (out, result, calls) = serve_raw(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("connection: close"));
    assert_eq!(
        out.matches("HTTP/1.1").count(),
        1,
        "one answer, the smuggled GET never served"
    );
    assert_eq!(calls, 0);
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ServerError::BadRequest(e) if e.kind == ErrorKind::TransferEncodingWithContentLength)
    );
    assert_eq!(err.side(), Side::Downstream);

    let (out, result, calls) =
        serve_raw(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, identity\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 501 Not Implemented\r\n"), "{out}");
    assert_eq!(calls, 0);
    assert!(result.is_err());
}

#[tokio::test]
async fn an_invalid_chunk_reaches_the_service_as_a_body_error_and_closes() {
    let (out, result, calls) = serve_raw(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    )
    .await;
    assert_eq!(calls, 1, "the request after the bad body is never read");
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("invalid chunk size at offset 0"), "{out}");
    assert!(out.contains("connection: close"), "{out}");
    assert!(result.is_ok());
    let err = BodyError::Malformed(mesh_http::h1::Error::request(ErrorKind::InvalidChunkSize {
        offset: 0,
    }));
    assert_eq!(err.side(), Side::Downstream);
}
