//! `vz-dbcopy`: backups and migrations between MySQL/MariaDB, PostgreSQL and SQLite, with
//! dbcopy's configuration and commands (tools-and-schema §4, decision 12) but none of its
//! defects (§4.5).
//!
//! `copy` reads every table in key order, page by page (keyset paging, so every row exactly
//! once), while the previous page is being written (one transaction per page). `copy` mode
//! empties the target table first. `pk` mode continues each channel's readings (and each
//! channel's aggregates per level) after the target's newest one, and inserts the rows of
//! the small tables that the target lacks, so an interrupted or regular incremental copy
//! just runs again. Tables are always processed in
//! foreign-key order; foreign keys are relaxed during the copy and are all in force again
//! afterwards (see [`Db::copy_target`]).

pub mod config;

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use clap::Subcommand;
use middleware::{ConnectOptions, CopyReport, Db, Key, KeyGroup, OnConflict, Page, Table};

use self::config::Mode;
use crate::output::OutputArgs;

/// Rows per page (and per target transaction) unless `--batch` says otherwise.
pub const DEFAULT_BATCH: usize = 10_000;

/// The `vz-dbcopy` commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Copy the configured tables from source to target.
    Copy {
        /// Rows per page and per target transaction.
        #[arg(short, long, value_name = "N", default_value_t = DEFAULT_BATCH, value_parser = parse_batch)]
        batch: usize,
        /// Leave the target's foreign keys in force while copying (slower; emptying
        /// `entities` then fails while other tables refer to it).
        #[arg(short, long)]
        keep_constraints: bool,
        /// Only these of the configured tables.
        #[arg(value_name = "TABLE")]
        tables: Vec<String>,
    },
    /// Create the target database (MySQL/PostgreSQL, if missing) and the volkszaehler schema
    /// in it (if it has no tables).
    Create,
    /// Empty the configured tables on the target.
    Clear {
        /// Drop the tables instead of emptying them.
        #[arg(short, long)]
        drop: bool,
    },
    /// Drop the target database (for SQLite: delete the file).
    Drop,
    /// Not supported: dbcopy's InfluxDB export.
    Influx {
        /// Ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
}

/// Why a dbcopy command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbcopyError {
    /// No source or target was configured.
    #[error("no {0} database: set `{0}:` in the config file or give --{0}")]
    Missing(&'static str),
    /// Source and target are the same.
    #[error("source and target are the same database")]
    SameDatabase,
    /// A table named on the command line is not configured (or unknown).
    #[error("table {0:?} is not configured (see `tables:` in the config file)")]
    NotConfigured(String),
    /// The `influx` command, which this tool does not offer.
    #[error(
        "the influx command is not supported by vz-dbcopy; export readings to InfluxDB with a dedicated tool (e.g. vzlogger's InfluxDB output)"
    )]
    Influx,
    /// Opening the source failed.
    #[error("source {url}: {source}")]
    Source {
        /// The URL without password.
        url: String,
        /// The database error.
        source: middleware::Error,
    },
    /// Opening or writing the target failed.
    #[error("target {url}: {source}")]
    Target {
        /// The URL without password.
        url: String,
        /// The database error.
        source: middleware::Error,
    },
    /// Emptying a target table failed.
    #[error("cannot empty {table} on the target: {source}")]
    Clear {
        /// The table.
        table: Table,
        /// The database error.
        source: middleware::Error,
    },
    /// Copying a table failed; pages written before stay written.
    #[error("copying {table}: {source}")]
    Copy {
        /// The table.
        table: Table,
        /// The database error.
        source: middleware::Error,
    },
}

/// One table's share of a copy.
#[derive(Clone, Debug)]
pub struct TableSummary {
    /// The table.
    pub table: Table,
    /// Its mode.
    pub mode: Mode,
    /// Rows written (for `pk`, rows the target did not have).
    pub rows: u64,
    /// Time spent on it.
    pub elapsed: Duration,
}

impl fmt::Display for TableSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::Skip => write!(f, "{}: skipped", self.table),
            Mode::Copy | Mode::Pk => write!(
                f,
                "{}: copied {} rows ({}) in {:.1} s ({:.0} rows/s)",
                self.table,
                self.rows,
                if self.mode == Mode::Copy {
                    "overwrite"
                } else {
                    "incremental"
                },
                self.elapsed.as_secs_f64(),
                rate(self.rows, self.elapsed),
            ),
        }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Default)]
pub struct CopySummary {
    /// Per table, in the order copied.
    pub tables: Vec<TableSummary>,
    /// What finishing the target did.
    pub report: CopyReport,
    /// Wall time.
    pub elapsed: Duration,
}

impl CopySummary {
    /// Rows written over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

impl fmt::Display for CopySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} rows in {:.1} s ({:.0} rows/s)",
            self.rows(),
            self.elapsed.as_secs_f64(),
            rate(self.rows(), self.elapsed)
        )
    }
}

