//! `vz-loadgen`: drives a running push-server (and/or nchan) with WebSocket subscribers and
//! vzlogger-style pushes, and reports connections, memory, throughput and latency.
//!
//! ```sh
//! vz-loadgen --target push-server --db sqlite:///tmp/vz.sqlite3 --uuid-file /tmp/uuids \
//!     --subscribers 10000 --channels 1000 --rate 1000 --duration 10
//! vz-loadgen --target compare …   # the same workload against push-server, then nchan
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use benches::http::Endpoint;
use benches::report::Report;
use benches::scenario::{self, Workload};
use benches::target::{Kind, Protocol, Target};
use benches::{channels, limits, procstat};
use clap::{Parser, ValueEnum};

/// Load generator for the push-server, side by side with nchan.
#[derive(Debug, Parser)]
#[command(name = "vz-loadgen")]
struct Cli {
    /// Which server to drive; `compare` runs the same workload against push-server, then nchan.
    #[arg(long, value_enum, default_value = "push-server")]
    target: TargetArg,
    /// Frame format: WAMP v1 (the frontend) or plain WebSocket (node-red).
    #[arg(long, value_enum, default_value = "wamp")]
    protocol: ProtocolArg,
    /// push-server ingest URL.
    #[arg(long, default_value = "http://127.0.0.1:5555/")]
    ingest: String,
    /// push-server WebSocket URL [default: ws://127.0.0.1:8082/ws, or /socket for plain].
    #[arg(long)]
    ws: Option<String>,
    /// nchan publisher location prefix (`/<channel>` is appended).
    #[arg(long, default_value = "http://127.0.0.1:8090/pub")]
    nchan_pub: String,
    /// nchan subscriber location prefix (`/<channel>` is appended).
    #[arg(long, default_value = "ws://127.0.0.1:8090/sub")]
    nchan_sub: String,
    /// push-server's database, to create missing channels (e.g. sqlite:///tmp/vz.sqlite3).
    #[arg(long)]
    db: Option<String>,
    /// Channel UUIDs, one per line; created channels are written back.
    #[arg(long)]
    uuid_file: Option<PathBuf>,
    /// WebSocket subscribers.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Channels; subscriber i listens to channel i % channels, push j goes to channel j % channels.
    #[arg(long, default_value_t = 100)]
    channels: usize,
    /// Pushes per second (0: connect and measure idle memory only).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds of pushing.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Keep-alive HTTP connections for pushes.
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Subscribers per 127.0.0.x source address (0: let the kernel choose from 127.0.0.1).
    #[arg(long, default_value_t = 10_000)]
    per_source_ip: usize,
    /// Seconds to wait after connecting before reading the server's memory.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// push-server's pid for memory figures [default: the process listening on the --ws port].
    #[arg(long)]
    server_pid: Option<u32>,
    /// Hard bound for the whole run, in seconds.
    #[arg(long, default_value_t = 900)]
    max_runtime: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetArg {
    PushServer,
    Nchan,
    Compare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolArg {
    Wamp,
    Plain,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let bound = Duration::from_secs(cli.max_runtime);
    match tokio::time::timeout(bound, run(&cli)).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("vz-loadgen: {err:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "vz-loadgen: stopped after --max-runtime {}s",
                cli.max_runtime
            );
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    ensure!(
        cli.subscribers <= 1_000_000,
        "at most 1,000,000 subscribers"
    );
    ensure!(
        (1..=100_000).contains(&cli.channels),
        "1 to 100,000 channels"
    );
    ensure!(
        (0.0..=1e6).contains(&cli.rate),
        "at most 1,000,000 pushes/s"
    );
    ensure!(
        (0.0..=3600.0).contains(&cli.duration),
        "at most 3600 s of pushing"
    );
    ensure!(cli.rate * cli.duration <= 5e7, "at most 50 million pushes");

    let needed = (cli.subscribers + cli.publishers + 256) as u64;
    let (soft, hard) = limits::raise_nofile(needed).context("raising the open-files limit")?;
    ensure!(
        soft >= needed,
        "{} subscribers need about {needed} open files; the limit is {soft} (hard {hard}): \
         raise the hard limit (ulimit -Hn as root) or use fewer subscribers",
        cli.subscribers
    );

    let protocol = match cli.protocol {
        ProtocolArg::Wamp => Protocol::Wamp,
        ProtocolArg::Plain => Protocol::Plain,
    };
    let workload = Workload {
        subscribers: cli.subscribers,
        rate: cli.rate,
        duration: Duration::from_secs_f64(cli.duration),
        publishers: cli.publishers,
        connect_concurrency: cli.connect_concurrency,
        per_source_ip: cli.per_source_ip,
        settle: Duration::from_secs_f64(cli.settle),
        connect_timeout: Duration::from_secs(30),
        connect_deadline: Duration::from_secs(300),
        warmup_deadline: Duration::from_secs(60),
        drain: Duration::from_secs(10),
    };
    let with_push_server = cli.target != TargetArg::Nchan;
    let ids = if with_push_server || cli.uuid_file.is_some() {
        channels::ensure(cli.db.as_deref(), cli.uuid_file.as_deref(), cli.channels).await?
    } else {
        channels::synthetic(cli.channels)
    };
    let ids: Arc<[String]> = ids.into();
    println!(
        "vz-loadgen: open-files limit {soft} (hard {hard}); {} subscribers, {} channels, {} pushes/s for {} s",
        cli.subscribers, cli.channels, cli.rate, cli.duration
    );

    let mut reports: Vec<Report> = Vec::new();
    if with_push_server {
        let ws = cli.ws.clone().unwrap_or_else(|| match protocol {
            Protocol::Wamp => "ws://127.0.0.1:8082/ws".into(),
            Protocol::Plain => "ws://127.0.0.1:8082/socket".into(),
        });
        let target = Target {
            kind: Kind::PushServer,
            protocol,
            publish: Endpoint::parse(&cli.ingest).await?,
            subscribe: Endpoint::parse(&ws).await?,
        };
        let pids = match cli.server_pid {
            Some(pid) => vec![pid],
            None => procstat::listening_pids(target.subscribe.addr.port())?,
        };
        ensure!(
            !pids.is_empty(),
            "no process listens on {ws}; is push-server running?"
        );
        println!("push-server pids {pids:?}");
        let report = scenario::run(target, &workload, ids.clone(), &pids).await?;
        print!("{}", report.render());
        reports.push(report);
    }
    if cli.target != TargetArg::PushServer {
        if with_push_server {
            // Let the previous run's connections close before the next one.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let target = Target {
            kind: Kind::Nchan,
            protocol,
            publish: Endpoint::parse(&cli.nchan_pub).await?,
            subscribe: Endpoint::parse(&cli.nchan_sub).await?,
        };
        let pids = procstat::listening_pids(target.subscribe.addr.port())?;
        ensure!(
            !pids.is_empty(),
            "no process listens on {}; run scripts/nchan.sh start",
            cli.nchan_sub
        );
        println!("nchan pids {pids:?}");
        let report = scenario::run(target, &workload, ids, &pids).await?;
        print!("{}", report.render());
        reports.push(report);
    }
    if let [ours, theirs] = reports.as_slice() {
        print!("{}", ours.compare(theirs));
    }
    Ok(())
}
