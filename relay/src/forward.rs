//! Forwarding to J-LIS behind the [`Upstream`] trait, and the spool-directory upstream.
//!
//! The forwarder opens a stored record (the application sealed under its receipt
//! epoch's storage key, [`crate::epochs::StoredRecord`]) only when it forwards it, hands
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
    fmt::Write as _,
    fs,
    io::Write as _,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use shinsei_protocol::{
    application::{Application, BrailleWish, CertificateWish},
    envelope::EnvelopeId,
};
use zeroize::Zeroizing;

use crate::core::RelayCore;

/// An application on its way upstream.
pub struct Delivery<'a> {
    pub envelope_id: EnvelopeId,
    /// When the relay received it (unix seconds).
    pub received_at: u64,
    pub application: &'a Application,
}

/// A delivery failure (retried).
#[derive(Debug, thiserror::Error)]
#[error("upstream: {0}")]
pub struct UpstreamError(pub String);

/// Where accepted applications go (J-LIS). Called from a blocking thread, one delivery
/// at a time.
pub trait Upstream: Send + Sync + 'static {
    /// Delivers one application. `Ok` means the upstream has it durably. Must be
    /// idempotent by `envelope_id`.
    fn deliver(&self, d: &Delivery<'_>) -> Result<(), UpstreamError>;

    /// The relay's record of `envelope_id` has been purged; an upstream that keeps a
    /// local copy (the spool) deletes it too.
    fn forget(&self, _envelope_id: &EnvelopeId) -> Result<(), UpstreamError> {
        Ok(())
    }

    /// The envelope IDs of every local copy this upstream keeps (the spool's entries),
    /// for the retention purge's orphan sweep: a copy whose relay record is gone or
    /// past its deadline is forgotten. An upstream without local copies has none.
    fn local_copies(&self) -> Result<Vec<EnvelopeId>, UpstreamError> {
        Ok(Vec::new())
    }
}

/// One directory per application: `<spool>/<envelope_id>/application.json` and
/// `photo.jpg`, written atomically (temporary directory, fsync, rename, fsync).
#[derive(Debug, Clone)]
pub struct SpoolUpstream {
    dir: PathBuf,
}

/// The only file names in a spool entry.
pub const SPOOL_FILES: [&str; 2] = ["application.json", "photo.jpg"];

fn io_err(what: &str, p: &Path, e: std::io::Error) -> UpstreamError {
    UpstreamError(format!("{what} {}: {e}", p.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), UpstreamError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("create", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("write", path, e))
}

fn sync_dir(p: &Path) -> Result<(), UpstreamError> {
    fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("fsync", p, e))
}

/// `application.json` of a spool entry, in a zeroizing buffer. Every value is digits,
/// `A-Z0-9` or a fixed word, so no escaping is needed.
pub fn application_json(app: &Application, received_at: u64) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(512));
    let yes = |b: bool| if b { "true" } else { "false" };
    let _ = write!(
        s,
        "{{\"application_id\":\"{}\",\"profile\":\"{}\",\"e_certificate\":{},\"braille\":{}",
        app.id().as_str(),
        app.profile().as_str(),
        yes(app.certificate_wish() == CertificateWish::Yes),
        yes(app.braille_wish() == BrailleWish::Yes),
    );
    if let Some(p) = app.pins() {
        s.push_str(",\"pins\":{\"signature_password\":\"");
        s.push_str(std::str::from_utf8(p.signature_password().as_bytes()).unwrap_or(""));
        s.push_str("\",\"user_certificate\":\"");
        s.push_str(std::str::from_utf8(p.user_certificate().as_bytes()).unwrap_or(""));
        s.push_str("\",\"resident_registry\":\"");
        s.push_str(std::str::from_utf8(p.resident_registry().as_bytes()).unwrap_or(""));
        s.push_str("\",\"card_info\":\"");
        s.push_str(std::str::from_utf8(p.card_info().as_bytes()).unwrap_or(""));
        s.push_str("\"}");
    }
    let _ = write!(s, ",\"received_at\":{received_at}}}");
    s
}

impl SpoolUpstream {
    /// Creates the spool directory (0700) if needed and removes temporary directories
    /// left by an interrupted write.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, UpstreamError> {
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_err("create", &dir, e))?;
        let entries = fs::read_dir(&dir).map_err(|e| io_err("read", &dir, e))?;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of one application.
    pub fn entry_dir(&self, id: &EnvelopeId) -> PathBuf {
        self.dir.join(id.to_hex())
    }
}

impl Upstream for SpoolUpstream {
    fn deliver(&self, d: &Delivery<'_>) -> Result<(), UpstreamError> {
        let final_dir = self.entry_dir(&d.envelope_id);
        if final_dir.join(SPOOL_FILES[0]).exists() {
            return Ok(()); // delivered before
        }
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| UpstreamError("random number generator failed".into()))?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            d.envelope_id.to_hex(),
            hex::encode(nonce)
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| io_err("create", &tmp, e))?;
        let result = (|| {
            let json = application_json(d.application, d.received_at);
            write_synced(&tmp.join(SPOOL_FILES[0]), json.as_bytes())?;
            write_synced(&tmp.join(SPOOL_FILES[1]), d.application.photo().as_bytes())?;
            sync_dir(&tmp)?;
            match fs::rename(&tmp, &final_dir) {
                Ok(()) => {}
                // Someone else completed it (or a stale empty dir): keep theirs.
                Err(_) if final_dir.join(SPOOL_FILES[0]).exists() => {
                    let _ = fs::remove_dir_all(&tmp);
                }
                Err(e) => return Err(io_err("rename", &tmp, e)),
            }
            sync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn local_copies(&self) -> Result<Vec<EnvelopeId>, UpstreamError> {
        let rd = fs::read_dir(&self.dir).map_err(|e| io_err("read", &self.dir, e))?;
        let mut v = Vec::new();
        for e in rd {
            let e = e.map_err(|e| io_err("read", &self.dir, e))?;
            if let Some(id) = EnvelopeId::from_hex(&e.file_name().to_string_lossy()) {
                v.push(id);
            }
        }
        Ok(v)
    }

    fn forget(&self, id: &EnvelopeId) -> Result<(), UpstreamError> {
        let p = self.entry_dir(id);
        match fs::remove_dir_all(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &p, e)),
        }
    }
}

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
        let app = Application::decode(&plaintext, profile)
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
