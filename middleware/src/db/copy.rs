//! Copying volkszaehler tables between databases (vz-dbcopy, tools-and-schema §4): keyset-paged
//! reads, batched writes, and the foreign-key, sequence and database housekeeping around them.
//!
//! Reads page through a table in key order (`data` by `(channel_id, timestamp)`, …) with
//! "key after the last one" conditions, so every row is read exactly once however large the
//! table, and an incremental copy starts after the target's last key. Writes go through a
//! [`CopyTarget`]: one connection of its own, one transaction per page, multi-row `INSERT`s.
//!
//! Columns are always named, so both schema variants work as source and target; a legacy
//! table's `id` is never copied (the target numbers its rows itself).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection as _, Row as _};

use super::Db;
use super::dialect::copy::{Relax, sqlite_file};
use super::dialect::{Dialect, invalid_url};
use super::schema;
use crate::{Error, Result};

/// Binds key parts to a query (plain or scalar).
macro_rules! bind_parts {
    ($query:expr, $parts:expr) => {{
        let mut query = $query;
        for part in $parts {
            query = match part {
                Part::Int(value) => query.bind(value),
                Part::Small(value) => query.bind(value),
                Part::Big(value) => query.bind(value),
                Part::Text(value) => query.bind(value),
            };
        }
        query
    }};
}

/// A volkszaehler table that can be copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `entities`: channels and groups (referenced by every other table).
    Entities,
    /// `properties`: key/value properties of entities.
    Properties,
    /// `entities_in_aggregator`: group membership.
    EntitiesInAggregator,
    /// `data`: raw readings.
    Data,
    /// `aggregate`: materialised aggregates.
    Aggregate,
}

impl Table {
    /// Every table, in foreign-key order: a table comes after the table it references.
    pub const ALL: [Table; 5] = [
        Table::Entities,
        Table::Properties,
        Table::EntitiesInAggregator,
        Table::Data,
        Table::Aggregate,
    ];

    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Entities => "entities",
            Table::Properties => "properties",
            Table::EntitiesInAggregator => "entities_in_aggregator",
            Table::Data => "data",
            Table::Aggregate => "aggregate",
        }
    }

    /// The table with this name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|table| table.name() == name)
    }

    /// The natural key, in order (neutral notation): the primary key of the current schema,
    /// the unique index of the legacy one.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::Entities => &["id"],
            Table::Properties => &["entity_id", "pkey"],
            Table::EntitiesInAggregator => &["parent_id", "child_id"],
            Table::Data => &["channel_id", r#""timestamp""#],
            Table::Aggregate => &["channel_id", r#""type""#, r#""timestamp""#],
        }
    }

    /// Whether the table grows in [`KeyGroup`]s (readings and aggregates, which are appended
    /// per channel). The other tables are small and are copied incrementally by inserting
    /// the rows whose key the target lacks.
    pub fn grouped(self) -> bool {
        matches!(self, Table::Data | Table::Aggregate)
    }

    /// The copied columns (neutral notation), key first.
    fn columns(self) -> &'static str {
        match self {
            Table::Entities => r#"id, uuid, "type", "class""#,
            Table::Properties => r#"entity_id, pkey, "value""#,
            Table::EntitiesInAggregator => "parent_id, child_id",
            Table::Data => r#"channel_id, "timestamp", "value""#,
            Table::Aggregate => r#"channel_id, "type", "timestamp", "value", "count""#,
        }
    }

    /// Number of copied columns.
    fn width(self) -> usize {
        match self {
            Table::Entities => 4,
            Table::Properties | Table::Data => 3,
            Table::EntitiesInAggregator => 2,
            Table::Aggregate => 5,
        }
    }

    /// Rows a legacy schema may hold that the current one cannot (NULLs in columns that are
    /// NOT NULL today): they have no complete key, so they are not copied.
    fn complete(self) -> &'static str {
        match self {
            Table::Entities | Table::EntitiesInAggregator | Table::Data => "1 = 1",
            Table::Properties => "pkey IS NOT NULL",
            Table::Aggregate => {
                r#""type" IS NOT NULL AND "timestamp" IS NOT NULL AND "value" IS NOT NULL AND "count" IS NOT NULL"#
            }
        }
    }

    /// The columns that reference `entities.id`.
    fn references(self) -> &'static [&'static str] {
        match self {
            Table::Entities => &[],
            Table::Properties => &["entity_id"],
            Table::EntitiesInAggregator => &["parent_id", "child_id"],
            Table::Data | Table::Aggregate => &["channel_id"],
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The key of a copied row: where the next page (or an incremental copy) starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key(KeyValue);

/// The components of a [`Key`], per table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyValue {
    /// `entities.id`.
    Entity(i32),
    /// `properties (entity_id, pkey)`.
    Property(i32, String),
    /// `entities_in_aggregator (parent_id, child_id)`.
    Membership(i32, i32),
    /// `data (channel_id, timestamp)`.
    Reading(i32, i64),
    /// `aggregate (channel_id, type, timestamp)`.
    Aggregate(i32, i16, i64),
}

impl Key {
    /// The timestamp of a reading's or an aggregate's key.
    fn timestamp(&self) -> Option<i64> {
        match self.0 {
            KeyValue::Reading(_, ts) | KeyValue::Aggregate(_, _, ts) => Some(ts),
            KeyValue::Entity(_) | KeyValue::Property(..) | KeyValue::Membership(..) => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            KeyValue::Entity(id) => write!(f, "({id})"),
            KeyValue::Property(id, key) => write!(f, "({id}, {key:?})"),
            KeyValue::Membership(parent, child) => write!(f, "({parent}, {child})"),
            KeyValue::Reading(channel, ts) => write!(f, "({channel}, {ts})"),
            KeyValue::Aggregate(channel, kind, ts) => write!(f, "({channel}, {kind}, {ts})"),
        }
    }
}

/// The rows of an append-mostly table that grow together: one channel's readings, or one
/// channel's aggregates of one level. An incremental copy continues each group after the
/// target's newest key in that group, so rows appended to any channel are found, not only
/// rows after the table's largest key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyGroup {
    /// [`Table::Data`] or [`Table::Aggregate`].
    table: Table,
    /// The channel.
    channel_id: i32,
    /// The aggregate level (`aggregate.type`); `None` for readings.
    level: Option<i16>,
}

