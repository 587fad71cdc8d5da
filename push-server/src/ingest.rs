//! The vzlogger side: `POST` (any path) with `{"data":[{"uuid","tuples"}]}`.
//!
//! Every valid channel of a push is converted and broadcast even when others are rejected
//! (decision 2); the answer is 200 only when all were accepted, otherwise a 4xx (or 503 while
//! the database is unreachable) whose volkszaehler exception JSON names every rejected channel.
//! Publishing never waits for a WebSocket client.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use push_core::convert::Outcome;
use push_core::payload::{self, ChannelEntry, ChannelPush, PayloadError};
use push_core::reading::Converted;
use push_core::timestamp::{TimestampError, Window};

use crate::channels::{Channels, LookupError, lock};
use crate::hub::Hub;
use crate::metrics::{CounterFamily, member};
use crate::protocol::{self, write_json_string};
use crate::throttle::Throttle;

/// Counters of what ingest did with the pushes and tuples it received, registered as metrics.
#[derive(Debug, Clone)]
pub struct IngestStats {
    /// Requests answered.
    pub pushes: Counter,
    /// Tuples converted and broadcast.
    pub converted: Counter,
    /// First tuples of a channel, used only to prime its state.
    pub primed: Counter,
    /// Accumulator readings equal to the previous one, suppressed.
    pub duplicates: Counter,
    /// Tuples whose timestamp was not after the channel's last one, dropped (decision 3).
    pub out_of_order: Counter,
    /// Tuples whose conversion gave no finite number (e.g. a stored resolution of 0).
    pub non_finite: Counter,
    /// Channels rejected (unknown, group, malformed, implausible time, database unavailable).
    pub rejected_channels: Counter,
    /// Tuples by what happened to them (`vz_tuples_total{outcome}`).
    tuples: CounterFamily,
    /// Rejected channels by kind (`vz_channel_rejections_total{kind}`).
    channel_rejections: CounterFamily,
    /// Whole pushes refused (`vz_push_rejections_total{kind}`).
    push_rejections: CounterFamily,
    /// Time from the request head to the answer.
    pub latency: Histogram,
}

impl Default for IngestStats {
    fn default() -> Self {
        let tuples = CounterFamily::default();
        IngestStats {
            pushes: Counter::default(),
            converted: member(&tuples, "outcome", "converted"),
            primed: member(&tuples, "outcome", "primed"),
            duplicates: member(&tuples, "outcome", "duplicate"),
            out_of_order: member(&tuples, "outcome", "out_of_order"),
            non_finite: member(&tuples, "outcome", "non_finite"),
            rejected_channels: Counter::default(),
            tuples,
            channel_rejections: CounterFamily::default(),
            push_rejections: CounterFamily::default(),
            // 50 µs … ~1.6 s
            latency: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.000_05, 2.0, 16,
            )),
        }
    }
}

impl IngestStats {
    /// Registers the counters.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("pushes", "Push requests answered", self.pushes.clone());
        registry.register(
            "tuples",
            "Pushed tuples by outcome (converted, or dropped and why)",
            self.tuples.clone(),
        );
        registry.register(
            "channel_rejections",
            "Channels of a push rejected, by kind",
            self.channel_rejections.clone(),
        );
        registry.register(
            "push_rejections",
            "Whole pushes refused (too large, unreadable, too slow), by kind",
            self.push_rejections.clone(),
        );
        registry.register(
            "ingest_duration_seconds",
            "Time to answer a push",
            self.latency.clone(),
        );
    }

    fn reject_channel(&self, kind: &str) {
        self.rejected_channels.inc();
        self.channel_rejections
            .get_or_create(&[("kind", metric_kind(kind))])
            .inc();
    }

    fn reject_push(&self, kind: &'static str) {
        self.push_rejections.get_or_create(&[("kind", kind)]).inc();
    }
}

/// The metric label of a rejection type (a fixed set; anything else is `other`).
fn metric_kind(kind: &str) -> &'static str {
    match kind {
        "InvalidUuid" => "invalid_uuid",
        "UnknownChannel" => "unknown_channel",
        "GroupNotSupported" => "group",
        "UnknownType" => "unknown_type",
        "DatabaseUnavailable" => "database_unavailable",
        "InvalidChannel" => "invalid_channel",
        "InvalidTimestamp" => "invalid_timestamp",
        _ => "other",
    }
}

/// Limits of one push.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IngestLimits {
    /// The body limit in bytes; larger is 413.
    pub post_limit: usize,
    /// Time to receive the whole body once the head arrived; slower is 408.
    pub body_timeout: Duration,
    /// How far ahead of the server clock a tuple's timestamp may be.
    pub max_ahead: Duration,
}

