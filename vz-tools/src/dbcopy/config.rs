//! The dbcopy configuration (tools-and-schema §4.2): volkszaehler's `etc/dbcopy.dist.yaml`
//! works unchanged.
//!
//! ```yaml
//! source: {driver: pdo_mysql, host: localhost, user: vz, password: demo, dbname: volkszaehler}
//! target: {driver: pdo_sqlite, path: sqlite.db3}     # or a URL: postgres://vz@db/vz
//! tables:                                            # mode per table: skip, copy or pk
//!   entities: copy
//!   properties: copy
//!   entities_in_aggregator: copy
//!   data: pk
//!   aggregate: skip
//! ```
//!
//! `source` and `target` take volkszaehler's `db:` keys (driver, host, port, user, password,
//! dbname, path) or a URL. `tables` may also be dbcopy ≤ 1.2's list of `{name, mode}`. Without
//! `tables`, the dist file's choice above applies. Other keys (`influx`) are ignored.

use std::path::{Path, PathBuf};

use middleware::Table;
use push_core::config::DbConfig;
use serde_yaml::Value;

/// How a table is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Not at all.
    Skip,
    /// The target table is emptied and refilled with every source row.
    Copy,
    /// Incrementally: only source rows whose key is after the target's last key.
    Pk,
}

impl Mode {
    /// The mode as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Skip => "skip",
            Mode::Copy => "copy",
            Mode::Pk => "pk",
        }
    }
}

/// A parsed dbcopy configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct DbcopyConfig {
    /// The source database URL, if configured.
    pub source: Option<String>,
    /// The target database URL, if configured.
    pub target: Option<String>,
    /// Tables and modes, in the order written.
    pub tables: Vec<(Table, Mode)>,
}

impl Default for DbcopyConfig {
    fn default() -> DbcopyConfig {
        DbcopyConfig {
            source: None,
            target: None,
            tables: vec![
                (Table::Entities, Mode::Copy),
                (Table::Properties, Mode::Copy),
                (Table::EntitiesInAggregator, Mode::Copy),
                (Table::Data, Mode::Pk),
                (Table::Aggregate, Mode::Skip),
            ],
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// The YAML is not a dbcopy configuration.
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        what: String,
    },
}

impl DbcopyConfig {
    /// Reads a configuration file.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is not a dbcopy configuration.
    pub fn load(path: &Path) -> Result<DbcopyConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        DbcopyConfig::from_yaml(&text).map_err(|error| match error {
            Parse::Yaml(source) => ConfigError::Yaml {
                path: path.to_owned(),
                source,
            },
            Parse::Invalid(what) => ConfigError::Invalid {
                path: path.to_owned(),
                what,
            },
        })
    }

    /// Parses the YAML text of a configuration.
    ///
    /// # Errors
    ///
    /// [`Parse::Yaml`] for text that is not YAML, [`Parse::Invalid`] naming a bad key.
    pub fn from_yaml(text: &str) -> Result<DbcopyConfig, Parse> {
        let mut config = DbcopyConfig::default();
        if text.trim().is_empty() {
            return Ok(config);
        }
        let root: Value = serde_yaml::from_str(text).map_err(Parse::Yaml)?;
        if root.is_null() {
            return Ok(config);
        }
        if !root.is_mapping() {
            return Err(Parse::Invalid(
                "expected a map with source, target and tables".into(),
            ));
        }
        config.source = root
            .get("source")
            .map(|v| connection("source", v))
            .transpose()?;
        config.target = root
            .get("target")
            .map(|v| connection("target", v))
            .transpose()?;
        if let Some(tables) = root.get("tables") {
            config.tables = table_modes(tables)?;
        }
        Ok(config)
    }
}

/// Why a configuration text was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Parse {
    /// Not YAML.
    #[error(transparent)]
    Yaml(serde_yaml::Error),
    /// Not a dbcopy configuration.
    #[error("{0}")]
    Invalid(String),
}

