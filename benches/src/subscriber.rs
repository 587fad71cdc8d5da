//! WebSocket subscribers: connect (from a chosen 127.0.0.x source address), subscribe, then
//! record every frame's latency and sequence number in the shared [`Probe`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use crate::histogram::Histogram;
use crate::http;
use crate::target::{Target, parse_frame};

/// A connected subscriber.
pub type Socket = WebSocketStream<TcpStream>;

/// What all subscribers record, and the clock and numbering the publishers stamp readings with.
///
/// A reading's timestamp is `t0_ms + seq` (strictly increasing, a global push sequence number)
/// and its value the send time in microseconds since `epoch`, so a frame tells which push it
/// belongs to and how long it took.
pub struct Probe {
    /// The clock readings are stamped with.
    pub epoch: Instant,
    /// Timestamp of sequence number 0, in Unix milliseconds.
    pub t0_ms: u64,
    /// First sequence number of the measured pushes; earlier frames are warm-up. `u64::MAX`
    /// until measuring starts.
    pub measure_from: AtomicU64,
    /// Push → frame latency of measured frames, µs.
    pub latency: Histogram,
    /// Measured frames received.
    pub received: AtomicU64,
    /// Their payload bytes.
    pub received_bytes: AtomicU64,
    /// Subscribers that have received at least one warm-up frame.
    pub warm: AtomicU64,
    /// Subscribers whose connection ended before they were told to stop.
    pub disconnected: AtomicU64,
    /// Frames that carried no readable tuple.
    pub unreadable: AtomicU64,
    /// When the last measured frame arrived, µs since `epoch`.
    pub last_frame_us: AtomicU64,
    /// Per measured push (`seq - measure_from`): the latency of its last receiver, µs.
    pub per_push_max: Box<[AtomicU32]>,
}

impl Probe {
    /// A probe for up to `pushes` measured pushes.
    pub fn new(pushes: usize) -> Probe {
        let t0_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Probe {
            epoch: Instant::now(),
            t0_ms,
            measure_from: AtomicU64::new(u64::MAX),
            latency: Histogram::default(),
            received: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            warm: AtomicU64::new(0),
            disconnected: AtomicU64::new(0),
            unreadable: AtomicU64::new(0),
            last_frame_us: AtomicU64::new(0),
            per_push_max: (0..pushes).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Microseconds since `epoch`.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn on_frame(&self, text: &str, warmed: &mut bool) {
        let now = self.now_us();
        let Some((ts, sent_us)) = parse_frame(text) else {
            self.unreadable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let seq = ts.wrapping_sub(self.t0_ms);
        let from = self.measure_from.load(Ordering::Relaxed);
        if seq >= from {
            let latency = now.saturating_sub(sent_us);
            self.latency.record(latency);
            self.received.fetch_add(1, Ordering::Relaxed);
            self.received_bytes
                .fetch_add(text.len() as u64, Ordering::Relaxed);
            self.last_frame_us.fetch_max(now, Ordering::Relaxed);
            if let Some(slot) = usize::try_from(seq - from)
                .ok()
                .and_then(|i| self.per_push_max.get(i))
            {
                slot.fetch_max(
                    u32::try_from(latency).unwrap_or(u32::MAX),
                    Ordering::Relaxed,
                );
            }
        } else if !*warmed {
            *warmed = true;
            self.warm.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Small buffers: tens of thousands of these live in one process.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Opens a subscriber of `channel`: handshake, and for WAMP the WELCOME and a SUBSCRIBE.
///
/// # Errors
/// Connecting, the handshake or the WELCOME fails.
pub async fn connect(
    target: &Target,
    channel: &str,
    source: Option<IpAddr>,
) -> anyhow::Result<Socket> {
    let stream = http::connect(target.subscribe.addr, source)
        .await
        .context("TCP connect")?;
    let (path, subprotocol) = target.subscribe_path(channel);
    let mut request = format!("ws://{}{path}", target.subscribe.host).into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(subprotocol),
        );
    }
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
            .await
            .context("WebSocket handshake")?;
    if target.is_wamp_session() {
        match socket.next().await {
            Some(Ok(Message::Text(welcome))) if welcome.starts_with("[0,") => {}
            other => bail!("expected WAMP WELCOME, got {other:?}"),
        }
        socket
            .send(Message::text(format!("[5,\"{channel}\"]")))
            .await
            .context("SUBSCRIBE")?;
    }
    Ok(socket)
}

/// Reads frames into `probe` until `stop` or the connection ends.
pub async fn listen(mut socket: Socket, probe: &Probe, stop: &CancellationToken) {
    let mut warmed = false;
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return,
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => probe.on_frame(&text, &mut warmed),
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                if !stop.is_cancelled() {
                    probe.disconnected.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            Some(Ok(_)) => {}
        }
    }
}
