//! `vz-compress`: thins out old readings window by window, as vzcompress2 did, but safely
//! (tools-and-schema §3, decision 11).
//!
//! For every channel (groups have no readings; channels without a title are included) the
//! channel's [`Scheme`] gives tiers of age → window. [`plan::regions`] turns them into ranges of
//! aligned, complete windows; each range is merged in batches of windows, one transaction per
//! batch ([`Db::merge_windows`]), sized to about [`TARGET_READINGS`] readings. Stopping the
//! process at any moment therefore leaves every window merged or untouched, and a rerun
//! continues where it stopped.
//!
//! The merged value is the interpreter's: impulses add up (SUM), meter readings take the MAX,
//! sensors the plain AVG. The merged reading keeps the window's newest timestamp.

pub mod plan;
pub mod scheme;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt as _;
use middleware::{Db, Entity, MergeFunction, MergeOutcome, WindowRun};

use self::plan::Region;
use self::scheme::{Scheme, Schemes, format_duration};
use crate::instant::Instant;
use crate::output::OutputArgs;

/// The readings one batch (one transaction) should hold: large enough that per-statement
/// overhead does not matter, small enough that a transaction stays short.
pub const TARGET_READINGS: u64 = 50_000;

/// The most windows one batch covers (when the data is sparse).
const MAX_BATCH_WINDOWS: i64 = 1_000_000;

/// The `vz-compress` options besides database and output.
#[derive(Debug, Clone, Default, Args)]
pub struct CompressArgs {
    /// Only compress these channels (UUIDs); default: every channel.
    #[arg(long = "channel", value_name = "UUID", num_args = 1..)]
    pub channels: Vec<String>,
    /// Report what would be merged, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The current time the ages are measured from: RFC 3339 or Unix milliseconds.
    #[arg(long, value_name = "TIME")]
    pub now: Option<Instant>,
    /// A YAML file with the schemes (`default:` and `channels:`, or a `compress:` section);
    /// default: the `compress:` section of --config, else vzcompress2's scheme.
    #[arg(long, value_name = "FILE")]
    pub scheme: Option<PathBuf>,
    /// Compress this many channels at once, each on a connection of its own, so a MySQL or
    /// PostgreSQL server uses that many cores (on SQLite, which has one writer at a time,
    /// always 1).
    #[arg(short, long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Merge exactly this many windows per transaction instead of adapting the batch size
    /// (for tests).
    #[arg(long, value_name = "N", hide = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_windows: Option<i64>,
}

/// Why a compression run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressError {
    /// A `--channel` UUID names no entity.
    #[error("no channel with uuid {0}")]
    UnknownChannel(String),
    /// A `--channel` UUID names a group.
    #[error("{0} is a group, not a channel; groups have no readings")]
    NotAChannel(String),
    /// The database failed; batches committed before stay merged.
    #[error(transparent)]
    Database(#[from] middleware::Error),
}

/// What a run did (or, with `--dry-run`, would do).
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// Channels looked at.
    pub channels: usize,
    /// Channels with a type this version does not know, left alone (UUID and type).
    pub unknown_types: Vec<(String, String)>,
    /// Totals over every batch.
    pub outcome: MergeOutcome,
    /// Transactions (batches) run.
    pub batches: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Readings read per second.
    pub fn readings_per_second(&self) -> f64 {
        self.outcome.readings as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        let (merge, remove) = if self.dry_run {
            ("would merge", "would remove")
        } else {
            ("merged", "removed")
        };
        write!(
            f,
            "{}{merge} {} windows of {} channels, {remove} {} of {} readings",
            if self.dry_run { "dry run: " } else { "" },
            o.merged_windows,
            self.channels,
            o.removed,
            o.readings,
        )?;
        if !self.dry_run {
            write!(f, ", deleted {} aggregate rows", o.aggregate_rows_deleted)?;
        }
        write!(
            f,
            " in {:.1} s ({:.0} readings/s)",
            self.elapsed.as_secs_f64(),
            self.readings_per_second()
        )?;
        if self.dry_run {
            write!(f, "; nothing was changed")?;
        } else if o.aggregate_rows_deleted > 0 {
            write!(
                f,
                "; run `vz-aggregate run --mode full` to recompute the aggregates"
            )?;
        }
        Ok(())
    }
}

/// One channel's share of the run.
struct ChannelPlan<'a> {
    /// The channel.
    entity: &'a Entity,
    /// Its interpreter's merge function.
    function: MergeFunction,
    /// Its scheme.
    scheme: &'a Scheme,
    /// The ranges to merge, oldest first.
    regions: Vec<Region>,
    /// Readings per ms over the channel's old data, for sizing the first batch of a region.
    density: f64,
}

