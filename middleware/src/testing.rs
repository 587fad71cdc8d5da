//! Test support: a fresh, isolated database per test on every backend, and the `db_test!`
//! macro that runs one test body on all of them.
//!
//! # Which backends run
//!
//! SQLite always runs, in a temporary file. MySQL/MariaDB runs when `VZ_TEST_MYSQL_URL` is set
//! and PostgreSQL when `VZ_TEST_PG_URL` is set; each URL names a server and a database the
//! user may connect to (e.g. `mysql://root@127.0.0.1:3306/test`,
//! `postgres://postgres@127.0.0.1:5432/test`), and the user must be allowed to create
//! databases. Every test gets its own database `vz_test_<random>` on that server.
//!
//! When a URL is unset, that backend's variant of a test passes after one line on stdout
//! (`skipped: VZ_TEST_MYSQL_URL not set, …`) —
//! unless `CI=true`, where an unset URL fails the test, so CI cannot silently skip a backend.
//! A URL that is set but unreachable always fails.
//!
//! # Example
//!
//! In `tests/readings.rs` of a crate with `middleware` (feature `testing`) and `tokio` as
//! dev-dependencies:
//!
//! ```no_run
//! use middleware::{NewEntity, db_test};
//!
//! /// A fixture; the test bodies see the items of their module.
//! fn power_channel() -> NewEntity {
//!     NewEntity {
//!         kind: "power".into(),
//!         uuid: None,
//!         properties: vec![("title".into(), "Flat".into()), ("resolution".into(), "1000".into())],
//!     }
//! }
//!
//! // Expands to the tests `stores_a_reading::{sqlite, mysql, postgres}`.
//! db_test!(stores_a_reading, |t| async move {
//!     let db = t.db();
//!     let channel = db.create_entity(&power_channel()).await?;
//!     db.insert_reading(channel.id, 1000, 1.0).await?;
//!     assert_eq!(db.readings(channel.id, 0, 2000).await?.len(), 1);
//!     Ok::<_, middleware::Error>(())
//! });
//!
//! // Starts from a database without tables, e.g. to build a legacy schema first.
//! db_test!(empty connects_to_an_empty_database, |t| async move {
//!     let db = t.connect().await.unwrap();
//!     assert!(db.entities().await.unwrap().is_empty());
//! });
//! # fn main() {}
//! ```

use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;

use sqlx::Connection as _;

use crate::db::dialect::Dialect;
use crate::{Backend, Db};

/// The environment variable with the MySQL/MariaDB server URL.
pub const MYSQL_URL_VAR: &str = "VZ_TEST_MYSQL_URL";
/// The environment variable with the PostgreSQL server URL.
pub const PG_URL_VAR: &str = "VZ_TEST_PG_URL";

/// The backends a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestBackend {
    /// A temporary SQLite file; always available.
    Sqlite,
    /// A fresh database on the server named by `VZ_TEST_MYSQL_URL`.
    MySql,
    /// A fresh database on the server named by `VZ_TEST_PG_URL`.
    Postgres,
}

impl TestBackend {
    /// The environment variable naming the server, if this backend needs one.
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            TestBackend::Sqlite => None,
            TestBackend::MySql => Some(MYSQL_URL_VAR),
            TestBackend::Postgres => Some(PG_URL_VAR),
        }
    }
}

/// What a test database holds when the test body starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// The current volkszaehler schema, created by [`Db::connect`]; [`TestDb::db`] is ready.
    Schema,
    /// Nothing: the test creates what it needs (e.g. a legacy schema) and connects itself.
    Empty,
}

/// One test's own database; dropped again by [`TestDb::cleanup`].
///
/// Cloning shares the database (and the connected [`Db`]); clean up once.
#[derive(Clone, Debug)]
pub struct TestDb {
    /// The URL to pass to [`Db::connect`] or to a binary's `--db`.
    url: String,
    /// The backend, from the URL's scheme.
    backend: Backend,
    /// Connected at creation for [`Setup::Schema`]; `None` for [`Setup::Empty`].
    db: Option<Db>,
    /// What to remove on cleanup.
    place: Place,
}

