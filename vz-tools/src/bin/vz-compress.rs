//! `vz-compress`: thin out old readings per the compression scheme (vzcompress2's successor).

use std::process::ExitCode;

use clap::Parser;
use vz_tools::compress::{self, CompressArgs, scheme::Schemes};
use vz_tools::database::DatabaseArgs;
use vz_tools::output::{self, OutputArgs};

/// Merge old readings into one per time window (impulses summed, meter readings maxed, sensors
/// averaged), tier by tier, never touching data younger than a tier's age.
#[derive(Debug, Parser)]
#[command(name = "vz-compress", version)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    compress: CompressArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    output::finish("vz-compress", run(&cli).await)
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let schemes = Schemes::load(
        cli.compress.scheme.as_deref(),
        cli.database.config.as_deref(),
    )?;
    let db = cli.database.connect().await?;
    let result = compress::run(&db, &cli.compress, &schemes, &cli.output).await;
    db.close().await;
    let summary = result?;
    for (uuid, kind) in &summary.unknown_types {
        eprintln!("vz-compress: warning: channel {uuid} has unknown type {kind:?}; left alone");
    }
    cli.output.summary(&summary);
    Ok(())
}
