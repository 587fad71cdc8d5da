//! The local calendar of one time zone: which period an instant falls into, where a period
//! starts and ends in UTC, and the stretches of constant UTC offset that let SQL compute
//! period keys with integer arithmetic.
//!
//! A period is named by a *key*. For the levels of fixed local length (second to day) the key
//! is `floor(local_ms / length)`, where `local_ms` is the instant plus the zone's UTC offset at
//! that instant, i.e. the local wall-clock time read as if it were UTC. So the doubled hour
//! of an autumn DST change (both 02:xx hours map to local 02:xx) is one period, and the hour
//! skipped in spring has no instant and therefore no period — exactly what MySQL's
//! `DATE_FORMAT(FROM_UNIXTIME(…))` grouping in the session time zone does (tools-and-schema
//! §2.8). Month keys are `year * 12 + month - 1` and year keys the year, of the local date.
//!
//! Everything here is computed in Rust, so every database buckets identically, whatever its
//! own time zone settings are.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use super::Level;

/// A value added to local times before SQL divides them, so the dividend is never negative
/// and SQL's truncating division equals flooring: 400,000 days (about 1,095 years), a
/// multiple of every fixed period length.
pub(crate) const KEY_BIAS_MS: i64 = 400_000 * 86_400_000;

/// A stretch `[from, to)` of instants during which the zone's UTC offset does not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stretch {
    /// First instant, Unix ms.
    pub(crate) from: i64,
    /// First instant after the stretch, Unix ms.
    pub(crate) to: i64,
    /// The UTC offset throughout the stretch, in ms.
    pub(crate) offset_ms: i64,
}

/// Period arithmetic in one time zone.
#[derive(Clone, Debug)]
pub(crate) struct Calendar {
    /// The zone whose wall clock defines the periods.
    tz: TimeZone,
}

impl Calendar {
    /// The calendar of `tz`.
    pub(crate) fn new(tz: TimeZone) -> Calendar {
        Calendar { tz }
    }

    /// The zone's UTC offset at an instant, in ms.
    pub(crate) fn offset_ms(&self, ts: i64) -> i64 {
        i64::from(self.tz.to_offset(instant(ts)).seconds()) * 1000
    }

    /// The key of the period of `level` holding the instant `ts` (see the module docs).
    ///
    /// `level` must be aggregatable (not week).
    pub(crate) fn key(&self, level: Level, ts: i64) -> i64 {
        let local = ts.saturating_add(self.offset_ms(ts));
        match level.fixed_millis() {
            Some(length) => local.div_euclid(length),
            None => calendar_key(level, civil(local).date()),
        }
    }

    /// The key of the coarser `to` period holding the finer period `key` of level `from`.
    ///
    /// Exact because every local period of a coarser level is a union of local periods of
    /// each finer level.
    pub(crate) fn coarsen(from: Level, key: i64, to: Level) -> i64 {
        if from == to {
            return key;
        }
        match (from.fixed_millis(), to.fixed_millis(), to) {
            (Some(fine), Some(coarse), _) => key.saturating_mul(fine).div_euclid(coarse),
            (Some(fine), None, _) => calendar_key(to, civil(key.saturating_mul(fine)).date()),
            (None, None, Level::Year) => key.div_euclid(12),
            // Month to month was handled above; nothing is coarsened to a finer level.
            _ => key,
        }
    }

    /// The first instant of period `key`: the first instant whose local time is at or after
    /// the period's local start. In an autumn fold that is the earlier occurrence; in a
    /// spring gap it is the instant of the change (as MySQL's `UNIX_TIMESTAMP` resolves a
    /// nonexistent local time).
    pub(crate) fn start(&self, level: Level, key: i64) -> i64 {
        self.first_at_or_after(local_start(level, key))
    }

    /// The end of period `key`: the instant after which the local clock never again shows a
    /// time before the next period's start. Equal to the next period's [`start`](Self::start)
    /// except in an autumn fold, where the local time of the next start occurs twice and
    /// the period ends at its later occurrence.
    pub(crate) fn end(&self, level: Level, key: i64) -> i64 {
        let next = local_start(level, key.saturating_add(1));
        match self.tz.to_ambiguous_timestamp(next).offset() {
            AmbiguousOffset::Unambiguous { offset } => millis_at(next, offset),
            AmbiguousOffset::Fold { before, after } => {
                // The later occurrence ends the period only if the clock showed a time
                // before `next` just before it, i.e. `next` lies inside the repeated range
                // rather than at its start.
                let later = millis_at(next, after);
                if self.offset_ms(later.saturating_sub(1)) == i64::from(after.seconds()) * 1000 {
                    later
                } else {
                    millis_at(next, before)
                }
            }
            AmbiguousOffset::Gap { after, .. } => self.change_after(next, after),
        }
    }

