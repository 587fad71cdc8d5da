//! WAMP v1 framing as Ratchet 0.4 speaks it to AutobahnJS 0.8 (push-protocol.md §5.3).
//!
//! Pure functions: decoding a client text frame into a [`ClientMessage`] and encoding the
//! server's WELCOME, CALLERROR and EVENT frames. The session task decides what to do.

use std::collections::HashMap;

use serde_json::Value;

/// Close code for a message that is not valid WAMP v1 (Ratchet closes with 1007).
pub const CLOSE_INVALID: u16 = 1007;
/// Close code for a client that publishes (decision 7: a valid code, not PHP's 0).
pub const CLOSE_POLICY: u16 = 1008;
/// Error URI sent in the CALLERROR answering any CALL; the push-server offers no procedures.
pub const CALL_ERROR_URI: &str = "http://volkszaehler.org/push#not-supported";

/// A decoded client message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// `[1, prefix, uri]`: remember a CURIE prefix for this connection.
    Prefix {
        /// The short prefix.
        prefix: String,
        /// The URI it stands for.
        uri: String,
    },
    /// `[2, callId, procUri, …]`: answered with CALLERROR.
    Call {
        /// The client's call id, echoed in the CALLERROR.
        call_id: String,
    },
    /// `[5, topic]`.
    Subscribe(String),
    /// `[6, topic]`.
    Unsubscribe(String),
    /// `[7, topic, event, …]`: clients may not publish; the connection is closed.
    Publish,
}

/// Why a client frame is not a valid WAMP v1 message; the connection is closed with 1007.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or JSON `null`.
    #[error("message is not JSON")]
    NotJson,
    /// Valid JSON but not a list.
    #[error("message is not a JSON list")]
    NotAList,
    /// The type id is missing or not one a client may send (1, 2, 5, 6, 7).
    #[error("unexpected message type {0}")]
    Type(String),
    /// A field has the wrong kind or is missing.
    #[error("malformed {0} message")]
    Shape(&'static str),
}

/// The per-connection CURIE table built from PREFIX messages.
#[derive(Debug, Default)]
pub struct Prefixes(HashMap<String, String>);

impl Prefixes {
    /// Records a prefix; a later PREFIX for the same name wins.
    pub fn insert(&mut self, prefix: String, uri: String) {
        self.0.insert(prefix, uri);
    }

    /// Number of prefixes defined.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no prefix is defined.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Resolves a topic the way Ratchet does: a string without `http(s)://` that contains `:`
    /// is split at the first `:`, and a known prefix becomes `<uri>#<rest>` (Ratchet's `#`, and it
    /// keeps only the part up to a second `:`). Bare volkszaehler UUIDs pass unchanged.
    pub fn resolve(&self, topic: &str) -> String {
        if has_http_scheme(topic) {
            return topic.to_owned();
        }
        let mut parts = topic.split(':');
        let (Some(prefix), Some(rest)) = (parts.next(), parts.next()) else {
            return topic.to_owned();
        };
        match self.0.get(prefix) {
            Some(uri) => format!("{uri}#{rest}"),
            None => topic.to_owned(),
        }
    }
}

/// Ratchet tests `http(s*)://` anywhere in the string.
fn has_http_scheme(topic: &str) -> bool {
    topic.match_indices("http").any(|(i, _)| {
        let tail = topic[i + 4..].trim_start_matches('s');
        tail.starts_with("://")
    })
}

/// Decodes one client text frame.
///
/// # Errors
/// [`DecodeError`] for anything Ratchet would close with 1007.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|_| DecodeError::NotJson)?;
    let items = match value {
        Value::Null => return Err(DecodeError::NotJson),
        Value::Array(items) => items,
        _ => return Err(DecodeError::NotAList),
    };
    // Ratchet accepts a string or a number as element [1] and nothing else.
    if let Some(second) = items.get(1)
        && !(second.is_string() || second.is_number())
    {
        return Err(DecodeError::Shape("WAMP"));
    }
    match message_type(items.first())? {
        1 => Ok(ClientMessage::Prefix {
            prefix: string_at(&items, 1, "PREFIX")?,
            uri: string_at(&items, 2, "PREFIX")?,
        }),
        2 => Ok(ClientMessage::Call {
            call_id: string_at(&items, 1, "CALL")?,
        }),
        5 => Ok(ClientMessage::Subscribe(string_at(&items, 1, "SUBSCRIBE")?)),
        6 => Ok(ClientMessage::Unsubscribe(string_at(
            &items,
            1,
            "UNSUBSCRIBE",
        )?)),
        7 => Ok(ClientMessage::Publish),
        other => Err(DecodeError::Type(other.to_string())),
    }
}

