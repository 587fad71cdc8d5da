//! The database options shared by every tool: `--db URL`, `DATABASE_URL`, `--config PATH`.
//!
//! Precedence: `--db` beats `DATABASE_URL` beats the `db:` section of `--config`, and with none
//! of them the embedded SQLite default is used (decision 13), so a fresh install just works.

use std::path::PathBuf;

use clap::Args;
use middleware::{ConnectOptions, Db};
use push_core::config::{Config, ConfigError};

/// Where the tools find the volkszaehler database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH`, `mysql://USER[:PASS]@HOST[:PORT]/DB` or `postgres://...`
    #[arg(long = "db", env = "DATABASE_URL", value_name = "URL", global = true)]
    pub url: Option<String>,

    /// A volkszaehler config.yaml; its `db:` section is used when no URL is given.
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

/// Why the database options could not be turned into a connection.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseArgsError {
    /// The config file could not be read.
    #[error("cannot read config {path}: {source}")]
    ReadConfig {
        /// The path given with `--config`.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not a valid volkszaehler config.
    #[error("config {path}: {source}")]
    Config {
        /// The path given with `--config`.
        path: PathBuf,
        /// What is wrong with it.
        source: ConfigError,
    },
    /// Connecting failed.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL with any password hidden.
        url: String,
        /// The database error.
        source: middleware::Error,
    },
}

impl DatabaseArgs {
    /// Reads the config file named by `--config`, if any.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn load_config(&self) -> Result<Option<Config>, DatabaseArgsError> {
        let Some(path) = &self.config else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(path).map_err(|source| DatabaseArgsError::ReadConfig {
                path: path.clone(),
                source,
            })?;
        Config::from_yaml(&text)
            .map(Some)
            .map_err(|source| DatabaseArgsError::Config {
                path: path.clone(),
                source,
            })
    }

    /// The URL to connect to, after applying the precedence rules.
    ///
    /// # Errors
    /// When the config file is unreadable or its `db:` section is incomplete.
    pub fn resolve_url(&self) -> Result<String, DatabaseArgsError> {
        Ok(self.resolve()?.0)
    }

    /// The URL to connect to, and whether it is the embedded default (no `--db`,
    /// `DATABASE_URL` or config named a database).
    fn resolve(&self) -> Result<(String, bool), DatabaseArgsError> {
        if let Some(url) = &self.url {
            return Ok((url.clone(), false));
        }
        let config = self.load_config()?;
        if let Some(db) = config.as_ref().and_then(|c| c.db.as_ref()) {
            let path = self.config.clone().unwrap_or_default();
            return db
                .url()
                .map(|url| (url, false))
                .map_err(|source| DatabaseArgsError::Config { path, source });
        }
        Ok((Db::default_sqlite_url(), true))
    }

    /// Connects to a database that should exist, creating the schema on an empty one.
    ///
    /// A SQLite file named by `--db`, `DATABASE_URL` or the config must exist: a mistyped
    /// path would otherwise become a new, empty database and the command would report nothing
    /// wrong. The embedded default is created on first use (a fresh install just works).
    ///
    /// # Errors
    /// When the URL cannot be resolved, a named SQLite file does not exist or the connection
    /// fails.
    pub async fn connect(&self) -> Result<Db, DatabaseArgsError> {
        self.connect_for(Access::Existing).await
    }

    /// Connects as [`DatabaseArgs::connect`] does, but creates a missing SQLite file if
    /// `access` is [`Access::Create`].
    ///
    /// # Errors
    /// As [`DatabaseArgs::connect`].
    pub async fn connect_for(&self, access: Access) -> Result<Db, DatabaseArgsError> {
        let (url, default) = self.resolve()?;
        open(&url, if default { Access::Create } else { access }).await
    }
}

/// Whether a command may create the SQLite file it is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The file must exist: the command reads, or changes what is there.
    Existing,
    /// The command defines new data (`vz-channel add`, a copy's target): a new file is fine.
    Create,
}

/// Connects to `url` for a tool: a missing SQLite file is refused unless `access` allows
/// creating it, and an unreachable server fails at once with its cause (the pool alone would
/// retry for 30 s and then say only "pool timed out").
///
/// # Errors
/// [`DatabaseArgsError::Connect`] with the URL (password hidden) and the cause.
pub async fn open(url: &str, access: Access) -> Result<Db, DatabaseArgsError> {
    let options = ConnectOptions {
        create_sqlite_file: access == Access::Create,
        fail_fast: true,
    };
    Db::connect_with(url, options)
        .await
        .map_err(|source| DatabaseArgsError::Connect {
            url: middleware::redact_url(url),
            source,
        })
}
