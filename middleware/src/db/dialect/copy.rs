//! The SQL of copying between databases (vz-dbcopy) that differs per backend: keyset
//! conditions, how foreign keys are relaxed during a copy, clearing tables, distinct key
//! values, sequences, conflict handling, and creating or dropping a whole database.

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::{Backend, Dialect, split_sqlite_url, sqlite_in_memory, sqlite_mode};
use crate::Result;

/// How a backend lets a copy write rows whose foreign keys are not satisfied yet (a
/// referenced table is being refilled) — see [`Dialect::relax_foreign_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relax {
    /// A session setting on the copy's own connection: statements to turn checks off and on.
    /// Nothing in the schema changes, so a killed copy leaves every constraint in place.
    Session {
        /// Turns the checks off.
        off: &'static str,
        /// Turns them on again.
        on: &'static str,
    },
    /// The constraints are dropped and re-created (validated) afterwards; PostgreSQL can
    /// disable them only as superuser.
    Drop,
}

impl Dialect {
    /// `WHERE`-ready condition "the key is after the bound key" for key columns (neutral
    /// notation), and for each `?` the index of the key column it binds.
    ///
    /// MySQL/MariaDB does not use an index for row-value comparisons (`(a, b) > (?, ?)` is a
    /// full index scan there), so it gets the expanded `a > ? OR (a = ? AND b > ?)`, which
    /// its range optimizer turns into index ranges. PostgreSQL and SQLite use the row value
    /// directly, which their planners read as one index range (an `OR` would become a
    /// bitmap or a scan).
    pub(crate) fn key_after(self, columns: &[&str]) -> (String, Vec<usize>) {
        match self.backend {
            Backend::MySql => {
                let mut sql = String::from("(");
                let mut binds = Vec::new();
                for last in 0..columns.len() {
                    if last > 0 {
                        sql.push_str(" OR ");
                    }
                    sql.push('(');
                    for (i, column) in columns[..=last].iter().enumerate() {
                        if i > 0 {
                            sql.push_str(" AND ");
                        }
                        let op = if i == last { ">" } else { "=" };
                        sql.push_str(&format!("{column} {op} ?"));
                        binds.push(i);
                    }
                    sql.push(')');
                }
                sql.push(')');
                (sql, binds)
            }
            Backend::Sqlite | Backend::Postgres => {
                let list = columns.join(", ");
                let marks = vec!["?"; columns.len()].join(", ");
                (
                    format!("({list}) > ({marks})"),
                    (0..columns.len()).collect(),
                )
            }
        }
    }

    /// How foreign keys are relaxed while a copy runs.
    pub(crate) fn relax_foreign_keys(self) -> Relax {
        match self.backend {
            Backend::MySql => Relax::Session {
                off: "SET FOREIGN_KEY_CHECKS = 0",
                on: "SET FOREIGN_KEY_CHECKS = 1",
            },
            Backend::Sqlite => Relax::Session {
                off: "PRAGMA foreign_keys = OFF",
                on: "PRAGMA foreign_keys = ON",
            },
            Backend::Postgres => Relax::Drop,
        }
    }