impl KeyGroup {
    /// The table the group belongs to.
    pub fn table(&self) -> Table {
        self.table
    }

    /// The `WHERE` condition selecting the group (neutral notation) and its parameters.
    fn condition(&self) -> (&'static str, Vec<Part>) {
        match self.level {
            None => ("channel_id = ?", vec![Part::Int(self.channel_id)]),
            Some(level) => (
                r#"channel_id = ? AND "type" = ?"#,
                vec![Part::Int(self.channel_id), Part::Small(level)],
            ),
        }
    }

    /// `SELECT <what>` of a group's rows after a key (whose timestamp is all that counts
    /// within a group), and the parameters.
    fn query(&self, what: &str, after: Option<&Key>, tail: &str) -> (String, Vec<Part>) {
        let (condition, mut parts) = self.condition();
        let after = after.and_then(Key::timestamp);
        if let Some(timestamp) = after {
            parts.push(Part::Big(timestamp));
        }
        let sql = format!(
            r#"SELECT {what} FROM {} WHERE {} AND {condition}{}{tail}"#,
            self.table.name(),
            self.table.complete(),
            if after.is_some() {
                r#" AND "timestamp" > ?"#
            } else {
                ""
            },
        );
        (sql, parts)
    }
}

impl fmt::Display for KeyGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            None => write!(f, "{} of channel {}", self.table, self.channel_id),
            Some(level) => write!(
                f,
                "{} of channel {} level {level}",
                self.table, self.channel_id
            ),
        }
    }
}

/// One page of rows of one table, in key order.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The rows.
    rows: Rows,
}

/// Typed rows per table: no per-value boxing, so a page of readings is three numbers a row.
#[derive(Clone, Debug, PartialEq)]
enum Rows {
    /// id, uuid, type, class.
    Entities(Vec<(i32, String, String, String)>),
    /// entity_id, pkey, value.
    Properties(Vec<(i32, String, String)>),
    /// parent_id, child_id.
    Memberships(Vec<(i32, i32)>),
    /// channel_id, timestamp, value.
    Readings(Vec<(i32, i64, f64)>),
    /// channel_id, type, timestamp, value, count.
    Aggregates(Vec<(i32, i16, i64, f64, i32)>),
}

impl Page {
    /// The table the rows belong to.
    pub fn table(&self) -> Table {
        match &self.rows {
            Rows::Entities(_) => Table::Entities,
            Rows::Properties(_) => Table::Properties,
            Rows::Memberships(_) => Table::EntitiesInAggregator,
            Rows::Readings(_) => Table::Data,
            Rows::Aggregates(_) => Table::Aggregate,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page has no rows (the table has no more).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of the last row, where the next page starts.
    pub fn last_key(&self) -> Option<Key> {
        self.len().checked_sub(1).map(|i| self.rows.key(i))
    }

    /// The key of every row, in order.
    pub fn keys(&self) -> Vec<Key> {
        (0..self.len()).map(|i| self.rows.key(i)).collect()
    }

    /// Keeps only the rows whose key `keep` accepts (e.g. those the target lacks).
    pub fn retain(&mut self, mut keep: impl FnMut(&Key) -> bool) {
        let keys = self.keys();
        let mut flags = keys.iter().map(&mut keep);
        match &mut self.rows {
            Rows::Entities(rows) => rows.retain(|_| flags.next().unwrap_or(false)),
            Rows::Properties(rows) => rows.retain(|_| flags.next().unwrap_or(false)),
            Rows::Memberships(rows) => rows.retain(|_| flags.next().unwrap_or(false)),
            Rows::Readings(rows) => rows.retain(|_| flags.next().unwrap_or(false)),
            Rows::Aggregates(rows) => rows.retain(|_| flags.next().unwrap_or(false)),
        }
    }

    /// Each row as one line of text, values separated by `|`, floats in shortest round-trip
    /// form: equal lines mean equal rows, for comparing two databases.
    pub fn lines(&self) -> Vec<String> {
        match &self.rows {
            Rows::Entities(rows) => rows
                .iter()
                .map(|(id, uuid, kind, class)| format!("{id}|{uuid}|{kind}|{class}"))
                .collect(),
            Rows::Properties(rows) => rows
                .iter()
                .map(|(id, key, value)| format!("{id}|{key}|{value}"))
                .collect(),
            Rows::Memberships(rows) => rows.iter().map(|(p, c)| format!("{p}|{c}")).collect(),
            Rows::Readings(rows) => rows
                .iter()
                .map(|(channel, ts, value)| format!("{channel}|{ts}|{value:?}"))
                .collect(),
            Rows::Aggregates(rows) => rows
                .iter()
                .map(|(channel, kind, ts, value, count)| {
                    format!("{channel}|{kind}|{ts}|{value:?}|{count}")
                })
                .collect(),
        }
    }

    /// The `entities.id` values the page's rows refer to (not an entity page's own ids).
    fn referenced_ids(&self, into: &mut BTreeSet<i32>) {
        match &self.rows {
            Rows::Entities(_) => {}
            Rows::Properties(rows) => into.extend(rows.iter().map(|r| r.0)),
            Rows::Memberships(rows) => into.extend(rows.iter().flat_map(|r| [r.0, r.1])),
            Rows::Readings(rows) => into.extend(rows.iter().map(|r| r.0)),
            Rows::Aggregates(rows) => into.extend(rows.iter().map(|r| r.0)),
        }
    }
}

/// Whether a write skips rows whose key the target has already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// A duplicate key is an error (the table was cleared first).
    Fail,
    /// A duplicate key is skipped (an incremental copy, which may repeat the rows of an
    /// interrupted run).
    Skip,
}

/// What [`CopyTarget::finish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows deleted because the entity they refer to is not in the target's `entities`
    /// (a channel deleted in the source while the target kept its readings), per table.
    pub orphans_removed: Vec<(Table, u64)>,
    /// Foreign keys dropped for the copy and created again (PostgreSQL), by name.
    pub foreign_keys_restored: Vec<String>,
    /// Foreign keys of the schema that were missing (an earlier copy was killed before
    /// restoring them) and were created (PostgreSQL), by name.
    pub foreign_keys_repaired: Vec<String>,
}

