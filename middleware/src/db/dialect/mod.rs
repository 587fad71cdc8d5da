//! Everything that differs between SQLite, MySQL/MariaDB and PostgreSQL.
//!
//! This is the only module that looks at [`Backend`]: DDL, placeholders, identifier quoting,
//! upserts, sequences, catalogue queries and URL handling all live here. The other modules write
//! SQL in a neutral notation and let [`Dialect::sql`] render it:
//!
//! - `?` is a bind parameter, rendered as `$1`, `$2`, … on PostgreSQL;
//! - `"name"` is a quoted identifier, rendered with backticks on MySQL (whose default `sql_mode`
//!   reads double quotes as strings);
//! - single-quoted string literals are copied unchanged.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::{Error, Result};

pub(crate) mod aggregate;
pub(crate) mod compress;
pub(crate) mod copy;

/// The database server a URL points to, chosen by the URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (`sqlite:`), the embedded default.
    Sqlite,
    /// MySQL or MariaDB (`mysql:`, `mariadb:`).
    MySql,
    /// PostgreSQL (`postgres:`, `postgresql:`).
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if the scheme is none of `sqlite:`, `mysql:`, `mariadb:`,
    /// `postgres:` and `postgresql:`.
    pub fn from_url(url: &str) -> Result<Backend> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Backend::Sqlite),
            Some("mysql" | "mariadb") => Ok(Backend::MySql),
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            _ => Err(invalid_url(
                url,
                "the scheme must be sqlite:, mysql:, mariadb:, postgres: or postgresql:",
            )),
        }
    }

    /// The product name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::MySql => "MySQL",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The SQL dialect of one backend; cheap to copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dialect {
    /// The backend whose SQL this renders.
    backend: Backend,
}

impl Dialect {
    /// The dialect for a database URL.
    pub(crate) fn for_url(url: &str) -> Result<Dialect> {
        Backend::from_url(url).map(|backend| Dialect { backend })
    }

    /// The backend this dialect renders for.
    pub(crate) fn backend(self) -> Backend {
        self.backend
    }

    /// Renders a static neutral statement (see the module docs).
    pub(crate) fn sql(self, neutral: &'static str) -> SqlStr {
        match self.backend {
            Backend::Sqlite => neutral.into_sql_str(),
            Backend::MySql | Backend::Postgres => self.sql_owned(neutral),
        }
    }

    /// Renders a neutral statement that was built at run time (see the module docs).
    ///
    /// Callers build such statements only from constant pieces and placeholder lists, never
    /// from input, which is what makes `AssertSqlSafe` true.
    pub(crate) fn sql_owned(self, neutral: &str) -> SqlStr {
        AssertSqlSafe(self.render(neutral)).into_sql_str()
    }

    /// Rewrites placeholders and quoted identifiers outside string literals.
    fn render(self, neutral: &str) -> String {
        let mut out = String::with_capacity(neutral.len() + neutral.len() / 4);
        let mut in_literal = false;
        let mut placeholder = 0_usize;
        for c in neutral.chars() {
            match (c, self.backend) {
                ('\'', _) => {
                    in_literal = !in_literal;
                    out.push(c);
                }
                ('?', Backend::Postgres) if !in_literal => {
                    placeholder += 1;
                    // Writing to a String cannot fail.
                    let _ = write!(out, "${placeholder}");
                }
                ('"', Backend::MySql) if !in_literal => out.push('`'),
                _ => out.push(c),
            }
        }
        out
    }

    /// How many bind parameters one statement may carry.
    ///
    /// SQLite's limit is 32766 since 3.32 (sqlx bundles a newer SQLite); MySQL and PostgreSQL
    /// count parameters in 16 bits.
    pub(crate) fn max_bind_params(self) -> usize {
        match self.backend {
            Backend::Sqlite => 32_766,
            Backend::MySql | Backend::Postgres => 65_535,
        }
    }

    /// Prepares a URL for sqlx and returns it.
    ///
    /// For a SQLite file this creates the file's folder and adds `mode=rwc` (create if
    /// missing), unless the URL chooses a `mode` itself.
    pub(crate) fn prepare_url(self, url: &str) -> Result<String> {
        match self.backend {
            Backend::Sqlite => prepare_sqlite_url(url),
            Backend::MySql | Backend::Postgres => Ok(url.to_owned()),
        }
    }

