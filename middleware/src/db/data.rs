//! Raw readings: the `data` table.

use std::collections::HashSet;

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::Db;
use crate::{Error, Result};

/// One raw reading of a channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp: i64,
    /// The value as stored: impulses, meter reading or sensor value, depending on the channel
    /// type.
    pub value: f64,
}

/// The most rows one multi-row statement carries, before the bind-parameter limit applies.
const MAX_ROWS_PER_STATEMENT: usize = 1000;

/// Bind parameters per row of an insert into `data`.
const PARAMS_PER_ROW: usize = 3;

impl Db {
    /// Stores one reading.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateReading`] if the channel has a reading at this timestamp,
    /// [`Error::UnknownChannel`] if no entity has this id (enforced by the foreign key),
    /// [`Error::Database`] for anything else.
    pub async fn insert_reading(
        &self,
        channel_id: i32,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<()> {
        sqlx::query(
            self.dialect
                .sql(r#"INSERT INTO data (channel_id, "timestamp", "value") VALUES (?, ?, ?)"#),
        )
        .bind(channel_id)
        .bind(timestamp_ms)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(|error| match classify(error, channel_id) {
            Failure::Duplicate => Error::DuplicateReading {
                channel_id,
                timestamp: timestamp_ms,
            },
            Failure::Other(error) => error,
        })?;
        Ok(())
    }

    /// Stores readings of one channel in one transaction and returns how many were stored.
    ///
    /// The rows go out in multi-row `INSERT`s sized to the backend's bind-parameter limit. Either
    /// every reading is stored or none.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateReading`] naming the first reading (in slice order) whose timestamp
    /// repeats an earlier one of the slice or is stored already; nothing is written then.
    /// [`Error::UnknownChannel`] if no entity has this id, [`Error::Database`] for anything
    /// else.
    pub async fn insert_readings(&self, channel_id: i32, readings: &[Reading]) -> Result<u64> {
        if readings.is_empty() {
            return Ok(0);
        }
        if let Some(repeat) = first_repeat(readings) {
            // An earlier reading may also collide with a stored one; that one comes first.
            let stored = self.first_stored(channel_id, &readings[..repeat]).await?;
            let first = stored.unwrap_or(repeat);
            return Err(Error::DuplicateReading {
                channel_id,
                timestamp: readings[first].timestamp,
            });
        }
        match self.insert_all(channel_id, readings).await {
            Ok(count) => Ok(count),
            Err(Failure::Duplicate) => match self.first_stored(channel_id, readings).await? {
                Some(first) => Err(Error::DuplicateReading {
                    channel_id,
                    timestamp: readings[first].timestamp,
                }),
                // A concurrent writer stored and deleted the row meanwhile; report the first.
                None => Err(Error::DuplicateReading {
                    channel_id,
                    timestamp: readings[0].timestamp,
                }),
            },
            Err(Failure::Other(error)) => Err(error),
        }
    }

    /// The readings of a channel with `from_ms <= timestamp <= to_ms`, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn readings(
        &self,
        channel_id: i32,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(self.dialect.sql(
            r#"SELECT "timestamp", "value" FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" <= ? ORDER BY "timestamp""#,
        ))
        .bind(channel_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Reading {
                    timestamp: row.try_get(0)?,
                    value: float(row, 1)?,
                })
            })
            .collect()
    }

    /// Inserts every reading in one transaction; rolls back on the first failure.
    async fn insert_all(&self, channel_id: i32, readings: &[Reading]) -> Result<u64, Failure> {
        let rows_per_statement =
            MAX_ROWS_PER_STATEMENT.min(self.dialect.max_bind_params() / PARAMS_PER_ROW);
        let mut tx = self.begin_write().await.map_err(Failure::Other)?;
        let mut count = 0;
        for chunk in readings.chunks(rows_per_statement) {
            let mut query = sqlx::query(self.dialect.sql_owned(&insert_statement(chunk.len())));
            for reading in chunk {
                query = query
                    .bind(channel_id)
                    .bind(reading.timestamp)
                    .bind(reading.value);
            }
            // Dropping `tx` on the error path rolls the transaction back.
            let done = query
                .execute(&mut *tx)
                .await
                .map_err(|error| classify(error, channel_id))?;
            count += done.rows_affected();
        }
        tx.commit()
            .await
            .map_err(|error| classify(error, channel_id))?;
        Ok(count)
    }

    /// The index of the first reading whose timestamp the channel has stored already.
    async fn first_stored(&self, channel_id: i32, readings: &[Reading]) -> Result<Option<usize>> {
        let per_statement = MAX_ROWS_PER_STATEMENT.min(self.dialect.max_bind_params() - 1);
        let mut stored = HashSet::new();
        for chunk in readings.chunks(per_statement) {
            let mut sql = String::from(
                r#"SELECT "timestamp" FROM data WHERE channel_id = ? AND "timestamp" IN ("#,
            );
            push_list(&mut sql, chunk.len(), "?");
            sql.push(')');
            let mut query =
                sqlx::query_scalar::<_, i64>(self.dialect.sql_owned(&sql)).bind(channel_id);
            for reading in chunk {
                query = query.bind(reading.timestamp);
            }
            stored.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(readings
            .iter()
            .position(|reading| stored.contains(&reading.timestamp)))
    }
}