/// The type id, compared loosely as PHP does (`"5"` is 5).
fn message_type(first: Option<&Value>) -> Result<i64, DecodeError> {
    let id = match first {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    id.ok_or_else(|| {
        DecodeError::Type(first.map_or_else(|| "(missing)".to_owned(), Value::to_string))
    })
}

/// Element `i` as a string; numbers are accepted and printed, as PHP would coerce them.
fn string_at(items: &[Value], i: usize, what: &'static str) -> Result<String, DecodeError> {
    match items.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(DecodeError::Shape(what)),
    }
}

/// `[0, sessionId, 1, serverIdent]`, the first frame of every WAMP connection.
pub fn welcome(session_id: &str, server_ident: &str) -> String {
    format!(
        "[0,{},1,{}]",
        json_string(session_id),
        json_string(server_ident)
    )
}

/// `[4, callId, errorUri, errorDesc]`, the answer to every CALL.
pub fn call_error(call_id: &str) -> String {
    format!(
        "[4,{},{},{}]",
        json_string(call_id),
        json_string(CALL_ERROR_URI),
        json_string("Calls are not supported by the push-server")
    )
}

/// `[8, topic, "<content as a JSON string>"]`: the payload is encoded twice because the
/// volkszaehler frontend calls `JSON.parse` on the event.
pub fn event(topic: &str, content: &str) -> String {
    let mut out = String::with_capacity(content.len() + topic.len() + content.len() / 4 + 16);
    out.push_str("[8,");
    out.push_str(&json_string(topic));
    out.push(',');
    out.push_str(&json_string(content));
    out.push(']');
    out
}

fn json_string(text: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &Result<ClientMessage, DecodeError>) {
        assert_eq!(&decode(text), expect, "{text}");
    }

    #[test]
    fn client_messages() {
        let uuid = "0a2b7c10-1111-11eb-a092-174646e1882d";
        check(
            &format!("[5,\"{uuid}\"]"),
            &Ok(ClientMessage::Subscribe(uuid.into())),
        );
        check(
            &format!("[\"6\",\"{uuid}\"]"),
            &Ok(ClientMessage::Unsubscribe(uuid.into())),
        );
        check(
            "[1,\"vz\",\"http://volkszaehler.org/\"]",
            &Ok(ClientMessage::Prefix {
                prefix: "vz".into(),
                uri: "http://volkszaehler.org/".into(),
            }),
        );
        check(
            "[2,\"c1\",\"vz:proc\",1]",
            &Ok(ClientMessage::Call {
                call_id: "c1".into(),
            }),
        );
        check("[7,\"topic\",{\"a\":1}]", &Ok(ClientMessage::Publish));
    }

    #[test]
    fn invalid_messages() {
        check("nonsense", &Err(DecodeError::NotJson));
        check("null", &Err(DecodeError::NotJson));
        check("{\"5\":\"x\"}", &Err(DecodeError::NotAList));
        check("[8,\"t\",\"e\"]", &Err(DecodeError::Type("8".into())));
        check("[0,\"s\",1,\"x\"]", &Err(DecodeError::Type("0".into())));
        check("[]", &Err(DecodeError::Type("(missing)".into())));
        check("[5]", &Err(DecodeError::Shape("SUBSCRIBE")));
        check("[5,{\"a\":1}]", &Err(DecodeError::Shape("WAMP")));
    }

    #[test]
    fn curies_resolve_like_ratchet() {
        let mut prefixes = Prefixes::default();
        prefixes.insert("vz".into(), "http://volkszaehler.org/topic".into());
        assert_eq!(
            prefixes.resolve("vz:abc"),
            "http://volkszaehler.org/topic#abc"
        );
        assert_eq!(
            prefixes.resolve("vz:abc:def"),
            "http://volkszaehler.org/topic#abc"
        );
        assert_eq!(prefixes.resolve("other:abc"), "other:abc");
        assert_eq!(prefixes.resolve("http://x/y:z"), "http://x/y:z");
        let uuid = "0a2b7c10-1111-11eb-a092-174646e1882d";
        assert_eq!(prefixes.resolve(uuid), uuid);
    }

    #[test]
    fn server_frames() {
        assert_eq!(
            welcome("abc", "push-server/0.1"),
            "[0,\"abc\",1,\"push-server/0.1\"]"
        );
        assert_eq!(
            call_error("c1"),
            "[4,\"c1\",\"http://volkszaehler.org/push#not-supported\",\"Calls are not supported by the push-server\"]"
        );
        let content = "{\"version\":\"0.3\",\"data\":{\"uuid\":\"U\",\"tuples\":[[2,36000000,1]]}}";
        assert_eq!(
            event("U", content),
            "[8,\"U\",\"{\\\"version\\\":\\\"0.3\\\",\\\"data\\\":{\\\"uuid\\\":\\\"U\\\",\\\"tuples\\\":[[2,36000000,1]]}}\"]"
        );
    }
}
