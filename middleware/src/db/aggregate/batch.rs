//! Aggregating many channels at once: channels whose runs need the same time ranges are
//! read together, one time chunk of all of them per query, so each page of `data` is read
//! once per run instead of once per channel.
//!
//! vzlogger inserts the readings of all its channels as they come, so on SQLite (rowid
//! order) and PostgreSQL (heap order) one channel's rows are spread over every page of the
//! table: a per-channel range scan through the primary key touches the whole table for
//! every channel (docs/bench-aggregate.md). A time chunk of all channels, on the other
//! hand, is a contiguous stretch of pages. MySQL's InnoDB clusters `data` by
//! `(channel_id, timestamp)`, so it keeps the per-channel scan
//! ([`BatchScan::PerChannel`]).
//!
//! Each chunk yields per-channel period totals, which feed the same per-channel rollups and
//! writers as the single-channel scan; buckets are finished once a chunk has passed their
//! end, and written in transactions of at most [`ROWS_PER_WRITE`] rows across channels.

use std::collections::{BTreeMap, HashMap};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, FuturesUnordered, StreamExt as _};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::bucket::{Rollup, Rule, Totals};
use super::calendar::Stretch;
use super::run::{LevelPlan, optional_float, rule, union};
use super::write::{ROWS_PER_WRITE, Share, Writer, write};
use super::{AggregateError, Aggregation, ChannelReport, KEY_BIAS_MS, Level};
use crate::Entity;
use crate::db::Db;
use crate::db::dialect::aggregate::BatchScan;

/// At most this many channels share one scan (the statements list their ids).
const MAX_GROUP_CHANNELS: usize = 2000;

/// SQLite: a chunk's rows are read in rowid order when their rowid span holds at most this
/// many rows per row wanted; otherwise through the primary key index (e.g. a table loaded
/// channel by channel, where a time chunk of all channels spans the whole table).
const DENSE_SPAN_FACTOR: i64 = 4;

/// At most this many fine periods in one chunk (see [`Grouping`]).
const MAX_KEYS_PER_CHUNK: i64 = 1 << 30;

/// At most this many writers' shares (each possibly a DELETE) go into one transaction.
const SHARES_PER_WRITE: usize = 256;

/// What [`Db::aggregate_channels`] reports while it works.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A channel is done: its report, `skipped` for channels without data of their own, or
    /// [`AggregateError::UnknownType`] (the run goes on without it).
    Channel {
        /// The channel.
        channel: &'a Entity,
        /// What happened.
        result: Result<ChannelReport, AggregateError>,
    },
    /// A scan over `channels` channels at once has covered `fraction` (0 to 1) of its time
    /// range; their [`Progress::Channel`] reports follow when it ends.
    Scanning {
        /// Channels in the scan.
        channels: usize,
        /// How far it got.
        fraction: f64,
    },
}

/// Why [`Db::aggregate_channels`] stopped, and the channels it was working on then.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AggregateFailure<'a> {
    /// The channel, or the channels scanned together, whose aggregation failed. Their rows
    /// written so far stay (each transaction is complete); rerunning finishes the work.
    pub channels: Vec<&'a Entity>,
    /// What went wrong.
    #[source]
    pub error: AggregateError,
}

/// One channel of a run, ready to scan.
struct Member<'a> {
    /// The channel.
    channel: &'a Entity,
    /// How its values combine.
    rule: Rule,
    /// What each level writes.
    plans: Vec<LevelPlan>,
}

/// A member's state during a multi-channel scan.
struct Slot<'a> {
    /// The channel.
    channel: &'a Entity,
    /// One rollup and one writer per level.
    levels: Vec<(Rollup, Writer)>,
    /// Raw rows read.
    rows_read: u64,
}

/// One query's worth of a multi-channel scan: `[from, to)` within one stretch.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    /// First instant.
    from: i64,
    /// First instant after the chunk.
    to: i64,
    /// UTC offset of the stretch, ms.
    offset_ms: i64,
}

/// The per-channel period totals of one chunk: channel id, fine key, totals.
type ChunkTotals = Vec<(i64, i64, Totals)>;

