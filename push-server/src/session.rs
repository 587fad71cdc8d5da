//! One task per WebSocket connection: read client frames, write queued frames, end on
//! eviction or shutdown.
//!
//! Each loop arm ends in one call. Writes are bounded by a timeout so a dead peer cannot pin the
//! task; the hub never waits for us, we drain our own queue. Frames that are already queued when
//! the session wakes up are written together with one flush (see [`BATCH_BYTES`]).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;
use tokio::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::{Frame, Hub, Interest, SessionId};
use crate::metrics::{CounterFamily, GaugeFamily, member};
use crate::protocol::wamp_v1::{self, ClientMessage, Prefixes};

/// Close code sent when the client is going away because the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code sent to a client evicted for not reading fast enough ("try again later").
pub const CLOSE_SLOW: u16 = 1013;
/// Close code for a plain-WebSocket client that sends anything (as in PHP).
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code for a client that asked for more than a connection may have (too many
/// subscriptions, an overlong topic) or did what this server refuses (PUBLISH).
pub const CLOSE_POLICY: u16 = 1008;

/// Most WAMP PREFIX definitions one connection may make (the frontend makes none).
const MAX_PREFIXES: usize = 64;

/// How long a closing session waits for the peer's close reply.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// Up to this many bytes of queued frames are written with one flush. Each frame is still its own
/// WebSocket message; only the number of socket writes changes. On loopback a socket write costs
/// about as much as the rest of a frame's delivery, so a client that fell behind catches up
/// instead of falling further behind. Bounded because the write buffer keeps its capacity.
pub const BATCH_BYTES: usize = 8 * 1024;

/// What every session needs.
pub struct SessionContext {
    /// The fan-out hub.
    pub hub: Arc<Hub>,
    /// Cancelled on server shutdown.
    pub shutdown: CancellationToken,
    /// Upper bound for one socket write (and the final close).
    pub write_timeout: Duration,
    /// The server ident in WAMP WELCOME.
    pub server_ident: String,
    /// Tracks session tasks so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    /// Ticks every ping interval, for all sessions: one server-wide timer instead of one per
    /// connection, which would cost each idle connection a timer allocation.
    pub ping_ticks: watch::Receiver<u64>,
    /// A client from which nothing (not even a pong) arrived for this long is disconnected,
    /// so dead peers do not hold a socket and a queue forever.
    pub idle_timeout: Duration,
    /// Open sessions by protocol and idle disconnections.
    pub stats: SessionStats,
}

/// Session counters by protocol.
#[derive(Debug, Clone)]
pub struct SessionStats {
    /// Open WAMP v1 sessions.
    pub wamp_open: Gauge,
    /// Open plain WebSocket sessions.
    pub plain_open: Gauge,
    /// WAMP v1 sessions started.
    pub wamp_total: Counter,
    /// Plain WebSocket sessions started.
    pub plain_total: Counter,
    /// Sessions ended because the client stayed silent past the idle timeout.
    pub idle_closed: Counter,
    open: GaugeFamily,
    total: CounterFamily,
}

impl Default for SessionStats {
    fn default() -> Self {
        let open = GaugeFamily::default();
        let total = CounterFamily::default();
        SessionStats {
            wamp_open: member(&open, "protocol", "wamp1"),
            plain_open: member(&open, "protocol", "plain"),
            wamp_total: member(&total, "protocol", "wamp1"),
            plain_total: member(&total, "protocol", "plain"),
            idle_closed: Counter::default(),
            open,
            total,
        }
    }
}

impl SessionStats {
    /// Registers the counters.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "websocket_connections",
            "Open WebSocket sessions by protocol",
            self.open.clone(),
        );
        registry.register(
            "websocket_sessions",
            "WebSocket sessions started by protocol",
            self.total.clone(),
        );
        registry.register(
            "websocket_idle_disconnects",
            "WebSocket clients disconnected after the idle timeout",
            self.idle_closed.clone(),
        );
    }
}

/// Counts a session as open while it lives.
struct OpenSession(Gauge);

