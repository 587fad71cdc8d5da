//! The SQL of data thinning (vz-compress) that differs per backend: integer division for the
//! window index, locking the window rows, and merging a window in one statement.

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::{Backend, Dialect};
use crate::db::compress::MergeFunction;

impl Dialect {
    /// The readings of a range grouped by window, one row per non-empty window: window index,
    /// number of readings, merged value, latest timestamp; ordered by window.
    ///
    /// Parameters: window origin, window length, channel id, range start, range end (all ms).
    /// The index is `(timestamp - origin) / window` with integer division (MySQL's `/` is
    /// decimal, hence `DIV`); callers keep `timestamp >= origin`, so truncation is the floor.
    ///
    /// With `lock`, MySQL takes next-key locks on the range (`FOR UPDATE`), so no reading can
    /// be inserted into it until the transaction ends; SQLite is locked by `BEGIN IMMEDIATE`
    /// already, and PostgreSQL merges in one statement (see [`MergeStyle`]).
    pub(crate) fn window_groups(self, function: MergeFunction, lock: bool) -> SqlStr {
        let divide = match self.backend {
            Backend::MySql => "DIV",
            Backend::Sqlite | Backend::Postgres => "/",
        };
        let suffix = match self.backend {
            Backend::MySql if lock => " FOR UPDATE",
            Backend::MySql | Backend::Sqlite | Backend::Postgres => "",
        };
        let neutral = format!(
            r#"SELECT ("timestamp" - ?) {divide} ? AS w, COUNT(*), {f}("value"), MAX("timestamp") FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ? GROUP BY w ORDER BY w{suffix}"#,
            f = function.sql(),
        );
        self.sql_owned(&neutral)
    }