impl Db {
    /// Aggregates `channels` as `run` says, reporting each channel through `progress`.
    ///
    /// Channels whose levels need the same time ranges (all of them in full mode, and in
    /// delta mode those aggregated up to the same period) are scanned together on SQLite and
    /// PostgreSQL (see the module docs); the others, and every channel on MySQL, one by one
    /// as [`Db::aggregate_channel`] does. The rows written are the same either way. `jobs`
    /// is how many queries run at once: channels in the one-by-one case, time chunks in a
    /// multi-channel scan (on a connection each).
    ///
    /// # Errors
    ///
    /// The first failure other than an unknown channel type ends the run, naming the
    /// channels it was working on; rows written before stay.
    ///
    /// The future is boxed: it is `Send` (for spawning), which the compiler cannot prove
    /// through an unboxed `async fn` taking a callback over borrowed channels.
    pub fn aggregate_channels<'a, F>(
        &'a self,
        channels: &'a [Entity],
        run: &'a Aggregation,
        jobs: usize,
        progress: F,
    ) -> BoxFuture<'a, Result<(), AggregateFailure<'a>>>
    where
        F: FnMut(Progress<'a>) + Send + 'a,
    {
        self.run_channels(channels, run, jobs, progress).boxed()
    }

    /// [`Db::aggregate_channels`], unboxed.
    async fn run_channels<'a>(
        &self,
        channels: &'a [Entity],
        run: &Aggregation,
        jobs: usize,
        mut progress: impl FnMut(Progress<'a>) + Send,
    ) -> Result<(), AggregateFailure<'a>> {
        let fail = |channel: &'a Entity| {
            move |error: AggregateError| AggregateFailure {
                channels: vec![channel],
                error,
            }
        };
        let mut members = Vec::with_capacity(channels.len());
        for channel in channels {
            match rule(&channel.kind) {
                Err(error) => progress(Progress::Channel {
                    channel,
                    result: Err(error),
                }),
                Ok(None) => progress(Progress::Channel {
                    channel,
                    result: Ok(ChannelReport {
                        skipped: true,
                        ..ChannelReport::default()
                    }),
                }),
                Ok(Some(rule)) => {
                    let plans = self.plans(channel, run).await.map_err(fail(channel))?;
                    members.push(Member {
                        channel,
                        rule,
                        plans,
                    });
                }
            }
        }
        let jobs = jobs.clamp(1, self.pool.options().get_max_connections().max(1) as usize);
        let (groups, singles) = match self.dialect.batch_scan() {
            BatchScan::PerChannel => (Vec::new(), members),
            BatchScan::RowidSpans | BatchScan::Planner => group(members),
        };
        for (intervals, group) in groups {
            let scanned: Vec<&Entity> = group.iter().map(|member| member.channel).collect();
            let reports = self
                .scan_group(group, &intervals, run, jobs, &mut progress)
                .await
                .map_err(|error| AggregateFailure {
                    channels: scanned,
                    error,
                })?;
            for (channel, report) in reports {
                progress(Progress::Channel {
                    channel,
                    result: Ok(report),
                });
            }
        }
        let mut singles = singles.into_iter();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < jobs
                && let Some(member) = singles.next()
            {
                running.push(self.scan_member(member, run).boxed());
            }
            let Some((channel, result)) = running.next().await else {
                break;
            };
            let report = result.map_err(fail(channel))?;
            progress(Progress::Channel {
                channel,
                result: Ok(report),
            });
        }
        Ok(())
    }

    /// Scans one member on its own, as [`Db::aggregate_channel`] does.
    async fn scan_member<'a>(
        &self,
        member: Member<'a>,
        run: &Aggregation,
    ) -> (&'a Entity, Result<ChannelReport, AggregateError>) {
        let result = self
            .scan_channel(member.channel, member.rule, &member.plans, run)
            .await;
        (member.channel, result)
    }

    /// Scans `members` together over `intervals`; returns each channel's report.
    async fn scan_group<'a>(
        &self,
        members: Vec<Member<'a>>,
        intervals: &[(i64, i64)],
        run: &Aggregation,
        jobs: usize,
        progress: &mut impl FnMut(Progress<'a>),
    ) -> Result<Vec<(&'a Entity, ChannelReport)>, AggregateError> {
        let fine = run.scan_level();
        let length = fine
            .fixed_millis()
            .expect("the scan level has a fixed length");
        let mut connection = self.scan_connection().await?;
        let count = members.len();
        let mut sensors = Vec::new();
        let mut index = HashMap::with_capacity(count);
        let mut slots: Vec<Slot<'a>> = Vec::with_capacity(count);
        for member in members {
            if member.rule == Rule::TimeWeighted {
                sensors.push(member.channel.id);
            }
            index.insert(i64::from(member.channel.id), slots.len());
            slots.push(Slot {
                channel: member.channel,
                levels: member
                    .plans
                    .iter()
                    .map(|plan| {
                        (
                            Rollup::new(plan.level, plan.first_key, plan.end_key),
                            Writer::new(plan.level, member.rule, plan.replace),
                        )
                    })
                    .collect(),
                rows_read: 0,
            });
        }
        for (number, &(from, to)) in intervals.iter().enumerate() {
            // Only channels with rows in the interval take part in its queries.
            let mut first: Option<i64> = None;
            let mut active = Vec::new();
            for slot in &slots {
                if let Some(start) = self
                    .first_reading(&mut connection, slot.channel.id, from, to)
                    .await?
                {
                    first = Some(first.map_or(start, |first| first.min(start)));
                    active.push(slot.channel.id);
                }
            }
            let Some(first) = first else { continue };
            let plain_ids = id_list(active.iter().copied().filter(|id| !sensors.contains(id)));
            let sensor_ids = id_list(sensors.iter().copied().filter(|id| active.contains(id)));
            let mut chunks = Chunks::new(
                run.calendar.stretches(first, to),
                active.len(),
                f64::from(run.rows_per_query),
                length,
            );
            let mut pending = FuturesOrdered::new();
            let (mut issued, mut sparse) = (0_u32, 0_u32);
            loop {
                while pending.len() < jobs
                    && let Some(chunk) = chunks.next()
                {
                    // A table whose chunks keep coming out sparse (loaded channel by
                    // channel) is read through the index; every 8th chunk checks again.
                    issued += 1;
                    let probe = sparse < 2 || issued % 8 == 0;
                    let (plain_ids, sensor_ids) = (&plain_ids, &sensor_ids);
                    if jobs == 1 {
                        let rows = self
                            .read_chunk(
                                &mut connection,
                                chunk,
                                length,
                                plain_ids,
                                sensor_ids,
                                probe,
                            )
                            .await;
                        pending.push_back(
                            futures_util::future::ready(rows.map(|rows| (chunk, probe, rows)))
                                .boxed(),
                        );
                    } else {
                        pending.push_back(
                            async move {
                                let mut connection = self.scan_connection().await?;
                                let rows = self
                                    .read_chunk(
                                        &mut connection,
                                        chunk,
                                        length,
                                        plain_ids,
                                        sensor_ids,
                                        probe,
                                    )
                                    .await?;
                                Ok::<_, AggregateError>((chunk, probe, rows))
                            }
                            .boxed(),
                        );
                    }
                }
                let Some(result) = pending.next().await else {
                    break;
                };
                let (chunk, probed, (mut rows, dense)) = result?;
                if probed {
                    sparse = if dense { 0 } else { sparse + 1 };
                }
                rows.sort_unstable_by_key(|&(channel, key, _)| (channel, key));
                let mut read = 0_u64;
                for (channel, key, totals) in &rows {
                    let Some(&slot) = index.get(channel) else {
                        continue;
                    };
                    let slot = &mut slots[slot];
                    let count = u64::try_from(totals.count).unwrap_or(0);
                    slot.rows_read += count;
                    read += count;
                    for (rollup, _) in &mut slot.levels {
                        rollup.add(&run.calendar, fine, *key, totals);
                    }
                }
                chunks.observed(chunk, read);
                let mut waiting = 0;
                for slot in &mut slots {
                    for (rollup, writer) in &mut slot.levels {
                        rollup.finish_before(chunk.to, &mut writer.finished);
                        waiting += writer.finished.len();
                    }
                }
                if waiting >= ROWS_PER_WRITE {
                    self.flush_slots(&mut connection, &mut slots, false).await?;
                }
                let done = (chunk.to - first) as f64 / (to - first).max(1) as f64;
                progress(Progress::Scanning {
                    channels: count,
                    fraction: (number as f64 + done) / intervals.len() as f64,
                });
            }
        }
        for slot in &mut slots {
            for (rollup, writer) in &mut slot.levels {
                rollup.finish_all(&mut writer.finished);
            }
        }
        self.flush_slots(&mut connection, &mut slots, true).await?;
        Ok(slots
            .into_iter()
            .map(|slot| {
                let report = ChannelReport {
                    skipped: false,
                    rows_read: slot.rows_read,
                    written: slot
                        .levels
                        .iter()
                        .map(|(rollup, writer)| (rollup.level, writer.written))
                        .collect(),
                };
                (slot.channel, report)
            })
            .collect())
    }

    /// Reads the per-channel period totals of one chunk: `plain` and `sensors` are the ids
    /// of the channels of each kind (comma-separated, either may be empty). On SQLite,
    /// `probe` asks for the rowid span first; without it (or when the span is sparse) the
    /// rows are read through the primary key index. Returns the totals and whether they were
    /// read in storage order.
    async fn read_chunk(
        &self,
        connection: &mut AnyConnection,
        chunk: Chunk,
        length: i64,
        plain: &str,
        sensors: &str,
        probe: bool,
    ) -> Result<(ChunkTotals, bool), AggregateError> {
        let dialect = self.dialect;
        let grouping = Grouping::of(chunk, length);
        // SQLite: read in storage order within the rowid span of the chunk's rows when the
        // span is dense.
        let span = match dialect.batch_scan() {
            BatchScan::RowidSpans if probe => {
                let all = match (plain.is_empty(), sensors.is_empty()) {
                    (false, false) => format!("{plain},{sensors}"),
                    (true, _) => sensors.to_owned(),
                    (false, true) => plain.to_owned(),
                };
                let (first, last, count): (Option<i64>, Option<i64>, i64) =
                    sqlx::query_as(dialect.rowid_span(&all))
                        .bind(chunk.from)
                        .bind(chunk.to)
                        .fetch_one(&mut *connection)
                        .await?;
                let (Some(first), Some(last)) = (first, last) else {
                    return Ok((Vec::new(), true));
                };
                (last - first < DENSE_SPAN_FACTOR.saturating_mul(count)).then_some((first, last))
            }
            BatchScan::RowidSpans | BatchScan::Planner | BatchScan::PerChannel => None,
        };
        let mut totals = Vec::new();
        for (ids, sensor) in [(plain, false), (sensors, true)] {
            if ids.is_empty() {
                continue;
            }
            let sql = dialect.batch_totals(chunk.offset_ms, length, ids, sensor, span.is_some());
            let mut query = sqlx::query(sql)
                .bind(grouping.keys)
                .bind(grouping.first_key);
            if let Some((first, last)) = span {
                query = query.bind(first).bind(last);
            }
            let rows = query
                .bind(chunk.from)
                .bind(chunk.to)
                .fetch_all(&mut *connection)
                .await?;
            for row in &rows {
                totals.push(channel_totals(row, length, grouping)?);
            }
        }
        Ok((totals, span.is_some()))
    }

    /// Writes the slots' finished buckets in transactions of at most [`ROWS_PER_WRITE`]
    /// rows; `last` also deletes what is left of each level's replaced range.
    async fn flush_slots(
        &self,
        connection: &mut AnyConnection,
        slots: &mut [Slot<'_>],
        last: bool,
    ) -> Result<(), AggregateError> {
        // Writers in order: (slot, level).
        let positions: Vec<(usize, usize)> = slots
            .iter()
            .enumerate()
            .flat_map(|(slot, s)| (0..s.levels.len()).map(move |level| (slot, level)))
            .collect();
        let mut positions = positions.into_iter();
        let mut current = positions.next();
        let mut shares: Vec<(i32, Share)> = Vec::new();
        let mut rows = 0;
        while let Some((slot, level)) = current {
            let room = ROWS_PER_WRITE - rows;
            let full = room == 0 || shares.len() >= SHARES_PER_WRITE;
            let share = if full {
                None
            } else {
                slots[slot].levels[level].1.take(room, last)
            };
            match share {
                Some(share) => {
                    rows += share.rows();
                    shares.push((slots[slot].channel.id, share));
                }
                None if full => {
                    write(self, connection, &shares).await?;
                    shares.clear();
                    rows = 0;
                }
                None => current = positions.next(),
            }
        }
        if !shares.is_empty() {
            write(self, connection, &shares).await?;
        }
        Ok(())
    }
}

