//! Reads a table's definition back from the database catalogue (information_schema on MySQL
//! and PostgreSQL, `sqlite_master` and pragmas on SQLite), independently of the crate.

use middleware::Backend;
use sqlx::{AnyPool, Row};

/// One column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// The type as the backend reports it: MySQL `DATA_TYPE` (plus the length of a varchar),
    /// PostgreSQL `data_type` (plus the length), SQLite's declared type.
    pub kind: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Whether the database fills the column itself (auto_increment, a default such as
    /// `nextval(...)`, or SQLite AUTOINCREMENT).
    pub generated: bool,
}

/// A secondary index (the primary key's own index is left out).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// Lowercase name (PostgreSQL folds unquoted names).
    pub name: String,
    /// Whether it is unique.
    pub unique: bool,
    /// Its columns in order.
    pub columns: Vec<String>,
}

/// A single-column foreign key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    /// Lowercase constraint name; `None` on SQLite, whose pragmas do not report it.
    pub name: Option<String>,
    /// The referencing column.
    pub column: String,
    /// The referenced table.
    pub table: String,
    /// The referenced column.
    pub referenced: String,
    /// The ON DELETE rule, uppercase (`RESTRICT` or `NO ACTION` when none was declared).
    pub on_delete: String,
}

/// A table as the catalogue describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Primary key columns in key order.
    pub primary_key: Vec<String>,
    /// Secondary indexes, sorted.
    pub indexes: Vec<Index>,
    /// Foreign keys, sorted.
    pub foreign_keys: Vec<ForeignKey>,
}

