//! The outbox: sealed envelopes waiting for the relay's receipt.
//!
//! Only envelopes (already HPKE-sealed to the relay) are stored, and each record is
//! additionally encrypted with the outbox key (AES-256-GCM, `outbox.key`, 0600), so that
//! destroying that one key crypto-erases the outbox. Writes are flushed before a call
//! returns. Keys of the sled tree are envelope IDs; the ID is the idempotency key at the
//! relay, so resending after a crash never duplicates an application.
//!
//! **Erasure when the outbox drains.** sled is log-structured: a removed record's bytes
//! stay in its files until they happen to be reused. So whenever the last entry leaves
//! the outbox, the key is replaced: the new key is written *over* the old one in place
//! (same file, same 32 bytes, synced), and from then on every remnant of an earlier
//! record is ciphertext under a key that no longer exists. "Nothing remains after a
//! successful send" therefore holds on the raw disk, not only through the API.
//!
//! Record (v2): `"SHOB" | 0x02 | envelope_id[16] | ct_len u32 BE | nonce[12] | ct`, AAD
//! = the 25 bytes before the nonce; the plaintext is `0x01 | created_at u64 | attempts
//! u32 | next_attempt_at u64 | err_len u16 | err | envelope`. The clear header lets an
//! auditor find every record in the raw files and try every key (see
//! [`scan_records`]). Records of v1 (`nonce | ct`, AAD = the envelope ID) are still read.

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
/// First bytes of a v2 record.
pub const RECORD_MAGIC: [u8; 4] = *b"SHOB";
/// Length of a v2 record's clear header (magic, version, envelope ID, ciphertext length).
pub const RECORD_HEADER_LEN: usize = 4 + 1 + 16 + 4;

/// The outbox.
pub struct Outbox {
    /// The sled database; `None` only while the outbox is being dropped (so that its
    /// files can be removed after sled closed them, see `Drop`).
    store: Option<Store>,
    data_dir: PathBuf,
    key: std::sync::Mutex<LessSafeKey>,
    key_path: PathBuf,
    rng: SystemRandom,
}

/// Opens the sled database. sled releases its file lock from a background thread a
/// moment after the last handle is dropped, so an outbox closed and opened again at
/// once (a restart, a reopen in the same process) can find it still held: the lock is
/// waited for up to 2 s before the outbox counts as in use by another process.
fn open_db(dir: &Path) -> Result<sled::Db> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if tries < 40
                    && (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock")) =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(from_sled(e)),
        }
    }
}

/// The sled database and its two trees.
struct Store {
    db: sled::Db,
    tree: sled::Tree,
    /// Application references (keyed HMAC of the ID, as in the audit log: no personal
    /// data) of recent submissions → created_at ‖ envelope ID. Written in the same
    /// transaction as the envelope, so a retry after a crash can be recognised.
    submitted: sled::Tree,
}

/// After a wipe the outbox removes its own files when it is closed: no caller has to
/// remember to (the wipe itself destroyed the key, so what sled still holds is
/// ciphertext under a key that no longer exists; this removes even that).
impl Drop for Outbox {
    fn drop(&mut self) {
        if crate::wiped::is_wiped(&self.data_dir) {
            drop(self.store.take());
            if let Err(e) = Self::remove_files(&self.data_dir) {
                tracing::error!("removing the outbox after the wipe: {e}");
            }
        }
    }
}

fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&aead::AES_256_GCM, &bytes[..])
            .map_err(|_| AgentError::Internal("outbox key".into()))?,
    ))
}

/// Every v2 outbox record found anywhere in `raw` (e.g. a raw sled file): (envelope ID,
/// the whole record). For auditors and tests: what a thief of the disk could try keys on.
pub fn scan_records(raw: &[u8]) -> Vec<(EnvelopeId, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = raw[i..]
        .windows(5)
        .position(|w| w[..4] == RECORD_MAGIC && w[4] == 2)
    {
        let start = i + pos;
        i = start + 1;
        let Some(h) = raw.get(start..start + RECORD_HEADER_LEN) else {
            break;
        };
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[5..21]);
        let ct_len = u32::from_be_bytes([h[21], h[22], h[23], h[24]]) as usize;
        if let Some(rec) = raw.get(start..start + RECORD_HEADER_LEN + 12 + ct_len) {
            out.push((EnvelopeId(id), rec));
        }
    }
    out
}

/// Tries to open a v2 record with a raw 32-byte key; the plaintext on success.
pub fn open_record_with(key: &[u8; 32], record: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let k = aead_key(key).ok()?;
    open_v2(&k, record)
}

