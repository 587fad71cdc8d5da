//! Aggregating one channel: which periods each level (re)writes, one chunked scan of `data`
//! for all levels, and a writer that replaces buckets in short transactions.

use futures_util::TryStreamExt as _;
use push_core::definition::{self, Interpreter};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row as _, SqlSafeStr as _};

use super::bucket::{Rollup, Rule, Totals};
use super::calendar::{Calendar, Stretch};
use super::write::Writer;
use super::{AggregateError, Aggregation, ChannelReport, KEY_BIAS_MS, Level, Mode};
use crate::Entity;
use crate::db::Db;

/// Raw rows one scan query should cover: enough that per-query overhead vanishes, few
/// enough that a query ends quickly (a long read on a SQLite database without WAL would
/// hold off vzlogger's inserts) and that its result stays small.
const TARGET_ROWS_PER_QUERY: f64 = 500_000.0;

/// The time span of the first scan query of a channel, when its range is longer than
/// [`WHOLE_RANGE_MS`]; later spans adapt to the rows found.
const FIRST_SPAN_MS: i64 = 86_400_000;

/// Ranges up to this long are scanned in one query (per stretch).
const WHOLE_RANGE_MS: i64 = 31 * 86_400_000;

/// What one level of a run does for one channel.
#[derive(Debug)]
pub(super) struct LevelPlan {
    /// The level.
    pub(super) level: Level,
    /// The first period key written (`i64::MIN`: from the first raw row).
    pub(super) first_key: i64,
    /// The first period key not written: the current period.
    pub(super) end_key: i64,
    /// The instants whose raw rows the level needs, `[from, to)`.
    pub(super) scan: (i64, i64),
    /// Existing rows of the level in `[from, to)` are replaced; `None` in delta mode,
    /// which only adds periods after the newest row.
    pub(super) replace: Option<(i64, i64)>,
}

impl Db {
    /// Aggregates one channel as `run` says, and reports what was read and written.
    ///
    /// The buckets of every level are built from one scan of the channel's raw rows, read in
    /// chunks with plain (non-locking) queries. They are written in transactions of at most
    /// 1000 rows, each deleting the existing rows of the range it covers before inserting,
    /// so a period never has two rows and readers see either the old or the new row. Groups
    /// and virtual channels have no data of their own and are skipped.
    ///
    /// # Errors
    ///
    /// [`AggregateError::UnknownType`] if the channel's type is not a known definition;
    /// [`AggregateError::Db`] if a query fails. Rows written before the failure stay (each
    /// transaction is complete in itself); rerunning finishes the work.
    pub async fn aggregate_channel(
        &self,
        channel: &Entity,
        run: &Aggregation,
    ) -> Result<ChannelReport, AggregateError> {
        let Some(rule) = rule(&channel.kind)? else {
            return Ok(ChannelReport {
                skipped: true,
                ..ChannelReport::default()
            });
        };
        let plans = self.plans(channel, run).await?;
        self.scan_channel(channel, rule, &plans, run).await
    }

    /// What each level of `run` (re)writes for the channel. In rebuild mode, the channel's
    /// rows of other levels are deleted here.
    pub(super) async fn plans(
        &self,
        channel: &Entity,
        run: &Aggregation,
    ) -> Result<Vec<LevelPlan>, AggregateError> {
        let mut plans = Vec::with_capacity(run.levels.len());
        for &level in &run.levels {
            plans.push(self.plan(channel.id, level, run).await?);
        }
        if run.mode == Mode::Rebuild {
            let keep: Vec<i16> = run.levels.iter().map(|level| level.type_id()).collect();
            self.delete_aggregates(channel.id, &super::maintenance::Types::Except(keep), None)
                .await?;
        }
        Ok(plans)
    }

    /// Scans one channel's rows as `plans` say and writes its buckets.
    pub(super) async fn scan_channel(
        &self,
        channel: &Entity,
        rule: Rule,
        plans: &[LevelPlan],
        run: &Aggregation,
    ) -> Result<ChannelReport, AggregateError> {
        let connection = self.scan_connection().await?;
        let mut scan = Scan::new(self, connection, channel.id, rule, run, plans);
        scan.run().await?;
        scan.finish().await
    }

