//! The `vz-aggregate` command line: subcommands, their options, and turning the time options
//! (`--timezone`, `--now`, `--since`) into values.

use clap::{Args, Subcommand, ValueEnum};
use jiff::tz::TimeZone;
use middleware::Level;
use push_core::config::Config;

use crate::instant::Instant;

/// `--jobs` when not given.
pub const DEFAULT_JOBS: u16 = 2;

/// The `vz-aggregate` subcommands; `run` is the default.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Aggregate raw readings into the aggregate table (the default command).
    Run(RunArgs),
    /// Remove aggregate rows.
    Clear(ClearArgs),
    /// Replace every channel's aggregates by a full aggregation at the given levels; rows of
    /// other levels are removed. Done in place, channel by channel, in short transactions.
    Rebuild(RebuildArgs),
    /// Reclaim space and refresh statistics of the aggregate table.
    Optimize(OptimizeArgs),
}

/// Options of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Channels to aggregate, by UUID; all channels if none is given.
    #[arg(value_name = "UUID")]
    pub uuids: Vec<String>,
    /// Level to aggregate: second, minute, hour, day, month or year. Repeatable, or
    /// comma-separated [default: day]
    #[arg(short, long = "level", value_name = "LEVEL", value_delimiter = ',')]
    pub levels: Vec<Level>,
    /// delta: only periods after the newest aggregate of each channel and level; full:
    /// every complete period, replacing what is there.
    #[arg(short, long, value_enum, default_value_t = RunMode::Delta)]
    pub mode: RunMode,
    /// With --mode full: only the last N complete periods (picks up late data cheaply).
    #[arg(short, long, value_name = "N")]
    pub periods: Option<u32>,
    /// Queries run at the same time, each on its own connection: time chunks of a scan
    /// over many channels (SQLite, PostgreSQL), or channels (MySQL). 1 uses one core of the
    /// database; 2 is about twice as fast where the database has two cores to spare.
    #[arg(short, long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub jobs: u16,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// Continue after the newest aggregate row.
    #[default]
    Delta,
    /// Re-aggregate everything (or the last --periods).
    Full,
}

/// Options of `clear`.
#[derive(Debug, Clone, Default, Args)]
pub struct ClearArgs {
    /// Channels whose rows to remove, by UUID; all channels if none is given.
    #[arg(value_name = "UUID")]
    pub uuids: Vec<String>,
    /// Level to remove, or `all`. Repeatable, or comma-separated [default: all]
    #[arg(short, long = "level", value_name = "LEVEL|all", value_delimiter = ',', value_parser = parse_clear_level)]
    pub levels: Vec<ClearLevel>,
    /// Only rows from this time on: RFC 3339, Unix milliseconds, or a local date or date
    /// and time such as 2024-05-01 or "2024-05-01 06:00" (in --timezone).
    #[arg(short, long, value_name = "TIME")]
    pub since: Option<String>,
}

/// A `clear --level` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearLevel {
    /// Every level.
    All,
    /// One level.
    Level(Level),
}

/// Options of `rebuild`.
#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    /// Level to build: second, minute, hour, day, month or year. Repeatable, or
    /// comma-separated [default: day]
    #[arg(short, long = "level", value_name = "LEVEL", value_delimiter = ',')]
    pub levels: Vec<Level>,
    /// Queries run at the same time, each on its own connection: time chunks of a scan
    /// over many channels (SQLite, PostgreSQL), or channels (MySQL). 1 uses one core of the
    /// database; 2 is about twice as fast where the database has two cores to spare.
    #[arg(short, long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub jobs: u16,
}

/// Options of `optimize`.
#[derive(Debug, Clone, Default, Args)]
pub struct OptimizeArgs {
    /// Optimize the data table too, as volkszaehler does (slow: on MySQL it rebuilds the
    /// whole table).
    #[arg(long)]
    pub data: bool,
}

