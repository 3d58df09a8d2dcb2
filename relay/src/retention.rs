//! Retention: every envelope record (sealed bytes, receipt, idempotency entry) and every
//! device-audit entry is deleted `retention_secs` after receipt at the latest, forwarded
//! or not. The purge deletes what would expire before its next run, so nothing
//! outlives its deadline by a purge interval. Logs counts only.

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
            tracing::warn!(envelope_id = %id, error = %e, "purge: upstream copy not removed");
        }
    }
    let device_audit = core.store.purge_device_audit(cut)?;
    let report = PurgeReport {
        envelopes: ids.len(),
        device_audit,
    };
    core.metrics.purged.fetch_add(
        (report.envelopes + report.device_audit) as u64,
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
