//! Period totals and how they combine: SQL sums raw rows per fine period, and the totals of
//! fine periods are merged into the buckets of every requested level, so `data` is scanned
//! once however many levels a run writes.

use std::collections::BTreeMap;

use super::Level;
use super::calendar::Calendar;

/// How a channel's bucket value is computed from its raw rows (tools-and-schema §2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Impulse counts: the sum.
    Sum,
    /// Meter readings: the maximum (the meter is assumed monotonic).
    Max,
    /// Sensor values: the average weighted by the time each value was valid, i.e. the
    /// interval (previous timestamp, this timestamp] (tools-and-schema §2.6).
    TimeWeighted,
}

/// The totals of some consecutive raw rows of one channel, all in one period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Totals {
    /// The latest raw timestamp; becomes the row's `timestamp`.
    pub(crate) last: i64,
    /// The number of raw rows; becomes the row's `count`.
    pub(crate) count: i64,
    /// The sum of the values.
    pub(crate) sum: f64,
    /// The greatest value.
    pub(crate) max: f64,
    /// Sum of value × (timestamp − previous timestamp) over the rows that have a predecessor;
    /// `None` if none has (only the channel's first row lacks one).
    pub(crate) weighted: Option<f64>,
    /// Sum of (timestamp − previous timestamp) over the same rows: the time the values
    /// cover.
    pub(crate) covered: Option<i64>,
}

impl Totals {
    /// Adds the totals of other rows of the same period.
    ///
    /// The covered time is a sum of intervals, so this stays right when the rows of one
    /// period are not contiguous (a minute that occurs twice in an autumn fold).
    pub(crate) fn merge(&mut self, other: &Totals) {
        self.last = self.last.max(other.last);
        self.count += other.count;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.weighted = add(self.weighted, other.weighted);
        self.covered = add(self.covered, other.covered);
    }

    /// The bucket value under `rule`.
    ///
    /// A time-weighted bucket whose rows cover no time — it holds only the channel's first
    /// row — falls back to the plain average, as in volkszaehler. Unlike volkszaehler, a
    /// missing predecessor is not counted from the epoch (the §2.6 first-bucket bug).
    pub(crate) fn value(&self, rule: Rule) -> f64 {
        match (rule, self.weighted, self.covered) {
            (Rule::Sum, _, _) => self.sum,
            (Rule::Max, _, _) => self.max,
            (Rule::TimeWeighted, Some(weighted), Some(covered)) if covered > 0 => {
                weighted / covered as f64
            }
            (Rule::TimeWeighted, _, _) => self.sum / self.count as f64,
        }
    }
}

/// `a + b` where a missing side counts as nothing.
fn add<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (one, None) | (None, one) => one,
    }
}

/// A finished bucket of one level, ready to be written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Finished {
    /// The period's key.
    pub(crate) key: i64,
    /// The bucket's totals.
    pub(crate) totals: Totals,
}

/// The open buckets of one level while the raw rows stream past in time order.
#[derive(Debug)]
pub(crate) struct Rollup {
    /// The level whose buckets this builds.
    pub(crate) level: Level,
    /// Keys below this are not written (periods already aggregated, or before the window).
    first_key: i64,
    /// Keys from this on are not written (the current, incomplete period and later).
    end_key: i64,
    /// Buckets that may still receive rows, by key, each with its period's end instant.
    ///
    /// Usually one; more only while the stream passes an autumn fold of a level shorter
    /// than the clock change, where keys repeat.
    open: BTreeMap<i64, (Totals, i64)>,
}

impl Rollup {
    /// Buckets of `level` with keys in `first_key..end_key`.
    pub(crate) fn new(level: Level, first_key: i64, end_key: i64) -> Rollup {
        Rollup {
            level,
            first_key,
            end_key,
            open: BTreeMap::new(),
        }
    }

