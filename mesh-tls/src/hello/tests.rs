use std::sync::Arc;

use proptest::prelude::*;

use super::*;

/// What a test ClientHello holds; `encode` writes it the way a client does.
#[derive(Debug, Clone)]
struct Spec {
    version: u16,
    session_id: Vec<u8>,
    ciphers: Vec<u16>,
    sni: Option<String>,
    alpn: Vec<Vec<u8>>,
    versions: Vec<u16>,
    groups: Vec<u16>,
    formats: Vec<u8>,
    /// Extensions written first, in order (GREASE, padding, ...).
    extra: Vec<(u16, Vec<u8>)>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            version: 0x0303,
            session_id: vec![7; 32],
            ciphers: vec![0x1301, 0x1302, 0xc02b],
            sni: Some("example.com".into()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            versions: vec![0x0304, 0x0303],
            groups: vec![29, 23],
            formats: vec![0],
            extra: Vec::new(),
        }
    }
}

fn put16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u16).to_be_bytes());
}

fn ext(out: &mut Vec<u8>, t: u16, data: &[u8]) {
    out.extend_from_slice(&t.to_be_bytes());
    put16(out, data.len());
    out.extend_from_slice(data);
}

fn encode_body(s: &Spec) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&s.version.to_be_bytes());
    b.extend_from_slice(&[0x42; 32]);
    b.push(s.session_id.len() as u8);
    b.extend_from_slice(&s.session_id);
    put16(&mut b, s.ciphers.len() * 2);
    for c in &s.ciphers {
        b.extend_from_slice(&c.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    for (t, d) in &s.extra {
        ext(&mut e, *t, d);
    }
    if let Some(sni) = &s.sni {
        let mut d = Vec::new();
        put16(&mut d, sni.len() + 3);
        d.push(0);
        put16(&mut d, sni.len());
        d.extend_from_slice(sni.as_bytes());
        ext(&mut e, 0, &d);
    }
    if !s.groups.is_empty() {
        let mut d = Vec::new();
        put16(&mut d, s.groups.len() * 2);
        for g in &s.groups {
            d.extend_from_slice(&g.to_be_bytes());
        }
        ext(&mut e, 10, &d);
    }
    if !s.formats.is_empty() {
        let mut d = vec![s.formats.len() as u8];
        d.extend_from_slice(&s.formats);
        ext(&mut e, 11, &d);
    }
    if !s.alpn.is_empty() {
        let mut list = Vec::new();
        for p in &s.alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p);
        }
        let mut d = Vec::new();
        put16(&mut d, list.len());
        d.extend_from_slice(&list);
        ext(&mut e, 16, &d);
    }
    if !s.versions.is_empty() {
        let mut d = vec![(s.versions.len() * 2) as u8];
        for v in &s.versions {
            d.extend_from_slice(&v.to_be_bytes());
        }
        ext(&mut e, 43, &d);
    }
    put16(&mut b, e.len());
    b.extend_from_slice(&e);
    b
}

