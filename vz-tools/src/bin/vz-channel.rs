//! `vz-channel`: manage volkszaehler channels and groups from the command line.

use std::process::ExitCode;

use clap::Parser;
use vz_tools::channel::{self, Command};
use vz_tools::database::DatabaseArgs;
use vz_tools::output;

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
    output::finish("vz-channel", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let result = if let Command::Types = cli.command {
        // Needs no database; do not create the embedded default just to print a table.
        channel::print_types(&mut out)
    } else {
        let db = cli.database.connect_for(cli.command.access()).await?;
        let result = channel::run(&db, cli.command, &mut out).await;
        db.close().await;
        result
    };
    output::write_stdout(&out)?;
    Ok(result?)
}
