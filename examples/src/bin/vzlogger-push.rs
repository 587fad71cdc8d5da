//! Pushes readings the way vzlogger does: one JSON document per interval, json-c spacing,
//! 2-element tuples `[ms, value]`, POSTed with keep-alive.
//!
//! `cargo run -p examples --bin vzlogger-push -- --uuid UUID [--value 1] [--interval-ms 1000]`

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

/// Push S0-style readings (or a fixed meter value) to a push-server.
#[derive(Debug, Parser)]
struct Args {
    /// Ingest URL.
    #[arg(long, default_value = "http://localhost:5555/")]
    url: String,
    /// Channel UUIDs (repeatable).
    #[arg(long, required = true)]
    uuid: Vec<String>,
    /// The value pushed each time (impulses for power channels).
    #[arg(long, default_value_t = 1.0)]
    value: f64,
    /// Add this to the value after every push (a rising meter reading).
    #[arg(long, default_value_t = 0.0)]
    step: f64,
    /// Milliseconds between pushes.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Stop after this many pushes (0 = forever).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::new();
    let mut interval = tokio::time::interval(Duration::from_millis(args.interval_ms.max(1)));
    let mut value = args.value;
    let mut sent = 0;
    while args.count == 0 || sent < args.count {
        interval.tick().await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
        let channels: Vec<String> = args
            .uuid
            .iter()
            .map(|uuid| {
                format!("{{ \"uuid\": \"{uuid}\", \"tuples\": [ [ {now}, {value:.17} ] ] }}")
            })
            .collect();
        let body = format!("{{ \"data\": [ {} ] }}", channels.join(", "));
        let response = client
            .post(&args.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        println!("{status} {}", response.text().await?);
        value += args.step;
        sent += 1;
    }
    Ok(())
}
