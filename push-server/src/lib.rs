//! Drop-in replacement for the volkszaehler push-server.
//!
//! vzlogger POSTs raw readings to the ingest port; each channel's tuples are converted with the
//! channel definitions from the database and fanned out on the broadcast port to WAMP v1
//! subscribers (the volkszaehler frontend) and plain WebSocket clients (node-red).
//!
//! The server is a function of its listeners, its configuration and a shutdown signal
//! ([`PushServer::run`]), so tests bind port 0 and talk to it with real clients.
//!
//! # Layout
//! - [`config`]: typed server settings built from a volkszaehler `config.yaml`.
//! - [`server`]: [`PushServer`], wiring ingest, hub and broadcast together; graceful shutdown.
//! - [`ingest`]: the HTTP handler for vzlogger pushes and its responses.
//! - [`channels`]: per-channel conversion state and cached, refreshed metadata.
//! - [`hub`]: topic registry and fan-out with bounded per-connection queues.
//! - [`broadcast`]: the WebSocket routes and handshake rules.
//! - [`session`]: one task per WebSocket connection.
//! - [`protocol`]: update content and WAMP v1 framing (pure).
//! - [`serve`]: HTTP serving with a connection cap and header/idle timeouts per listener.
//! - [`metrics`]: the Prometheus registry behind `GET /metrics`.
//! - [`throttle`]: rate-limited log lines for events a stranger can repeat.

pub mod broadcast;
pub mod channels;
pub mod config;
pub mod hub;
pub mod ingest;
pub mod metrics;
pub mod protocol;
pub mod serve;
pub mod server;
pub mod session;
pub mod throttle;

pub use config::ServerConfig;
pub use server::{Listeners, PushServer};
