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
//! - `error`: [`Error`] and [`Result`].
//! - `testing` (feature `testing`): a fresh database per test on every backend, and the
//!   `db_test!` macro that runs one test body on all of them.

mod db;
mod error;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Db, Entity, NewEntity, Reading, SchemaVariant, redact_url};
pub use error::{Error, Result};
