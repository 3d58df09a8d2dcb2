//! Who may use the console: a one-time login token, sessions that expire, and a CSRF
//! token per session. Pure (time is a parameter), so every rule is unit-tested.
//!
//! # Design
//! The console runs on IT's own workstation and holds the admin credential; the browser
//! never sees a key. Anyone who can reach the loopback port (another local user, a web
//! page doing DNS rebinding) must still not act as the admin, so:
//! - the command prints a **one-time token** (as Jupyter does); redeeming it opens a
//!   session and burns the token: a copied URL is useless afterwards;
//! - the **session** is a random 256-bit ID in an `HttpOnly`, `SameSite=Strict` cookie,
//!   ending after [`IDLE_SECS`] without a request or [`MAX_SECS`] in all;
//! - every state-changing request carries the session's **CSRF token** in the form,
//!   compared in constant time (the `Origin` and `Host` checks are in `crate::guard`).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use ring::rand::{SecureRandom, SystemRandom};

/// A session ends after this long without a request (15 minutes).
pub const IDLE_SECS: u64 = 15 * 60;
/// A session ends this long after login whatever happens (8 hours: a working day).
pub const MAX_SECS: u64 = 8 * 3600;

/// 32 random bytes, hex.
fn random_hex() -> Result<String, AuthError> {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| AuthError::Random)?;
    Ok(hex::encode(b))
}

/// Constant-time equality (`subtle`); lengths are not secret (always 64 hex digits).
fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the login token is wrong or was already used")]
    BadToken,
    #[error("not logged in, or the session has ended")]
    NoSession,
    #[error("the form's CSRF token is missing or wrong")]
    BadCsrf,
    #[error("no random numbers")]
    Random,
}

struct Session {
    csrf: String,
    started: Instant,
    last: Instant,
    flash: Option<String>,
}

/// The login token and the sessions.
pub struct Sessions {
    token: Mutex<Option<String>>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// New, with a fresh one-time login token (returned: the command prints it).
    pub fn new() -> Result<(Self, String), AuthError> {
        let token = random_hex()?;
        Ok((
            Self {
                token: Mutex::new(Some(token.clone())),
                sessions: Mutex::new(HashMap::new()),
            },
            token,
        ))
    }

    /// Redeems the login token (once): a new session ID.
    pub fn redeem(&self, token: &str, now: Instant) -> Result<String, AuthError> {
        let mut t = self.token.lock().unwrap_or_else(|p| p.into_inner());
        match t.as_deref() {
            Some(expected) if same(expected, token) => {}
            _ => return Err(AuthError::BadToken),
        }
        *t = None;
        let id = random_hex()?;
        let s = Session {
            csrf: random_hex()?,
            started: now,
            last: now,
            flash: None,
        };
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), s);
        Ok(id)
    }

    /// The session's CSRF token if `id` is a live session (and marks it used now).
    pub fn check(&self, id: &str, now: Instant) -> Result<String, AuthError> {
        let mut m = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, s| alive(s, now));
        // Look the ID up by constant-time comparison of every live ID.
        let key = m.keys().find(|k| same(k, id)).cloned();
        let s = key
            .and_then(|k| m.get_mut(&k))
            .ok_or(AuthError::NoSession)?;
        s.last = now;
        Ok(s.csrf.clone())
    }

    /// A live session whose CSRF token is `csrf`.
    pub fn check_post(&self, id: &str, csrf: &str, now: Instant) -> Result<(), AuthError> {
        let expected = self.check(id, now)?;
        if same(&expected, csrf) {
            Ok(())
        } else {
            Err(AuthError::BadCsrf)
        }
    }

    /// Leaves a message for the session's next page.
    pub fn set_flash(&self, id: &str, msg: String) {
        let mut m = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(id) {
            s.flash = Some(msg);
        }
    }

    /// Takes the message left for this page.
    pub fn take_flash(&self, id: &str) -> Option<String> {
        let mut m = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        m.get_mut(id).and_then(|s| s.flash.take())
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.last) < Duration::from_secs(IDLE_SECS)
        && now.saturating_duration_since(s.started) < Duration::from_secs(MAX_SECS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_login_token_works_once() {
        let (s, token) = Sessions::new().unwrap();
        let t0 = Instant::now();
        assert_eq!(s.redeem("wrong", t0), Err(AuthError::BadToken));
        let id = s.redeem(&token, t0).unwrap();
        assert_eq!(s.redeem(&token, t0), Err(AuthError::BadToken));
        assert!(s.check(&id, t0).is_ok());
        assert_eq!(s.check("nope", t0), Err(AuthError::NoSession));
    }

    #[test]
    fn a_post_needs_the_sessions_csrf_token() {
        let (s, token) = Sessions::new().unwrap();
        let t0 = Instant::now();
        let id = s.redeem(&token, t0).unwrap();
        let csrf = s.check(&id, t0).unwrap();
        assert_eq!(csrf.len(), 64);
        assert!(s.check_post(&id, &csrf, t0).is_ok());
        assert_eq!(s.check_post(&id, "", t0), Err(AuthError::BadCsrf));
        assert_eq!(s.check_post(&id, &csrf[1..], t0), Err(AuthError::BadCsrf));
        assert_eq!(s.check_post("other", &csrf, t0), Err(AuthError::NoSession));
    }

    #[test]
    fn sessions_expire_when_idle_and_after_a_day_s_work() {
        let (s, token) = Sessions::new().unwrap();
        let t0 = Instant::now();
        let id = s.redeem(&token, t0).unwrap();
        let idle = Duration::from_secs(IDLE_SECS);
        // Used every 10 minutes: alive until the absolute limit.
        let mut t = t0;
        while t.duration_since(t0) + Duration::from_secs(600) < Duration::from_secs(MAX_SECS) {
            t += Duration::from_secs(600);
            assert!(s.check(&id, t).is_ok());
        }
        assert_eq!(
            s.check(&id, t0 + Duration::from_secs(MAX_SECS)),
            Err(AuthError::NoSession)
        );
        // Idle too long.
        let (s, token) = Sessions::new().unwrap();
        let id = s.redeem(&token, t0).unwrap();
        assert!(s.check(&id, t0 + idle - Duration::from_secs(1)).is_ok());
        let later = t0 + idle - Duration::from_secs(1) + idle;
        assert_eq!(s.check(&id, later), Err(AuthError::NoSession));
        // Logged out.
        let (s, token) = Sessions::new().unwrap();
        let id = s.redeem(&token, t0).unwrap();
        s.end(&id);
        assert_eq!(s.check(&id, t0), Err(AuthError::NoSession));
    }
}
