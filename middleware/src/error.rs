//! The crate's error type.

/// Shorthand for results of this crate, with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the database layer.
///
/// Variants other than [`Error::Database`] and [`Error::Io`] are caused by the caller's input
/// or by the state of the data, and say which entity or reading they are about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No entity has this UUID.
    #[error("no entity with uuid {uuid}")]
    NotFound {
        /// The UUID that was looked up.
        uuid: String,
    },

    /// An entity with this UUID exists already.
    #[error("an entity with uuid {uuid} exists already")]
    DuplicateUuid {
        /// The UUID that is taken.
        uuid: String,
    },

    /// A UUID given for a new entity is not a UUID.
    #[error("invalid uuid {uuid:?}")]
    InvalidUuid {
        /// The text that was given.
        uuid: String,
    },

    /// The entity type is not one of the volkszaehler entity definitions.
    #[error("unknown entity type {kind:?}")]
    UnknownType {
        /// The type name (`entities.type`).
        kind: String,
    },

    /// A property is unknown for the entity's type, has an invalid value, or is required and
    /// missing.
    #[error(transparent)]
    Property(#[from] push_core::property::PropertyError),

    /// The channel has a reading at this timestamp already (or the batch has it twice).
    #[error("channel {channel_id} has a reading at timestamp {timestamp} already")]
    DuplicateReading {
        /// `entities.id` of the channel.
        channel_id: i32,
        /// The first duplicate timestamp, in ms since the Unix epoch.
        timestamp: i64,
    },

    /// Readings were written for an entity id that does not exist.
    #[error("no entity with id {channel_id}")]
    UnknownChannel {
        /// The `entities.id` that was given.
        channel_id: i32,
    },

    /// The entity is not a group (its class is not `aggregator`), so it has no children.
    #[error("entity {uuid} is not a group")]
    NotAGroup {
        /// The UUID of the entity that was used as a group.
        uuid: String,
    },

    /// The entity is a child of the group already.
    #[error("entity {child} is a child of group {group} already")]
    AlreadyChild {
        /// The group's UUID.
        group: String,
        /// The child's UUID.
        child: String,
    },

    /// The entity is not a child of the group.
    #[error("entity {child} is not a child of group {group}")]
    NotAChild {
        /// The group's UUID.
        group: String,
        /// The child's UUID.
        child: String,
    },

    /// Adding the child would make a group contain itself, directly or through other groups.
    #[error("adding this child would make the group contain itself")]
    Cycle,

    /// The database URL cannot be used.
    #[error("invalid database url {url}: {reason}")]
    InvalidUrl {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A SQLite database file that was to be opened, not created, does not exist.
    #[error("the SQLite database {} does not exist", path.display())]
    NoSuchFile {
        /// The file named by the URL.
        path: std::path::PathBuf,
    },

    /// The database has some volkszaehler tables but not all of them, so it is left alone.
    #[error("the database has an incomplete volkszaehler schema: missing tables {missing:?}")]
    IncompleteSchema {
        /// The tables that do not exist.
        missing: Vec<&'static str>,
    },

    /// A file system operation failed (creating the folder of a SQLite database).
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path it was done to.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The database or the driver reported an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
