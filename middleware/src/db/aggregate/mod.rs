//! Aggregation: materialising per-period summaries of raw readings in the `aggregate` table,
//! which the PHP middleware's MySQL reader uses for complete periods (tools-and-schema §2).
//!
//! Compared with volkszaehler's `bin/aggregate` (product decision 10):
//! - one row per channel, level and period, always: re-aggregating a period deletes the
//!   rows of the re-aggregated range before inserting, in the same short transaction;
//! - the first sensor bucket is weighted over its own rows, not from the epoch;
//! - periods follow the local calendar of one configured time zone, computed in Rust
//!   (`calendar`), so every backend buckets identically, across DST changes;
//! - `data` is read with plain (non-locking) range queries in chunks of bounded size, and
//!   every requested level is built from that one scan; on SQLite and PostgreSQL channels
//!   that need the same time range are read together, because vzlogger interleaves them on
//!   disk (`batch`);
//! - a run lock ([`AggregationLock`]) keeps a second run from starting.
//!
//! # Layout
//! - `level`: [`Level`] and the frozen `aggregate.type` ids;
//! - `calendar`: period keys, boundaries and constant-offset stretches of a time zone;
//! - `bucket`: period totals and how they roll up into the buckets of each level;
//! - `run`: [`Db::aggregate_channel`](crate::Db::aggregate_channel): what each level
//!   (re)writes, and the chunked scan of one channel;
//! - `batch`: [`Db::aggregate_channels`](crate::Db::aggregate_channels): grouping channels
//!   by the ranges they need, and the scan of many channels in time chunks;
//! - `write`: replacing buckets in short transactions, for one or many channels;
//! - `maintenance`: clearing, optimizing and reading the table;
//! - `lock`: the run lock.

mod batch;
mod bucket;
mod calendar;
mod level;
mod lock;
mod maintenance;
mod run;
mod write;

use jiff::tz::TimeZone;

pub use self::batch::{AggregateFailure, Progress};
use self::calendar::Calendar;
pub(crate) use self::calendar::KEY_BIAS_MS;
pub use self::level::{Level, UnknownLevel};
pub use self::lock::AggregationLock;
pub use self::maintenance::{AggregateRow, ClearFilter};

/// Raw rows one scan query aims at: enough that per-query overhead vanishes, few enough
/// that a query ends quickly (a long read on a SQLite database without WAL would hold off
/// vzlogger's inserts) and that SQLite's sorts stay in memory.
const DEFAULT_ROWS_PER_QUERY: u32 = 500_000;

/// Which periods a run (re)writes, for each level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The periods after the one holding the channel's newest aggregate row of the level, up
    /// to the current period (excluded). Data added later to an aggregated period is not
    /// picked up; use [`Mode::Periods`] for that.
    Delta,
    /// Every period before the current one; existing rows of the level before the current
    /// period are replaced.
    Full,
    /// The last `n` periods before the current one; their rows are replaced.
    Periods(u32),
    /// As [`Mode::Full`], and every aggregate row of the channel in another level or in the
    /// current period or later is removed: the channel's rows end up exactly as a fresh
    /// full run into an empty table would write them (volkszaehler's `rebuild`).
    Rebuild,
}

impl Mode {
    /// A short name for messages: `delta`, `full`, `full (N periods)`, `rebuild`.
    pub fn describe(self) -> String {
        match self {
            Mode::Delta => "delta".to_owned(),
            Mode::Full => "full".to_owned(),
            Mode::Periods(n) => format!("full ({n} periods)"),
            Mode::Rebuild => "rebuild".to_owned(),
        }
    }
}

/// What one run does to every channel: levels, mode, time zone and the pinned "now".
#[derive(Clone, Debug)]
pub struct Aggregation {
    /// Distinct aggregatable levels, finest first.
    levels: Vec<Level>,
    /// Which periods are (re)written.
    mode: Mode,
    /// The zone whose local calendar defines the periods.
    time_zone: TimeZone,
    /// Its period arithmetic.
    calendar: Calendar,
    /// "Now" in Unix ms: the period holding it is incomplete and never written.
    now_ms: i64,
    /// Raw rows a multi-channel scan query aims at.
    rows_per_query: u32,
}

impl Aggregation {
    /// A run over `levels` (repeats are ignored) in `mode`, with periods of `time_zone`'s
    /// local calendar and `now_ms` as the current time.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Unsupported`] if no level is given or one is [`Level::Week`].
    pub fn new(
        levels: &[Level],
        mode: Mode,
        time_zone: TimeZone,
        now_ms: i64,
    ) -> Result<Aggregation, AggregateError> {
        if let Some(level) = levels.iter().find(|level| !level.is_aggregatable()) {
            return Err(AggregateError::Unsupported(format!(
                "unsupported aggregation level {level}"
            )));
        }
        let mut levels = levels.to_vec();
        levels.sort();
        levels.dedup();
        if levels.is_empty() {
            return Err(AggregateError::Unsupported(
                "no aggregation level given".to_owned(),
            ));
        }
        Ok(Aggregation {
            levels,
            mode,
            calendar: Calendar::new(time_zone.clone()),
            time_zone,
            now_ms,
            rows_per_query: DEFAULT_ROWS_PER_QUERY,
        })
    }

    /// Sets how many raw rows one query of a multi-channel scan aims at (default 500,000):
    /// fewer make shorter queries, and more of them. The rows written do not change.
    pub fn with_rows_per_query(mut self, rows: u32) -> Aggregation {
        self.rows_per_query = rows.max(1);
        self
    }

    /// The levels, finest first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The time zone of the periods.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The pinned current time, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The first instant of the current (incomplete) period of `level`, which a run never
    /// writes; Unix ms.
    pub fn current_period_start(&self, level: Level) -> i64 {
        let key = self.calendar.key(level, self.now_ms);
        self.calendar.start(level, key)
    }
}

/// What aggregating one channel did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelReport {
    /// True if the channel has no data to aggregate by its type (virtual channels); nothing
    /// was read or written then.
    pub skipped: bool,
    /// Raw rows read from `data`.
    pub rows_read: u64,
    /// Aggregate rows written per level, finest first.
    pub written: Vec<(Level, u64)>,
}

impl ChannelReport {
    /// The rows written over all levels.
    pub fn periods_written(&self) -> u64 {
        self.written.iter().map(|(_, rows)| rows).sum()
    }
}

/// Why an aggregation step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// Another aggregation run holds the run lock.
    #[error("another aggregation run is in progress ({holder}); not starting a second one")]
    Locked {
        /// Who holds the lock, as far as the backend tells.
        holder: String,
    },

    /// The channel's type is not one of the volkszaehler definitions, so it is unknown how
    /// to aggregate it.
    #[error("unknown channel type {kind:?}; cannot tell how to aggregate it")]
    UnknownType {
        /// `entities.type`.
        kind: String,
    },

    /// The request cannot be carried out (e.g. the week level).
    #[error("{0}")]
    Unsupported(String),

    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::Error),
}

impl From<sqlx::Error> for AggregateError {
    fn from(error: sqlx::Error) -> AggregateError {
        AggregateError::Db(crate::Error::Database(error))
    }
}