    /// A pooled connection prepared for scanning `data`
    /// ([`Dialect::scan_setup`](crate::db::dialect::Dialect::scan_setup)).
    pub(super) async fn scan_connection(&self) -> Result<PoolConnection<Any>, AggregateError> {
        let mut connection = self.pool.acquire().await?;
        for (query, wanted, statement) in self.dialect.scan_setup() {
            let current = sqlx::query(query.into_sql_str())
                .fetch_optional(&mut *connection)
                .await?
                .and_then(|row| {
                    row.try_get::<String, _>(0)
                        .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
                        .ok()
                });
            if current.as_deref() != Some(*wanted) {
                sqlx::raw_sql(statement.into_sql_str())
                    .execute(&mut *connection)
                    .await?;
            }
        }
        Ok(connection)
    }

    /// Works out which periods `level` (re)writes for the channel.
    async fn plan(
        &self,
        channel_id: i32,
        level: Level,
        run: &Aggregation,
    ) -> Result<LevelPlan, AggregateError> {
        let calendar = &run.calendar;
        let end_key = calendar.key(level, run.now_ms);
        let current_start = calendar.start(level, end_key);
        let (first_key, replace) = match run.mode {
            Mode::Delta => {
                let newest: Option<i64> = sqlx::query_scalar(self.dialect.sql(
                    r#"SELECT MAX("timestamp") FROM aggregate WHERE channel_id = ? AND "type" = ?"#,
                ))
                .bind(channel_id)
                .bind(level.type_id())
                .fetch_one(&self.pool)
                .await?;
                let first_key = newest.map_or(i64::MIN, |newest| {
                    calendar.key(level, newest).saturating_add(1)
                });
                (first_key, None)
            }
            Mode::Full => (i64::MIN, Some((i64::MIN, current_start))),
            Mode::Periods(periods) => {
                let first_key = end_key.saturating_sub(i64::from(periods));
                let from = calendar.start(level, first_key);
                (first_key, Some((from, current_start)))
            }
            Mode::Rebuild => (i64::MIN, Some((i64::MIN, i64::MAX))),
        };
        let from = if first_key == i64::MIN {
            i64::MIN
        } else {
            calendar.start(level, first_key)
        };
        let to = if first_key < end_key {
            calendar.end(level, end_key - 1)
        } else {
            from
        };
        Ok(LevelPlan {
            level,
            first_key,
            end_key,
            scan: (from, to.max(from)),
            replace,
        })
    }

    /// `MIN(timestamp)` of the channel's raw rows in `[from, to)`.
    pub(super) async fn first_reading(
        &self,
        connection: &mut AnyConnection,
        channel_id: i32,
        from: i64,
        to: i64,
    ) -> crate::Result<Option<i64>> {
        Ok(sqlx::query_scalar(self.dialect.sql(
            r#"SELECT MIN("timestamp") FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ?"#,
        ))
        .bind(channel_id)
        .bind(from)
        .bind(to)
        .fetch_one(connection)
        .await?)
    }

    /// `MAX(timestamp)` of the channel's raw rows before `before`: the predecessor of the
    /// first row a sensor scan reads.
    async fn reading_before(
        &self,
        connection: &mut AnyConnection,
        channel_id: i32,
        before: i64,
    ) -> crate::Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            self.dialect.sql(
                r#"SELECT MAX("timestamp") FROM data WHERE channel_id = ? AND "timestamp" < ?"#,
            ),
        )
        .bind(channel_id)
        .bind(before)
        .fetch_one(connection)
        .await?)
    }
}

/// How a channel of type `kind` is aggregated; `None` for types without data of their own.
pub(super) fn rule(kind: &str) -> Result<Option<Rule>, AggregateError> {
    let definition = definition::definition(kind).ok_or_else(|| AggregateError::UnknownType {
        kind: kind.to_owned(),
    })?;
    Ok(match definition.interpreter() {
        Interpreter::Impulse => Some(Rule::Sum),
        Interpreter::Accumulator => Some(Rule::Max),
        Interpreter::Sensor => Some(Rule::TimeWeighted),
        Interpreter::Virtual | Interpreter::Aggregator => None,
    })
}