/// Where a test database lives.
#[derive(Clone, Debug)]
enum Place {
    /// A SQLite file (plus its `-wal`/`-shm` companions).
    File(PathBuf),
    /// A database on a server, dropped through the admin URL.
    Server {
        /// The URL from the environment, used to create and drop the database.
        admin_url: String,
        /// The database's name.
        name: String,
    },
}

impl TestDb {
    /// A fresh database with the current schema, or `None` if the backend is not configured.
    ///
    /// # Panics
    ///
    /// If the backend is not configured and `CI=true`, or if the server cannot be reached.
    pub async fn new(backend: TestBackend) -> Option<TestDb> {
        Self::with_setup(backend, Setup::Schema).await
    }

    /// A fresh database without any table, or `None` if the backend is not configured.
    ///
    /// # Panics
    ///
    /// As [`TestDb::new`].
    pub async fn empty(backend: TestBackend) -> Option<TestDb> {
        Self::with_setup(backend, Setup::Empty).await
    }

    /// A fresh database prepared as `setup` says, or `None` if the backend is not configured.
    ///
    /// # Panics
    ///
    /// As [`TestDb::new`].
    pub async fn with_setup(backend: TestBackend, setup: Setup) -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let name = format!("vz_test_{}", uuid::Uuid::new_v4().simple());
        let (url, place) = match backend.env_var() {
            None => {
                let file = std::env::temp_dir().join(format!("{name}.sqlite3"));
                // An empty file is an empty SQLite database; it lets `Setup::Empty` tests
                // connect without `mode=rwc`.
                std::fs::File::create(&file)
                    .unwrap_or_else(|error| panic!("creating {}: {error}", file.display()));
                (format!("sqlite://{}", file.display()), Place::File(file))
            }
            Some(var) => {
                let admin_url = server_url(var, backend)?;
                let dialect =
                    Dialect::for_url(&admin_url).unwrap_or_else(|error| panic!("{var}: {error}"));
                let mut admin = sqlx::AnyConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|error| panic!("connecting to {var}: {error}"));
                if let Some(create) = dialect.create_database(&name) {
                    sqlx::raw_sql(create)
                        .execute(&mut admin)
                        .await
                        .unwrap_or_else(|error| panic!("creating database {name}: {error}"));
                }
                let _ = admin.close().await;
                (
                    with_database(&admin_url, &name),
                    Place::Server { admin_url, name },
                )
            }
        };
        let backend = Dialect::for_url(&url)
            .map(Dialect::backend)
            .unwrap_or_else(|error| panic!("test database URL: {error}"));
        let db = match setup {
            Setup::Schema => Some(
                Db::connect(&url)
                    .await
                    .unwrap_or_else(|error| panic!("connecting to the test database: {error}")),
            ),
            Setup::Empty => None,
        };
        Some(TestDb {
            url,
            backend,
            db,
            place,
        })
    }

    /// The database URL, e.g. for a binary's `--db`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The handle connected at creation.
    ///
    /// # Panics
    ///
    /// For a database created with [`Setup::Empty`]; use [`TestDb::connect`] there.
    pub fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("this test database was created empty; call TestDb::connect() instead")
    }

    /// A new handle to this database (creating the current schema if it has no tables).
    ///
    /// # Errors
    ///
    /// As [`Db::connect`].
    pub async fn connect(&self) -> crate::Result<Db> {
        Db::connect(&self.url).await
    }

    /// Runs an SQL script (statements separated by `;`) on a connection of its own, bypassing
    /// this crate: for fixtures such as a legacy schema.
    ///
    /// # Panics
    ///
    /// If a statement fails.
    pub async fn execute(&self, script: &str) {
        let mut conn = sqlx::AnyConnection::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connecting to {}: {error}", self.url));
        for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{error}\nin statement: {statement}"));
        }
        let _ = conn.close().await;
    }

    /// Closes the connected handle and removes the database (file or server database).
    ///
    /// Failures are reported with `eprintln!` and otherwise ignored.
    pub async fn cleanup(self) {
        if let Some(db) = &self.db {
            db.close().await;
        }
        match &self.place {
            Place::File(file) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut path = file.clone().into_os_string();
                    path.push(suffix);
                    let _ = std::fs::remove_file(path);
                }
            }
            Place::Server { admin_url, name } => {
                if let Err(error) = drop_database(admin_url, name).await {
                    eprintln!("note: could not drop test database {name}: {error}");
                }
            }
        }
    }
}

