//! volkszaehler domain logic without I/O.
//!
//! # Layout
//! - [`config`]: the volkszaehler `config.yaml` schema (parsed from a string, never read from disk).

pub mod config;
