//! Benchmarks of the push-server: criterion micro-benchmarks (in `benches/`) and `vz-loadgen`,
//! a load generator that drives a running push-server and, for comparison, nchan (NGINX's
//! pub/sub module) with the same workload. See BENCHMARKS.md for the commands and results.
//!
//! # Layout
//! - [`scenario`]: one run: connect, measure memory, warm up, push, drain, report.
//! - [`subscriber`]: WebSocket subscribers and the [`subscriber::Probe`] they record into.
//! - [`publisher`]: paced vzlogger-style pushes over keep-alive HTTP connections.
//! - [`target`]: push-server vs. nchan: URLs, request bodies, frame format.
//! - [`http`]: a minimal HTTP/1.1 keep-alive client.
//! - [`histogram`]: a lock-free microsecond histogram.
//! - [`procstat`]: server processes and their memory from `/proc`.
//! - [`channels`]: channel UUIDs from a file or created through `middleware`.
//! - [`limits`]: the open-files limit.
//! - [`report`]: printing one run or two side by side.

pub mod channels;
pub mod histogram;
pub mod http;
pub mod limits;
pub mod procstat;
pub mod publisher;
pub mod report;
pub mod scenario;
pub mod subscriber;
pub mod target;
