//! `push-server`: command line, logging, configuration, listeners and signals around
//! [`push_server::PushServer`].

use std::io::{IsTerminal, Write};
use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use middleware::Db;
use push_core::config::{Config, DEFAULT_BROADCAST_PORT, DEFAULT_INGEST_PORT, ListenSpec};
use push_server::{Listeners, PushServer, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Receive vzlogger pushes and fan them out to WAMP v1 and WebSocket clients.
#[derive(Debug, Parser)]
#[command(name = "push-server", version)]
struct Cli {
    /// A volkszaehler config.yaml (push.server, push.broadcast, push.wamp, push.websocket, db,
    /// network.postlimit).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Database URL; default: the config's db section, else the embedded SQLite file.
    #[arg(long = "db", env = "DATABASE_URL", value_name = "URL")]
    db: Option<String>,
    /// Ingest listen address or port (default 5555 on all IPv4 and IPv6 interfaces).
    #[arg(long, value_name = "ADDR")]
    ingest: Option<String>,
    /// Broadcast listen address or port (default 8082 on all IPv4 and IPv6 interfaces).
    #[arg(long, value_name = "ADDR")]
    broadcast: Option<String>,
    /// Serve /metrics and /health on this address or port instead of the broadcast listener.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Log level of this server: error, warn, info, debug or trace. RUST_LOG, when set, wins
    /// (e.g. RUST_LOG=push_server=debug,middleware=info).
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: tracing::Level,
    #[command(flatten)]
    limits: Limits,
}

/// Limits against clients that take more than their share (defaults in brackets).
#[derive(Debug, clap::Args)]
struct Limits {
    /// Frames a WebSocket client may fall behind before it is disconnected [256].
    #[arg(long, value_name = "FRAMES")]
    queue_capacity: Option<usize>,
    /// Connections served at once on the broadcast listener, WebSockets included [16384].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Connections served at once on the ingest listener [1024].
    #[arg(long, value_name = "N")]
    max_ingest_connections: Option<usize>,
    /// Seconds a client has to send a request head; also the keep-alive idle timeout [10].
    #[arg(long, value_name = "SECS")]
    header_timeout: Option<f64>,
    /// Seconds a pusher has to send the body once the head arrived [30].
    #[arg(long, value_name = "SECS")]
    body_timeout: Option<f64>,
    /// Seconds a tuple's timestamp may be ahead of the server clock [86400].
    #[arg(long, value_name = "SECS")]
    max_ahead: Option<f64>,
    /// Seconds between pings to a silent WebSocket client [30].
    #[arg(long, value_name = "SECS")]
    ping_interval: Option<f64>,
    /// Seconds without any frame (or pong) after which a WebSocket client is disconnected [75].
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<f64>,
    /// Subscriptions (or ?uuid= channels) one WebSocket connection may have [1024].
    #[arg(long, value_name = "N")]
    max_subscriptions: Option<usize>,
    /// Longest topic a client may subscribe to, in bytes [256].
    #[arg(long, value_name = "BYTES")]
    max_topic_length: Option<usize>,
    /// Seconds between background re-reads of channel metadata (also on SIGHUP) [10].
    #[arg(long, value_name = "SECS")]
    metadata_refresh: Option<f64>,
    /// Seconds an unknown UUID is remembered before the database is asked again [1].
    #[arg(long, value_name = "SECS")]
    unknown_ttl: Option<f64>,
    /// Unknown UUIDs remembered at most [10000].
    #[arg(long, value_name = "N")]
    unknown_capacity: Option<usize>,
}

impl Limits {
    /// Applies the limits given on the command line.
    fn apply(&self, config: &mut ServerConfig) -> anyhow::Result<()> {
        fn set<T: Copy>(target: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *target = value;
            }
        }
        let secs = |value: Option<f64>, flag: &str| -> anyhow::Result<Option<Duration>> {
            value
                .map(|v| {
                    Duration::try_from_secs_f64(v)
                        .map_err(|_| anyhow::anyhow!("--{flag} must be a number of seconds >= 0"))
                })
                .transpose()
        };
        set(&mut config.hub.queue_capacity, self.queue_capacity);
        set(&mut config.hub.max_subscriptions, self.max_subscriptions);
        set(&mut config.hub.max_topic_len, self.max_topic_length);
        set(
            &mut config.broadcast_connections.max_connections,
            self.max_connections,
        );
        set(
            &mut config.ingest_connections.max_connections,
            self.max_ingest_connections,
        );
        if let Some(timeout) = secs(self.header_timeout, "header-timeout")? {
            config.ingest_connections.header_timeout = timeout;
            config.broadcast_connections.header_timeout = timeout;
        }
        set(
            &mut config.body_timeout,
            secs(self.body_timeout, "body-timeout")?,
        );
        set(&mut config.max_ahead, secs(self.max_ahead, "max-ahead")?);
        set(
            &mut config.ping_interval,
            secs(self.ping_interval, "ping-interval")?,
        );
        set(
            &mut config.idle_timeout,
            secs(self.idle_timeout, "idle-timeout")?,
        );
        set(
            &mut config.metadata_refresh,
            secs(self.metadata_refresh, "metadata-refresh")?,
        );
        set(
            &mut config.channels.unknown_ttl,
            secs(self.unknown_ttl, "unknown-ttl")?,
        );
        set(&mut config.channels.unknown_capacity, self.unknown_capacity);
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&anyhow::Error::from(err).context("starting the runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Logs to stderr: plain text for journald and pipes, colours only on a terminal. A failing
/// stderr (closed pipe, restarted journald) drops log lines; it never ends the process.
fn init_logging(level: tracing::Level) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => tracing_subscriber::EnvFilter::new(value),
        _ => tracing_subscriber::EnvFilter::new(format!(
            "warn,push_server={level},middleware={level}"
        )),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .init();
}

fn fail(err: &anyhow::Error) -> ExitCode {
    // stderr may be gone too; the exit code still tells.
    let _ = writeln!(std::io::stderr(), "push-server: {err:#}");
    ExitCode::FAILURE
}

/// Writes a line to stdout, ignoring a closed stdout: the banner is informational.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Signals first: a SIGHUP during startup must not kill the process.
    let signals = Signals::install().context("installing signal handlers")?;
    let config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_yaml(&text).with_context(|| format!("config {}", path.display()))?
        }
        None => Config::default(),
    };
    let mut server_config = ServerConfig::from_config(&config)?;
    cli.limits.apply(&mut server_config)?;
    let url = match (&cli.db, &config.db) {
        (Some(url), _) => url.clone(),
        (None, Some(db)) => db.url()?,
        (None, None) => Db::default_sqlite_url(),
    };
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("opening database {}", middleware::redact_url(&url)))?;

    let ingest_spec = listen_spec(
        cli.ingest.as_deref(),
        config.push.server.as_ref(),
        DEFAULT_INGEST_PORT,
    )?;
    let broadcast_spec = listen_spec(
        cli.broadcast.as_deref(),
        config.push.broadcast.as_ref(),
        DEFAULT_BROADCAST_PORT,
    )?;
    let metrics = match cli.metrics.as_deref() {
        Some(text) => bind(&listen_spec(Some(text), None, 0)?)
            .await
            .context("binding the metrics listener")?,
        None => Vec::new(),
    };
    let listeners = Listeners {
        ingest: bind(&ingest_spec)
            .await
            .context("binding the ingest listener")?,
        broadcast: bind(&broadcast_spec)
            .await
            .context("binding the broadcast listener")?,
        metrics,
    };

    say!("Volkszaehler Push Server {}", env!("CARGO_PKG_VERSION"));
    say!("database:  {}", middleware::redact_url(&url));
    for l in &listeners.ingest {
        say!(
            "ingest:    http://{} (vzlogger push, any path)",
            l.local_addr()?
        );
    }
    for l in &listeners.broadcast {
        say!("broadcast: ws://{}", l.local_addr()?);
    }
    say!(
        "  WAMP v1 routes:          {}",
        routes(&server_config.wamp_routes)
    );
    say!(
        "  plain WebSocket routes:  {}",
        routes(&server_config.websocket_routes)
    );
    let status_on = match listeners.metrics.first() {
        Some(l) => format!("http://{}", l.local_addr()?),
        None => "the broadcast listener".to_owned(),
    };
    say!("  /metrics and /health on {status_on}");

    let shutdown = CancellationToken::new();
    let server = Arc::new(PushServer::new(server_config, db.clone()));
    tokio::spawn(signals.handle(server.clone(), shutdown.clone()));
    tracing::info!("serving");
    server.run(listeners, shutdown).await.context("serving")?;
    db.close().await;
    say!("push-server stopped");
    Ok(())
}

