//! Shared pieces of the vz-tools binaries and the logic of each tool, so it can be tested
//! without spawning processes.
//!
//! # Layout
//! - [`database`]: the `--db` / `--config` / `DATABASE_URL` options every tool takes, and how they
//!   resolve to a connection.
//! - [`output`]: `--quiet` / `--verbose`, progress bars and summary lines.
//! - [`instant`]: `--now`-style time arguments (RFC 3339 or Unix milliseconds).
//! - [`channel`]: `vz-channel`, managing channels and groups.
//! - [`aggregate`]: `vz-aggregate`, filling, clearing and rebuilding the aggregate table.
//! - [`compress`]: `vz-compress`, thinning out old readings by age tiers.
//! - [`dbcopy`]: `vz-dbcopy`, copying a database between MySQL, PostgreSQL and SQLite.

pub mod aggregate;
pub mod channel;
pub mod compress;
pub mod database;
pub mod dbcopy;
pub mod instant;
pub mod output;