    /// The statement run before a merge transaction begins, on the same connection.
    ///
    /// MySQL's gap locks (which keep readings from being inserted into a window between
    /// reading it and deleting it) exist only under REPEATABLE READ or SERIALIZABLE; a server
    /// configured for READ COMMITTED would not take them.
    pub(crate) fn before_merge(self) -> Option<&'static str> {
        match self.backend {
            Backend::MySql => Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            Backend::Sqlite | Backend::Postgres => None,
        }
    }

    /// Whether an error rolled the transaction back for a reason that trying again can
    /// cure: a deadlock or serialization failure (SQLSTATE 40001, PostgreSQL's 40P01), a
    /// MySQL lock wait timeout (1205; MySQL reports it as HY000), a busy or locked SQLite
    /// database (5, 6).
    pub(crate) fn is_transient(self, error: &sqlx::Error) -> bool {
        let sqlx::Error::Database(db) = error else {
            return false;
        };
        let code = db.code();
        let code = code.as_deref().unwrap_or_default();
        match self.backend {
            Backend::MySql => code == "40001" || db.message().contains("Lock wait timeout"),
            Backend::Postgres => matches!(code, "40001" | "40P01"),
            Backend::Sqlite => matches!(code, "5" | "6" | "261" | "517"),
        }
    }

    /// How many merges of different channels may usefully run at once. SQLite has one
    /// writer at a time; a second would only wait for the lock (and lose time retrying).
    pub(crate) fn merge_jobs(self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::MySql | Backend::Postgres => usize::MAX,
        }
    }

    /// For [`MergeStyle::DeleteThenInsert`]: how to delete the readings of a run's windows
    /// that hold two or more readings, when those windows form `ranges` time ranges and one
    /// statement may name at most `most` of them.
    ///
    /// SQLite's planner answers `channel_id = ? AND (range OR range …)` with one index search
    /// per range or with a scan of every reading of the channel, by a cost guess without
    /// statistics; the scan made one merge transaction over a channel of a million readings
    /// hold the write lock for seconds, so concurrent inserts timed out with "database is
    /// locked". So SQLite deletes a few ranges one statement each (an index range search
    /// apiece, microseconds in process), and many ranges (merged and single windows
    /// alternating) with [`WindowDelete::Merged`], which searches the run's index range only.
    /// MySQL plans the list as index ranges and saves a round trip per range; it cannot delete
    /// from a table a subquery reads (error 1093).
    pub(crate) fn window_delete(self, ranges: usize, most: usize) -> WindowDelete {
        match self.backend {
            Backend::Sqlite if ranges <= SQLITE_RANGE_STATEMENTS => {
                WindowDelete::Ranges { per_statement: 1 }
            }
            Backend::Sqlite => WindowDelete::Merged(self.sql(
                r#"DELETE FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ? AND ("timestamp" - ?) / ? IN (SELECT ("timestamp" - ?) / ? FROM data WHERE channel_id = ? AND "timestamp" >= ? AND "timestamp" < ? GROUP BY 1 HAVING COUNT(*) > 1)"#,
            )),
            Backend::MySql | Backend::Postgres => WindowDelete::Ranges {
                per_statement: most,
            },
        }
    }

    /// How long a writer that keeps taking the database's write lock should leave it free now
    /// and then, so that other writers waiting for it get a turn; `None` where writers do not
    /// take turns on one lock.
    ///
    /// SQLite has no queue of waiting writers: a connection waiting for the lock sleeps in its
    /// busy handler (1, 2, 5, … ms, at most 100 ms at a time, until its busy timeout) and tries
    /// again, so a writer that commits and begins its next transaction at once keeps the lock
    /// almost all the time and a concurrent insert fails with "database is locked" after its
    /// 5 s timeout, however short each transaction is. A gap longer than the longest of those
    /// sleeps lets every waiting writer try once. MySQL and PostgreSQL lock rows.
    pub(crate) fn writer_gap(self) -> Option<std::time::Duration> {
        match self.backend {
            Backend::Sqlite => Some(std::time::Duration::from_millis(110)),
            Backend::MySql | Backend::Postgres => None,
        }
    }

    /// How a merge transaction removes the readings of the merged windows and writes the
    /// merged ones.
    pub(crate) fn merge_style(self) -> MergeStyle {
        match self.backend {
            Backend::Postgres => MergeStyle::DeleteReturning,
            Backend::MySql | Backend::Sqlite => MergeStyle::DeleteThenInsert,
        }
    }

    /// For [`MergeStyle::DeleteReturning`]: one statement that deletes every reading of a
    /// channel in `ranges` time ranges and inserts one merged reading per window, computed
    /// from exactly the rows it deleted.
    ///
    /// A data-modifying CTE: its `DELETE … RETURNING` feeds the grouped `INSERT`, so a reading
    /// committed concurrently is either deleted and merged or left alone, never lost. The
    /// grouping consumes every deleted row before the first insert, so re-inserting a deleted
    /// key is no conflict.
    ///
    /// Parameters: channel id, then start and end of each range, then channel id, window
    /// origin, window length.
    pub(crate) fn merge_windows(self, function: MergeFunction, ranges: usize) -> SqlStr {
        let mut sql = String::from(r#"WITH gone AS (DELETE FROM data WHERE channel_id = ? AND ("#);
        push_ranges(&mut sql, ranges);
        sql.push_str(&format!(
            r#") RETURNING "timestamp", "value") INSERT INTO data (channel_id, "timestamp", "value") SELECT ?, MAX("timestamp"), {f}("value") FROM gone GROUP BY ("timestamp" - ?) / ?"#,
            f = function.sql(),
        ));
        AssertSqlSafe(self.render(&sql)).into_sql_str()
    }
}

/// How a backend merges windows (see [`Dialect::merge_style`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MergeStyle {
    /// PostgreSQL has no gap locks, so nothing keeps a reading from being inserted into a
    /// window between reading and deleting it: one [`Dialect::merge_windows`] statement
    /// merges exactly what it deletes.
    DeleteReturning,
    /// MySQL (gap-locked by the locking read) and SQLite (locked by `BEGIN IMMEDIATE`):
    /// a `DELETE` of the window ranges, checked against the count read, then a multi-row
    /// `INSERT` of the merged readings.
    DeleteThenInsert,
}

