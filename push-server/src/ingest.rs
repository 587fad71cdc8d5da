//! The vzlogger side: `POST` (any path) with `{"data":[{"uuid","tuples"}]}`.
//!
//! Every valid channel of a push is converted and broadcast even when others are rejected
//! (decision 2); the answer is 200 only when all were accepted, otherwise a 4xx (or 503 while
//! the database is unreachable) whose volkszaehler exception JSON names every rejected channel.
//! Publishing never waits for a WebSocket client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use push_core::convert::Outcome;
use push_core::payload::{self, ChannelEntry, ChannelPush, PayloadError};
use push_core::reading::Converted;

use crate::channels::{Channels, LookupError, lock};
use crate::hub::Hub;
use crate::protocol::{self, write_json_string};

/// Counters of what ingest did with the tuples it received.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Requests answered.
    pub pushes: AtomicU64,
    /// Tuples converted and broadcast.
    pub converted: AtomicU64,
    /// First tuples of a channel, used only to prime its state.
    pub primed: AtomicU64,
    /// Accumulator readings equal to the previous one, suppressed.
    pub duplicates: AtomicU64,
    /// Tuples whose timestamp was not after the channel's last one, dropped (decision 3).
    pub out_of_order: AtomicU64,
    /// Tuples whose conversion gave no finite number (e.g. a stored resolution of 0).
    pub non_finite: AtomicU64,
    /// Channels rejected (unknown, group, malformed, database unavailable).
    pub rejected_channels: AtomicU64,
}

/// What the ingest handler needs.
pub struct IngestState {
    /// Channel metadata and conversion state.
    pub channels: Channels,
    /// Where converted updates go.
    pub hub: Arc<Hub>,
    /// Counters.
    pub stats: IngestStats,
    /// The body limit, for the 413 message.
    pub post_limit: usize,
}

/// One rejected channel of a push.
struct Rejection {
    index: usize,
    uuid: Option<String>,
    kind: &'static str,
    status: StatusCode,
    message: String,
}

/// Handles one push. Registered as the fallback of the ingest router, so any method and path
/// work as in PHP.
pub async fn handle(
    State(state): State<Arc<IngestState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state.stats.pushes.fetch_add(1, Ordering::Relaxed);
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!(
                "Request body exceeds the limit of {} bytes",
                state.post_limit
            );
            return exception(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", &message);
        }
        Err(rejection) => {
            return exception(rejection.status(), "InvalidRequest", &rejection.body_text());
        }
    };
    let push = match payload::parse(&body) {
        Ok(push) => push,
        Err(err) => {
            return exception(
                StatusCode::BAD_REQUEST,
                payload_error_type(&err),
                &err.to_string(),
            );
        }
    };

    let mut accepted = String::with_capacity(64 + body.len() / 2);
    let mut rejections = Vec::new();
    for (index, entry) in push.channels.into_iter().enumerate() {
        match entry {
            ChannelEntry::Valid(channel) => match ingest_channel(&state, &channel).await {
                Ok(tuples) => {
                    if !accepted.is_empty() {
                        accepted.push(',');
                    }
                    protocol::write_channel(&mut accepted, &channel.uuid, &tuples);
                }
                Err(err) => rejections.push(lookup_rejection(index, channel.uuid, &err)),
            },
            ChannelEntry::Invalid(invalid) => rejections.push(Rejection {
                index,
                uuid: invalid.uuid,
                kind: "InvalidChannel",
                status: StatusCode::BAD_REQUEST,
                message: invalid.error.to_string(),
            }),
        }
    }
    state
        .stats
        .rejected_channels
        .fetch_add(rejections.len() as u64, Ordering::Relaxed);
    respond(&accepted, &rejections)
}

