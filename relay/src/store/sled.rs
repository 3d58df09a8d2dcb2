//! The sled backend of [`Store`]: embedded, one node (the default). Every write an
//! answer depends on is flushed before the method returns.

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

use super::{
    AdminAuditEntry, DenyEntry, DeviceAuditRecord, EnvelopeMeta, InsertOutcome, Store, StoreError,
};
use crate::device::DeviceRecord;

/// The sled implementation.
pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    sealed: sled::Tree,
    /// Pending envelopes by time (`time_key` → ID): forwarding walks only these.
    pending: sled::Tree,
    by_time: sled::Tree,
    devices: sled::Tree,
    admin_audit: sled::Tree,
    device_audit: sled::Tree,
    deny: sled::Tree,
    /// The signed staff list tablets fetch (one key).
    staff: sled::Tree,
    count: AtomicU64,
    /// Serialises read-modify-write of device records (one process owns a sled db).
    device_lock: std::sync::Mutex<()>,
    /// Shares flushes between concurrent writers.
    commit: GroupCommit,
}

/// Group commit: a writer that needs its writes durable asks for a flush; if one is
/// running, it waits for the next, which covers its writes (they were made before it
/// asked), and every writer waiting then is released by that one flush. No receipt is
/// sent before its record is durable: `sync` returns only after a flush that started
/// after the caller's writes has finished.
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: std::sync::Mutex<CommitState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct CommitState {
    /// Tickets handed out (each caller takes the next).
    asked: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A flush is running.
    flushing: bool,
    /// The last flush failed: callers it covered get the error.
    failed: Option<(u64, String)>,
}

impl GroupCommit {
    pub(crate) fn sync(
        &self,
        flush: impl Fn() -> Result<(), sled::Error>,
    ) -> Result<(), StoreError> {
        let lock = || self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = lock();
        st.asked += 1;
        let mine = st.asked;
        loop {
            if st.durable >= mine {
                return Ok(());
            }
            if let Some((upto, e)) = &st.failed {
                if *upto >= mine {
                    return Err(StoreError::Backend(format!("flush failed: {e}")));
                }
            }
            if st.flushing {
                st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // This caller flushes for everyone who asked so far.
            st.flushing = true;
            let covers = st.asked;
            drop(st);
            let r = flush();
            st = lock();
            st.flushing = false;
            match r {
                Ok(()) => st.durable = st.durable.max(covers),
                Err(e) => st.failed = Some((covers, e.to_string())),
            }
            self.done.notify_all();
        }
    }
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

/// sled's page cache (bytes).
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl SledStore {
    /// Opens (or creates) the database in `dir` (mode 0700), with a page cache of
    /// [`SLED_CACHE_BYTES`] (sled's default is 1 GiB; a term of the relay's memory
    /// bound, `crate::budget::worst_case_memory`).
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
            .cache_capacity(SLED_CACHE_BYTES)
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
        let pending = db.open_tree("env_pending_by_time")?;
        migrate_pending(&db, &meta, &pending)?;
        Ok(Self {
            sealed: db.open_tree("env_sealed")?,
            pending,
            by_time: db.open_tree("env_by_time")?,
            devices: db.open_tree("devices")?,
            admin_audit: db.open_tree("admin_audit")?,
            device_audit: db.open_tree("device_audit")?,
            deny: db.open_tree("deny")?,
            staff: db.open_tree("staff_list")?,
            meta,
            db,
            count,
            device_lock: std::sync::Mutex::new(()),
            commit: GroupCommit::default(),
        })
    }

    /// Makes every write this thread has done durable before it returns; concurrent
    /// callers share one `fsync` (group commit, [`GroupCommit`]).
    fn flush(&self) -> Result<(), StoreError> {
        self.commit.sync(|| self.db.flush().map(|_| ()))
    }
}

/// Databases written before the pending index was keyed by time (`env_pending`, keyed
/// by envelope ID, which made every forwarding pass walk every stored envelope) are
/// moved to `env_pending_by_time` once, at open.
fn migrate_pending(
    db: &sled::Db,
    meta: &sled::Tree,
    pending: &sled::Tree,
) -> Result<(), StoreError> {
    if !db.tree_names().iter().any(|n| n.as_ref() == b"env_pending") {
        return Ok(());
    }
    let old = db.open_tree("env_pending")?;
    let mut moved = 0usize;
    for kv in old.iter() {
        let (k, _) = kv?;
        let Some(id) = id_from(&k) else { continue };
        if let Some(m) = meta.get(id.0)? {
            let e: EnvelopeMeta = unjson(&m)?;
            pending.insert(time_key(e.received_at, &id), &id.0)?;
            moved += 1;
        }
    }
    db.flush()?;
    db.drop_tree("env_pending")?;
    tracing::info!(moved, "sled: pending index moved to env_pending_by_time");
    Ok(())
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
                p.insert(&tk, &id.0)?;
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
        // Oldest first; only pending envelopes are in this index.
        let mut out = Vec::new();
        for kv in self.pending.iter() {
            let (_, v) = kv?;
            if let Some(id) = id_from(&v) {
                out.push(id);
                if out.len() >= limit {
                    break;
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
            p.remove(&time_key(e.received_at, id))?;
            Ok(true)
        });
        // Not flushed here: sled's own flusher writes it within `flush_every_ms`; lost
        // in a crash, the mark only repeats a delivery (idempotent by envelope ID
        // upstream). The accepted record itself was flushed before its receipt.
        r.map_err(tx_err)
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
                    p.remove(&k)?;
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
        for r in recs {
            let mut v = Vec::with_capacity(8 + r.entry.len());
            v.extend_from_slice(&r.received_at.to_be_bytes());
            v.extend_from_slice(&r.entry);
            // An entry already held is never replaced (the chain check upstream refuses
            // such uploads; this is the store's own guarantee).
            let _kept_existing = self.device_audit.compare_and_swap(
                audit_key(&r.device_id, r.seq),
                None::<&[u8]>,
                Some(v),
            )?;
        }
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

    fn put_staff_list(&self, sequence: u64, bytes: &[u8]) -> Result<bool, StoreError> {
        // One key: the sequence (8 bytes, big-endian) then the list; replaced by
        // compare-and-swap only with a higher sequence.
        let mut value = sequence.to_be_bytes().to_vec();
        value.extend_from_slice(bytes);
        loop {
            let cur = self.staff.get(STAFF_KEY)?;
            if cur
                .as_deref()
                .and_then(staff_sequence)
                .is_some_and(|s| s >= sequence)
            {
                return Ok(false);
            }
            if self
                .staff
                .compare_and_swap(STAFF_KEY, cur, Some(value.as_slice()))?
                .is_ok()
            {
                self.flush()?;
                return Ok(true);
            }
        }
    }

    fn staff_list(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self.staff.get(STAFF_KEY)?.and_then(|v| {
            let seq = staff_sequence(&v)?;
            Some((seq, v.get(8..)?.to_vec()))
        }))
    }

    fn staff_list_sequence(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .staff
            .get(STAFF_KEY)?
            .as_deref()
            .and_then(staff_sequence))
    }
}

