//! Staff sessions: login against the signed staff list, lock-out with back-off,
//! inactivity auto-lock, logout.
//!
//! Failed attempts are persisted (`lockout.json`) so a lock-out survives restarts and
//! applies to the headless interface as well. After `threshold` consecutive failures
//! for one staff ID, that ID is locked for 60 s, doubling with every further failure up
//! to one hour; the failure before the lock says so (`LoginLastAttempt`). Unknown IDs
//! share one counter (`*`), so guessing IDs is slowed too. Only that ID waits: another
//! clerk logs in meanwhile. Across all IDs the tablet allows three times the threshold
//! of failures within [`TABLET_WINDOW_SECS`]; beyond that every ID waits (guessing
//! each ID just below its own limit is stopped too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shinsei_protocol::staff::{LoginError, StaffList};

use crate::error::{AgentError, Result};
use crate::fsutil;

const BASE_LOCK_SECS: u64 = 60;
const MAX_LOCK_SECS: u64 = 3600;
/// The tablet-wide failure counter's key (not a valid staff ID).
const TABLET_KEY: &str = "#tablet";
/// Failures across all staff IDs count within this window (seconds).
pub const TABLET_WINDOW_SECS: u64 = 900;
/// The tablet-wide limit, as a multiple of the per-ID threshold.
const TABLET_FACTOR: u32 = 3;

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Failures {
    count: u32,
    locked_until: u64,
    /// Start of the counting window (tablet-wide counter only).
    #[serde(default)]
    since: u64,
}

/// Persisted failure counters.
pub struct Lockout {
    path: PathBuf,
    threshold: u32,
}

/// An unlocked staff session.
#[derive(Debug, Clone)]
pub struct Session {
    staff_id: String,
    last_activity: u64,
    auto_lock_secs: u64,
    locked: bool,
}

impl Session {
    pub fn staff_id(&self) -> &str {
        &self.staff_id
    }

    /// Fails if the session is locked or idle for longer than the auto-lock time.
    pub fn check(&mut self, now: u64) -> Result<()> {
        if self.locked || now.saturating_sub(self.last_activity) >= self.auto_lock_secs {
            self.locked = true;
            return Err(AgentError::LoginRequired);
        }
        self.last_activity = now;
        Ok(())
    }

    pub fn is_locked(&self, now: u64) -> bool {
        self.locked || now.saturating_sub(self.last_activity) >= self.auto_lock_secs
    }

    /// Records activity seen by the kiosk (a touch on the screen), so a clerk who is
    /// working is not locked out in the middle of an application. A locked or already
    /// idle-expired session stays locked.
    pub fn touch(&mut self, now: u64) {
        if !self.is_locked(now) {
            self.last_activity = now;
        }
    }

    /// Explicit logout (or lock).
    pub fn logout(&mut self) {
        self.locked = true;
    }
}

fn lock_secs(count: u32, threshold: u32) -> u64 {
    let over = count.saturating_sub(threshold);
    BASE_LOCK_SECS
        .saturating_mul(1u64 << over.min(16))
        .min(MAX_LOCK_SECS)
}

impl Lockout {
    pub fn new(data_dir: &Path, threshold: u32) -> Self {
        Self {
            path: data_dir.join("lockout.json"),
            threshold: threshold.max(1),
        }
    }

    fn load(&self) -> BTreeMap<String, Failures> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn store(&self, m: &BTreeMap<String, Failures>) -> Result<()> {
        let b = serde_json::to_vec(m).map_err(|e| AgentError::Internal(e.to_string()))?;
        fsutil::write_atomic(&self.path, &b, 0o600)
    }