/// Converts one channel's tuples and broadcasts the result.
async fn ingest_channel(
    state: &IngestState,
    push: &ChannelPush,
) -> Result<Vec<Converted>, LookupError> {
    let channel = state.channels.get(&push.uuid).await?;
    let mut converted = Vec::with_capacity(push.tuples.len());
    let stats = &state.stats;
    // The channel stays locked while its tuples convert and publish, so two concurrent pushes
    // of one channel are broadcast in the order their state changed.
    let mut channel = lock(&channel);
    for tuple in &push.tuples {
        match channel.converter.convert(tuple) {
            Outcome::Converted(tuple) => converted.push(tuple),
            Outcome::Primed => count(&stats.primed),
            Outcome::Duplicate => count(&stats.duplicates),
            Outcome::OutOfOrder => count(&stats.out_of_order),
            Outcome::NonFinite => count(&stats.non_finite),
        }
    }
    if !converted.is_empty() {
        stats
            .converted
            .fetch_add(converted.len() as u64, Ordering::Relaxed);
        state.hub.publish(
            &push.uuid,
            &protocol::update_content(&push.uuid, &converted),
        );
    }
    Ok(converted)
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn lookup_rejection(index: usize, uuid: String, err: &LookupError) -> Rejection {
    let (kind, status) = match err {
        LookupError::InvalidUuid(_) => ("InvalidUuid", StatusCode::BAD_REQUEST),
        LookupError::Unknown(_) => ("UnknownChannel", StatusCode::NOT_FOUND),
        LookupError::Group(_) => ("GroupNotSupported", StatusCode::BAD_REQUEST),
        LookupError::UnknownType { .. } => ("UnknownType", StatusCode::UNPROCESSABLE_ENTITY),
        LookupError::Unavailable { .. } => ("DatabaseUnavailable", StatusCode::SERVICE_UNAVAILABLE),
    };
    Rejection {
        index,
        uuid: Some(uuid),
        kind,
        status,
        message: err.to_string(),
    }
}

fn payload_error_type(err: &PayloadError) -> &'static str {
    match err {
        PayloadError::InvalidJson { .. } => "InvalidJson",
        _ => "InvalidPayload",
    }
}

/// 200 with the converted tuples when nothing was rejected. Otherwise the most telling status
/// (503 beats 400 beats 422 beats 404) with the accepted channels' tuples still listed, so a
/// client sees what was broadcast, and an exception naming each rejected channel.
fn respond(accepted: &str, rejections: &[Rejection]) -> Response {
    let mut body = String::with_capacity(accepted.len() + 64 + rejections.len() * 96);
    body.push_str("{\"version\":\"0.3\",\"data\":[");
    body.push_str(accepted);
    body.push(']');
    let Some(status) = rejections
        .iter()
        .map(|r| r.status)
        .max_by_key(|s| status_rank(*s))
    else {
        body.push('}');
        return json(StatusCode::OK, body);
    };
    let message = rejections
        .iter()
        .map(|r| r.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let kind = if rejections.iter().all(|r| r.kind == rejections[0].kind) {
        rejections[0].kind
    } else {
        "ChannelsRejected"
    };
    body.push_str(",\"exception\":{\"message\":");
    write_json_string(&mut body, &message);
    body.push_str(",\"type\":");
    write_json_string(&mut body, kind);
    body.push_str(&format!(",\"code\":{},\"channels\":[", status.as_u16()));
    for (i, rejection) in rejections.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("{{\"index\":{},\"uuid\":", rejection.index));
        match &rejection.uuid {
            Some(uuid) => write_json_string(&mut body, uuid),
            None => body.push_str("null"),
        }
        body.push_str(",\"type\":");
        write_json_string(&mut body, rejection.kind);
        body.push_str(",\"message\":");
        write_json_string(&mut body, &rejection.message);
        body.push('}');
    }
    body.push_str("]}}");
    json(status, body)
}

fn status_rank(status: StatusCode) -> u8 {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => 4,
        StatusCode::BAD_REQUEST => 3,
        StatusCode::UNPROCESSABLE_ENTITY => 2,
        _ => 1,
    }
}

/// `{"version":"0.3","exception":{"message","type","code"}}`, the volkszaehler error shape.
pub fn exception(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut body = String::from("{\"version\":\"0.3\",\"exception\":{\"message\":");
    write_json_string(&mut body, message);
    body.push_str(",\"type\":");
    write_json_string(&mut body, kind);
    body.push_str(&format!(",\"code\":{}}}}}", status.as_u16()));
    json(status, body)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
