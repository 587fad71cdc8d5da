//! Typed push-server settings, built once from a volkszaehler `config.yaml` and the command line.

use std::time::Duration;

use push_core::config::{Config, ConfigError};

use crate::broadcast::SocketLimits;

/// Everything the server needs besides its listeners and database.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted push body in bytes (`network.postlimit`, default 1 MiB); larger is 413.
    pub post_limit: usize,
    /// Paths speaking WAMP v1 (`push.wamp`, default `/` and `/ws`); empty disables WAMP.
    pub wamp_routes: Vec<String>,
    /// Paths speaking plain WebSocket (`push.websocket`, default `/socket`); empty disables it.
    pub websocket_routes: Vec<String>,
    /// Frames a client may fall behind before it is disconnected as slow.
    pub queue_capacity: usize,
    /// How long channel metadata (type, resolution) and "unknown UUID" answers are trusted
    /// before the database is asked again.
    pub metadata_refresh: Duration,
    /// Upper bound for one channel lookup; past it the push gets 503 for that channel.
    pub lookup_timeout: Duration,
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
        ServerConfig {
            post_limit: push_core::config::DEFAULT_POST_LIMIT,
            wamp_routes: vec!["/".into(), "/ws".into()],
            websocket_routes: vec!["/socket".into()],
            queue_capacity: 256,
            metadata_refresh: Duration::from_secs(10),
            lookup_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            socket_limits: SocketLimits::default(),
            server_ident: format!("vz-push-server/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl ServerConfig {
    /// Applies the `push.*` and `network.postlimit` keys of a volkszaehler config.
    ///
    /// # Errors
    /// [`ConfigError::PostLimit`] for an unreadable body limit.
    pub fn from_config(config: &Config) -> Result<ServerConfig, ConfigError> {
        let mut server = ServerConfig {
            post_limit: config.post_limit()?,
            ..ServerConfig::default()
        };
        if let Some(routes) = &config.push.wamp {
            server.wamp_routes.clone_from(routes);
        }
        if let Some(routes) = &config.push.websocket {
            server.websocket_routes.clone_from(routes);
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
}
