//! One task per WebSocket connection: read client frames, write queued frames, end on
//! eviction or shutdown.
//!
//! Each loop arm ends in one call. Writes are bounded by a timeout so a dead peer cannot pin the
//! task; the hub never waits for us, we drain our own queue. Frames that are already queued when
//! the session wakes up are written together with one flush (see [`BATCH_BYTES`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::{Frame, Hub, Interest, SessionId};
use crate::protocol::wamp_v1::{self, ClientMessage, Prefixes};

/// Close code sent when the client is going away because the server shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code sent to a client evicted for not reading fast enough ("try again later").
pub const CLOSE_SLOW: u16 = 1013;
/// Close code for a plain-WebSocket client that sends anything (as in PHP).
pub const CLOSE_NORMAL: u16 = 1000;

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
            message = socket.recv() => on_wamp_message(&mut socket, &ctx, id, &mut prefixes, message).await,
        };
    }
    finish(socket, &ctx, id, end).await;
}

/// Runs a plain WebSocket session: queued updates out, any client message closes (as in PHP).
pub async fn plain(mut socket: WebSocket, ctx: Arc<SessionContext>, interest: Interest) {
    let (id, mut queue) = ctx.hub.register(interest);
    let mut end = None;
    while end.is_none() {
        end = tokio::select! {
            () = ctx.shutdown.cancelled() => Some(End::Close(CLOSE_GOING_AWAY, "server shutting down".into())),
            frame = queue.recv() => forward(&mut socket, &ctx, frame, &mut queue).await,
            message = socket.recv() => match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                Some(Ok(Message::Close(_)) | Err(_)) | None => Some(End::Gone),
                Some(Ok(_)) => Some(End::Close(CLOSE_NORMAL, "this route only sends".into())),
            },
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
        Ok(ClientMessage::Subscribe(topic)) => ctx.hub.subscribe(id, &prefixes.resolve(&topic)),
        Ok(ClientMessage::Unsubscribe(topic)) => ctx.hub.unsubscribe(id, &prefixes.resolve(&topic)),
        Ok(ClientMessage::Prefix { prefix, uri }) => prefixes.insert(prefix, uri),
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