impl OpenSession {
    fn new(open: &Gauge, total: &Counter) -> OpenSession {
        open.inc();
        total.inc();
        OpenSession(open.clone())
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Pings a silent client and tells when it has been silent too long.
struct Liveness {
    ticks: watch::Receiver<u64>,
    heard: Instant,
    timeout: Duration,
}

impl Liveness {
    fn new(ctx: &SessionContext) -> Liveness {
        let mut ticks = ctx.ping_ticks.clone();
        ticks.mark_unchanged();
        Liveness {
            ticks,
            heard: Instant::now(),
            timeout: ctx.idle_timeout,
        }
    }

    /// The next server-wide ping tick; never, once the ticker is gone (shutdown).
    async fn tick(ticks: &mut watch::Receiver<u64>) {
        if ticks.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    fn heard(&mut self) {
        self.heard = Instant::now();
    }

    /// On a tick: a ping to send, or the end of a client silent for too long.
    async fn on_tick(&mut self, socket: &mut WebSocket, ctx: &SessionContext) -> Option<End> {
        if self.heard.elapsed() >= self.timeout {
            ctx.stats.idle_closed.inc();
            return Some(End::Close(
                CLOSE_GOING_AWAY,
                "nothing received within the idle timeout".into(),
            ));
        }
        write(socket, ctx, Message::Ping(Default::default()))
            .await
            .err()
    }
}

/// Why a session loop ended.
enum End {
    /// The peer closed or the socket failed; nothing more to send.
    Gone,
    /// We close with this code and reason.
    Close(u16, String),
}

/// Runs a WAMP v1 session: WELCOME first, then PREFIX/SUBSCRIBE/UNSUBSCRIBE/CALL handling.
pub async fn wamp(mut socket: WebSocket, ctx: Arc<SessionContext>) {
    let _open = OpenSession::new(&ctx.stats.wamp_open, &ctx.stats.wamp_total);
    let mut liveness = Liveness::new(&ctx);
    let (id, mut queue) = ctx.hub.register(Interest::Topics);
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let welcome = wamp_v1::welcome(&session_id, &ctx.server_ident);
    let mut prefixes = Prefixes::default();
    let mut end = write(&mut socket, &ctx, Message::Text(welcome.into()))
        .await
        .err();
    while end.is_none() {
        end = tokio::select! {
            () = ctx.shutdown.cancelled() => Some(End::Close(CLOSE_GOING_AWAY, "server shutting down".into())),
            frame = queue.recv() => forward(&mut socket, &ctx, frame, &mut queue).await,
            () = Liveness::tick(&mut liveness.ticks) => liveness.on_tick(&mut socket, &ctx).await,
            message = socket.recv() => {
                liveness.heard();
                on_wamp_message(&mut socket, &ctx, id, &mut prefixes, message).await
            }
        };
    }
    finish(socket, &ctx, id, end).await;
}

/// Runs a plain WebSocket session: queued updates out, any client message closes (as in PHP).
pub async fn plain(mut socket: WebSocket, ctx: Arc<SessionContext>, interest: Interest) {
    let _open = OpenSession::new(&ctx.stats.plain_open, &ctx.stats.plain_total);
    let mut liveness = Liveness::new(&ctx);
    let (id, mut queue) = ctx.hub.register(interest);
    let mut end = None;
    while end.is_none() {
        end = tokio::select! {
            () = ctx.shutdown.cancelled() => Some(End::Close(CLOSE_GOING_AWAY, "server shutting down".into())),
            frame = queue.recv() => forward(&mut socket, &ctx, frame, &mut queue).await,
            () = Liveness::tick(&mut liveness.ticks) => liveness.on_tick(&mut socket, &ctx).await,
            message = socket.recv() => {
                liveness.heard();
                match message {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => Some(End::Gone),
                    Some(Ok(_)) => Some(End::Close(CLOSE_NORMAL, "this route only sends".into())),
                }
            }
        };
    }
    finish(socket, &ctx, id, end).await;
}

/// Writes a queued frame and those queued behind it; the end of the queue means the hub evicted
/// us.
async fn forward(
    socket: &mut WebSocket,
    ctx: &SessionContext,
    frame: Option<Frame>,
    queue: &mut mpsc::Receiver<Frame>,
) -> Option<End> {
    let Some(frame) = frame else {
        return Some(End::Close(CLOSE_SLOW, "client too slow, reconnect".into()));
    };
    match tokio::time::timeout(ctx.write_timeout, write_batch(socket, frame, queue)).await {
        Ok(Ok(())) => None,
        Ok(Err(_)) | Err(_) => Some(End::Gone),
    }
}

/// Feeds `first` and what is already queued (up to [`BATCH_BYTES`]), then flushes once. A frame
/// left in the queue is written on the next loop turn; an evicted session still drains its queue
/// before it sees the end.
async fn write_batch(
    socket: &mut WebSocket,
    first: Frame,
    queue: &mut mpsc::Receiver<Frame>,
) -> Result<(), axum::Error> {
    let mut bytes = first.len();
    socket.feed(Message::Text(first)).await?;
    while bytes < BATCH_BYTES {
        let Ok(frame) = queue.try_recv() else {
            break;
        };
        bytes += frame.len();
        socket.feed(Message::Text(frame)).await?;
    }
    socket.flush().await
}

async fn on_wamp_message(
    socket: &mut WebSocket,
    ctx: &SessionContext,
    id: SessionId,
    prefixes: &mut Prefixes,
    message: Option<Result<Message, axum::Error>>,
) -> Option<End> {
    let text = match message {
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => return None,
        Some(Ok(Message::Binary(_))) => {
            return Some(End::Close(
                wamp_v1::CLOSE_INVALID,
                "WAMP v1 uses text frames".into(),
            ));
        }
        Some(Ok(Message::Close(_)) | Err(_)) | None => return Some(End::Gone),
    };
    match wamp_v1::decode(&text) {
        Ok(ClientMessage::Subscribe(topic)) => {
            // WAMP v1 has no answer to SUBSCRIBE, so a refusal can only close the connection;
            // only a client far outside what the frontend does gets here.
            if let Err(err) = ctx.hub.subscribe(id, &prefixes.resolve(&topic)) {
                return Some(End::Close(CLOSE_POLICY, err.to_string()));
            }
        }
        Ok(ClientMessage::Unsubscribe(topic)) => ctx.hub.unsubscribe(id, &prefixes.resolve(&topic)),
        Ok(ClientMessage::Prefix { prefix, uri }) => {
            // Prefixes are per connection; bound them like subscriptions.
            let limits = ctx.hub.limits();
            if prefix.len() + uri.len() > limits.max_topic_len || prefixes.len() >= MAX_PREFIXES {
                return Some(End::Close(
                    CLOSE_POLICY,
                    "too many or too long prefixes".into(),
                ));
            }
            prefixes.insert(prefix, uri);
        }
        Ok(ClientMessage::Call { call_id }) => {
            let answer = Message::Text(wamp_v1::call_error(&call_id).into());
            return write(socket, ctx, answer).await.err();
        }
        Ok(ClientMessage::Publish) => {
            return Some(End::Close(
                wamp_v1::CLOSE_POLICY,
                "publishing is not allowed".into(),
            ));
        }
        Err(err) => return Some(End::Close(wamp_v1::CLOSE_INVALID, err.to_string())),
    }
    None
}

async fn write(socket: &mut WebSocket, ctx: &SessionContext, message: Message) -> Result<(), End> {
    match tokio::time::timeout(ctx.write_timeout, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(End::Gone),
    }
}

/// Leaves the hub and, unless the peer is gone, sends a close frame.
async fn finish(mut socket: WebSocket, ctx: &SessionContext, id: SessionId, end: Option<End>) {
    ctx.hub.unregister(id);
    if let Some(End::Close(code, reason)) = end {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        let _ =
            tokio::time::timeout(ctx.write_timeout, socket.send(Message::Close(Some(frame)))).await;
        // Give the peer a moment to answer the close so the TCP connection ends cleanly.
        let patience = ctx.write_timeout.min(CLOSE_HANDSHAKE);
        let _ = tokio::time::timeout(patience, async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await;
    }
}
