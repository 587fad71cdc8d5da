//! Shared pieces of the vz-tools binaries and the logic of each tool, so it can be tested
//! without spawning processes.
//!
//! # Layout
//! - [`database`]: the `--db` / `--config` / `DATABASE_URL` options every tool takes, and how they
//!   resolve to a connection.
//! - [`channel`]: `vz-channel`, managing channels and groups.

pub mod channel;
pub mod database;
