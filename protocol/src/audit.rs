//! The operations log as it travels from a tablet to the relay (`POST /v1/audit`):
//! entries chained by SHA-256, uploaded in bounded batches, each batch's last entry (its
//! head) signed with the device key, so the relay can check the chain with the key of
//! the certificate the tablet connected with and keep a signed anchor.
//!
//! ```text
//! hash(e) = SHA-256("shinsei audit v2\0" ‖ JSON(e with hash = ""))
//! e.prev  = hash(previous entry), 64 zero hex digits for the first
//! head signature = ECDSA P-256 / SHA-256 over
//!          "shinsei audit head v1\0" ‖ device ID ‖ 0x00 ‖ seq (u64 BE) ‖ hash (32 bytes)
//! ```
//! `JSON(e)` is the serialisation of [`Entry`] (fields in declaration order, absent
//! options left out), so the relay recomputes the hash from the parsed entry: an entry
//! with any other field is refused ([`Entry`] denies unknown fields).
//!
//! The relay accepts a batch only if it continues the chain it holds (first entry at
//! `head + 1` with `prev` = the head's hash) or repeats its head exactly (a resend after
//! a lost acknowledgement); anything else is a gap or a fork, refused and raised for
//! IT. See `relay/README.md` ("Operations log").
//!
//! No personal data: events are a closed set of names chosen by the agent's typed
//! events; staff IDs appear only if they are on the tablet's staff list ("unknown"
//! otherwise), applications only as a keyed reference.

use serde::{Deserialize, Serialize};

use crate::keys::{SigningKey, VerifyingKey, SIGNATURE_LEN};

/// Most entries in one upload.
pub const MAX_UPLOAD_ENTRIES: usize = 500;
/// Longest string field of an entry.
pub const MAX_FIELD_LEN: usize = 256;
/// Largest upload body the agent sends (the relay's default limit is 256 KiB).
pub const MAX_UPLOAD_BYTES: usize = 192 * 1024;
/// `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    /// Unix seconds (the first occurrence, for a coalesced entry).
    pub at: u64,
    /// `[a-z0-9_]{1,48}`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How many occurrences this entry stands for (repeated failures are coalesced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The last occurrence (unix seconds) of a coalesced entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Hash of the previous entry (hex).
    pub prev: String,
    /// This entry's hash (hex); empty while it is computed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

/// Why an entry or a batch is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("entry {seq}: {what}")]
    BadEntry { seq: u64, what: &'static str },
    #[error("entry {seq} does not follow entry {after}")]
    Gap { seq: u64, after: u64 },
    #[error("entry {seq} does not chain to the entry before it")]
    Broken { seq: u64 },
    #[error("entry {seq}'s hash is not its content's")]
    Modified { seq: u64 },
    #[error("the batch is empty or larger than {MAX_UPLOAD_ENTRIES} entries")]
    BatchSize,
    #[error("the head signature does not verify")]
    BadSignature,
    #[error("cannot sign: {0}")]
    Sign(String),
}

impl Entry {
    /// The entry's chain hash (over every field but `hash`).
    pub fn chain_hash(&self) -> [u8; 32] {
        let mut unsigned = self.clone();
        unsigned.hash = String::new();
        // Serialising a struct of strings and integers cannot fail.
        let body = serde_json::to_vec(&unsigned).unwrap_or_default();
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"shinsei audit v2\0");
        ctx.update(&body);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Checks the fields' shapes (names and lengths; the relay refuses the rest).
    pub fn check_shape(&self) -> Result<(), AuditError> {
        let bad = |what| AuditError::BadEntry {
            seq: self.seq,
            what,
        };
        if self.event.is_empty()
            || self.event.len() > 48
            || !self
                .event
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(bad("event must match [a-z0-9_]{1,48}"));
        }
        for s in [&self.staff, &self.envelope, &self.app_ref, &self.detail]
            .into_iter()
            .flatten()
        {
            if s.len() > MAX_FIELD_LEN {
                return Err(bad("a field is longer than 256 bytes"));
            }
        }
        if decode32(&self.prev).is_none() || decode32(&self.hash).is_none() {
            return Err(bad("prev and hash must be 64 hex digits"));
        }
        if self.seq == 0 {
            return Err(bad("seq starts at 1"));
        }
        Ok(())
    }

    /// The stored hash, decoded.
    pub fn hash_bytes(&self) -> Option<[u8; 32]> {
        decode32(&self.hash)
    }
}

fn decode32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Checks that `entries` are well-formed, consecutive, chained to each other and each
/// hashed correctly (not where the chain starts: that is the relay's or the anchor's).
pub fn check_chain(entries: &[Entry]) -> Result<(), AuditError> {
    let mut prev: Option<(u64, [u8; 32])> = None;
    for e in entries {
        e.check_shape()?;
        if e.hash_bytes() != Some(e.chain_hash()) {
            return Err(AuditError::Modified { seq: e.seq });
        }
        if let Some((seq, hash)) = prev {
            if e.seq != seq + 1 {
                return Err(AuditError::Gap {
                    seq: e.seq,
                    after: seq,
                });
            }
            if decode32(&e.prev) != Some(hash) {
                return Err(AuditError::Broken { seq: e.seq });
            }
        }
        prev = Some((e.seq, e.chain_hash()));
    }
    Ok(())
}