/// Options of `copy`.
#[derive(Clone, Copy, Debug)]
pub struct CopyOptions {
    /// Rows per page.
    pub batch: usize,
    /// Keep foreign keys in force.
    pub keep_constraints: bool,
}

/// Copies `tables` from `source_url` to `target_url` (`copy` command).
///
/// The source must have the volkszaehler schema; an empty target gets the current schema.
///
/// # Errors
///
/// See [`DbcopyError`]. After a failure, `pk` tables resume by running again and `copy`
/// tables are copied anew; foreign keys are restored on a best-effort basis (PostgreSQL: at
/// the latest by the next successful copy).
pub async fn copy(
    source_url: &str,
    target_url: &str,
    tables: &[(Table, Mode)],
    options: CopyOptions,
    output: &OutputArgs,
) -> Result<CopySummary, DbcopyError> {
    let started = Instant::now();
    if source_url == target_url {
        return Err(DbcopyError::SameDatabase);
    }
    let source = Db::connect_existing(source_url)
        .await
        .map_err(|source| DbcopyError::Source {
            url: middleware::redact_url(source_url),
            source,
        })?;
    let target_error = |source| DbcopyError::Target {
        url: middleware::redact_url(target_url),
        source,
    };
    let target = Db::connect_with(target_url, TARGET)
        .await
        .map_err(target_error)?;
    let mut ordered = tables.to_vec();
    ordered.sort_by_key(|(table, _)| *table);

    let mut writer = target
        .copy_target(options.keep_constraints)
        .await
        .map_err(target_error)?;
    let mut summary = CopySummary::default();
    let result = async {
        for (table, _) in ordered.iter().rev().filter(|(_, mode)| *mode == Mode::Copy) {
            writer
                .clear(*table)
                .await
                .map_err(|source| DbcopyError::Clear {
                    table: *table,
                    source,
                })?;
        }
        for &(table, mode) in &ordered {
            let table_summary =
                copy_table(&source, &target, &mut writer, table, mode, options, output)
                    .await
                    .map_err(|source| DbcopyError::Copy { table, source })?;
            output.summary(&table_summary);
            summary.tables.push(table_summary);
        }
        Ok::<_, DbcopyError>(())
    }
    .await;
    if let Err(error) = result {
        writer.abort().await;
        source.close().await;
        target.close().await;
        return Err(error);
    }
    summary.report = writer.finish().await.map_err(target_error)?;
    source.close().await;
    target.close().await;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// What to read of a table: all of it, or one key group after the target's newest key.
#[derive(Clone, Debug)]
enum Span {
    /// Every row, in key order.
    All,
    /// The rows of a group after a key.
    Group(KeyGroup, Option<Key>),
}

/// Copies one table, reading the next page while the previous one is written.
///
/// `copy` mode reads every row. `pk` mode reads, for readings and aggregates, each channel's
/// (and level's) rows after the target's newest one of that channel; for the small tables,
/// every row, inserting those whose key the target lacks.
async fn copy_table(
    source: &Db,
    target: &Db,
    writer: &mut middleware::CopyTarget,
    table: Table,
    mode: Mode,
    options: CopyOptions,
    output: &OutputArgs,
) -> Result<TableSummary, middleware::Error> {
    let started = Instant::now();
    let mut summary = TableSummary {
        table,
        mode,
        rows: 0,
        elapsed: Duration::ZERO,
    };
    let (spans, on_conflict) = match mode {
        Mode::Skip => return Ok(summary),
        Mode::Copy => (
            vec![(Span::All, source.count_rows(table, None).await?)],
            OnConflict::Fail,
        ),
        Mode::Pk if table.grouped() => {
            let mut spans = Vec::new();
            for group in source.key_groups(table).await? {
                let after = target.last_key_in(&group).await?;
                let count = source.count_rows_in(&group, after.as_ref()).await?;
                if count > 0 {
                    spans.push((Span::Group(group, after), count));
                }
            }
            (spans, OnConflict::Skip)
        }
        Mode::Pk => (
            vec![(Span::All, source.count_rows(table, None).await?)],
            OnConflict::Skip,
        ),
    };
    let total = spans.iter().map(|(_, count)| count).sum();
    let bar = output.progress(total, table.name());
    output.detail(
        &bar,
        format_args!(
            "{table}: reading {total} rows ({}{})",
            mode.name(),
            if table.grouped() && mode == Mode::Pk {
                format!(", {} channels/levels with new rows", spans.len())
            } else {
                String::new()
            }
        ),
    );
    let (pages, mut received) = tokio::sync::mpsc::channel(2);
    let spans = spans.into_iter().map(|(span, _)| span).collect();
    let reader = tokio::spawn(read_pages(
        source.clone(),
        table,
        spans,
        options.batch,
        pages,
    ));
    // A `pk` copy of a small table inserts the rows whose key the target lacks: knowing the
    // target's keys keeps the count exact (MySQL would count skipped duplicates).
    let known: Option<HashSet<Key>> = if mode == Mode::Pk && !table.grouped() {
        Some(keys(target, table, options.batch).await?)
    } else {
        None
    };
    let hold = (table == Table::Data).then(hold_after_pages).flatten();
    let mut written = 0_u64;
    while let Some(page) = received.recv().await {
        let mut page: Page = page?;
        let read = page.len() as u64;
        if let Some(known) = &known {
            page.retain(|key| !known.contains(key));
        }
        summary.rows += writer.write(&page, on_conflict).await?;
        bar.inc(read);
        written += 1;
        if hold == Some(written) {
            eprintln!("vz-dbcopy: holding after {written} pages of data");
            std::future::pending::<()>().await;
        }
    }
    // The channel closes when the reader is done (or failed, which it sent).
    let _ = reader.await;
    bar.finish_and_clear();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A test hook: `VZ_DBCOPY_HOLD_AFTER_PAGES=N` makes a copy stop after writing N pages of
/// `data`, say so on stderr and wait to be killed. A test can then kill it at a known point
/// (rows committed, foreign keys still dropped) instead of racing it with a timer.
fn hold_after_pages() -> Option<u64> {
    std::env::var("VZ_DBCOPY_HOLD_AFTER_PAGES")
        .ok()?
        .parse()
        .ok()
}

/// Every key of a table.
async fn keys(db: &Db, table: Table, batch: usize) -> Result<HashSet<Key>, middleware::Error> {
    let mut keys = HashSet::new();
    let mut after = None;
    loop {
        let page = db.read_page(table, after.as_ref(), batch).await?;
        if page.is_empty() {
            return Ok(keys);
        }
        after = page.last_key();
        keys.extend(page.keys());
    }
}

/// Sends the pages of each span until it is exhausted, or until the receiver is gone; a read
/// error is sent as the last item.
async fn read_pages(
    source: Db,
    table: Table,
    spans: Vec<Span>,
    batch: usize,
    pages: tokio::sync::mpsc::Sender<Result<Page, middleware::Error>>,
) {
    for span in spans {
        let mut after = match &span {
            Span::All => None,
            Span::Group(_, after) => after.clone(),
        };
        loop {
            let page = match &span {
                Span::All => source.read_page(table, after.as_ref(), batch).await,
                Span::Group(group, _) => source.read_page_in(group, after.as_ref(), batch).await,
            };
            let (failed, last) = match &page {
                Ok(page) if page.is_empty() => break,
                Ok(page) => {
                    after = page.last_key();
                    (false, page.len() < batch)
                }
                Err(_) => (true, true),
            };
            if pages.send(page).await.is_err() || failed {
                return;
            }
            if last {
                break;
            }
        }
    }
}

/// `create`: the target database and the schema; returns what was done, for the summary.
///
/// # Errors
///
/// [`DbcopyError::Target`] if the server refuses or the target has an incomplete schema.
pub async fn create(target_url: &str) -> Result<String, DbcopyError> {
    let target_error = |source| DbcopyError::Target {
        url: middleware::redact_url(target_url),
        source,
    };
    let created_database = Db::create_database(target_url)
        .await
        .map_err(target_error)?;
    let existing = match Db::connect_existing(target_url).await {
        Ok(db) => {
            let variant = db.variant();
            db.close().await;
            Some(variant)
        }
        Err(middleware::Error::IncompleteSchema { missing })
            if missing.len() != Table::ALL.len() =>
        {
            return Err(target_error(middleware::Error::IncompleteSchema {
                missing,
            }));
        }
        // No tables, or no SQLite file yet: connecting creates them (and reports any other
        // problem, such as a refused login, again).
        Err(_) => None,
    };
    let mut done = Vec::new();
    if created_database {
        done.push("created the database".to_owned());
    }
    match existing {
        Some(variant) => done.push(format!(
            "the target has the volkszaehler schema already ({variant:?} variant); left as it is"
        )),
        None => {
            let db = Db::connect_with(target_url, TARGET)
                .await
                .map_err(target_error)?;
            db.close().await;
            done.push("created the volkszaehler schema".to_owned());
        }
    }
    Ok(done.join("; "))
}

/// How a copy's target is opened: a new SQLite file is what `create` and a first copy make;
/// an unreachable server fails at once with its cause.
const TARGET: ConnectOptions = ConnectOptions {
    create_sqlite_file: true,
    fail_fast: true,
};

/// A `--batch` value: a positive number of rows.
fn parse_batch(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid batch size {text:?}: expected a positive number of rows"
        )),
    }
}

/// Rows per second.
fn rate(rows: u64, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64().max(1e-9)
}
