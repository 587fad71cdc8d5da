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
}
