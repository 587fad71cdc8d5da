//! `vz-aggregate`: maintain volkszaehler's aggregate table (volkszaehler's `bin/aggregate`).

use std::process::ExitCode;

use clap::Parser;
use vz_tools::aggregate::{self, Command, Context, RunArgs, RunMode, TimeArgs};
use vz_tools::database::DatabaseArgs;
use vz_tools::output::{self, OutputArgs};

/// Aggregate raw readings per period (second to year) for fast reads of long ranges.
///
/// Without a subcommand, `run` is meant: `vz-aggregate --level hour` aggregates every
/// channel's new complete hours.
#[derive(Debug, Parser)]
#[command(name = "vz-aggregate", version)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    time: TimeArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Option<Command>,
    /// The options of `run`, when no subcommand is given.
    #[command(flatten)]
    run: RunArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    output::finish("vz-aggregate", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.database.load_config()?;
    let time_zone = cli
        .time
        .time_zone(config.as_ref())
        .map_err(anyhow::Error::msg)?;
    let context = Context {
        time_zone,
        now_ms: cli.time.now_ms(),
        output: cli.output,
    };
    let run_options_given = !cli.run.uuids.is_empty()
        || !cli.run.levels.is_empty()
        || cli.run.mode != RunMode::Delta
        || cli.run.periods.is_some()
        || cli.run.jobs != aggregate::DEFAULT_JOBS;
    let command = match cli.command {
        // `vz-aggregate -l hour clear` would otherwise clear every level.
        Some(_) if run_options_given => anyhow::bail!(
            "UUIDs, --level, --mode, --periods and --jobs before a subcommand belong to `run`; \
             put the subcommand's options after its name"
        ),
        Some(command) => command,
        None => Command::Run(cli.run),
    };
    let db = aggregate::connect(&cli.database, config.as_ref()).await?;
    let result = aggregate::execute(&db, command, &context).await;
    db.close().await;
    Ok(result?)
}
