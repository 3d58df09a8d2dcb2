//! Staff sessions: login against the signed staff list, lock-out with back-off,
//! inactivity auto-lock, logout.
//!
//! Failed attempts are persisted (`lockout.json`) so a lock-out survives restarts and
//! applies to the headless interface as well. After `threshold` consecutive failures
//! for one staff ID, that ID is locked for 60 s, doubling with every further failure up
//! to one hour. Unknown IDs share one counter (`*`), so guessing IDs is slowed too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shinsei_protocol::staff::{LoginError, StaffList};

use crate::error::{AgentError, Result};
use crate::fsutil;

const BASE_LOCK_SECS: u64 = 60;
const MAX_LOCK_SECS: u64 = 3600;

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Failures {
    count: u32,
    locked_until: u64,
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
                let locked = f.count >= self.threshold;
                if locked {
                    f.locked_until = now + lock_secs(f.count, self.threshold);
                }
                let wait = f.locked_until.saturating_sub(now);
                self.store(&m)?;
                match e {
                    LoginError::Disabled => Err(AgentError::Login(e.to_string())),
                    LoginError::InvalidCredentials if locked => Err(AgentError::LockedOut(wait)),
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