/// A foreign key as the catalogue describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ForeignKey {
    /// The referencing table.
    table: String,
    /// The constraint name.
    name: String,
    /// `FOREIGN KEY (…) REFERENCES …`.
    definition: String,
}

/// The foreign keys of the current schema (tools-and-schema §1.2): table, Doctrine's name,
/// referencing column.
const SCHEMA_FOREIGN_KEYS: [(&str, &str, &str); 5] = [
    ("entities_in_aggregator", "fk_2bd88468727aca70", "parent_id"),
    ("entities_in_aggregator", "fk_2bd88468dd62c21b", "child_id"),
    ("data", "fk_adf3f36372f5a1aa", "channel_id"),
    ("properties", "fk_87c331c781257d5d", "entity_id"),
    ("aggregate", "fk_b77949ff72f5a1aa", "channel_id"),
];

/// The most rows one statement carries where statements may be as large as they like
/// (SQLite): enough that per-statement costs vanish.
const MAX_ROWS_PER_STATEMENT: usize = 5000;

/// How many ids one `DELETE … IN (…)` names.
const MAX_IDS_PER_DELETE: usize = 500;

impl Db {
    /// Connects to a database that must already have the volkszaehler tables, creating
    /// nothing: the source of a copy. A SQLite file must exist.
    ///
    /// # Errors
    ///
    /// [`Error::IncompleteSchema`] if tables are missing (all five when the database is
    /// empty), [`Error::NoSuchFile`] for a missing SQLite file; otherwise as [`Db::connect`].
    pub async fn connect_existing(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::for_url(url)?;
        let url = dialect.open_existing_url(url)?;
        super::probe(&url).await?; // a tool's source: fail at once, with the cause
        let pool = dialect.pool_options(&url).connect(&url).await?;
        let mut missing = Vec::new();
        for table in Table::ALL {
            let count: i64 = sqlx::query_scalar(dialect.count_tables())
                .bind(table.name())
                .fetch_one(&pool)
                .await?;
            if count == 0 {
                missing.push(table.name());
            }
        }
        if !missing.is_empty() {
            pool.close().await;
            return Err(Error::IncompleteSchema { missing });
        }
        let layout = schema::prepare(&pool, dialect).await?;
        Ok(Db {
            pool,
            dialect,
            layout,
        })
    }

