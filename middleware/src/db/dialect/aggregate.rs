//! The per-backend SQL of aggregation: integer division for period keys, inserts for both
//! schema variants, emptying and optimizing the `aggregate` table, and the run lock.

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::{Backend, Dialect};

/// How a backend keeps a second aggregation run from starting.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RunLockSql {
    /// A lock of the database server, held by one session for the whole run and released
    /// by the server when that session ends (also when the process dies).
    Server {
        /// Takes the lock without waiting; returns a BIGINT, 1 when it was taken.
        acquire: &'static str,
        /// Releases it.
        release: &'static str,
        /// A text naming the session holding the lock, or NULL.
        holder: &'static str,
        /// Run first on the lock's session so that [`RunLockSql::Server::holder`] can name
        /// it, if the backend shows such a name.
        label: Option<&'static str>,
    },
    /// An exclusive lock on a file next to the database file; this query returns the path of
    /// the main database file (empty for an in-memory database).
    File {
        /// The query for the database file.
        database_file: &'static str,
    },
}

/// How a backend aggregates many channels at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchScan {
    /// One channel at a time: the table is clustered by `(channel_id, timestamp)` (InnoDB),
    /// so a channel's rows are contiguous and per-channel range scans read no page twice.
    PerChannel,
    /// SQLite: time chunks over many channels, read in rowid order within the rowid span
    /// the primary key index reports ([`Dialect::rowid_span`]) when that span is dense,
    /// otherwise through the index.
    RowidSpans,
    /// PostgreSQL: time chunks over many channels in one query; the planner's bitmap or
    /// sequential scan visits each heap page once.
    Planner,
}

