//! The JA3 fingerprint string of a ClientHello (salesforce/ja3):
//! `version,ciphers,extensions,groups,point_formats`, each list in the
//! client's order as decimal numbers joined by `-`, GREASE values left out.
//!
//! The string, not its MD5: the hash is a lookup key that a log pipeline
//! can compute, and keeping MD5 out of a TLS crate avoids a dependency
//! whose only use would be this.

use std::fmt::Write;

use super::ClientHello;

/// Whether `v` is a GREASE value (RFC 8701): `0x?a?a` with equal bytes.
/// Clients sprinkle them in lists to keep servers tolerant; fingerprints
/// leave them out because they change from connection to connection.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

fn join(out: &mut String, values: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in values.filter(|v| !is_grease(*v)) {
        if !first {
            out.push('-');
        }
        first = false;
        // Writing to a String cannot fail.
        let _ = write!(out, "{v}");
    }
}

impl ClientHello<'_> {
    /// Appends the JA3 string to `out` (no allocation beyond `out`'s).
    pub fn write_ja3(&self, out: &mut String) {
        let _ = write!(out, "{},", self.legacy_version());
        join(out, self.cipher_suites());
        out.push(',');
        join(out, self.extensions().map(|(t, _)| t));
        out.push(',');
        join(out, self.supported_groups());
        out.push(',');
        join(out, self.ec_point_formats().iter().map(|&b| u16::from(b)));
    }

    /// The JA3 string, such as `771,4865-4866,0-10-11-16-43,29-23,0`.
    pub fn ja3(&self) -> String {
        let mut s = String::with_capacity(128);
        self.write_ja3(&mut s);
        s
    }
}
