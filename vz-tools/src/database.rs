//! The database options shared by every tool: `--db URL`, `DATABASE_URL`, `--config PATH`.
//!
//! Precedence: `--db` beats `DATABASE_URL` beats the `db:` section of `--config`, and with none
//! of them the embedded SQLite default is used (decision 13), so a fresh install just works.

use std::path::PathBuf;

use clap::Args;
use middleware::Db;
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
        if let Some(url) = &self.url {
            return Ok(url.clone());
        }
        let config = self.load_config()?;
        if let Some(db) = config.as_ref().and_then(|c| c.db.as_ref()) {
            let path = self.config.clone().unwrap_or_default();
            return db
                .url()
                .map_err(|source| DatabaseArgsError::Config { path, source });
        }
        Ok(Db::default_sqlite_url())
    }

    /// Connects, creating the schema on an empty database.
    ///
    /// # Errors
    /// When the URL cannot be resolved or the connection fails.
    pub async fn connect(&self) -> Result<Db, DatabaseArgsError> {
        let url = self.resolve_url()?;
        Db::connect(&url)
            .await
            .map_err(|source| DatabaseArgsError::Connect {
                url: middleware::redact_url(&url),
                source,
            })
    }
}