    /// Number of rows of a table (after `after`, if given), counting only rows a copy copies.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn count_rows(&self, table: Table, after: Option<&Key>) -> Result<u64> {
        let (condition, binds) = self.after_condition(table, after);
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} AND {condition}",
            table.name(),
            table.complete()
        );
        let parts = after
            .map(|after| key_parts(after, &binds))
            .unwrap_or_default();
        let query = sqlx::query_scalar::<_, i64>(self.dialect.sql_owned(&sql));
        let count = bind_parts!(query, parts).fetch_one(&self.pool).await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The key of the table's last row in key order, or `None` if it is empty.
    ///
    /// For readings and aggregates this is the last row of the channel with the largest id,
    /// not the newest row: an incremental copy continues per [`KeyGroup`] instead
    /// ([`Db::last_key_in`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn last_key(&self, table: Table) -> Result<Option<Key>> {
        let order: Vec<String> = table.key().iter().map(|c| format!("{c} DESC")).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT 1",
            table.columns(),
            table.name(),
            table.complete(),
            order.join(", ")
        );
        let rows = sqlx::query(self.dialect.sql_owned(&sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(decode(table, &rows)?.last_key())
    }

    /// Up to `limit` rows of a table in key order, starting after `after` (or at the first
    /// row).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails or a value does not fit its column's type.
    pub async fn read_page(&self, table: Table, after: Option<&Key>, limit: usize) -> Result<Page> {
        let (condition, binds) = self.after_condition(table, after);
        let sql = format!(
            "SELECT {} FROM {} WHERE {} AND {condition} ORDER BY {} LIMIT {limit}",
            table.columns(),
            table.name(),
            table.complete(),
            table.key().join(", ")
        );
        let parts = after
            .map(|after| key_parts(after, &binds))
            .unwrap_or_default();
        let query = sqlx::query(self.dialect.sql_owned(&sql));
        let rows = bind_parts!(query, parts).fetch_all(&self.pool).await?;
        decode(table, &rows)
    }

    /// The [`KeyGroup`]s of a grouped table present in this database, in key order; empty
    /// for a table that is not [`Table::grouped`].
    ///
    /// Found by index seeks (one per channel, and per channel and level), not by reading
    /// the table.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if a query fails.
    pub async fn key_groups(&self, table: Table) -> Result<Vec<KeyGroup>> {
        if !table.grouped() {
            return Ok(Vec::new());
        }
        let channels: Vec<i32> =
            sqlx::query_scalar(self.dialect.distinct_values(table.name(), "channel_id"))
                .fetch_all(&self.pool)
                .await?;
        let mut groups = Vec::new();
        for channel_id in channels {
            if table == Table::Data {
                groups.push(KeyGroup {
                    table,
                    channel_id,
                    level: None,
                });
                continue;
            }
            let levels: Vec<i16> = sqlx::query_scalar(self.dialect.sql(
                r#"SELECT DISTINCT "type" FROM aggregate WHERE channel_id = ? AND "type" IS NOT NULL ORDER BY "type""#,
            ))
            .bind(channel_id)
            .fetch_all(&self.pool)
            .await?;
            groups.extend(levels.into_iter().map(|level| KeyGroup {
                table,
                channel_id,
                level: Some(level),
            }));
        }
        Ok(groups)
    }

    /// The newest key of a group in this database, or `None` if it has no rows of it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn last_key_in(&self, group: &KeyGroup) -> Result<Option<Key>> {
        let (condition, parts) = group.condition();
        let sql = format!(
            r#"SELECT {} FROM {} WHERE {} AND {condition} ORDER BY "timestamp" DESC LIMIT 1"#,
            group.table.columns(),
            group.table.name(),
            group.table.complete(),
        );
        let query = sqlx::query(self.dialect.sql_owned(&sql));
        let rows = bind_parts!(query, parts).fetch_all(&self.pool).await?;
        Ok(decode(group.table, &rows)?.last_key())
    }

    /// Number of rows of a group (after `after`, if given).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn count_rows_in(&self, group: &KeyGroup, after: Option<&Key>) -> Result<u64> {
        let (sql, parts) = group.query("COUNT(*)", after, "");
        let query = sqlx::query_scalar::<_, i64>(self.dialect.sql_owned(&sql));
        let count = bind_parts!(query, parts).fetch_one(&self.pool).await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Up to `limit` rows of a group in key order, after `after` (or from its first row).
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails or a value does not fit its column's type.
    pub async fn read_page_in(
        &self,
        group: &KeyGroup,
        after: Option<&Key>,
        limit: usize,
    ) -> Result<Page> {
        let tail = format!(r#" ORDER BY "timestamp" LIMIT {limit}"#);
        let (sql, parts) = group.query(group.table.columns(), after, &tail);
        let query = sqlx::query(self.dialect.sql_owned(&sql));
        let rows = bind_parts!(query, parts).fetch_all(&self.pool).await?;
        decode(group.table, &rows)
    }

    /// The foreign keys that reference `entities`, as (table, column), sorted; read from the
    /// catalogue. The current schema has five: `aggregate.channel_id`, `data.channel_id`,
    /// `entities_in_aggregator.child_id` and `.parent_id`, `properties.entity_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn entity_references(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(self.dialect.entity_references())
            .fetch_all(&self.pool)
            .await?;
        let mut references = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
        references.sort();
        Ok(references)
    }

    /// Opens a writer for copying into this database, on a connection of its own.
    ///
    /// The connection does not wait for each commit to reach the disk where the backend
    /// allows that per session (PostgreSQL, SQLite): a server crash may lose the last pages
    /// written, never consistency, and running the copy again restores them.
    ///
    /// Unless `keep_constraints`, foreign keys are relaxed until [`CopyTarget::finish`]: on
    /// MySQL and SQLite by a session setting of the writer's connection (the schema never
    /// changes, so killing the copy leaves every constraint in place), on PostgreSQL by
    /// dropping the foreign keys of the volkszaehler tables and creating them again at the
    /// end (only a superuser could disable them); a foreign key of the schema found missing
    /// there is created too, which repairs an earlier copy killed in between.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if connecting or a statement fails.
    pub async fn copy_target(&self, keep_constraints: bool) -> Result<CopyTarget> {
        let mut conn = self.pool.acquire().await?.detach();
        for statement in self.dialect.fast_writes() {
            sqlx::raw_sql(*statement).execute(&mut conn).await?;
        }
        let mut dropped = Vec::new();
        let mut repaired = Vec::new();
        let relax = (!keep_constraints).then(|| self.dialect.relax_foreign_keys());
        match relax {
            Some(Relax::Session { off, .. }) => {
                sqlx::raw_sql(off).execute(&mut conn).await?;
            }
            Some(Relax::Drop) => {
                let present = self.foreign_keys(&mut conn).await?;
                for (table, name, column) in SCHEMA_FOREIGN_KEYS {
                    let needle = format!("FOREIGN KEY ({column})");
                    if !present
                        .iter()
                        .any(|fk| fk.table == table && fk.definition.starts_with(&needle))
                    {
                        repaired.push(ForeignKey {
                            table: table.to_owned(),
                            name: name.to_owned(),
                            definition: format!("{needle} REFERENCES entities(id)"),
                        });
                    }
                }
                for fk in present {
                    sqlx::query(self.dialect.drop_foreign_key(&fk.table, &fk.name))
                        .execute(&mut conn)
                        .await?;
                    dropped.push(fk);
                }
            }
            None => {}
        }
        Ok(CopyTarget {
            db: self.clone(),
            conn,
            relax,
            dropped,
            repaired,
            referenced: BTreeSet::new(),
            entities_written: false,
            entities_cleared: false,
        })
    }

    /// Empties (or, with `drop`, drops) the tables of the database at `url` that exist,
    /// children before the tables they reference, and returns the tables it changed.
    ///
    /// Connects without creating a schema. Emptying `entities` fails while another table
    /// still has rows that refer to it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`], [`Error::Database`].
    pub async fn clear_tables(url: &str, tables: &[Table], drop: bool) -> Result<Vec<Table>> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::for_url(url)?;
        let url = dialect.existing_url(url);
        let mut conn = AnyConnection::connect(&url).await?;
        let mut changed = Vec::new();
        let mut order: Vec<Table> = tables.to_vec();
        order.sort();
        order.dedup();
        for table in order.into_iter().rev() {
            let count: i64 = sqlx::query_scalar(dialect.count_tables())
                .bind(table.name())
                .fetch_one(&mut conn)
                .await?;
            if count == 0 {
                continue;
            }
            if drop {
                for statement in dialect.drop_table(table.name()) {
                    sqlx::raw_sql(statement).execute(&mut conn).await?;
                }
            } else {
                let statement = dialect.clear_table(table.name(), table == Table::Entities);
                sqlx::raw_sql(statement).execute(&mut conn).await?;
            }
            changed.push(table);
        }
        conn.close().await?;
        Ok(changed)
    }

    /// Creates the database named in a MySQL or PostgreSQL URL if it does not exist (through
    /// the server's maintenance database); returns whether it was created. A SQLite file is
    /// created by [`Db::connect`] itself, so this returns `false` for SQLite.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a server URL without a database name, [`Error::Database`]
    /// if the server refuses (e.g. missing privilege).
    pub async fn create_database(url: &str) -> Result<bool> {
        let Some((dialect, mut conn, name)) = server(url).await? else {
            return Ok(false);
        };
        let exists = database_exists(dialect, &mut conn, &name).await?;
        if !exists && let Some(create) = dialect.create_database_named(&name) {
            sqlx::raw_sql(create).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok(!exists)
    }

    /// Drops the database of `url`: the database on a MySQL or PostgreSQL server, the file
    /// (and its `-wal`/`-shm`/`-journal` companions) for SQLite. Returns whether there was
    /// one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`], [`Error::Io`] if the file cannot be removed,
    /// [`Error::Database`] if the server refuses (e.g. the database is in use).
    pub async fn drop_database(url: &str) -> Result<bool> {
        if let Some(file) = sqlite_file(url)? {
            let existed = file.exists();
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let path = PathBuf::from(path);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(Error::Io {
                            action: "removing the database file",
                            path,
                            source,
                        });
                    }
                }
            }
            return Ok(existed);
        }
        let Some((dialect, mut conn, name)) = server(url).await? else {
            return Ok(false);
        };
        let exists = database_exists(dialect, &mut conn, &name).await?;
        if exists && let Some(drop) = dialect.drop_database_named(&name) {
            sqlx::raw_sql(drop).execute(&mut conn).await?;
        }
        conn.close().await?;
        Ok(exists)
    }

    /// The condition "after `after`" (or always true) and the key components to bind.
    fn after_condition(&self, table: Table, after: Option<&Key>) -> (String, Vec<usize>) {
        match after {
            Some(_) => self.dialect.key_after(table.key()),
            None => ("1 = 1".to_owned(), Vec::new()),
        }
    }

    /// The foreign keys of the volkszaehler tables (PostgreSQL catalogue).
    async fn foreign_keys(&self, conn: &mut AnyConnection) -> Result<Vec<ForeignKey>> {
        let Some(sql) = self.dialect.list_foreign_keys() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
        let mut keys = Vec::new();
        for row in &rows {
            let table: String = row.try_get(0)?;
            if Table::from_name(&table).is_some() {
                keys.push(ForeignKey {
                    table,
                    name: row.try_get(1)?,
                    definition: row.try_get(2)?,
                });
            }
        }
        Ok(keys)
    }
}