    /// Session settings of a copy's writer connection that trade the durability of the
    /// last few commits on a server crash (never consistency) for speed: a copy that is
    /// cut short is simply run again.
    ///
    /// PostgreSQL waits for a WAL flush at every commit unless `synchronous_commit` is off
    /// (a per-session setting any user may change); with one commit per page that wait
    /// dominated the copy. SQLite in WAL mode skips the per-commit sync with `NORMAL`.
    /// MySQL's equivalent (`innodb_flush_log_at_trx_commit`) is global only.
    pub(crate) fn fast_writes(self) -> &'static [&'static str] {
        match self.backend {
            Backend::Postgres => &["SET synchronous_commit = off"],
            Backend::Sqlite => &["PRAGMA synchronous = NORMAL"],
            Backend::MySql => &[],
        }
    }

    /// The foreign keys of the current schema: table, constraint name, referencing column and
    /// the referenced table and column (PostgreSQL only; used by [`Relax::Drop`]).
    ///
    /// Columns: table, constraint name, definition as `pg_get_constraintdef` writes it.
    pub(crate) fn list_foreign_keys(self) -> Option<SqlStr> {
        match self.backend {
            Backend::Postgres => Some(
                "SELECT cl.relname::text, c.conname::text, pg_get_constraintdef(c.oid) \
                 FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = cl.relnamespace \
                 WHERE c.contype = 'f' AND n.nspname = current_schema() \
                 ORDER BY cl.relname, c.conname"
                    .into_sql_str(),
            ),
            Backend::MySql | Backend::Sqlite => None,
        }
    }

    /// Every foreign key that references `entities`, as (table, column) rows from the
    /// catalogue.
    pub(crate) fn entity_references(self) -> SqlStr {
        match self.backend {
            Backend::MySql => "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                               WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = 'entities' \
                               ORDER BY TABLE_NAME, COLUMN_NAME"
                .into_sql_str(),
            Backend::Postgres => "SELECT cl.relname::text, a.attname::text FROM pg_constraint c \
                                  JOIN pg_class cl ON cl.oid = c.conrelid \
                                  JOIN pg_namespace n ON n.oid = cl.relnamespace \
                                  JOIN pg_class r ON r.oid = c.confrelid \
                                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
                                  WHERE c.contype = 'f' AND n.nspname = current_schema() AND r.relname = 'entities' \
                                  ORDER BY 1, 2"
                .into_sql_str(),
            Backend::Sqlite => "SELECT m.name, f.\"from\" FROM sqlite_master m \
                                JOIN pragma_foreign_key_list(m.name) f \
                                WHERE m.type = 'table' AND f.\"table\" = 'entities' ORDER BY 1, 2"
                .into_sql_str(),
        }
    }

    /// `ALTER TABLE … DROP CONSTRAINT` for a foreign key found by [`Dialect::list_foreign_keys`].
    pub(crate) fn drop_foreign_key(self, table: &str, name: &str) -> SqlStr {
        let sql = match self.backend {
            Backend::MySql => format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}",
                self.quote(table),
                self.quote(name)
            ),
            Backend::Sqlite | Backend::Postgres => format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                self.quote(table),
                self.quote(name)
            ),
        };
        AssertSqlSafe(sql).into_sql_str()
    }

    /// `ALTER TABLE … ADD CONSTRAINT name definition`; the definition comes from the catalogue
    /// ([`Dialect::list_foreign_keys`]) or from the schema constants.
    pub(crate) fn add_foreign_key(self, table: &str, name: &str, definition: &str) -> SqlStr {
        let sql = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
            self.quote(table),
            self.quote(name)
        );
        AssertSqlSafe(sql).into_sql_str()
    }

    /// Empties a table quickly. `referenced` says other tables' foreign keys point at it:
    /// MySQL and PostgreSQL refuse `TRUNCATE` there, so it gets a `DELETE` (such tables are
    /// small). SQLite has no `TRUNCATE`; its `DELETE` without `WHERE` truncates.
    pub(crate) fn clear_table(self, table: &str, referenced: bool) -> SqlStr {
        let sql = match (self.backend, referenced) {
            (Backend::MySql | Backend::Postgres, false) => {
                format!("TRUNCATE TABLE {}", self.quote(table))
            }
            (Backend::MySql | Backend::Postgres, true) | (Backend::Sqlite, _) => {
                format!("DELETE FROM {}", self.quote(table))
            }
        };
        AssertSqlSafe(sql).into_sql_str()
    }

    /// Statements that drop a table and what belongs only to it (PostgreSQL's id sequences,
    /// which [`Dialect::create_schema`] creates again).
    pub(crate) fn drop_table(self, table: &str) -> Vec<SqlStr> {
        let mut statements = vec![
            AssertSqlSafe(format!("DROP TABLE IF EXISTS {}", self.quote(table))).into_sql_str(),
        ];
        if self.backend == Backend::Postgres
            && matches!(table, "entities" | "properties" | "aggregate")
        {
            statements.push(
                AssertSqlSafe(format!("DROP SEQUENCE IF EXISTS {table}_id_seq")).into_sql_str(),
            );
        }
        statements
    }

    /// The distinct values of an indexed column, in ascending order.
    ///
    /// MySQL answers `DISTINCT` on an index prefix with a loose index scan. PostgreSQL and
    /// SQLite would read the whole index, so they get a recursive "skip scan": one index
    /// seek per distinct value.
    pub(crate) fn distinct_values(self, table: &str, column: &str) -> SqlStr {
        let sql = match self.backend {
            Backend::MySql => format!("SELECT DISTINCT {column} FROM {table} ORDER BY {column}"),
            Backend::Sqlite | Backend::Postgres => format!(
                "WITH RECURSIVE v (x) AS (SELECT MIN({column}) FROM {table} UNION ALL \
                 SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > v.x) FROM v \
                 WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
            ),
        };
        AssertSqlSafe(sql).into_sql_str()
    }

    /// After entities were written with explicit ids: makes the id generator continue above
    /// the largest id. Only PostgreSQL needs it (`entities_id_seq` does not notice explicit
    /// ids); MySQL's AUTO_INCREMENT and SQLite's `sqlite_sequence` follow by themselves.
    pub(crate) fn advance_entity_ids(self) -> Option<SqlStr> {
        match self.backend {
            Backend::Postgres => Some(
                "SELECT setval('entities_id_seq', COALESCE((SELECT MAX(id) FROM entities), 0) + 1, false)"
                    .into_sql_str(),
            ),
            Backend::MySql | Backend::Sqlite => None,
        }
    }

    /// What ends a multi-row `INSERT` so that rows whose key exists already are skipped
    /// (resuming an incremental copy); `first_key` is the first key column (neutral).
    ///
    /// MySQL's `INSERT IGNORE` would also turn other errors (foreign keys, conversions) into
    /// warnings, so it gets a no-op `ON DUPLICATE KEY UPDATE` instead.
    pub(crate) fn skip_existing(self, first_key: &str) -> String {
        match self.backend {
            Backend::MySql => format!(" ON DUPLICATE KEY UPDATE {first_key} = {first_key}"),
            Backend::Sqlite | Backend::Postgres => " ON CONFLICT DO NOTHING".to_owned(),
        }
    }

    /// The value to insert for a legacy `id` column of `table` that has no default (only
    /// PostgreSQL's legacy `properties` and `aggregate`, fed from sequences by Doctrine);
    /// `None` where the database fills it.
    pub(crate) fn legacy_id_value(self, table: &str) -> Option<String> {
        match self.backend {
            Backend::Postgres => Some(format!("nextval('{table}_id_seq')")),
            Backend::MySql | Backend::Sqlite => None,
        }
    }

    /// The size a statement sent to the server should stay under, in bytes (estimated from
    /// its parameters).
    ///
    /// sqlx 0.9.0 no longer sets `TCP_NODELAY` (transact-rs/sqlx#4335, fixed upstream but
    /// not released). A statement larger than a TCP segment then waits for the server's
    /// delayed ACK, 40 ms each time, which capped copies to PostgreSQL at 20–60k rows/s; below
    /// about 16 KiB it is sent at once. SQLite runs in-process and needs no limit. Raise this
    /// once sqlx sets `TCP_NODELAY` again.
    pub(crate) fn statement_bytes(self) -> usize {
        match self.backend {
            Backend::MySql | Backend::Postgres => 12 * 1024,
            Backend::Sqlite => usize::MAX,
        }
    }

    /// SQL array types of a table's copied columns, where whole columns of a page are best
    /// sent as one array each and inserted with `unnest` (PostgreSQL: one short statement
    /// instead of thousands of bind parameters, which doubles the insert rate); `None` where
    /// multi-row `INSERT`s are used (other backends, and tables with text columns).
    pub(crate) fn array_types(self, table: &str) -> Option<&'static [&'static str]> {
        match (self.backend, table) {
            (Backend::Postgres, "data") => Some(&["int[]", "bigint[]", "float8[]"]),
            (Backend::Postgres, "aggregate") => {
                Some(&["int[]", "smallint[]", "bigint[]", "float8[]", "int[]"])
            }
            (Backend::Postgres, "entities_in_aggregator") => Some(&["int[]", "int[]"]),
            _ => None,
        }
    }

    /// A URL for opening a database that must exist already: for a SQLite file, `mode=rw`
    /// (never create it), unless the URL chooses a mode.
    pub(crate) fn existing_url(self, url: &str) -> String {
        match self.backend {
            Backend::Sqlite if !sqlite_in_memory(url) => {
                let (_, query) = split_sqlite_url(url);
                match (sqlite_mode(query), query) {
                    (Some(_), _) => url.to_owned(),
                    (None, Some(query)) if !query.is_empty() => format!("{url}&mode=rw"),
                    (None, Some(_)) => format!("{url}mode=rw"),
                    (None, None) => format!("{url}?mode=rw"),
                }
            }
            Backend::Sqlite | Backend::MySql | Backend::Postgres => url.to_owned(),
        }
    }

    /// For a server URL: the URL of the server's maintenance database and the database name
    /// of `url`; `None` for SQLite (a file) or a URL without a database name.
    ///
    /// MySQL connects without a database; PostgreSQL always needs one and has `postgres`.
    pub(crate) fn server_url(self, url: &str) -> Option<(String, String)> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let authority_start = base.find("://")? + 3;
        let path_start = authority_start + base[authority_start..].find('/')?;
        let name = super::percent_decode(&base[path_start + 1..]);
        if name.is_empty() {
            return None;
        }
        let maintenance = match self.backend {
            Backend::Sqlite => return None,
            Backend::MySql => "",
            Backend::Postgres => "postgres",
        };
        let mut server = format!("{}/{maintenance}", &base[..path_start]);
        if let Some(query) = query {
            server.push('?');
            server.push_str(query);
        }
        Some((server, name))
    }

    /// Whether a database exists on the server: one row with a count. Parameter: the name.
    pub(crate) fn count_databases(self) -> Option<SqlStr> {
        match self.backend {
            Backend::MySql => Some(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
                    .into_sql_str(),
            ),
            Backend::Postgres => {
                Some("SELECT COUNT(*) FROM pg_database WHERE datname = $1".into_sql_str())
            }
            Backend::Sqlite => None,
        }
    }

    /// `CREATE DATABASE` for any name (quoted); `None` for SQLite.
    pub(crate) fn create_database_named(self, name: &str) -> Option<SqlStr> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::MySql => Some(
                AssertSqlSafe(format!(
                    "CREATE DATABASE {} DEFAULT CHARACTER SET utf8mb4",
                    self.quote(name)
                ))
                .into_sql_str(),
            ),
            Backend::Postgres => {
                Some(AssertSqlSafe(format!("CREATE DATABASE {}", self.quote(name))).into_sql_str())
            }
        }
    }

    /// `DROP DATABASE` for any name (quoted); `None` for SQLite.
    pub(crate) fn drop_database_named(self, name: &str) -> Option<SqlStr> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::MySql | Backend::Postgres => {
                Some(AssertSqlSafe(format!("DROP DATABASE {}", self.quote(name))).into_sql_str())
            }
        }
    }

    /// An identifier quoted for this backend, quote characters inside doubled.
    pub(crate) fn quote(self, name: &str) -> String {
        match self.backend {
            Backend::MySql => format!("`{}`", name.replace('`', "``")),
            Backend::Sqlite | Backend::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }
}

