//! Forwarding to J-LIS behind the [`crate::upstream::Upstream`] trait.
//!
//! The forwarder opens a stored record (the application sealed under its receipt
//! epoch's storage key, [`crate::epochs::StoredRecord`]) only when it forwards it
//! (checking every field again, but not decoding the photo's pixels a second time:
//! `Application::decode_own_record`), hands
//! the application to the upstream, and drops it (every field zeroizes itself). An
//! application is marked forwarded — durably, and its sealed bytes deleted — only after
//! the upstream confirmed it; until then it is retried with exponential backoff. One
//! forwarder task per node works through the pending envelopes in order, and with
//! several nodes on one database each envelope is claimed by one node before it is
//! delivered ([`crate::store::Store::claim_for_forward`]), so nothing is delivered
//! twice by the relay; an upstream must still be idempotent by envelope ID (a crash
//! between delivery and marking repeats the delivery), which the spool upstream is.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use shinsei_protocol::{application::Application, envelope::EnvelopeId};

use crate::core::RelayCore;

use crate::upstream::{Delivery, UpstreamError};

/// What one forwarding pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardReport {
    pub delivered: usize,
    pub failed: usize,
    /// Pending but waiting for their backoff to expire.
    pub waiting: usize,
}

/// The forwarder's retry state.
#[derive(Debug, Default)]
pub struct Forwarder {
    backoff: HashMap<EnvelopeId, (u32, Instant)>,
}

impl Forwarder {
    pub fn new() -> Self {
        Self::default()
    }

    fn delay(core: &RelayCore, attempts: u32) -> Duration {
        let f = &core.config.forward;
        let ms = f
            .retry_initial_ms
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
            .min(f.retry_max_ms);
        Duration::from_millis(ms)
    }

    /// When the next retry is due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.backoff.values().map(|(_, t)| *t).min()
    }

    fn deliver_one(core: &RelayCore, id: &EnvelopeId) -> Result<bool, UpstreamError> {
        let store = |e: crate::store::StoreError| UpstreamError(format!("store: {e}"));
        // Forwarded, purged meanwhile, or being forwarded by another node.
        let Some((meta, sealed)) = core.store.claim_for_forward(id).map_err(store)? else {
            return Ok(false);
        };
        let (profile, plaintext) = core
            .epochs()
            .open_record(id, &sealed)
            .map_err(|e| UpstreamError(format!("cannot open stored record: {e}")))?;
        drop(sealed);
        // Validated in full at intake and authenticated by the storage key since: the
        // fields are checked again, the photo from its headers, not decoded twice.
        let app = Application::decode_own_record(&plaintext, profile)
            .map_err(|e| UpstreamError(format!("stored record is not a valid application: {e}")))?;
        drop(plaintext);
        core.upstream.deliver(&Delivery {
            envelope_id: *id,
            received_at: meta.received_at,
            application: &app,
        })?;
        drop(app);
        if !core.store.mark_forwarded(id).map_err(store)? {
            // Purged while it was being delivered: the purge's `forget` may have run
            // before this delivery wrote its copy, so remove that copy now (the sweeper
            // would catch it at the next purge too).
            tracing::info!(envelope_id = %id, "purged during delivery; removing the upstream copy");
            core.upstream.forget(id)?;
        }
        Ok(true)
    }

    /// Tries every pending envelope whose backoff has expired, oldest first.
    pub fn run_once(&mut self, core: &RelayCore) -> ForwardReport {
        let mut r = ForwardReport::default();
        let pending = match core.store.pending_forward(1000) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "forwarder: cannot list pending envelopes");
                return r;
            }
        };
        let now = Instant::now();
        self.backoff.retain(|id, _| pending.contains(id));
        for id in pending {
            if let Some((_, due)) = self.backoff.get(&id) {
                if *due > now {
                    r.waiting += 1;
                    continue;
                }
            }
            match Self::deliver_one(core, &id) {
                Ok(true) => {
                    self.backoff.remove(&id);
                    core.metrics.forwarded.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(envelope_id = %id, "forwarded upstream");
                    r.delivered += 1;
                }
                Ok(false) => {
                    self.backoff.remove(&id);
                }
                Err(e) => {
                    let attempts = self.backoff.get(&id).map_or(0, |(a, _)| *a) + 1;
                    let delay = Self::delay(core, attempts);
                    self.backoff.insert(id, (attempts, Instant::now() + delay));
                    core.metrics
                        .forward_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(envelope_id = %id, attempts, retry_in_ms = delay.as_millis() as u64, error = %e, "forwarding failed; will retry");
                    r.failed += 1;
                }
            }
        }
        r
    }
}

/// The forwarding loop: a pass after every accepted submission, when a retry is due,
/// and every `scan_interval_ms`.
pub async fn forward_loop(core: Arc<RelayCore>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut fwd = Some(Forwarder::new());
    let scan = Duration::from_millis(core.config.forward.scan_interval_ms);
    loop {
        let Some(mut f) = fwd.take() else { return };
        let c = core.clone();
        let (f, _report) = match tokio::task::spawn_blocking(move || {
            let r = f.run_once(&c);
            (f, r)
        })
        .await
        {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "forwarder pass panicked");
                (Forwarder::new(), ForwardReport::default())
            }
        };
        let wait = f
            .next_due()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .map_or(scan, |d| d.min(scan));
        fwd = Some(f);
        tokio::select! {
            _ = core.forward_wakeup.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