/// Why an insert into `data` failed.
enum Failure {
    /// A unique key (`channel_id`, `timestamp`) was violated.
    Duplicate,
    /// Anything else, already mapped to the crate's error.
    Other(Error),
}

/// Sorts a database error from an insert into `data`.
fn classify(error: sqlx::Error, channel_id: i32) -> Failure {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Failure::Duplicate,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            Failure::Other(Error::UnknownChannel { channel_id })
        }
        _ => Failure::Other(Error::Database(error)),
    }
}

/// Column `index` as a float; an integer stored by another writer (SQLite keeps whatever
/// storage class it was given when a column's affinity allows it) is converted.
fn float(row: &AnyRow, index: usize) -> Result<f64, sqlx::Error> {
    row.try_get::<f64, _>(index).or_else(|error| {
        row.try_get::<i64, _>(index)
            .map(|value| value as f64)
            .map_err(|_| error)
    })
}

/// The index of the first reading whose timestamp an earlier reading of the slice has.
fn first_repeat(readings: &[Reading]) -> Option<usize> {
    let mut seen = HashSet::with_capacity(readings.len());
    readings
        .iter()
        .position(|reading| !seen.insert(reading.timestamp))
}

/// A neutral multi-row insert into `data` for `rows` readings.
fn insert_statement(rows: usize) -> String {
    let mut sql = String::from(r#"INSERT INTO data (channel_id, "timestamp", "value") VALUES "#);
    push_list(&mut sql, rows, "(?, ?, ?)");
    sql
}

/// Appends `count` copies of `item`, separated by commas.
fn push_list(sql: &mut String, count: usize, item: &str) {
    for i in 0..count {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(timestamps: &[i64]) -> Vec<Reading> {
        timestamps
            .iter()
            .map(|&timestamp| Reading {
                timestamp,
                value: 1.0,
            })
            .collect()
    }

    #[test]
    fn finds_the_first_repeat() {
        assert_eq!(first_repeat(&readings(&[1, 2, 3])), None);
        assert_eq!(first_repeat(&readings(&[1, 2, 1, 2])), Some(2));
        assert_eq!(first_repeat(&readings(&[5, 4, 4])), Some(2));
        assert_eq!(first_repeat(&[]), None);
    }

    #[test]
    fn builds_multi_row_inserts() {
        assert_eq!(
            insert_statement(2),
            r#"INSERT INTO data (channel_id, "timestamp", "value") VALUES (?, ?, ?), (?, ?, ?)"#
        );
    }
}