    /// Prepares a URL for sqlx to open a database that must exist: [`Dialect::existing_url`],
    /// after checking that a SQLite file exists (sqlx would only say "unable to open database
    /// file").
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchFile`] if the SQLite file does not exist.
    pub(crate) fn open_existing_url(self, url: &str) -> Result<String> {
        match self.backend {
            Backend::Sqlite if !sqlite_in_memory(url) => {
                let path = PathBuf::from(percent_decode(split_sqlite_url(url).0));
                if !path.exists() {
                    return Err(Error::NoSuchFile { path });
                }
            }
            Backend::Sqlite | Backend::MySql | Backend::Postgres => {}
        }
        Ok(self.existing_url(url))
    }

    /// Pool options for a prepared URL.
    ///
    /// An in-memory SQLite database lives as long as one of its connections, so its pool keeps
    /// exactly one connection forever.
    pub(crate) fn pool_options(self, url: &str) -> AnyPoolOptions {
        let options = AnyPoolOptions::new();
        match self.backend {
            Backend::Sqlite if sqlite_in_memory(url) => options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            Backend::Sqlite | Backend::MySql | Backend::Postgres => options,
        }
    }

    /// The statement that opens a transaction which will write, if the default `BEGIN` is not
    /// right for that.
    ///
    /// SQLite's deferred `BEGIN` takes the write lock only at the first write; if another
    /// connection wrote meanwhile, the upgrade fails at once with `SQLITE_BUSY` instead of
    /// waiting. `BEGIN IMMEDIATE` takes the lock up front, so the busy timeout applies.
    pub(crate) fn begin_write(self) -> Option<&'static str> {
        match self.backend {
            Backend::Sqlite => Some("BEGIN IMMEDIATE"),
            Backend::MySql | Backend::Postgres => None,
        }
    }

    /// The current volkszaehler schema (tools-and-schema §1.2–1.4), one statement each.
    pub(crate) fn create_schema(self) -> &'static [&'static str] {
        match self.backend {
            Backend::Sqlite => SQLITE_SCHEMA,
            Backend::MySql => MYSQL_SCHEMA,
            Backend::Postgres => POSTGRES_SCHEMA,
        }
    }

    /// Statements run once, outside a transaction, after the schema was created.
    ///
    /// A SQLite database we create is switched to WAL so that readers never block the writer.
    /// Databases we did not create keep their journal mode.
    pub(crate) fn after_create(self) -> &'static [&'static str] {
        match self.backend {
            Backend::Sqlite => &["PRAGMA journal_mode = WAL"],
            Backend::MySql | Backend::Postgres => &[],
        }
    }

    /// `COUNT(*)` of tables named by bind parameter 1 in the connection's database/schema.
    pub(crate) fn count_tables(self) -> SqlStr {
        match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
                    .into_sql_str()
            }
            Backend::MySql => "SELECT COUNT(*) FROM information_schema.tables \
                               WHERE table_schema = DATABASE() AND table_name = ?"
                .into_sql_str(),
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables \
                                  WHERE table_schema = current_schema() AND table_name = $1"
                .into_sql_str(),
        }
    }

    /// `COUNT(*)` of columns named by parameter 2 in the table named by parameter 1.
    pub(crate) fn count_columns(self) -> SqlStr {
        match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?".into_sql_str()
            }
            Backend::MySql => "SELECT COUNT(*) FROM information_schema.columns \
                               WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
                .into_sql_str(),
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.columns \
                                  WHERE table_schema = current_schema() AND table_name = $1 \
                                  AND column_name = $2"
                .into_sql_str(),
        }
    }

    /// Inserts an entity; parameters: uuid, type, class.
    ///
    /// PostgreSQL's `entities.id` has no default: the ORM feeds it from `entities_id_seq`.
    pub(crate) fn insert_entity(self) -> SqlStr {
        match self.backend {
            Backend::Sqlite => {
                r#"INSERT INTO entities (uuid, "type", "class") VALUES (?, ?, ?)"#.into_sql_str()
            }
            Backend::MySql => {
                "INSERT INTO entities (uuid, `type`, `class`) VALUES (?, ?, ?)".into_sql_str()
            }
            Backend::Postgres => r#"INSERT INTO entities (id, uuid, "type", "class") VALUES (nextval('entities_id_seq'), $1, $2, $3)"#
                .into_sql_str(),
        }
    }

    /// Inserts or replaces a property; parameters: entity id, key, value.
    ///
    /// `legacy_id` says the table has the legacy `id` column. On MySQL and SQLite it fills
    /// itself; on PostgreSQL it has no default and is fed from `properties_id_seq`. The
    /// conflict key (entity_id, pkey) is the primary key in the current schema and a unique
    /// index in the legacy one.
    pub(crate) fn upsert_property(self, legacy_id: bool) -> SqlStr {
        match (self.backend, legacy_id) {
            (Backend::Sqlite, _) => r#"INSERT INTO properties (entity_id, pkey, "value") VALUES (?, ?, ?) ON CONFLICT (entity_id, pkey) DO UPDATE SET "value" = excluded."value""#
                .into_sql_str(),
            (Backend::MySql, _) => "INSERT INTO properties (entity_id, pkey, `value`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `value` = VALUES(`value`)"
                .into_sql_str(),
            (Backend::Postgres, false) => r#"INSERT INTO properties (entity_id, pkey, "value") VALUES ($1, $2, $3) ON CONFLICT (entity_id, pkey) DO UPDATE SET "value" = excluded."value""#
                .into_sql_str(),
            (Backend::Postgres, true) => r#"INSERT INTO properties (id, entity_id, pkey, "value") VALUES (nextval('properties_id_seq'), $1, $2, $3) ON CONFLICT (entity_id, pkey) DO UPDATE SET "value" = excluded."value""#
                .into_sql_str(),
        }
    }

    #[cfg(feature = "testing")]
    /// Creates a database on a server (test support); `None` for SQLite, whose databases are
    /// files. `name` must be a plain identifier.
    pub(crate) fn create_database(self, name: &str) -> Option<SqlStr> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::MySql => {
                Some(AssertSqlSafe(format!("CREATE DATABASE `{name}`")).into_sql_str())
            }
            Backend::Postgres => {
                Some(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")).into_sql_str())
            }
        }
    }

    #[cfg(feature = "testing")]
    /// Drops a database on a server (test support), even while connections are open; `None`
    /// for SQLite. `name` must be a plain identifier.
    pub(crate) fn drop_database(self, name: &str) -> Option<SqlStr> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::MySql => {
                Some(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")).into_sql_str())
            }
            Backend::Postgres => Some(
                AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .into_sql_str(),
            ),
        }
    }
}

/// An [`Error::InvalidUrl`] that does not repeat the URL's password.
pub(crate) fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    }
}

/// The URL with the password of its user info replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Splits a SQLite URL into its (still percent-encoded) path and query.
fn split_sqlite_url(url: &str) -> (&str, Option<&str>) {
    // sqlx strips `sqlite://` or else `sqlite:`; do the same so paths agree.
    let rest = strip_scheme(url, "sqlite://")
        .or_else(|| strip_scheme(url, "sqlite:"))
        .unwrap_or(url);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// `text` without `prefix`, compared ASCII-case-insensitively.
fn strip_scheme<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The value of the `mode` query parameter of a SQLite URL.
fn sqlite_mode(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("mode="))
}

