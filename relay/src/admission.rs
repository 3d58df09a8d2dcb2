//! Admission of connections before authentication (issue 19, "before authentication").
//!
//! A listener's connections pass three stages, each with its own pool of slots, so that
//! a stage cannot take the slots of the next one:
//!
//! 1. **waiting** — accepted, no byte received yet: at most `limits.max_pre_tls` per
//!    listener, and each must send its first byte (the ClientHello) within
//!    `limits.pre_tls_grace_secs` (3 s by default). An idle socket costs the relay a few
//!    hundred bytes and is gone after the grace.
//! 2. **handshaking** — the first byte came, the TLS handshake runs (within
//!    `limits.handshake_timeout_secs`): at most `limits.max_handshakes` per listener. Idle
//!    sockets never get here, so their number cannot keep a progressing handshake out.
//! 3. **established** — the client certificate verified: at most
//!    `limits.max_connections` per listener. Unauthenticated connections never hold one
//!    of these, so authenticated tablets are served first whatever the number of
//!    sockets an attacker opens.
//!
//! Stages 1 and 2 together are also capped per source address
//! (`limits.max_unauthenticated_per_ip`, 32 by default). The default is a trade-off: the
//! tablets of one ward office may share one address (a NAT'd mobile line), but a
//! handshake takes milliseconds, so even fifty tablets reconnecting at once rarely have
//! 32 handshakes open together, and one refused is retried by the agent. An attacker
//! with one address holds 32 slots for 3 s at a time instead of all of them.
//!
//! A connection that finds its stage full is closed at once instead of being left in
//! the kernel's backlog: the accept loop never stops accepting, so a legitimate
//! connection is never queued behind thousands of idle ones (the 16 s).
//!
//! Written here rather than taken from `tower`: tower's limits (`ConcurrencyLimit`,
//! `LoadShed`) wrap a `Service` of requests, and these slots are taken before there is
//! any request or even a TLS session; the building blocks are tokio's `Semaphore`
//! (already used by the accept loop) and one map of counters.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::config::LimitsConfig;

/// Why a connection was closed without being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Its source address has `max_unauthenticated_per_ip` connections not yet
    /// authenticated.
    PerAddress,
    /// `max_pre_tls` connections are waiting for their first byte.
    Waiting,
    /// `max_handshakes` TLS handshakes are running.
    Handshakes,
    /// `max_connections` authenticated connections are open.
    Established,
}

impl Rejected {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::PerAddress => "per_address",
            Self::Waiting => "waiting",
            Self::Handshakes => "handshakes",
            Self::Established => "established",
        }
    }
}

/// The pools of one listener.
pub struct Admission {
    waiting: Arc<Semaphore>,
    handshaking: Arc<Semaphore>,
    established: Arc<Semaphore>,
    per_ip_cap: usize,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A connection not yet authenticated: its source address's count, and the slot of
/// its stage.
pub struct Unauthenticated {
    _slot: OwnedSemaphorePermit,
    _address: AddressSlot,
    handshaking: Arc<Semaphore>,
    established: Arc<Semaphore>,
}

/// An authenticated connection's slot.
pub struct Established {
    _slot: OwnedSemaphorePermit,
}

/// One unit of a source address's count, given back on drop.
struct AddressSlot {
    ip: IpAddr,
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

fn take(sem: &Arc<Semaphore>, why: Rejected) -> Result<OwnedSemaphorePermit, Rejected> {
    sem.clone().try_acquire_owned().map_err(|e| match e {
        TryAcquireError::NoPermits | TryAcquireError::Closed => why,
    })
}

impl Admission {
    pub fn new(l: &LimitsConfig) -> Self {
        Self {
            waiting: Arc::new(Semaphore::new(l.max_pre_tls)),
            handshaking: Arc::new(Semaphore::new(l.max_handshakes)),
            established: Arc::new(Semaphore::new(l.max_connections)),
            per_ip_cap: l.max_unauthenticated_per_ip,
            per_ip: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Stage 1: a connection just accepted from `ip`.
    pub fn accept(&self, ip: IpAddr) -> Result<Unauthenticated, Rejected> {
        let address = {
            let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(ip).or_insert(0);
            if *n >= self.per_ip_cap {
                return Err(Rejected::PerAddress);
            }
            *n += 1;
            AddressSlot {
                ip,
                map: self.per_ip.clone(),
            }
        };
        Ok(Unauthenticated {
            _slot: take(&self.waiting, Rejected::Waiting)?,
            _address: address,
            handshaking: self.handshaking.clone(),
            established: self.established.clone(),
        })
    }

    /// Authenticated connections open now (for tests and metrics).
    pub fn established_open(&self, max: usize) -> usize {
        max.saturating_sub(self.established.available_permits())
    }
}

impl Unauthenticated {
    /// Stage 2: the first byte arrived; the waiting slot is given back for a
    /// handshake slot.
    pub fn first_byte(self) -> Result<Unauthenticated, Rejected> {
        let slot = take(&self.handshaking, Rejected::Handshakes)?;
        Ok(Unauthenticated {
            _slot: slot,
            _address: self._address,
            handshaking: self.handshaking,
            established: self.established,
        })
    }

    /// Stage 3: the client certificate verified; the address count and the handshake
    /// slot are given back for an established slot.
    pub fn authenticated(self) -> Result<Established, Rejected> {
        take(&self.established, Rejected::Established).map(|_slot| Established { _slot })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(per_ip: usize, waiting: usize, handshakes: usize, conns: usize) -> LimitsConfig {
        LimitsConfig {
            max_unauthenticated_per_ip: per_ip,
            max_pre_tls: waiting,
            max_handshakes: handshakes,
            max_connections: conns,
            ..LimitsConfig::default()
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn per_address_cap_counts_until_authenticated() {
        let a = Admission::new(&limits(2, 100, 100, 100));
        let x = a.accept(A).unwrap();
        let y = a.accept(A).unwrap();
        assert_eq!(a.accept(A).err(), Some(Rejected::PerAddress));
        assert!(a.accept(B).is_ok(), "another address is not affected");
        // Moving to the handshake keeps the address's count.
        let x = x.first_byte().unwrap();
        assert_eq!(a.accept(A).err(), Some(Rejected::PerAddress));
        // Authenticated: the count is given back.
        let _e = x.authenticated().unwrap();
        let _z = a.accept(A).unwrap();
        drop(y);
        let _w = a.accept(A).unwrap();
        assert_eq!(a.accept(A).err(), Some(Rejected::PerAddress));
    }

    #[test]
    fn idle_sockets_cannot_take_handshake_or_established_slots() {
        let a = Admission::new(&limits(1000, 3, 1, 1));
        let idle: Vec<_> = (0..3).map(|_| a.accept(A).unwrap()).collect();
        assert_eq!(a.accept(B).err(), Some(Rejected::Waiting));
        drop(idle);
        // The handshake pool is untouched by waiting sockets.
        let h = a.accept(B).unwrap().first_byte().unwrap();
        let idle: Vec<_> = (0..3).map(|_| a.accept(A).unwrap()).collect();
        let e = h.authenticated().unwrap();
        assert_eq!(a.established_open(1), 1);
        let other = a.accept(B).err();
        assert_eq!(other, Some(Rejected::Waiting), "waiting pool is full");
        drop(idle);
        let h2 = a.accept(B).unwrap().first_byte().unwrap();
        assert_eq!(h2.authenticated().err(), Some(Rejected::Established));
        drop(e);
        assert_eq!(a.established_open(1), 0);
        assert!(a.per_ip.lock().unwrap().is_empty(), "counts given back");
    }
}
