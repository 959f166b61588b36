//! Typed deserialization from a [`Node`] tree, with field paths.
//!
//! [`from_node`] runs any `Deserialize` type over a document tree. It
//! differs from a generic value deserializer in three ways a config loader
//! needs:
//!
//! - every error carries the field path (`spec.trafficPolicy.tls.mode`) and
//!   the position of the innermost node it concerns;
//! - a field the target type does not know (serde's `IgnoredAny`) is recorded
//!   as an [`Ignored`] field instead of vanishing, so the loader can warn;
//! - scalars follow YAML, not JSON: a plain `8080` or `true` is accepted
//!   where a string is expected (a label value written without quotes), but
//!   a float is not (`version: 1.10` would silently become `"1.1"`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::node::{Node, Position, Value};

/// One step of a field path, as a linked list on the stack.
#[derive(Clone, Copy)]
pub(crate) enum PathSeg<'p> {
    Root,
    Key(&'p PathSeg<'p>, &'p str),
    Index(&'p PathSeg<'p>, usize),
}

impl fmt::Display for PathSeg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSeg::Root => Ok(()),
            PathSeg::Key(parent, key) => {
                parent.fmt(f)?;
                write_key(f, matches!(parent, PathSeg::Root), key)
            }
            PathSeg::Index(parent, i) => {
                parent.fmt(f)?;
                write!(f, "[{i}]")
            }
        }
    }
}

/// Writes `.key`, or `["key"]` when the key is not a plain identifier
/// (label keys such as `app.kubernetes.io/name`).
pub(crate) fn write_key(f: &mut impl fmt::Write, first: bool, key: &str) -> fmt::Result {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !first {
            f.write_char('.')?;
        }
        f.write_str(key)
    } else {
        write!(f, "[\"{}\"]", key.replace('"', "\\\""))
    }
}

/// Appends a key to a rendered path, with the same quoting as [`PathSeg`].
pub(crate) fn join(path: &str, key: &str) -> String {
    let mut out = path.to_owned();
    let _ = write_key(&mut out, path.is_empty(), key);
    out
}

/// A deserialization failure with its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeError {
    pub(crate) message: String,
    pub(crate) path: Option<String>,
    pub(crate) pos: Option<Position>,
}

impl DeError {
    /// Sets the place unless an inner node already did.
    fn at(mut self, path: &PathSeg<'_>, pos: Position) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_string());
            self.pos = Some(pos);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            path: None,
            pos: None,
        }
    }
}

/// A field present in the document that the target type ignored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ignored {
    pub(crate) path: String,
    pub(crate) pos: Position,
}

/// Deserializes `T` from `node`, returning it with the ignored fields.
pub(crate) fn from_node<'de, T: de::Deserialize<'de>>(
    node: &Node,
) -> Result<(T, Vec<Ignored>), DeError> {
    let ignored = RefCell::new(Vec::new());
    let root = PathSeg::Root;
    let value = T::deserialize(NodeDe {
        node,
        path: &root,
        key_pos: None,
        ignored: &ignored,
        is_key: false,
    })
    .map_err(|e| e.at(&root, node.pos))?;
    Ok((value, ignored.into_inner()))
}

struct NodeDe<'a> {
    node: &'a Node,
    path: &'a PathSeg<'a>,
    /// Where the key of this value is, for unknown-field warnings.
    key_pos: Option<Position>,
    ignored: &'a RefCell<Vec<Ignored>>,
    /// Map keys: a quoted number is still accepted as a number
    /// (`portLevelMtls: {"8080": ...}`).
    is_key: bool,
}

impl NodeDe<'_> {
    fn invalid<'de, V: Visitor<'de>>(&self, visitor: &V) -> DeError {
        let unexpected = match &self.node.value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::UInt(u) => de::Unexpected::Unsigned(*u),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::Str(s) => de::Unexpected::Str(s),
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
        };
        de::Error::invalid_type(unexpected, visitor)
    }
}

macro_rules! forward_to_number {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                if self.is_key {
                    if let Value::Str(s) = &self.node.value {
                        if let Ok(u) = s.parse::<u64>() {
                            return visitor.visit_u64(u);
                        }
                        if let Ok(i) = s.parse::<i64>() {
                            return visitor.visit_i64(i);
                        }
                    }
                }
                self.deserialize_any(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: self.path,
                ignored: self.ignored,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                current: None,
                path: self.path,
                ignored: self.ignored,
            }),
        }
    }

    forward_to_number! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Bool(b) => visitor.visit_bool(b),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => visitor.visit_str(s),
            // YAML users write `version: 2` or `enabled: true` for string
            // fields; the text is exact, so accept it.
            Value::Int(_) | Value::UInt(_) | Value::Bool(_) => match self.node.scalar_text() {
                Some(text) => visitor.visit_str(&text),
                None => Err(self.invalid(&visitor)),
            },
            Value::Float(_) => Err(de::Error::custom(format!(
                "a float where a string is expected; quote it to keep its exact text ({})",
                visitor_expecting(&visitor)
            ))),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Seq(_) => self.deserialize_any(visitor),
            // Kubernetes reads `ports:` (null) as an empty list.
            Value::Null => visitor.visit_seq(SeqDe {
                items: std::iter::empty(),
                path: self.path,
                ignored: self.ignored,
            }),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Map(_) => self.deserialize_any(visitor),
            // Kubernetes reads `labels:` or `spec:` (null) as empty.
            Value::Null => visitor.visit_map(MapDe {
                entries: std::iter::empty(),
                current: None,
                path: self.path,
                ignored: self.ignored,
            }),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => {
                visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(s.as_str()))
            }
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.ignored.borrow_mut().push(Ignored {
            path: self.path.to_string(),
            pos: self.key_pos.unwrap_or(self.node.pos),
        });
        visitor.visit_unit()
    }
}