/// Reads one table.
pub async fn table(pool: &AnyPool, backend: Backend, name: &str) -> Table {
    let (columns, primary_key, mut indexes, mut foreign_keys) = match backend {
        Backend::MySql => (
            mysql_columns(pool, name).await,
            strings(pool, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION", name).await,
            mysql_indexes(pool, name).await,
            mysql_foreign_keys(pool, name).await,
        ),
        Backend::Postgres => (
            pg_columns(pool, name).await,
            strings(pool, "SELECT kcu.column_name::text FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name WHERE tc.table_schema = current_schema() AND tc.table_name = $1 AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position", name).await,
            pg_indexes(pool, name).await,
            pg_foreign_keys(pool, name).await,
        ),
        Backend::Sqlite => (
            sqlite_columns(pool, name).await,
            strings(pool, "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", name).await,
            sqlite_indexes(pool, name).await,
            sqlite_foreign_keys(pool, name).await,
        ),
    };
    indexes.sort();
    foreign_keys.sort();
    Table {
        name: name.to_owned(),
        columns,
        primary_key,
        indexes,
        foreign_keys,
    }
}

/// Names of all tables of the database, sorted.
pub async fn table_names(pool: &AnyPool, backend: Backend) -> Vec<String> {
    let sql = match backend {
        Backend::MySql => {
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .expect("listing tables")
}

/// Names of all sequences (PostgreSQL), sorted.
pub async fn pg_sequences(pool: &AnyPool) -> Vec<String> {
    sqlx::query_scalar("SELECT sequence_name::text FROM information_schema.sequences WHERE sequence_schema = current_schema() ORDER BY sequence_name")
        .fetch_all(pool)
        .await
        .expect("listing sequences")
}

/// The `CREATE TABLE` text of a SQLite table.
pub async fn sqlite_sql(pool: &AnyPool, table: &str) -> String {
    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("reading sqlite_master")
}

/// (ENGINE, TABLE_COLLATION) of a MySQL table.
pub async fn mysql_table_options(pool: &AnyPool, table: &str) -> (String, String) {
    let row = sqlx::query("SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?")
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("reading table options");
    (row.get(0), row.get(1))
}

async fn strings(pool: &AnyPool, sql: &'static str, table: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

async fn rows(pool: &AnyPool, sql: &'static str, table: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql)
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

async fn mysql_columns(pool: &AnyPool, table: &str) -> Vec<Column> {
    rows(pool, "SELECT COLUMN_NAME, DATA_TYPE, CAST(COALESCE(CHARACTER_MAXIMUM_LENGTH, 0) AS SIGNED), IS_NULLABLE, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", table)
        .await
        .iter()
        .map(|row| {
            let data_type: String = row.get(1);
            let length: i64 = row.get(2);
            let extra: String = row.get(4);
            Column {
                name: row.get(0),
                kind: if data_type == "varchar" { format!("varchar({length})") } else { data_type },
                nullable: row.get::<String, _>(3) == "YES",
                generated: extra.contains("auto_increment"),
            }
        })
        .collect()
}

async fn mysql_indexes(pool: &AnyPool, table: &str) -> Vec<Index> {
    let rows = rows(pool, "SELECT INDEX_NAME, CAST(NON_UNIQUE AS SIGNED), COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX", table).await;
    let mut indexes: Vec<Index> = Vec::new();
    for row in rows {
        let name = row.get::<String, _>(0).to_lowercase();
        let column: String = row.get(2);
        match indexes.last_mut() {
            Some(index) if index.name == name => index.columns.push(column),
            _ => indexes.push(Index {
                name,
                unique: row.get::<i64, _>(1) == 0,
                columns: vec![column],
            }),
        }
    }
    indexes
}

async fn mysql_foreign_keys(pool: &AnyPool, table: &str) -> Vec<ForeignKey> {
    rows(pool, "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL", table)
        .await
        .iter()
        .map(|row| ForeignKey {
            name: Some(row.get::<String, _>(0).to_lowercase()),
            column: row.get(1),
            table: row.get(2),
            referenced: row.get(3),
            on_delete: row.get::<String, _>(4).to_uppercase(),
        })
        .collect()
}

async fn pg_columns(pool: &AnyPool, table: &str) -> Vec<Column> {
    rows(pool, "SELECT column_name::text, data_type::text, COALESCE(character_maximum_length, 0)::int, is_nullable::text, column_default::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position", table)
        .await
        .iter()
        .map(|row| {
            let data_type: String = row.get(1);
            let length: i32 = row.get(2);
            Column {
                name: row.get(0),
                kind: if length > 0 { format!("{data_type}({length})") } else { data_type },
                nullable: row.get::<String, _>(3) == "YES",
                generated: row.get::<Option<String>, _>(4).is_some(),
            }
        })
        .collect()
}

async fn pg_indexes(pool: &AnyPool, table: &str) -> Vec<Index> {
    rows(pool, "SELECT i.relname::text, ix.indisunique, pg_get_indexdef(ix.indexrelid)::text FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid WHERE t.relname = $1 AND t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND NOT ix.indisprimary", table)
        .await
        .iter()
        .map(|row| {
            let definition: String = row.get(2);
            let list = definition.rsplit_once('(').map(|(_, rest)| rest.trim_end_matches(')')).unwrap_or_default();
            Index {
                name: row.get(0),
                unique: row.get(1),
                columns: list.split(", ").map(|c| c.trim_matches('"').to_owned()).collect(),
            }
        })
        .collect()
}

async fn pg_foreign_keys(pool: &AnyPool, table: &str) -> Vec<ForeignKey> {
    rows(pool, "SELECT tc.constraint_name::text, kcu.column_name::text, ccu.table_name::text, ccu.column_name::text, rc.delete_rule::text, tc.is_deferrable::text FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_schema = tc.constraint_schema AND ccu.constraint_name = tc.constraint_name JOIN information_schema.referential_constraints rc ON rc.constraint_schema = tc.constraint_schema AND rc.constraint_name = tc.constraint_name WHERE tc.table_schema = current_schema() AND tc.table_name = $1 AND tc.constraint_type = 'FOREIGN KEY'", table)
        .await
        .iter()
        .map(|row| {
            assert_eq!(row.get::<String, _>(5), "NO", "foreign keys are NOT DEFERRABLE");
            ForeignKey {
                name: Some(row.get(0)),
                column: row.get(1),
                table: row.get(2),
                referenced: row.get(3),
                on_delete: row.get(4),
            }
        })
        .collect()
}

async fn sqlite_columns(pool: &AnyPool, table: &str) -> Vec<Column> {
    let autoincrement = sqlite_sql(pool, table).await.contains("AUTOINCREMENT");
    rows(
        pool,
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
        table,
    )
    .await
    .iter()
    .map(|row| Column {
        name: row.get(0),
        kind: row.get(1),
        nullable: row.get::<i64, _>(2) == 0,
        generated: autoincrement && row.get::<i64, _>(3) == 1,
    })
    .collect()
}

async fn sqlite_indexes(pool: &AnyPool, table: &str) -> Vec<Index> {
    let list = rows(
        pool,
        "SELECT name, \"unique\" FROM pragma_index_list(?) WHERE origin <> 'pk'",
        table,
    )
    .await;
    let mut indexes = Vec::new();
    for row in list {
        let name: String = row.get(0);
        let columns = strings(
            pool,
            "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
            &name,
        )
        .await;
        indexes.push(Index {
            name: name.to_lowercase(),
            unique: row.get::<i64, _>(1) != 0,
            columns,
        });
    }
    indexes
}

async fn sqlite_foreign_keys(pool: &AnyPool, table: &str) -> Vec<ForeignKey> {
    rows(
        pool,
        "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?)",
        table,
    )
    .await
    .iter()
    .map(|row| ForeignKey {
        name: None,
        column: row.get(0),
        table: row.get(1),
        referenced: row.get(2),
        on_delete: row.get(3),
    })
    .collect()
}
