//! Clearing, optimizing and reading the `aggregate` table.

use sqlx::Row as _;

use super::{AggregateError, Level};
use crate::db::Db;

/// Aggregate rows deleted per transaction when clearing, roughly.
const TARGET_ROWS_PER_DELETE: f64 = 10_000.0;

/// Which aggregate rows [`Db::clear_aggregates`] removes; every field narrows the selection,
/// and the default removes everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClearFilter {
    /// Only these channels (`entities.id`); `None` for all.
    pub channels: Option<Vec<i32>>,
    /// Only these levels; `None` for all.
    pub levels: Option<Vec<Level>>,
    /// Only rows with `timestamp >= since` (Unix ms); `None` for all.
    pub since: Option<i64>,
}

/// One row of the `aggregate` table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AggregateRow {
    /// `aggregate.type`: the level's id (see [`Level::type_id`]).
    pub type_id: i16,
    /// The last raw timestamp of the period, Unix ms.
    pub timestamp: i64,
    /// The aggregated value.
    pub value: f64,
    /// The number of raw rows in the period.
    pub count: i64,
}

/// A condition on `aggregate.type`.
#[derive(Clone, Debug)]
pub(crate) enum Types {
    /// Any type.
    All,
    /// One of these.
    Only(Vec<i16>),
    /// None of these.
    Except(Vec<i16>),
}