/// The signed head of an upload: the last entry's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    pub seq: u64,
    /// Hex.
    pub hash: String,
    /// ECDSA P-256 fixed-width signature, hex.
    pub sig: String,
}

fn head_message(device_id: &str, seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + device_id.len());
    m.extend_from_slice(b"shinsei audit head v1\0");
    m.extend_from_slice(device_id.as_bytes());
    m.push(0);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

impl SignedHead {
    /// Signs the head `(seq, hash)` of `device_id`'s log.
    pub fn sign(
        device_id: &str,
        seq: u64,
        hash: &[u8; 32],
        key: &SigningKey,
    ) -> Result<Self, AuditError> {
        let sig = key
            .sign(&head_message(device_id, seq, hash))
            .map_err(|e| AuditError::Sign(e.to_string()))?;
        Ok(Self {
            seq,
            hash: hex::encode(hash),
            sig: hex::encode(sig),
        })
    }

    /// Verifies the signature with the device's key.
    pub fn verify(&self, device_id: &str, key: &VerifyingKey) -> Result<[u8; 32], AuditError> {
        let hash = decode32(&self.hash).ok_or(AuditError::BadSignature)?;
        let mut sig = [0u8; SIGNATURE_LEN];
        hex::decode_to_slice(&self.sig, &mut sig).map_err(|_| AuditError::BadSignature)?;
        if key.verify(&head_message(device_id, self.seq, &hash), &sig) {
            Ok(hash)
        } else {
            Err(AuditError::BadSignature)
        }
    }
}

/// `POST /v1/audit` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    pub entries: Vec<Entry>,
    /// Signs the last entry.
    pub head: SignedHead,
}

impl Upload {
    /// Checks the batch on its own: size, chain, and that the signed head is its last
    /// entry with a valid signature by `key`.
    pub fn check(&self, device_id: &str, key: &VerifyingKey) -> Result<(), AuditError> {
        if self.entries.is_empty() || self.entries.len() > MAX_UPLOAD_ENTRIES {
            return Err(AuditError::BatchSize);
        }
        check_chain(&self.entries)?;
        let last = self.entries.last().ok_or(AuditError::BatchSize)?;
        let hash = self.head.verify(device_id, key)?;
        if self.head.seq != last.seq || Some(hash) != last.hash_bytes() {
            return Err(AuditError::BadSignature);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chain(n: u64) -> Vec<Entry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut e = Entry {
                    seq,
                    at: 1_800_000_000 + seq,
                    event: "login".into(),
                    staff: Some("S001".into()),
                    envelope: None,
                    app_ref: None,
                    detail: None,
                    count: None,
                    until: None,
                    prev: hex::encode(prev),
                    hash: String::new(),
                };
                prev = e.chain_hash();
                e.hash = hex::encode(prev);
                e
            })
            .collect()
    }

    #[test]
    fn a_chain_verifies_and_each_kind_of_tampering_is_named() {
        let c = chain(4);
        assert_eq!(check_chain(&c), Ok(()));
        let mut edited = c.clone();
        edited[1].staff = Some("S002".into());
        assert_eq!(check_chain(&edited), Err(AuditError::Modified { seq: 2 }));
        let mut gap = c.clone();
        gap.remove(2);
        assert_eq!(check_chain(&gap), Err(AuditError::Gap { seq: 4, after: 2 }));
        // A re-hashed edit breaks the link to the next entry.
        let mut rehashed = c.clone();
        rehashed[1].detail = Some("x".into());
        rehashed[1].hash = hex::encode(rehashed[1].chain_hash());
        assert_eq!(check_chain(&rehashed), Err(AuditError::Broken { seq: 3 }));
        let mut extra = serde_json::to_value(&c[0]).unwrap();
        extra["password"] = "hunter2".into();
        assert!(serde_json::from_value::<Entry>(extra).is_err());
    }

    #[test]
    fn the_head_signature_binds_device_seq_and_hash() {
        let (_, key) = crate::keys::SigningKey::generate().unwrap();
        let c = chain(3);
        let h = c[2].hash_bytes().unwrap();
        let up = Upload {
            entries: c.clone(),
            head: SignedHead::sign("TAB-0001", 3, &h, &key).unwrap(),
        };
        assert_eq!(up.check("TAB-0001", &key.public_key()), Ok(()));
        assert_eq!(
            up.check("TAB-0002", &key.public_key()),
            Err(AuditError::BadSignature)
        );
        let (_, other) = crate::keys::SigningKey::generate().unwrap();
        assert_eq!(
            up.check("TAB-0001", &other.public_key()),
            Err(AuditError::BadSignature)
        );
        let short = Upload {
            entries: c[..2].to_vec(),
            head: up.head.clone(),
        };
        assert_eq!(
            short.check("TAB-0001", &key.public_key()),
            Err(AuditError::BadSignature)
        );
    }
}
