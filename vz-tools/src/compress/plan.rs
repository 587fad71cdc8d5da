//! Where a scheme's windows lie in time: the alignment and tier-boundary rules of vz-compress.
//!
//! **Alignment.** A tier with window `W` uses the windows `[k·W, (k+1)·W)` in ms since the
//! Unix epoch (UTC): the same grid on every run, whatever data exists, so a second run over
//! the same data finds one reading per window and changes nothing. (vzcompress2 anchored its
//! windows at the oldest reading of the tier, so they shifted as data aged.)
//!
//! **Boundaries.** A reading is old enough for a tier when `timestamp <= now − older_than`.
//! Only *complete* windows are merged: a window is merged only when all of it is old enough,
//! so no reading newer than the boundary is ever touched, and the window that straddles the
//! boundary waits for a later run (merging a part now and the rest later would average
//! averages for sensors).
//!
//! **Tiers.** Each age belongs to one tier. The oldest tier takes everything up to the end of
//! its last complete window; the next younger tier starts there (at its own next window
//! start) and so on, so the tiers' regions never overlap within a run. Data that ages into an
//! older tier later is merged again with the wider window, as in vzcompress2.

use super::scheme::Scheme;

/// A time range of one tier, cut into that tier's aligned windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Index of the tier in the scheme (youngest first).
    pub tier: usize,
    /// Start of the first window, a multiple of `window`.
    pub from: i64,
    /// End of the last window (exclusive), a multiple of `window`.
    pub to: i64,
    /// Window length in ms.
    pub window: i64,
}

/// The regions to merge for a channel whose oldest reading is at `first`, oldest tier first.
pub fn regions(scheme: &Scheme, now: i64, first: i64) -> Vec<Region> {
    let mut regions = Vec::new();
    // Where the previous (older) tier's region ended; nothing younger than this was covered.
    let mut covered: Option<i64> = None;
    for (tier, spec) in scheme.tiers().iter().enumerate().rev() {
        // Exclusive end of what is old enough: readings at or before now − older_than.
        let old_enough = now.saturating_sub(spec.older_than).saturating_add(1);
        if spec.window <= 0 {
            // Kept as it is; the next younger tier starts after this one's ages.
            covered = Some(covered.map_or(old_enough, |c| c.max(old_enough)));
            continue;
        }
        let to = floor(old_enough, spec.window);
        let from = match covered {
            Some(covered) => ceil(covered, spec.window),
            None => floor(first, spec.window),
        };
        if from < to {
            regions.push(Region {
                tier,
                from,
                to,
                window: spec.window,
            });
        }
        covered = Some(covered.map_or(to, |c| c.max(to)));
    }
    regions
}

/// The largest multiple of `step` at or below `value`.
pub fn floor(value: i64, step: i64) -> i64 {
    value - value.rem_euclid(step)
}

/// The smallest multiple of `step` at or above `value` (saturating).
fn ceil(value: i64, step: i64) -> i64 {
    match value.rem_euclid(step) {
        0 => value,
        rest => value.saturating_add(step - rest),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scheme::Tier;
    use super::*;

    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn scheme(tiers: &[(i64, i64)]) -> Scheme {
        Scheme::new(
            tiers
                .iter()
                .map(|&(older_than, window)| Tier { older_than, window })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn only_complete_windows_before_the_boundary() {
        let now = 100 * DAY + 30 * 1000; // 30 s into a minute
        let regions = regions(&scheme(&[(7 * DAY, MIN)]), now, 50 * DAY + 5);
        assert_eq!(
            regions,
            [Region {
                tier: 0,
                from: 50 * DAY,
                to: 93 * DAY, // the minute holding now − 7 d is incomplete
                window: MIN,
            }]
        );
        // A boundary exactly at a window's last millisecond completes that window.
        let now = 100 * DAY + MIN - 1;
        let regions = super::regions(&scheme(&[(7 * DAY, MIN)]), now, 0);
        assert_eq!(regions[0].to, 93 * DAY + MIN);
    }

    #[test]
    fn tiers_do_not_overlap() {
        let now = 400 * DAY + 12_345;
        let regions = regions(&Scheme::vzcompress2_default(), now, 0);
        let spans: Vec<(usize, i64, i64)> =
            regions.iter().map(|r| (r.tier, r.from, r.to)).collect();
        assert_eq!(spans.len(), 4);
        for pair in spans.windows(2) {
            assert!(pair[0].2 <= pair[1].1, "{pair:?}");
        }
        for region in &regions {
            assert_eq!(region.from % region.window, 0);
            assert_eq!(region.to % region.window, 0);
            let tier = Scheme::vzcompress2_default().tiers()[region.tier];
            assert!(region.to - 1 <= now - tier.older_than);
        }
        assert_eq!(spans[0], (3, 0, 35 * DAY));
    }

    #[test]
    fn a_zero_window_keeps_its_ages() {
        let now = 100 * DAY;
        let regions = regions(
            &scheme(&[(DAY, MIN), (10 * DAY, 0), (30 * DAY, 5 * MIN)]),
            now,
            0,
        );
        assert_eq!(
            regions
                .iter()
                .map(|r| (r.tier, r.from, r.to))
                .collect::<Vec<_>>(),
            [(2, 0, 70 * DAY), (0, 90 * DAY + MIN, 99 * DAY)]
        );
    }

    #[test]
    fn negative_and_unaligned_values_floor() {
        assert_eq!(floor(-1, 60), -60);
        assert_eq!(floor(59, 60), 0);
        assert_eq!(ceil(61, 60), 120);
        assert_eq!(ceil(-61, 60), -60);
        assert_eq!(ceil(i64::MAX, 7), i64::MAX);
    }
}