    /// The stretches of constant UTC offset that cover `[from, to)`, in order.
    pub(crate) fn stretches(&self, from: i64, to: i64) -> Vec<Stretch> {
        let mut stretches = Vec::new();
        if from >= to {
            return stretches;
        }
        let mut start = from;
        let mut offset_ms = self.offset_ms(from);
        for transition in self.tz.following(instant(from)) {
            let at = transition.timestamp().as_millisecond();
            if at >= to {
                break;
            }
            let next_offset = i64::from(transition.offset().seconds()) * 1000;
            if next_offset == offset_ms {
                continue;
            }
            stretches.push(Stretch {
                from: start,
                to: at,
                offset_ms,
            });
            start = at;
            offset_ms = next_offset;
        }
        stretches.push(Stretch {
            from: start,
            to,
            offset_ms,
        });
        stretches
    }

    /// The first instant whose local time is `dt` or later.
    fn first_at_or_after(&self, dt: DateTime) -> i64 {
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => millis_at(dt, offset),
            AmbiguousOffset::Fold { before, .. } => millis_at(dt, before),
            AmbiguousOffset::Gap { after, .. } => self.change_after(dt, after),
        }
    }

    /// The instant of the offset change that skips over the local time `dt`, given the
    /// offset after the gap.
    fn change_after(&self, dt: DateTime, after: Offset) -> i64 {
        // `dt` read with the later offset lies before the change, so the next transition
        // from there is the change itself.
        let before_change = instant(millis_at(dt, after));
        self.tz
            .following(before_change)
            .next()
            .map_or(millis_at(dt, after), |transition| {
                transition.timestamp().as_millisecond()
            })
    }
}

/// The key of the month or year holding a local date.
fn calendar_key(level: Level, date: Date) -> i64 {
    let year = i64::from(date.year());
    match level {
        Level::Year => year,
        _ => year * 12 + i64::from(date.month()) - 1,
    }
}

/// The local wall-clock time at which period `key` of `level` starts.
fn local_start(level: Level, key: i64) -> DateTime {
    match level.fixed_millis() {
        Some(length) => civil(key.saturating_mul(length)),
        None => {
            let (year, month) = match level {
                Level::Year => (key, 1),
                _ => (key.div_euclid(12), key.rem_euclid(12) + 1),
            };
            let year = i16::try_from(year.clamp(-9999, 9999)).unwrap_or(9999);
            // The month is 1..=12 by construction, and year and day are in range.
            Date::new(year, month as i8, 1)
                .unwrap_or(Date::MAX)
                .to_datetime(jiff::civil::Time::midnight())
        }
    }
}

/// The civil date and time of a local wall-clock time given as ms (local time read as UTC).
fn civil(local_ms: i64) -> DateTime {
    TimeZone::UTC.to_datetime(instant(local_ms))
}

/// The instant at which the local time `dt` is shown under `offset`, in Unix ms.
fn millis_at(dt: DateTime, offset: Offset) -> i64 {
    let local = TimeZone::UTC
        .to_timestamp(dt)
        .map_or(i64::MAX, Timestamp::as_millisecond);
    local.saturating_sub(i64::from(offset.seconds()) * 1000)
}