/// Writes pages into a database, one transaction per page, with foreign keys relaxed (see
/// [`Db::copy_target`]) until [`CopyTarget::finish`].
///
/// Dropping it without `finish` closes its connection, which ends the session setting; on
/// PostgreSQL the dropped foreign keys stay dropped until the next copy's `finish` repairs
/// them.
#[derive(Debug)]
pub struct CopyTarget {
    /// The target database.
    db: Db,
    /// The writer's own connection (detached from the pool, so its session settings never
    /// reach another user of the pool).
    conn: AnyConnection,
    /// How foreign keys were relaxed; `None` with `keep_constraints`.
    relax: Option<Relax>,
    /// Foreign keys dropped at the start (PostgreSQL).
    dropped: Vec<ForeignKey>,
    /// Schema foreign keys that were missing at the start (PostgreSQL).
    repaired: Vec<ForeignKey>,
    /// Entity ids referenced by the rows written.
    referenced: BTreeSet<i32>,
    /// Whether entities were written (the id generator must catch up).
    entities_written: bool,
    /// Whether `entities` was emptied (rows of other tables may refer to removed ids).
    entities_cleared: bool,
}

impl CopyTarget {
    /// Empties a table of the target before it is copied anew.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; with `keep_constraints`, emptying `entities` fails while another
    /// table refers to it.
    pub async fn clear(&mut self, table: Table) -> Result<()> {
        let statement = self
            .db
            .dialect
            .clear_table(table.name(), table == Table::Entities);
        sqlx::raw_sql(statement).execute(&mut self.conn).await?;
        if table == Table::Entities {
            self.entities_cleared = true;
        }
        Ok(())
    }

    /// Writes a page in one transaction and returns the number of rows inserted. With
    /// [`OnConflict::Skip`], rows whose key exists are skipped; MySQL counts them as
    /// written all the same (its affected rows of `ON DUPLICATE KEY UPDATE`), so callers
    /// that need exact numbers leave out known keys first ([`Page::retain`]).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; the page's transaction is rolled back.
    pub async fn write(&mut self, page: &Page, on_conflict: OnConflict) -> Result<u64> {
        if page.is_empty() {
            return Ok(0);
        }
        let table = page.table();
        let dialect = self.db.dialect;
        let legacy_id = match table {
            Table::Properties if self.db.layout.properties_id => {
                dialect.legacy_id_value("properties")
            }
            Table::Aggregate if self.db.layout.aggregate_id => dialect.legacy_id_value("aggregate"),
            _ => None,
        };
        let suffix = match on_conflict {
            OnConflict::Fail => String::new(),
            OnConflict::Skip => dialect.skip_existing(table.key()[0]),
        };
        let mut tx = match dialect.begin_write() {
            Some(statement) => self.conn.begin_with(statement).await?,
            None => self.conn.begin().await?,
        };
        let mut written = 0;
        let limit = dialect.statement_bytes();
        let max_rows = dialect.max_bind_params() / table.width();
        let arrays = dialect.array_types(table.name()).map(|types| {
            dialect.sql_owned(&array_insert_statement(
                table,
                types,
                legacy_id.as_deref(),
                &suffix,
            ))
        });
        let mut start = 0;
        while start < page.len() {
            let end = page.rows.chunk_end(start, limit, max_rows);
            let query = match &arrays {
                Some(sql) => {
                    let mut query = sqlx::query(sql.clone());
                    for column in page.rows.arrays(start..end) {
                        query = query.bind(column);
                    }
                    query
                }
                None => {
                    let sql = insert_statement(table, end - start, legacy_id.as_deref(), &suffix);
                    bind_rows(sqlx::query(dialect.sql_owned(&sql)), &page.rows, start..end)
                }
            };
            written += query.execute(&mut *tx).await?.rows_affected();
            start = end;
        }
        tx.commit().await?;
        page.referenced_ids(&mut self.referenced);
        if table == Table::Entities {
            self.entities_written = true;
        }
        Ok(written)
    }

