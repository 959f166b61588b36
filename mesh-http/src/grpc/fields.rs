//! The header fields gRPC reads and writes, over either representation
//! the HTTP layers use.
//!
//! The HTTP/2 connection layer hands heads and trailers out as a
//! [`HeaderMap`] (the list HTTP/1 uses too); the frame layer works with
//! HPACK's [`Field`] lists. Everything in [`super`] reads through
//! [`Fields`] and writes through [`FieldsMut`], so it works on both
//! without converting.

use bytes::Bytes;

use crate::h1::HeaderMap;
use crate::h2::hpack::Field;

/// Read access to a head's or trailers' fields.
pub trait Fields {
    /// The value of the first field called `name` (a lower-case name).
    fn field(&self, name: &str) -> Option<&Bytes>;
}

/// Write access to a head's or trailers' fields.
pub trait FieldsMut {
    /// Adds a field.
    ///
    /// Every value this module writes is a valid field value by
    /// construction (digits, percent-encoded text, base64 details that
    /// arrived in a field); a [`HeaderMap`] drops a value that is not
    /// (only details bytes a caller built by hand can be).
    fn append_field(&mut self, name: &'static str, value: Bytes);

    /// Replaces every field called `name` with one field.
    fn set_field(&mut self, name: &'static str, value: Bytes);
}

impl Fields for HeaderMap {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self.get(name)
    }
}

impl FieldsMut for HeaderMap {
    fn append_field(&mut self, name: &'static str, value: Bytes) {
        let _ = self.append(name, value);
    }

    fn set_field(&mut self, name: &'static str, value: Bytes) {
        let _ = self.insert(name, value);
    }
}

impl Fields for [Field] {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self.iter()
            .find(|f| f.name == name.as_bytes())
            .map(|f| &f.value)
    }
}

impl<const N: usize> Fields for [Field; N] {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self[..].field(name)
    }
}

impl Fields for Vec<Field> {
    fn field(&self, name: &str) -> Option<&Bytes> {
        self[..].field(name)
    }
}

impl FieldsMut for Vec<Field> {
    fn append_field(&mut self, name: &'static str, value: Bytes) {
        self.push(Field::new(name, value));
    }

    fn set_field(&mut self, name: &'static str, value: Bytes) {
        let is_name = |f: &Field| f.name == name.as_bytes();
        match self.iter().position(is_name) {
            Some(first) => {
                self[first] = Field::new(name, value);
                let mut i = 0;
                self.retain(|f| {
                    i += 1;
                    i - 1 == first || !is_name(f)
                });
            }
            None => self.push(Field::new(name, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_representations() {
        let mut list = vec![
            Field::new("a", "1"),
            Field::new("b", "2"),
            Field::new("a", "3"),
        ];
        assert_eq!(list.field("a").unwrap(), "1");
        list.set_field("a", Bytes::from_static(b"9"));
        assert_eq!(list, [Field::new("a", "9"), Field::new("b", "2")]);
        list.append_field("c", Bytes::from_static(b"4"));
        assert_eq!(list.field("c").unwrap(), "4");

        let mut map = HeaderMap::new();
        map.append_field("grpc-status", Bytes::from_static(b"0"));
        map.append_field("grpc-status", Bytes::from_static(b"1"));
        map.set_field("grpc-status", Bytes::from_static(b"2"));
        assert_eq!(map.len(), 1);
        assert_eq!(map.field("grpc-status").unwrap(), "2");
        // Not a field value: dropped rather than written.
        map.append_field("grpc-status-details-bin", Bytes::from_static(b"a\r\nb"));
        assert_eq!(map.field("grpc-status-details-bin"), None);
    }
}
