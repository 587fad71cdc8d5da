//! The aggregation levels and their frozen numeric `aggregate.type` ids.

use std::fmt;
use std::str::FromStr;

/// An aggregation level: the length of the periods one `aggregate` row summarises
/// (tools-and-schema §2.2).
///
/// The numeric id stored in `aggregate.type` is the position in this list. The order is
/// frozen: the PHP middleware reads the ids, so changing it would need a rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Type 0. Written on request, but the PHP readers never use it (0 is falsy there).
    Second,
    /// Type 1.
    Minute,
    /// Type 2.
    Hour,
    /// Type 3; the default of `run` and `rebuild`.
    Day,
    /// Type 4. Readers group by week, but volkszaehler never aggregates it: it has no
    /// period boundary format, so [`Level::is_aggregatable`] is false.
    Week,
    /// Type 5.
    Month,
    /// Type 6.
    Year,
}

impl Level {
    /// Every level, in type-id order.
    pub const ALL: [Level; 7] = [
        Level::Second,
        Level::Minute,
        Level::Hour,
        Level::Day,
        Level::Week,
        Level::Month,
        Level::Year,
    ];

    /// The `aggregate.type` id.
    pub fn type_id(self) -> i16 {
        match self {
            Level::Second => 0,
            Level::Minute => 1,
            Level::Hour => 2,
            Level::Day => 3,
            Level::Week => 4,
            Level::Month => 5,
            Level::Year => 6,
        }
    }

    /// The level with this `aggregate.type` id.
    pub fn from_type_id(id: i16) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.type_id() == id)
    }

    /// The name used on the command line and in messages (`hour`, `day`, …).
    pub fn name(self) -> &'static str {
        match self {
            Level::Second => "second",
            Level::Minute => "minute",
            Level::Hour => "hour",
            Level::Day => "day",
            Level::Week => "week",
            Level::Month => "month",
            Level::Year => "year",
        }
    }

    /// Whether aggregates of this level can be computed; false only for [`Level::Week`], as in
    /// volkszaehler.
    pub fn is_aggregatable(self) -> bool {
        self != Level::Week
    }

    /// The period length in milliseconds of local wall-clock time, for the levels whose
    /// periods all have the same local length; `None` for week, month and year.
    pub(crate) fn fixed_millis(self) -> Option<i64> {
        match self {
            Level::Second => Some(1_000),
            Level::Minute => Some(60_000),
            Level::Hour => Some(3_600_000),
            Level::Day => Some(86_400_000),
            Level::Week | Level::Month | Level::Year => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A level name that is none of `second`, `minute`, `hour`, `day`, `week`, `month`, `year`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown aggregation level '{0}' (expected second, minute, hour, day, month or year)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Parses a level name, ignoring ASCII case and surrounding blanks. `week` parses (it is
    /// a level), but is not [aggregatable](Level::is_aggregatable).
    fn from_str(text: &str) -> Result<Level, UnknownLevel> {
        let name = text.trim();
        Level::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownLevel(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_are_the_frozen_volkszaehler_order() {
        let ids: Vec<i16> = Level::ALL.iter().map(|level| level.type_id()).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6]);
        for level in Level::ALL {
            assert_eq!(Level::from_type_id(level.type_id()), Some(level));
            assert_eq!(level.name().parse::<Level>(), Ok(level));
        }
        assert_eq!(Level::from_type_id(7), None);
    }

    #[test]
    fn parses_names_loosely_and_rejects_others() {
        assert_eq!(" Hour ".parse::<Level>(), Ok(Level::Hour));
        assert_eq!("DAY".parse::<Level>(), Ok(Level::Day));
        assert!("15m".parse::<Level>().is_err());
        assert!("quarter".parse::<Level>().is_err());
        assert!(!Level::Week.is_aggregatable());
        assert!(Level::Hour.is_aggregatable());
    }
}