/// Drops a server database through the admin URL.
async fn drop_database(admin_url: &str, name: &str) -> crate::Result<()> {
    let dialect = Dialect::for_url(admin_url)?;
    let mut admin = sqlx::AnyConnection::connect(admin_url).await?;
    if let Some(drop) = dialect.drop_database(name) {
        sqlx::raw_sql(drop).execute(&mut admin).await?;
    }
    admin.close().await?;
    Ok(())
}

/// The server URL from `var`, or `None` (with a note) to skip the backend.
///
/// # Panics
///
/// If `var` is unset and `CI=true`.
fn server_url(var: &str, backend: TestBackend) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} is not set, but CI=true requires every backend ({backend:?}) to run")
        }
        _ => {
            // On stdout, one line, so that a test log shows every variant that did not run
            // (`cargo test -- --nocapture`, or libtest's output of a failing test).
            println!("{}", skip_note(var, backend));
            None
        }
    }
}

/// The line printed when a backend's variant of a test is skipped.
fn skip_note(var: &str, backend: TestBackend) -> String {
    format!("skipped: {var} not set, so the {backend:?} variant of this test did not run")
}

/// `url` with its database (the path) replaced by `name`, keeping user, host and parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// What a test body may return: `()` or a `Result` whose error fails the test.
pub trait TestOutcome {
    /// Panics if the outcome is a failure.
    fn check(self);
}

impl TestOutcome for () {
    fn check(self) {}
}

impl<E: Debug> TestOutcome for Result<(), E> {
    fn check(self) {
        if let Err(error) = self {
            panic!("test body returned an error: {error:?}");
        }
    }
}

/// Runs one test body against a fresh database of `backend` and removes the database
/// afterwards, also when the body panics (the panic is then resumed). Used by `db_test!`.
///
/// # Panics
///
/// When the body fails, or as [`TestDb::new`].
pub async fn run<F, Fut>(backend: TestBackend, setup: Setup, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: TestOutcome + Send + 'static,
{
    let Some(test_db) = TestDb::with_setup(backend, setup).await else {
        return;
    };
    // A task, so that a panicking body still lets us clean up.
    let outcome = tokio::spawn(body(test_db.clone())).await;
    test_db.cleanup().await;
    match outcome {
        Ok(outcome) => outcome.check(),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("test task failed: {error}"),
    }
}

/// Defines one test per backend (SQLite, MySQL/MariaDB, PostgreSQL) from one body.
///
/// `db_test!(name, |t| async move { … })` expands to `mod name` with three `#[tokio::test]`
/// functions `sqlite`, `mysql` and `postgres` (so `cargo test name::sqlite` picks one). Each
/// gets `t`, a [`TestDb`](crate::testing::TestDb) holding a fresh database with the current
/// schema (`t.db()`, `t.url()`); the database is removed afterwards. The body may return `()`
/// or a `Result<(), E: Debug>`, so `?` works.
///
/// `db_test!(empty name, |t| async move { … })` starts from a database without tables
/// (`t.connect().await` creates the current schema; `t.execute(ddl)` can create another one).
///
/// The calling crate needs `tokio` (with `macros` and `rt`) as a dev-dependency. Items of the
/// enclosing module are visible in the body (`use super::*`). Backends without a configured
/// server are skipped (see [`testing`](crate::testing)).
///
/// ```no_run
/// middleware::db_test!(counts_entities, |t| async move {
///     assert!(t.db().entities().await?.is_empty());
///     Ok::<_, middleware::Error>(())
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! db_test {
    (empty $name:ident, |$t:ident| $body:expr) => {
        $crate::db_test!(@expand Empty, $name, |$t| $body);
    };
    ($name:ident, |$t:ident| $body:expr) => {
        $crate::db_test!(@expand Schema, $name, |$t| $body);
    };
    (@expand $setup:ident, $name:ident, |$t:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[::tokio::test]
            async fn sqlite() {
                $crate::testing::run(
                    $crate::testing::TestBackend::Sqlite,
                    $crate::testing::Setup::$setup,
                    |$t| $body,
                )
                .await;
            }

            #[::tokio::test]
            async fn mysql() {
                $crate::testing::run(
                    $crate::testing::TestBackend::MySql,
                    $crate::testing::Setup::$setup,
                    |$t| $body,
                )
                .await;
            }

            #[::tokio::test]
            async fn postgres() {
                $crate::testing::run(
                    $crate::testing::TestBackend::Postgres,
                    $crate::testing::Setup::$setup,
                    |$t| $body,
                )
                .await;
            }
        }
    };
}

