//! Thinning out old readings (vz-compress, tools-and-schema §3): the readings of a time window
//! become one reading, and the aggregate rows that summarised them are dropped.
//!
//! The tool decides which windows of which channel to merge; this module merges a run of
//! consecutive windows set-based, in one transaction: a grouped `SELECT` finds the windows
//! holding more than one reading, one `DELETE` per chunk of coalesced window ranges (on SQLite
//! one per range, or one `DELETE` of the windows holding more than one reading when there are
//! many ranges) removes their readings, one multi-row `INSERT` writes the merged readings, and one `DELETE` drops
//! the aggregate rows of the changed time span. A crash leaves every window of the run
//! either merged or untouched.

use push_core::definition::Interpreter;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::Db;
use super::dialect::compress::{MergeStyle, WindowDelete, push_ranges};
use crate::{Error, Result};

/// How the readings of a window are combined into one value (tools-and-schema §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergeFunction {
    /// `SUM`: impulse channels, whose readings count impulses since the previous reading, so
    /// the total consumption stays exactly the same.
    Sum,
    /// `MAX`: accumulator channels, whose readings are absolute (monotonic) meter readings.
    Max,
    /// `AVG`, plain and unweighted as in vzcompress2: sensor and virtual channels.
    Avg,
}

impl MergeFunction {
    /// The function for a channel's interpreter; `None` for groups, which have no readings.
    pub fn for_interpreter(interpreter: Interpreter) -> Option<MergeFunction> {
        match interpreter {
            Interpreter::Impulse => Some(MergeFunction::Sum),
            Interpreter::Accumulator => Some(MergeFunction::Max),
            Interpreter::Sensor | Interpreter::Virtual => Some(MergeFunction::Avg),
            Interpreter::Aggregator => None,
        }
    }

    /// The SQL aggregate function.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            MergeFunction::Sum => "SUM",
            MergeFunction::Max => "MAX",
            MergeFunction::Avg => "AVG",
        }
    }
}

/// A run of consecutive windows of one channel, merged in one transaction.
///
/// The windows are `[from + k·window, from + (k+1)·window)` for k = 0, 1, …; readings before
/// `from` or at or after `to` are neither read nor changed, so a last window cut short by
/// `to` only merges the readings before `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowRun {
    /// `entities.id` of the channel.
    pub channel_id: i32,
    /// Start of the first window, in ms since the Unix epoch.
    pub from: i64,
    /// End of the run (exclusive), in ms.
    pub to: i64,
    /// Window length in ms; positive.
    pub window: i64,
    /// How a window's readings become one value.
    pub function: MergeFunction,
}

/// What merging (or planning to merge) a [`WindowRun`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Readings in the run before merging.
    pub readings: u64,
    /// Windows that held at least one reading.
    pub windows: u64,
    /// Windows that held two or more readings and now hold one.
    pub merged_windows: u64,
    /// Readings removed: the readings of the merged windows minus one per merged window.
    pub removed: u64,
    /// Aggregate rows deleted because their period overlaps a merged window (0 when planning).
    pub aggregate_rows_deleted: u64,
}

impl std::ops::AddAssign for MergeOutcome {
    fn add_assign(&mut self, other: MergeOutcome) {
        self.readings += other.readings;
        self.windows += other.windows;
        self.merged_windows += other.merged_windows;
        self.removed += other.removed;
        self.aggregate_rows_deleted += other.aggregate_rows_deleted;
    }
}

/// The oldest and newest reading of a channel in a time range, and how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadingSpan {
    /// Timestamp of the oldest reading, in ms.
    pub first: i64,
    /// Timestamp of the newest reading, in ms.
    pub last: i64,
    /// Number of readings.
    pub count: u64,
}

/// One window with readings, as the grouped query reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct WindowGroup {
    /// Window index from the run's start.
    index: i64,
    /// Readings in the window.
    count: u64,
    /// The merged value.
    value: f64,
    /// The newest reading's timestamp: where the merged reading is stored.
    last: i64,
}

/// The most window ranges one `DELETE` names (two bind parameters each); keeps the
/// statement under the size [`Dialect::statement_bytes`] asks for.
///
/// [`Dialect::statement_bytes`]: super::dialect::Dialect::statement_bytes
const MAX_RANGES_PER_STATEMENT: usize = 100;

