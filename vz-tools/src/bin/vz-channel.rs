//! `vz-channel`: manage volkszaehler channels and groups from the command line.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use vz_tools::channel::{self, Command};
use vz_tools::database::DatabaseArgs;

/// Create, list, show, change and delete volkszaehler channels.
#[derive(Debug, Parser)]
#[command(name = "vz-channel", version)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vz-channel: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let result = if let Command::Types = cli.command {
        // Needs no database; do not create the embedded default just to print a table.
        channel::print_types(&mut out)
    } else {
        let db = cli.database.connect().await?;
        let result = channel::run(&db, cli.command, &mut out).await;
        db.close().await;
        result
    };
    std::io::stdout().write_all(&out)?;
    Ok(result?)
}
