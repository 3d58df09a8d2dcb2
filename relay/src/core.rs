//! The relay's shared state, independent of sockets: configuration, store, registry,
//! keys, clock, metrics and the upstream. The HTTP layer and the background loops hold
//! an `Arc<RelayCore>`; tests drive it directly.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use shinsei_pki::layout::HpkeKeyRing;
use shinsei_protocol::keys::SigningKey;

use crate::{
    budget::Budget,
    clock::Clock,
    config::Config,
    deny::{DenyList, DenySet},
    epochs::EpochKeys,
    metrics::Metrics,
    registry::Registry,
    store::{Store, StoreError},
    upstream::Upstream,
};

/// The relay's secret keys. No `Debug`.
pub struct RelayKeys {
    /// Signs receipts.
    pub receipt_key: SigningKey,
    /// Opens envelopes sealed to the bootstrap key of the device bundles (the
    /// provisioned key ring).
    pub hpke: HpkeKeyRing,
    /// Key epochs: the HPKE keys of the published schedule and the storage keys.
    pub epochs: EpochKeys,
}

/// Shared state of a running relay.
pub struct RelayCore {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub deny: Arc<DenyList>,
    pub upstream: Arc<dyn Upstream>,
    /// Wakes the forwarder after an accepted submission.
    pub forward_wakeup: tokio::sync::Notify,
    /// Bytes in flight and pixels being decoded (both listeners).
    pub budget: Budget,
    /// Submissions doing CPU work at once (`limits.cpu_workers`): the rest queue.
    pub cpu: tokio::sync::Semaphore,
    receipt_key: SigningKey,
    hpke: RwLock<Arc<HpkeKeyRing>>,
    epochs: Mutex<EpochKeys>,
}

impl RelayCore {
    /// Builds the core and loads the persistent deny list into memory.
    pub fn new(
        config: Config,
        keys: RelayKeys,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        upstream: Arc<dyn Upstream>,
    ) -> Result<Self, StoreError> {
        let deny = Arc::new(DenyList::new());
        let registry = Registry::new(store.clone(), clock.clone(), deny.clone());
        let n = registry.load_deny_list()?;
        tracing::info!(entries = n, "deny list loaded from the store");
        Ok(Self {
            budget: Budget::new(&config.limits),
            cpu: tokio::sync::Semaphore::new(config.limits.cpu_workers()),
            config,
            store,
            registry,
            clock,
            metrics: Metrics::default(),
            deny,
            upstream,
            forward_wakeup: tokio::sync::Notify::new(),
            receipt_key: keys.receipt_key,
            hpke: RwLock::new(Arc::new(keys.hpke)),
            epochs: Mutex::new(keys.epochs),
        })
    }

    pub fn receipt_key(&self) -> &SigningKey {
        &self.receipt_key
    }

    /// The current HPKE key ring.
    pub fn key_ring(&self) -> Arc<HpkeKeyRing> {
        match self.hpke.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The key epochs (held briefly: derivations are a few HKDF calls).
    pub fn epochs(&self) -> MutexGuard<'_, EpochKeys> {
        self.epochs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the HPKE key ring (reload after `relay rotate-key`).
    pub fn set_key_ring(&self, ring: HpkeKeyRing) {
        let mut g = self.hpke.write().unwrap_or_else(|p| p.into_inner());
        *g = Arc::new(ring);
    }

    /// Re-reads the deny-list file, if configured.
    pub fn reload_deny_file(&self) -> Result<usize, String> {
        let Some(p) = &self.config.paths.deny_list_file else {
            return Ok(0);
        };
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.len() > 16 * 1024 * 1024 {
            return Err(format!("{}: larger than 16 MiB", p.display()));
        }
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let set = DenySet::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let n = set.len();
        self.deny.replace_file(set);
        Ok(n)
    }
}
