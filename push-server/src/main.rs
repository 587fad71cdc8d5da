//! `push-server`: command line, logging, configuration, listeners and signals around
//! [`push_server::PushServer`].

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Frames a WebSocket client may fall behind before it is disconnected.
    #[arg(long, value_name = "FRAMES")]
    queue_capacity: Option<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "push_server=info,middleware=info".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("push-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_yaml(&text).with_context(|| format!("config {}", path.display()))?
        }
        None => Config::default(),
    };
    let mut server_config = ServerConfig::from_config(&config)?;
    if let Some(capacity) = cli.queue_capacity {
        server_config.queue_capacity = capacity;
    }
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
    let listeners = Listeners {
        ingest: bind(&ingest_spec)
            .await
            .context("binding the ingest listener")?,
        broadcast: bind(&broadcast_spec)
            .await
            .context("binding the broadcast listener")?,
    };

    println!("Volkszaehler Push Server {}", env!("CARGO_PKG_VERSION"));
    println!("database:  {}", middleware::redact_url(&url));
    for l in &listeners.ingest {
        println!(
            "ingest:    http://{} (vzlogger push, any path)",
            l.local_addr()?
        );
    }
    for l in &listeners.broadcast {
        println!("broadcast: ws://{}", l.local_addr()?);
    }
    println!(
        "  WAMP v1 routes:          {}",
        routes(&server_config.wamp_routes)
    );
    println!(
        "  plain WebSocket routes:  {}",
        routes(&server_config.websocket_routes)
    );

    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()));
    let server = PushServer::new(server_config, db.clone());
    server.run(listeners, shutdown).await.context("serving")?;
    db.close().await;
    println!("push-server stopped");
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

async fn on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            shutdown.cancel();
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