    /// Adds the totals of fine period `key` (of level `fine`).
    pub(crate) fn add(&mut self, calendar: &Calendar, fine: Level, key: i64, totals: &Totals) {
        let key = Calendar::coarsen(fine, key, self.level);
        if key < self.first_key || key >= self.end_key {
            return;
        }
        match self.open.get_mut(&key) {
            Some((open, _)) => open.merge(totals),
            None => {
                let end = calendar.end(self.level, key);
                self.open.insert(key, (*totals, end));
            }
        }
    }

    /// Moves every bucket whose period has ended at `position` — no raw row at or after it
    /// can belong to the bucket — to `out`, in key order.
    pub(crate) fn finish_before(&mut self, position: i64, out: &mut Vec<Finished>) {
        while let Some(entry) = self.open.first_entry() {
            if entry.get().1 > position {
                break;
            }
            let (key, (totals, _)) = entry.remove_entry();
            out.push(Finished { key, totals });
        }
    }

    /// Moves every remaining bucket to `out`, in key order.
    pub(crate) fn finish_all(&mut self, out: &mut Vec<Finished>) {
        out.extend(
            std::mem::take(&mut self.open)
                .into_iter()
                .map(|(key, (totals, _))| Finished { key, totals }),
        );
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;

    const HOUR: i64 = 3_600_000;

    /// Totals of a single sensor row at `ts` with value `v` and predecessor `prev`.
    fn row(ts: i64, v: f64, prev: Option<i64>) -> Totals {
        Totals {
            last: ts,
            count: 1,
            sum: v,
            max: v,
            weighted: prev.map(|prev| v * (ts - prev) as f64),
            covered: prev.map(|prev| ts - prev),
        }
    }

    fn merged(rows: &[Totals]) -> Totals {
        let mut total = rows[0];
        for row in &rows[1..] {
            total.merge(row);
        }
        total
    }

    #[test]
    fn first_sensor_bucket_is_weighted_from_its_own_first_row() {
        // tools-and-schema §2.11 B, 05-13: 10 @ 00:00, 20 @ 06:00, 30 @ 12:00, 40 @ 18:00.
        let day = merged(&[
            row(0, 10.0, None),
            row(6 * HOUR, 20.0, Some(0)),
            row(12 * HOUR, 30.0, Some(6 * HOUR)),
            row(18 * HOUR, 40.0, Some(12 * HOUR)),
        ]);
        assert_eq!(day.value(Rule::TimeWeighted), 30.0);
        assert_eq!(day.value(Rule::Sum), 100.0);
        assert_eq!(day.value(Rule::Max), 40.0);
        // 05-14: 50 @ 00:00, 60 @ 12:00, after 18:00 the day before.
        let next = merged(&[
            row(24 * HOUR, 50.0, Some(18 * HOUR)),
            row(36 * HOUR, 60.0, Some(24 * HOUR)),
        ]);
        assert!((next.value(Rule::TimeWeighted) - 56.666_666_666_666_664).abs() < 1e-9);
    }

    #[test]
    fn a_lone_first_row_is_its_own_average() {
        assert_eq!(row(5, 7.5, None).value(Rule::TimeWeighted), 7.5);
        assert_eq!(row(5, 7.5, Some(1)).value(Rule::TimeWeighted), 7.5);
    }

    #[test]
    fn rollup_writes_only_finished_periods_in_its_window() {
        let utc = Calendar::new(TimeZone::UTC);
        // Hours 0..=3 of day 0 and hour 24 of day 1; days from key 0 to key 1 (excluded).
        let mut days = Rollup::new(Level::Day, 0, 1);
        let mut out = Vec::new();
        for hour in [0, 1, 3, 24] {
            days.add(&utc, Level::Hour, hour, &row(hour * HOUR + 1, 1.0, None));
            days.finish_before(hour * HOUR + 2, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, 0);
        assert_eq!(out[0].totals.count, 3);
        assert_eq!(out[0].totals.last, 3 * HOUR + 1);
        days.finish_all(&mut out);
        assert_eq!(out.len(), 1, "day 1 is outside the window");
    }
}
