//! Shared pieces of the vz-tools binaries and the logic of each tool, so it can be tested
//! without spawning processes.
//!
//! # Layout
//! - [`database`]: the `--db` / `--config` / `DATABASE_URL` options every tool takes, and how they
//!   resolve to a connection.
//! - [`output`]: `--quiet` / `--verbose`, progress bars and summary lines.
//! - [`instant`]: `--now`-style time arguments (RFC 3339 or Unix milliseconds).
//! - [`channel`]: `vz-channel`, managing channels and groups.

pub mod channel;
pub mod database;
pub mod instant;
pub mod output;
