//! Writing finished buckets: each transaction deletes the rows of the range it replaces,
//! then inserts, so a period never has two rows. One transaction may carry the buckets of
//! many channels and levels (multi-channel scans), but never more than [`ROWS_PER_WRITE`]
//! rows.

use sqlx::{AnyConnection, Connection as _};

use super::AggregateError;
use super::Level;
use super::bucket::{Finished, Rule};
use crate::db::Db;

/// Aggregate rows per insert statement and per write transaction.
pub(super) const ROWS_PER_WRITE: usize = 1000;

/// Bind parameters per inserted aggregate row.
const PARAMS_PER_ROW: usize = 5;

/// The finished buckets of one channel and level, and the part of the level's range that
/// they replace.
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
    /// Rows handed out for writing so far.
    pub(super) written: u64,
}

/// One writer's part of a write transaction.
#[derive(Debug)]
pub(super) struct Share {
    /// `aggregate.type` of the level.
    type_id: i16,
    /// Existing rows in `[from, to)` to delete first.
    delete: Option<(i64, i64)>,
    /// Rows to insert: timestamp, value, count.
    rows: Vec<(i64, f64, i32)>,
}

impl Share {
    /// The rows it inserts.
    pub(super) fn rows(&self) -> usize {
        self.rows.len()
    }
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

    /// Takes up to `max` waiting buckets (at least one if any wait) for a transaction, with
    /// the delete that must precede them: the replaced range from where the last share
    /// stopped up to its own last row or, when `last` and nothing else waits, to the end of
    /// the replaced range. `None` when there is nothing left to do.
    pub(super) fn take(&mut self, max: usize, last: bool) -> Option<Share> {
        let count = self.finished.len().min(max.max(1));
        let rows: Vec<Finished> = self.finished.drain(..count).collect();
        let delete_to = if last && self.finished.is_empty() {
            self.replace.map(|(_, to)| to)
        } else {
            rows.iter()
                .map(|bucket| bucket.totals.last)
                .max()
                .map(|ts| ts.saturating_add(1))
        };
        let delete = match (self.replace, delete_to) {
            (Some((from, to)), Some(delete_to)) if delete_to.min(to) > from => {
                let delete_to = delete_to.min(to);
                self.replace = Some((delete_to, to));
                Some((from, delete_to))
            }
            _ => None,
        };
        if delete.is_none() && rows.is_empty() {
            return None;
        }
        self.written += rows.len() as u64;
        Some(Share {
            type_id: self.level.type_id(),
            delete,
            rows: rows
                .iter()
                .map(|bucket| {
                    (
                        bucket.totals.last,
                        bucket.totals.value(self.rule),
                        i32::try_from(bucket.totals.count).unwrap_or(i32::MAX),
                    )
                })
                .collect(),
        })
    }

    /// Writes the waiting buckets of one channel in transactions of at most
    /// [`ROWS_PER_WRITE`] rows (see [`Writer::take`]).
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
        while let Some(share) = self.take(ROWS_PER_WRITE, last) {
            write(db, connection, &[(channel_id, share)]).await?;
        }
        Ok(())
    }
}

/// How often a write transaction is tried when the database aborts it as a deadlock.
const WRITE_ATTEMPTS: u32 = 5;

/// One transaction: the deletes of every share, then their rows in one insert. Without a
/// delete the insert alone is atomic and runs without a transaction.
///
/// With several jobs, InnoDB's gap locks can make the transactions of two channels wait for
/// each other; the server then aborts one as a deadlock (`40001`), and it is run again. The
/// aborted transaction changed nothing, so retrying is safe.
pub(super) async fn write(
    db: &Db,
    connection: &mut AnyConnection,
    shares: &[(i32, Share)],
) -> Result<(), AggregateError> {
    let mut attempt = 1;
    loop {
        match write_once(db, connection, shares).await {
            Err(sqlx::Error::Database(error))
                if attempt < WRITE_ATTEMPTS
                    && matches!(error.code().as_deref(), Some("40001" | "40P01")) =>
            {
                attempt += 1;
            }
            result => return Ok(result?),
        }
    }
}

/// [`write`], one attempt.
async fn write_once(
    db: &Db,
    connection: &mut AnyConnection,
    shares: &[(i32, Share)],
) -> Result<(), sqlx::Error> {
    let rows: usize = shares.iter().map(|(_, share)| share.rows.len()).sum();
    debug_assert!(rows <= ROWS_PER_WRITE);
    debug_assert!(rows * PARAMS_PER_ROW <= db.dialect.max_bind_params());
    let insert = (rows > 0).then(|| {
        let mut query = sqlx::query(db.dialect.insert_aggregates(rows, db.layout.aggregate_id));
        for (channel_id, share) in shares {
            for &(timestamp, value, count) in &share.rows {
                query = query
                    .bind(*channel_id)
                    .bind(share.type_id)
                    .bind(timestamp)
                    .bind(value)
                    .bind(count);
            }
        }
        query
    });
    if shares.iter().all(|(_, share)| share.delete.is_none()) {
        if let Some(insert) = insert {
            insert.execute(&mut *connection).await?;
        }
        return Ok(());
    }
    let mut tx = match db.dialect.begin_write() {
        Some(statement) => connection.begin_with(statement).await?,
        None => connection.begin().await?,
    };
    for (channel_id, share) in shares {
        let Some((from, to)) = share.delete else {
            continue;
        };
        sqlx::query(db.dialect.sql(
            r#"DELETE FROM aggregate WHERE channel_id = ? AND "type" = ? AND "timestamp" >= ? AND "timestamp" < ?"#,
        ))
        .bind(*channel_id)
        .bind(share.type_id)
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(insert) = insert {
        insert.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