impl Aggregation {
    /// The level SQL groups by: the finest requested one, or day if that is month or year.
    pub(super) fn scan_level(&self) -> Level {
        match self.levels[0] {
            Level::Month | Level::Year => Level::Day,
            finest => finest,
        }
    }
}

/// Splits members into groups that share their scan intervals (at most
/// [`MAX_GROUP_CHANNELS`] each) and the channels that are alone with theirs.
#[allow(clippy::type_complexity)]
fn group(members: Vec<Member<'_>>) -> (Vec<(Vec<(i64, i64)>, Vec<Member<'_>>)>, Vec<Member<'_>>) {
    let mut by_intervals: BTreeMap<Vec<(i64, i64)>, Vec<Member<'_>>> = BTreeMap::new();
    for member in members {
        let intervals = union(member.plans.iter().map(|plan| plan.scan));
        by_intervals.entry(intervals).or_default().push(member);
    }
    let mut groups = Vec::new();
    let mut singles = Vec::new();
    for (intervals, mut members) in by_intervals {
        if members.len() == 1 {
            singles.append(&mut members);
            continue;
        }
        while !members.is_empty() {
            let rest = members.split_off(members.len().min(MAX_GROUP_CHANNELS));
            groups.push((intervals.clone(), members));
            members = rest;
        }
    }
    (groups, singles)
}