// The legacy schema variant (tools-and-schema §1.5), for tests that must read and write a
// database the way pre-2021 installations left it.

/// Legacy DDL for MySQL/MariaDB, written from §1.5 (entities tables as in §1.2).
const MYSQL_LEGACY: &str = "
CREATE TABLE entities (id INT AUTO_INCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL, type VARCHAR(255) NOT NULL,
  class VARCHAR(255) NOT NULL, UNIQUE INDEX UNIQ_50EC64E5D17F50A6 (uuid), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL,
  INDEX IDX_2BD88468727ACA70 (parent_id), INDEX IDX_2BD88468DD62C21B (child_id), PRIMARY KEY(parent_id, child_id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE data (id INT AUTO_INCREMENT NOT NULL, channel_id INT NOT NULL, timestamp BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, INDEX IDX_ADF3F36372F5A1AA (channel_id),
  UNIQUE INDEX data_unique (channel_id, timestamp), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE properties (id INT AUTO_INCREMENT NOT NULL, entity_id INT NOT NULL, pkey VARCHAR(255) DEFAULT NULL,
  value LONGTEXT DEFAULT NULL, INDEX IDX_87C331C781257D5D (entity_id),
  UNIQUE INDEX property_unique (entity_id, pkey), PRIMARY KEY(id))
  DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
CREATE TABLE aggregate (id INT AUTO_INCREMENT NOT NULL, channel_id INT NOT NULL, type SMALLINT DEFAULT NULL,
  timestamp BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL, count INT DEFAULT NULL,
  INDEX IDX_B77949FF72F5A1AA (channel_id), UNIQUE INDEX aggregate_unique (channel_id, type, timestamp),
  PRIMARY KEY(id)) DEFAULT CHARACTER SET utf8 COLLATE utf8_unicode_ci ENGINE = InnoDB;
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id);
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id);
ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id);
ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id);
ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id)
";

/// Legacy DDL for PostgreSQL: `data.id` SERIAL, `properties.id`/`aggregate.id` fed from
/// sequences without a column default.
const POSTGRES_LEGACY: &str = r#"
CREATE SEQUENCE entities_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE SEQUENCE properties_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE SEQUENCE aggregate_id_seq INCREMENT BY 1 MINVALUE 1 START 1;
CREATE TABLE entities (id INT NOT NULL, uuid VARCHAR(36) NOT NULL, type VARCHAR(255) NOT NULL,
  class VARCHAR(255) NOT NULL, PRIMARY KEY(id));
CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid);
CREATE TABLE entities_in_aggregator (parent_id INT NOT NULL, child_id INT NOT NULL, PRIMARY KEY(parent_id, child_id));
CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id);
CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id);
CREATE TABLE data (id SERIAL NOT NULL, channel_id INT NOT NULL, "timestamp" BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id);
CREATE UNIQUE INDEX data_unique ON data (channel_id, "timestamp");
CREATE TABLE properties (id INT NOT NULL, entity_id INT NOT NULL, pkey VARCHAR(255) DEFAULT NULL,
  value TEXT DEFAULT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id);
