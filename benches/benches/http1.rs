//! HTTP/1 head parsing against httparse, the fastest Rust HTTP/1 parser.
//!
//! Groups (one per job):
//!
//! - `http1_request_head`: a request head, parsed into borrowed field
//!   slices. Inputs are httparse's own benchmark requests (`browser`, the
//!   ~720-byte Firefox request, and `small`), and a sweep of `headers_N`
//!   requests with N = 1, 8, 32, 64 typical fields.
//! - `http1_response_head`: a response head: `typical` (what nginx sends
//!   for a static file), httparse's `small` response, and the same sweep.
//! - `http1_chunk_size`: one chunk-size line of a chunked body (`small`,
//!   `large`, `max`, and one with extensions), parsed to its length and
//!   the chunk's size; ours also checks the extensions' grammar.
//!
//! Timed, for both `ours` and `httparse`: one parse of the whole input into
//! field storage created outside the timed code (100 slots, as our default
//! field limit; httparse's bench does the same with `iter_batched_ref`),
//! and a check that the whole input was consumed. That is head syntax and
//! the field slices: neither parser looks at Content-Length or
//! Transfer-Encoding here (framing analysis is separate work, not timed).
//! Ours additionally enforces its limits, refuses bare LF and checks the
//! request-target's form, so it never does less than httparse.
//! `memchr` is the floor: one scan of the input for an absent byte.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_benches::memchr_floor;
use mesh_http::h1;

/// httparse's `REQ_SHORT`.
const REQ_SMALL: &[u8] = b"\
GET / HTTP/1.0\r\n\
Host: example.com\r\n\
Cookie: session=60; user_id=1\r\n\r\n";

/// httparse's `REQ`: a Firefox request of about 720 bytes.
const REQ_BROWSER: &[u8] = b"\
GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n\
Host: www.kittyhell.com\r\n\
User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n\
Accept-Encoding: gzip,deflate\r\n\
Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n\
Keep-Alive: 115\r\n\
Connection: keep-alive\r\n\
Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral|padding=under256\r\n\r\n";

/// httparse's `RESP_SHORT`.
const RESP_SMALL: &[u8] = b"\
HTTP/1.0 200 OK\r\n\
Date: Wed, 21 Oct 2015 07:28:00 GMT\r\n\
Set-Cookie: session=60; user_id=1\r\n\r\n";

/// What nginx sends for a static file.
const RESP_TYPICAL: &[u8] = b"\
HTTP/1.1 200 OK\r\n\
Server: nginx/1.22.1\r\n\
Date: Wed, 21 Oct 2015 07:28:00 GMT\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 6543\r\n\
Last-Modified: Tue, 20 Oct 2015 11:02:13 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"5626201d-198f\"\r\n\
Cache-Control: max-age=3600\r\n\
Accept-Ranges: bytes\r\n\r\n";

/// Typical fields for the sweep, cycled: real names, values of the usual
/// lengths.
const FIELDS: &[(&str, &str)] = &[
    ("Host", "api.example.com"),
    ("User-Agent", "curl/7.88.1"),
    ("Accept", "application/json"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("X-Request-Id", "9f1c2e4a-7b3d-4c5e-8f60-1a2b3c4d5e6f"),
    (
        "Authorization",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    ),
    ("Content-Type", "application/json; charset=utf-8"),
    ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
];

fn sweep(start_line: &str, n: usize) -> Vec<u8> {
    let mut s = String::from(start_line);
    for i in 0..n {
        let (name, value) = FIELDS[i % FIELDS.len()];
        if i < FIELDS.len() {
            s.push_str(&format!("{name}: {value}\r\n"));
        } else {
            s.push_str(&format!("{name}-{i}: {value}\r\n"));
        }
    }
    s.push_str("\r\n");
    s.into_bytes()
}

const SWEEP: [usize; 4] = [1, 8, 32, 64];
const SLOTS: usize = 100;

fn request_inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("browser".to_owned(), REQ_BROWSER.to_vec()),
        ("small".to_owned(), REQ_SMALL.to_vec()),
    ];
    for n in SWEEP {
        v.push((
            format!("headers_{n}"),
            sweep("GET /api/v1/items?id=42 HTTP/1.1\r\n", n),
        ));
    }
    v
}

