//! The database handle: connecting, the embedded default, and what the handle knows about the
//! database it talks to.

mod aggregate;
mod compress;
mod copy;
mod data;
pub(crate) mod dialect;
mod entity;
mod group;
mod schema;

use std::ffi::OsString;
use std::path::PathBuf;

use sqlx::AnyPool;

pub use self::aggregate::{
    AggregateError, AggregateFailure, AggregateRow, Aggregation, AggregationLock, ChannelReport,
    ClearFilter, Level, Mode, Progress, UnknownLevel,
};
pub use self::compress::{MergeFunction, MergeOutcome, ReadingSpan, WindowRun};
pub use self::copy::{CopyReport, CopyTarget, Key, KeyGroup, OnConflict, Page, Table};
pub use self::data::Reading;
use self::dialect::Dialect;
pub use self::dialect::{Backend, redact_url};
pub use self::entity::{Entity, NewEntity};
use self::schema::Layout;
pub use self::schema::SchemaVariant;
use crate::Result;

/// A connection pool to one volkszaehler database; cheap to clone.
///
/// All clones share the pool, so [`Db::close`] on one closes them all.
#[derive(Clone, Debug)]
pub struct Db {
    /// The connections; every query goes through it.
    pool: AnyPool,
    /// How to write SQL for this backend.
    dialect: Dialect,
    /// The schema variant found (or created) at connect time; never changes afterwards,
    /// because this crate never alters a schema.
    layout: Layout,
}

impl Db {
    /// Connects to the database at `url`.
    ///
    /// If the database has none of the volkszaehler tables, the current schema is created
    /// exactly as the PHP middleware's Doctrine would create it, so the PHP middleware can use
    /// the database too. Otherwise the schema variant is detected and the schema is left as it
    /// is. For a SQLite file URL the file and its folder are created if missing; foreign keys
    /// are enforced on every SQLite connection.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidUrl`](crate::Error::InvalidUrl) if the URL names no supported backend;
    /// - [`Error::Io`](crate::Error::Io) if the folder of a SQLite file cannot be created;
    /// - [`Error::IncompleteSchema`](crate::Error::IncompleteSchema) if only some of the
    ///   volkszaehler tables exist;
    /// - [`Error::Database`](crate::Error::Database) if connecting or the DDL fails.
    pub async fn connect(url: &str) -> Result<Db> {
        Db::connect_with(url, ConnectOptions::default()).await
    }

    /// Connects to the database at `url` as [`Db::connect`] does, with `options`.
    ///
    /// # Errors
    ///
    /// As [`Db::connect`]; [`Error::NoSuchFile`](crate::Error::NoSuchFile) if
    /// `create_sqlite_file` is off and the SQLite file does not exist.
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::for_url(url)?;
        let url = if options.create_sqlite_file {
            dialect.prepare_url(url)?
        } else {
            dialect.open_existing_url(url)?
        };
        if options.fail_fast {
            probe(&url).await?;
        }
        let pool = dialect.pool_options(&url).connect(&url).await?;
        let layout = match schema::prepare(&pool, dialect).await {
            Ok(layout) => layout,
            Err(error) => {
                pool.close().await;
                return Err(error);
            }
        };
        Ok(Db {
            pool,
            dialect,
            layout,
        })
    }

    /// The URL of the embedded default database (product decision 13), as a `sqlite://` URL.
    ///
    /// The file is `$XDG_DATA_HOME/volkszaehler/volkszaehler.sqlite3`, else
    /// `$HOME/.local/share/volkszaehler/volkszaehler.sqlite3`, else
    /// `./volkszaehler.sqlite3`. Empty variables count as unset. [`Db::connect`] creates the
    /// file and its folder on first use.
    pub fn default_sqlite_url() -> String {
        let file = default_sqlite_file(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"));
        sqlite_url(&file)
    }

    /// The backend this handle talks to.
    pub fn backend(&self) -> Backend {
        self.dialect.backend()
    }

    /// The schema variant of the database.
    pub fn variant(&self) -> SchemaVariant {
        self.layout.variant
    }

    /// Opens a transaction that will write (see [`Dialect::begin_write`]).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect.begin_write() {
            Some(statement) => self.pool.begin_with(statement).await?,
            None => self.pool.begin().await?,
        })
    }

    /// Checks that the database answers (a trivial query on a pooled connection), for health
    /// checks.
    ///
    /// # Errors
    /// [`Error::Database`](crate::Error::Database) when no connection can be had or the query
    /// fails.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection of the pool (of all clones) and waits until they are closed.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How [`Db::connect_with`] opens a database; the default is [`Db::connect`]'s behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Create a SQLite file (and its folder) that does not exist yet. Off for tools that only
    /// read or change what a database holds already: a mistyped path would otherwise leave
    /// an empty new database behind and report nothing wrong.
    pub create_sqlite_file: bool,
    /// Open one connection by itself before the pool, so that an unreachable server or a
    /// refused login fails at once with its cause. The pool retries connecting for its whole
    /// acquire timeout (30 s) and then reports only "pool timed out", which suits a server
    /// starting alongside its database but not a command typed by hand.
    pub fail_fast: bool,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            create_sqlite_file: true,
            fail_fast: false,
        }
    }
}