/// The handshake message (header + body).
fn message(body: &[u8]) -> Vec<u8> {
    let mut m = vec![1];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// Wraps `msg` in records of the given sizes (cycling; the last record takes
/// what is left).
fn records(msg: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = msg;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.extend_from_slice(&[22, 3, 1]);
        put16(&mut out, n);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

fn one_record(s: &Spec) -> Vec<u8> {
    records(&message(&encode_body(s)), &[usize::MAX])
}

fn complete(input: &[u8]) -> (ClientHello<'_>, usize) {
    match parse(input, &Limits::default()).unwrap() {
        Status::Complete(h, n) => (h, n),
        Status::Partial => panic!("partial"),
    }
}

fn assert_matches_spec(h: &ClientHello<'_>, s: &Spec) {
    assert_eq!(h.legacy_version(), s.version);
    assert_eq!(h.random(), &[0x42; 32]);
    assert_eq!(h.session_id(), &s.session_id[..]);
    assert_eq!(h.cipher_suites().collect::<Vec<_>>(), s.ciphers);
    assert_eq!(h.compression_methods(), &[0]);
    assert_eq!(h.server_name(), s.sni.as_deref());
    assert_eq!(h.alpn().collect::<Vec<_>>(), s.alpn);
    assert_eq!(h.has_alpn(), !s.alpn.is_empty());
    assert_eq!(h.supported_versions().collect::<Vec<_>>(), s.versions);
    assert_eq!(h.supported_groups().collect::<Vec<_>>(), s.groups);
    assert_eq!(h.ec_point_formats(), &s.formats[..]);
}

/// A ClientHello as rustls (ring provider) writes it.
fn rustls_hello(sni: &str, alpn: &[&[u8]]) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    let name = rustls_pki_types::ServerName::try_from(sni.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

#[test]
fn parses_a_rustls_client_hello() {
    let input = rustls_hello(
        "outbound_.9080_._.reviews.default.svc.cluster.local",
        &[b"istio-h2", b"istio"],
    );
    let (h, consumed) = complete(&input);
    assert_eq!(consumed, input.len());
    assert!(h.is_borrowed());
    assert_eq!(
        h.server_name(),
        Some("outbound_.9080_._.reviews.default.svc.cluster.local")
    );
    assert_eq!(h.alpn().collect::<Vec<_>>(), [&b"istio-h2"[..], b"istio"]);
    assert_eq!(h.max_version(), 0x0304);
    assert!(h.supported_versions().any(|v| v == 0x0303));
    assert!(h.cipher_suites().any(|c| c == 0x1301));
    assert!(h.ja3().starts_with("771,"));
}

#[test]
fn every_prefix_is_partial() {
    for input in [
        rustls_hello("a.example", &[b"h2"]),
        one_record(&Spec::default()),
        records(&message(&encode_body(&Spec::default())), &[1, 7, 3]),
    ] {
        let limits = Limits {
            max_records: 1000,
            ..Limits::default()
        };
        for len in 0..input.len() {
            assert_eq!(
                parse(&input[..len], &limits).unwrap(),
                Status::Partial,
                "prefix of {len} bytes"
            );
        }
        assert!(matches!(parse(&input, &limits), Ok(Status::Complete(..))));
    }
}

#[test]
fn split_across_records_is_gathered() {
    let spec = Spec::default();
    let msg = message(&encode_body(&spec));
    for sizes in [&[1][..], &[2], &[3, 1], &[4], &[5], &[40], &[msg.len() - 1]] {
        let input = records(&msg, sizes);
        let limits = Limits {
            max_records: 1000,
            ..Limits::default()
        };
        let Status::Complete(h, consumed) = parse(&input, &limits).unwrap() else {
            panic!("partial for {sizes:?}");
        };
        assert_eq!(consumed, input.len());
        assert!(!h.is_borrowed());
        assert_matches_spec(&h, &spec);
    }
}

#[test]
fn bytes_after_the_hello_are_not_consumed() {
    let spec = Spec::default();
    let msg = message(&encode_body(&spec));
    // The hello and 3 more bytes in the same record, then another record.
    let mut input = vec![22, 3, 1];
    put16(&mut input, msg.len() + 3);
    input.extend_from_slice(&msg);
    input.extend_from_slice(&[9, 9, 9]);
    input.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    let (h, consumed) = complete(&input);
    assert_eq!(consumed, 5 + msg.len());
    assert!(h.is_borrowed());
    // Split: the second record carries the end of the hello and more.
    let split = 10;
    let mut input = records(&msg[..split], &[split]);
    input.extend_from_slice(&[22, 3, 3]);
    put16(&mut input, msg.len() - split + 2);
    input.extend_from_slice(&msg[split..]);
    input.extend_from_slice(&[0, 0]);
    let (h, consumed) = complete(&input);
    assert_eq!(consumed, input.len() - 2);
    assert_matches_spec(&h, &spec);
}

#[test]
fn no_extensions_is_a_tls12_hello() {
    let spec = Spec::default();
    let mut body = encode_body(&spec);
    // Cut the extensions block (length + data).
    let ext_start = 2 + 32 + 1 + 32 + 2 + 6 + 2;
    body.truncate(ext_start);
    let input = one_record_of(&body);
    let (h, _) = complete(&input);
    assert_eq!(h.server_name(), None);
    assert_eq!(h.extensions().count(), 0);
    assert_eq!(h.max_version(), 0x0303);
    assert_eq!(h.ja3(), "771,4865-4866-49195,,,");
}

fn one_record_of(body: &[u8]) -> Vec<u8> {
    records(&message(body), &[usize::MAX])
}

#[test]
fn ja3_leaves_out_grease() {
    let spec = Spec {
        ciphers: vec![0x0a0a, 4865, 4866],
        groups: vec![0x2a2a, 29, 23],
        extra: vec![(0x1a1a, vec![]), (21, vec![0; 5])],
        ..Spec::default()
    };
    let input = one_record(&spec);
    let (h, _) = complete(&input);
    assert_eq!(h.ja3(), "771,4865-4866,21-0-10-11-16-43,29-23,0");
    assert_eq!(h.extensions().count(), 7);
    assert!(is_grease(0xfafa) && is_grease(0x0a0a));
    assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0x000a));
    let versions = Spec {
        versions: vec![0x7a7a, 0x0304, 0x0303],
        ..Spec::default()
    };
    assert_eq!(complete(&one_record(&versions)).0.max_version(), 0x0304);
}

#[test]
fn errors_from_the_first_wrong_byte() {
    let limits = Limits::default();
    let err = |input: &[u8]| parse(input, &limits).unwrap_err();
    assert_eq!(err(b"G"), HelloError::NotHandshake { content_type: b'G' });
    assert_eq!(
        err(b"GET / HTTP/1.1\r\n"),
        HelloError::NotHandshake { content_type: b'G' }
    );
    assert_eq!(err(&[22, 2]), HelloError::RecordVersion { version: 0x0200 });
    assert_eq!(
        err(&[22, 3, 9]),
        HelloError::RecordVersion { version: 0x0309 }
    );
    assert_eq!(err(&[22, 3, 1, 0, 0]), HelloError::EmptyRecord { at: 0 });
    assert_eq!(
        err(&[22, 3, 1, 0x40, 1]),
        HelloError::RecordTooLong {
            len: 0x4001,
            max: 0x4000
        }
    );
    assert_eq!(
        err(&[22, 3, 1, 0, 4, 2]),
        HelloError::NotClientHello { msg_type: 2 }
    );
    assert_eq!(
        err(&[22, 3, 1, 0, 4, 1, 0, 0x40, 1]),
        HelloError::TooLong {
            len: 0x4001,
            limit: 0x4000
        }
    );
    // A record of another type in the middle of a split hello.
    let msg = message(&encode_body(&Spec::default()));
    let mut input = records(&msg[..20], &[20]);
    input.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]);
    assert_eq!(err(&input), HelloError::NotHandshake { content_type: 21 });
    // Too many records.
    let input = records(&msg, &[1]);
    assert_eq!(err(&input), HelloError::TooManyRecords { limit: 64 });
    // An SSLv2-compatible hello is not accepted.
    assert_eq!(
        err(&[0x80, 0x2e, 1, 3, 1]),
        HelloError::NotHandshake { content_type: 0x80 }
    );
}