    /// Ends the copy: removes rows that refer to entities the target does not have (when the
    /// constraints were relaxed), lets PostgreSQL's entity id sequence continue above the
    /// copied ids, and turns the foreign keys back on (re-creating, and so validating, the
    /// dropped ones on PostgreSQL).
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; on PostgreSQL the foreign keys not yet restored then stay
    /// dropped until the next copy repairs them.
    pub async fn finish(mut self) -> Result<CopyReport> {
        let dialect = self.db.dialect;
        let mut report = CopyReport::default();
        if self.relax.is_some() {
            report.orphans_removed = self.remove_orphans().await?;
        }
        if self.entities_written
            && let Some(statement) = dialect.advance_entity_ids()
        {
            sqlx::query(statement).execute(&mut self.conn).await?;
        }
        match self.relax {
            Some(Relax::Session { on, .. }) => {
                sqlx::raw_sql(on).execute(&mut self.conn).await?;
            }
            Some(Relax::Drop) => {
                for fk in self.dropped.iter().chain(&self.repaired) {
                    sqlx::query(dialect.add_foreign_key(&fk.table, &fk.name, &fk.definition))
                        .execute(&mut self.conn)
                        .await?;
                }
                report.foreign_keys_restored =
                    self.dropped.iter().map(|fk| fk.name.clone()).collect();
                report.foreign_keys_repaired =
                    self.repaired.iter().map(|fk| fk.name.clone()).collect();
            }
            None => {}
        }
        self.conn.close().await?;
        Ok(report)
    }

    /// Gives up after an error: turns the foreign keys back on without removing anything.
    ///
    /// On MySQL and SQLite closing the connection ends the session setting. On PostgreSQL
    /// each dropped foreign key is created again if the rows allow it; one that does not
    /// validate (a table referenced half-copied) stays dropped until the next copy's
    /// [`CopyTarget::finish`] repairs it. Failures are not reported: the copy's own error is
    /// the one that matters.
    pub async fn abort(mut self) {
        if self.relax == Some(Relax::Drop) {
            let dialect = self.db.dialect;
            for fk in self.dropped.iter().chain(&self.repaired) {
                let _ = sqlx::query(dialect.add_foreign_key(&fk.table, &fk.name, &fk.definition))
                    .execute(&mut self.conn)
                    .await;
            }
        }
        let _ = self.conn.close().await;
    }

    /// Deletes rows of every table that refer to an entity id the target's `entities` does
    /// not have. Only ids that can be missing are checked: those of the rows written, and
    /// (after `entities` was emptied) every id other tables refer to.
    async fn remove_orphans(&mut self) -> Result<Vec<(Table, u64)>> {
        let dialect = self.db.dialect;
        let present: BTreeSet<i32> =
            sqlx::query_scalar::<_, i32>(dialect.sql("SELECT id FROM entities"))
                .fetch_all(&mut self.conn)
                .await?
                .into_iter()
                .collect();
        let mut suspects = std::mem::take(&mut self.referenced);
        if self.entities_cleared {
            for table in Table::ALL {
                for column in table.references() {
                    let values: Vec<i32> =
                        sqlx::query_scalar(dialect.distinct_values(table.name(), column))
                            .fetch_all(&mut self.conn)
                            .await?;
                    suspects.extend(values);
                }
            }
        }
        let missing: Vec<i32> = suspects.difference(&present).copied().collect();
        let mut removed = Vec::new();
        if missing.is_empty() {
            return Ok(removed);
        }
        for table in Table::ALL.into_iter().rev() {
            let mut count = 0;
            for column in table.references() {
                for ids in missing.chunks(MAX_IDS_PER_DELETE) {
                    let marks = vec!["?"; ids.len()].join(", ");
                    let sql = format!("DELETE FROM {} WHERE {column} IN ({marks})", table.name());
                    let mut query = sqlx::query(dialect.sql_owned(&sql));
                    for id in ids {
                        query = query.bind(*id);
                    }
                    count += query.execute(&mut self.conn).await?.rows_affected();
                }
            }
            if count > 0 {
                removed.push((table, count));
            }
        }
        Ok(removed)
    }
}

/// Opens a connection to the maintenance database of a server URL; `None` for SQLite.
async fn server(url: &str) -> Result<Option<(Dialect, AnyConnection, String)>> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::for_url(url)?;
    if sqlite_file(url)?.is_some() {
        return Ok(None);
    }
    let (server_url, name) = dialect
        .server_url(url)
        .ok_or_else(|| invalid_url(url, "the URL names no database"))?;
    let conn = AnyConnection::connect(&server_url).await?;
    Ok(Some((dialect, conn, name)))
}

/// Whether the server has a database of this name.
async fn database_exists(dialect: Dialect, conn: &mut AnyConnection, name: &str) -> Result<bool> {
    let Some(sql) = dialect.count_databases() else {
        return Ok(false);
    };
    let count: i64 = sqlx::query_scalar(sql).bind(name).fetch_one(conn).await?;
    Ok(count > 0)
}

