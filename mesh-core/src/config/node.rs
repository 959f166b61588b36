//! A YAML document as a tree of nodes that remember where they were written.
//!
//! serde-saphyr deserializes straight into typed values and keeps no tree,
//! but a config loader needs positions long after parsing: a bad value found
//! by a typed `Deserialize` impl, an unknown field, and a cross-reference
//! found by validation all have to name the line. So each document is read
//! once into [`Node`]s (every node carries its [`Position`]), and typed
//! resources are then deserialized from the tree by [`super::de`], which
//! tracks the field path. A path can be turned back into a position with
//! [`Node::locate`].

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A 1-based line and column in a YAML source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Position {
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) pos: Position,
}

/// The content of a [`Node`], after YAML's core-schema typing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys were refused by the parser.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the value is, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The text of a scalar key or value (strings, integers and booleans).
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The value under `key` of a mapping node.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string under `key` of a mapping node.
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key).map(|n| &n.value) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The node a field path such as `spec.http[0].route[1].weight` names.
    pub(crate) fn at(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for segment in parse_path(path) {
            node = node.child(&segment)?;
        }
        Some(node)
    }

    fn child(&self, segment: &Segment) -> Option<&Node> {
        self.child_with_key(segment).map(|(_, v)| v)
    }

    /// The child and the position of its key (for a mapping entry).
    fn child_with_key(&self, segment: &Segment) -> Option<(Option<Position>, &Node)> {
        match (&self.value, segment) {
            (Value::Map(entries), Segment::Key(key)) => entries
                .iter()
                .find(|(k, _)| k.scalar_text().as_deref() == Some(key.as_str()))
                .map(|(k, v)| (Some(k.pos), v)),
            (Value::Seq(items), Segment::Index(i)) => items.get(*i).map(|v| (None, v)),
            _ => None,
        }
    }

    /// Where to point for this node reached under a key at `key_pos`: a
    /// scalar at its value, a block mapping or sequence (which starts on the
    /// next line) at its key.
    pub(crate) fn report_pos(&self, key_pos: Option<Position>) -> Position {
        match (&self.value, key_pos) {
            (Value::Map(_) | Value::Seq(_), Some(k)) => k,
            _ => self.pos,
        }
    }

    /// The position of the node a field path names, or of its deepest
    /// existing ancestor when the path goes further than the document (a
    /// missing field is reported where its parent is).
    pub(crate) fn locate(&self, path: &str) -> Position {
        let mut node = self;
        let mut key_pos = None;
        for segment in parse_path(path) {
            match node.child_with_key(&segment) {
                Some((k, n)) => {
                    node = n;
                    key_pos = k;
                }
                None => break,
            }
        }
        node.report_pos(key_pos)
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2]["x.y"]` into segments; the inverse of [`super::de::PathSeg`]'s
/// rendering.
fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    let mut key = String::new();
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if !key.is_empty() {
                    out.push(Segment::Key(std::mem::take(&mut key)));
                }
                i += 1;
            }
            b'[' => {
                if !key.is_empty() {
                    out.push(Segment::Key(std::mem::take(&mut key)));
                }
                if bytes.get(i + 1) == Some(&b'"') {
                    // A quoted key: up to the closing `"]`.
                    let rest = &path[i + 2..];
                    let end = rest.find("\"]").unwrap_or(rest.len());
                    out.push(Segment::Key(rest[..end].replace("\\\"", "\"")));
                    i += 2 + end + 2;
                } else {
                    let rest = &path[i + 1..];
                    let end = rest.find(']').unwrap_or(rest.len());
                    if let Ok(n) = rest[..end].parse() {
                        out.push(Segment::Index(n));
                    }
                    i += 1 + end + 1;
                }
            }
            _ => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'.' && bytes[i] != b'[' {
                    i += 1;
                }
                key.push_str(&path[start..i]);
            }
        }
    }
    if !key.is_empty() {
        out.push(Segment::Key(key));
    }
    out
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            pos: Position {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::UInt)
            .map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(E::custom(
            "binary values are not supported in configuration",
        ))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Vec<Node> {
        serde_saphyr::from_multiple(yaml).unwrap()
    }

    #[test]
    fn positions_and_paths() {
        let docs = parse("a: 1\nb:\n  - x: true\n    \"y.z\": hi\n---\nc: 2.5\n");
        assert_eq!(docs.len(), 2);
        let root = &docs[0];
        assert_eq!(root.get("a").unwrap().value, Value::UInt(1));
        assert_eq!(root.locate("a"), Position { line: 1, column: 4 });
        assert_eq!(root.locate("b[0].x").line, 3);
        assert_eq!(root.locate("b[0][\"y.z\"]").line, 4);
        // Missing tails resolve to the deepest ancestor.
        assert_eq!(root.locate("b[0].missing.deeper").line, 3);
        assert_eq!(docs[1].get("c").unwrap().value, Value::Float(2.5));
        assert_eq!(docs[1].locate("c").line, 6);
    }

    #[test]
    fn duplicate_keys_refused_by_default() {
        assert!(serde_saphyr::from_multiple::<Node>("a: 1\na: 2\n").is_err());
    }
}