/// `1,2,3`: channel ids for an `IN (…)` list.
fn id_list(ids: impl Iterator<Item = i32>) -> String {
    ids.map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}

/// The chunks of a multi-channel scan, stretch by stretch, each sized from the rows per
/// millisecond seen so far to hold about the run's rows per query.
struct Chunks {
    /// The stretches still to cover, in order.
    stretches: std::vec::IntoIter<Stretch>,
    /// The stretch being covered.
    current: Option<Stretch>,
    /// Where the next chunk starts.
    position: i64,
    /// Length of the next chunk, ms.
    span: i64,
    /// Rows a chunk aims at.
    target: f64,
    /// The longest chunk: [`MAX_KEYS_PER_CHUNK`] periods, so that group numbers
    /// ([`Grouping`]) of channel ids up to 2³¹ fit in 62 bits.
    max_span: i64,
}

impl Chunks {
    /// Chunks over `stretches` for `channels` channels; the first chunk assumes one reading
    /// per second and channel, later ones follow the rows actually found.
    fn new(stretches: Vec<Stretch>, channels: usize, target: f64, length: i64) -> Chunks {
        let mut stretches = stretches.into_iter();
        let current = stretches.next();
        let rows_per_ms = channels as f64 / 1000.0;
        Chunks {
            position: current.map_or(0, |stretch| stretch.from),
            current,
            stretches,
            span: span_for(target, rows_per_ms),
            target,
            max_span: length.saturating_mul(MAX_KEYS_PER_CHUNK),
        }
    }

