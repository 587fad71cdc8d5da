//! [`PushServer`]: ingest, hub and broadcast wired together, run on given listeners until a
//! shutdown token is cancelled.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use middleware::Db;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::channels::Channels;
use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::ingest::{self, IngestLimits, IngestState, IngestStats};
use crate::metrics::{self, Metrics};
use crate::serve::{self, ConnectionLimits, ListenerStats};
use crate::session::{SessionContext, SessionStats};
use crate::throttle::Throttle;

/// The paths of the operator endpoints.
pub const METRICS_PATH: &str = "/metrics";
/// See [`METRICS_PATH`].
pub const HEALTH_PATH: &str = "/health";

/// How long `/health` waits for the database.
const HEALTH_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound sockets; several per side allow IPv4 and IPv6 or multiple addresses.
#[derive(Default)]
pub struct Listeners {
    /// vzlogger pushes.
    pub ingest: Vec<TcpListener>,
    /// WAMP and plain WebSocket clients; also `/metrics` and `/health` unless `metrics` has
    /// listeners of its own.
    pub broadcast: Vec<TcpListener>,
    /// `/metrics` and `/health` only.
    pub metrics: Vec<TcpListener>,
}

/// Connection counters per listener kind.
#[derive(Debug, Clone)]
struct ListenerKinds {
    open: metrics::GaugeFamily,
    accepted: metrics::CounterFamily,
    ingest: ListenerStats,
    broadcast: ListenerStats,
    metrics: ListenerStats,
}

impl Default for ListenerKinds {
    fn default() -> Self {
        let open = metrics::GaugeFamily::default();
        let accepted = metrics::CounterFamily::default();
        let stats = |kind| ListenerStats {
            open: metrics::member(&open, "listener", kind),
            accepted: metrics::member(&accepted, "listener", kind),
        };
        ListenerKinds {
            ingest: stats("ingest"),
            broadcast: stats("broadcast"),
            metrics: stats("metrics"),
            open,
            accepted,
        }
    }
}

/// A configured push-server.
pub struct PushServer {
    config: ServerConfig,
    ingest: Arc<IngestState>,
    sessions: Arc<SessionContext>,
    channels: Arc<Channels>,
    tracker: TaskTracker,
    reload: Notify,
    ping_ticks: watch::Sender<u64>,
    metrics: Metrics,
    listeners: ListenerKinds,
}

impl PushServer {
    /// Builds the server state; nothing listens until [`PushServer::run`].
    pub fn new(config: ServerConfig, db: Db) -> PushServer {
        let hub = Arc::new(Hub::with_limits(config.hub));
        let channels = Arc::new(Channels::new(db, config.channels));
        let ingest = Arc::new(IngestState {
            channels: channels.clone(),
            hub: hub.clone(),
            stats: IngestStats::default(),
            limits: IngestLimits {
                post_limit: config.post_limit,
                body_timeout: config.body_timeout,
                max_ahead: config.max_ahead,
            },
            log: Throttle::default(),
        });
        let (ping_ticks, ping_receiver) = watch::channel(0);
        let sessions = Arc::new(SessionContext {
            hub,
            shutdown: CancellationToken::new(),
            write_timeout: config.write_timeout,
            server_ident: config.server_ident.clone(),
            tracker: TaskTracker::new(),
            ping_ticks: ping_receiver,
            idle_timeout: config.idle_timeout,
            stats: SessionStats::default(),
        });
        let tracker = sessions.tracker.clone();
        let server = PushServer {
            config,
            ingest,
            sessions,
            channels,
            tracker,
            reload: Notify::new(),
            ping_ticks,
            metrics: Metrics::new(),
            listeners: ListenerKinds::default(),
        };
        server.register_metrics();
        server
    }

    fn register_metrics(&self) {
        self.metrics.register(|registry| {
            self.ingest.stats.register(registry);
            self.sessions.hub.stats().register(registry);
            self.sessions.stats.register(registry);
            self.channels.stats().register(registry);
            registry.register(
                "tcp_connections",
                "Open TCP connections by listener (WebSockets included)",
                self.listeners.open.clone(),
            );
            registry.register(
                "tcp_connections_accepted",
                "TCP connections accepted by listener",
                self.listeners.accepted.clone(),
            );
        });
    }

