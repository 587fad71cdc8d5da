//! The channel registry: per-UUID conversion state plus cached channel metadata.
//!
//! The PHP push-server looked a channel up once and never again, so an edited resolution needed
//! a restart, and an unknown UUID hit the database on every push. Here metadata is refreshed
//! after `refresh` has passed (decision 5) while the conversion state survives the refresh;
//! unknown UUIDs are remembered for the same time; and when the database is unreachable, known
//! channels keep converting with the metadata they have.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use middleware::{Db, Entity};
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
    /// The database could not be asked about a channel not seen before.
    #[error("Database unavailable, cannot look up channel '{uuid}': {reason}")]
    Unavailable {
        /// The channel.
        uuid: String,
        /// The database error.
        reason: String,
    },
}

/// One known channel: its converter (state + parameters) and when its metadata was read.
pub struct Channel {
    /// Conversion state and parameters; locked for the duration of one push's tuples.
    pub converter: Converter,
    checked_at: Instant,
}

/// The registry shared by all ingest requests.
pub struct Channels {
    db: Db,
    refresh: Duration,
    lookup_timeout: Duration,
    known: Mutex<HashMap<String, Arc<Mutex<Channel>>>>,
    /// UUIDs the database did not know, with the time of the answer.
    unknown: Mutex<HashMap<String, Instant>>,
}

impl Channels {
    /// A registry reading metadata from `db`, refreshing it after `refresh`.
    pub fn new(db: Db, refresh: Duration, lookup_timeout: Duration) -> Channels {
        Channels {
            db,
            refresh,
            lookup_timeout,
            known: Mutex::default(),
            unknown: Mutex::default(),
        }
    }

    /// The channel for `uuid` (exactly as pushed), looking it up or refreshing it as needed.
    ///
    /// # Errors
    /// [`LookupError`] naming why this channel cannot take readings now.
    pub async fn get(&self, uuid: &str) -> Result<Arc<Mutex<Channel>>, LookupError> {
        let existing = lock(&self.known).get(uuid).cloned();
        match existing {
            Some(channel) => {
                if lock(&channel).checked_at.elapsed() >= self.refresh {
                    self.refresh(uuid, &channel).await?;
                }
                Ok(channel)
            }
            None => self.load(uuid).await,
        }
    }

    async fn load(&self, uuid: &str) -> Result<Arc<Mutex<Channel>>, LookupError> {
        if !push_core::payload::is_valid_uuid(uuid) {
            return Err(LookupError::InvalidUuid(uuid.to_owned()));
        }
        if let Some(at) = lock(&self.unknown).get(uuid)
            && at.elapsed() < self.refresh
        {
            return Err(LookupError::Unknown(uuid.to_owned()));
        }
        let entity = self.find(uuid).await?.ok_or_else(|| {
            lock(&self.unknown).insert(uuid.to_owned(), Instant::now());
            LookupError::Unknown(uuid.to_owned())
        })?;
        let converter =
            Converter::new(params(uuid, &entity)?).map_err(|e| convert_error(uuid, &e))?;
        lock(&self.unknown).remove(uuid);
        let channel = Arc::new(Mutex::new(Channel {
            converter,
            checked_at: Instant::now(),
        }));
        // Two first pushes may race; the first registered state wins so no priming is lost twice.
        Ok(lock(&self.known)
            .entry(uuid.to_owned())
            .or_insert(channel)
            .clone())
    }

    async fn refresh(&self, uuid: &str, channel: &Mutex<Channel>) -> Result<(), LookupError> {
        match self.find(uuid).await {
            Ok(Some(entity)) => {
                let params = params(uuid, &entity)?;
                let mut channel = lock(channel);
                channel
                    .converter
                    .update_params(params)
                    .map_err(|e| convert_error(uuid, &e))?;
                channel.checked_at = Instant::now();
                Ok(())
            }
            Ok(None) => {
                // Deleted meanwhile: forget its state.
                lock(&self.known).remove(uuid);
                lock(&self.unknown).insert(uuid.to_owned(), Instant::now());
                Err(LookupError::Unknown(uuid.to_owned()))
            }
            Err(err) => {
                // Keep converting with what we know; try the database again after `refresh`.
                tracing::warn!(uuid, cause = %err, "keeping cached channel metadata");
                lock(channel).checked_at = Instant::now();
                Ok(())
            }
        }
    }

    async fn find(&self, uuid: &str) -> Result<Option<Entity>, LookupError> {
        let unavailable = |reason: String| LookupError::Unavailable {
            uuid: uuid.to_owned(),
            reason,
        };
        match tokio::time::timeout(self.lookup_timeout, self.db.find_entity(uuid)).await {
            Ok(Ok(entity)) => Ok(entity),
            Ok(Err(err)) => Err(unavailable(err.to_string())),
            Err(_) => Err(unavailable(format!(
                "no answer within {:?}",
                self.lookup_timeout
            ))),
        }
    }
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
