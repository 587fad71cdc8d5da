//! Publishers: keep-alive HTTP connections POSTing readings on a fixed schedule (open loop: a
//! slow answer does not lower the offered rate, it shows up as schedule lag).
//!
//! Each channel is always pushed over the same connection, so its readings reach the server in
//! order (push-server drops a reading that is not newer than the channel's last one).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::histogram::Histogram;
use crate::http::Connection;
use crate::subscriber::Probe;
use crate::target::Target;

/// Upper bound for one push, including reconnecting.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How many pushes, how fast, over how many connections.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Pushes in total; push `i` goes to channel `i % channels`.
    pub total: u64,
    /// Pushes per second; `None` sends as fast as the connections allow.
    pub rate: Option<f64>,
    /// Keep-alive connections (each channel uses one of them).
    pub connections: usize,
}

/// What the publishers saw.
#[derive(Default)]
pub struct PushStats {
    /// Pushes sent.
    pub sent: AtomicU64,
    /// Pushes answered with 2xx.
    pub ok: AtomicU64,
    /// Pushes that failed (status, I/O error or timeout).
    pub failed: AtomicU64,
    /// Frames the subscribers should receive for the accepted pushes.
    pub expected_frames: AtomicU64,
    /// Request written → response read, µs.
    pub http: Histogram,
    /// Scheduled send time → response read, µs (includes any lag behind the schedule).
    pub scheduled: Histogram,
    /// The first failure, for the report.
    pub first_error: Mutex<Option<String>>,
}

impl PushStats {
    fn fail(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert(error);
    }
}

/// The shared inputs of a publishing run.
pub struct Publishing {
    /// Where to publish.
    pub target: Arc<Target>,
    /// Channel ids.
    pub channels: Arc<[String]>,
    /// Subscribers per channel, for the expected frame count.
    pub subscribers: Arc<[u64]>,
    /// Stamps readings and numbers pushes.
    pub probe: Arc<Probe>,
    /// The next push sequence number.
    pub seq: Arc<AtomicU64>,
}

impl Publishing {
    /// Runs `plan` to the end; returns the statistics and the time it took.
    pub async fn run(&self, plan: Plan) -> (Arc<PushStats>, Duration) {
        let stats = Arc::new(PushStats::default());
        let connections = plan.connections.clamp(1, self.channels.len().max(1));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..connections {
            let job = Lane {
                lane,
                lanes: connections,
                target: self.target.clone(),
                channels: self.channels.clone(),
                subscribers: self.subscribers.clone(),
                probe: self.probe.clone(),
                seq: self.seq.clone(),
                stats: stats.clone(),
            };
            tasks.spawn(async move { job.run(plan, start).await });
        }
        while tasks.join_next().await.is_some() {}
        (stats, start.elapsed())
    }
}

/// One connection's share of the pushes.
struct Lane {
    lane: usize,
    lanes: usize,
    target: Arc<Target>,
    channels: Arc<[String]>,
    subscribers: Arc<[u64]>,
    probe: Arc<Probe>,
    seq: Arc<AtomicU64>,
    stats: Arc<PushStats>,
}

impl Lane {
    async fn run(&self, plan: Plan, start: Instant) {
        let channels = self.channels.len() as u64;
        let mut connection: Option<Connection> = None;
        for i in 0..plan.total {
            let channel = (i % channels) as usize;
            if channel % self.lanes != self.lane {
                continue;
            }
            let due = match plan.rate {
                Some(rate) => start + Duration::from_secs_f64(i as f64 / rate),
                None => Instant::now(),
            };
            tokio::time::sleep_until(due).await;
            self.push(&mut connection, channel, due).await;
        }
    }

    async fn push(&self, connection: &mut Option<Connection>, channel: usize, due: Instant) {
        let name = &self.channels[channel];
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let body = self
            .target
            .publish_body(name, self.probe.t0_ms + seq, self.probe.now_us());
        let path = self.target.publish_path(name);
        let endpoint = &self.target.publish;
        let sent = Instant::now();
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(PUSH_TIMEOUT, async {
            if connection.as_ref().is_none_or(Connection::is_closing) {
                *connection = Some(Connection::open(endpoint).await?);
            }
            match connection.as_mut() {
                Some(open) => open.post(&endpoint.host, &path, body.as_bytes()).await,
                None => Err(std::io::ErrorKind::NotConnected.into()),
            }
        })
        .await;
        let done = Instant::now();
        match result {
            Ok(Ok(response)) if (200..300).contains(&response.status) => {
                self.stats.ok.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .expected_frames
                    .fetch_add(self.subscribers[channel], Ordering::Relaxed);
                self.stats.http.record(micros(done - sent));
                self.stats.scheduled.record(micros(done - due));
            }
            Ok(Ok(response)) => self.stats.fail(format!("HTTP status {}", response.status)),
            Ok(Err(err)) => {
                *connection = None;
                self.stats.fail(format!("I/O error: {err}"));
            }
            Err(_) => {
                *connection = None;
                self.stats
                    .fail(format!("no answer within {PUSH_TIMEOUT:?}"));
            }
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
