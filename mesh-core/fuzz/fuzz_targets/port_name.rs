//! Port names and `appProtocol` values come from users' Kubernetes
//! objects: parsing any string never panics, and a name that parses keeps
//! its protocol when parsed again case-insensitively.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let upper = name.to_ascii_uppercase();
    let first = mesh_core::port_name::parse_port_name(name).map(|p| p.protocol);
    let again = mesh_core::port_name::parse_port_name(&upper).map(|p| p.protocol);
    assert_eq!(first.is_ok(), again.is_ok(), "{name:?}");
    if let (Ok(a), Ok(b)) = (first, again) {
        assert_eq!(a, b, "{name:?}");
    }
});
