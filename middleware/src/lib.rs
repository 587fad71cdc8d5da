//! volkszaehler database layer: the schema, entities (channels and groups) with their
//! properties, and raw readings, on SQLite, MySQL/MariaDB and PostgreSQL.
//!
//! The database is shared with the PHP middleware, so this crate creates exactly the schema
//! Doctrine would create (only into a database without volkszaehler tables), reads and writes
//! both the current and the legacy schema variant, and never alters an existing schema.
//!
//! ```no_run
//! # async fn demo() -> middleware::Result<()> {
//! use middleware::{Db, NewEntity};
//!
//! let db = Db::connect(&Db::default_sqlite_url()).await?;
//! let channel = db
//!     .create_entity(&NewEntity {
//!         kind: "power".into(),
//!         uuid: None,
//!         properties: vec![("title".into(), "Flat".into()), ("resolution".into(), "1000".into())],
//!     })
//!     .await?;
//! db.insert_reading(channel.id, 1_700_000_000_000, 1.0).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - `db`: the [`Db`] handle ([`Db::connect`], [`Db::default_sqlite_url`]) and, by noun:
//!   - `db::dialect`: [`Backend`] and every piece of SQL that differs per backend (DDL,
//!     placeholders, quoting, upserts, sequences, catalogue queries); the only module that
//!     looks at the backend;
//!   - `db::schema`: creating the schema, detecting the [`SchemaVariant`];
//!   - `db::entity`: [`Entity`], [`NewEntity`] and their properties;
//!   - `db::group`: group membership (adding and removing children, refusing cycles);
//!   - `db::data`: [`Reading`] and the `data` table.
//!   - `db::aggregate`: per-period aggregates for vz-aggregate ([`Aggregation`],
//!     [`Db::aggregate_channel`], [`Level`], the run lock [`AggregationLock`]);
//!   - `db::compress`: thinning out old readings window by window ([`WindowRun`],
//!     [`MergeFunction`]) for vz-compress;
//!   - `db::copy`: keyset-paged reading and batched writing of whole tables ([`Table`],
//!     [`Page`], [`CopyTarget`]) for vz-dbcopy;
//! - `error`: [`Error`] and [`Result`].
//! - `testing` (feature `testing`): a fresh database per test on every backend, and the
//!   `db_test!` macro that runs one test body on all of them.

mod db;
mod error;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{
    AggregateError, AggregateFailure, AggregateRow, Aggregation, AggregationLock, ChannelReport,
    ClearFilter, Level, Mode, Progress, UnknownLevel,
};
pub use db::{Backend, ConnectOptions, Db, Entity, NewEntity, Reading, SchemaVariant, redact_url};
pub use db::{CopyReport, CopyTarget, Key, KeyGroup, OnConflict, Page, Table};
pub use db::{MergeFunction, MergeOutcome, ReadingSpan, WindowRun};
pub use error::{Error, Result};