/// `--timezone` and `--now`, shared by every subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct TimeArgs {
    /// Time zone whose local calendar defines hours, days, months and years, e.g.
    /// Europe/Berlin or UTC [default: the config's `timezone`, else the system's zone]
    #[arg(long, value_name = "ZONE", global = true)]
    pub timezone: Option<String>,
    /// Pretend it is this time (RFC 3339 or Unix milliseconds), e.g. for backfills and
    /// tests; the period holding it is never written.
    #[arg(long, value_name = "TIME", global = true)]
    pub now: Option<Instant>,
}

impl TimeArgs {
    /// The zone to use: `--timezone`, else the config's `timezone` (or `php.timezone`, where
    /// volkszaehler's template puts it), else the system's local zone (UTC if that cannot be
    /// found).
    ///
    /// # Errors
    /// An unknown zone name, naming where it came from.
    pub fn time_zone(&self, config: Option<&Config>) -> Result<TimeZone, String> {
        let (name, source) = match (&self.timezone, config.and_then(Config::time_zone)) {
            (Some(name), _) => (name.as_str(), "--timezone"),
            (None, Some(name)) => (name, "config timezone"),
            (None, None) => return Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
        };
        TimeZone::get(name.trim()).map_err(|_| {
            format!("{source}: unknown time zone '{name}' (expected an IANA name such as Europe/Berlin, or UTC)")
        })
    }

    /// `--now` in Unix ms, else the current time.
    pub fn now_ms(&self) -> i64 {
        self.now.unwrap_or_else(Instant::now).millis()
    }
}

/// A name for a zone in messages: its IANA name, else "the system zone".
pub fn zone_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("the system zone")
}

/// Parses `--since`: an [`Instant`] (RFC 3339 or Unix ms), or a local date or date and time
/// in `tz` (the start of that day or minute).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_since(text: &str, tz: &TimeZone) -> Result<i64, String> {
    if let Ok(instant) = text.parse::<Instant>() {
        return Ok(instant.millis());
    }
    let text = text.trim();
    let civil = text.parse::<jiff::civil::DateTime>().or_else(|_| {
        text.parse::<jiff::civil::Date>()
            .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
    });
    civil
        .ok()
        .and_then(|civil| civil.to_zoned(tz.clone()).ok())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .ok_or_else(|| {
            format!("invalid --since '{text}' (expected RFC 3339, Unix milliseconds, or a local date like 2024-05-01 or '2024-05-01 06:00')")
        })
}

/// Parses a `clear --level` value: a level name or `all`.
fn parse_clear_level(text: &str) -> Result<ClearLevel, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(ClearLevel::All);
    }
    text.parse::<Level>()
        .map(ClearLevel::Level)
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_instants_and_local_dates() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(parse_since("1715761800000", &berlin), Ok(1_715_761_800_000));
        assert_eq!(
            parse_since("2024-05-15T08:30:00Z", &berlin),
            Ok(1_715_761_800_000)
        );
        assert_eq!(parse_since("2024-05-15", &berlin), Ok(1_715_724_000_000));
        assert_eq!(
            parse_since("2024-05-15 10:30", &berlin),
            Ok(1_715_761_800_000)
        );
        assert!(
            parse_since("yesterday", &berlin)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn clear_levels_include_all() {
        assert_eq!(parse_clear_level("ALL"), Ok(ClearLevel::All));
        assert_eq!(
            parse_clear_level("hour"),
            Ok(ClearLevel::Level(Level::Hour))
        );
        assert!(parse_clear_level("15m").is_err());
    }

    #[test]
    fn zones_come_from_the_option_then_the_config() {
        let config = Config {
            timezone: Some("Europe/Berlin".into()),
            ..Config::default()
        };
        let args = TimeArgs::default();
        assert_eq!(
            zone_name(&args.time_zone(Some(&config)).unwrap()),
            "Europe/Berlin"
        );
        let args = TimeArgs {
            timezone: Some("UTC".into()),
            now: None,
        };
        assert_eq!(zone_name(&args.time_zone(Some(&config)).unwrap()), "UTC");
        let args = TimeArgs {
            timezone: Some("Mars/Base".into()),
            now: None,
        };
        assert!(args.time_zone(None).unwrap_err().contains("Mars/Base"));
    }
}
