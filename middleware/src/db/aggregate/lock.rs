//! The run lock: at most one aggregation run (or clear, rebuild, optimize) per database.
//!
//! volkszaehler has none (#410), so two cron runs could interleave their writes. The lock
//! is the server's own where it has one — a MySQL named lock or a PostgreSQL advisory lock,
//! held by a dedicated session and released by the server if the process dies — and an
//! exclusive lock file next to the database file for SQLite.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use sqlx::{AnyConnection, Connection as _, SqlSafeStr as _};

use super::AggregateError;
use crate::db::Db;
use crate::db::dialect::aggregate::RunLockSql;

/// Proof that this process holds the run lock; release it with
/// [`AggregationLock::release`]. Dropping it releases it too (the server lock when the
/// session closes).
#[derive(Debug)]
#[must_use = "the lock is released when this value is dropped"]
pub struct AggregationLock {
    /// What holds the lock.
    held: Held,
}

/// The resource behind an [`AggregationLock`].
#[derive(Debug)]
enum Held {
    /// A session that holds a server lock; closing it releases the lock.
    Session {
        /// The session, taken out of the pool so nothing else uses it.
        connection: Option<AnyConnection>,
        /// The statement that releases the lock.
        release: &'static str,
    },
    /// A locked lock file, removed on release.
    File {
        /// The open, locked file; closing it unlocks.
        file: Option<File>,
        /// Its path.
        path: PathBuf,
    },
    /// Nothing to lock: an in-memory SQLite database is private to its process.
    Nothing,
}

impl Db {
    /// Takes the run lock without waiting.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Locked`] naming the holder if another run holds it;
    /// [`AggregateError::Db`] if the lock cannot be queried or the lock file cannot be
    /// created.
    pub async fn lock_aggregation(&self) -> Result<AggregationLock, AggregateError> {
        let held = match self.dialect.run_lock() {
            RunLockSql::Server {
                acquire,
                release,
                holder,
                label,
            } => {
                let mut connection = self.pool.acquire().await?.detach();
                if let Some(label) = label {
                    sqlx::raw_sql(label.into_sql_str())
                        .execute(&mut connection)
                        .await?;
                }
                let taken: i64 = sqlx::query_scalar(acquire.into_sql_str())
                    .fetch_one(&mut connection)
                    .await?;
                if taken != 1 {
                    let holder: Option<Option<String>> = sqlx::query_scalar(holder.into_sql_str())
                        .fetch_optional(&mut connection)
                        .await?;
                    let _ = connection.close().await;
                    return Err(AggregateError::Locked {
                        holder: holder
                            .flatten()
                            .unwrap_or_else(|| "held by another session".to_owned()),
                    });
                }
                Held::Session {
                    connection: Some(connection),
                    release,
                }
            }
            RunLockSql::File { database_file } => {
                let file: Option<String> = sqlx::query_scalar(database_file.into_sql_str())
                    .fetch_optional(&self.pool)
                    .await?;
                match file.filter(|file| !file.is_empty()) {
                    Some(file) => lock_file(&PathBuf::from(format!("{file}.vz-aggregate.lock")))?,
                    None => Held::Nothing,
                }
            }
        };
        Ok(AggregationLock { held })
    }
}

impl AggregationLock {
    /// Releases the lock.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Db`] if the release statement fails; the session is closed anyway,
    /// which releases a server lock too.
    pub async fn release(mut self) -> Result<(), AggregateError> {
        if let Held::Session {
            connection,
            release,
        } = &mut self.held
            && let Some(mut connection) = connection.take()
        {
            let released = sqlx::raw_sql(release.into_sql_str())
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
            released?;
        }
        // A lock file is removed and unlocked by `drop`.
        Ok(())
    }
}

impl Drop for AggregationLock {
    fn drop(&mut self) {
        if let Held::File { file, path } = &mut self.held
            && let Some(file) = file.take()
        {
            // Remove before unlocking: a run that opened the file meanwhile notices that its
            // lock is on a removed file and retries on a new one (see `lock_file`).
            let _ = std::fs::remove_file(path.as_path());
            drop(file);
        }
    }
}

/// Locks the lock file at `path`, creating it, and writes who holds it into it.
fn lock_file(path: &Path) -> Result<Held, AggregateError> {
    let io = |source| {
        AggregateError::Db(crate::Error::Io {
            action: "locking",
            path: path.to_owned(),
            source,
        })
    };
    // A few attempts, only to get past a holder that removed the file between our open and
    // our lock.
    for _ in 0..5 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                if !is_same_file(&file, path) {
                    continue;
                }
                let note = format!(
                    "pid {} on {}, since {}",
                    std::process::id(),
                    host_name(),
                    jiff::Timestamp::now()
                        .round(jiff::Unit::Second)
                        .unwrap_or_default()
                );
                file.set_len(0).map_err(io)?;
                file.write_all(note.as_bytes()).map_err(io)?;
                file.flush().map_err(io)?;
                return Ok(Held::File {
                    file: Some(file),
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::WouldBlock) => {
                let mut note = String::new();
                let _ = file.read_to_string(&mut note);
                let note = note.trim();
                return Err(AggregateError::Locked {
                    holder: if note.is_empty() {
                        format!("lock file {}", path.display())
                    } else {
                        format!("{note}; lock file {}", path.display())
                    },
                });
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
    }
    Err(AggregateError::Locked {
        holder: format!("lock file {} keeps changing", path.display()),
    })
}

/// Whether the open `file` is still the file at `path` (not removed or replaced).
#[cfg(unix)]
fn is_same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Whether the open `file` is still the file at `path`; without inode numbers, whether the
/// path exists.
#[cfg(not(unix))]
fn is_same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// This machine's name, for the lock note.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this host".to_owned())
}
