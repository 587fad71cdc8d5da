//! Writing one level's finished buckets: each transaction deletes the rows of the range it
//! replaces, then inserts, so a period never has two rows.

use sqlx::{AnyConnection, Connection as _};

use super::AggregateError;
use super::Level;
use super::bucket::{Finished, Rule};
use crate::db::Db;

/// Aggregate rows per insert statement and per write transaction.
const ROWS_PER_WRITE: usize = 1000;

/// Bind parameters per inserted aggregate row.
const PARAMS_PER_ROW: usize = 5;

/// Writes the finished buckets of one level, replacing what the level's range held.
#[derive(Debug)]
pub(super) struct Writer {
    /// The level written.
    level: Level,
    /// How bucket values are computed.
    rule: Rule,
    /// Buckets waiting to be written, in key order.
    pub(super) finished: Vec<Finished>,
    /// The part of the replaced range not deleted yet, `[from, to)`; `None` in delta mode.
    replace: Option<(i64, i64)>,
    /// Rows inserted so far.
    pub(super) written: u64,
}

impl Writer {
    pub(super) fn new(level: Level, rule: Rule, replace: Option<(i64, i64)>) -> Writer {
        Writer {
            level,
            rule,
            finished: Vec::new(),
            replace,
            written: 0,
        }
    }

    /// Writes the waiting buckets in transactions of at most [`ROWS_PER_WRITE`] rows. Each
    /// transaction first deletes the existing rows from where the last one stopped up to its
    /// own last row (or, on the `last` flush, to the end of the replaced range).
    ///
    /// Writes go through the scan's own connection, so a channel never needs two
    /// connections at once (several channels at a time cannot starve the pool).
    pub(super) async fn flush(
        &mut self,
        db: &Db,
        connection: &mut AnyConnection,
        channel_id: i32,
        last: bool,
    ) -> Result<(), AggregateError> {
        let finished = std::mem::take(&mut self.finished);
        let batches: Vec<&[Finished]> = finished.chunks(ROWS_PER_WRITE).collect();
        let batch_count = batches.len();
        for (i, batch) in batches.into_iter().enumerate() {
            let delete_to = if last && i + 1 == batch_count {
                self.replace.map(|(_, to)| to)
            } else {
                batch
                    .iter()
                    .map(|bucket| bucket.totals.last)
                    .max()
                    .map(|ts| ts.saturating_add(1))
            };
            self.write(db, connection, channel_id, batch, delete_to)
                .await?;
        }
        if last
            && batch_count == 0
            && let Some((_, to)) = self.replace
        {
            self.write(db, connection, channel_id, &[], Some(to))
                .await?;
        }
        Ok(())
    }

    /// One transaction: delete the replaced range up to `delete_to`, insert `batch`.
    async fn write(
        &mut self,
        db: &Db,
        connection: &mut AnyConnection,
        channel_id: i32,
        batch: &[Finished],
        delete_to: Option<i64>,
    ) -> Result<(), AggregateError> {
        let delete = match (self.replace, delete_to) {
            (Some((from, to)), Some(delete_to)) if delete_to.min(to) > from => {
                let delete_to = delete_to.min(to);
                self.replace = Some((delete_to, to));
                Some((from, delete_to))
            }
            _ => None,
        };
        if delete.is_none() && batch.is_empty() {
            return Ok(());
        }
        let insert = (!batch.is_empty()).then(|| {
            let mut query = sqlx::query(
                db.dialect
                    .insert_aggregates(batch.len(), db.layout.aggregate_id),
            );
            for bucket in batch {
                query = query
                    .bind(channel_id)
                    .bind(self.level.type_id())
                    .bind(bucket.totals.last)
                    .bind(bucket.totals.value(self.rule))
                    .bind(i32::try_from(bucket.totals.count).unwrap_or(i32::MAX));
            }
            query
        });
        debug_assert!(batch.len() * PARAMS_PER_ROW <= db.dialect.max_bind_params());
        match delete {
            // Without a delete, the insert alone is atomic; no transaction needed.
            None => {
                if let Some(insert) = insert {
                    insert.execute(&mut *connection).await?;
                }
            }
            Some((from, to)) => {
                let mut tx = match db.dialect.begin_write() {
                    Some(statement) => connection.begin_with(statement).await?,
                    None => connection.begin().await?,
                };
                sqlx::query(db.dialect.sql(
                    r#"DELETE FROM aggregate WHERE channel_id = ? AND "type" = ? AND "timestamp" >= ? AND "timestamp" < ?"#,
                ))
                .bind(channel_id)
                .bind(self.level.type_id())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
                if let Some(insert) = insert {
                    insert.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        self.written += batch.len() as u64;
        Ok(())
    }
}