/// Compresses the channels `args` selects with their schemes.
///
/// # Errors
///
/// [`CompressError::UnknownChannel`] or [`CompressError::NotAChannel`] for a bad `--channel`
/// (before anything changes); [`CompressError::Database`] when a query fails.
pub async fn run(
    db: &Db,
    args: &CompressArgs,
    schemes: &Schemes,
    output: &OutputArgs,
) -> Result<Summary, CompressError> {
    let started = std::time::Instant::now();
    let now = args.now.unwrap_or_else(Instant::now).millis();
    let entities = db.entities().await?;
    let selected = select(&entities, &args.channels)?;

    let mut summary = Summary {
        dry_run: args.dry_run,
        channels: selected.len(),
        ..Summary::default()
    };
    let mut plans = Vec::new();
    let mut total = 0;
    for entity in selected {
        let Some(definition) = entity.definition() else {
            summary
                .unknown_types
                .push((entity.uuid.clone(), entity.kind.clone()));
            continue;
        };
        let Some(function) = MergeFunction::for_interpreter(definition.interpreter()) else {
            continue;
        };
        let scheme = schemes.for_channel(&entity.uuid);
        let Some(youngest) = scheme.tiers().first() else {
            continue;
        };
        let old_enough = now.saturating_sub(youngest.older_than).saturating_add(1);
        let Some(span) = db.reading_span(entity.id, i64::MIN, old_enough).await? else {
            continue;
        };
        let regions = plan::regions(scheme, now, span.first);
        if !regions.is_empty() {
            total += span.count;
            let span_ms = (span.last - span.first).max(1) as f64;
            plans.push(ChannelPlan {
                entity,
                function,
                scheme,
                regions,
                density: span.count as f64 / span_ms,
            });
        }
    }

    let bar = output.progress(total, "compress");
    let jobs = db.merge_jobs(usize::from(args.jobs));
    let pacer = Pacer::new(db);
    let mut results = futures_util::stream::iter(&plans)
        .map(|plan| compress_channel(db, plan, args, output, &bar, &pacer))
        .buffer_unordered(jobs);
    while let Some(result) = results.next().await {
        let (outcome, batches) = result?;
        summary.outcome += outcome;
        summary.batches += batches;
    }
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Merges every region of one channel, oldest first; returns the totals and the number of
/// batches.
async fn compress_channel(
    db: &Db,
    plan: &ChannelPlan<'_>,
    args: &CompressArgs,
    output: &OutputArgs,
    bar: &indicatif::ProgressBar,
    pacer: &Pacer,
) -> Result<(MergeOutcome, u64), CompressError> {
    bar.set_message(plan.entity.uuid.clone());
    let mut total = MergeOutcome::default();
    let mut batches = 0;
    for region in &plan.regions {
        let (outcome, count) = compress_region(db, plan, region, args, bar, pacer).await?;
        total += outcome;
        batches += count;
        if outcome.readings == 0 {
            continue;
        }
        let tier = plan.scheme.tiers()[region.tier];
        output.detail(
            bar,
            format_args!(
                "{} ({}): older than {}, window {}, {} – {}: {} {} windows, {} readings",
                plan.entity.uuid,
                plan.entity.title().unwrap_or("untitled"),
                format_duration(tier.older_than),
                format_duration(tier.window),
                time(region.from),
                time(region.to),
                if args.dry_run {
                    "would merge"
                } else {
                    "merged"
                },
                outcome.merged_windows,
                outcome.removed,
            ),
        );
    }
    Ok((total, batches))
}

/// Merges one region batch by batch; returns the totals and the number of batches.
async fn compress_region(
    db: &Db,
    plan: &ChannelPlan<'_>,
    region: &Region,
    args: &CompressArgs,
    bar: &indicatif::ProgressBar,
    pacer: &Pacer,
) -> Result<(MergeOutcome, u64), CompressError> {
    let mut total = MergeOutcome::default();
    let mut batches = 0;
    let mut windows = args
        .batch_windows
        .unwrap_or_else(|| first_batch(plan.density, region.window));
    let mut cursor = region.from;
    while cursor < region.to {
        let to = cursor
            .saturating_add(windows.saturating_mul(region.window))
            .min(region.to);
        let run = WindowRun {
            channel_id: plan.entity.id,
            from: cursor,
            to,
            window: region.window,
            function: plan.function,
        };
        let outcome = if args.dry_run {
            db.plan_merge(&run).await?
        } else {
            let outcome = db.merge_windows(&run).await?;
            pacer.after_write().await;
            outcome
        };
        batches += 1;
        bar.inc(outcome.readings);
        total += outcome;
        cursor = if outcome.readings == 0 {
            // A gap in the data: continue at the window of the next reading.
            match db.reading_span(plan.entity.id, to, region.to).await? {
                Some(span) => plan::floor(span.first, region.window),
                None => break,
            }
        } else {
            to
        };
        if args.batch_windows.is_none() {
            windows = next_batch(windows, outcome.readings);
        }
    }
    Ok((total, batches))
}

/// Leaves the database to other writers now and then: after every [`Db::WRITE_TURN`] of
/// merging, a pause of [`Db::writer_gap`] (SQLite only), so that vzlogger's inserts get in
/// between the merge transactions instead of timing out.
struct Pacer {
    /// The pause; `None` where other writers need none.
    gap: Option<Duration>,
    /// When the current turn of merging began.
    turn: std::sync::Mutex<std::time::Instant>,
}

impl Pacer {
    fn new(db: &Db) -> Pacer {
        Pacer {
            gap: db
                .writer_gap()
                .filter(|_| std::env::var_os("VZY").is_none()),
            turn: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Called after each merge transaction: pauses when the turn is over.
    async fn after_write(&self) {
        let Some(gap) = self.gap else {
            return;
        };
        let over = self
            .turn
            .lock()
            .map_or(true, |turn| turn.elapsed() >= Db::WRITE_TURN);
        if over {
            tokio::time::sleep(gap).await;
            if let Ok(mut turn) = self.turn.lock() {
                *turn = std::time::Instant::now();
            }
        }
    }
}

/// The number of windows for a region's first batch: about [`TARGET_READINGS`] readings at
/// the channel's average density (later batches adapt to the density they meet).
fn first_batch(density: f64, window: i64) -> i64 {
    let per_window = (density * window as f64).max(1.0);
    ((TARGET_READINGS as f64 / per_window) as i64).clamp(1, MAX_BATCH_WINDOWS)
}

/// The number of windows for the next batch, steering towards [`TARGET_READINGS`] per batch
/// and changing by at most a factor of 4 at a time.
fn next_batch(windows: i64, readings: u64) -> i64 {
    let target = i64::try_from(TARGET_READINGS).unwrap_or(i64::MAX);
    let readings = i64::try_from(readings).unwrap_or(i64::MAX);
    let wanted = if readings == 0 {
        windows.saturating_mul(4)
    } else {
        windows.saturating_mul(target) / readings
    };
    wanted
        .clamp(windows / 4, windows.saturating_mul(4))
        .clamp(1, MAX_BATCH_WINDOWS)
}

/// The channels to compress: the `--channel` ones, else every channel (not groups).
fn select<'a>(entities: &'a [Entity], uuids: &[String]) -> Result<Vec<&'a Entity>, CompressError> {
    if uuids.is_empty() {
        return Ok(entities.iter().filter(|e| !e.is_group()).collect());
    }
    let mut selected: Vec<&Entity> = Vec::new();
    for uuid in uuids {
        let entity = entities
            .iter()
            .find(|e| e.uuid.eq_ignore_ascii_case(uuid.trim()))
            .ok_or_else(|| CompressError::UnknownChannel(uuid.clone()))?;
        if entity.is_group() {
            return Err(CompressError::NotAChannel(uuid.clone()));
        }
        if !selected.iter().any(|e| e.id == entity.id) {
            selected.push(entity);
        }
    }
    Ok(selected)
}

/// A timestamp for messages (RFC 3339, UTC).
fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_batches_follow_the_density() {
        // One reading a second, 5-minute windows: 300 readings each.
        assert_eq!(first_batch(0.001, 300_000), 166);
        assert_eq!(first_batch(0.0, 60_000), 50_000);
        assert_eq!(first_batch(1e9, 60_000), 1);
    }

    #[test]
    fn batches_steer_towards_the_target() {
        assert_eq!(next_batch(1000, 200_000), 250);
        assert_eq!(next_batch(1000, 50_000), 1000);
        assert_eq!(next_batch(1000, 10), 4000);
        assert_eq!(next_batch(1000, 0), 4000);
        assert_eq!(next_batch(1, 1_000_000), 1);
        assert_eq!(next_batch(MAX_BATCH_WINDOWS, 0), MAX_BATCH_WINDOWS);
    }

    #[test]
    fn summary_reads_well() {
        let summary = Summary {
            dry_run: false,
            channels: 2,
            unknown_types: Vec::new(),
            outcome: MergeOutcome {
                readings: 600,
                windows: 10,
                merged_windows: 10,
                removed: 590,
                aggregate_rows_deleted: 3,
            },
            batches: 1,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            summary.to_string(),
            "merged 10 windows of 2 channels, removed 590 of 600 readings, deleted 3 aggregate \
             rows in 2.0 s (300 readings/s); run `vz-aggregate run --mode full` to recompute \
             the aggregates"
        );
        let dry = Summary {
            dry_run: true,
            ..summary
        };
        assert!(
            dry.to_string()
                .starts_with("dry run: would merge 10 windows")
        );
        assert!(dry.to_string().ends_with("nothing was changed"));
    }
}
