//! The volkszaehler `config.yaml` schema, parsed from a string (callers read the file).
//!
//! An existing installation's `etc/config.yaml` must work unchanged, so the raw structs accept
//! exactly the keys volkszaehler uses (`db`, `db.admin`, `push.*`, `network.postlimit`, `timezone`)
//! and ignore every other key. Conversion to typed values (database URL, body limit) happens here
//! once, so binaries never re-check.

use serde::Deserialize;

/// Default ingest port (decision 1; the PHP template says 5582, the upstream README 5555).
pub const DEFAULT_INGEST_PORT: u16 = 5555;
/// Default broadcast port for WAMP and plain WebSocket clients.
pub const DEFAULT_BROADCAST_PORT: u16 = 8082;
/// Default request body limit for pushes (decision 4): 1 MiB.
pub const DEFAULT_POST_LIMIT: usize = 1024 * 1024;
/// The largest body any configuration can allow: `postlimit: false` ("no limit" in PHP, where
/// the web server still had its own cap) and larger sizes are held to this, so a stranger can
/// never make one request cost more memory.
pub const MAX_POST_LIMIT: usize = 64 * 1024 * 1024;
/// The longest WebSocket route accepted in `push.wamp` / `push.websocket`.
const MAX_ROUTE_LEN: usize = 256;

/// Errors from reading a volkszaehler configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not YAML, or a known key has the wrong shape.
    #[error("invalid configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// `db.driver` names a PDO driver we do not speak.
    #[error("unsupported db.driver '{0}' (expected pdo_mysql, pdo_pgsql or pdo_sqlite)")]
    UnsupportedDriver(String),
    /// A key needed for the chosen driver is missing (e.g. `db.path` for pdo_sqlite).
    #[error("db.{key} is required for driver {driver}")]
    MissingDbKey {
        /// The missing key below `db`.
        key: &'static str,
        /// The configured driver.
        driver: String,
    },
    /// `network.postlimit` is neither a byte count nor a size like `8M`.
    #[error("invalid network.postlimit '{0}' (expected bytes, a size such as 64K or 8M, or false)")]
    PostLimit(String),
    /// A WebSocket route in `push.wamp` or `push.websocket` cannot be served.
    #[error("invalid route '{route}' in push.{key}: {reason}")]
    Route {
        /// `wamp` or `websocket`.
        key: &'static str,
        /// The route as written.
        route: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The parts of a volkszaehler `config.yaml` this project reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Database connection (`db:`), absent when the embedded SQLite default is used.
    pub db: Option<DbConfig>,
    /// Push-server listeners and routes (`push:`).
    pub push: PushConfig,
    /// HTTP limits (`network:`).
    pub network: NetworkConfig,
    /// Top-level `timezone`, used by the tools for local calendars.
    pub timezone: Option<String>,
    /// `php:` — PHP settings; its `timezone` is the one volkszaehler's own template sets.
    pub php: PhpConfig,
    /// `security:` — older volkszaehler releases named the body limit `security.maxbodysize`.
    pub security: SecurityConfig,
}

/// `php:` — settings volkszaehler applies to the PHP process.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PhpConfig {
    /// PHP's `date.timezone`.
    pub timezone: Option<String>,
}

/// `security:` of older volkszaehler configs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SecurityConfig {
    /// The body limit before it moved to `network.postlimit`.
    pub maxbodysize: Option<SizeSpec>,
}

impl Config {
    /// Parses the YAML text of a volkszaehler `config.yaml`.
    ///
    /// # Errors
    /// [`ConfigError::Yaml`] when the text is not YAML or a known key has the wrong type.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        Ok(serde_yaml::from_str(text)?)
    }

    /// The configured body limit in bytes (`network.postlimit`, else the older
    /// `security.maxbodysize`), or [`DEFAULT_POST_LIMIT`]. `false` means "no volkszaehler
    /// limit" as in PHP and gives [`MAX_POST_LIMIT`]; every size is held to that cap.
    ///
    /// # Errors
    /// [`ConfigError::PostLimit`] for an unreadable size.
    pub fn post_limit(&self) -> Result<usize, ConfigError> {
        let spec = self
            .network
            .postlimit
            .as_ref()
            .or(self.security.maxbodysize.as_ref());
        let bytes = match spec {
            None | Some(SizeSpec::Switch(true)) => DEFAULT_POST_LIMIT,
            Some(SizeSpec::Switch(false)) => MAX_POST_LIMIT,
            Some(SizeSpec::Bytes(n)) => *n,
            Some(SizeSpec::Text(s)) => {
                parse_size(s).ok_or_else(|| ConfigError::PostLimit(s.clone()))?
            }
        };
        Ok(bytes.min(MAX_POST_LIMIT))
    }

    /// The time zone for local calendars: top-level `timezone`, else `php.timezone` (where
    /// volkszaehler's own template puts it).
    pub fn time_zone(&self) -> Option<&str> {
        self.timezone.as_deref().or(self.php.timezone.as_deref())
    }

    /// The WAMP v1 routes, normalised (`ws` becomes `/ws`); `None` when the key is absent.
    ///
    /// # Errors
    /// [`ConfigError::Route`] for a route that cannot be an exact path.
    pub fn wamp_routes(&self) -> Result<Option<Vec<String>>, ConfigError> {
        normalise_routes("wamp", self.push.wamp.as_deref())
    }

    /// The plain WebSocket routes, normalised like [`Config::wamp_routes`].
    ///
    /// # Errors
    /// [`ConfigError::Route`] for a route that cannot be an exact path.
    pub fn websocket_routes(&self) -> Result<Option<Vec<String>>, ConfigError> {
        normalise_routes("websocket", self.push.websocket.as_deref())
    }
}