#[test]
fn malformed_fields_are_named() {
    let body = encode_body(&Spec::default());
    let malformed = |body: &[u8]| match parse(&one_record_of(body), &Limits::default()) {
        Err(HelloError::Malformed { field }) => field,
        other => panic!("{other:?}"),
    };
    // Session id longer than 32.
    let mut b = body.clone();
    b[34] = 33;
    assert_eq!(malformed(&b), "legacy_session_id");
    // Odd cipher suites length.
    let mut b = body.clone();
    b[67..69].copy_from_slice(&5u16.to_be_bytes());
    assert_eq!(malformed(&b), "cipher_suites");
    // Extensions block longer than the body.
    let mut b = body.clone();
    let at = 2 + 32 + 1 + 32 + 2 + 6 + 2;
    let len = b.len() as u16;
    b[at..at + 2].copy_from_slice(&len.to_be_bytes());
    assert_eq!(malformed(&b), "extensions");
    // Trailing bytes after the extensions.
    let mut b = body.clone();
    b.push(0);
    assert_eq!(malformed(&b), "extensions");
    // Legacy version not 3.x.
    let mut b = body.clone();
    b[0] = 2;
    assert_eq!(malformed(&b), "legacy_version");
    // No compression methods.
    let spec = Spec::default();
    let mut b = encode_body(&spec);
    let at = 2 + 32 + 1 + 32 + 2 + 6;
    b[at] = 0;
    b.remove(at + 1);
    assert_eq!(malformed(&b), "legacy_compression_methods");
    // Non-ASCII SNI, empty ALPN name, odd versions.
    for (spec, field) in [
        (
            Spec {
                sni: Some("caf\u{e9}.example".into()),
                ..Spec::default()
            },
            "server_name",
        ),
        (
            Spec {
                sni: Some(String::new()),
                ..Spec::default()
            },
            "server_name",
        ),
        (
            Spec {
                alpn: vec![b"h2".to_vec(), Vec::new()],
                ..Spec::default()
            },
            "alpn",
        ),
        (
            Spec {
                extra: vec![(43, vec![3, 3, 4, 3])],
                versions: Vec::new(),
                ..Spec::default()
            },
            "supported_versions",
        ),
    ] {
        assert_eq!(malformed(&encode_body(&spec)), field);
    }
    let dup = Spec {
        extra: vec![(16, vec![0, 3, 2, b'h', b'2'])],
        ..Spec::default()
    };
    assert_eq!(
        parse(&one_record(&dup), &Limits::default()).unwrap_err(),
        HelloError::DuplicateExtension { ext_type: 16 }
    );
    assert_eq!(
        HelloError::DuplicateExtension { ext_type: 16 }.side(),
        Side::Downstream
    );
}