/// Opens and closes one connection: connecting works, or here is why not (see
/// [`ConnectOptions::fail_fast`]).
async fn probe(url: &str) -> Result<()> {
    let conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

/// The embedded default file for the given `XDG_DATA_HOME` and `HOME`.
fn default_sqlite_file(xdg_data_home: Option<OsString>, home: Option<OsString>) -> PathBuf {
    let xdg_data_home = xdg_data_home.filter(|value| !value.is_empty());
    let home = home.filter(|value| !value.is_empty());
    match (xdg_data_home, home) {
        (Some(data), _) => PathBuf::from(data).join("volkszaehler/volkszaehler.sqlite3"),
        (None, Some(home)) => {
            PathBuf::from(home).join(".local/share/volkszaehler/volkszaehler.sqlite3")
        }
        (None, None) => PathBuf::from("./volkszaehler.sqlite3"),
    }
}

/// A `sqlite://` URL for a file path, percent-encoding what a URL cannot carry.
fn sqlite_url(file: &std::path::Path) -> String {
    let mut url = String::from("sqlite://");
    for c in file.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' | ' ' => url.push_str(&format!("%{:02X}", c as u32)),
            _ => url.push(c),
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_prefers_xdg_then_home() {
        let check = |xdg: Option<&str>, home: Option<&str>, expect: &str| {
            let file = default_sqlite_file(xdg.map(OsString::from), home.map(OsString::from));
            assert_eq!(file, PathBuf::from(expect));
        };
        check(
            Some("/x"),
            Some("/h"),
            "/x/volkszaehler/volkszaehler.sqlite3",
        );
        check(
            Some(""),
            Some("/h"),
            "/h/.local/share/volkszaehler/volkszaehler.sqlite3",
        );
        check(
            None,
            Some("/h"),
            "/h/.local/share/volkszaehler/volkszaehler.sqlite3",
        );
        check(None, None, "./volkszaehler.sqlite3");
        assert!(Db::default_sqlite_url().starts_with("sqlite://"));
    }

    #[test]
    fn sqlite_urls_escape_what_a_url_cannot_carry() {
        assert_eq!(
            sqlite_url(std::path::Path::new("/a/b.db")),
            "sqlite:///a/b.db"
        );
        assert_eq!(
            sqlite_url(std::path::Path::new("./b.db")),
            "sqlite://./b.db"
        );
        assert_eq!(
            sqlite_url(std::path::Path::new("/a b/c?#%.db")),
            "sqlite:///a%20b/c%3F%23%25.db"
        );
    }
}