fn visitor_expecting<'de, V: Visitor<'de>>(visitor: &V) -> String {
    struct Expecting<'v, V>(&'v V);
    impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("expected ")?;
            self.0.expecting(f)
        }
    }
    Expecting(visitor).to_string()
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a PathSeg<'a>,
    ignored: &'a RefCell<Vec<Ignored>>,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> de::SeqAccess<'de> for SeqDe<'a, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((index, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = PathSeg::Index(self.path, index);
        seed.deserialize(NodeDe {
            node,
            path: &path,
            key_pos: None,
            ignored: self.ignored,
            is_key: false,
        })
        .map(Some)
        .map_err(|e| e.at(&path, node.pos))
    }
}

struct MapDe<'a, I> {
    entries: I,
    current: Option<(&'a Node, &'a Node)>,
    path: &'a PathSeg<'a>,
    ignored: &'a RefCell<Vec<Ignored>>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Node, Node)>> de::MapAccess<'de> for MapDe<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some((key, value));
        let text = key.scalar_text().unwrap_or_default();
        let path = PathSeg::Key(self.path, &text);
        seed.deserialize(NodeDe {
            node: key,
            path: &path,
            key_pos: None,
            ignored: self.ignored,
            is_key: true,
        })
        .map(Some)
        .map_err(|e| e.at(&path, key.pos))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom(
                "a map value was requested before its key",
            ));
        };
        let text = key.scalar_text().unwrap_or_default();
        let path = PathSeg::Key(self.path, &text);
        seed.deserialize(NodeDe {
            node: value,
            path: &path,
            key_pos: Some(key.pos),
            ignored: self.ignored,
            is_key: false,
        })
        .map_err(|e| e.at(&path, value.report_pos(Some(key.pos))))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        max_connections: u32,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        items: Vec<Inner>,
        #[serde(default)]
        ports: BTreeMap<u16, String>,
    }

    fn node(yaml: &str) -> Node {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn paths_and_positions_of_errors() {
        let doc = node("items:\n  - maxConnections: 1\n  - maxConnections: -4\n");
        let err = from_node::<Outer>(&doc).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("items[1].maxConnections"));
        assert_eq!(err.pos.unwrap().line, 3);
        assert!(err.message.contains("-4"), "{}", err.message);
    }

    #[test]
    fn missing_field_is_reported_at_the_parent() {
        let doc = node("items:\n  - labels: {}\n");
        let err = from_node::<Outer>(&doc).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("items[0]"));
        assert!(err.message.contains("maxConnections"));
    }

    #[test]
    fn null_collections_are_empty() {
        let doc = node("items:\n  - maxConnections: 1\n    labels:\nports:\n");
        let (value, _) = from_node::<Outer>(&doc).unwrap();
        assert!(value.items[0].labels.is_empty() && value.ports.is_empty());
        let doc = node("items:\n");
        let (value, _) = from_node::<Outer>(&doc).unwrap();
        assert!(value.items.is_empty());
    }

    #[test]
    fn unknown_fields_are_collected() {
        let doc = node("items:\n  - maxConnections: 1\n    extra: {a: 1}\nmore: x\n");
        let (value, ignored) = from_node::<Outer>(&doc).unwrap();
        assert_eq!(value.items[0].max_connections, 1);
        let paths: Vec<_> = ignored.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["items[0].extra", "more"]);
        assert_eq!(ignored[0].pos.line, 3);
    }

    #[test]
    fn yaml_scalars_into_strings_and_keys() {
        let doc = node(
            "items:\n  - maxConnections: 2\n    labels: {version: 2, enabled: true, \"app.io/x\": y}\nports: {\"80\": http, 443: https}\n",
        );
        let (value, _) = from_node::<Outer>(&doc).unwrap();
        assert_eq!(value.items[0].labels["version"], "2");
        assert_eq!(value.items[0].labels["enabled"], "true");
        assert_eq!(value.ports[&80], "http");
        assert_eq!(value.ports[&443], "https");

        let doc = node("items:\n  - maxConnections: 2\n    labels: {version: 1.10}\n");
        let err = from_node::<Outer>(&doc).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("items[0].labels.version"));
        assert!(err.message.contains("quote"), "{}", err.message);
    }

    #[test]
    fn quoted_key_paths() {
        let doc = node("items:\n  - maxConnections: 2\n    labels: {\"a.b/c\": 1.5}\n");
        let err = from_node::<Outer>(&doc).unwrap_err();
        assert_eq!(err.path.as_deref(), Some("items[0].labels[\"a.b/c\"]"));
        assert_eq!(doc.locate(err.path.as_deref().unwrap()).line, 3);
    }
}