/// A connection given as a URL or as volkszaehler `db:` keys.
fn connection(key: &str, value: &Value) -> Result<String, Parse> {
    if let Some(url) = value.as_str() {
        return Ok(url.trim().to_owned());
    }
    let params: DbConfig = serde_yaml::from_value(value.clone())
        .map_err(|error| Parse::Invalid(format!("{key}: {error}")))?;
    params
        .url()
        .map_err(|error| Parse::Invalid(format!("{key}: {error}")))
}

/// `tables`: a map table → mode, or a list of `{name, mode}`.
fn table_modes(value: &Value) -> Result<Vec<(Table, Mode)>, Parse> {
    let pairs: Vec<(&Value, &Value)> = match value {
        Value::Mapping(map) => map.iter().collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| match (item.get("name"), item.get("mode")) {
                (Some(name), Some(mode)) => Ok((name, mode)),
                _ => Err(Parse::Invalid(
                    "tables: each list entry needs `name` and `mode`".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Value::Null => Vec::new(),
        _ => return Err(Parse::Invalid("tables: expected a map table → mode".into())),
    };
    let mut tables: Vec<(Table, Mode)> = Vec::new();
    for (name, mode) in pairs {
        let name = name.as_str().unwrap_or_default();
        let table = Table::from_name(name).ok_or_else(|| {
            Parse::Invalid(format!(
                "tables: unknown table {name:?} (expected entities, properties, \
                 entities_in_aggregator, data or aggregate)"
            ))
        })?;
        let mode = match mode.as_str() {
            Some("skip") => Mode::Skip,
            Some("copy") => Mode::Copy,
            Some("pk") => Mode::Pk,
            _ => {
                return Err(Parse::Invalid(format!(
                    "tables: {name}: mode must be skip, copy or pk"
                )));
            }
        };
        if tables.iter().any(|(t, _)| *t == table) {
            return Err(Parse::Invalid(format!("tables: {name} is listed twice")));
        }
        tables.push((table, mode));
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dist_config() {
        let config = DbcopyConfig::from_yaml(
            "
# etc/dbcopy.dist.yaml
source:
  driver: pdo_mysql
  host: localhost
  user: vz
  password: demo
  dbname: volkszaehler
target:
  driver: pdo_sqlite
  path: sqlite.db3
influx: {dsn: 'influxdb://localhost:8086', dbname: volkszaehler, measurement: data}
tables:
  entities: copy
  properties: copy
  entities_in_aggregator: copy
  data: pk
  aggregate: skip
",
        )
        .unwrap();
        assert_eq!(
            config.source.as_deref(),
            Some("mysql://vz:demo@localhost/volkszaehler")
        );
        assert_eq!(config.target.as_deref(), Some("sqlite://sqlite.db3"));
        assert_eq!(config.tables, DbcopyConfig::default().tables);
    }

    #[test]
    fn reads_urls_and_the_old_list_form() {
        let config = DbcopyConfig::from_yaml(
            "source: 'postgres://pg@db/vz'\ntables: [{name: data, mode: copy}, {name: entities, mode: pk}]",
        )
        .unwrap();
        assert_eq!(config.source.as_deref(), Some("postgres://pg@db/vz"));
        assert_eq!(config.target, None);
        assert_eq!(
            config.tables,
            [(Table::Data, Mode::Copy), (Table::Entities, Mode::Pk)]
        );
    }

    #[test]
    fn bad_configs_are_named() {
        let err = |yaml: &str| DbcopyConfig::from_yaml(yaml).unwrap_err().to_string();
        assert!(err("tables: {readings: copy}").contains("unknown table \"readings\""));
        assert!(err("tables: {data: all}").contains("data: mode must be"));
        assert!(err("target: {driver: pdo_sqlite}").contains("target: db.path is required"));
        assert!(
            err("tables: [{name: data, mode: pk}, {name: data, mode: copy}]").contains("twice")
        );
    }
}