/// Up to this many time ranges SQLite deletes with one statement each (see
/// [`Dialect::window_delete`]); dense data needs one range per run.
const SQLITE_RANGE_STATEMENTS: usize = 16;

/// How the readings of a run's merged windows are deleted (see [`Dialect::window_delete`]).
#[derive(Clone, Debug)]
pub(crate) enum WindowDelete {
    /// `DELETE … WHERE channel_id = ? AND (range OR range …)`, this many ranges a statement.
    Ranges {
        /// Ranges named by one statement.
        per_statement: usize,
    },
    /// One statement deleting every reading of the run's windows that hold two or more.
    ///
    /// Parameters: channel id, run start, run end, window origin, window length, window
    /// origin, window length, channel id, run start, run end.
    Merged(SqlStr),
}

/// Appends `(ts >= ? AND ts < ?) OR …` for `count` ranges.
pub(crate) fn push_ranges(sql: &mut String, count: usize) {
    for i in 0..count {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push_str(r#"("timestamp" >= ? AND "timestamp" < ?)"#);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_index_uses_integer_division() {
        let mysql = Dialect {
            backend: Backend::MySql,
        };
        let sql = mysql.window_groups(MergeFunction::Sum, true);
        assert!(sql.as_str().contains("DIV ?"), "{}", sql.as_str());
        assert!(sql.as_str().ends_with("FOR UPDATE"));
        let pg = Dialect {
            backend: Backend::Postgres,
        };
        let sql = pg.window_groups(MergeFunction::Avg, true);
        assert!(sql.as_str().contains(r#"("timestamp" - $1) / $2"#));
        assert!(sql.as_str().contains(r#"AVG("value")"#));
        assert!(!sql.as_str().contains("FOR UPDATE"));
    }

    #[test]
    fn only_postgres_merges_in_one_statement() {
        let pg = Dialect {
            backend: Backend::Postgres,
        };
        assert_eq!(pg.merge_style(), MergeStyle::DeleteReturning);
        let sql = pg.merge_windows(MergeFunction::Max, 2);
        assert!(sql.as_str().contains(
            r#"(("timestamp" >= $2 AND "timestamp" < $3) OR ("timestamp" >= $4 AND "timestamp" < $5))"#
        ));
        assert!(
            sql.as_str()
                .ends_with(r#"GROUP BY ("timestamp" - $7) / $8"#)
        );
        for backend in [Backend::MySql, Backend::Sqlite] {
            assert_eq!(
                Dialect { backend }.merge_style(),
                MergeStyle::DeleteThenInsert
            );
        }
    }

    #[test]
    fn sqlite_deletes_many_ranges_by_window_and_waits_its_turn() {
        let sqlite = Dialect {
            backend: Backend::Sqlite,
        };
        assert!(matches!(
            sqlite.window_delete(1, 100),
            WindowDelete::Ranges { per_statement: 1 }
        ));
        let WindowDelete::Merged(sql) = sqlite.window_delete(SQLITE_RANGE_STATEMENTS + 1, 100)
        else {
            panic!("many ranges on SQLite are deleted by window");
        };
        assert!(sql.as_str().contains("HAVING COUNT(*) > 1"));
        assert_eq!(
            sqlite.writer_gap(),
            Some(std::time::Duration::from_millis(110))
        );
        for backend in [Backend::MySql, Backend::Postgres] {
            let dialect = Dialect { backend };
            assert!(matches!(
                dialect.window_delete(1000, 100),
                WindowDelete::Ranges { per_statement: 100 }
            ));
            assert_eq!(dialect.writer_gap(), None);
        }
    }
}