/// The one key of the `staff_list` tree.
const STAFF_KEY: &[u8] = b"current";

fn staff_sequence(v: &[u8]) -> Option<u64> {
    v.get(..8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A database from before the time-keyed pending index: its pending envelopes are
    /// moved at open, oldest first, and the old index is dropped.
    #[test]
    fn the_old_pending_index_is_moved_at_open() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let meta_tree = db.open_tree("env_meta").unwrap();
        let old = db.open_tree("env_pending").unwrap();
        for (i, t) in [(1u8, 300u64), (2, 100), (3, 200)] {
            let id = EnvelopeId([i; 16]);
            let m = EnvelopeMeta {
                device_id: "TAB-1".into(),
                digest: String::new(),
                receipt: String::new(),
                received_at: t,
                device_key: String::new(),
                forwarded: false,
            };
            meta_tree.insert(id.0, json(&m).unwrap()).unwrap();
            old.insert(id.0, &[]).unwrap();
        }
        let s = SledStore::from_db(db).unwrap();
        assert_eq!(
            s.pending_forward(10).unwrap(),
            vec![
                EnvelopeId([2; 16]),
                EnvelopeId([3; 16]),
                EnvelopeId([1; 16])
            ]
        );
        assert!(!s
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"env_pending"));
        assert!(s.mark_forwarded(&EnvelopeId([3; 16])).unwrap());
        assert_eq!(
            s.pending_forward(10).unwrap(),
            vec![EnvelopeId([2; 16]), EnvelopeId([1; 16])]
        );
    }

    /// Group commit: every caller returns only after a flush that started after its
    /// write; concurrent callers share flushes; a failed flush fails those it covered.
    #[test]
    fn group_commit_shares_flushes_and_never_returns_early() {
        use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
        let gc = GroupCommit::default();
        let written = AtomicU64::new(0);
        let flushed_upto = AtomicU64::new(0);
        let flushes = AtomicU64::new(0);
        let threads = 16u64;
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..20 {
                        let my_write = written.fetch_add(1, SeqCst) + 1;
                        gc.sync(|| {
                            let upto = written.load(SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            flushes.fetch_add(1, SeqCst);
                            flushed_upto.fetch_max(upto, SeqCst);
                            Ok(())
                        })
                        .unwrap();
                        assert!(
                            flushed_upto.load(SeqCst) >= my_write,
                            "returned before its write was flushed"
                        );
                    }
                });
            }
        });
        let n = flushes.load(SeqCst);
        assert!(
            n >= 1 && n < threads * 20,
            "{n} flushes for {} writes",
            threads * 20
        );

        let gc = GroupCommit::default();
        let e = gc.sync(|| Err(sled::Error::Unsupported("disk gone".into())));
        assert!(e.is_err());
        // The next caller flushes again (and succeeds).
        gc.sync(|| Ok(())).unwrap();
    }

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