/// The file of a SQLite URL, or `None` for another backend or an in-memory database.
pub(crate) fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>> {
    let dialect = Dialect::for_url(url)?;
    if dialect.backend != Backend::Sqlite || sqlite_in_memory(url) {
        return Ok(None);
    }
    let (path, _) = split_sqlite_url(url);
    Ok(Some(std::path::PathBuf::from(super::percent_decode(path))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(backend: Backend) -> Dialect {
        Dialect { backend }
    }

    #[test]
    fn keyset_conditions() {
        let (sql, binds) = dialect(Backend::MySql).key_after(&["a", "b", "c"]);
        assert_eq!(
            sql,
            "((a > ?) OR (a = ? AND b > ?) OR (a = ? AND b = ? AND c > ?))"
        );
        assert_eq!(binds, [0, 0, 1, 0, 1, 2]);
        let (sql, binds) = dialect(Backend::Postgres).key_after(&["a", "b"]);
        assert_eq!(sql, "(a, b) > (?, ?)");
        assert_eq!(binds, [0, 1]);
        let (sql, binds) = dialect(Backend::Sqlite).key_after(&["id"]);
        assert_eq!(sql, "(id) > (?)");
        assert_eq!(binds, [0]);
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            dialect(Backend::MySql).server_url("mysql://u:p@h:3306/vz?ssl-mode=disabled"),
            Some(("mysql://u:p@h:3306/?ssl-mode=disabled".into(), "vz".into()))
        );
        assert_eq!(
            dialect(Backend::Postgres).server_url("postgres://u@h/my%20db"),
            Some(("postgres://u@h/postgres".into(), "my db".into()))
        );
        assert_eq!(
            dialect(Backend::Postgres).server_url("postgres://u@h"),
            None
        );
        assert_eq!(dialect(Backend::Sqlite).server_url("sqlite:///a/b"), None);
    }

    #[test]
    fn existing_sqlite_files_are_not_created() {
        let sqlite = dialect(Backend::Sqlite);
        assert_eq!(
            sqlite.existing_url("sqlite:///a/b.db"),
            "sqlite:///a/b.db?mode=rw"
        );
        assert_eq!(
            sqlite.existing_url("sqlite:///a/b.db?mode=ro"),
            "sqlite:///a/b.db?mode=ro"
        );
        assert_eq!(
            sqlite.existing_url("sqlite:///a/b.db?cache=shared"),
            "sqlite:///a/b.db?cache=shared&mode=rw"
        );
        assert_eq!(sqlite.existing_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            sqlite_file("sqlite:///a/b%20c.db").unwrap(),
            Some("/a/b c.db".into())
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(dialect(Backend::MySql).quote("a`b"), "`a``b`");
        assert_eq!(dialect(Backend::Postgres).quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            dialect(Backend::Postgres).drop_table("entities").len(),
            2,
            "the sequence goes with the table"
        );
    }
}