/// A neutral multi-row `INSERT` of `rows` rows into `table`.
fn insert_statement(table: Table, rows: usize, legacy_id: Option<&str>, suffix: &str) -> String {
    let marks = vec!["?"; table.width()].join(", ");
    let (id_column, id_value) = match legacy_id {
        Some(value) => ("id, ", format!("{value}, ")),
        None => ("", String::new()),
    };
    let mut sql = format!(
        "INSERT INTO {} ({id_column}{}) VALUES ",
        table.name(),
        table.columns()
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&id_value);
        sql.push_str(&marks);
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

/// A neutral `INSERT … SELECT … FROM unnest(…)` taking one array parameter per column.
fn array_insert_statement(
    table: Table,
    types: &[&str],
    legacy_id: Option<&str>,
    suffix: &str,
) -> String {
    let (id_column, id_value) = match legacy_id {
        Some(value) => ("id, ", format!("{value}, ")),
        None => ("", String::new()),
    };
    let arrays: Vec<String> = types.iter().map(|t| format!("CAST(? AS {t})")).collect();
    format!(
        "INSERT INTO {} ({id_column}{}) SELECT {id_value}u.* FROM unnest({}) AS u{suffix}",
        table.name(),
        table.columns(),
        arrays.join(", ")
    )
}

/// Appends a number to an array literal being built.
fn push_number(array: &mut String, value: impl fmt::Display) {
    if array.len() > 1 {
        array.push(',');
    }
    // Writing to a String cannot fail.
    let _ = fmt::Write::write_fmt(array, format_args!("{value}"));
}

/// A float as PostgreSQL's `float8in` reads it back exactly: Rust's shortest round-trip
/// digits (`{:?}` switches to exponent form for very large and small values).
fn float_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        format!("{value:?}")
    }
}

impl Rows {
    /// The end of the chunk of rows starting at `start` whose statement stays under `limit`
    /// bytes (estimated: 16 per number, the length of texts plus 8), with at least one row
    /// and at most `max_rows` (and [`MAX_ROWS_PER_STATEMENT`]).
    fn chunk_end(&self, start: usize, limit: usize, max_rows: usize) -> usize {
        let len = self.len();
        let max_end = len.min(start + max_rows.clamp(1, MAX_ROWS_PER_STATEMENT));
        let mut bytes = 0_usize;
        for (i, end) in (start..max_end).enumerate() {
            bytes = bytes.saturating_add(self.row_bytes(end));
            if bytes > limit && i > 0 {
                return end;
            }
        }
        max_end
    }

    /// The key of row `i`.
    fn key(&self, i: usize) -> Key {
        Key(match self {
            Rows::Entities(rows) => KeyValue::Entity(rows[i].0),
            Rows::Properties(rows) => KeyValue::Property(rows[i].0, rows[i].1.clone()),
            Rows::Memberships(rows) => KeyValue::Membership(rows[i].0, rows[i].1),
            Rows::Readings(rows) => KeyValue::Reading(rows[i].0, rows[i].1),
            Rows::Aggregates(rows) => KeyValue::Aggregate(rows[i].0, rows[i].1, rows[i].2),
        })
    }

    /// The estimated size of row `i` in a statement.
    fn row_bytes(&self, i: usize) -> usize {
        match self {
            Rows::Entities(rows) => {
                let (_, uuid, kind, class) = &rows[i];
                16 + uuid.len() + kind.len() + class.len() + 24
            }
            Rows::Properties(rows) => {
                let (_, key, value) = &rows[i];
                16 + key.len() + value.len() + 16
            }
            Rows::Memberships(_) => 32,
            Rows::Readings(_) => 48,
            Rows::Aggregates(_) => 80,
        }
    }

    /// Number of rows.
    fn len(&self) -> usize {
        match self {
            Rows::Entities(rows) => rows.len(),
            Rows::Properties(rows) => rows.len(),
            Rows::Memberships(rows) => rows.len(),
            Rows::Readings(rows) => rows.len(),
            Rows::Aggregates(rows) => rows.len(),
        }
    }

    /// Each column as an array literal (`{1,2,3}`), for [`array_insert_statement`]; only
    /// for tables of numbers.
    fn arrays(&self, range: std::ops::Range<usize>) -> Vec<String> {
        let width = match self {
            Rows::Memberships(_) => 2,
            Rows::Readings(_) => 3,
            Rows::Aggregates(_) => 5,
            Rows::Entities(_) | Rows::Properties(_) => 0,
        };
        let mut columns = vec![String::from("{"); width];
        match self {
            Rows::Memberships(rows) => {
                for (parent, child) in &rows[range] {
                    push_number(&mut columns[0], parent);
                    push_number(&mut columns[1], child);
                }
            }
            Rows::Readings(rows) => {
                for (channel, ts, value) in &rows[range] {
                    push_number(&mut columns[0], channel);
                    push_number(&mut columns[1], ts);
                    push_number(&mut columns[2], float_text(*value));
                }
            }
            Rows::Aggregates(rows) => {
                for (channel, kind, ts, value, count) in &rows[range] {
                    push_number(&mut columns[0], channel);
                    push_number(&mut columns[1], kind);
                    push_number(&mut columns[2], ts);
                    push_number(&mut columns[3], float_text(*value));
                    push_number(&mut columns[4], count);
                }
            }
            Rows::Entities(_) | Rows::Properties(_) => {}
        }
        for array in &mut columns {
            array.push('}');
        }
        columns
    }
}

/// Binds rows `range` of a page in column order.
fn bind_rows<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    rows: &'q Rows,
    range: std::ops::Range<usize>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    match rows {
        Rows::Entities(rows) => {
            for (id, uuid, kind, class) in &rows[range] {
                query = query
                    .bind(*id)
                    .bind(uuid.as_str())
                    .bind(kind.as_str())
                    .bind(class.as_str());
            }
        }
        Rows::Properties(rows) => {
            for (id, key, value) in &rows[range] {
                query = query.bind(*id).bind(key.as_str()).bind(value.as_str());
            }
        }
        Rows::Memberships(rows) => {
            for (parent, child) in &rows[range] {
                query = query.bind(*parent).bind(*child);
            }
        }
        Rows::Readings(rows) => {
            for (channel, ts, value) in &rows[range] {
                query = query.bind(*channel).bind(*ts).bind(*value);
            }
        }
        Rows::Aggregates(rows) => {
            for (channel, kind, ts, value, count) in &rows[range] {
                query = query
                    .bind(*channel)
                    .bind(*kind)
                    .bind(*ts)
                    .bind(*value)
                    .bind(*count);
            }
        }
    }
    query
}