    /// Logs a staff member in.
    pub fn login(
        &self,
        list: &StaffList,
        staff_id: &str,
        password: &[u8],
        auto_lock_secs: u64,
        now: u64,
    ) -> Result<Session> {
        let mut m = self.load();
        let known = shinsei_protocol::staff::StaffId::parse(staff_id)
            .ok()
            .and_then(|id| list.entry(&id).map(|_| ()))
            .is_some();
        let key = if known {
            staff_id.to_string()
        } else {
            "*".to_string()
        };
        let tablet = m.entry(TABLET_KEY.to_string()).or_default();
        if tablet.locked_until > now {
            return Err(AgentError::LockedOut(tablet.locked_until - now));
        }
        if now.saturating_sub(tablet.since) >= TABLET_WINDOW_SECS {
            *tablet = Failures {
                since: now,
                ..Failures::default()
            };
        }
        let f = m.entry(key.clone()).or_default();
        if f.locked_until > now {
            return Err(AgentError::LockedOut(f.locked_until - now));
        }
        match list.verify_password(staff_id, password) {
            Ok(()) => {
                m.remove(&key);
                self.store(&m)?;
                Ok(Session {
                    staff_id: staff_id.to_string(),
                    last_activity: now,
                    auto_lock_secs,
                    locked: false,
                })
            }
            Err(e) => {
                f.count += 1;
                let mut locked = f.count >= self.threshold;
                if locked {
                    f.locked_until = now + lock_secs(f.count, self.threshold);
                }
                let mut wait = f.locked_until.saturating_sub(now);
                let last_attempt = f.count + 1 == self.threshold;
                let tablet_max = self.threshold.saturating_mul(TABLET_FACTOR);
                let tablet = m.entry(TABLET_KEY.to_string()).or_default();
                tablet.count += 1;
                if tablet.count >= tablet_max {
                    tablet.locked_until = now + lock_secs(tablet.count, tablet_max);
                    locked = true;
                    wait = wait.max(tablet.locked_until.saturating_sub(now));
                }
                self.store(&m)?;
                match e {
                    LoginError::Disabled => Err(AgentError::Login(e.to_string())),
                    LoginError::InvalidCredentials if locked => Err(AgentError::LockedOut(wait)),
                    LoginError::InvalidCredentials if last_attempt => {
                        Err(AgentError::LoginLastAttempt)
                    }
                    LoginError::InvalidCredentials => Err(AgentError::Login(e.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(lock_secs(5, 5), 60);
        assert_eq!(lock_secs(6, 5), 120);
        assert_eq!(lock_secs(7, 5), 240);
        assert_eq!(lock_secs(30, 5), 3600);
    }

    fn list(ids: &[&str]) -> StaffList {
        use shinsei_protocol::staff::{StaffEntry, StaffId, MIN_ITERATIONS};
        StaffList {
            sequence: 1,
            issued_at: 0,
            expires_at: u64::MAX,
            entries: ids
                .iter()
                .map(|id| {
                    StaffEntry::new(StaffId::parse(id).unwrap(), b"Right-Pass-1", MIN_ITERATIONS)
                        .unwrap()
                })
                .collect(),
        }
    }

    #[test]
    fn lock_out_is_per_staff_id_announced_before_and_capped_per_tablet() {
        let dir = tempfile::tempdir().unwrap();
        let lo = Lockout::new(dir.path(), 3);
        let l = list(&["a", "b", "c", "d", "e"]);
        let t = 1000;
        // One attempt left is said before the lock.
        assert!(matches!(
            lo.login(&l, "a", b"x", 300, t),
            Err(AgentError::Login(_))
        ));
        assert!(matches!(
            lo.login(&l, "a", b"x", 300, t),
            Err(AgentError::LoginLastAttempt)
        ));
        assert!(matches!(
            lo.login(&l, "a", b"x", 300, t),
            Err(AgentError::LockedOut(60))
        ));
        // Another staff member is not locked out by it.
        assert!(lo.login(&l, "b", b"Right-Pass-1", 300, t).is_ok());
        // Guessing across IDs, each below its own limit, hits the tablet's limit
        // (three times the per-ID threshold), which then stops every ID.
        for id in ["b", "c", "d"] {
            for _ in 0..2 {
                assert!(lo.login(&l, id, b"x", 300, t).is_err());
            }
        }
        assert!(matches!(
            lo.login(&l, "e", b"Right-Pass-1", 300, t),
            Err(AgentError::LockedOut(_))
        ));
        // After the wait, logins work again.
        assert!(lo.login(&l, "e", b"Right-Pass-1", 300, t + 3600).is_ok());
    }

    #[test]
    fn session_auto_locks() {
        let mut s = Session {
            staff_id: "S1".into(),
            last_activity: 100,
            auto_lock_secs: 300,
            locked: false,
        };
        assert!(s.check(399).is_ok());
        assert!(s.check(698).is_ok());
        assert!(matches!(s.check(998), Err(AgentError::LoginRequired)));
        assert!(s.is_locked(998));
        let mut t = Session {
            locked: false,
            last_activity: 0,
            ..s
        };
        t.logout();
        assert!(t.check(1).is_err());
    }
}