fn open_v2(key: &LessSafeKey, raw: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if raw.len() < RECORD_HEADER_LEN + 12 + 16 || raw[..4] != RECORD_MAGIC || raw[4] != 2 {
        return None;
    }
    let ct_len = u32::from_be_bytes(raw[21..25].try_into().ok()?) as usize;
    if raw.len() != RECORD_HEADER_LEN + 12 + ct_len {
        return None;
    }
    let nonce: [u8; 12] = raw[RECORD_HEADER_LEN..RECORD_HEADER_LEN + 12]
        .try_into()
        .ok()?;
    let mut buf = zeroize::Zeroizing::new(raw[RECORD_HEADER_LEN + 12..].to_vec());
    let n = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&raw[..RECORD_HEADER_LEN]),
            &mut buf[..],
        )
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

impl Outbox {
    pub fn db_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("outbox")
    }

    /// Shreds the outbox's sled files (after a wipe, with the outbox closed).
    pub(crate) fn remove_files(data_dir: &Path) -> Result<()> {
        fsutil::shred_tree(&Self::db_dir(data_dir))
    }

    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("outbox.key")
    }

    /// Opens (or creates) the outbox in the agent's data directory.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let key_path = Self::key_path(data_dir);
        let key_bytes = fsutil::load_or_create_key(&key_path)?;
        let key = aead_key(&key_bytes)?;
        let db = open_db(&Self::db_dir(data_dir))?;
        let tree = db.open_tree("envelopes").map_err(from_sled)?;
        let submitted = db.open_tree("submitted").map_err(from_sled)?;
        let o = Self {
            store: Some(Store {
                db,
                tree,
                submitted,
            }),
            data_dir: data_dir.to_path_buf(),
            key: std::sync::Mutex::new(key),
            key_path,
            rng: SystemRandom::new(),
        };
        // An outbox that is empty at start (e.g. it drained just before a crash)
        // gets a fresh key too.
        if o.is_empty() {
            o.rotate_key()?;
        }
        Ok(o)
    }

    fn key(&self) -> std::sync::MutexGuard<'_, LessSafeKey> {
        self.key.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the outbox key by a fresh one, written over the old key in place and
    /// synced, so that every remnant of an earlier record becomes unreadable. Only
    /// called when the outbox is empty (nothing readable is lost).
    pub fn rotate_key(&self) -> Result<()> {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        self.rng
            .fill(&mut k[..])
            .map_err(|_| AgentError::Internal("random number generator failed".into()))?;
        fsutil::overwrite_key_in_place(&self.key_path, &k[..])?;
        *self.key() = aead_key(&k)?;
        Ok(())
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
        let ct_len = u32::try_from(plain.len() + 16)
            .map_err(|_| AgentError::Internal("outbox record too large".into()))?;
        let mut out = Vec::with_capacity(RECORD_HEADER_LEN + 12 + plain.len() + 16);
        out.extend_from_slice(&RECORD_MAGIC);
        out.push(2);
        out.extend_from_slice(&e.id.0);
        out.extend_from_slice(&ct_len.to_be_bytes());
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&out[..RECORD_HEADER_LEN]),
                &mut plain,
            )
            .map_err(|_| AgentError::Internal("outbox encryption failed".into()))?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&plain);
        // The plaintext buffer now holds ciphertext; nothing to clear.
        Ok(out)
    }

    fn decode(&self, id: EnvelopeId, raw: &[u8]) -> Result<Entry> {
        let corrupt = || AgentError::CorruptOutbox(format!("entry {id}"));
        let v2;
        let mut v1;
        let plain: &[u8] = if raw.len() > 5 && raw[..4] == RECORD_MAGIC && raw[4] == 2 {
            if raw[5..21] != id.0 {
                return Err(corrupt());
            }
            v2 = open_v2(&self.key(), raw).ok_or_else(corrupt)?;
            &v2[..]
        } else {
            if raw.len() < 12 + 16 {
                return Err(corrupt());
            }
            let (nonce, ct) = raw.split_at(12);
            let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
            v1 = ct.to_vec();
            self.key()
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&id.0),
                    &mut v1,
                )
                .map_err(|_| corrupt())?
        };
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
        self.store()?.tree.insert(e.id.0, v).map_err(from_sled)?;
        self.flush()
    }

    /// Stores a new entry and records `app_ref` as submitted, atomically and durably.
    pub fn put_new(&self, e: &Entry, app_ref: &[u8]) -> Result<()> {
        use sled::Transactional;
        let v = self.encode(e)?;
        let mut rec = Vec::with_capacity(24);
        rec.extend_from_slice(&e.created_at.to_be_bytes());
        rec.extend_from_slice(&e.id.0);
        (&self.store()?.tree, &self.store()?.submitted)
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
        let Some(v) = self.store()?.submitted.get(app_ref).map_err(from_sled)? else {
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
        for kv in self.store()?.submitted.iter() {
            let (k, v) = kv.map_err(from_sled)?;
            let at = v
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if at < before {
                self.store()?.submitted.remove(k).map_err(from_sled)?;
                n += 1;
            }
        }
        if n > 0 {
            self.flush()?;
        }
        Ok(n)
    }

    /// Deletes an entry durably. When this empties the outbox, the outbox key is
    /// replaced ([`Outbox::rotate_key`]), so no remnant of any record stays readable.
    pub fn remove(&self, id: &EnvelopeId) -> Result<bool> {
        let existed = self
            .store()?
            .tree
            .remove(id.0)
            .map_err(from_sled)?
            .is_some();
        self.flush()?;
        if self.store()?.tree.is_empty() {
            self.rotate_key()?;
        }
        Ok(existed)
    }

    fn flush(&self) -> Result<()> {
        self.store()?.tree.flush().map_err(from_sled)?;
        self.store()?.db.flush().map_err(from_sled)?;
        Ok(())
    }

    /// Whether the envelope is still queued.
    pub fn contains(&self, id: &EnvelopeId) -> Result<bool> {
        self.store()?.tree.contains_key(id.0).map_err(from_sled)
    }

    pub fn len(&self) -> usize {
        self.store.as_ref().map_or(0, |s| s.tree.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn store(&self) -> Result<&Store> {
        self.store
            .as_ref()
            .ok_or_else(|| AgentError::CorruptOutbox("the outbox is closed".into()))
    }

    /// All entries, oldest envelope first. Corrupt entries are reported separately by ID.
    pub fn entries(&self) -> Result<(Vec<Entry>, Vec<EnvelopeId>)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for kv in self.store()?.tree.iter() {
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
    fn closing_the_outbox_after_a_wipe_removes_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Control: without the marker, closing keeps the queued entry's files.
        let o = Outbox::open(d).unwrap();
        o.put(&entry(1)).unwrap();
        drop(o);
        assert!(Outbox::db_dir(d).exists());
        assert_eq!(Outbox::open(d).unwrap().len(), 1);
        // After a wipe (marker written while open), closing removes them.
        let o = Outbox::open(d).unwrap();
        std::fs::write(d.join(crate::wiped::WIPED_MARKER), b"wiped").unwrap();
        drop(o);
        assert!(!Outbox::db_dir(d).exists());
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

    #[test]
    fn draining_replaces_the_key_in_place_so_no_remnant_opens() {
        let d = tempfile::tempdir().unwrap();
        let o = Outbox::open(d.path()).unwrap();
        o.put(&entry(5)).unwrap();
        o.put(&entry(6)).unwrap();
        let scan = || {
            let key: [u8; 32] = std::fs::read(Outbox::key_path(d.path()))
                .unwrap()
                .try_into()
                .unwrap();
            let (mut found, mut opened) = (0, 0);
            for f in walk(d.path()) {
                let b = std::fs::read(&f).unwrap();
                for (_, rec) in scan_records(&b) {
                    found += 1;
                    opened += usize::from(open_record_with(&key, rec).is_some());
                }
            }
            (found, opened)
        };
        // Control: queued records are on disk and open with the key beside them.
        let (found, opened) = scan();
        assert!(found >= 2 && opened >= 2, "{found} {opened}");
        let old_key = std::fs::read(Outbox::key_path(d.path())).unwrap();
        assert!(o.remove(&EnvelopeId([5; 16])).unwrap());
        assert_eq!(
            std::fs::read(Outbox::key_path(d.path())).unwrap(),
            old_key,
            "not drained yet"
        );
        assert!(o.remove(&EnvelopeId([6; 16])).unwrap());
        let (found, opened) = scan();
        assert!(found >= 1, "sled keeps the bytes of removed records");
        assert_eq!(opened, 0, "no remnant opens with the key now on disk");
        assert_ne!(std::fs::read(Outbox::key_path(d.path())).unwrap(), old_key);
        // The outbox goes on working with the new key.
        o.put(&entry(7)).unwrap();
        assert_eq!(o.entries().unwrap().0, vec![entry(7)]);
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
