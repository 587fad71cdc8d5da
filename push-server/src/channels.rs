//! The channel registry: per-UUID conversion state plus cached channel metadata.
//!
//! The PHP push-server looked a channel up once and never again, so an edited resolution needed
//! a restart, and an unknown UUID hit the database on every push. Here:
//!
//! - a known channel is answered from memory, always: its metadata is refreshed by a background
//!   task ([`Channels::refresh_all`], every `metadata_refresh` and on SIGHUP), so a push never
//!   waits for the database, and a database outage only freezes the metadata;
//! - conversion state survives a refresh (an edited resolution applies to the next tuple);
//! - an unknown UUID is remembered for a short time only (a channel created meanwhile is
//!   accepted within that time) and in a cache of bounded size, so random UUIDs from a stranger
//!   cannot grow memory;
//! - database causes are logged here, once per outage, and never reach the pusher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use middleware::{Db, Entity};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use push_core::convert::{ChannelParams, ConvertError, Converter};
use push_core::definition;

/// Why a channel of a push was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    /// The UUID fails even the lenient volkszaehler check.
    #[error("Invalid UUID: '{0}'")]
    InvalidUuid(String),
    /// No entity has this UUID.
    #[error("No entity with UUID '{0}'")]
    Unknown(String),
    /// The UUID names a group, building or user, which has no readings.
    #[error("Getting data is not supported for groups ('{0}')")]
    Group(String),
    /// The entity's type is not one of the 38 definitions.
    #[error("Channel '{uuid}' has unknown type '{kind}'")]
    UnknownType {
        /// The channel.
        uuid: String,
        /// Its `entities.type`.
        kind: String,
    },
    /// The database could not be asked about a channel not seen before. The cause is logged by
    /// the server; clients only learn that the database is unavailable.
    #[error("Database unavailable, cannot look up channel '{0}'")]
    Unavailable(String),
}

/// One known channel: its converter (state + parameters).
pub struct Channel {
    /// Conversion state and parameters; locked for the duration of one push's tuples.
    pub converter: Converter,
}

/// Limits of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLimits {
    /// Upper bound for one database lookup; past it the push gets 503 for that channel.
    pub lookup_timeout: Duration,
    /// How long "no such channel" is believed; a channel created meanwhile is accepted after
    /// at most this long.
    pub unknown_ttl: Duration,
    /// Most unknown UUIDs remembered at once.
    pub unknown_capacity: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        ChannelLimits {
            lookup_timeout: Duration::from_secs(5),
            unknown_ttl: Duration::from_secs(1),
            unknown_capacity: 10_000,
        }
    }
}

/// Counters of the registry.
#[derive(Debug, Clone, Default)]
pub struct ChannelStats {
    /// Channels known (with conversion state).
    pub known: Gauge,
    /// Unknown UUIDs remembered now.
    pub unknown_cached: Gauge,
    /// Database lookups of UUIDs not in memory.
    pub lookups: Counter,
    /// 1 while the database answers, 0 during an outage.
    pub database_up: Gauge,
    /// Transitions into an outage.
    pub outages: Counter,
}

impl ChannelStats {
    /// Registers the counters.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "channels",
            "Channels with conversion state",
            self.known.clone(),
        );
        registry.register(
            "unknown_uuids_cached",
            "Unknown UUIDs remembered (bounded)",
            self.unknown_cached.clone(),
        );
        registry.register(
            "channel_lookups",
            "Database lookups of channels not in memory",
            self.lookups.clone(),
        );
        registry.register(
            "database_up",
            "1 while the database answers, 0 during an outage",
            self.database_up.clone(),
        );
        registry.register(
            "database_outages",
            "Times the database stopped answering",
            self.outages.clone(),
        );
    }
}

/// The registry shared by all ingest requests.
pub struct Channels {
    db: Db,
    limits: ChannelLimits,
    known: Mutex<HashMap<String, Arc<Mutex<Channel>>>>,
    /// UUIDs the database did not know, with the time of the answer.
    unknown: Mutex<HashMap<String, Instant>>,
    /// False during a database outage, so it is logged once and its end too.
    database_up: AtomicBool,
    stats: ChannelStats,
}

impl Channels {
    /// A registry reading metadata from `db`.
    pub fn new(db: Db, limits: ChannelLimits) -> Channels {
        let stats = ChannelStats::default();
        stats.database_up.set(1);
        Channels {
            db,
            limits,
            known: Mutex::default(),
            unknown: Mutex::default(),
            database_up: AtomicBool::new(true),
            stats,
        }
    }

    /// The registry's counters.
    pub fn stats(&self) -> &ChannelStats {
        &self.stats
    }

    /// Whether the last database access succeeded.
    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    /// The database, for health checks.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The channel for `uuid` (exactly as pushed). A known channel is answered from memory;
    /// only a UUID not seen recently is looked up.
    ///
    /// # Errors
    /// [`LookupError`] naming why this channel cannot take readings now.
    pub async fn get(&self, uuid: &str) -> Result<Arc<Mutex<Channel>>, LookupError> {
        if let Some(channel) = lock(&self.known).get(uuid) {
            return Ok(channel.clone());
        }
        self.load(uuid).await
    }