    /// Adapts the span to `rows` found in `chunk`: at most 8 times longer than the chunk or
    /// the span before (a stretch's short last chunk says little).
    fn observed(&mut self, chunk: Chunk, rows: u64) {
        let length = (chunk.to - chunk.from).max(1);
        let rows_per_ms = rows.max(1) as f64 / length as f64;
        self.span = span_for(self.target, rows_per_ms).min(length.max(self.span).saturating_mul(8));
    }
}

impl Iterator for Chunks {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        loop {
            let stretch = self.current?;
            if self.position < stretch.to {
                let span = self.span.min(self.max_span);
                let to = self.position.saturating_add(span).min(stretch.to);
                let chunk = Chunk {
                    from: self.position,
                    to,
                    offset_ms: stretch.offset_ms,
                };
                self.position = to;
                return Some(chunk);
            }
            self.current = self.stretches.next();
            if let Some(next) = self.current {
                self.position = next.from;
            }
        }
    }
}

/// The span that holds `target` rows at `rows_per_ms`; at least one second.
fn span_for(target: f64, rows_per_ms: f64) -> i64 {
    let span = target / rows_per_ms.max(f64::MIN_POSITIVE);
    if span >= i64::MAX as f64 {
        i64::MAX
    } else {
        (span as i64).max(1000)
    }
}

/// How [`Dialect::batch_totals`](crate::db::dialect::Dialect::batch_totals) numbers the
/// groups of a chunk: `channel_id × keys + (biased key − first_key)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Grouping {
    /// More than the number of periods the chunk touches.
    keys: i64,
    /// The biased key of the chunk's first instant.
    first_key: i64,
}

impl Grouping {
    fn of(chunk: Chunk, length: i64) -> Grouping {
        let shift = chunk.offset_ms + KEY_BIAS_MS;
        let first_key = (chunk.from + shift).div_euclid(length);
        let last_key = (chunk.to - 1 + shift).div_euclid(length);
        Grouping {
            keys: last_key - first_key + 1,
            first_key,
        }
    }

