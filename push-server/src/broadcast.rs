//! The broadcast port's router: WAMP v1 routes and plain WebSocket routes, each an exact path.
//!
//! Handshake rules follow Ratchet's strict subprotocol check (push-protocol.md §5.2): a WAMP
//! route requires the client to offer `wamp`; a plain route refuses any subprotocol. Both
//! refusals are `426` with the suggestion headers Ratchet sends.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::hub::Interest;
use crate::session::{self, SessionContext};

/// Socket tuning: small buffers keep an idle connection at a few KiB (tungstenite allocates its
/// read buffer up front, 128 KiB by default, and zero-fills all of it before every read).
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// Read buffer per connection. Clients send only small WAMP messages; a larger message still
    /// fits, as the buffer grows to the frame's length.
    pub read_buffer: usize,
    /// Bytes buffered before a write goes to the socket; sessions flush after each batch of
    /// queued frames, so this only lets one batch become one socket write.
    pub write_buffer: usize,
    /// Hard cap of the write buffer; past it the connection fails instead of growing.
    pub max_write_buffer: usize,
    /// Largest inbound message; clients only send tiny WAMP calls.
    pub max_message: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            read_buffer: 1024,
            write_buffer: crate::session::BATCH_BYTES,
            max_write_buffer: 1 << 20,
            max_message: 64 << 10,
        }
    }
}

#[derive(Clone)]
struct RouteState {
    ctx: Arc<SessionContext>,
    limits: SocketLimits,
}

/// Builds the broadcast router. A path listed for both protocols speaks WAMP (PHP adds WAMP
/// routes first and the first match wins).
pub fn router(
    ctx: Arc<SessionContext>,
    limits: SocketLimits,
    wamp: &[String],
    plain: &[String],
) -> Router {
    let state = RouteState { ctx, limits };
    let mut router = Router::new();
    // A route listed twice would be a conflict for the router; the first mention wins.
    let mut seen = std::collections::HashSet::new();
    for path in wamp {
        if seen.insert(path) {
            router = router.route(path, get(wamp_route));
        }
    }
    for path in plain {
        if seen.insert(path) {
            router = router.route(path, get(plain_route));
        }
    }
    router.with_state(state)
}

fn tune(ws: WebSocketUpgrade, limits: SocketLimits) -> WebSocketUpgrade {
    ws.read_buffer_size(limits.read_buffer)
        .write_buffer_size(limits.write_buffer)
        .max_write_buffer_size(limits.max_write_buffer)
        .max_message_size(limits.max_message)
        .max_frame_size(limits.max_message)
}

async fn wamp_route(State(state): State<RouteState>, ws: WebSocketUpgrade) -> Response {
    let ws = ws.protocols(["wamp"]);
    if ws.selected_protocol().is_none() {
        return refuse(true);
    }
    let ctx = state.ctx.clone();
    let tracker = ctx.tracker.clone();
    tune(ws, state.limits)
        .on_upgrade(move |socket| tracker.track_future(session::wamp(socket, ctx)))
}

async fn plain_route(
    State(state): State<RouteState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL) {
        return refuse(false);
    }
    let channels = uuid_filter(query.as_deref().unwrap_or(""));
    let interest = if channels.is_empty() {
        Interest::Everything
    } else {
        Interest::Channels(channels)
    };
    if let Err(err) = state.ctx.hub.check_interest(&interest) {
        state.ctx.hub.stats().refused_subscriptions.inc();
        return (
            StatusCode::BAD_REQUEST,
            format!("uuid filter refused: {err}"),
        )
            .into_response();
    }
    let ctx = state.ctx.clone();
    let tracker = ctx.tracker.clone();
    tune(ws, state.limits)
        .on_upgrade(move |socket| tracker.track_future(session::plain(socket, ctx, interest)))
}

/// Ratchet's answer to an unacceptable subprotocol offer.
fn refuse(wamp: bool) -> Response {
    let mut response = (
        StatusCode::UPGRADE_REQUIRED,
        "No Sec-WebSocket-Protocols requested supported",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    if wamp {
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("wamp"),
        );
    }
    response
}

/// The channels a plain client asked for: every `uuid=` (or `uuid[]=`) parameter, also
/// comma-separated lists.
fn uuid_filter(query: &str) -> Vec<String> {
    let mut channels = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if matches!(percent_decode(key).as_str(), "uuid" | "uuid[]") {
            channels.extend(
                percent_decode(value)
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    channels
}

fn percent_decode(text: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i..] {
            [b'%', high, low, ..] => hex(high).zip(hex(low)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (decoded, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::uuid_filter;

    #[test]
    fn uuid_filters_from_the_query() {
        assert!(uuid_filter("").is_empty());
        assert_eq!(uuid_filter("uuid=a&uuid=b"), ["a", "b"]);
        assert_eq!(uuid_filter("uuid%5B%5D=a&x=1&uuid[]=b,c"), ["a", "b", "c"]);
        assert_eq!(uuid_filter("uuid=%61bc"), ["abc"]);
        assert_eq!(uuid_filter("uuid=50%"), ["50%"]);
    }
}