/// One component of a key, to bind.
enum Part {
    /// An id.
    Int(i32),
    /// `aggregate.type`.
    Small(i16),
    /// A timestamp.
    Big(i64),
    /// `properties.pkey`.
    Text(String),
}

/// The components of `key` in the order `binds` lists them.
fn key_parts(key: &Key, binds: &[usize]) -> Vec<Part> {
    binds
        .iter()
        .map(|&component| match (&key.0, component) {
            (KeyValue::Entity(id), _) => Part::Int(*id),
            (KeyValue::Property(id, _), 0) => Part::Int(*id),
            (KeyValue::Property(_, pkey), _) => Part::Text(pkey.clone()),
            (KeyValue::Membership(parent, _), 0) => Part::Int(*parent),
            (KeyValue::Membership(_, child), _) => Part::Int(*child),
            (KeyValue::Reading(channel, _), 0) => Part::Int(*channel),
            (KeyValue::Reading(_, ts), _) => Part::Big(*ts),
            (KeyValue::Aggregate(channel, _, _), 0) => Part::Int(*channel),
            (KeyValue::Aggregate(_, kind, _), 1) => Part::Small(*kind),
            (KeyValue::Aggregate(_, _, ts), _) => Part::Big(*ts),
        })
        .collect()
}

/// Decodes rows of `table` (selected with [`Table::columns`]).
fn decode(table: Table, rows: &[AnyRow]) -> Result<Page> {
    let rows = match table {
        Table::Entities => Rows::Entities(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<Result<_, sqlx::Error>>()?,
        ),
        Table::Properties => Rows::Properties(
            rows.iter()
                .map(|r| {
                    let value: Option<String> = r.try_get(2)?;
                    Ok((r.try_get(0)?, r.try_get(1)?, value.unwrap_or_default()))
                })
                .collect::<Result<_, sqlx::Error>>()?,
        ),
        Table::EntitiesInAggregator => Rows::Memberships(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?,
        ),
        Table::Data => Rows::Readings(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, float(r, 2)?)))
                .collect::<Result<_, sqlx::Error>>()?,
        ),
        Table::Aggregate => Rows::Aggregates(
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        float(r, 3)?,
                        r.try_get(4)?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?,
        ),
    };
    Ok(Page { rows })
}

/// Column `index` as a float; SQLite may hold an integer where a float is declared.
fn float(row: &AnyRow, index: usize) -> Result<f64, sqlx::Error> {
    row.try_get::<f64, _>(index).or_else(|error| {
        row.try_get::<i64, _>(index)
            .map(|value| value as f64)
            .map_err(|_| error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_by_name_in_foreign_key_order() {
        for table in Table::ALL {
            assert_eq!(Table::from_name(table.name()), Some(table));
            assert_eq!(table.columns().split(", ").count(), table.width());
        }
        assert_eq!(Table::from_name("aggregate_temp"), None);
        let mut sorted = Table::ALL;
        sorted.sort();
        assert_eq!(sorted, Table::ALL, "Ord is the foreign-key order");
    }

    #[test]
    fn inserts_name_their_columns() {
        assert_eq!(
            insert_statement(Table::Data, 2, None, ""),
            r#"INSERT INTO data (channel_id, "timestamp", "value") VALUES (?, ?, ?), (?, ?, ?)"#
        );
        assert_eq!(
            insert_statement(
                Table::Properties,
                1,
                Some("nextval('properties_id_seq')"),
                " ON CONFLICT DO NOTHING"
            ),
            r#"INSERT INTO properties (id, entity_id, pkey, "value") VALUES (nextval('properties_id_seq'), ?, ?, ?) ON CONFLICT DO NOTHING"#
        );
    }

    #[test]
    fn numbers_become_array_literals() {
        let rows = Rows::Readings(vec![(1, 10, 0.5), (2, -5, 1e-300), (3, 7, f64::NAN)]);
        assert_eq!(
            rows.arrays(0..3),
            ["{1,2,3}", "{10,-5,7}", "{0.5,1e-300,NaN}"]
        );
        assert_eq!(
            array_insert_statement(Table::Data, &["int[]", "bigint[]", "float8[]"], None, ""),
            r#"INSERT INTO data (channel_id, "timestamp", "value") SELECT u.* FROM unnest(CAST(? AS int[]), CAST(? AS bigint[]), CAST(? AS float8[])) AS u"#
        );
        for value in [
            0.1,
            1.0 / 3.0,
            123_456_789.123_456_7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(float_text(value).parse::<f64>().unwrap(), value);
        }
    }

    #[test]
    fn chunks_stay_under_the_statement_size() {
        let rows = Rows::Readings(vec![(1, 1, 1.0); 1000]);
        assert_eq!(rows.chunk_end(0, 48 * 100, usize::MAX), 100);
        assert_eq!(rows.chunk_end(950, 48 * 100, usize::MAX), 1000);
        assert_eq!(rows.chunk_end(0, usize::MAX, 300), 300);
        assert_eq!(rows.chunk_end(0, 1, usize::MAX), 1, "at least one row");
        assert_eq!(rows.chunk_end(0, usize::MAX, usize::MAX), 1000);
    }

    #[test]
    fn pages_know_their_last_key() {
        let page = Page {
            rows: Rows::Readings(vec![(1, 10, 0.5), (2, 5, 1.0)]),
        };
        assert_eq!(page.table(), Table::Data);
        assert_eq!(page.last_key(), Some(Key(KeyValue::Reading(2, 5))));
        assert_eq!(page.lines(), ["1|10|0.5", "2|5|1.0"]);
        assert_eq!(page.last_key().unwrap().to_string(), "(2, 5)");
        let mut page = page;
        page.retain(|key| key.to_string() != "(1, 10)");
        assert_eq!(page.lines(), ["2|5|1.0"]);
    }
}