/// The most rows one multi-row `INSERT` of merged readings carries.
const MAX_ROWS_PER_INSERT: usize = 1000;

/// Estimated bytes one merged reading adds to an `INSERT` (three parameters and their
/// placeholders).
const BYTES_PER_MERGED_ROW: usize = 48;

/// How often a run is tried again when its readings changed while it was being merged.
const ATTEMPTS: usize = 3;

/// The longest span of one aggregate period per `aggregate.type` (tools-and-schema §2.2), in
/// ms: second, minute, hour, day (25 h on DST days), week, month (31 days + 1 h), year
/// (366 days + 1 h). Unknown types get the year's.
const PERIOD_SPAN: &str = r#"CASE "type" WHEN 0 THEN 1000 WHEN 1 THEN 60000 WHEN 2 THEN 3600000 WHEN 3 THEN 90000000 WHEN 4 THEN 608400000 WHEN 5 THEN 2682000000 ELSE 31626000000 END"#;

impl Db {
    /// The oldest and newest reading of a channel with `from <= timestamp < to`, or `None` if
    /// there is none.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn reading_span(
        &self,
        channel_id: i32,
        from: i64,
        to: i64,
    ) -> Result<Option<ReadingSpan>> {
        let row = sqlx::query(self.dialect.sql(
            r#"SELECT MIN("timestamp"), MAX("timestamp"), COUNT(*) FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ?"#,
        ))
        .bind(channel_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        let (first, last): (Option<i64>, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        let count: i64 = row.try_get(2)?;
        Ok(match (first, last) {
            (Some(first), Some(last)) => Some(ReadingSpan {
                first,
                last,
                count: u64::try_from(count).unwrap_or(0),
            }),
            _ => None,
        })
    }

    /// How many [`Db::merge_windows`] calls for different channels are worth running at once
    /// when `wanted` are asked for: `wanted` on MySQL and PostgreSQL (each on a connection of
    /// its own, so the server uses that many cores), 1 on SQLite (one writer at a time).
    pub fn merge_jobs(&self, wanted: usize) -> usize {
        wanted.clamp(1, self.dialect.merge_jobs())
    }

    /// How long a caller that runs [`Db::merge_windows`] over and over should pause now and
    /// then (after about [`Db::WRITE_TURN`] of merging), so that other writers get the
    /// database; `None` if it need not (MySQL and PostgreSQL lock rows, not the database).
    ///
    /// SQLite has one writer at a time and no queue of waiting writers: a writer that begins
    /// its next transaction as soon as the last one committed keeps the lock, and a concurrent
    /// insert (vzlogger's, through the middleware) fails with "database is locked" once its
    /// busy timeout (5 s) runs out, however short each transaction is.
    pub fn writer_gap(&self) -> Option<std::time::Duration> {
        self.dialect.writer_gap()
    }

    /// How long a writer may hold a database lock that others wait for (SQLite's; see
    /// [`Db::writer_gap`]) before it pauses: a concurrent insert waits at most about this long
    /// plus one transaction.
    pub const WRITE_TURN: std::time::Duration = std::time::Duration::from_millis(750);

    /// Reports what [`Db::merge_windows`] would do, changing nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if the query fails.
    pub async fn plan_merge(&self, run: &WindowRun) -> Result<MergeOutcome> {
        let mut conn = self.pool.acquire().await?;
        let groups = self.window_groups(&mut conn, run, false).await?;
        Ok(outcome(&groups))
    }

    /// Merges every window of the run that holds two or more readings into one reading, in
    /// one transaction, and deletes the aggregate rows whose period overlaps a merged window.
    ///
    /// The merged reading takes the window's [`MergeFunction`] value and the timestamp of the
    /// window's newest reading, so it stays inside its window, a second run finds one reading
    /// there and leaves it alone, and no reading moves later in time. Windows with a single
    /// reading are not written at all.
    ///
    /// The aggregate rows deleted are those of the channel whose timestamp (the newest raw
    /// timestamp of their period) lies between the first merged window's start and the last
    /// merged window's end plus the longest period of their level: every period overlapping a
    /// merged window is caught whatever time zone it was bucketed in, plus at most one period
    /// per level after it. `vz-aggregate run --mode full` recomputes them.
    ///
    /// A deadlock or lock timeout (possible when several runs of different channels go on
    /// at once) rolls the transaction back and is retried, as is a run whose readings
    /// changed under it.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if a statement fails (the transaction is rolled back, nothing
    /// changes), also when readings of the run kept changing under a concurrent writer.
    pub async fn merge_windows(&self, run: &WindowRun) -> Result<MergeOutcome> {
        for attempt in 1..=ATTEMPTS {
            match self.try_merge(run).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                // Deadlocks and lock timeouts roll the transaction back; try it again.
                Err(Error::Database(error))
                    if attempt < ATTEMPTS && self.dialect.is_transient(&error) => {}
                Err(error) => return Err(error),
            }
        }
        Err(Error::Database(sqlx::Error::Protocol(format!(
            "readings of channel {} between {} and {} kept changing while being merged",
            run.channel_id, run.from, run.to
        ))))
    }

    /// One attempt of [`Db::merge_windows`]; `None` if the readings changed under it (then
    /// nothing was written).
    async fn try_merge(&self, run: &WindowRun) -> Result<Option<MergeOutcome>> {
        let mut conn = self.pool.acquire().await?;
        if let Some(statement) = self.dialect.before_merge() {
            sqlx::raw_sql(statement).execute(&mut *conn).await?;
        }
        let mut tx = match self.dialect.begin_write() {
            Some(statement) => sqlx::Connection::begin_with(&mut *conn, statement).await?,
            None => sqlx::Connection::begin(&mut *conn).await?,
        };
        let groups = self.window_groups(&mut tx, run, true).await?;
        let mut outcome = outcome(&groups);
        let merged: Vec<&WindowGroup> = groups.iter().filter(|group| group.count > 1).collect();
        if merged.is_empty() {
            tx.commit().await?;
            return Ok(Some(outcome));
        }
        let ranges = coalesce(run, &merged);
        match self.dialect.merge_style() {
            MergeStyle::DeleteReturning => {
                for chunk in ranges.chunks(MAX_RANGES_PER_STATEMENT) {
                    let statement = self.dialect.merge_windows(run.function, chunk.len());
                    let mut query = sqlx::query(statement).bind(run.channel_id);
                    for &(start, end) in chunk {
                        query = query.bind(start).bind(end);
                    }
                    query
                        .bind(run.channel_id)
                        .bind(run.from)
                        .bind(run.window)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            MergeStyle::DeleteThenInsert => {
                let expected: u64 = merged.iter().map(|group| group.count).sum();
                let deleted = match self
                    .dialect
                    .window_delete(ranges.len(), MAX_RANGES_PER_STATEMENT)
                {
                    WindowDelete::Ranges { per_statement } => {
                        delete_ranges(self, &mut tx, run, &ranges, per_statement).await?
                    }
                    WindowDelete::Merged(statement) => sqlx::query(statement)
                        .bind(run.channel_id)
                        .bind(run.from)
                        .bind(run.to)
                        .bind(run.from)
                        .bind(run.window)
                        .bind(run.from)
                        .bind(run.window)
                        .bind(run.channel_id)
                        .bind(run.from)
                        .bind(run.to)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                };
                if deleted != expected {
                    // Someone wrote to these windows since they were read: start over.
                    tx.rollback().await?;
                    return Ok(None);
                }
                insert_merged(self, &mut tx, run.channel_id, &merged).await?;
            }
        }
        let first = ranges.first().map_or(run.from, |range| range.0);
        let last = ranges.last().map_or(run.to, |range| range.1);
        let sql = format!(
            r#"DELETE FROM aggregate WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ? + {PERIOD_SPAN}"#
        );
        outcome.aggregate_rows_deleted = sqlx::query(self.dialect.sql_owned(&sql))
            .bind(run.channel_id)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some(outcome))
    }

    /// The run's non-empty windows, oldest first.
    async fn window_groups(
        &self,
        conn: &mut sqlx::AnyConnection,
        run: &WindowRun,
        lock: bool,
    ) -> Result<Vec<WindowGroup>> {
        let rows = sqlx::query(self.dialect.window_groups(run.function, lock))
            .bind(run.from)
            .bind(run.window)
            .bind(run.channel_id)
            .bind(run.from)
            .bind(run.to)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|row| {
                let count: i64 = row.try_get(1)?;
                Ok(WindowGroup {
                    index: row.try_get(0)?,
                    count: u64::try_from(count).unwrap_or(0),
                    value: float(row, 2)?,
                    last: row.try_get(3)?,
                })
            })
            .collect()
    }
}

