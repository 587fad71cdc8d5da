//! One load run against one server: connect the subscribers, measure the server's memory, make
//! sure every subscription works (warm-up), push at the planned rate, wait for the frames, report.
//! Every phase has a deadline, so a run always ends.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::procstat;
use crate::publisher::{Plan, Publishing};
use crate::report::{Latency, Report};
use crate::subscriber::{self, Probe};
use crate::target::Target;

/// The workload, identical for every target of a run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// WebSocket subscribers; subscriber `i` listens to channel `i % channels`.
    pub subscribers: usize,
    /// Pushes per second during the measurement; 0 measures idle connections only.
    pub rate: f64,
    /// How long to push.
    pub duration: Duration,
    /// Keep-alive HTTP connections for pushing.
    pub publishers: usize,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Subscribers per 127.0.0.x source address (from 127.0.0.2 on); 0 lets the kernel choose.
    pub per_source_ip: usize,
    /// Pause after connecting before memory is read.
    pub settle: Duration,
    /// Upper bound for connecting one subscriber.
    pub connect_timeout: Duration,
    /// Upper bound for connecting all subscribers.
    pub connect_deadline: Duration,
    /// Upper bound for the warm-up (every subscriber receives one frame).
    pub warmup_deadline: Duration,
    /// Upper bound for waiting for the last frames after the last push.
    pub drain: Duration,
}

/// Runs `workload` against `target`, whose processes are `pids` (for memory).
///
/// # Errors
/// Only for setup failures; everything else is counted in the report.
pub async fn run(
    target: Target,
    workload: &Workload,
    channels: Arc<[String]>,
    pids: &[u32],
) -> anyhow::Result<Report> {
    let k = channels.len();
    anyhow::ensure!(k > 0, "no channels");
    let total = (workload.rate * workload.duration.as_secs_f64()).round() as u64;
    let probe = Arc::new(Probe::new(usize::try_from(total)?));
    let mut subscribers = vec![0_u64; k];
    for i in 0..workload.subscribers {
        subscribers[i % k] += 1;
    }
    let target = Arc::new(target);
    let publishing = Publishing {
        target: target.clone(),
        channels: channels.clone(),
        subscribers: subscribers.into(),
        probe: probe.clone(),
        seq: Arc::new(AtomicU64::new(0)),
    };
    let mut report = Report::new(&target, workload, k);
    report.memory_before = procstat::memory(pids);

    if target.needs_priming() {
        // push-server swallows each channel's first tuple.
        let (stats, _) = publishing.run(round(k, workload)).await;
        anyhow::ensure!(
            stats.failed.load(Ordering::Relaxed) == 0,
            "priming failed: {}",
            stats
                .first_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_default()
        );
    }

    let name = target.kind.name();
    eprintln!("[{name}] connecting {} subscribers", workload.subscribers);
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let connected = connect_all(
        &target,
        workload,
        &channels,
        &probe,
        &stop,
        &tracker,
        &mut report,
    )
    .await;
    eprintln!(
        "[{name}] {connected} connected in {:.1} s; warming up",
        report.connect_secs
    );
    tokio::time::sleep(workload.settle).await;
    report.memory_connected = procstat::memory(pids);

    // Warm-up: push every channel until each subscriber has had a frame (a WAMP SUBSCRIBE takes
    // effect asynchronously, and nchan may still be registering subscribers).
    let warm_start = Instant::now();
    while probe.warm.load(Ordering::Relaxed) + probe.disconnected.load(Ordering::Relaxed)
        < connected
        && warm_start.elapsed() < workload.warmup_deadline
    {
        let _ = publishing.run(round(k, workload)).await;
        let wait = Instant::now() + Duration::from_millis(500);
        while Instant::now() < wait && probe.warm.load(Ordering::Relaxed) < connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    report.warm = probe.warm.load(Ordering::Relaxed);
    report.warmup_secs = warm_start.elapsed().as_secs_f64();
    tokio::time::sleep(workload.settle).await;
    report.memory_warm = procstat::memory(pids);

    if total > 0 {
        eprintln!("[{name}] {} warm; pushing {total} readings", report.warm);
        let me = [std::process::id()];
        let softirq = procstat::softirq_threads();
        let cpu = (
            procstat::cpu_seconds(pids),
            procstat::cpu_seconds(&me),
            procstat::machine_busy_seconds(),
            procstat::cpu_seconds(&softirq),
        );
        measure(&publishing, workload, total, &mut report).await;
        report.server_cpu_secs = procstat::cpu_seconds(pids) - cpu.0;
        report.loadgen_cpu_secs = procstat::cpu_seconds(&me) - cpu.1;
        report.softirq_cpu_secs = procstat::cpu_seconds(&softirq) - cpu.3;
        let busy = procstat::machine_busy_seconds() - cpu.2;
        report.other_cpu_secs =
            (busy - report.server_cpu_secs - report.loadgen_cpu_secs - report.softirq_cpu_secs)
                .max(0.0);
    }
    report.memory_end = procstat::memory(pids);
    report.disconnected = probe.disconnected.load(Ordering::Relaxed);
    report.unreadable = probe.unreadable.load(Ordering::Relaxed);

    stop.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(30), tracker.wait())
        .await
        .is_err()
    {
        eprintln!("warning: subscriber tasks did not stop within 30 s");
    }
    Ok(report)
}

/// One push per channel, as fast as possible.
fn round(channels: usize, workload: &Workload) -> Plan {
    Plan {
        total: channels as u64,
        rate: None,
        connections: workload.publishers,
    }
}

