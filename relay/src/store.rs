//! Durable storage behind a [`Store`] trait: [`SledStore`] (embedded, one node, the
//! default) and [`crate::pg::PgStore`] (PostgreSQL, several nodes on one database).
//!
//! What is kept, and for how long:
//! - envelopes by ID: the **sealed** envelope bytes (never a plaintext), their SHA-256,
//!   the receipt bytes, `received_at`, the device's public key and a forwarded flag.
//!   The sealed bytes are dropped as soon as the upstream has confirmed delivery; the
//!   rest (the idempotency entry) stays until the retention purge.
//! - the device registry (state, history, certificates seen), the deny list, the admin
//!   audit log, and the devices' audit entries.
//!
//! Every write that an answer depends on is flushed before the method returns.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use serde::{Deserialize, Serialize};
use shinsei_protocol::envelope::EnvelopeId;
use sled::{
    transaction::{ConflictableTransactionError, TransactionError},
    Transactional,
};

use crate::device::DeviceRecord;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is full")]
    Full,
    #[error("storage: {0}")]
    Backend(String),
    /// The database cannot be reached (after retries): nothing was written, or the
    /// operation is safe to repeat. Answered with 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => StoreError::Full,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Everything about an envelope except its sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeMeta {
    pub device_id: String,
    /// SHA-256 of the envelope bytes, hex.
    pub digest: String,
    /// The signed receipt, hex.
    pub receipt: String,
    pub received_at: u64,
    /// The device's P-256 public key (65 bytes, hex): the sealed bytes are re-verified
    /// with it before they are opened for forwarding.
    pub device_key: String,
    pub forwarded: bool,
}

impl EnvelopeMeta {
    pub fn digest_bytes(&self) -> Option<[u8; 32]> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(&self.digest, &mut d).ok()?;
        Some(d)
    }

    pub fn receipt_bytes(&self) -> Option<Vec<u8>> {
        hex::decode(&self.receipt).ok()
    }
}

/// The result of an insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored (durably).
    Inserted,
    /// An envelope with this ID was already stored; nothing was written.
    Existing(EnvelopeMeta),
}

/// One admin operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAuditEntry {
    pub at: u64,
    pub admin: String,
    pub action: String,
    pub device_id: Option<String>,
}

/// A persistent deny-list entry (a revoked or wiped device's certificate or ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenyEntry {
    /// `serial`, `spki` or `device`.
    pub kind: String,
    pub value: String,
    pub device_id: String,
    pub at: u64,
}

/// One stored device-audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuditRecord {
    pub device_id: String,
    pub seq: u64,
    pub received_at: u64,
    /// The entry as the device sent it (compact JSON).
    pub entry: Vec<u8>,
}

/// Receives changes made by any relay node on the same database (PostgreSQL
/// `LISTEN/NOTIFY`), so that long-polls and the live deny list on this node follow
/// them. Called from the store's listener thread.
pub trait ChangeSink: Send + Sync {
    /// A device record was written; `version` is its state version.
    fn device_changed(&self, device_id: &str, version: u64);
    /// A deny-list entry was added.
    fn deny_added(&self, entry: &DenyEntry);
    /// Notifications may have been missed (the listening connection was lost and is
    /// back): every device's current version and the whole deny list.
    fn resync(&self, versions: &[(String, u64)], deny: &[DenyEntry]);
}