fn normalise_routes(
    key: &'static str,
    routes: Option<&[String]>,
) -> Result<Option<Vec<String>>, ConfigError> {
    routes
        .map(|routes| {
            routes
                .iter()
                .map(|route| {
                    normalise_route(route).map_err(|reason| ConfigError::Route {
                        key,
                        route: route.clone(),
                        reason,
                    })
                })
                .collect()
        })
        .transpose()
}

/// Makes a configured route an exact path: a missing leading `/` is added (PHP's router
/// accepted `ws`), and what a path cannot contain, or what the router would read as a
/// parameter or wildcard, is refused with the reason.
pub fn normalise_route(route: &str) -> Result<String, &'static str> {
    let trimmed = route.trim();
    if trimmed.is_empty() {
        return Err("a route must not be empty");
    }
    if trimmed.len() > MAX_ROUTE_LEN {
        return Err("a route must not be longer than 256 bytes");
    }
    if trimmed.contains("://") {
        return Err("a route is a path such as /ws, not a URL");
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '{' | '}' | '*'))
    {
        return Err(match c {
            '?' | '#' => "a route is a path without query or fragment",
            '{' | '}' | '*' => "a route is an exact path without { } or *",
            _ => "a route must not contain spaces or control characters",
        });
    }
    let path = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    if path.split('/').any(|segment| segment.starts_with(':')) {
        return Err("a route segment must not start with ':'");
    }
    Ok(path)
}

/// `push:` — ports and WebSocket routes of the push-server.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PushConfig {
    /// Ingest listener: a port (volkszaehler style) or `host:port`.
    pub server: Option<ListenSpec>,
    /// Broadcast listener: a port or `host:port`.
    pub broadcast: Option<ListenSpec>,
    /// Paths that speak WAMP v1; an empty list disables WAMP, as in PHP.
    pub wamp: Option<Vec<String>>,
    /// Paths that speak plain WebSocket; an empty list disables it.
    pub websocket: Option<Vec<String>>,
}

/// A listen address as written in the config: a bare port or `host:port`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ListenSpec {
    /// `server: 5582` — every interface, IPv4 and IPv6.
    Port(u16),
    /// `server: "127.0.0.1:5582"` — exactly this address.
    Address(String),
}

/// `network:` settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkConfig {
    /// Maximum accepted request body.
    pub postlimit: Option<SizeSpec>,
}

/// A size as written in the config: bytes, PHP shorthand (`64K`, `8M`, `1G`) or a switch
/// (`false` is volkszaehler's "no limit").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SizeSpec {
    /// `false`: no volkszaehler limit (the safety cap still applies); `true`: the default.
    Switch(bool),
    /// A plain byte count.
    Bytes(usize),
    /// PHP ini shorthand.
    Text(String),
}

fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, factor) = match t.char_indices().last()? {
        (i, 'k' | 'K') => (&t[..i], 1024),
        (i, 'm' | 'M') => (&t[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&t[..i], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(factor)
}

/// `db:` — Doctrine DBAL connection parameters as volkszaehler writes them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DbConfig {
    /// `pdo_mysql`, `pdo_pgsql` or `pdo_sqlite` (also accepted without the `pdo_` prefix).
    pub driver: Option<String>,
    /// Server host; default `localhost`.
    pub host: Option<String>,
    /// Server port; default per driver.
    pub port: Option<u16>,
    /// User name (`username` in some volkszaehler templates' `db.admin`).
    #[serde(alias = "username")]
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Database name.
    pub dbname: Option<String>,
    /// SQLite file path.
    pub path: Option<String>,
    /// `db.admin`: credentials merged over these for administrative tools (aggregation).
    pub admin: Option<Box<DbConfig>>,
}

impl DbConfig {
    /// The connection as a URL (`mysql://…`, `postgres://…`, `sqlite://…`).
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedDriver`] or [`ConfigError::MissingDbKey`].
    pub fn url(&self) -> Result<String, ConfigError> {
        let driver = self.driver.as_deref().unwrap_or("pdo_mysql");
        let scheme = match driver.trim_start_matches("pdo_") {
            "mysql" => "mysql",
            "pgsql" | "postgres" | "postgresql" => "postgres",
            "sqlite" => {
                let path = self
                    .path
                    .as_deref()
                    .ok_or_else(|| ConfigError::MissingDbKey {
                        key: "path",
                        driver: driver.to_owned(),
                    })?;
                return Ok(format!("sqlite://{path}"));
            }
            _ => return Err(ConfigError::UnsupportedDriver(driver.to_owned())),
        };
        let dbname = self
            .dbname
            .as_deref()
            .ok_or_else(|| ConfigError::MissingDbKey {
                key: "dbname",
                driver: driver.to_owned(),
            })?;
        let mut url = format!("{scheme}://");
        if let Some(user) = &self.user {
            url.push_str(&percent_encode(user));
            if let Some(password) = self.password.as_deref().filter(|p| !p.is_empty()) {
                url.push(':');
                url.push_str(&percent_encode(password));
            }
            url.push('@');
        }
        url.push_str(self.host.as_deref().unwrap_or("localhost"));
        if let Some(port) = self.port {
            url.push_str(&format!(":{port}"));
        }
        url.push('/');
        url.push_str(&percent_encode(dbname));
        Ok(url)
    }

    /// The connection with `db.admin` merged over it (what volkszaehler's admin tools use).
    pub fn with_admin(&self) -> DbConfig {
        let mut merged = self.clone();
        merged.admin = None;
        if let Some(admin) = &self.admin {
            macro_rules! take {
                ($($field:ident),*) => {$(
                    if admin.$field.is_some() { merged.$field = admin.$field.clone(); }
                )*};
            }
            take!(driver, host, port, user, password, dbname, path);
        }
        merged
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so passwords with `@` or `/`
/// survive inside a URL.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_url(yaml: &str) -> Result<String, ConfigError> {
        Config::from_yaml(yaml)?.db.expect("db section").url()
    }

    #[test]
    fn volkszaehler_dist_config_is_read() {
        let yaml = "
db:
    driver: pdo_mysql
    host: localhost
    user: vz
    password: demo
    dbname: volkszaehler
    admin:
        user: vz_admin
        password: 'admin@pw'
push:
    server: 5582
    broadcast: 8082
    wamp:
        - /
        - /ws
    websocket:
        - /socket
locale:
    - [de, de_DE]
network:
    postlimit: 8M
";
        let config = Config::from_yaml(yaml).unwrap();
        assert_eq!(config.push.server, Some(ListenSpec::Port(5582)));
        assert_eq!(
            config.push.wamp.as_deref(),
            Some(&["/".to_owned(), "/ws".to_owned()][..])
        );
        assert_eq!(
            config.push.websocket.as_deref(),
            Some(&["/socket".to_owned()][..])
        );
        assert_eq!(config.post_limit().unwrap(), 8 * 1024 * 1024);
        let db = config.db.unwrap();
        assert_eq!(db.url().unwrap(), "mysql://vz:demo@localhost/volkszaehler");
        assert_eq!(
            db.with_admin().url().unwrap(),
            "mysql://vz_admin:admin%40pw@localhost/volkszaehler"
        );
    }

    #[test]
    fn drivers_map_to_urls() {
        let pg = "db: {driver: pdo_pgsql, host: db, port: 5433, user: postgres, dbname: vz}";
        assert_eq!(db_url(pg).unwrap(), "postgres://postgres@db:5433/vz");
        let sqlite = "db: {driver: pdo_sqlite, path: /var/lib/vz/vz.db3}";
        assert_eq!(db_url(sqlite).unwrap(), "sqlite:///var/lib/vz/vz.db3");
        let empty_pw = "db: {driver: pdo_mysql, user: root, password: '', dbname: test}";
        assert_eq!(db_url(empty_pw).unwrap(), "mysql://root@localhost/test");
    }

    #[test]
    fn bad_db_sections_are_named() {
        let err = db_url("db: {driver: pdo_oci, dbname: x}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported db.driver 'pdo_oci' (expected pdo_mysql, pdo_pgsql or pdo_sqlite)"
        );
        let err = db_url("db: {driver: pdo_sqlite}").unwrap_err();
        assert_eq!(err.to_string(), "db.path is required for driver pdo_sqlite");
    }

    #[test]
    fn post_limit_forms() {
        let limit = |yaml: &str| Config::from_yaml(yaml).unwrap().post_limit();
        assert_eq!(limit("").unwrap(), DEFAULT_POST_LIMIT);
        assert_eq!(limit("network: {postlimit: 65536}").unwrap(), 65536);
        assert_eq!(limit("network: {postlimit: 64K}").unwrap(), 65536);
        assert!(limit("network: {postlimit: lots}").is_err());
    }

    #[test]
    fn listen_address_forms() {
        let config =
            Config::from_yaml("push: {server: '127.0.0.1:5555', broadcast: 9000}").unwrap();
        assert_eq!(
            config.push.server,
            Some(ListenSpec::Address("127.0.0.1:5555".into()))
        );
        assert_eq!(config.push.broadcast, Some(ListenSpec::Port(9000)));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(Config::from_yaml("push: {wamp: 5}").is_err());
    }
}
