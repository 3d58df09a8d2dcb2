//! The outbox: sealed envelopes waiting for the relay's receipt.
//!
//! Only envelopes (already HPKE-sealed to the relay) are stored, and each record is
//! additionally encrypted with the outbox key (AES-256-GCM, `outbox.key`, 0600), so that
//! destroying that one key crypto-erases the outbox. Writes are flushed before a call
//! returns. Keys of the sled tree are envelope IDs; the ID is the idempotency key at the
//! relay, so resending after a crash never duplicates an application.

use std::path::{Path, PathBuf};

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use shinsei_protocol::envelope::EnvelopeId;

use crate::error::{from_sled, AgentError, Result};
use crate::fsutil;

/// One queued envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: EnvelopeId,
    /// Envelope creation time (unix seconds).
    pub created_at: u64,
    /// Send attempts so far.
    pub attempts: u32,
    /// Do not try again before this time (unix seconds).
    pub next_attempt_at: u64,
    /// Last refusal or error, for the operator (no personal data).
    pub last_error: Option<String>,
    pub envelope: Vec<u8>,
}

const RECORD_VERSION: u8 = 1;

/// The outbox.
pub struct Outbox {
    db: sled::Db,
    tree: sled::Tree,
    /// Application references (keyed HMAC of the ID, as in the audit log: no personal
    /// data) of recent submissions → created_at ‖ envelope ID. Written in the same
    /// transaction as the envelope, so a retry after a crash can be recognised.
    submitted: sled::Tree,
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Outbox {
    pub fn db_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("outbox")
    }

    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("outbox.key")
    }

    /// Opens (or creates) the outbox in the agent's data directory.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let key_bytes = fsutil::load_or_create_key(&Self::key_path(data_dir))?;
        let key = LessSafeKey::new(
            UnboundKey::new(&aead::AES_256_GCM, &key_bytes[..])
                .map_err(|_| AgentError::Internal("outbox key".into()))?,
        );
        let db = sled::Config::new()
            .path(Self::db_dir(data_dir))
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(from_sled)?;
        let tree = db.open_tree("envelopes").map_err(from_sled)?;
        let submitted = db.open_tree("submitted").map_err(from_sled)?;
        Ok(Self {
            db,
            tree,
            submitted,
            key,
            rng: SystemRandom::new(),
        })
    }

    fn encode(&self, e: &Entry) -> Result<Vec<u8>> {
        let err = e.last_error.as_deref().unwrap_or("").as_bytes();
        let err = &err[..err.len().min(512)];
        let mut plain = Vec::with_capacity(1 + 8 + 4 + 8 + 2 + err.len() + e.envelope.len());
        plain.push(RECORD_VERSION);
        plain.extend_from_slice(&e.created_at.to_be_bytes());
        plain.extend_from_slice(&e.attempts.to_be_bytes());
        plain.extend_from_slice(&e.next_attempt_at.to_be_bytes());
        plain.extend_from_slice(&(err.len() as u16).to_be_bytes());
        plain.extend_from_slice(err);
        plain.extend_from_slice(&e.envelope);
        let mut nonce = [0u8; 12];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| AgentError::Internal("random number generator failed".into()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&e.id.0),
                &mut plain,
            )
            .map_err(|_| AgentError::Internal("outbox encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&plain);
        Ok(out)
    }

    fn decode(&self, id: EnvelopeId, raw: &[u8]) -> Result<Entry> {
        let corrupt = || AgentError::CorruptOutbox(format!("entry {id}"));
        if raw.len() < 12 + 16 {
            return Err(corrupt());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&id.0),
                &mut buf,
            )
            .map_err(|_| corrupt())?;
        if plain.len() < 23 || plain[0] != RECORD_VERSION {
            return Err(corrupt());
        }
        let u64_at = |i: usize| -> Result<u64> {
            Ok(u64::from_be_bytes(
                plain[i..i + 8].try_into().map_err(|_| corrupt())?,
            ))
        };
        let created_at = u64_at(1)?;
        let attempts = u32::from_be_bytes(plain[9..13].try_into().map_err(|_| corrupt())?);
        let next_attempt_at = u64_at(13)?;
        let elen = usize::from(u16::from_be_bytes(
            plain[21..23].try_into().map_err(|_| corrupt())?,
        ));
        let rest = &plain[23..];
        if rest.len() < elen {
            return Err(corrupt());
        }
        let (err, env) = rest.split_at(elen);
        Ok(Entry {
            id,
            created_at,
            attempts,
            next_attempt_at,
            last_error: (!err.is_empty()).then(|| String::from_utf8_lossy(err).into_owned()),
            envelope: env.to_vec(),
        })
    }

    /// Stores an entry durably (flushed before returning).
    pub fn put(&self, e: &Entry) -> Result<()> {
        let v = self.encode(e)?;
        self.tree.insert(e.id.0, v).map_err(from_sled)?;
        self.flush()
    }

    /// Stores a new entry and records `app_ref` as submitted, atomically and durably.
    pub fn put_new(&self, e: &Entry, app_ref: &[u8]) -> Result<()> {
        use sled::Transactional;
        let v = self.encode(e)?;
        let mut rec = Vec::with_capacity(24);
        rec.extend_from_slice(&e.created_at.to_be_bytes());
        rec.extend_from_slice(&e.id.0);
        (&self.tree, &self.submitted)
            .transaction(|(t, s)| {
                t.insert(&e.id.0, v.as_slice())?;
                s.insert(app_ref, rec.as_slice())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|err| match err {
                sled::transaction::TransactionError::Storage(e) => from_sled(e),
                sled::transaction::TransactionError::Abort(()) => {
                    AgentError::Internal("outbox transaction aborted".into())
                }
            })?;
        self.flush()
    }

    /// The earlier submission of `app_ref` made at or after `since`, if any:
    /// (created_at, envelope ID).
    pub fn submitted_since(&self, app_ref: &[u8], since: u64) -> Result<Option<(u64, EnvelopeId)>> {
        let Some(v) = self.submitted.get(app_ref).map_err(from_sled)? else {
            return Ok(None);
        };
        let (Some(t), Some(id)) = (v.get(..8), v.get(8..24)) else {
            return Ok(None);
        };
        let at = u64::from_be_bytes(
            t.try_into()
                .map_err(|_| AgentError::CorruptOutbox("submitted".into()))?,
        );
        let id: [u8; 16] = id
            .try_into()
            .map_err(|_| AgentError::CorruptOutbox("submitted".into()))?;
        Ok((at >= since).then_some((at, EnvelopeId(id))))
    }

    /// Forgets submissions made before `before` (kept no longer than the outbox keeps
    /// envelopes).
    pub fn prune_submitted(&self, before: u64) -> Result<usize> {
        let mut n = 0;
        for kv in self.submitted.iter() {
            let (k, v) = kv.map_err(from_sled)?;
            let at = v
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if at < before {
                self.submitted.remove(k).map_err(from_sled)?;
                n += 1;
            }
        }
        if n > 0 {
            self.flush()?;
        }
        Ok(n)
    }

    /// Deletes an entry durably.
    pub fn remove(&self, id: &EnvelopeId) -> Result<bool> {
        let existed = self.tree.remove(id.0).map_err(from_sled)?.is_some();
        self.flush()?;
        Ok(existed)
    }

    fn flush(&self) -> Result<()> {
        self.tree.flush().map_err(from_sled)?;
        self.db.flush().map_err(from_sled)?;
        Ok(())
    }

    /// Whether the envelope is still queued.
    pub fn contains(&self, id: &EnvelopeId) -> Result<bool> {
        self.tree.contains_key(id.0).map_err(from_sled)
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// All entries, oldest envelope first. Corrupt entries are reported separately by ID.
    pub fn entries(&self) -> Result<(Vec<Entry>, Vec<EnvelopeId>)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for kv in self.tree.iter() {
            let (k, v) = kv.map_err(from_sled)?;
            let id: [u8; 16] = match k.as_ref().try_into() {
                Ok(a) => a,
                Err(_) => continue,
            };
            let id = EnvelopeId(id);
            match self.decode(id, &v) {
                Ok(e) => good.push(e),
                Err(_) => bad.push(id),
            }
        }
        good.sort_by_key(|e| e.created_at);
        Ok((good, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u8) -> Entry {
        Entry {
            id: EnvelopeId([id; 16]),
            created_at: 100 + u64::from(id),
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            envelope: vec![id; 1000],
        }
    }

    #[test]
    fn put_list_remove_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        {
            let o = Outbox::open(d.path()).unwrap();
            o.put(&entry(2)).unwrap();
            o.put(&entry(1)).unwrap();
            let mut e = entry(3);
            e.last_error = Some("relay down".into());
            o.put(&e).unwrap();
            assert!(o.remove(&EnvelopeId([2; 16])).unwrap());
        }
        let o = Outbox::open(d.path()).unwrap();
        let (good, bad) = o.entries().unwrap();
        assert!(bad.is_empty());
        assert_eq!(good.len(), 2);
        assert_eq!(good[0], entry(1));
        assert_eq!(good[1].last_error.as_deref(), Some("relay down"));
    }

    #[test]
    fn records_are_encrypted_at_rest_and_die_with_the_key() {
        let d = tempfile::tempdir().unwrap();
        {
            let o = Outbox::open(d.path()).unwrap();
            let mut e = entry(7);
            e.envelope = b"MARKER-MARKER-MARKER".repeat(10);
            o.put(&e).unwrap();
        }
        for f in walk(d.path()) {
            let b = std::fs::read(&f).unwrap();
            assert!(
                !b.windows(20).any(|w| w == b"MARKER-MARKER-MARKER"),
                "{}",
                f.display()
            );
        }
        fsutil::shred(&Outbox::key_path(d.path())).unwrap();
        let o = Outbox::open(d.path()).unwrap();
        let (good, bad) = o.entries().unwrap();
        assert!(good.is_empty());
        assert_eq!(bad, vec![EnvelopeId([7; 16])]);
    }

    fn walk(p: &Path) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap().path();
            if e.is_dir() {
                v.extend(walk(&e));
            } else {
                v.push(e);
            }
        }
        v
    }
}