/// Storage operations of the relay. Methods block (disk I/O); call them from a blocking
/// context.
pub trait Store: Send + Sync + 'static {
    /// Stores an envelope unless its ID exists. Durable when it returns `Inserted`.
    fn insert_envelope(
        &self,
        id: &EnvelopeId,
        meta: &EnvelopeMeta,
        sealed: &[u8],
    ) -> Result<InsertOutcome, StoreError>;
    fn envelope_meta(&self, id: &EnvelopeId) -> Result<Option<EnvelopeMeta>, StoreError>;
    /// The sealed bytes, while not yet forwarded.
    fn sealed_envelope(&self, id: &EnvelopeId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Envelopes not yet forwarded, oldest first.
    fn pending_forward(&self, limit: usize) -> Result<Vec<EnvelopeId>, StoreError>;
    /// Marks an envelope forwarded and drops its sealed bytes (durable). `false` if the
    /// envelope is gone.
    fn mark_forwarded(&self, id: &EnvelopeId) -> Result<bool, StoreError>;
    /// Deletes every envelope record received at or before `cutoff` (durable); returns
    /// their IDs.
    fn purge_envelopes(&self, cutoff: u64) -> Result<Vec<EnvelopeId>, StoreError>;
    /// Number of stored envelope records.
    fn envelope_count(&self) -> u64;

    /// Claims a pending envelope for forwarding by this node and returns its record
    /// and sealed bytes; `None` if it is forwarded, gone, or claimed by another node
    /// whose claim has not expired. A single-node store needs no claim.
    fn claim_for_forward(
        &self,
        id: &EnvelopeId,
    ) -> Result<Option<(EnvelopeMeta, Vec<u8>)>, StoreError> {
        let Some(meta) = self.envelope_meta(id)? else {
            return Ok(None);
        };
        if meta.forwarded {
            return Ok(None);
        }
        Ok(self.sealed_envelope(id)?.map(|s| (meta, s)))
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError>;
    /// Writes a device record (durable). Prefer [`Store::update_device`], which is safe
    /// against concurrent writers on other nodes.
    fn put_device(&self, rec: &DeviceRecord) -> Result<(), StoreError>;
    /// Atomically reads a device record, lets `f` compute the new one (`None`: write
    /// nothing) and writes it (durable). `f` may be called more than once (on a
    /// concurrent change it is re-run on the newer record). Returns what `f` returned
    /// last.
    fn update_device(
        &self,
        device_id: &str,
        f: &mut dyn FnMut(Option<DeviceRecord>) -> Option<DeviceRecord>,
    ) -> Result<Option<DeviceRecord>, StoreError>;
    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError>;

    /// Starts delivering changes made through other nodes to `sink` (kept weakly).
    /// Single-node stores have no other writers: the default does nothing.
    fn watch_changes(&self, _sink: std::sync::Weak<dyn ChangeSink>) {}

    /// A short name of the backend (logs, `--check-config`).
    fn backend_name(&self) -> &'static str;

    /// Appends to the admin audit log (durable).
    fn append_admin_audit(&self, e: &AdminAuditEntry) -> Result<(), StoreError>;
    /// The admin audit log, oldest first (at most `limit`, the newest ones).
    fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError>;

    /// Stores device-audit entries (durable); an entry with a seq already stored is
    /// replaced.
    fn append_device_audit(&self, recs: &[DeviceAuditRecord]) -> Result<(), StoreError>;
    fn device_audit(&self, device_id: &str) -> Result<Vec<DeviceAuditRecord>, StoreError>;
    /// Deletes device-audit entries received at or before `cutoff`; returns how many.
    fn purge_device_audit(&self, cutoff: u64) -> Result<usize, StoreError>;

    /// Adds a deny-list entry (durable).
    fn add_deny(&self, e: &DenyEntry) -> Result<(), StoreError>;
    fn deny_entries(&self) -> Result<Vec<DenyEntry>, StoreError>;
}

/// The sled implementation.
pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    sealed: sled::Tree,
    pending: sled::Tree,
    by_time: sled::Tree,
    devices: sled::Tree,
    admin_audit: sled::Tree,
    device_audit: sled::Tree,
    deny: sled::Tree,
    count: AtomicU64,
    /// Serialises read-modify-write of device records (one process owns a sled db).
    device_lock: std::sync::Mutex<()>,
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn unjson<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn time_key(t: u64, id: &EnvelopeId) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&t.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

fn id_from(b: &[u8]) -> Option<EnvelopeId> {
    Some(EnvelopeId(b.try_into().ok()?))
}

fn audit_key(device_id: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(device_id.len() + 9);
    k.extend_from_slice(device_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl SledStore {
    /// Opens (or creates) the database in `dir` (mode 0700).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        Self::from_db(db)
    }

    /// A throw-away database (tests).
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let meta = db.open_tree("env_meta")?;
        let count = AtomicU64::new(meta.len() as u64);
        Ok(Self {
            sealed: db.open_tree("env_sealed")?,
            pending: db.open_tree("env_pending")?,
            by_time: db.open_tree("env_by_time")?,
            devices: db.open_tree("devices")?,
            admin_audit: db.open_tree("admin_audit")?,
            device_audit: db.open_tree("device_audit")?,
            deny: db.open_tree("deny")?,
            meta,
            db,
            count,
            device_lock: std::sync::Mutex::new(()),
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

impl Store for SledStore {
    fn insert_envelope(
        &self,
        id: &EnvelopeId,
        meta: &EnvelopeMeta,
        sealed: &[u8],
    ) -> Result<InsertOutcome, StoreError> {
        let meta_bytes = json(meta)?;
        let tk = time_key(meta.received_at, id);
        let r =
            (&self.meta, &self.sealed, &self.pending, &self.by_time).transaction(|(m, s, p, t)| {
                if let Some(existing) = m.get(id.0)? {
                    let e: EnvelopeMeta =
                        unjson(&existing).map_err(ConflictableTransactionError::Abort)?;
                    return Ok(InsertOutcome::Existing(e));
                }
                m.insert(&id.0, meta_bytes.as_slice())?;
                s.insert(&id.0, sealed)?;
                p.insert(&id.0, &[])?;
                t.insert(&tk, &id.0)?;
                Ok(InsertOutcome::Inserted)
            });
        let out = r.map_err(tx_err)?;
        if out == InsertOutcome::Inserted {
            self.flush()?;
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        Ok(out)
    }

    fn envelope_meta(&self, id: &EnvelopeId) -> Result<Option<EnvelopeMeta>, StoreError> {
        self.meta.get(id.0)?.map(|b| unjson(&b)).transpose()
    }

    fn sealed_envelope(&self, id: &EnvelopeId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.sealed.get(id.0)?.map(|v| v.to_vec()))
    }

    fn pending_forward(&self, limit: usize) -> Result<Vec<EnvelopeId>, StoreError> {
        // Oldest first: walk the time index and keep the pending ones.
        let mut out = Vec::new();
        for kv in self.by_time.iter() {
            let (_, v) = kv?;
            if let Some(id) = id_from(&v) {
                if self.pending.contains_key(id.0)? {
                    out.push(id);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    fn mark_forwarded(&self, id: &EnvelopeId) -> Result<bool, StoreError> {
        let r = (&self.meta, &self.sealed, &self.pending).transaction(|(m, s, p)| {
            let Some(existing) = m.get(id.0)? else {
                return Ok(false);
            };
            let mut e: EnvelopeMeta =
                unjson(&existing).map_err(ConflictableTransactionError::Abort)?;
            e.forwarded = true;
            m.insert(
                &id.0,
                json(&e).map_err(ConflictableTransactionError::Abort)?,
            )?;
            s.remove(&id.0)?;
            p.remove(&id.0)?;
            Ok(true)
        });
        let found = r.map_err(tx_err)?;
        self.flush()?;
        Ok(found)
    }

    fn purge_envelopes(&self, cutoff: u64) -> Result<Vec<EnvelopeId>, StoreError> {
        let end = time_key(cutoff, &EnvelopeId([0xff; 16]));
        let mut ids = Vec::new();
        for kv in self.by_time.range(..=end.as_slice()) {
            let (k, v) = kv?;
            let Some(id) = id_from(&v) else { continue };
            (&self.meta, &self.sealed, &self.pending, &self.by_time)
                .transaction(|(m, s, p, t)| {
                    m.remove(&id.0)?;
                    s.remove(&id.0)?;
                    p.remove(&id.0)?;
                    t.remove(&k)?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(tx_err)?;
            ids.push(id);
        }
        if !ids.is_empty() {
            self.flush()?;
            let n = ids.len() as u64;
            let _ = self
                .count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                    Some(c.saturating_sub(n))
                });
        }
        Ok(ids)
    }

    fn envelope_count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.devices
            .get(device_id.as_bytes())?
            .map(|b| unjson(&b))
            .transpose()
    }

    fn put_device(&self, rec: &DeviceRecord) -> Result<(), StoreError> {
        self.devices.insert(rec.device_id.as_bytes(), json(rec)?)?;
        self.flush()
    }

    fn update_device(
        &self,
        device_id: &str,
        f: &mut dyn FnMut(Option<DeviceRecord>) -> Option<DeviceRecord>,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let _g = self.device_lock.lock().unwrap_or_else(|p| p.into_inner());
        let cur = self.device(device_id)?;
        let next = f(cur);
        if let Some(r) = &next {
            self.put_device(r)?;
        }
        Ok(next)
    }

    fn backend_name(&self) -> &'static str {
        "sled"
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.devices
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                unjson(&v)
            })
            .collect()
    }

    fn append_admin_audit(&self, e: &AdminAuditEntry) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        self.admin_audit.insert(id.to_be_bytes(), json(e)?)?;
        self.flush()
    }

    fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        let mut v: Vec<AdminAuditEntry> = self
            .admin_audit
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (_, v) = kv?;
                unjson(&v)
            })
            .collect::<Result<_, _>>()?;
        v.reverse();
        Ok(v)
    }

    fn append_device_audit(&self, recs: &[DeviceAuditRecord]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for r in recs {
            let mut v = Vec::with_capacity(8 + r.entry.len());
            v.extend_from_slice(&r.received_at.to_be_bytes());
            v.extend_from_slice(&r.entry);
            batch.insert(audit_key(&r.device_id, r.seq), v);
        }
        self.device_audit.apply_batch(batch)?;
        self.flush()
    }

    fn device_audit(&self, device_id: &str) -> Result<Vec<DeviceAuditRecord>, StoreError> {
        let mut prefix = device_id.as_bytes().to_vec();
        prefix.push(0);
        self.device_audit
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                let seq = k
                    .get(prefix.len()..)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StoreError::Corrupt("audit key".into()))?;
                let t = v
                    .get(..8)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StoreError::Corrupt("audit value".into()))?;
                Ok(DeviceAuditRecord {
                    device_id: device_id.to_owned(),
                    seq,
                    received_at: t,
                    entry: v.get(8..).unwrap_or_default().to_vec(),
                })
            })
            .collect()
    }

    fn purge_device_audit(&self, cutoff: u64) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in self.device_audit.iter() {
            let (k, v) = kv?;
            let t = v
                .get(..8)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if t <= cutoff {
                batch.remove(k);
                n += 1;
            }
        }
        if n > 0 {
            self.device_audit.apply_batch(batch)?;
            self.flush()?;
        }
        Ok(n)
    }

    fn add_deny(&self, e: &DenyEntry) -> Result<(), StoreError> {
        let key = format!("{}:{}", e.kind, e.value);
        self.deny.insert(key.as_bytes(), json(e)?)?;
        self.flush()
    }

    fn deny_entries(&self) -> Result<Vec<DenyEntry>, StoreError> {
        self.deny
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                unjson(&v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn device_audit_and_purge() {
        let s = SledStore::temporary().unwrap();
        let r = |seq, t| DeviceAuditRecord {
            device_id: "TAB-1".into(),
            seq,
            received_at: t,
            entry: b"{}".to_vec(),
        };
        s.append_device_audit(&[r(1, 10), r(2, 20)]).unwrap();
        assert_eq!(s.device_audit("TAB-1").unwrap().len(), 2);
        assert_eq!(s.device_audit("TAB-10").unwrap().len(), 0);
        assert_eq!(s.purge_device_audit(10).unwrap(), 1);
        assert_eq!(s.device_audit("TAB-1").unwrap()[0].seq, 2);
    }
}
