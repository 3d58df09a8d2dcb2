//! Time. Wall-clock time comes through [`Clock`] so tests can move it; the offline
//! lease also counts monotonic time so winding the wall clock back does not help.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time (seconds since the Unix epoch).
pub trait Clock: Send + Sync {
    fn now(&self) -> u64;
}

/// The system clock, optionally moved **forward** by a fixed offset.
///
/// The offset comes from `SHINSEI_CLOCK_FORWARD_SECS` (builds with the `test-hooks`
/// feature only, see [`crate::test_hooks`]) and exists for end-to-end tests
/// of expiry (offline lease, outbox age). It can only add time, so it can only make the
/// agent lock, wipe or expire sooner, never extend anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub forward_secs: u64,
}

impl SystemClock {
    pub fn from_env() -> Self {
        let forward_secs = crate::test_hooks::clock_forward_secs();
        Self { forward_secs }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        t.saturating_add(self.forward_secs)
    }
}

/// A clock tests set by hand.
#[derive(Debug, Default)]
pub struct ManualClock(pub std::sync::atomic::AtomicU64);

impl ManualClock {
    pub fn new(t: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(t))
    }

    pub fn set(&self, t: u64) {
        self.0.store(t, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
