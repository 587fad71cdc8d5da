//! `vz-aggregate`: fill, clear, rebuild and optimize the aggregate table (tools-and-schema
//! §2, product decision 10).
//!
//! Every command takes the run lock first, so a second run (say, cron starting while the
//! previous one still works) stops at once with a message naming the holder. The
//! aggregation itself lives in middleware ([`Db::aggregate_channel`]); this module picks the
//! channels, reports progress and sums up.

mod args;

use std::time::Instant as Clock;

use jiff::tz::TimeZone;
use middleware::{AggregateError, Aggregation, ClearFilter, Db, Entity, Level, Mode, Progress};
use push_core::config::Config;

pub use self::args::{
    ClearArgs, ClearLevel, Command, DEFAULT_JOBS, OptimizeArgs, RebuildArgs, RunArgs, RunMode,
    TimeArgs, parse_since, zone_name,
};
use crate::database::{DatabaseArgs, DatabaseArgsError};
use crate::output::OutputArgs;

/// Why a `vz-aggregate` command failed.
#[derive(Debug, thiserror::Error)]
pub enum AggregateCommandError {
    /// The options do not make sense together, or a value is invalid.
    #[error("{0}")]
    Usage(String),
    /// A UUID given on the command line names no channel.
    #[error("no channel with uuid {0}")]
    UnknownChannel(String),
    /// A UUID given on the command line names a group, which has no data of its own.
    #[error("{0} is a group, not a channel; groups have no data to aggregate")]
    Group(String),
    /// Aggregating one channel failed; the run stopped there.
    #[error("channel {uuid} ({kind}): {source}")]
    Channel {
        /// The channel's UUID.
        uuid: String,
        /// Its type.
        kind: String,
        /// What went wrong.
        source: AggregateError,
    },
    /// Aggregating channels that were scanned together failed; the run stopped there.
    #[error("{count} channels scanned together (from {first}): {source}")]
    Channels {
        /// How many channels the scan covered.
        count: usize,
        /// The UUID of the first of them.
        first: String,
        /// What went wrong.
        source: AggregateError,
    },
    /// Some channels could not be aggregated (each was reported); the others were.
    #[error("{failed} of {total} channels could not be aggregated")]
    ChannelsFailed {
        /// How many failed.
        failed: usize,
        /// How many were tried.
        total: usize,
    },
    /// Locking, clearing or optimizing failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// Reading the channels failed.
    #[error(transparent)]
    Database(#[from] middleware::Error),
}

/// Everything a command needs besides its own options.
#[derive(Debug, Clone)]
pub struct Context {
    /// The zone whose local calendar defines the periods.
    pub time_zone: TimeZone,
    /// "Now", Unix ms.
    pub now_ms: i64,
    /// Quiet or verbose.
    pub output: OutputArgs,
}

/// Connects for aggregation: `--db` or `DATABASE_URL` if given, else the config's `db:`
/// section with `db.admin` merged over it (volkszaehler's aggregate uses the admin
/// credentials, tools-and-schema §1.7), else the embedded default.
///
/// # Errors
/// When the config is incomplete or connecting fails.
pub async fn connect(
    database: &DatabaseArgs,
    config: Option<&Config>,
) -> Result<Db, DatabaseArgsError> {
    let admin = match (&database.url, config.and_then(|c| c.db.as_ref())) {
        (None, Some(db)) => {
            Some(
                db.with_admin()
                    .url()
                    .map_err(|source| DatabaseArgsError::Config {
                        path: database.config.clone().unwrap_or_default(),
                        source,
                    })?,
            )
        }
        _ => None,
    };
    let Some(url) = admin else {
        return database.connect().await;
    };
    crate::database::open(&url, crate::database::Access::Existing).await
}

/// Runs one command under the run lock.
///
/// # Errors
/// See [`AggregateCommandError`]; [`AggregateError::Locked`] (inside
/// [`AggregateCommandError::Aggregate`]) when another run holds the lock.
pub async fn execute(
    db: &Db,
    command: Command,
    context: &Context,
) -> Result<(), AggregateCommandError> {
    let lock = db.lock_aggregation().await?;
    let result = match command {
        Command::Run(args) => run(db, &args, context).await,
        Command::Clear(args) => clear(db, &args, context).await,
        Command::Rebuild(args) => rebuild(db, &args, context).await,
        Command::Optimize(args) => optimize(db, &args, context).await,
    };
    let released = lock.release().await;
    result?;
    Ok(released?)
}

/// `run`: aggregate the chosen channels.
async fn run(db: &Db, args: &RunArgs, context: &Context) -> Result<(), AggregateCommandError> {
    let mode = match (args.mode, args.periods) {
        (RunMode::Delta, Some(_)) => {
            return Err(AggregateCommandError::Usage(
                "--periods needs --mode full (delta mode continues after the newest aggregate)"
                    .to_owned(),
            ));
        }
        (RunMode::Delta, None) => Mode::Delta,
        (RunMode::Full, None) => Mode::Full,
        (RunMode::Full, Some(periods)) => Mode::Periods(periods),
    };
    let aggregation = aggregation(&args.levels, mode, context)?;
    let channels = select_channels(db, &args.uuids).await?;
    aggregate(
        db,
        &channels,
        &aggregation,
        context,
        usize::from(args.jobs),
        "aggregated",
    )
    .await
}

/// `rebuild`: a full aggregation of every channel that also drops other levels.
async fn rebuild(
    db: &Db,
    args: &RebuildArgs,
    context: &Context,
) -> Result<(), AggregateCommandError> {
    let aggregation = aggregation(&args.levels, Mode::Rebuild, context)?;
    let channels = select_channels(db, &[]).await?;
    aggregate(
        db,
        &channels,
        &aggregation,
        context,
        usize::from(args.jobs),
        "rebuilt",
    )
    .await
}

/// The run description, with day as the default level.
fn aggregation(
    levels: &[Level],
    mode: Mode,
    context: &Context,
) -> Result<Aggregation, AggregateCommandError> {
    let levels = if levels.is_empty() {
        &[Level::Day][..]
    } else {
        levels
    };
    Aggregation::new(levels, mode, context.time_zone.clone(), context.now_ms).map_err(|error| {
        AggregateCommandError::Usage(match error {
            AggregateError::Unsupported(reason) => reason,
            other => other.to_string(),
        })
    })
}

/// Aggregates `channels`, `jobs` at a time, with a progress bar, then prints the summary.
///
/// A channel of unknown type is reported and skipped; a database failure stops the run,
/// naming the channel.
async fn aggregate(
    db: &Db,
    channels: &[Entity],
    aggregation: &Aggregation,
    context: &Context,
    jobs: usize,
    verb: &str,
) -> Result<(), AggregateCommandError> {
    warn_about_session_zone(db, aggregation, context).await?;
    let started = Clock::now();
    let output = &context.output;
    let bar = output.progress(channels.len() as u64, "aggregating");
    let mut totals = Totals::new(aggregation.levels());
    let mut failed = 0;
    // Channels finished so far; a multi-channel scan moves the bar by its fraction of them.
    let mut finished = 0_u64;
    let outcome = db
        .aggregate_channels(channels, aggregation, jobs, |event| match event {
            Progress::Scanning { channels, fraction } => {
                bar.set_message(format!("{channels} channels together"));
                bar.set_position(finished + (channels as f64 * fraction) as u64);
            }
            Progress::Channel { channel, result } => {
                finished += 1;
                bar.set_position(finished);
                match result {
                    Ok(report) if report.skipped => output.detail(
                        &bar,
                        format!(
                            "{} ({}): skipped, no data of its own",
                            channel.uuid, channel.kind
                        ),
                    ),
                    Ok(report) => {
                        output.detail(
                            &bar,
                            format!(
                                "{} ({}): {} rows read, {}",
                                channel.uuid,
                                channel.kind,
                                report.rows_read,
                                per_level(&report.written)
                            ),
                        );
                        totals.add(&report);
                    }
                    Err(error) => {
                        failed += 1;
                        let reason = match error {
                            AggregateError::UnknownType { .. } => "unknown channel type".to_owned(),
                            other => other.to_string(),
                        };
                        bar.suspend(|| {
                            eprintln!(
                                "vz-aggregate: channel {} ({}): {reason}; skipped",
                                channel.uuid, channel.kind
                            );
                        });
                    }
                }
            }
        })
        .await;
    if let Err(failure) = outcome {
        bar.finish_and_clear();
        return Err(match failure.channels.as_slice() {
            [channel] => AggregateCommandError::Channel {
                uuid: channel.uuid.clone(),
                kind: channel.kind.clone(),
                source: failure.error,
            },
            scanned => AggregateCommandError::Channels {
                count: scanned.len(),
                first: scanned.first().map(|c| c.uuid.clone()).unwrap_or_default(),
                source: failure.error,
            },
        });
    }
    bar.finish_and_clear();
    output.summary(format!(
        "{verb} {} channels at {} ({}, {}): {} periods written ({}), {} raw rows read in {:.2} s",
        totals.channels,
        level_names(aggregation.levels()),
        aggregation.mode().describe(),
        zone_name(aggregation.time_zone()),
        totals.periods(),
        per_level(&totals.written),
        totals.rows_read,
        started.elapsed().as_secs_f64(),
    ));
    if failed > 0 {
        return Err(AggregateCommandError::ChannelsFailed {
            failed,
            total: channels.len(),
        });
    }
    Ok(())
}

/// Warns (unless quiet) when the MySQL session zone differs from the aggregation zone now:
/// the PHP middleware would then read the aggregates with other period boundaries.
async fn warn_about_session_zone(
    db: &Db,
    aggregation: &Aggregation,
    context: &Context,
) -> Result<(), AggregateCommandError> {
    if context.output.quiet {
        return Ok(());
    }
    let Some(session) = db.session_utc_offset().await? else {
        return Ok(());
    };
    // MySQL's NOW() is the real time, whatever --now says.
    let ours = aggregation.time_zone().to_offset(jiff::Timestamp::now());
    if ours.seconds() != session {
        eprintln!(
            "vz-aggregate: warning: the MySQL session time zone is at {} now, but periods are \
             computed in {} ({}); volkszaehler reads aggregates in the session time zone, so \
             choose the server's zone with --timezone or the config's `timezone`",
            utc_offset(session),
            zone_name(aggregation.time_zone()),
            utc_offset(ours.seconds()),
        );
    }
    Ok(())
}

/// `UTC+02:00`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Sums over channels, for the summary line.
struct Totals {
    /// Channels aggregated (not skipped).
    channels: usize,
    /// Raw rows read.
    rows_read: u64,
    /// Rows written per level.
    written: Vec<(Level, u64)>,
}

impl Totals {
    fn new(levels: &[Level]) -> Totals {
        Totals {
            channels: 0,
            rows_read: 0,
            written: levels.iter().map(|&level| (level, 0)).collect(),
        }
    }