/// One channel's scan: reads period totals at the finest level and feeds every level.
struct Scan<'a> {
    /// The database.
    db: &'a Db,
    /// The connection all reads of the channel go through (prepared by
    /// [`Dialect::scan_setup`](crate::db::dialect::Dialect::scan_setup)); writes use others.
    connection: PoolConnection<Any>,
    /// The channel.
    channel_id: i32,
    /// How its values combine.
    rule: Rule,
    /// The calendar of the run.
    calendar: &'a Calendar,
    /// The level SQL groups by: the finest requested one, or day if that is month or year.
    fine: Level,
    /// The instants to scan: the union of the levels' needs as disjoint `[from, to)`
    /// intervals in order, so a level far behind does not make the others re-read data.
    intervals: Vec<(i64, i64)>,
    /// One rollup and one writer per level.
    levels: Vec<(Rollup, Writer)>,
    /// Raw rows read so far.
    rows_read: u64,
}

impl<'a> Scan<'a> {
    fn new(
        db: &'a Db,
        connection: PoolConnection<Any>,
        channel_id: i32,
        rule: Rule,
        run: &'a Aggregation,
        plans: &[LevelPlan],
    ) -> Scan<'a> {
        let fine = run.scan_level();
        let intervals = union(plans.iter().map(|plan| plan.scan));
        let levels = plans
            .iter()
            .map(|plan| {
                (
                    Rollup::new(plan.level, plan.first_key, plan.end_key),
                    Writer::new(plan.level, rule, plan.replace),
                )
            })
            .collect();
        Scan {
            db,
            connection,
            channel_id,
            rule,
            calendar: &run.calendar,
            fine,
            intervals,
            levels,
            rows_read: 0,
        }
    }

    /// Reads the channel's rows in the scan intervals, stretch by stretch and chunk by
    /// chunk, writing finished buckets after each chunk.
    async fn run(&mut self) -> Result<(), AggregateError> {
        for (from, to) in self.intervals.clone() {
            self.scan_interval(from, to).await?;
        }
        Ok(())
    }

    /// Reads the channel's rows in `[from, to)`.
    async fn scan_interval(&mut self, from: i64, to: i64) -> Result<(), AggregateError> {
        let db = self.db;
        let Some(first) = db
            .first_reading(&mut self.connection, self.channel_id, from, to)
            .await?
        else {
            return Ok(());
        };
        let mut previous = match self.rule {
            Rule::TimeWeighted => {
                db.reading_before(&mut self.connection, self.channel_id, first)
                    .await?
            }
            Rule::Sum | Rule::Max => None,
        };
        let mut span = if to.saturating_sub(first) <= WHOLE_RANGE_MS {
            i64::MAX
        } else {
            FIRST_SPAN_MS
        };
        for stretch in self.calendar.stretches(first, to) {
            let mut position = stretch.from;
            while position < stretch.to {
                let end = position.saturating_add(span).min(stretch.to);
                let rows = self
                    .read_chunk(&stretch, (position, end), &mut previous)
                    .await?;
                for (rollup, writer) in &mut self.levels {
                    rollup.finish_before(end, &mut writer.finished);
                    writer
                        .flush(self.db, &mut self.connection, self.channel_id, false)
                        .await?;
                }
                span = next_span(span, end - position, rows);
                position = end;
            }
        }
        Ok(())
    }

    /// Reads the period totals of `[from, to)` within one stretch and feeds them to every
    /// level; returns the raw rows read. `previous` is the timestamp of the last raw row
    /// before the chunk, and is advanced past it.
    async fn read_chunk(
        &mut self,
        stretch: &Stretch,
        (from, to): (i64, i64),
        previous: &mut Option<i64>,
    ) -> Result<u64, AggregateError> {
        let length = self
            .fine
            .fixed_millis()
            .expect("the scan level has a fixed length");
        let dialect = self.db.dialect;
        let query = match self.rule {
            Rule::TimeWeighted => {
                sqlx::query(dialect.period_sensor_totals(stretch.offset_ms, length))
                    .bind(self.channel_id)
                    .bind(previous.unwrap_or(from))
                    .bind(to)
                    .bind(from)
            }
            Rule::Sum | Rule::Max => sqlx::query(dialect.period_totals(stretch.offset_ms, length))
                .bind(self.channel_id)
                .bind(from)
                .bind(to),
        };
        let sensor = self.rule == Rule::TimeWeighted;
        let mut rows = query.fetch(&mut *self.connection);
        let mut count = 0_u64;
        while let Some(row) = rows.try_next().await? {
            let (key, totals) = period_totals(&row, sensor, length)?;
            count += u64::try_from(totals.count).unwrap_or(0);
            *previous = Some(totals.last);
            for (rollup, writer) in &mut self.levels {
                rollup.add(self.calendar, self.fine, key, &totals);
                // Rows of later periods come after this one's last row.
                rollup.finish_before(totals.last.saturating_add(1), &mut writer.finished);
            }
        }
        self.rows_read += count;
        Ok(count)
    }

    /// Writes what is left and reports.
    async fn finish(mut self) -> Result<ChannelReport, AggregateError> {
        let mut written = Vec::with_capacity(self.levels.len());
        for (rollup, writer) in &mut self.levels {
            rollup.finish_all(&mut writer.finished);
            writer
                .flush(self.db, &mut self.connection, self.channel_id, true)
                .await?;
            written.push((rollup.level, writer.written));
        }
        Ok(ChannelReport {
            skipped: false,
            rows_read: self.rows_read,
            written,
        })
    }
}

