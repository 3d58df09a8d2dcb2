//! The offline lease: a tablet that has not checked in with the relay for
//! `offline_lock_secs` locks itself; after `offline_wipe_secs` it wipes itself.
//!
//! Elapsed time since the last successful check-in is the larger of
//! - wall-clock time, measured from a persisted high-water mark (the latest wall time
//!   ever seen), so setting the clock back does not undo elapsed time; and
//! - monotonic running time accumulated while the agent runs, so freezing or rewinding
//!   the wall clock while it runs does not stop the lease either.
//!
//! The logic here is pure; [`LeaseFile`] persists the record.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};
use crate::fsutil;

/// Persisted lease record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    /// Wall time of the last successful check-in.
    pub last_checkin: u64,
    /// Highest wall time ever observed.
    pub high_water: u64,
    /// Monotonic seconds accumulated since the last check-in.
    pub mono_since_checkin: u64,
}

/// What the lease allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseVerdict {
    Ok { remaining_secs: u64 },
    Locked,
    Wipe,
}

impl Lease {
    pub(crate) fn new(now: u64) -> Self {
        Self {
            last_checkin: now,
            high_water: now,
            mono_since_checkin: 0,
        }
    }

    /// Records the passage of time: the wall clock now, and monotonic seconds since the
    /// previous observation.
    pub(crate) fn observe(&mut self, wall_now: u64, mono_delta_secs: u64) {
        self.high_water = self.high_water.max(wall_now);
        self.mono_since_checkin = self.mono_since_checkin.saturating_add(mono_delta_secs);
    }

    /// A successful check-in.
    pub(crate) fn checked_in(&mut self, wall_now: u64) {
        self.high_water = self.high_water.max(wall_now);
        self.last_checkin = self.high_water;
        self.mono_since_checkin = 0;
    }

    pub(crate) fn elapsed(&self) -> u64 {
        self.high_water
            .saturating_sub(self.last_checkin)
            .max(self.mono_since_checkin)
    }

    pub(crate) fn verdict(&self, lock_after: u64, wipe_after: u64) -> LeaseVerdict {
        let e = self.elapsed();
        if e >= wipe_after {
            LeaseVerdict::Wipe
        } else if e >= lock_after {
            LeaseVerdict::Locked
        } else {
            LeaseVerdict::Ok {
                remaining_secs: lock_after - e,
            }
        }
    }
}

/// The lease record on disk (`lease.json`, written atomically).
pub(crate) struct LeaseFile {
    path: PathBuf,
}

impl LeaseFile {
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("lease.json"),
        }
    }

    /// Loads the record, or starts one at `now` (first run after enrollment).
    pub(crate) fn load_or_start(&self, now: u64) -> Result<Lease> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| AgentError::Internal(format!("lease record unreadable: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let l = Lease::new(now);
                self.store(&l)?;
                Ok(l)
            }
            Err(e) => Err(AgentError::file(&self.path, e)),
        }
    }

    pub(crate) fn store(&self, lease: &Lease) -> Result<()> {
        let b = serde_json::to_vec(lease).map_err(|e| AgentError::Internal(e.to_string()))?;
        fsutil::write_atomic(&self.path, &b, 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: u64 = 86_400;
    const WIPE: u64 = 7 * 86_400;

    #[test]
    fn locks_then_wipes() {
        let mut l = Lease::new(1000);
        assert_eq!(
            l.verdict(LOCK, WIPE),
            LeaseVerdict::Ok {
                remaining_secs: LOCK
            }
        );
        l.observe(1000 + LOCK - 1, 0);
        assert!(matches!(l.verdict(LOCK, WIPE), LeaseVerdict::Ok { .. }));
        l.observe(1000 + LOCK, 0);
        assert_eq!(l.verdict(LOCK, WIPE), LeaseVerdict::Locked);
        l.observe(1000 + WIPE, 0);
        assert_eq!(l.verdict(LOCK, WIPE), LeaseVerdict::Wipe);
        l.checked_in(1000 + WIPE + 5);
        assert!(matches!(l.verdict(LOCK, WIPE), LeaseVerdict::Ok { .. }));
    }

    #[test]
    fn clock_rollback_does_not_extend() {
        let mut l = Lease::new(1000);
        l.observe(1000 + LOCK + 10, 0);
        // Someone sets the clock back to the check-in time.
        l.observe(1000, 0);
        assert_eq!(l.verdict(LOCK, WIPE), LeaseVerdict::Locked);
    }

    #[test]
    fn frozen_clock_is_caught_by_monotonic_time() {
        let mut l = Lease::new(1000);
        for _ in 0..25 {
            l.observe(1000, 3600);
        }
        assert_eq!(l.verdict(LOCK, WIPE), LeaseVerdict::Locked);
    }

    #[test]
    fn persisted() {
        let d = tempfile::tempdir().unwrap();
        let f = LeaseFile::new(d.path());
        let mut l = f.load_or_start(50).unwrap();
        l.observe(60, 3);
        f.store(&l).unwrap();
        assert_eq!(f.load_or_start(0).unwrap(), l);
    }
}
