//! Typed push-server settings, built once from a volkszaehler `config.yaml` and the command line.

use std::time::Duration;

use push_core::config::{Config, ConfigError};

use crate::broadcast::SocketLimits;
use crate::channels::ChannelLimits;
use crate::hub::HubLimits;
use crate::serve::ConnectionLimits;

/// Everything the server needs besides its listeners and database. Every resource a client can
/// make the server spend has a limit here, with a safe default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted push body in bytes (`network.postlimit`, default 1 MiB); larger is 413.
    pub post_limit: usize,
    /// Paths speaking WAMP v1 (`push.wamp`, default `/` and `/ws`); empty disables WAMP.
    pub wamp_routes: Vec<String>,
    /// Paths speaking plain WebSocket (`push.websocket`, default `/socket`); empty disables it.
    pub websocket_routes: Vec<String>,
    /// Queue length, subscriptions per connection and topic length.
    pub hub: HubLimits,
    /// How often the metadata of known channels is re-read (in the background; also on SIGHUP).
    pub metadata_refresh: Duration,
    /// Lookup timeout and the bounded cache of unknown UUIDs.
    pub channels: ChannelLimits,
    /// Connections and header timeout of the ingest listener.
    pub ingest_connections: ConnectionLimits,
    /// Connections and handshake timeout of the broadcast listener.
    pub broadcast_connections: ConnectionLimits,
    /// Time to receive a push body once its head arrived; slower is 408.
    pub body_timeout: Duration,
    /// How far ahead of the server clock a tuple may be; later tuples refuse their channel.
    pub max_ahead: Duration,
    /// How often a silent WebSocket client is pinged.
    pub ping_interval: Duration,
    /// A WebSocket client silent (no frame, no pong) for this long is disconnected.
    pub idle_timeout: Duration,
    /// Upper bound for one WebSocket write.
    pub write_timeout: Duration,
    /// How long shutdown waits for sessions to close.
    pub shutdown_grace: Duration,
    /// WebSocket buffer sizes.
    pub socket_limits: SocketLimits,
    /// Sent in WAMP WELCOME.
    pub server_ident: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let shutdown_grace = Duration::from_secs(5);
        let connections = |max_connections| ConnectionLimits {
            max_connections,
            header_timeout: Duration::from_secs(10),
            shutdown_grace,
        };
        ServerConfig {
            post_limit: push_core::config::DEFAULT_POST_LIMIT,
            wamp_routes: vec!["/".into(), "/ws".into()],
            websocket_routes: vec!["/socket".into()],
            hub: HubLimits::default(),
            metadata_refresh: Duration::from_secs(10),
            channels: ChannelLimits::default(),
            ingest_connections: connections(1024),
            broadcast_connections: connections(16_384),
            body_timeout: Duration::from_secs(30),
            max_ahead: Duration::from_secs(86_400),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(10),
            shutdown_grace,
            socket_limits: SocketLimits::default(),
            server_ident: format!("vz-push-server/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl ServerConfig {
    /// Applies the `push.*` and `network.postlimit` keys of a volkszaehler config.
    ///
    /// # Errors
    /// [`ConfigError::PostLimit`] for an unreadable body limit, [`ConfigError::Route`] for a
    /// route that cannot be served.
    pub fn from_config(config: &Config) -> Result<ServerConfig, ConfigError> {
        let mut server = ServerConfig {
            post_limit: config.post_limit()?,
            ..ServerConfig::default()
        };
        if let Some(routes) = config.wamp_routes()? {
            server.wamp_routes = routes;
        }
        if let Some(routes) = config.websocket_routes()? {
            server.websocket_routes = routes;
        }
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_yaml_overrides_defaults() {
        let config =
            Config::from_yaml("push: {wamp: [/live], websocket: []}\nnetwork: {postlimit: 64K}")
                .unwrap();
        let server = ServerConfig::from_config(&config).unwrap();
        assert_eq!(server.wamp_routes, ["/live"]);
        assert!(server.websocket_routes.is_empty());
        assert_eq!(server.post_limit, 65536);

        let server = ServerConfig::from_config(&Config::default()).unwrap();
        assert_eq!(server.wamp_routes, ["/", "/ws"]);
        assert_eq!(server.websocket_routes, ["/socket"]);
        assert_eq!(server.post_limit, 1024 * 1024);
    }

    #[test]
    fn routes_without_a_slash_are_normalised_and_bad_ones_refused() {
        let config = Config::from_yaml("push: {wamp: [ws]}").unwrap();
        assert_eq!(
            ServerConfig::from_config(&config).unwrap().wamp_routes,
            ["/ws"]
        );
        let config = Config::from_yaml("push: {websocket: ['/:x']}").unwrap();
        assert_eq!(
            ServerConfig::from_config(&config).unwrap_err().to_string(),
            "invalid route '/:x' in push.websocket: a route segment must not start with ':'"
        );
    }
}