    /// The channel id and (unbiased) key of group number `group`.
    fn split(self, group: i64, length: i64) -> (i64, i64) {
        let channel = group.div_euclid(self.keys);
        let key = group.rem_euclid(self.keys) + self.first_key - KEY_BIAS_MS / length;
        (channel, key)
    }
}

/// One row of [`Dialect::batch_totals`](crate::db::dialect::Dialect::batch_totals).
fn channel_totals(
    row: &AnyRow,
    length: i64,
    grouping: Grouping,
) -> Result<(i64, i64, Totals), sqlx::Error> {
    let (channel, key) = grouping.split(row.try_get(0)?, length);
    let covered = row.try_get::<Option<i64>, _>(6).or_else(|error| {
        optional_float(row, 6)
            .map_err(|_| error)
            .map(|v| v.map(|v| v as i64))
    })?;
    Ok((
        channel,
        key,
        Totals {
            last: row.try_get(1)?,
            count: row.try_get(2)?,
            sum: optional_float(row, 3)?.unwrap_or(0.0),
            max: optional_float(row, 4)?.unwrap_or(0.0),
            weighted: optional_float(row, 5)?,
            covered,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stretch(from: i64, to: i64) -> Stretch {
        Stretch {
            from,
            to,
            offset_ms: 0,
        }
    }

    #[test]
    fn chunks_cover_every_stretch_without_gaps() {
        let mut chunks = Chunks::new(vec![stretch(0, 10_000), stretch(10_000, 15_000)], 1, 5.0, 1);
        chunks.span = 4000;
        let spans: Vec<(i64, i64)> = chunks.by_ref().map(|c| (c.from, c.to)).collect();
        assert_eq!(
            spans,
            [
                (0, 4000),
                (4000, 8000),
                (8000, 10_000),
                (10_000, 14_000),
                (14_000, 15_000)
            ]
        );
    }

    #[test]
    fn chunk_spans_follow_the_rows_found() {
        let mut chunks = Chunks::new(vec![stretch(0, i64::MAX)], 100, 500_000.0, 1000);
        // One row per second and channel: the target in one chunk.
        assert_eq!(chunks.span, 5_000_000);
        let chunk = chunks.next().unwrap();
        // Ten times denser than assumed: a tenth of the span.
        chunks.observed(chunk, 5_000_000);
        assert_eq!(chunks.span, 500_000);
        // Nothing found: at most 8 times longer.
        let chunk = chunks.next().unwrap();
        chunks.observed(chunk, 0);
        assert_eq!(chunks.span, 4_000_000);
        // A stretch's 10 ms tail (counted as one row) is not bounded to 80 ms.
        chunks.observed(
            Chunk {
                from: 0,
                to: 10,
                offset_ms: 0,
            },
            0,
        );
        assert_eq!(chunks.span, 5_000_000);
    }

    #[test]
    fn group_numbers_split_into_channel_and_key() {
        const HOUR: i64 = 3_600_000;
        // 10:30 to 13:10 UTC+1 touches the local hours 11, 12, 13 and 14 of day 0.
        let chunk = Chunk {
            from: 10 * HOUR + HOUR / 2,
            to: 13 * HOUR + HOUR / 6,
            offset_ms: HOUR,
        };
        let grouping = Grouping::of(chunk, HOUR);
        assert_eq!(grouping.keys, 4);
        assert_eq!(
            grouping.first_key,
            (11 * HOUR + HOUR / 2 + KEY_BIAS_MS) / HOUR
        );
        // What SQL computes for channel 7 at 12:59:59 UTC (13:59:59 local).
        let sql_key = (13 * HOUR - 1 + HOUR + KEY_BIAS_MS) / HOUR;
        let group = 7 * grouping.keys + (sql_key - grouping.first_key);
        assert_eq!(grouping.split(group, HOUR), (7, 13));
    }

    #[test]
    fn chunks_hold_at_most_max_keys_periods() {
        let mut chunks = Chunks::new(vec![stretch(0, i64::MAX)], 1, 1e30, 1000);
        let chunk = chunks.next().unwrap();
        assert_eq!(chunk.to - chunk.from, 1000 * MAX_KEYS_PER_CHUNK);
    }

    #[test]
    fn id_lists_are_comma_separated() {
        assert_eq!(id_list([3, 17, 4].into_iter()), "3,17,4");
        assert_eq!(id_list(std::iter::empty()), "");
    }
}
