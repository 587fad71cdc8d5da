//! Creating the volkszaehler schema in an empty database, and recognising an existing one.

use sqlx::AnyPool;

use super::dialect::Dialect;
use crate::{Error, Result};

/// Which generation of the volkszaehler schema a database has (tools-and-schema §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaVariant {
    /// `data`, `properties` and `aggregate` have composite primary keys (since 2021).
    Current,
    /// `data`, `properties` and/or `aggregate` have a surrogate `id` primary key and a unique
    /// index over the natural key, as in databases never migrated since 2021.
    Legacy,
}

/// The tables of the volkszaehler schema; a database has all of them or none.
const TABLES: [&str; 5] = [
    "entities",
    "entities_in_aggregator",
    "data",
    "properties",
    "aggregate",
];

/// What the code writing to a database has to know about its schema.
///
/// Detected per table, because a half-migrated database may mix the variants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// The variant as reported to callers: legacy if any table still has an `id`.
    pub(crate) variant: SchemaVariant,
    /// `properties.id` exists (PostgreSQL inserts must feed it from `properties_id_seq`).
    pub(crate) properties_id: bool,
    /// `aggregate.id` exists (PostgreSQL inserts must feed it from `aggregate_id_seq`).
    pub(crate) aggregate_id: bool,
}

/// Creates the current schema if the database has no volkszaehler table, otherwise detects
/// the variant. An existing schema is never altered.
///
/// # Errors
///
/// [`Error::IncompleteSchema`] if only some of the tables exist; [`Error::Database`] if a
/// catalogue query or the DDL fails.
pub(crate) async fn prepare(pool: &AnyPool, dialect: Dialect) -> Result<Layout> {
    let mut missing = Vec::new();
    for table in TABLES {
        if !table_exists(pool, dialect, table).await? {
            missing.push(table);
        }
    }
    if missing.len() == TABLES.len() {
        create(pool, dialect).await?;
        return Ok(Layout {
            variant: SchemaVariant::Current,
            properties_id: false,
            aggregate_id: false,
        });
    }
    if !missing.is_empty() {
        return Err(Error::IncompleteSchema { missing });
    }
    let data_id = column_exists(pool, dialect, "data", "id").await?;
    let properties_id = column_exists(pool, dialect, "properties", "id").await?;
    let aggregate_id = column_exists(pool, dialect, "aggregate", "id").await?;
    let variant = if data_id || properties_id || aggregate_id {
        SchemaVariant::Legacy
    } else {
        SchemaVariant::Current
    };
    Ok(Layout {
        variant,
        properties_id,
        aggregate_id,
    })
}

/// Runs the dialect's DDL in one transaction (atomic where the backend has transactional DDL).
async fn create(pool: &AnyPool, dialect: Dialect) -> Result<()> {
    let mut tx = match dialect.begin_write() {
        Some(statement) => pool.begin_with(statement).await?,
        None => pool.begin().await?,
    };
    for statement in dialect.create_schema() {
        sqlx::raw_sql(*statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    for statement in dialect.after_create() {
        sqlx::raw_sql(*statement).execute(pool).await?;
    }
    Ok(())
}

/// Whether the connection's database (schema, on PostgreSQL) has this table.
async fn table_exists(pool: &AnyPool, dialect: Dialect, table: &str) -> Result<bool> {
    let count: i64 = sqlx::query_scalar(dialect.count_tables())
        .bind(table)
        .fetch_one(pool)
        .await?;
    Ok(count > 0)
}

/// Whether the table has this column.
async fn column_exists(
    pool: &AnyPool,
    dialect: Dialect,
    table: &str,
    column: &str,
) -> Result<bool> {
    let count: i64 = sqlx::query_scalar(dialect.count_columns())
        .bind(table)
        .bind(column)
        .fetch_one(pool)
        .await?;
    Ok(count > 0)
}
