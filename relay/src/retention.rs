//! Retention: every envelope record (stored application, receipt, idempotency entry)
//! and every device-audit entry is deleted `retention_secs` after receipt at the
//! latest, forwarded or not. The purge deletes what would expire before its next run,
//! so nothing outlives its deadline by a purge interval. Logs counts only.
//!
//! Deleting a record does not erase its bytes (sled's log, PostgreSQL's heap and WAL,
//! backups keep them); what makes them unreadable is the key: after deleting, each
//! purge ratchets the key epochs forward ([`crate::epochs`]), destroying every key
//! that only opened records past their deadline.
//!
//! Each purge also sweeps the upstream's local copies (the spool): a copy whose record
//! is gone or past its deadline is removed. That covers a `forget` that failed (retried
//! at every purge), a crash between deleting the records and forgetting the copies,
//! and a delivery that finished after its record was purged.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use crate::{core::RelayCore, store::StoreError};

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub envelopes: usize,
    pub device_audit: usize,
    /// Upstream copies removed by the sweep (their record was gone or expired).
    pub orphans: usize,
}

/// Removes every upstream copy whose record is gone or received at or before `cut`.
/// A copy that cannot be removed now is retried at the next purge.
pub fn sweep(core: &RelayCore, cut: u64) -> Result<usize, StoreError> {
    let copies = match core.upstream.local_copies() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "purge: cannot list upstream copies");
            return Ok(0);
        }
    };
    let mut n = 0;
    for id in copies {
        let orphan = match core.store.envelope_meta(&id)? {
            None => true,
            Some(m) => m.received_at <= cut,
        };
        if orphan {
            match core.upstream.forget(&id) {
                Ok(()) => n += 1,
                Err(e) => {
                    tracing::warn!(envelope_id = %id, error = %e, "sweep: upstream copy not removed; retried at the next purge")
                }
            }
        }
    }
    if n > 0 {
        tracing::info!(copies = n, "purge: orphaned upstream copies removed");
    }
    Ok(n)
}

/// The newest `received_at` that must be deleted now.
pub fn cutoff(now: u64, retention_secs: u64, purge_interval_secs: u64) -> Option<u64> {
    now.saturating_add(purge_interval_secs)
        .checked_sub(retention_secs)
}

/// Runs one purge at the core's clock time.
pub fn purge(core: &RelayCore) -> Result<PurgeReport, StoreError> {
    let r = &core.config.retention;
    let Some(cut) = cutoff(core.clock.now(), r.retention_secs, r.purge_interval_secs) else {
        return Ok(PurgeReport::default());
    };
    let ids = core.store.purge_envelopes(cut)?;
    for id in &ids {
        if let Err(e) = core.upstream.forget(id) {
            tracing::warn!(envelope_id = %id, error = %e, "purge: upstream copy not removed; the sweep retries it");
        }
    }
    let device_audit = core.store.purge_device_audit(cut)?;
    let orphans = sweep(core, cut)?;
    let keys = core
        .epochs()
        .advance(core.clock.now())
        .map_err(|e| StoreError::Backend(format!("key epochs: {e}")))?;
    if keys.files_shredded > 0 {
        tracing::info!(
            hpke_oldest_epoch = keys.hpke_oldest,
            store_oldest_epoch = keys.store_oldest,
            files = keys.files_shredded,
            "key epochs advanced; older keys destroyed"
        );
    }
    let report = PurgeReport {
        envelopes: ids.len(),
        device_audit,
        orphans,
    };
    core.metrics.purged.fetch_add(
        (report.envelopes + report.device_audit + report.orphans) as u64,
        Ordering::Relaxed,
    );
    if report.envelopes + report.device_audit > 0 {
        tracing::info!(
            envelopes = report.envelopes,
            device_audit = report.device_audit,
            "retention purge"
        );
    } else {
        tracing::debug!("retention purge: nothing to delete");
    }
    Ok(report)
}

/// Purges every `purge_interval_secs` until shutdown.
pub async fn purge_loop(core: Arc<RelayCore>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let every = Duration::from_secs(core.config.retention.purge_interval_secs);
    loop {
        let c = core.clone();
        match tokio::task::spawn_blocking(move || purge(&c)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed"),
            Err(e) => tracing::error!(error = %e, "retention purge panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_math() {
        assert_eq!(cutoff(100, 604_800, 60), None);
        assert_eq!(
            cutoff(1_000_000, 604_800, 60),
            Some(1_000_000 + 60 - 604_800)
        );
    }
}
