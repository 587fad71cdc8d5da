//! A lock-free latency histogram in microseconds: exact below 1,024 µs, buckets of 0.2 %
//! above, so p50/p99/max are accurate whatever the spread. Recording is one atomic add, so every
//! subscriber task can record into one shared histogram.

use std::sync::atomic::{AtomicU64, Ordering};

/// Values below this are counted exactly.
const LINEAR: u64 = 1024;
/// Buckets per power of two above [`LINEAR`].
const SUB: u64 = 512;
/// Largest power of two tracked; larger values count as `2^(MAX_EXP+1) - 1` (about 25 days).
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - 9) * SUB) as usize;

/// Counts of microsecond values.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let value = value.min((1 << (MAX_EXP + 1)) - 1);
    let exp = 63 - value.leading_zeros();
    let shift = exp - 9;
    (LINEAR + u64::from(exp - 10) * SUB + ((value >> shift) - SUB)) as usize
}

/// The largest value counted in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let k = i - LINEAR;
    let exp = k / SUB + 10;
    let mantissa = k % SUB + SUB;
    ((mantissa + 1) << (exp - 9)) - 1
}

impl Histogram {
    /// Counts one value.
    pub fn record(&self, micros: u64) {
        self.buckets[index(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(micros, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    /// Number of values counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The largest value counted (exact), 0 when empty.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The arithmetic mean, 0 when empty.
    pub fn mean(&self) -> f64 {
        let count = self.count();
        if count == 0 {
            0.0
        } else {
            self.sum.load(Ordering::Relaxed) as f64 / count as f64
        }
    }

    /// The value at quantile `q` (0..=1), rounded up to its bucket's upper end and never above
    /// the maximum; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return upper(i).min(self.max());
            }
        }
        self.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        for value in [0, 1, 1023, 1024, 1025, 2047, 2048, 1_000_000, 1 << 40] {
            let i = index(value);
            assert!(upper(i) >= value, "{value}");
            assert!(i == 0 || upper(i - 1) < value, "{value}");
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0);
        for v in 1..=1000 {
            h.record(v);
        }
        h.record(50_000);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.quantile(0.5), 501);
        assert_eq!(h.quantile(0.99), 991);
        assert_eq!(h.quantile(1.0), 50_000);
        assert_eq!(h.max(), 50_000);
        let upper = h.quantile(0.9999);
        assert!((50_000..=50_100).contains(&upper), "{upper}");
    }
}