/// Deletes a channel's readings in the time ranges, `per_statement` ranges a statement, and
/// returns how many were deleted.
async fn delete_ranges(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    run: &WindowRun,
    ranges: &[(i64, i64)],
    per_statement: usize,
) -> Result<u64> {
    let mut deleted = 0;
    for chunk in ranges.chunks(per_statement.max(1)) {
        let mut sql = String::from("DELETE FROM data WHERE channel_id = ? AND (");
        push_ranges(&mut sql, chunk.len());
        sql.push(')');
        let mut query = sqlx::query(db.dialect.sql_owned(&sql)).bind(run.channel_id);
        for &(start, end) in chunk {
            query = query.bind(start).bind(end);
        }
        deleted += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(deleted)
}

/// Inserts one reading per merged window, at the window's newest timestamp.
async fn insert_merged(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    channel_id: i32,
    merged: &[&WindowGroup],
) -> Result<()> {
    let rows = (db.dialect.statement_bytes() / BYTES_PER_MERGED_ROW).clamp(1, MAX_ROWS_PER_INSERT);
    for chunk in merged.chunks(rows) {
        let mut sql =
            String::from(r#"INSERT INTO data (channel_id, "timestamp", "value") VALUES "#);
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?, ?, ?)" } else { ", (?, ?, ?)" });
        }
        let mut query = sqlx::query(db.dialect.sql_owned(&sql));
        for group in chunk {
            query = query.bind(channel_id).bind(group.last).bind(group.value);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Counts of a run's windows before merging.
fn outcome(groups: &[WindowGroup]) -> MergeOutcome {
    let mut outcome = MergeOutcome::default();
    for group in groups {
        outcome.readings += group.count;
        outcome.windows += 1;
        if group.count > 1 {
            outcome.merged_windows += 1;
            outcome.removed += group.count - 1;
        }
    }
    outcome
}

/// The time ranges `[start, end)` of the merged windows, adjacent windows joined into one
/// range (and the last clipped at the run's end), so dense data needs a single range.
fn coalesce(run: &WindowRun, merged: &[&WindowGroup]) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for group in merged {
        let start = run.from + group.index * run.window;
        let end = (start + run.window).min(run.to);
        match ranges.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    ranges
}

/// Column `index` as a float; SQLite reports an integer when every summed value was stored
/// as one.
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

    fn group(index: i64, count: u64) -> WindowGroup {
        WindowGroup {
            index,
            count,
            value: 1.0,
            last: 0,
        }
    }

    #[test]
    fn adjacent_windows_become_one_range() {
        let run = WindowRun {
            channel_id: 1,
            from: 1000,
            to: 1000 + 10 * 60,
            window: 60,
            function: MergeFunction::Sum,
        };
        let groups = [group(0, 2), group(1, 3), group(3, 2), group(9, 2)];
        let merged: Vec<&WindowGroup> = groups.iter().collect();
        assert_eq!(
            coalesce(&run, &merged),
            [(1000, 1120), (1180, 1240), (1540, 1600)]
        );
        let clipped = WindowRun { to: 1570, ..run };
        assert_eq!(coalesce(&clipped, &merged)[2], (1540, 1570));
    }

    #[test]
    fn outcome_counts_removed_readings() {
        let groups = [group(0, 1), group(1, 3), group(2, 2)];
        assert_eq!(
            outcome(&groups),
            MergeOutcome {
                readings: 6,
                windows: 3,
                merged_windows: 2,
                removed: 3,
                aggregate_rows_deleted: 0,
            }
        );
    }

    #[test]
    fn interpreters_choose_the_function() {
        assert_eq!(
            MergeFunction::for_interpreter(Interpreter::Impulse),
            Some(MergeFunction::Sum)
        );
        assert_eq!(
            MergeFunction::for_interpreter(Interpreter::Accumulator),
            Some(MergeFunction::Max)
        );
        assert_eq!(
            MergeFunction::for_interpreter(Interpreter::Sensor),
            Some(MergeFunction::Avg)
        );
        assert_eq!(
            MergeFunction::for_interpreter(Interpreter::Aggregator),
            None
        );
    }
}
