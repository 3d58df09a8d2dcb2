//! The relay's key schedule: which HPKE public key a tablet seals to at a given time,
//! signed by the relay's receipt key (whose public half every device bundle pins).
//!
//! ```text
//! relay_keys = "SHRK" | version=1 | issued_at u64 BE | epoch_secs u64 BE | count u8
//!              | count × ( epoch u64 BE | x25519_public_key[32] )
//!              | signature[64]      (ECDSA P-256 SHA-256, r||s, receipt key,
//!                                    over "shinsei relay keys v1\0" || everything before it)
//! ```
//!
//! Key `epoch` is the one to seal to when an envelope's `created_at` lies in
//! `[epoch × epoch_secs, (epoch + 1) × epoch_secs)`. Epochs are listed in strictly
//! consecutive ascending order, 1 to [`MAX_KEYS`] of them. The relay accepts an envelope
//! only under the key of its own `created_at`'s epoch and destroys that key's secret
//! once no envelope of the epoch can be accepted any more (see `relay/README.md`,
//! "Erasure"), so a copy of an envelope that lingers anywhere becomes unreadable on a
//! schedule. Why the receipt key signs: the tablet already pins it (bundle), it is the
//! relay's own identity, and every relay node holds it.
//!
//! [`RelayKeySchedule::verify`] is the only parser; it is bounded, strict (no trailing
//! bytes) and checks the signature before it looks at the keys.

use crate::hpke_suite::KEY_LEN;
use crate::keys::{KeyError, RelayPublicKey, SigningKey, VerifyingKey, SIGNATURE_LEN};

/// First four bytes of a key schedule.
pub const MAGIC: [u8; 4] = *b"SHRK";
/// The only version.
pub const VERSION: u8 = 1;
/// Prefix of the signed message.
pub const CONTEXT: &[u8] = b"shinsei relay keys v1\0";
/// Most keys in one schedule.
pub const MAX_KEYS: usize = 64;
/// Length of the fixed part before the keys.
pub const FIXED_LEN: usize = 4 + 1 + 8 + 8 + 1;
/// Length of one key entry.
pub const ENTRY_LEN: usize = 8 + KEY_LEN;
/// Largest schedule, bytes.
pub const MAX_LEN: usize = FIXED_LEN + MAX_KEYS * ENTRY_LEN + SIGNATURE_LEN;

/// One key of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledKey {
    pub epoch: u64,
    pub public: RelayPublicKey,
}

/// A verified key schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayKeySchedule {
    /// When the relay made it (unix seconds).
    pub issued_at: u64,
    /// Length of an epoch (seconds, ≥ 1).
    pub epoch_secs: u64,
    /// Consecutive epochs, oldest first.
    pub keys: Vec<ScheduledKey>,
}

/// Why a key schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayKeysError {
    #[error("key schedule has the wrong length")]
    Length,
    #[error("not a key schedule (bad magic or version)")]
    Format,
    #[error("key schedule signature does not verify")]
    BadSignature,
    #[error("key schedule epoch length must be at least 1 s")]
    EpochSecs,
    #[error("key schedule must list 1 to {MAX_KEYS} keys")]
    Count,
    #[error("key schedule epochs must be consecutive and ascending")]
    Epochs,
    #[error("signing failed: {0}")]
    Sign(KeyError),
}

impl RelayKeySchedule {
    /// The window `[not_before, not_after)` of an epoch; `None` on overflow.
    pub fn window(epoch_secs: u64, epoch: u64) -> Option<(u64, u64)> {
        let start = epoch.checked_mul(epoch_secs)?;
        Some((start, start.checked_add(epoch_secs)?))
    }

    /// The epoch that `t` falls in.
    pub fn epoch_of(epoch_secs: u64, t: u64) -> u64 {
        t / epoch_secs.max(1)
    }

    /// The key to seal to at time `t`, if the schedule covers it.
    pub fn key_at(&self, t: u64) -> Option<&RelayPublicKey> {
        let e = Self::epoch_of(self.epoch_secs, t);
        self.keys.iter().find(|k| k.epoch == e).map(|k| &k.public)
    }

    /// The first second the schedule no longer covers.
    pub fn covers_until(&self) -> u64 {
        self.keys
            .last()
            .and_then(|k| Self::window(self.epoch_secs, k.epoch))
            .map_or(0, |(_, end)| end)
    }