/// Connects every subscriber (each then listens in its own task); returns how many connected.
async fn connect_all(
    target: &Arc<Target>,
    workload: &Workload,
    channels: &Arc<[String]>,
    probe: &Arc<Probe>,
    stop: &CancellationToken,
    tracker: &TaskTracker,
    report: &mut Report,
) -> u64 {
    let established = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let permits = Arc::new(Semaphore::new(workload.connect_concurrency.max(1)));
    let start = Instant::now();
    let block = source_block();
    for i in 0..workload.subscribers {
        let source = source_address(block, i, workload.per_source_ip);
        let (target, channels, probe, stop) = (
            target.clone(),
            channels.clone(),
            probe.clone(),
            stop.clone(),
        );
        let (established, failed, first_error, permits) = (
            established.clone(),
            failed.clone(),
            first_error.clone(),
            permits.clone(),
        );
        let connect_timeout = workload.connect_timeout;
        tracker.spawn(async move {
            let channel = &channels[i % channels.len()];
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            let socket = tokio::select! {
                () = stop.cancelled() => return,
                socket = tokio::time::timeout(connect_timeout, subscriber::connect(&target, channel, source)) => socket,
            };
            drop(permit);
            match socket {
                Ok(Ok(socket)) => {
                    established.fetch_add(1, Ordering::Relaxed);
                    subscriber::listen(socket, &probe, &stop).await;
                }
                Ok(Err(err)) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let mut first = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    first.get_or_insert_with(|| format!("{err:#}"));
                }
                Err(_) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let mut first = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    first.get_or_insert_with(|| format!("no connection within {connect_timeout:?}"));
                }
            }
        });
    }
    let wanted = workload.subscribers as u64;
    while established.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < wanted
        && start.elapsed() < workload.connect_deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    report.connected = established.load(Ordering::Relaxed);
    report.connect_failed = wanted - report.connected;
    report.connect_secs = elapsed;
    report.connect_error = first_error.lock().ok().and_then(|e| e.clone());
    report.connected
}

/// Where this run's source addresses start: a different 127.x.y.z block each run. Closed
/// connections of an earlier run sit in TIME-WAIT for a minute, and binding to an address whose
/// ports they occupy makes every connect search for a free port (connects slow down twentyfold).
fn source_block() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
    // 2^22 blocks of 4 addresses: 127.0.0.2 up to 127.64.0.1.
    (nanos % (1 << 22)) * 4 + 2
}

/// `block`, `block + 1`, … in steps of `per_ip` subscribers, as 127.0.0.0/8 addresses; `None`
/// when `per_ip` is 0 (the kernel picks 127.0.0.1 and a port).
fn source_address(block: u32, i: usize, per_ip: usize) -> Option<IpAddr> {
    if per_ip == 0 {
        return None;
    }
    let offset = u32::try_from(i / per_ip).unwrap_or(u32::MAX);
    let n = block.saturating_add(offset).clamp(2, 0x00ff_fffe);
    Some(IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | n)))
}

/// The measured pushes and the wait for their frames.
async fn measure(publishing: &Publishing, workload: &Workload, total: u64, report: &mut Report) {
    let probe = &publishing.probe;
    let first_seq = publishing.seq.load(Ordering::Relaxed);
    probe.measure_from.store(first_seq, Ordering::Relaxed);
    let push_start_us = probe.now_us();
    let plan = Plan {
        total,
        rate: Some(workload.rate),
        connections: workload.publishers,
    };
    let (stats, elapsed) = publishing.run(plan).await;
    let expected = stats.expected_frames.load(Ordering::Relaxed);
    // Wait for the last frames: until all arrived, nothing arrived for 1 s, or the drain bound.
    let drain_end = Instant::now() + workload.drain;
    let mut last = (probe.received.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < drain_end {
        let received = probe.received.load(Ordering::Relaxed);
        if received >= expected {
            break;
        }
        if received != last.0 {
            last = (received, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let received = probe.received.load(Ordering::Relaxed);
    let window_us = probe
        .last_frame_us
        .load(Ordering::Relaxed)
        .saturating_sub(push_start_us);
    report.pushes = stats.sent.load(Ordering::Relaxed);
    report.pushes_ok = stats.ok.load(Ordering::Relaxed);
    report.pushes_failed = stats.failed.load(Ordering::Relaxed);
    report.push_error = stats.first_error.lock().ok().and_then(|e| e.clone());
    report.push_secs = elapsed.as_secs_f64();
    report.http = Latency::of(&stats.http);
    report.http_scheduled = Latency::of(&stats.scheduled);
    report.frames_expected = expected;
    report.frames_received = received;
    report.frames_per_sec = if window_us > 0 {
        received as f64 / (window_us as f64 / 1e6)
    } else {
        0.0
    };
    if received > 0 {
        report.frame_bytes = probe.received_bytes.load(Ordering::Relaxed) as f64 / received as f64;
    }
    report.latency = Latency::of(&probe.latency);
    let last_client = crate::histogram::Histogram::default();
    let sent = usize::try_from(report.pushes).unwrap_or(usize::MAX);
    for slot in probe.per_push_max.iter().take(sent) {
        let max = slot.load(Ordering::Relaxed);
        if max > 0 {
            last_client.record(u64::from(max));
        }
    }
    report.last_client = Latency::of(&last_client);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_spread_in_blocks() {
        assert_eq!(source_address(2, 0, 0), None);
        assert_eq!(source_address(2, 0, 10).unwrap().to_string(), "127.0.0.2");
        assert_eq!(source_address(2, 9, 10).unwrap().to_string(), "127.0.0.2");
        assert_eq!(source_address(2, 10, 10).unwrap().to_string(), "127.0.0.3");
        assert_eq!(
            source_address(2, 2540, 10).unwrap().to_string(),
            "127.0.1.0"
        );
        let block = source_block();
        assert!((2..(1 << 24)).contains(&block));
    }
}