/// A jiff instant for Unix ms, clamped to jiff's range (about ±9999 years).
fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Calendar {
        Calendar::new(TimeZone::get("Europe/Berlin").unwrap())
    }

    /// Unix ms of an RFC 3339 instant.
    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    /// The UTC instants `[start, end)` of the period holding `at`.
    fn period(calendar: &Calendar, level: Level, at: &str) -> (i64, i64) {
        let key = calendar.key(level, ms(at));
        (calendar.start(level, key), calendar.end(level, key))
    }

    #[test]
    fn autumn_fold_hour_is_one_period_of_two_real_hours() {
        let berlin = berlin();
        // 2024-10-27 02:00 CEST = 00:00Z, 02:00 CET = 01:00Z.
        let first = berlin.key(Level::Hour, ms("2024-10-27T00:30:00Z"));
        let second = berlin.key(Level::Hour, ms("2024-10-27T01:30:00Z"));
        assert_eq!(first, second);
        assert_eq!(
            period(&berlin, Level::Hour, "2024-10-27T01:30:00Z"),
            (ms("2024-10-27T00:00:00Z"), ms("2024-10-27T02:00:00Z"))
        );
        // The hour before the fold is an ordinary hour.
        assert_eq!(
            period(&berlin, Level::Hour, "2024-10-26T23:59:59Z"),
            (ms("2024-10-26T23:00:00Z"), ms("2024-10-27T00:00:00Z"))
        );
        // Inside the fold a minute occurs twice; it ends at its later occurrence.
        assert_eq!(
            period(&berlin, Level::Minute, "2024-10-27T00:15:30Z"),
            (ms("2024-10-27T00:15:00Z"), ms("2024-10-27T01:16:00Z"))
        );
    }

    #[test]
    fn spring_gap_hour_has_no_period() {
        let berlin = berlin();
        // 2024-03-31 01:00Z: 02:00 CET becomes 03:00 CEST.
        let before = berlin.key(Level::Hour, ms("2024-03-31T00:59:59Z"));
        let after = berlin.key(Level::Hour, ms("2024-03-31T01:00:00Z"));
        assert_eq!(after - before, 2, "local 02:00 is skipped");
        assert_eq!(berlin.end(Level::Hour, before), ms("2024-03-31T01:00:00Z"));
        assert_eq!(
            berlin.start(Level::Hour, before + 1),
            ms("2024-03-31T01:00:00Z")
        );
        assert_eq!(
            berlin.end(Level::Hour, before + 1),
            ms("2024-03-31T01:00:00Z")
        );
        assert_eq!(berlin.start(Level::Hour, after), ms("2024-03-31T01:00:00Z"));
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let berlin = berlin();
        assert_eq!(
            period(&berlin, Level::Day, "2024-03-31T12:00:00Z"),
            (ms("2024-03-30T23:00:00Z"), ms("2024-03-31T22:00:00Z"))
        );
        assert_eq!(
            period(&berlin, Level::Day, "2024-10-27T12:00:00Z"),
            (ms("2024-10-26T22:00:00Z"), ms("2024-10-27T23:00:00Z"))
        );
        assert_eq!(
            period(&berlin, Level::Month, "2024-10-31T23:30:00Z"),
            (ms("2024-10-31T23:00:00Z"), ms("2024-11-30T23:00:00Z"))
        );
        assert_eq!(
            period(&berlin, Level::Year, "2024-06-01T00:00:00Z"),
            (ms("2023-12-31T23:00:00Z"), ms("2024-12-31T23:00:00Z"))
        );
    }

    #[test]
    fn utc_periods_are_plain_arithmetic() {
        let utc = Calendar::new(TimeZone::UTC);
        assert_eq!(
            period(&utc, Level::Day, "2024-10-27T12:00:00Z"),
            (ms("2024-10-27T00:00:00Z"), ms("2024-10-28T00:00:00Z"))
        );
        assert_eq!(
            period(&utc, Level::Hour, "2024-10-27T01:30:00Z"),
            (ms("2024-10-27T01:00:00Z"), ms("2024-10-27T02:00:00Z"))
        );
        assert_eq!(
            utc.stretches(0, 10),
            [Stretch {
                from: 0,
                to: 10,
                offset_ms: 0
            }]
        );
    }

    #[test]
    fn coarsening_agrees_with_direct_keys() {
        let berlin = berlin();
        let levels = [
            Level::Second,
            Level::Minute,
            Level::Hour,
            Level::Day,
            Level::Month,
            Level::Year,
        ];
        let instants = [
            "2024-03-31T00:59:59.999Z",
            "2024-03-31T01:00:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-27T01:30:00Z",
            "2024-12-31T23:30:00Z",
            "1969-12-31T23:59:59Z",
        ];
        for at in instants {
            for (i, &fine) in levels.iter().enumerate() {
                for &coarse in &levels[i..] {
                    let fine_key = berlin.key(fine, ms(at));
                    assert_eq!(
                        Calendar::coarsen(fine, fine_key, coarse),
                        berlin.key(coarse, ms(at)),
                        "{at} {fine} -> {coarse}"
                    );
                }
            }
        }
    }

    #[test]
    fn stretches_split_at_offset_changes() {
        let berlin = berlin();
        let stretches = berlin.stretches(ms("2024-01-01T00:00:00Z"), ms("2025-01-01T00:00:00Z"));
        assert_eq!(
            stretches,
            [
                Stretch {
                    from: ms("2024-01-01T00:00:00Z"),
                    to: ms("2024-03-31T01:00:00Z"),
                    offset_ms: 3_600_000
                },
                Stretch {
                    from: ms("2024-03-31T01:00:00Z"),
                    to: ms("2024-10-27T01:00:00Z"),
                    offset_ms: 7_200_000
                },
                Stretch {
                    from: ms("2024-10-27T01:00:00Z"),
                    to: ms("2025-01-01T00:00:00Z"),
                    offset_ms: 3_600_000
                },
            ]
        );
        assert!(berlin.stretches(5, 5).is_empty());
    }

    #[test]
    fn sql_keys_match_with_the_bias() {
        // What SQL computes: (ts + offset + bias) / length - bias / length.
        let berlin = berlin();
        for at in [
            "2024-10-27T01:30:00Z",
            "1969-12-31T23:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            let ts = ms(at);
            for level in [Level::Second, Level::Minute, Level::Hour, Level::Day] {
                let length = level.fixed_millis().unwrap();
                let sql = (ts + berlin.offset_ms(ts) + KEY_BIAS_MS) / length - KEY_BIAS_MS / length;
                assert_eq!(sql, berlin.key(level, ts), "{at} {level}");
            }
        }
    }
}
