//! The figures of one run, printed as a list, and two runs side by side with their ratio.

use std::fmt::Write;

use crate::histogram::Histogram;
use crate::procstat::Memory;
use crate::scenario::Workload;
use crate::target::{Protocol, Target};

/// p50, p99 and maximum of a latency histogram, µs.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Latency {
    /// Reads the quantiles of `histogram`.
    pub fn of(histogram: &Histogram) -> Latency {
        Latency {
            count: histogram.count(),
            p50: histogram.quantile(0.50),
            p99: histogram.quantile(0.99),
            max: histogram.max(),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// `push-server` or `nchan`.
    pub target: &'static str,
    /// `wamp` or `plain`.
    pub protocol: &'static str,
    /// Subscribers asked for.
    pub subscribers: u64,
    /// Channels.
    pub channels: u64,
    /// Planned pushes per second.
    pub rate: f64,
    /// Subscribers connected (and, for WAMP, subscribed).
    pub connected: u64,
    /// Subscribers that could not connect.
    pub connect_failed: u64,
    /// The first connect error.
    pub connect_error: Option<String>,
    /// Time to connect all subscribers.
    pub connect_secs: f64,
    /// Server memory before the subscribers connected.
    pub memory_before: Memory,
    /// After connecting (idle, no frame sent yet).
    pub memory_connected: Memory,
    /// After every subscriber received one frame.
    pub memory_warm: Memory,
    /// After the measurement.
    pub memory_end: Memory,
    /// Subscribers that received a warm-up frame.
    pub warm: u64,
    /// Time the warm-up took.
    pub warmup_secs: f64,
    /// Measured pushes sent.
    pub pushes: u64,
    /// Answered 2xx.
    pub pushes_ok: u64,
    /// Failed.
    pub pushes_failed: u64,
    /// The first push error.
    pub push_error: Option<String>,
    /// Time the pushes took.
    pub push_secs: f64,
    /// Push request → response.
    pub http: Latency,
    /// Push scheduled time → response.
    pub http_scheduled: Latency,
    /// Frames due for the accepted pushes.
    pub frames_expected: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Mean payload size of the received frames, bytes.
    pub frame_bytes: f64,
    /// Frames received per second, from the first push to the last frame.
    pub frames_per_sec: f64,
    /// Push → frame latency, over all frames.
    pub latency: Latency,
    /// Push → last subscriber's frame, one sample per push.
    pub last_client: Latency,
    /// CPU seconds the server used from the first measured push until the frames were in.
    pub server_cpu_secs: f64,
    /// CPU seconds the load generator used in the same time.
    pub loadgen_cpu_secs: f64,
    /// CPU seconds of the kernel's `ksoftirqd` threads meanwhile: network work of both sides that
    /// the kernel deferred.
    pub softirq_cpu_secs: f64,
    /// CPU seconds everything else on the machine used meanwhile (kernel softirq work included);
    /// more than a few percent of the run means the figures are disturbed.
    pub other_cpu_secs: f64,
    /// Subscribers whose connection ended during the run.
    pub disconnected: u64,
    /// Frames without a readable tuple.
    pub unreadable: u64,
}

impl Report {
    /// An empty report for a run of `workload` against `target`.
    pub fn new(target: &Target, workload: &Workload, channels: usize) -> Report {
        Report {
            target: target.kind.name(),
            protocol: match target.protocol {
                Protocol::Wamp => "wamp",
                Protocol::Plain => "plain",
            },
            subscribers: workload.subscribers as u64,
            channels: channels as u64,
            rate: workload.rate,
            ..Report::default()
        }
    }

    /// Lost frames: due but not received.
    pub fn lost(&self) -> u64 {
        self.frames_expected.saturating_sub(self.frames_received)
    }

    /// Server memory added per connected idle subscriber, KiB (PSS, which adds up correctly over
    /// nginx's processes; for one process it equals RSS up to shared library pages).
    pub fn kib_per_connection(&self, memory: Memory) -> f64 {
        if self.connected == 0 {
            return 0.0;
        }
        memory.pss_kib.saturating_sub(self.memory_before.pss_kib) as f64 / self.connected as f64
    }

    /// Like [`Report::kib_per_connection`] with RSS.
    pub fn rss_kib_per_connection(&self, memory: Memory) -> f64 {
        if self.connected == 0 {
            return 0.0;
        }
        memory.rss_kib.saturating_sub(self.memory_before.rss_kib) as f64 / self.connected as f64
    }

    /// The rows printed for a report: label, value, unit, and whether more is better.
    fn rows(&self) -> Vec<(&'static str, f64, &'static str, bool)> {
        let ms = |us: u64| us as f64 / 1000.0;
        let connect_rate = if self.connect_secs > 0.0 {
            self.connected as f64 / self.connect_secs
        } else {
            0.0
        };
        let mut rows = vec![
            ("subscribers connected", self.connected as f64, "", true),
            ("connect failures", self.connect_failed as f64, "", false),
            ("connect rate", connect_rate, "conn/s", true),
            (
                "server RSS before",
                self.memory_before.rss_kib as f64 / 1024.0,
                "MiB",
                false,
            ),
            (
                "server RSS connected",
                self.memory_connected.rss_kib as f64 / 1024.0,
                "MiB",
                false,
            ),
            (
                "server PSS connected",
                self.memory_connected.pss_kib as f64 / 1024.0,
                "MiB",
                false,
            ),
            (
                "RSS per idle conn",
                self.rss_kib_per_connection(self.memory_connected),
                "KiB",
                false,
            ),
            (
                "PSS per idle conn",
                self.kib_per_connection(self.memory_connected),
                "KiB",
                false,
            ),
            (
                "PSS per conn after 1 frame",
                self.kib_per_connection(self.memory_warm),
                "KiB",
                false,
            ),
            ("warm subscribers", self.warm as f64, "", true),
            ("warm-up time", self.warmup_secs, "s", false),
        ];
        if self.pushes > 0 {
            let push_rate = if self.push_secs > 0.0 {
                self.pushes_ok as f64 / self.push_secs
            } else {
                0.0
            };
            rows.extend([
                ("pushes ok", self.pushes_ok as f64, "", true),
                ("pushes failed", self.pushes_failed as f64, "", false),
                ("push rate achieved", push_rate, "/s", true),
                ("push HTTP p50", ms(self.http.p50), "ms", false),
                ("push HTTP p99", ms(self.http.p99), "ms", false),
                ("push HTTP max", ms(self.http.max), "ms", false),
                (
                    "push p99 from schedule",
                    ms(self.http_scheduled.p99),
                    "ms",
                    false,
                ),
                ("frames expected", self.frames_expected as f64, "", true),
                ("frames received", self.frames_received as f64, "", true),
                ("frames lost", self.lost() as f64, "", false),
                ("delivered frames/s", self.frames_per_sec, "/s", true),
                ("mean frame size", self.frame_bytes, "B", false),
                ("latency p50", ms(self.latency.p50), "ms", false),
                ("latency p99", ms(self.latency.p99), "ms", false),
                ("latency max", ms(self.latency.max), "ms", false),
                ("last client p50", ms(self.last_client.p50), "ms", false),
                ("last client p99", ms(self.last_client.p99), "ms", false),
                ("last client max", ms(self.last_client.max), "ms", false),
                ("server CPU", self.server_cpu_secs, "s", false),
                (
                    "server CPU per 1M frames",
                    per_million(self.server_cpu_secs, self.frames_received),
                    "s",
                    false,
                ),
                ("loadgen CPU", self.loadgen_cpu_secs, "s", false),
                ("ksoftirqd CPU", self.softirq_cpu_secs, "s", false),
                ("other processes' CPU", self.other_cpu_secs, "s", false),
                (
                    "server RSS end",
                    self.memory_end.rss_kib as f64 / 1024.0,
                    "MiB",
                    false,
                ),
            ]);
        }
        rows.push(("disconnected", self.disconnected as f64, "", false));
        rows
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "== {} ({}): {} subscribers, {} channels, {} pushes/s ==\n",
            self.target, self.protocol, self.subscribers, self.channels, self.rate
        );
        for (label, value, unit, _) in self.rows() {
            let _ = writeln!(out, "  {label:<28} {} {unit}", number(value));
        }
        self.notes(&mut out);
        out
    }

    fn notes(&self, out: &mut String) {
        if let Some(error) = &self.connect_error {
            let _ = writeln!(out, "  first connect error ({}): {error}", self.target);
        }
        if let Some(error) = &self.push_error {
            let _ = writeln!(out, "  first push error ({}): {error}", self.target);
        }
        if self.push_secs > 0.0 && self.other_cpu_secs > 0.1 * self.push_secs {
            let _ = writeln!(
                out,
                "  WARNING ({}): other processes used {:.1} CPU-s during the {:.1} s measurement; \
                 the figures are disturbed, repeat on a quiet machine",
                self.target, self.other_cpu_secs, self.push_secs
            );
        }
        if self.unreadable > 0 {
            let _ = writeln!(
                out,
                "  unreadable frames ({}): {}",
                self.target, self.unreadable
            );
        }
    }

    /// Two runs of the same workload side by side, with `self / other`.
    pub fn compare(&self, other: &Report) -> String {
        let mut out = format!(
            "== compare ({}): {} subscribers, {} channels, {} pushes/s ==\n  {:<28} {:>14} {:>14} {:>8}\n",
            self.protocol,
            self.subscribers,
            self.channels,
            self.rate,
            "",
            self.target,
            other.target,
            "ratio"
        );
        for ((label, a, unit, _), (_, b, _, _)) in self.rows().into_iter().zip(other.rows()) {
            let ratio = if b != 0.0 {
                format!("{:.2}", a / b)
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "  {label:<28} {:>14} {:>14} {ratio:>8}  {unit}",
                number(a),
                number(b)
            );
        }
        self.notes(&mut out);
        other.notes(&mut out);
        out
    }
}

fn per_million(seconds: f64, frames: u64) -> f64 {
    if frames == 0 {
        0.0
    } else {
        seconds * 1e6 / frames as f64
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}