    fn add(&mut self, report: &middleware::ChannelReport) {
        self.channels += 1;
        self.rows_read += report.rows_read;
        for ((_, total), (_, rows)) in self.written.iter_mut().zip(&report.written) {
            *total += rows;
        }
    }

    fn periods(&self) -> u64 {
        self.written.iter().map(|(_, rows)| rows).sum()
    }
}

/// `hour 28, day 2`.
fn per_level(written: &[(Level, u64)]) -> String {
    written
        .iter()
        .map(|(level, rows)| format!("{level} {rows}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `hour, day`.
fn level_names(levels: &[Level]) -> String {
    levels
        .iter()
        .map(|level| level.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The channels to work on: those named by `uuids` (in that order), or every channel.
async fn select_channels(db: &Db, uuids: &[String]) -> Result<Vec<Entity>, AggregateCommandError> {
    let entities = db.entities().await?;
    if uuids.is_empty() {
        return Ok(entities.into_iter().filter(|e| !e.is_group()).collect());
    }
    uuids
        .iter()
        .map(|uuid| {
            let wanted = uuid.trim().to_ascii_lowercase();
            match entities
                .iter()
                .find(|e| e.uuid.eq_ignore_ascii_case(&wanted))
            {
                None => Err(AggregateCommandError::UnknownChannel(uuid.clone())),
                Some(entity) if entity.is_group() => {
                    Err(AggregateCommandError::Group(uuid.clone()))
                }
                Some(entity) => Ok(entity.clone()),
            }
        })
        .collect()
}

/// `clear`: remove aggregate rows by channel, level and time.
async fn clear(db: &Db, args: &ClearArgs, context: &Context) -> Result<(), AggregateCommandError> {
    let since = args
        .since
        .as_deref()
        .map(|text| parse_since(text, &context.time_zone))
        .transpose()
        .map_err(AggregateCommandError::Usage)?;
    let levels = if args.levels.is_empty() || args.levels.contains(&ClearLevel::All) {
        None
    } else {
        Some(
            args.levels
                .iter()
                .filter_map(|level| match level {
                    ClearLevel::Level(level) => Some(*level),
                    ClearLevel::All => None,
                })
                .collect(),
        )
    };
    let channels = if args.uuids.is_empty() {
        None
    } else {
        Some(
            select_channels(db, &args.uuids)
                .await?
                .iter()
                .map(|channel| channel.id)
                .collect(),
        )
    };
    let filter = ClearFilter {
        channels,
        levels,
        since,
    };
    let started = Clock::now();
    let removed = db.clear_aggregates(&filter).await?;
    context.output.summary(match removed {
        None => format!(
            "emptied the aggregate table in {:.2} s",
            started.elapsed().as_secs_f64()
        ),
        Some(rows) => format!(
            "removed {rows} aggregate rows in {:.2} s",
            started.elapsed().as_secs_f64()
        ),
    });
    Ok(())
}

/// `optimize`: the backend's table maintenance for `aggregate` (and `data`).
async fn optimize(
    db: &Db,
    args: &OptimizeArgs,
    context: &Context,
) -> Result<(), AggregateCommandError> {
    let started = Clock::now();
    let statements = db.optimize_aggregates(args.data).await?;
    context.output.summary(format!(
        "optimized in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        statements.join("; ")
    ));
    Ok(())
}
