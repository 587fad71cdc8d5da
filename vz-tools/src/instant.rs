//! Points in time on the command line: `--now`, `--since` and friends accept RFC 3339
//! (`2024-05-15T10:30:00+02:00`) or Unix milliseconds (`1715761800000`), the unit of every
//! volkszaehler timestamp.

use std::str::FromStr;

/// A parsed point in time, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub i64);

impl Instant {
    /// The current time.
    pub fn now() -> Instant {
        Instant(jiff::Timestamp::now().as_millisecond())
    }

    /// Unix milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl FromStr for Instant {
    type Err = String;

    fn from_str(text: &str) -> Result<Instant, String> {
        let text = text.trim();
        if let Ok(ms) = text.parse::<i64>() {
            return Ok(Instant(ms));
        }
        jiff::Timestamp::from_str(text).map(|t| Instant(t.as_millisecond())).map_err(|_| {
            format!("invalid time '{text}' (expected RFC 3339 like 2024-05-15T10:30:00+02:00, or Unix milliseconds)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Instant;

    #[test]
    fn both_forms_parse() {
        assert_eq!("1715761800000".parse(), Ok(Instant(1_715_761_800_000)));
        assert_eq!(
            "2024-05-15T10:30:00+02:00".parse(),
            Ok(Instant(1_715_761_800_000))
        );
        assert_eq!(
            "2024-05-15T08:30:00Z".parse(),
            Ok(Instant(1_715_761_800_000))
        );
        assert!(
            "yesterday"
                .parse::<Instant>()
                .unwrap_err()
                .contains("RFC 3339")
        );
    }
}
