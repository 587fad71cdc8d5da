//! `vz-dbcopy`: copy a volkszaehler database between MySQL/MariaDB, PostgreSQL and SQLite
//! (dbcopy's successor; reads `etc/dbcopy.yaml`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use middleware::{Db, Table};
use vz_tools::dbcopy::config::{DbcopyConfig, Mode};
use vz_tools::dbcopy::{self, Command, CopyOptions, DbcopyError};
use vz_tools::output::{self, OutputArgs};

/// Back up or migrate a volkszaehler database: copy, incrementally (`pk`) or completely
/// (`copy`), between MySQL/MariaDB, PostgreSQL and SQLite.
#[derive(Debug, Parser)]
#[command(name = "vz-dbcopy", version)]
struct Cli {
    /// The dbcopy configuration (source, target, tables); default: ./config.yaml if it exists.
    #[arg(short, long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Source database URL (overrides `source:`).
    #[arg(long, value_name = "URL", global = true)]
    source: Option<String>,
    /// Target database URL (overrides `target:`).
    #[arg(long, value_name = "URL", global = true)]
    target: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    output::finish("vz-dbcopy", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Influx { .. } = cli.command {
        return Err(DbcopyError::Influx.into());
    }
    let mut config = match &cli.config {
        Some(path) => DbcopyConfig::load(path)?,
        None if std::path::Path::new("config.yaml").is_file() => {
            DbcopyConfig::load(std::path::Path::new("config.yaml"))?
        }
        None => DbcopyConfig::default(),
    };
    if cli.source.is_some() {
        config.source.clone_from(&cli.source);
    }
    if cli.target.is_some() {
        config.target.clone_from(&cli.target);
    }
    let target = config
        .target
        .clone()
        .ok_or(DbcopyError::Missing("target"))?;
    let output = cli.output;
    match cli.command {
        Command::Copy {
            batch,
            keep_constraints,
            tables,
        } => {
            let source = config
                .source
                .clone()
                .ok_or(DbcopyError::Missing("source"))?;
            let selected = select(&config, &tables)?;
            let summary = dbcopy::copy(
                &source,
                &target,
                &selected,
                CopyOptions {
                    batch,
                    keep_constraints,
                },
                &output,
            )
            .await?;
            for (table, rows) in &summary.report.orphans_removed {
                eprintln!(
                    "vz-dbcopy: warning: removed {rows} rows of {table} on the target that \
                     referred to entities the source does not have"
                );
            }
            if !output.quiet && output.verbose {
                for name in &summary.report.foreign_keys_restored {
                    eprintln!("restored foreign key {name}");
                }
            }
            for name in &summary.report.foreign_keys_repaired {
                eprintln!("vz-dbcopy: note: created missing foreign key {name}");
            }
            output.summary(&summary);
        }
        Command::Create => {
            let done = dbcopy::create(&target).await?;
            output.summary(done);
        }
        Command::Clear { drop } => {
            let tables: Vec<Table> = config.tables.iter().map(|(table, _)| *table).collect();
            let changed = Db::clear_tables(&target, &tables, drop)
                .await
                .map_err(|source| target_error(&target, source))?;
            let names: Vec<&str> = changed.iter().map(|table| table.name()).collect();
            let verb = if drop { "dropped" } else { "emptied" };
            output.summary(format_args!(
                "{verb} {} tables: {}",
                names.len(),
                names.join(", ")
            ));
        }
        Command::Drop => {
            let existed = Db::drop_database(&target)
                .await
                .map_err(|source| target_error(&target, source))?;
            let url = middleware::redact_url(&target);
            output.summary(if existed {
                format!("dropped {url}")
            } else {
                format!("{url} does not exist")
            });
        }
        Command::Influx { .. } => unreachable!("answered above"),
    }
    Ok(())
}

/// A failure on the target database, naming it (password hidden).
fn target_error(url: &str, source: middleware::Error) -> DbcopyError {
    DbcopyError::Target {
        url: middleware::redact_url(url),
        source,
    }
}

/// The configured tables, limited to those named on the command line.
fn select(config: &DbcopyConfig, names: &[String]) -> Result<Vec<(Table, Mode)>, DbcopyError> {
    if names.is_empty() {
        return Ok(config.tables.clone());
    }
    names
        .iter()
        .map(|name| {
            config
                .tables
                .iter()
                .find(|(table, _)| table.name() == name)
                .copied()
                .ok_or_else(|| DbcopyError::NotConfigured(name.clone()))
        })
        .collect()
}
