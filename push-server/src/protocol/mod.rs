//! What goes over the broadcast port: the update content shared by all protocols, and the
//! protocol-specific framing (WAMP v1 in [`wamp_v1`]; plain WebSocket sends the content as is).

pub mod wamp_v1;

use push_core::reading::Converted;

/// The protocols spoken on the broadcast port; chosen by route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// WAMP v1 (subprotocol `wamp`), the volkszaehler frontend.
    WampV1,
    /// Plain WebSocket without subprotocol, e.g. node-red: every update as one text frame.
    Plain,
}

/// `{"version":"0.3","data":{"uuid":…,"tuples":[…]}}`: one channel's update, exactly as the PHP
/// push-server hands it to its adapters (note `data` is an object here, an array in the HTTP
/// response).
pub fn update_content(uuid: &str, tuples: &[Converted]) -> String {
    let mut out = String::with_capacity(48 + uuid.len() + tuples.len() * 32);
    out.push_str("{\"version\":\"0.3\",\"data\":");
    write_channel(&mut out, uuid, tuples);
    out.push('}');
    out
}

/// `{"uuid":…,"tuples":[…]}`, shared by the broadcast content and the HTTP response.
pub fn write_channel(out: &mut String, uuid: &str, tuples: &[Converted]) {
    out.push_str("{\"uuid\":");
    write_json_string(out, uuid);
    out.push_str(",\"tuples\":[");
    for (i, tuple) in tuples.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tuple.write_json(out);
    }
    out.push_str("]}");
}

/// Appends `text` as a JSON string literal.
pub fn write_json_string(out: &mut String, text: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}