impl Dialect {
    /// Raw rows of one channel summed per period of fixed local length, for a stretch of
    /// constant UTC offset; binds: channel id, from (inclusive), to (exclusive).
    ///
    /// Columns: key (biased, see [`Dialect::period_key`]), MAX(timestamp), COUNT(*),
    /// SUM(value), MAX(value); ordered by key.
    pub(crate) fn period_totals(self, offset_ms: i64, length_ms: i64) -> SqlStr {
        let key = self.period_key(r#""timestamp""#, offset_ms, length_ms);
        self.sql_owned(&format!(
            r#"SELECT {key} AS k, MAX("timestamp"), COUNT(*), SUM("value"), MAX("value") FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ? GROUP BY k ORDER BY k"#
        ))
    }

    /// As [`Dialect::period_totals`], plus what a time-weighted average needs: each row's
    /// predecessor (`LAG`) is found by scanning from the row before the stretch; binds:
    /// channel id, predecessor timestamp (or the stretch start), to, from.
    ///
    /// Columns: key, MAX(timestamp), COUNT(*), SUM(value), MAX(value),
    /// SUM(value * (timestamp - prev)) and MIN(prev), where rows without a predecessor
    /// (only the channel's very first row) count in neither. The window is ordered by
    /// timestamp explicitly, unlike PHP's user-variable query (tools-and-schema §2.6).
    pub(crate) fn period_sensor_totals(self, offset_ms: i64, length_ms: i64) -> SqlStr {
        let key = self.period_key("ts", offset_ms, length_ms);
        self.sql_owned(&format!(
            r#"SELECT {key} AS k, MAX(ts), COUNT(*), SUM(v), MAX(v), SUM(v * (ts - prev)), MIN(prev) FROM (SELECT "timestamp" AS ts, "value" AS v, LAG("timestamp") OVER (ORDER BY "timestamp") AS prev FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ?) AS t WHERE ts >= ? GROUP BY k ORDER BY k"#
        ))
    }

    /// How this backend reads many channels in one pass (see [`BatchScan`]).
    pub(crate) fn batch_scan(self) -> BatchScan {
        match self.backend {
            Backend::Sqlite => BatchScan::RowidSpans,
            Backend::Postgres => BatchScan::Planner,
            Backend::MySql => BatchScan::PerChannel,
        }
    }

    /// SQLite: where the rows of `channels` in `[from, to)` lie in the table, from the primary
    /// key index alone (its entries carry the rowid); binds: from, to.
    ///
    /// Columns: MIN(rowid), MAX(rowid), COUNT(*) (the first two NULL when there is no row).
    pub(crate) fn rowid_span(self, channels: &str) -> SqlStr {
        self.sql_owned(&format!(
            r#"SELECT MIN(rowid), MAX(rowid), COUNT(*) FROM data WHERE channel_id IN ({channels}) AND "timestamp" >= ? AND "timestamp" < ?"#
        ))
    }

    /// Raw rows of many channels summed per channel and period of fixed local length, for a
    /// stretch of constant UTC offset. `channels` are comma-separated channel ids (integers
    /// from the database, never input); `sensors` says they are all time-weighted, and the
    /// query then also finds each row's predecessor.
    ///
    /// Binds: `keys` and `first_key` (see below), then with `rowids` (SQLite, rows known to
    /// lie in a rowid range) first rowid and last rowid, then from and to.
    ///
    /// Rows are grouped by one integer, `channel_id × keys + (key − first_key)`, where
    /// `first_key` is the biased key of `from` and `keys` exceeds the number of periods in
    /// the chunk: SQLite sorts to group, and one integer sorts a third faster than two
    /// columns.
    ///
    /// Columns: that group number, MAX(timestamp),
    /// COUNT(*), SUM(value), MAX(value), SUM(value × (timestamp − prev)) and
    /// SUM(timestamp − prev), where `prev` is the channel's previous timestamp — also when it
    /// lies before `from`, so chunk boundaries change nothing — and NULL for plain channels
    /// and for a channel's very first row. Unordered.
    ///
    /// `prev` comes from `LAG()` within the chunk; only each channel's first row in the chunk
    /// looks it up in the primary key (`COALESCE` evaluates that lazily). Plain and sensor
    /// channels are read by separate queries because the window sorts its whole input:
    /// measured on 500,000 rows a chunk, the two together cost half as much as one query
    /// over both (docs/bench-aggregate.md).
    ///
    /// - SQLite: with `rowids` the table is read in storage order (`NOT INDEXED`), since the
    ///   rows of one time range of all channels share their pages when vzlogger wrote them.
    /// - PostgreSQL: the planner picks a bitmap or sequential scan, either of which reads
    ///   each heap page once however the channels' rows are interleaved.
    pub(crate) fn batch_totals(
        self,
        offset_ms: i64,
        length_ms: i64,
        channels: &str,
        sensors: bool,
        rowids: bool,
    ) -> SqlStr {
        let key = self.period_key(r#"d."timestamp""#, offset_ms, length_ms);
        let prev = if sensors {
            r#"COALESCE(LAG(d."timestamp") OVER (PARTITION BY d.channel_id ORDER BY d."timestamp"), (SELECT MAX(p."timestamp") FROM data p WHERE p.channel_id = d.channel_id AND p."timestamp" < d."timestamp"))"#
        } else {
            "CAST(NULL AS BIGINT)"
        };
        let (source, rowid_range) = match (rowids, self.backend) {
            (true, Backend::Sqlite) => (
                "data AS d NOT INDEXED",
                "d.rowid >= ? AND d.rowid <= ? AND ",
            ),
            _ => ("data AS d", ""),
        };
        let covered = match self.backend {
            // SUM of BIGINT is NUMERIC on PostgreSQL.
            Backend::Postgres => "CAST(SUM(ts - prev) AS BIGINT)",
            Backend::Sqlite | Backend::MySql => "SUM(ts - prev)",
        };
        self.sql_owned(&format!(
            r#"SELECT g, MAX(ts), COUNT(*), SUM(v), MAX(v), SUM(v * (ts - prev)), {covered} FROM (SELECT CAST(d.channel_id AS BIGINT) * ? + ({key} - ?) AS g, d."timestamp" AS ts, d."value" AS v, {prev} AS prev FROM {source} WHERE {rowid_range}d.channel_id IN ({channels}) AND d."timestamp" >= ? AND d."timestamp" < ?) t GROUP BY g"#
        ))
    }

    /// The SQL expression for the biased period key of `column`:
    /// `(column + offset + bias) DIV length`; subtract `bias / length` to get the key.
    ///
    /// The bias keeps the dividend positive, so truncating division floors.
    fn period_key(self, column: &str, offset_ms: i64, length_ms: i64) -> String {
        let shift = offset_ms + crate::db::aggregate::KEY_BIAS_MS;
        let divide = match self.backend {
            Backend::MySql => "DIV",
            // Both divide integers by integers with an integer result.
            Backend::Sqlite | Backend::Postgres => "/",
        };
        format!("({column} + {shift}) {divide} {length_ms}")
    }

    /// A multi-row insert of `rows` aggregates; binds per row: channel id, type, timestamp,
    /// value, count.
    ///
    /// `legacy_id` says `aggregate` has the legacy `id` column: MySQL and SQLite fill it
    /// themselves, PostgreSQL feeds it from `aggregate_id_seq` (tools-and-schema §1.5).
    pub(crate) fn insert_aggregates(self, rows: usize, legacy_id: bool) -> SqlStr {
        let with_sequence = legacy_id && self.backend == Backend::Postgres;
        let (columns, row) = if with_sequence {
            (
                r#"(id, channel_id, "type", "timestamp", "value", "count")"#,
                "(nextval('aggregate_id_seq'), ?, ?, ?, ?, ?)",
            )
        } else {
            (
                r#"(channel_id, "type", "timestamp", "value", "count")"#,
                "(?, ?, ?, ?, ?)",
            )
        };
        let mut sql = format!("INSERT INTO aggregate {columns} VALUES ");
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(row);
        }
        self.sql_owned(&sql)
    }

    /// Removes every aggregate row at once: `TRUNCATE` where it exists (fast, and no
    /// table-sized transaction), `DELETE` on SQLite.
    pub(crate) fn truncate_aggregates(self) -> SqlStr {
        match self.backend {
            Backend::Sqlite => "DELETE FROM aggregate".into_sql_str(),
            Backend::MySql | Backend::Postgres => "TRUNCATE TABLE aggregate".into_sql_str(),
        }
    }

    /// The statements that reclaim space and refresh the planner statistics of `table`
    /// (`aggregate` or `data`, a constant), each run on its own outside a transaction.
    ///
    /// - MySQL: `OPTIMIZE TABLE`, as volkszaehler does (InnoDB rebuilds the table online).
    /// - PostgreSQL: `VACUUM (ANALYZE)`: reclaims dead rows for reuse without `VACUUM FULL`'s
    ///   exclusive lock, so readers and writers carry on.
    /// - SQLite: `ANALYZE`; `VACUUM` would rewrite the whole database file under an
    ///   exclusive lock, blocking every writer.
    pub(crate) fn optimize(self, table: &'static str) -> SqlStr {
        let sql = match self.backend {
            Backend::MySql => format!("OPTIMIZE TABLE {table}"),
            Backend::Postgres => format!("VACUUM (ANALYZE) {table}"),
            Backend::Sqlite => format!("ANALYZE {table}"),
        };
        AssertSqlSafe(sql).into_sql_str()
    }

    /// How this backend locks out a second aggregation run.
    ///
    /// - MySQL: the named lock `vz-aggregate:<database>` (`GET_LOCK`, server-wide, hence
    ///   the database name); the holder is named from the process list.
    /// - PostgreSQL: the session advisory lock (30330, 24935) — "vz", "ag" — of the current
    ///   database; the holder is named from `pg_stat_activity`.
    /// - SQLite: a lock file next to the database file.
    pub(crate) fn run_lock(self) -> RunLockSql {
        match self.backend {
            Backend::MySql => RunLockSql::Server {
                acquire: "SELECT CAST(COALESCE(GET_LOCK(LEFT(CONCAT('vz-aggregate:', DATABASE()), 64), 0), 0) AS SIGNED)",
                release: "SELECT RELEASE_LOCK(LEFT(CONCAT('vz-aggregate:', DATABASE()), 64))",
                holder: "SELECT COALESCE(\
                    (SELECT CONCAT('MySQL connection ', p.ID, ' (', p.USER, '@', p.HOST, ', holding it for ', p.TIME, ' s)') \
                     FROM information_schema.PROCESSLIST p \
                     WHERE p.ID = IS_USED_LOCK(LEFT(CONCAT('vz-aggregate:', DATABASE()), 64))), \
                    CONCAT('MySQL connection ', IS_USED_LOCK(LEFT(CONCAT('vz-aggregate:', DATABASE()), 64))))",
                label: None,
            },
            Backend::Postgres => RunLockSql::Server {
                acquire: "SELECT CAST(CASE WHEN pg_try_advisory_lock(30330, 24935) THEN 1 ELSE 0 END AS BIGINT)",
                release: "SELECT pg_advisory_unlock(30330, 24935)",
                holder: "SELECT 'PostgreSQL backend ' || a.pid || ' (' || COALESCE(NULLIF(a.application_name, ''), 'unnamed') \
                    || ', user ' || COALESCE(a.usename::text, '?') || ', since ' \
                    || COALESCE(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') || ')' \
                    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                    WHERE l.locktype = 'advisory' AND l.classid = 30330 AND l.objid = 24935 AND l.objsubid = 2 \
                    AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                    LIMIT 1",
                label: Some("SET application_name = 'vz-aggregate'"),
            },
            Backend::Sqlite => RunLockSql::File {
                database_file: "SELECT file FROM pragma_database_list WHERE name = 'main'",
            },
        }
    }

    /// Settings for the connection that scans `data`: `(query, wanted, statement)` — run
    /// `statement` unless `query` already returns `wanted` (a number or text, compared as
    /// text).
    ///
    /// - PostgreSQL: 64 MB of `work_mem`, so the sorts of a sensor scan (window order,
    ///   grouping) of half a million rows stay in memory instead of spilling to disk; no
    ///   JIT, whose compilation (15–20 ms) costs more than it saves on queries over one
    ///   chunk.
    /// - SQLite: nothing. A larger page cache or `mmap` would keep the pages that
    ///   time-interleaved channels share, but SQLite drops both whenever the database
    ///   changed since the last read transaction — after every write of the previous
    ///   channel — and remapping cost more than it saved (measured in
    ///   docs/bench-aggregate.md).
    pub(crate) fn scan_setup(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self.backend {
            Backend::Postgres => &[
                (
                    "SELECT current_setting('work_mem')",
                    "64MB",
                    "SET work_mem = '64MB'",
                ),
                ("SELECT current_setting('jit')", "off", "SET jit = off"),
            ],
            Backend::Sqlite | Backend::MySql => &[],
        }
    }

    /// On MySQL, the session's current UTC offset in seconds: the PHP middleware reads the
    /// aggregate table with MySQL date functions in the session time zone (tools-and-schema
    /// §2.8), so aggregates must use the same zone. `None` elsewhere: no reader of the other
    /// backends uses the table.
    pub(crate) fn session_utc_offset(self) -> Option<SqlStr> {
        match self.backend {
            Backend::MySql => Some(
                "SELECT CAST(TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) AS SIGNED)"
                    .into_sql_str(),
            ),
            Backend::Sqlite | Backend::Postgres => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::aggregate::KEY_BIAS_MS;

    fn dialect(backend: Backend) -> Dialect {
        Dialect { backend }
    }

    #[test]
    fn period_keys_divide_integers_per_backend() {
        let shift = 3_600_000 + KEY_BIAS_MS;
        assert_eq!(
            dialect(Backend::MySql).period_key("ts", 3_600_000, 60_000),
            format!("(ts + {shift}) DIV 60000")
        );
        assert_eq!(
            dialect(Backend::Postgres).period_key("ts", 3_600_000, 60_000),
            format!("(ts + {shift}) / 60000")
        );
    }

    #[test]
    fn inserts_feed_the_legacy_id_only_on_postgres() {
        let pg = dialect(Backend::Postgres).insert_aggregates(2, true);
        assert!(
            pg.as_str()
                .starts_with(r#"INSERT INTO aggregate (id, channel_id, "type""#)
        );
        assert!(
            pg.as_str()
                .ends_with("(nextval('aggregate_id_seq'), $6, $7, $8, $9, $10)")
        );
        let mysql = dialect(Backend::MySql).insert_aggregates(1, true);
        assert_eq!(
            mysql.as_str(),
            "INSERT INTO aggregate (channel_id, `type`, `timestamp`, `value`, `count`) VALUES (?, ?, ?, ?, ?)"
        );
    }
}
