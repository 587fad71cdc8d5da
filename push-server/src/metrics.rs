//! Prometheus metrics: what the server did, for operators and alerting.
//!
//! The counters live where the work happens ([`crate::ingest::IngestStats`],
//! [`crate::hub::HubStats`], [`ConnectionStats`]) as plain atomics, so the push path pays one
//! relaxed add per event; this module registers them once and renders the text exposition.
//! Labels come from small fixed sets (reasons, protocols), never from channel UUIDs, so a
//! stranger cannot grow the metric set.

use std::fmt;
use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// One label, from a fixed set of values.
pub type Label = [(&'static str, &'static str); 1];

/// Counters that share a name and differ by one label.
pub type CounterFamily = Family<Label, Counter>;

/// Gauges that share a name and differ by one label.
pub type GaugeFamily = Family<Label, Gauge>;

/// The member of `family` with `key="value"`; the handle shares the family's atomic.
pub fn member<M: Clone + Default>(
    family: &Family<Label, M>,
    key: &'static str,
    value: &'static str,
) -> M {
    family.get_or_create(&[(key, value)]).clone()
}

/// Open and accepted connections by kind: `ingest`, `broadcast` (before the WebSocket
/// handshake), `wamp1`, `plain`, `metrics`.
#[derive(Debug, Clone, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: GaugeFamily,
    /// Connections accepted since start.
    pub accepted: CounterFamily,
    /// Connections closed by the server for being idle or too slow to send a request or a
    /// WebSocket pong.
    pub timed_out: CounterFamily,
}

/// The registry and what is refreshed at scrape time.
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry whose metric names start with `vz_`.
    pub fn new() -> Metrics {
        Metrics {
            registry: Mutex::new(Registry::with_prefix("vz")),
        }
    }

    /// Registers metrics; `f` gets the registry.
    pub fn register(&self, f: impl FnOnce(&mut Registry)) {
        f(&mut self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The text exposition (OpenMetrics, which Prometheus reads).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