    async fn load(&self, uuid: &str) -> Result<Arc<Mutex<Channel>>, LookupError> {
        if !push_core::payload::is_valid_uuid(uuid) {
            return Err(LookupError::InvalidUuid(uuid.to_owned()));
        }
        if let Some(at) = lock(&self.unknown).get(uuid)
            && at.elapsed() < self.limits.unknown_ttl
        {
            return Err(LookupError::Unknown(uuid.to_owned()));
        }
        self.stats.lookups.inc();
        let Some(entity) = self.find(uuid).await? else {
            self.remember_unknown(uuid);
            return Err(LookupError::Unknown(uuid.to_owned()));
        };
        let converter =
            Converter::new(params(uuid, &entity)?).map_err(|e| convert_error(uuid, &e))?;
        self.forget_unknown(uuid);
        let channel = Arc::new(Mutex::new(Channel { converter }));
        let mut known = lock(&self.known);
        // Two first pushes may race; the first registered state wins so no priming is lost twice.
        let channel = known.entry(uuid.to_owned()).or_insert(channel).clone();
        self.stats.known.set(gauge_value(known.len()));
        Ok(channel)
    }

    fn remember_unknown(&self, uuid: &str) {
        let mut unknown = lock(&self.unknown);
        if unknown.len() >= self.limits.unknown_capacity {
            let ttl = self.limits.unknown_ttl;
            unknown.retain(|_, at| at.elapsed() < ttl);
        }
        // Still full of fresh entries: a flood of random UUIDs. Not caching this one costs a
        // lookup next time, never memory.
        if unknown.len() < self.limits.unknown_capacity {
            unknown.insert(uuid.to_owned(), Instant::now());
        }
        self.stats.unknown_cached.set(gauge_value(unknown.len()));
    }

    fn forget_unknown(&self, uuid: &str) {
        let mut unknown = lock(&self.unknown);
        unknown.remove(uuid);
        self.stats.unknown_cached.set(gauge_value(unknown.len()));
    }

    /// Re-reads the metadata of every known channel: resolution edits apply, deleted channels
    /// are forgotten. During an outage the known metadata is kept and the round ends at the
    /// first failure. Runs off the request path.
    pub async fn refresh_all(&self) {
        let uuids: Vec<String> = lock(&self.known).keys().cloned().collect();
        for uuid in uuids {
            let entity = match self.find(&uuid).await {
                Ok(entity) => entity,
                Err(_unavailable) => return,
            };
            let Some(channel) = lock(&self.known).get(&uuid).cloned() else {
                continue;
            };
            let updated = match entity {
                Some(entity) => params(&uuid, &entity).and_then(|params| {
                    lock(&channel)
                        .converter
                        .update_params(params)
                        .map_err(|e| convert_error(&uuid, &e))
                }),
                None => Err(LookupError::Unknown(uuid.clone())),
            };
            if let Err(err) = updated {
                // Deleted, or turned into something that takes no readings: forget its state.
                tracing::info!(uuid, reason = %err, "channel no longer accepts readings");
                let mut known = lock(&self.known);
                known.remove(&uuid);
                self.stats.known.set(gauge_value(known.len()));
            }
        }
    }

    /// Refreshes every `every` and whenever `now` is notified, until `shutdown`.
    pub async fn refresh_periodically(
        &self,
        every: Duration,
        now: &tokio::sync::Notify,
        shutdown: &tokio_util::sync::CancellationToken,
    ) {
        // A zero interval would spin against the database.
        let every = every.max(Duration::from_millis(10));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
                () = now.notified() => tracing::info!("re-reading channel metadata"),
            }
            self.refresh_all().await;
        }
    }

    async fn find(&self, uuid: &str) -> Result<Option<Entity>, LookupError> {
        let result = tokio::time::timeout(self.limits.lookup_timeout, self.db.find_entity(uuid))
            .await
            .map_err(|_| format!("no answer within {:?}", self.limits.lookup_timeout))
            .and_then(|found| found.map_err(|err| err.to_string()));
        match result {
            Ok(entity) => {
                if !self.database_up.swap(true, Ordering::Relaxed) {
                    self.stats.database_up.set(1);
                    tracing::info!("database reachable again");
                }
                Ok(entity)
            }
            Err(cause) => {
                if self.database_up.swap(false, Ordering::Relaxed) {
                    self.stats.database_up.set(0);
                    self.stats.outages.inc();
                    tracing::error!(
                        cause,
                        "database unavailable; known channels keep converting with cached metadata"
                    );
                } else {
                    tracing::debug!(uuid, cause, "database still unavailable");
                }
                Err(LookupError::Unavailable(uuid.to_owned()))
            }
        }
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn params(uuid: &str, entity: &Entity) -> Result<ChannelParams, LookupError> {
    let def = definition::definition(&entity.kind).ok_or_else(|| LookupError::UnknownType {
        uuid: uuid.to_owned(),
        kind: entity.kind.clone(),
    })?;
    Ok(ChannelParams::new(def, entity.resolution()))
}

fn convert_error(uuid: &str, err: &ConvertError) -> LookupError {
    match err {
        ConvertError::Group => LookupError::Group(uuid.to_owned()),
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (each update is a
/// single assignment), so poisoning is not propagated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