#[test]
fn limits_are_enforced_as_soon_as_the_length_arrives() {
    let spec = Spec {
        extra: vec![(21, vec![0; 600])],
        ..Spec::default()
    };
    let input = one_record(&spec);
    let limits = Limits {
        max_hello_len: 512,
        ..Limits::default()
    };
    // The handshake header is complete at 9 bytes.
    assert!(matches!(
        parse(&input[..9], &limits),
        Err(HelloError::TooLong { limit: 512, .. })
    ));
    assert_eq!(parse(&input[..8], &limits).unwrap(), Status::Partial);
}

#[test]
fn a_sixteen_kib_hello_in_two_records() {
    let body_len = Limits::DEFAULT_MAX_HELLO_LEN;
    let base = encode_body(&Spec::default());
    // Pad with extension 21 so the body is exactly 16 KiB.
    let pad = body_len - base.len() - 4;
    let spec = Spec {
        extra: vec![(21, vec![0; pad])],
        ..Spec::default()
    };
    let body = encode_body(&spec);
    assert_eq!(body.len(), body_len);
    let input = records(&message(&body), &[16384]);
    let (h, consumed) = complete(&input);
    assert_eq!(consumed, input.len());
    assert_matches_spec(&h, &spec);
    let owned = h.into_owned();
    assert_eq!(owned.server_name(), Some("example.com"));
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec(any::<u8>(), 0..=32),
        proptest::collection::vec(any::<u16>(), 1..20),
        proptest::option::of("[a-z0-9.-]{1,60}"),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..12), 0..5),
        proptest::collection::vec(any::<u16>(), 0..5),
        proptest::collection::vec(any::<u16>(), 0..6),
        proptest::collection::vec(any::<u8>(), 0..3),
        proptest::collection::vec(
            (50u16..60, proptest::collection::vec(any::<u8>(), 0..40)),
            0..4,
        ),
    )
        .prop_map(
            |(session_id, ciphers, sni, alpn, versions, groups, formats, extra)| Spec {
                version: 0x0303,
                session_id,
                ciphers,
                sni,
                alpn,
                versions,
                groups,
                formats,
                extra: {
                    // Distinct extension types.
                    let mut seen = std::collections::HashSet::new();
                    extra.into_iter().filter(|(t, _)| seen.insert(*t)).collect()
                },
            },
        )
}

proptest! {
    #[test]
    fn round_trip_in_any_split(spec in spec_strategy(), sizes in proptest::collection::vec(1usize..300, 1..4)) {
        let msg = message(&encode_body(&spec));
        let input = records(&msg, &sizes);
        let limits = Limits { max_records: 10_000, ..Limits::default() };
        let Status::Complete(h, consumed) = parse(&input, &limits).unwrap() else {
            panic!("partial");
        };
        prop_assert_eq!(consumed, input.len());
        assert_matches_spec(&h, &spec);
        // Every prefix needs more.
        for len in (0..input.len()).step_by(7) {
            prop_assert_eq!(parse(&input[..len], &limits).unwrap(), Status::Partial);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&input, &Limits::default());
        let mut tls = vec![22, 3, 1];
        tls.extend_from_slice(&input);
        if let Ok(Status::Complete(h, n)) = parse(&tls, &Limits::default()) {
            prop_assert!(n <= tls.len());
            let _ = (h.ja3(), h.server_name(), h.alpn().count(), h.extensions().count());
        }
    }

    #[test]
    fn mutated_hellos_never_panic(at in 0usize..200, byte in any::<u8>(), cut in 0usize..220) {
        let mut input = one_record(&Spec::default());
        let at = at % input.len();
        input[at] = byte;
        input.truncate(cut.min(input.len()).max(1));
        if let Ok(Status::Complete(h, n)) = parse(&input, &Limits::default()) {
            prop_assert!(n <= input.len());
            let _ = (h.ja3(), h.server_name(), h.alpn().count(), h.max_version());
        }
    }
}