fn routes(routes: &[String]) -> String {
    if routes.is_empty() {
        "(disabled)".to_owned()
    } else {
        routes.join(", ")
    }
}

/// A listen address: CLI beats config beats the default port.
enum Listen {
    /// Every interface, IPv4 and IPv6.
    Port(u16),
    /// Exactly this address.
    Address(SocketAddr),
}

fn listen_spec(
    cli: Option<&str>,
    config: Option<&ListenSpec>,
    default: u16,
) -> anyhow::Result<Listen> {
    let text = match (cli, config) {
        (Some(text), _) => text.to_owned(),
        (None, Some(ListenSpec::Port(port))) => return Ok(Listen::Port(*port)),
        (None, Some(ListenSpec::Address(text))) => text.clone(),
        (None, None) => return Ok(Listen::Port(default)),
    };
    if let Ok(port) = text.parse::<u16>() {
        return Ok(Listen::Port(port));
    }
    text.parse::<SocketAddr>()
        .map(Listen::Address)
        .with_context(|| format!("invalid listen address '{text}' (expected PORT or HOST:PORT)"))
}

/// Binds a port on IPv6 and IPv4 (one dual-stack socket where the system allows it).
async fn bind(spec: &Listen) -> std::io::Result<Vec<TcpListener>> {
    match spec {
        Listen::Address(addr) => Ok(vec![TcpListener::bind(addr).await?]),
        Listen::Port(port) => match TcpListener::bind((Ipv6Addr::UNSPECIFIED, *port)).await {
            Ok(v6) => Ok(vec![v6]),
            Err(_) => Ok(vec![TcpListener::bind(("0.0.0.0", *port)).await?]),
        },
    }
}

/// SIGTERM and SIGINT end the server cleanly; SIGHUP re-reads channel metadata and keeps
/// every client. Nothing in here writes to stdout, so a closed stdout cannot break it.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn handle(mut self, server: Arc<PushServer>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.terminate.recv() => break,
                _ = self.interrupt.recv() => break,
                _ = self.hangup.recv() => {
                    tracing::info!("SIGHUP: re-reading channel metadata; clients stay connected");
                    server.reload();
                }
            }
        }
        tracing::info!("shutting down");
        shutdown.cancel();
    }

    #[cfg(not(unix))]
    async fn handle(self, _server: Arc<PushServer>, shutdown: CancellationToken) {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    }
}
