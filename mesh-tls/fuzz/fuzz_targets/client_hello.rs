//! The ClientHello parser and the TLS sniffer on arbitrary bytes: no panic,
//! and a parse that completes agrees with itself on the bytes it consumed
//! and asks for more on one byte less.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::{Detection, Protocol, Sniff};
use mesh_tls::TlsSniffer;
use mesh_tls::hello::{self, Limits, Status};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let sniffed = TlsSniffer::new(limits).sniff(data);
    match hello::parse(data, &limits) {
        Ok(Status::Complete(h, n)) => {
            assert_eq!(sniffed, Detection::Match(Protocol::Tls));
            assert!(n <= data.len());
            let _ = (h.ja3(), h.server_name(), h.max_version(), h.random().len());
            assert_eq!(h.alpn().count() > 0, h.has_alpn());
            let _ = h.extensions().count() + h.cipher_suites().count();
            match hello::parse(&data[..n], &limits) {
                Ok(Status::Complete(again, m)) => {
                    assert_eq!(m, n);
                    assert_eq!(again.body(), h.body());
                }
                other => panic!("the consumed bytes alone gave {other:?}"),
            }
            assert!(matches!(hello::parse(&data[..n - 1], &limits), Ok(Status::Partial)));
        }
        Ok(Status::Partial) => assert_eq!(sniffed, Detection::NeedMore),
        Err(_) => assert_eq!(sniffed, Detection::NoMatch),
    }
});