/// The union of `[from, to)` ranges as disjoint ranges in order; empty ranges vanish.
pub(super) fn union(ranges: impl Iterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = ranges.filter(|(from, to)| from < to).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The next chunk span: scaled towards [`TARGET_ROWS_PER_QUERY`], at most 8 times longer or
/// 4 times shorter than the last.
fn next_span(span: i64, last_span: i64, rows: u64) -> i64 {
    if span == i64::MAX {
        return span;
    }
    let factor = (TARGET_ROWS_PER_QUERY / rows.max(1) as f64).clamp(0.25, 8.0);
    ((last_span as f64 * factor) as i64).max(1000)
}

/// One row of [`Dialect::period_totals`](crate::db::dialect::Dialect::period_totals) or its
/// sensor variant: the fine period key and its totals.
fn period_totals(row: &AnyRow, sensor: bool, length: i64) -> Result<(i64, Totals), sqlx::Error> {
    let key: i64 = row.try_get(0)?;
    let last: i64 = row.try_get(1)?;
    let (weighted, covered) = if sensor {
        let first_prev: Option<i64> = row.try_get(6)?;
        (optional_float(row, 5)?, first_prev.map(|prev| last - prev))
    } else {
        (None, None)
    };
    Ok((
        key - KEY_BIAS_MS / length,
        Totals {
            last,
            count: row.try_get(2)?,
            sum: optional_float(row, 3)?.unwrap_or(0.0),
            max: optional_float(row, 4)?.unwrap_or(0.0),
            weighted,
            covered,
        },
    ))
}

/// Column `index` as a float, or `None` for NULL; integers (which SQLite returns for sums of
/// values stored as integers) are converted.
pub(super) fn optional_float(row: &AnyRow, index: usize) -> Result<Option<f64>, sqlx::Error> {
    row.try_get::<Option<f64>, _>(index).or_else(|error| {
        row.try_get::<Option<i64>, _>(index)
            .map(|value| value.map(|value| value as f64))
            .map_err(|_| error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_interpreter() {
        assert_eq!(rule("power").unwrap(), Some(Rule::Sum));
        assert_eq!(rule("electric meter").unwrap(), Some(Rule::Max));
        assert_eq!(rule("temperature").unwrap(), Some(Rule::TimeWeighted));
        assert_eq!(rule("virtualsensor").unwrap(), None);
        assert_eq!(rule("group").unwrap(), None);
        assert!(matches!(
            rule("nonsense"),
            Err(AggregateError::UnknownType { .. })
        ));
    }

    #[test]
    fn scans_the_union_of_the_level_ranges() {
        assert_eq!(
            union([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)].into_iter()),
            [(0, 4), (5, 12)]
        );
        assert!(union(std::iter::empty()).is_empty());
    }

    #[test]
    fn spans_adapt_towards_the_target() {
        assert_eq!(next_span(i64::MAX, 10, 5), i64::MAX);
        assert_eq!(next_span(1000, 86_400_000, 0), 8 * 86_400_000);
        assert_eq!(next_span(1000, 86_400_000, 2_000_000), 86_400_000 / 4);
        assert_eq!(next_span(1000, 86_400_000, 250_000), 2 * 86_400_000);
    }
}