/// What the ingest handler needs.
pub struct IngestState {
    /// Channel metadata and conversion state.
    pub channels: Arc<Channels>,
    /// Where converted updates go.
    pub hub: Arc<Hub>,
    /// Counters.
    pub stats: IngestStats,
    /// Body size and time limits.
    pub limits: IngestLimits,
    /// At most a few log lines a second about rejected pushes.
    pub log: Throttle,
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
pub async fn handle(State(state): State<Arc<IngestState>>, request: Request) -> Response {
    let started = Instant::now();
    state.stats.pushes.inc();
    let response = match read_body(&state, request.into_body()).await {
        Ok(body) => ingest(&state, &body).await,
        Err(response) => response,
    };
    state.stats.latency.observe(started.elapsed().as_secs_f64());
    response
}

/// The body within the size and time limits, or the 413/408/400 answer.
async fn read_body(state: &IngestState, body: Body) -> Result<Bytes, Response> {
    let limits = &state.limits;
    let refuse = |status: StatusCode, kind: &'static str, metric: &'static str, message: String| {
        state.stats.reject_push(metric);
        state
            .log
            .log(|| tracing::warn!(status = status.as_u16(), kind, "push refused: {message}"));
        exception(status, kind, &message)
    };
    match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.post_limit),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) if is_length_limit(&err) => Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "too_large",
            format!(
                "Request body exceeds the limit of {} bytes",
                limits.post_limit
            ),
        )),
        Ok(Err(err)) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "unreadable",
            format!("Cannot read the request body: {err}"),
        )),
        Err(_elapsed) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            "body_timeout",
            format!(
                "Request body not received within {} s",
                limits.body_timeout.as_secs_f64()
            ),
        )),
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

async fn ingest(state: &IngestState, body: &[u8]) -> Response {
    let push = match payload::parse(body) {
        Ok(push) => push,
        Err(err) => {
            let kind = payload_error_type(&err);
            state.stats.reject_push(match kind {
                "InvalidJson" => "invalid_json",
                _ => "invalid_payload",
            });
            state
                .log
                .log(|| tracing::warn!(kind, "push refused: {err}"));
            return exception(StatusCode::BAD_REQUEST, kind, &err.to_string());
        }
    };
    let window = Window::at(now_ms(), state.limits.max_ahead.as_secs_f64() * 1000.0);

    let mut accepted = String::with_capacity(64 + body.len() / 2);
    let mut rejections = Vec::new();
    for (index, entry) in push.channels.into_iter().enumerate() {
        match entry {
            ChannelEntry::Valid(channel) => match ingest_channel(state, &channel, window).await {
                Ok(tuples) => {
                    if !accepted.is_empty() {
                        accepted.push(',');
                    }
                    protocol::write_channel(&mut accepted, &channel.uuid, &tuples);
                }
                Err(err) => rejections.push(channel_rejection(index, channel.uuid, &err)),
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
    for rejection in &rejections {
        state.stats.reject_channel(rejection.kind);
    }
    if let Some(first) = rejections.first() {
        state.log.log(|| {
            tracing::warn!(
                rejected = rejections.len(),
                uuid = first.uuid.as_deref().unwrap_or("-"),
                kind = first.kind,
                "push rejected in part: {}",
                first.message
            );
        });
    }
    respond(&accepted, &rejections)
}

/// The server clock in Unix milliseconds.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Why one valid-looking channel entry was not converted.
enum ChannelError {
    Lookup(LookupError),
    Timestamp(TimestampError),
}

/// Converts one channel's tuples and broadcasts the result. A tuple outside the plausible time
/// window refuses the whole channel entry before anything touches its state.
async fn ingest_channel(
    state: &IngestState,
    push: &ChannelPush,
    window: Window,
) -> Result<Vec<Converted>, ChannelError> {
    if let Some(err) = push.tuples.iter().find_map(|t| window.check(t.ts()).err()) {
        return Err(ChannelError::Timestamp(err));
    }
    let channel = state
        .channels
        .get(&push.uuid)
        .await
        .map_err(ChannelError::Lookup)?;
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
        stats.converted.inc_by(converted.len() as u64);
        state.hub.publish(
            &push.uuid,
            &protocol::update_content(&push.uuid, &converted),
        );
    }
    Ok(converted)
}

fn count(counter: &Counter) {
    counter.inc();
}

fn channel_rejection(index: usize, uuid: String, err: &ChannelError) -> Rejection {
    let (kind, status, message) = match err {
        ChannelError::Lookup(err) => {
            let (kind, status) = match err {
                LookupError::InvalidUuid(_) => ("InvalidUuid", StatusCode::BAD_REQUEST),
                LookupError::Unknown(_) => ("UnknownChannel", StatusCode::NOT_FOUND),
                LookupError::Group(_) => ("GroupNotSupported", StatusCode::BAD_REQUEST),
                LookupError::UnknownType { .. } => {
                    ("UnknownType", StatusCode::UNPROCESSABLE_ENTITY)
                }
                LookupError::Unavailable(_) => {
                    ("DatabaseUnavailable", StatusCode::SERVICE_UNAVAILABLE)
                }
            };
            (kind, status, err.to_string())
        }
        ChannelError::Timestamp(err) => (
            "InvalidTimestamp",
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Channel '{uuid}': {err}"),
        ),
    };
    Rejection {
        index,
        uuid: Some(uuid),
        kind,
        status,
        message,
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