    fn check(&self) -> Result<(), RelayKeysError> {
        if self.epoch_secs == 0 {
            return Err(RelayKeysError::EpochSecs);
        }
        if self.keys.is_empty() || self.keys.len() > MAX_KEYS {
            return Err(RelayKeysError::Count);
        }
        for w in self.keys.windows(2) {
            if w[0].epoch.checked_add(1) != Some(w[1].epoch) {
                return Err(RelayKeysError::Epochs);
            }
        }
        let last = self.keys.last().map_or(0, |k| k.epoch);
        if Self::window(self.epoch_secs, last).is_none() {
            return Err(RelayKeysError::Epochs);
        }
        Ok(())
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED_LEN + self.keys.len() * ENTRY_LEN + SIGNATURE_LEN);
        b.extend_from_slice(&MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&self.issued_at.to_be_bytes());
        b.extend_from_slice(&self.epoch_secs.to_be_bytes());
        b.push(self.keys.len() as u8);
        for k in &self.keys {
            b.extend_from_slice(&k.epoch.to_be_bytes());
            b.extend_from_slice(k.public.as_bytes());
        }
        b
    }

    /// Signs the schedule with the relay's receipt key.
    pub fn sign(&self, receipt_key: &SigningKey) -> Result<Vec<u8>, RelayKeysError> {
        self.check()?;
        let mut b = self.body();
        let mut msg = Vec::with_capacity(CONTEXT.len() + b.len());
        msg.extend_from_slice(CONTEXT);
        msg.extend_from_slice(&b);
        let sig = receipt_key.sign(&msg).map_err(RelayKeysError::Sign)?;
        b.extend_from_slice(&sig);
        Ok(b)
    }

    /// Parses and verifies untrusted bytes against the pinned receipt key.
    pub fn verify(bytes: &[u8], receipt_key: &VerifyingKey) -> Result<Self, RelayKeysError> {
        if bytes.len() < FIXED_LEN + ENTRY_LEN + SIGNATURE_LEN || bytes.len() > MAX_LEN {
            return Err(RelayKeysError::Length);
        }
        if bytes[..4] != MAGIC || bytes[4] != VERSION {
            return Err(RelayKeysError::Format);
        }
        let count = usize::from(bytes[FIXED_LEN - 1]);
        if count == 0 || count > MAX_KEYS {
            return Err(RelayKeysError::Count);
        }
        if bytes.len() != FIXED_LEN + count * ENTRY_LEN + SIGNATURE_LEN {
            return Err(RelayKeysError::Length);
        }
        let (body, sig) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let sig: [u8; SIGNATURE_LEN] = sig.try_into().map_err(|_| RelayKeysError::Length)?;
        let mut msg = Vec::with_capacity(CONTEXT.len() + body.len());
        msg.extend_from_slice(CONTEXT);
        msg.extend_from_slice(body);
        if !receipt_key.verify(&msg, &sig) {
            return Err(RelayKeysError::BadSignature);
        }
        let u64_at = |i: usize| -> Result<u64, RelayKeysError> {
            let a: [u8; 8] = body
                .get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or(RelayKeysError::Length)?;
            Ok(u64::from_be_bytes(a))
        };
        let issued_at = u64_at(5)?;
        let epoch_secs = u64_at(13)?;
        let mut keys = Vec::with_capacity(count);
        for i in 0..count {
            let at = FIXED_LEN + i * ENTRY_LEN;
            let epoch = u64_at(at)?;
            let pk: [u8; KEY_LEN] = body
                .get(at + 8..at + ENTRY_LEN)
                .and_then(|s| s.try_into().ok())
                .ok_or(RelayKeysError::Length)?;
            keys.push(ScheduledKey {
                epoch,
                public: RelayPublicKey::from_bytes(pk),
            });
        }
        let s = Self {
            issued_at,
            epoch_secs,
            keys,
        };
        s.check()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(n: usize) -> RelayKeySchedule {
        RelayKeySchedule {
            issued_at: 1_800_000_000,
            epoch_secs: 86_400,
            keys: (0..n as u64)
                .map(|i| ScheduledKey {
                    epoch: 20_000 + i,
                    public: RelayPublicKey::from_bytes([i as u8 + 1; 32]),
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let (_d, k) = SigningKey::generate().unwrap();
        let s = sched(3);
        let b = s.sign(&k).unwrap();
        assert_eq!(b.len(), FIXED_LEN + 3 * ENTRY_LEN + SIGNATURE_LEN);
        let v = RelayKeySchedule::verify(&b, &k.public_key()).unwrap();
        assert_eq!(v, s);
        assert_eq!(v.key_at(20_001 * 86_400 + 5).unwrap().as_bytes(), &[2; 32]);
        assert!(v.key_at(20_003 * 86_400).is_none());
        assert!(v.key_at(19_999 * 86_400).is_none());
        assert_eq!(v.covers_until(), 20_003 * 86_400);
    }

    #[test]
    fn refusals() {
        let (_d, k) = SigningKey::generate().unwrap();
        let (_d2, other) = SigningKey::generate().unwrap();
        let b = sched(2).sign(&k).unwrap();
        let vk = k.public_key();
        assert_eq!(
            RelayKeySchedule::verify(&b, &other.public_key()),
            Err(RelayKeysError::BadSignature)
        );
        for i in [0, 4, 10, 30, b.len() - 1] {
            let mut t = b.clone();
            t[i] ^= 1;
            assert!(RelayKeySchedule::verify(&t, &vk).is_err(), "flip at {i}");
        }
        let mut t = b.clone();
        t.push(0);
        assert_eq!(
            RelayKeySchedule::verify(&t, &vk),
            Err(RelayKeysError::Length)
        );
        assert_eq!(
            RelayKeySchedule::verify(&b[..b.len() - 1], &vk),
            Err(RelayKeysError::Length)
        );
        let mut gap = sched(2);
        gap.keys[1].epoch += 1;
        assert_eq!(gap.sign(&k), Err(RelayKeysError::Epochs));
        assert_eq!(sched(0).sign(&k), Err(RelayKeysError::Count));
        assert_eq!(sched(MAX_KEYS + 1).sign(&k), Err(RelayKeysError::Count));
        let mut zero = sched(1);
        zero.epoch_secs = 0;
        assert_eq!(zero.sign(&k), Err(RelayKeysError::EpochSecs));
        let mut big = sched(1);
        big.keys[0].epoch = u64::MAX;
        assert_eq!(big.sign(&k), Err(RelayKeysError::Epochs));
        assert!(sched(MAX_KEYS).sign(&k).unwrap().len() == MAX_LEN);
    }
}
