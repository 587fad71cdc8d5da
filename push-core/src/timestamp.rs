//! Whether a pushed timestamp can be a real reading's time.
//!
//! Conversion only moves a channel's time forward, so one tuple from the far future (a logger
//! whose clock jumped, or a hostile `1e308`) would make every later real reading look old and
//! be dropped until a restart. Tuples outside a plausible window are therefore refused before
//! they touch the channel's state. The window is relative to the server's clock, which the
//! caller passes in (this crate does no I/O).

/// The Unix epoch: a negative timestamp is no time a reading was taken. Small positive values
/// stay accepted, as volkszaehler's own tests and conversion examples use them.
pub const EARLIEST_MS: f64 = 0.0;

/// The default tolerance for loggers whose clock runs ahead of the server's: one day.
pub const DEFAULT_MAX_AHEAD_MS: f64 = 86_400_000.0;

/// The accepted range of tuple timestamps at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// The server's clock, Unix milliseconds.
    pub now_ms: f64,
    /// How far ahead of `now_ms` a timestamp may be, milliseconds.
    pub max_ahead_ms: f64,
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum TimestampError {
    /// Ahead of the server's clock by more than the allowed margin.
    #[error(
        "timestamp {} is more than {} s ahead of the server clock",
        crate::number::format_f64(*ts),
        crate::number::format_f64(max_ahead_ms / 1000.0)
    )]
    Future {
        /// The pushed timestamp.
        ts: f64,
        /// The allowed margin in milliseconds.
        max_ahead_ms: f64,
    },
    /// Negative: not a time in Unix milliseconds.
    #[error(
        "timestamp {} is not a time in Unix milliseconds",
        crate::number::format_f64(*ts)
    )]
    Implausible {
        /// The pushed timestamp.
        ts: f64,
    },
}

impl Window {
    /// The window at server time `now_ms`, accepting up to `max_ahead_ms` into the future.
    pub fn at(now_ms: f64, max_ahead_ms: f64) -> Window {
        Window {
            now_ms,
            max_ahead_ms: max_ahead_ms.max(0.0),
        }
    }

    /// Checks one timestamp.
    ///
    /// # Errors
    /// [`TimestampError`] naming the value and why it cannot be a reading's time.
    pub fn check(&self, ts: f64) -> Result<(), TimestampError> {
        if !ts.is_finite() || ts < EARLIEST_MS {
            return Err(TimestampError::Implausible { ts });
        }
        if ts > self.now_ms + self.max_ahead_ms {
            return Err(TimestampError::Future {
                ts,
                max_ahead_ms: self.max_ahead_ms,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_765_000_000_000.0;

    #[test]
    fn the_window_accepts_now_and_the_margin_only() {
        let window = Window::at(NOW, DEFAULT_MAX_AHEAD_MS);
        assert_eq!(window.check(NOW), Ok(()));
        assert_eq!(window.check(NOW + DEFAULT_MAX_AHEAD_MS), Ok(()));
        assert_eq!(window.check(EARLIEST_MS), Ok(()));
        let err = window.check(NOW + DEFAULT_MAX_AHEAD_MS + 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "timestamp 1765086400001 is more than 86400 s ahead of the server clock"
        );
        for ts in [1e308, 9_223_372_036_854_775_807.0, 32_503_680_000_000.0] {
            assert!(
                matches!(window.check(ts), Err(TimestampError::Future { .. })),
                "{ts}"
            );
        }
        let err = window.check(-1.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "timestamp -1.5 is not a time in Unix milliseconds"
        );
        assert!(window.check(f64::NAN).is_err());
    }
}