    /// The fan-out hub (for counters).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.sessions.hub
    }

    /// Ingest counters.
    pub fn ingest_stats(&self) -> &IngestStats {
        &self.ingest.stats
    }

    /// The channel registry.
    pub fn channels(&self) -> &Arc<Channels> {
        &self.channels
    }

    /// Re-reads what can change while running (channel metadata) now, as on SIGHUP. Clients
    /// stay connected.
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    /// The Prometheus text exposition of every counter.
    pub fn metrics_text(&self) -> String {
        self.sessions.hub.refresh_gauges();
        self.metrics.render()
    }

    /// The ingest router: every method and path is a push.
    pub fn ingest_router(&self) -> Router {
        Router::new()
            .fallback(ingest::handle)
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

    /// `GET /metrics` and `GET /health`, leaving out a path a WebSocket route already uses.
    pub fn status_router(self: &Arc<Self>) -> Router {
        let taken = |path: &str| {
            self.config.wamp_routes.iter().any(|r| r == path)
                || self.config.websocket_routes.iter().any(|r| r == path)
        };
        let mut router = Router::new();
        for (path, route) in [
            (METRICS_PATH, get(metrics_endpoint)),
            (HEALTH_PATH, get(health_endpoint)),
        ] {
            if taken(path) {
                tracing::warn!(
                    path,
                    "a WebSocket route uses this path; use --metrics ADDR to serve it"
                );
            } else {
                router = router.route(path, route);
            }
        }
        router.with_state(self.clone())
    }

    /// Serves until `shutdown` is cancelled: then stops accepting, lets in-flight pushes finish,
    /// closes every WebSocket with 1001 and waits up to the grace period for sessions to end.
    ///
    /// # Errors
    /// An I/O error of a listener.
    pub async fn run(
        self: &Arc<Self>,
        listeners: Listeners,
        shutdown: CancellationToken,
    ) -> io::Result<()> {
        let ingest = self.ingest_router();
        let status = self.status_router();
        let broadcast = if listeners.metrics.is_empty() {
            self.broadcast_router().merge(status.clone())
        } else {
            self.broadcast_router()
        };
        let metrics_limits = ConnectionLimits {
            max_connections: 64,
            ..self.config.ingest_connections
        };
        let mut servers = tokio::task::JoinSet::new();
        let sides = [
            (
                listeners.ingest,
                ingest,
                self.config.ingest_connections,
                &self.listeners.ingest,
            ),
            (
                listeners.broadcast,
                broadcast,
                self.config.broadcast_connections,
                &self.listeners.broadcast,
            ),
            (
                listeners.metrics,
                status,
                metrics_limits,
                &self.listeners.metrics,
            ),
        ];
        for (sockets, router, limits, stats) in sides {
            for listener in sockets {
                servers.spawn(serve::serve(
                    listener,
                    router.clone(),
                    limits,
                    stats.clone(),
                    shutdown.clone(),
                ));
            }
        }
        let refresher = tokio::spawn({
            let server = self.clone();
            let stop = shutdown.clone();
            async move {
                server
                    .channels
                    .refresh_periodically(server.config.metadata_refresh, &server.reload, &stop)
                    .await;
            }
        });
        let ticker = tokio::spawn({
            let server = self.clone();
            let stop = shutdown.clone();
            async move {
                let every = server.config.ping_interval.max(Duration::from_millis(10));
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = ticks.tick() => server.ping_ticks.send_modify(|n| *n = n.wrapping_add(1)),
                    }
                }
            }
        });
        // Sessions are upgraded connections that the HTTP servers do not wait for; they watch
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
        shutdown.cancel();
        let _ = refresher.await;
        let _ = ticker.await;
        self.sessions.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(self.config.shutdown_grace, self.tracker.wait()).await;
        result
    }
}

async fn metrics_endpoint(State(server): State<Arc<PushServer>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        server.metrics_text(),
    )
        .into_response()
}

/// 200 while the server serves, with the database's reachability in the body: known channels
/// keep converting during a database outage, so an outage is not a reason to be taken out of
/// a load balancer.
async fn health_endpoint(State(server): State<Arc<PushServer>>) -> Response {
    let database = match tokio::time::timeout(HEALTH_DB_TIMEOUT, server.channels.db().ping()).await
    {
        Ok(Ok(())) => "reachable",
        Ok(Err(_)) | Err(_) => "unreachable",
    };
    let body = format!(
        "{{\"status\":\"serving\",\"database\":\"{database}\",\"sessions\":{}}}",
        server.sessions.hub.session_count()
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
