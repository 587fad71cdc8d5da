//! Log lines a stranger cannot multiply: at most a burst of lines per period, then one line
//! saying how many were left out.
//!
//! Every rejected push is worth a log line to the operator of a misconfigured vzlogger, but a
//! flood of bad pushes must not become a flood of journal writes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fixed-window limiter for one kind of log line.
#[derive(Debug)]
pub struct Throttle {
    period: Duration,
    burst: u32,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Throttle {
    /// At most `burst` lines per `period`.
    pub fn new(burst: u32, period: Duration) -> Throttle {
        Throttle {
            period,
            burst,
            window: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Runs `log` unless this period's burst is used up. The first line of a new period first
    /// reports how many were suppressed in the last.
    pub fn log(&self, log: impl FnOnce()) {
        if self.admit() {
            log();
        }
    }

    fn admit(&self) -> bool {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.started.elapsed() >= self.period {
            if window.suppressed > 0 {
                tracing::warn!(
                    suppressed = window.suppressed,
                    "similar log lines suppressed in the last {:?}",
                    self.period
                );
            }
            *window = Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            };
        }
        if window.logged < self.burst {
            window.logged += 1;
            true
        } else {
            window.suppressed += 1;
            false
        }
    }
}

impl Default for Throttle {
    /// Ten lines per ten seconds.
    fn default() -> Self {
        Throttle::new(10, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_period_then_silence() {
        let throttle = Throttle::new(3, Duration::from_secs(3600));
        let mut lines = 0;
        for _ in 0..10 {
            throttle.log(|| lines += 1);
        }
        assert_eq!(lines, 3);
        let zero = Throttle::new(2, Duration::ZERO);
        let mut lines = 0;
        for _ in 0..10 {
            zero.log(|| lines += 1);
        }
        assert_eq!(lines, 10, "every call starts a new period");
    }
}