CREATE UNIQUE INDEX property_unique ON properties (entity_id, pkey);
CREATE TABLE aggregate (id INT NOT NULL, channel_id INT NOT NULL, type SMALLINT DEFAULT NULL,
  "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL, count INT DEFAULT NULL, PRIMARY KEY(id));
CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp");
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE entities_in_aggregator ADD CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE data ADD CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE properties ADD CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE aggregate ADD CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE
"#;

/// Legacy DDL for SQLite (Doctrine's SQLite form of §1.5).
const SQLITE_LEGACY: &str = r#"
CREATE TABLE entities (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, uuid VARCHAR(36) NOT NULL,
  type VARCHAR(255) NOT NULL, class VARCHAR(255) NOT NULL);
CREATE UNIQUE INDEX UNIQ_50EC64E5D17F50A6 ON entities (uuid);
CREATE TABLE entities_in_aggregator (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL,
  PRIMARY KEY(parent_id, child_id),
  CONSTRAINT FK_2BD88468727ACA70 FOREIGN KEY (parent_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE,
  CONSTRAINT FK_2BD88468DD62C21B FOREIGN KEY (child_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_2BD88468727ACA70 ON entities_in_aggregator (parent_id);
CREATE INDEX IDX_2BD88468DD62C21B ON entities_in_aggregator (child_id);
CREATE TABLE data (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, channel_id INTEGER NOT NULL,
  "timestamp" BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
  CONSTRAINT FK_ADF3F36372F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_ADF3F36372F5A1AA ON data (channel_id);
CREATE UNIQUE INDEX data_unique ON data (channel_id, "timestamp");
CREATE TABLE properties (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, entity_id INTEGER NOT NULL,
  pkey VARCHAR(255) DEFAULT NULL, value CLOB DEFAULT NULL,
  CONSTRAINT FK_87C331C781257D5D FOREIGN KEY (entity_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_87C331C781257D5D ON properties (entity_id);
CREATE UNIQUE INDEX property_unique ON properties (entity_id, pkey);
CREATE TABLE aggregate (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, channel_id INTEGER NOT NULL,
  type SMALLINT DEFAULT NULL, "timestamp" BIGINT DEFAULT NULL, value DOUBLE PRECISION DEFAULT NULL,
  count INTEGER DEFAULT NULL,
  CONSTRAINT FK_B77949FF72F5A1AA FOREIGN KEY (channel_id) REFERENCES entities (id) NOT DEFERRABLE INITIALLY IMMEDIATE);
CREATE INDEX IDX_B77949FF72F5A1AA ON aggregate (channel_id);
CREATE UNIQUE INDEX aggregate_unique ON aggregate (channel_id, type, "timestamp")
"#;

/// The legacy DDL (tools-and-schema §1.5) for `backend`, to run on an empty test database with
/// [`TestDb::execute`].
pub fn legacy_ddl(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => MYSQL_LEGACY,
        Backend::Postgres => POSTGRES_LEGACY,
        Backend::Sqlite => SQLITE_LEGACY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_variant_names_its_variable() {
        assert_eq!(
            skip_note(MYSQL_URL_VAR, TestBackend::MySql),
            "skipped: VZ_TEST_MYSQL_URL not set, so the MySql variant of this test did not run"
        );
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        for (url, expect) in [
            (
                "mysql://root@127.0.0.1:3306/test",
                "mysql://root@127.0.0.1:3306/x",
            ),
            (
                "postgres://pg@h/test?sslmode=disable",
                "postgres://pg@h/x?sslmode=disable",
            ),
            ("postgres://pg@h", "postgres://pg@h/x"),
            ("mysql://u:p@h:1/", "mysql://u:p@h:1/x"),
        ] {
            assert_eq!(with_database(url, "x"), expect, "{url}");
        }
    }
}
