//! Durable storage behind a [`Store`] trait: [`SledStore`] (embedded, one node, the
//! default) and [`PgStore`] (PostgreSQL, several nodes on one database).
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

mod pg;
mod sled;

use serde::{Deserialize, Serialize};
use shinsei_protocol::envelope::EnvelopeId;

pub use self::{
    pg::{PgStore, MIGRATIONS},
    sled::{SledStore, SLED_CACHE_BYTES},
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

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        match e {
            ::sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                StoreError::Full
            }
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

/// One entry of the admin audit log (the wire type of `GET /admin/v1/audit`).
pub use shinsei_protocol::api::AdminAuditEntry;

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
    /// Marks an envelope forwarded and drops its sealed bytes. Made durable lazily (no
    /// flush of its own; sled's flusher, PostgreSQL's WAL writer): a mark lost in a
    /// crash only repeats a delivery, which upstreams take idempotently by envelope ID.
    /// `false` if the envelope is gone.
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
    /// kept as it is (never replaced).
    fn append_device_audit(&self, recs: &[DeviceAuditRecord]) -> Result<(), StoreError>;
    fn device_audit(&self, device_id: &str) -> Result<Vec<DeviceAuditRecord>, StoreError>;
    /// Deletes device-audit entries received at or before `cutoff`; returns how many.
    fn purge_device_audit(&self, cutoff: u64) -> Result<usize, StoreError>;

    /// Adds a deny-list entry (durable).
    fn add_deny(&self, e: &DenyEntry) -> Result<(), StoreError>;
    fn deny_entries(&self) -> Result<Vec<DenyEntry>, StoreError>;

    /// Keeps `bytes` as the signed staff list tablets fetch, if `sequence` is higher
    /// than the one kept (durable, atomic against other nodes); whether it was kept.
    /// The caller has verified the list.
    fn put_staff_list(&self, sequence: u64, bytes: &[u8]) -> Result<bool, StoreError>;
    /// The signed staff list kept, with its sequence.
    fn staff_list(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// The sequence of the staff list kept (cheap: read at every status answer).
    fn staff_list_sequence(&self) -> Result<Option<u64>, StoreError>;
}
