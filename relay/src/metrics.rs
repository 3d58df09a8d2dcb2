//! Counters for `/metrics` (Prometheus text format).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Mutex,
    },
};

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    pub forwarded: AtomicU64,
    pub forward_failures: AtomicU64,
    pub purged: AtomicU64,
    pub long_polls_open: AtomicI64,
    pub tls_handshake_failures: AtomicU64,
    pub connections_open: AtomicI64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Connections closed because no first byte came within the pre-TLS grace.
    pub pre_tls_timeouts: AtomicU64,
    /// Failed `accept` calls (out of descriptors and the like).
    pub accept_errors: AtomicU64,
}

impl Metrics {
    pub fn refused(&self, code: &'static str) {
        let mut m = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(code).or_insert(0) += 1;
    }

    /// A connection closed by admission ([`crate::admission`]).
    pub fn connection_rejected(&self, why: crate::admission::Rejected) {
        let mut m = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(why.label()).or_insert(0) += 1;
    }

    pub fn refused_count(&self, code: &str) -> u64 {
        let m = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        m.get(code).copied().unwrap_or(0)
    }

    /// Renders the Prometheus text exposition.
    pub fn render(&self, stored: u64, devices: usize) -> String {
        let mut s = String::new();
        let c = |s: &mut String, name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        c(
            &mut s,
            "shinsei_relay_submissions_accepted_total",
            "Envelopes accepted and stored.",
            "counter",
            self.accepted.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_submissions_duplicate_total",
            "Repeat submissions answered with the stored receipt.",
            "counter",
            self.duplicates.load(Ordering::Relaxed).to_string(),
        );
        let _ = writeln!(
            s,
            "# HELP shinsei_relay_submissions_refused_total Requests refused, by error code.\n# TYPE shinsei_relay_submissions_refused_total counter"
        );
        {
            let m = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            for (code, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "shinsei_relay_submissions_refused_total{{code=\"{code}\"}} {n}"
                );
            }
        }
        c(
            &mut s,
            "shinsei_relay_envelopes_stored",
            "Envelope records currently stored.",
            "gauge",
            stored.to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_devices",
            "Devices in the registry.",
            "gauge",
            devices.to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_forwarded_total",
            "Applications delivered upstream.",
            "counter",
            self.forwarded.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_forward_failures_total",
            "Failed delivery attempts (retried).",
            "counter",
            self.forward_failures.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_purged_total",
            "Records deleted by the retention purge.",
            "counter",
            self.purged.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_long_polls_open",
            "Status long-polls waiting.",
            "gauge",
            self.long_polls_open.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_connections_open",
            "Open TLS connections (both listeners).",
            "gauge",
            self.connections_open.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_tls_handshake_failures_total",
            "TLS handshakes that failed or timed out.",
            "counter",
            self.tls_handshake_failures
                .load(Ordering::Relaxed)
                .to_string(),
        );
        let _ = writeln!(
            s,
            "# HELP shinsei_relay_connections_rejected_total Connections closed before authentication by admission, by pool.\n# TYPE shinsei_relay_connections_rejected_total counter"
        );
        {
            let m = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
            for (pool, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "shinsei_relay_connections_rejected_total{{pool=\"{pool}\"}} {n}"
                );
            }
        }
        c(
            &mut s,
            "shinsei_relay_pre_tls_timeouts_total",
            "Connections closed for sending nothing within the pre-TLS grace.",
            "counter",
            self.pre_tls_timeouts.load(Ordering::Relaxed).to_string(),
        );
        c(
            &mut s,
            "shinsei_relay_accept_errors_total",
            "Failed accepts (e.g. out of file descriptors); the listener backs off 100 ms.",
            "counter",
            self.accept_errors.load(Ordering::Relaxed).to_string(),
        );
        s
    }
}