fn response_inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![
        ("typical".to_owned(), RESP_TYPICAL.to_vec()),
        ("small".to_owned(), RESP_SMALL.to_vec()),
    ];
    for n in SWEEP {
        v.push((format!("headers_{n}"), sweep("HTTP/1.1 200 OK\r\n", n)));
    }
    v
}

fn request_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("http1_request_head");
    let limits = h1::Limits::DEFAULT;
    for (name, input) in request_inputs() {
        let data = input.as_slice();
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", &name), data, |b, data| {
            b.iter_batched_ref(
                || [h1::EMPTY_HEADER; SLOTS],
                |headers| {
                    let status = h1::parse_request(black_box(data), headers, &limits);
                    match status {
                        Ok(h1::Status::Complete((req, len))) => {
                            assert_eq!(len, data.len());
                            black_box(req);
                        }
                        other => panic!("{other:?}"),
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("httparse", &name), data, |b, data| {
            b.iter_batched_ref(
                || [httparse::EMPTY_HEADER; SLOTS],
                |headers| {
                    let mut req = httparse::Request::new(headers);
                    let status = req.parse(black_box(data));
                    assert_eq!(status, Ok(httparse::Status::Complete(data.len())));
                    black_box(req);
                },
                BatchSize::SmallInput,
            )
        });
        memchr_floor(&mut group, &name, data);
    }
    group.finish();
}

fn response_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("http1_response_head");
    let limits = h1::Limits::DEFAULT;
    for (name, input) in response_inputs() {
        let data = input.as_slice();
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", &name), data, |b, data| {
            b.iter_batched_ref(
                || [h1::EMPTY_HEADER; SLOTS],
                |headers| {
                    let status = h1::parse_response(black_box(data), headers, &limits);
                    match status {
                        Ok(h1::Status::Complete((res, len))) => {
                            assert_eq!(len, data.len());
                            black_box(res);
                        }
                        other => panic!("{other:?}"),
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("httparse", &name), data, |b, data| {
            b.iter_batched_ref(
                || [httparse::EMPTY_HEADER; SLOTS],
                |headers| {
                    let mut res = httparse::Response::new(headers);
                    let status = res.parse(black_box(data));
                    assert_eq!(status, Ok(httparse::Status::Complete(data.len())));
                    black_box(res);
                },
                BatchSize::SmallInput,
            )
        });
        memchr_floor(&mut group, &name, data);
    }
    group.finish();
}

/// Chunk-size lines: one hex digit, eight, sixteen (the most that fit 64
/// bits), and a line with extensions (which ours checks against the
/// grammar and httparse skips).
const CHUNK_LINES: &[(&str, &[u8])] = &[
    ("small", b"a\r\n0123456789\r\n"),
    ("large", b"7fffffff\r\n"),
    ("max", b"ffffffffffffffff\r\n"),
    ("extension", b"1000;name=value;q=\"quoted ext\"\r\n"),
];

fn chunk_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("http1_chunk_size");
    let limits = h1::Limits::DEFAULT;
    for &(name, line) in CHUNK_LINES {
        let end = line
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(line.len(), |p| p + 2);
        group.throughput(Throughput::Bytes(end as u64));
        group.bench_with_input(BenchmarkId::new("ours", name), line, |b, line| {
            b.iter(|| match h1::parse_chunk_size(black_box(line), &limits) {
                Ok(h1::Status::Complete((len, size))) => {
                    assert_eq!(len, end);
                    black_box(size)
                }
                other => panic!("{other:?}"),
            })
        });
        group.bench_with_input(BenchmarkId::new("httparse", name), line, |b, line| {
            b.iter(|| match httparse::parse_chunk_size(black_box(line)) {
                Ok(httparse::Status::Complete((len, size))) => {
                    assert_eq!(len, end);
                    black_box(size)
                }
                other => panic!("{other:?}"),
            })
        });
        memchr_floor(&mut group, name, &line[..end]);
    }
    group.finish();
}

criterion_group!(benches, request_head, response_head, chunk_size);
criterion_main!(benches);