/// Whether a SQLite URL names an in-memory database.
fn sqlite_in_memory(url: &str) -> bool {
    let (path, query) = split_sqlite_url(url);
    path == ":memory:" || sqlite_mode(query) == Some("memory")
}

/// Adds `mode=rwc` to a SQLite file URL and creates the file's folder.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    if sqlite_in_memory(url) {
        return Ok(url.to_owned());
    }
    let (path, query) = split_sqlite_url(url);
    if path.is_empty() {
        return Err(invalid_url(url, "no database file given"));
    }
    let mode = sqlite_mode(query);
    if mode.is_none() || mode == Some("rwc") {
        let file = PathBuf::from(percent_decode(path));
        if let Some(folder) = file
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| Error::Io {
                action: "creating the database folder",
                path: folder.to_owned(),
                source,
            })?;
        }
    }
    Ok(match (mode, query) {
        (Some(_), _) => url.to_owned(),
        (None, Some(query)) if !query.is_empty() => format!("{url}&mode=rwc"),
        (None, Some(_)) => format!("{url}mode=rwc"),
        (None, None) => format!("{url}?mode=rwc"),
    })
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok());
        match (
            bytes[i],
            hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Current schema on MySQL/MariaDB, as Doctrine generates it (tools-and-schema §1.2).
const MYSQL_SCHEMA: &[&str] = &[
    "CREATE TABLE entities (id INT AUTO_INCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL, \
     `type` VARCHAR(255) NOT NULL, `class` VARCHAR(255) NOT NULL, \
     UNIQUE INDEX UNIQ_50EC64E5D17F50A6 (uuid), PRIMARY KEY(id)) \
     DEFAULT CHARACTER SET utf8 COLLATE `utf8_unicode_ci` ENGINE = InnoDB",
    "CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL, \
     INDEX IDX_2BD88468727ACA70 (parent_id), INDEX IDX_2BD88468DD62C21B (child_id), \
     PRIMARY KEY(parent_id, child_id)) \
     DEFAULT CHARACTER SET utf8 COLLATE `utf8_unicode_ci` ENGINE = InnoDB",
    "CREATE TABLE data (`timestamp` BIGINT NOT NULL, channel_id INT NOT NULL, \
     `value` DOUBLE PRECISION NOT NULL, INDEX IDX_ADF3F36372F5A1AA (channel_id), \
     PRIMARY KEY(channel_id, `timestamp`)) \
     DEFAULT CHARACTER SET utf8 COLLATE `utf8_unicode_ci` ENGINE = InnoDB",
    "CREATE TABLE properties (pkey VARCHAR(255) NOT NULL, entity_id INT NOT NULL, \
     `value` LONGTEXT NOT NULL, INDEX IDX_87C331C781257D5D (entity_id), \
     PRIMARY KEY(entity_id, pkey)) \
     DEFAULT CHARACTER SET utf8 COLLATE `utf8_unicode_ci` ENGINE = InnoDB",
    "CREATE TABLE aggregate (`type` SMALLINT NOT NULL, `timestamp` BIGINT NOT NULL, \
     channel_id INT NOT NULL, `value` DOUBLE PRECISION NOT NULL, `count` INT NOT NULL, \
     INDEX IDX_B77949FF72F5A1AA (channel_id), PRIMARY KEY(channel_id, `type`, `timestamp`)) \
     DEFAULT CHARACTER SET utf8 COLLATE `utf8_unicode_ci` ENGINE = InnoDB",
    "ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 \
     FOREIGN KEY (parent_id) REFERENCES entities (id)",
    "ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B \
     FOREIGN KEY (child_id) REFERENCES entities (id)",
    "ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA \
     FOREIGN KEY (channel_id) REFERENCES entities (id)",
    "ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D \
     FOREIGN KEY (entity_id) REFERENCES entities (id)",
    "ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA \
     FOREIGN KEY (channel_id) REFERENCES entities (id)",
];

/// Current schema on PostgreSQL, as Doctrine generates it (tools-and-schema §1.3).
const POSTGRES_SCHEMA: &[&str] = &[
    "CREATE SEQUENCE entities_id_seq INCREMENT BY 1 MINVALUE 1 START 1",
    r#"CREATE TABLE entities (id INT NOT NULL, uuid VARCHAR(36) NOT NULL, "type" VARCHAR(255) NOT NULL, "class" VARCHAR(255) NOT NULL, PRIMARY KEY(id))"#,
    "CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid)",
    "CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL, \
     PRIMARY KEY(parent_id, child_id))",
    "CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id)",
    "CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id)",
    r#"CREATE TABLE data ("timestamp" BIGINT NOT NULL, channel_id INT NOT NULL, "value" DOUBLE PRECISION NOT NULL, PRIMARY KEY(channel_id, "timestamp"))"#,
    "CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id)",
    r#"CREATE TABLE properties (pkey VARCHAR(255) NOT NULL, entity_id INT NOT NULL, "value" TEXT NOT NULL, PRIMARY KEY(entity_id, pkey))"#,
    "CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id)",
    r#"CREATE TABLE aggregate ("type" SMALLINT NOT NULL, "timestamp" BIGINT NOT NULL, channel_id INT NOT NULL, "value" DOUBLE PRECISION NOT NULL, "count" INT NOT NULL, PRIMARY KEY(channel_id, "type", "timestamp"))"#,
    "CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id)",
    "ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 \
     FOREIGN KEY (parent_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE",
    "ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B \
     FOREIGN KEY (child_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE",
    "ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA \
     FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE",
    "ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D \
     FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE",
    "ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA \
     FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE",
];

/// Current schema on SQLite, as Doctrine generates it (tools-and-schema §1.4).
const SQLITE_SCHEMA: &[&str] = &[
    r#"CREATE TABLE entities (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL, "type" VARCHAR(255) NOT NULL, "class" VARCHAR(255) NOT NULL)"#,
    "CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid)",
    "CREATE TABLE entities_in_aggregator (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL, \
     PRIMARY KEY(parent_id, child_id), \
     CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id) \
     NOT DEFERRABLE INITIALLY IMMEDIATE, \
     CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id) \
     NOT DEFERRABLE INITIALLY IMMEDIATE)",
    "CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id)",
    "CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id)",
    r#"CREATE TABLE data ("timestamp" BIGINT NOT NULL, channel_id INTEGER NOT NULL, "value" DOUBLE PRECISION NOT NULL, PRIMARY KEY(channel_id, "timestamp"), CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE)"#,
    "CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id)",
    r#"CREATE TABLE properties (pkey VARCHAR(255) NOT NULL, entity_id INTEGER NOT NULL, "value" CLOB NOT NULL, PRIMARY KEY(entity_id, pkey), CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE)"#,
    "CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id)",
    r#"CREATE TABLE aggregate ("type" SMALLINT NOT NULL, "timestamp" BIGINT NOT NULL, channel_id INTEGER NOT NULL, "value" DOUBLE PRECISION NOT NULL, "count" INTEGER NOT NULL, PRIMARY KEY(channel_id, "type", "timestamp"), CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE)"#,
    "CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id)",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check_render(backend: Backend, neutral: &str, expect: &str) {
        assert_eq!(Dialect { backend }.render(neutral), expect);
    }

    #[test]
    fn renders_placeholders_on_postgres() {
        check_render(
            Backend::Postgres,
            r#"SELECT "value" FROM data WHERE channel_id = ? AND "timestamp" IN (?, ?)"#,
            r#"SELECT "value" FROM data WHERE channel_id = $1 AND "timestamp" IN ($2, $3)"#,
        );
    }

    #[test]
    fn renders_backticks_on_mysql() {
        check_render(
            Backend::MySql,
            r#"SELECT "value" FROM data WHERE channel_id = ?"#,
            "SELECT `value` FROM data WHERE channel_id = ?",
        );
    }

    #[test]
    fn keeps_sqlite_text() {
        check_render(
            Backend::Sqlite,
            r#"SELECT "type" FROM e WHERE a = ?"#,
            r#"SELECT "type" FROM e WHERE a = ?"#,
        );
    }

    #[test]
    fn leaves_string_literals_alone() {
        check_render(
            Backend::Postgres,
            "SELECT '?' WHERE a = ?",
            "SELECT '?' WHERE a = $1",
        );
        check_render(
            Backend::MySql,
            r#"SELECT '"x"', "y""#,
            r#"SELECT '"x"', `y`"#,
        );
    }

    #[test]
    fn backend_from_scheme() {
        for (url, expect) in [
            ("sqlite:vz.db", Backend::Sqlite),
            ("sqlite:///tmp/vz.db", Backend::Sqlite),
            ("mysql://root@localhost/vz", Backend::MySql),
            ("mariadb://root@localhost/vz", Backend::MySql),
            ("MySQL://root@localhost/vz", Backend::MySql),
            ("postgres://pg@localhost/vz", Backend::Postgres),
            ("postgresql://pg@localhost/vz", Backend::Postgres),
        ] {
            assert_eq!(Backend::from_url(url).unwrap(), expect, "{url}");
        }
        assert!(matches!(
            Backend::from_url("http://x"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            Backend::from_url("no scheme"),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("mysql://vz:secret@db:3306/vz"),
            "mysql://vz:***@db:3306/vz"
        );
        assert_eq!(redact_url("mysql://vz@db/vz"), "mysql://vz@db/vz");
        assert_eq!(redact_url("sqlite:vz.db"), "sqlite:vz.db");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join(format!("vz-dialect-{}", uuid::Uuid::new_v4()));
        let file = dir.join("a b").join("vz.sqlite3");
        let url = format!(
            "sqlite://{}",
            file.display().to_string().replace(' ', "%20")
        );
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(file.parent().unwrap().is_dir());
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").unwrap(),
            "sqlite::memory:"
        );
        assert_eq!(
            prepare_sqlite_url("sqlite:vz.db?mode=ro").unwrap(),
            "sqlite:vz.db?mode=ro"
        );
        assert_eq!(
            prepare_sqlite_url("sqlite:vz.db?cache=shared").unwrap(),
            "sqlite:vz.db?cache=shared&mode=rwc"
        );
        assert!(matches!(
            prepare_sqlite_url("sqlite://"),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b%3Fc"), "a b?c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
