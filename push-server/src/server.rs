//! [`PushServer`]: ingest, hub and broadcast wired together, run on given listeners until a
//! shutdown token is cancelled.

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use middleware::Db;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::channels::Channels;
use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::ingest::{self, IngestState, IngestStats};
use crate::session::SessionContext;

/// The bound sockets; several per side allow IPv4 and IPv6 or multiple addresses.
pub struct Listeners {
    /// vzlogger pushes.
    pub ingest: Vec<TcpListener>,
    /// WAMP and plain WebSocket clients.
    pub broadcast: Vec<TcpListener>,
}

/// A configured push-server.
pub struct PushServer {
    config: ServerConfig,
    ingest: Arc<IngestState>,
    sessions: Arc<SessionContext>,
    tracker: TaskTracker,
}

impl PushServer {
    /// Builds the server state; nothing listens until [`PushServer::run`].
    pub fn new(config: ServerConfig, db: Db) -> PushServer {
        let hub = Arc::new(Hub::new(config.queue_capacity));
        let channels = Channels::new(db, config.metadata_refresh, config.lookup_timeout);
        let ingest = Arc::new(IngestState {
            channels,
            hub: hub.clone(),
            stats: IngestStats::default(),
            post_limit: config.post_limit,
        });
        let sessions = Arc::new(SessionContext {
            hub,
            shutdown: CancellationToken::new(),
            write_timeout: config.write_timeout,
            server_ident: config.server_ident.clone(),
            tracker: TaskTracker::new(),
        });
        let tracker = sessions.tracker.clone();
        PushServer {
            config,
            ingest,
            sessions,
            tracker,
        }
    }

    /// The fan-out hub (for counters).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.sessions.hub
    }

    /// Ingest counters.
    pub fn ingest_stats(&self) -> &IngestStats {
        &self.ingest.stats
    }

    /// The ingest router: every method and path is a push.
    pub fn ingest_router(&self) -> Router {
        Router::new()
            .fallback(ingest::handle)
            .layer(DefaultBodyLimit::max(self.config.post_limit))
            .with_state(self.ingest.clone())
    }

    /// The broadcast router with the configured WAMP and plain routes.
    pub fn broadcast_router(&self) -> Router {
        crate::broadcast::router(
            self.sessions.clone(),
            self.config.socket_limits,
            &self.config.wamp_routes,
            &self.config.websocket_routes,
        )
    }

    /// Serves until `shutdown` is cancelled: then stops accepting, lets in-flight pushes finish,
    /// closes every WebSocket with 1001 and waits up to the grace period for sessions to end.
    ///
    /// # Errors
    /// An I/O error of a listener.
    pub async fn run(&self, listeners: Listeners, shutdown: CancellationToken) -> io::Result<()> {
        let ingest = self.ingest_router();
        let broadcast = self.broadcast_router();
        let mut servers = tokio::task::JoinSet::new();
        for (listener, router) in listeners
            .ingest
            .into_iter()
            .map(|l| (l, ingest.clone()))
            .chain(
                listeners
                    .broadcast
                    .into_iter()
                    .map(|l| (l, broadcast.clone())),
            )
        {
            let stop = shutdown.clone();
            servers.spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            });
        }
        // Sessions are upgraded connections that axum::serve does not wait for; they watch
        // their own token and are tracked separately.
        let sessions = self.sessions.shutdown.clone();
        let stop_sessions = shutdown.clone();
        tokio::spawn(async move {
            stop_sessions.cancelled().await;
            sessions.cancel();
        });
        let mut result = Ok(());
        while let Some(joined) = servers.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    shutdown.cancel();
                    result = Err(err);
                }
                Err(join) => {
                    shutdown.cancel();
                    result = Err(io::Error::other(join));
                }
            }
        }
        self.sessions.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(self.config.shutdown_grace, self.tracker.wait()).await;
        result
    }
}
