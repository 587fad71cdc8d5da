//! A minimal JSON tree for push bodies that keeps object members in document order.
//!
//! PHP iterates objects in the order written, so `{"data": {"b": …, "a": …}}` is processed `b`
//! first, and a tuple given as `{"1": v, "0": ts}` is still `[ts, v]`. `serde_json::Value` sorts
//! object keys unless a crate-wide feature is enabled, so the push parser uses this tree instead.
//! Strings and keys borrow from the body where they contain no escapes, and top-level members
//! other than `data` are skipped without being built.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::reading::Num;

/// One JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'de> {
    Null,
    Bool(bool),
    Num(Num),
    Str(Cow<'de, str>),
    Array(Vec<Node<'de>>),
    /// Members in document order; a repeated key keeps every occurrence (see [`Node::take`]).
    Object(Vec<(Cow<'de, str>, Node<'de>)>),
}

impl<'de> Node<'de> {
    /// The JSON type name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Num(_) => "number",
            Node::Str(_) => "string",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        }
    }

    /// Removes and returns member `key` of an object; like PHP's `json_decode`, the last
    /// occurrence of a repeated key wins.
    pub(crate) fn take(
        members: &mut Vec<(Cow<'de, str>, Node<'de>)>,
        key: &str,
    ) -> Option<Node<'de>> {
        let at = members.iter().rposition(|(k, _)| k == key)?;
        Some(members.swap_remove(at).1)
    }
}

/// The top level of a push body: an object (with its `data` member, if any) or something else.
pub(crate) enum Top<'de> {
    Object { data: Option<Node<'de>> },
    Other { kind: &'static str },
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Num(Num::Int(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        // Integers beyond i64 become floats, as they do in PHP.
        Ok(Node::Num(
            i64::try_from(v).map_or(Num::Float(v as f64), Num::Int),
        ))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Num(Num::Float(v)))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Node::Object(members))
    }
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl TopVisitor {
    fn other<E>(kind: &'static str) -> Result<Top<'static>, E> {
        Ok(Top::Other { kind })
    }
}

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut data = None;
        while let Some(Key(key)) = map.next_key()? {
            if key == "data" {
                data = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Top::Object { data })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::other("array")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Self::other("boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Self::other("number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Self::other("number")
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Self::other("number")
    }

    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Self::other("string")
    }

    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Self::other("null")
    }

    fn visit_none<E>(self) -> Result<Top<'de>, E> {
        Self::other("null")
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str, expect: &Node<'_>) {
        let got: Node<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(&got, expect, "{json}");
    }

    #[test]
    fn values_and_member_order() {
        check("null", &Node::Null);
        check("true", &Node::Bool(true));
        check("-3", &Node::Num(Num::Int(-3)));
        check(
            "18446744073709551615",
            &Node::Num(Num::Float(18446744073709551615.0)),
        );
        check("2.50", &Node::Num(Num::Float(2.5)));
        check("1e2", &Node::Num(Num::Float(100.0)));
        check(r#""a\u00e4""#, &Node::Str("aä".into()));
        check(
            r#"{"b": [1], "a": {}, "b": "x"}"#,
            &Node::Object(vec![
                ("b".into(), Node::Array(vec![Node::Num(Num::Int(1))])),
                ("a".into(), Node::Object(vec![])),
                ("b".into(), Node::Str("x".into())),
            ]),
        );
    }

    #[test]
    fn last_repeated_key_wins() {
        let Node::Object(mut members) = serde_json::from_str(r#"{"k":1,"j":2,"k":3}"#).unwrap()
        else {
            panic!("object expected");
        };
        assert_eq!(Node::take(&mut members, "k"), Some(Node::Num(Num::Int(3))));
        assert_eq!(Node::take(&mut members, "x"), None);
    }
}