impl Types {
    /// The neutral SQL condition (with a leading ` AND `) and its bind values.
    fn condition(&self) -> (String, &[i16]) {
        let (operator, ids) = match self {
            Types::All => return (String::new(), &[]),
            Types::Only(ids) => ("IN", ids),
            Types::Except(ids) => ("NOT IN", ids),
        };
        if ids.is_empty() {
            // `IN ()` is not SQL: no type matches an empty `Only`, every type an empty `Except`.
            let always = if operator == "IN" { " AND 1 = 0" } else { "" };
            return (always.to_owned(), &[]);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        (format!(r#" AND "type" {operator} ({marks})"#), ids)
    }
}

impl Db {
    /// Removes the aggregate rows `filter` selects and returns how many; `None` if the whole
    /// table was emptied at once (no filter), which does not count rows.
    ///
    /// Rows are deleted channel by channel, in time windows of about 10,000 rows, each in its
    /// own transaction, so a large clear never holds long locks.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Db`] if a statement fails; rows deleted before stay deleted.
    pub async fn clear_aggregates(
        &self,
        filter: &ClearFilter,
    ) -> Result<Option<u64>, AggregateError> {
        if filter == &ClearFilter::default() {
            sqlx::raw_sql(self.dialect.truncate_aggregates())
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        let channels = match &filter.channels {
            Some(channels) => channels.clone(),
            None => {
                sqlx::query_scalar(
                    self.dialect
                        .sql("SELECT DISTINCT id FROM entities ORDER BY id"),
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        let types = match &filter.levels {
            Some(levels) => Types::Only(levels.iter().map(|level| level.type_id()).collect()),
            None => Types::All,
        };
        let mut removed = 0;
        for channel_id in channels {
            removed += self
                .delete_aggregates(channel_id, &types, filter.since)
                .await?;
        }
        Ok(Some(removed))
    }

    /// Deletes a channel's aggregate rows of `types` from `since` on, in time windows sized
    /// to about [`TARGET_ROWS_PER_DELETE`] rows, one transaction each.
    pub(crate) async fn delete_aggregates(
        &self,
        channel_id: i32,
        types: &Types,
        since: Option<i64>,
    ) -> Result<u64, AggregateError> {
        let (condition, ids) = types.condition();
        let bounds_sql = format!(
            r#"SELECT MIN("timestamp"), MAX("timestamp"), COUNT(*) FROM aggregate WHERE channel_id = ? AND "timestamp" >= ?{condition}"#
        );
        let mut bounds = sqlx::query(self.dialect.sql_owned(&bounds_sql))
            .bind(channel_id)
            .bind(since.unwrap_or(i64::MIN));
        for id in ids {
            bounds = bounds.bind(*id);
        }
        let row = bounds.fetch_one(&self.pool).await?;
        let (Some(first), Some(last), count) = (
            row.try_get::<Option<i64>, _>(0)?,
            row.try_get::<Option<i64>, _>(1)?,
            row.try_get::<i64, _>(2)?,
        ) else {
            return Ok(0);
        };
        let delete_sql = self.dialect.sql_owned(&format!(
            r#"DELETE FROM aggregate WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ?{condition}"#
        ));
        let windows = (count as f64 / TARGET_ROWS_PER_DELETE).ceil().max(1.0);
        let mut span = ((last - first) as f64 / windows) as i64 + 1;
        let mut position = first;
        let mut removed = 0;
        while position <= last {
            let end = position.saturating_add(span);
            let mut delete = sqlx::query(delete_sql.clone())
                .bind(channel_id)
                .bind(position)
                .bind(end);
            for id in ids {
                delete = delete.bind(*id);
            }
            let done = delete.execute(&self.pool).await?.rows_affected();
            removed += done;
            let factor = (TARGET_ROWS_PER_DELETE / done.max(1) as f64).clamp(0.25, 8.0);
            span = ((span as f64 * factor) as i64).max(1);
            position = end;
        }
        Ok(removed)
    }

    /// Reclaims space and refreshes statistics of the `aggregate` table, and of `data` too if
    /// `data` is set (slow on a large table); returns the statements run.
    ///
    /// MySQL runs `OPTIMIZE TABLE` as volkszaehler does; PostgreSQL `VACUUM (ANALYZE)`,
    /// which does not block readers or writers; SQLite `ANALYZE`, because its `VACUUM` would
    /// lock the whole database while it rewrites the file.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Db`] if a statement fails.
    pub async fn optimize_aggregates(&self, data: bool) -> Result<Vec<String>, AggregateError> {
        let tables: &[&'static str] = if data {
            &["aggregate", "data"]
        } else {
            &["aggregate"]
        };
        let mut done = Vec::new();
        for table in tables {
            let statement = self.dialect.optimize(table);
            done.push(statement.as_str().to_owned());
            sqlx::raw_sql(statement).execute(&self.pool).await?;
        }
        Ok(done)
    }

    /// Every aggregate row of a channel, ordered by type and timestamp.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Db`] if the query fails.
    pub async fn aggregates(&self, channel_id: i32) -> Result<Vec<AggregateRow>, AggregateError> {
        let rows = sqlx::query(self.dialect.sql(
            r#"SELECT "type", "timestamp", "value", "count" FROM aggregate WHERE channel_id = ? ORDER BY "type", "timestamp""#,
        ))
        .bind(channel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let value = row.try_get::<f64, _>(2).or_else(|error| {
                    row.try_get::<i64, _>(2)
                        .map(|value| value as f64)
                        .map_err(|_| error)
                })?;
                Ok(AggregateRow {
                    type_id: row.try_get(0)?,
                    timestamp: row.try_get(1)?,
                    value,
                    count: row.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(AggregateError::from)
    }

    /// The UTC offset of the database session in seconds, where readers bucket aggregates in
    /// the session's time zone: MySQL/MariaDB (tools-and-schema §2.8). `None` on the other
    /// backends, whose readers do not use the table.
    ///
    /// A tool compares it with its own zone to warn when the PHP middleware would read
    /// aggregates made for another zone.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Db`] if the query fails.
    pub async fn session_utc_offset(&self) -> Result<Option<i32>, AggregateError> {
        let Some(sql) = self.dialect.session_utc_offset() else {
            return Ok(None);
        };
        let seconds: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        Ok(i32::try_from(seconds).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_conditions() {
        assert_eq!(Types::All.condition().0, "");
        assert_eq!(
            Types::Only(vec![2, 3]).condition(),
            (r#" AND "type" IN (?, ?)"#.to_owned(), &[2_i16, 3][..])
        );
        assert_eq!(
            Types::Except(vec![3]).condition().0,
            r#" AND "type" NOT IN (?)"#
        );
        assert_eq!(Types::Only(vec![]).condition().0, " AND 1 = 0");
        assert_eq!(Types::Except(vec![]).condition().0, "");
    }
}
