//! The agent runtime: from "an `Application` exists" to "the tablet holds nothing of
//! it any more", plus check-in, remote disable/wipe and the offline lease.
//!
//! Flow of [`Agent::submit`]: session and device checks → seal and sign (protocol) →
//! outbox (encrypted, flushed) → the `Application` is dropped, zeroizing every
//! plaintext buffer → check-in → send → verify the receipt → delete the outbox entry
//! (flushed). Only ciphertext reaches the disk or the HTTP client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use shinsei_protocol::api::{DayCount, DeviceReport, DeviceState, MAX_REPORT_DAYS};
use shinsei_protocol::application::Application;
use shinsei_protocol::envelope::{self, EnvelopeId};
use shinsei_protocol::keys::SigningKey;
use shinsei_protocol::receipt::Receipt;
use shinsei_protocol::relay_keys::RelayKeySchedule;

use crate::audit::{AuditEvent, AuditLog, OverrideReason, WipeReason};
use crate::clock::Clock;
use crate::enroll::{self, Enrollment};
use crate::error::{AgentError, Result};
use crate::fsutil;
use crate::lease::{Lease, LeaseFile, LeaseVerdict};
use crate::outbox::{Entry, Outbox};
use crate::session::{Lockout, Session};
use crate::transport::{PostOutcome, RelayClient, Status};

use crate::test_hooks::crash_point;

pub use crate::wiped::{is_wiped, WIPED_MARKER, WIPING_MARKER};

/// Every file a wipe shreds besides the outbox key (which goes first): the device key
/// and enrollment (with the staff list), the audit key and log, the lease, the state.
/// Tries them all; returns the first failure.
fn shred_secrets(d: &Path) -> Option<AgentError> {
    let mut first = None;
    for f in [
        "audit.key",
        "audit.log",
        "audit.head",
        "audit.anchor",
        "audit.pending",
        "lease.json",
        "lockout.json",
        "state.json",
        RELAY_KEYS_FILE,
    ] {
        if let Err(e) = fsutil::shred(&d.join(f)) {
            first.get_or_insert(e);
        }
    }
    if let Err(e) = fsutil::shred_tree(&d.join(enroll::ENROLL_DIR)) {
        first.get_or_insert(e);
    }
    first
}

/// Finishes a wipe a crash interrupted (the `WIPING` marker is there): shreds what is
/// left, then marks the directory wiped. The relay is not told (the device key may be
/// gone); IT sees `wipe_pending` until it confirms or revokes.
fn finish_interrupted_wipe(d: &Path) -> Result<()> {
    tracing::warn!("finishing a wipe that was interrupted");
    fsutil::shred(&Outbox::key_path(d))?;
    if let Some(e) = shred_secrets(d) {
        return Err(e);
    }
    let reason = std::fs::read_to_string(d.join(WIPING_MARKER)).unwrap_or_default();
    fsutil::write_atomic(
        &d.join(WIPED_MARKER),
        format!("wiped: {reason} (finished at the next start); relay confirmed: false\n")
            .as_bytes(),
        0o600,
    )?;
    fsutil::shred(&d.join(WIPING_MARKER))
}

/// Finishes a wipe that a crash interrupted, if there is one (every command of the
/// binary calls it first; [`Agent::open`] does too).
pub fn complete_interrupted_wipe(data_dir: &Path) -> Result<()> {
    if data_dir.join(WIPING_MARKER).exists() {
        finish_interrupted_wipe(data_dir)?;
    }
    Ok(())
}

/// Prepares a wiped directory for enrollment again: removes what a wipe may have left
/// of the outbox (an agent killed before it closed it), then the marker. A directory
/// that was not wiped is left as it is.
pub fn clear_for_reenrollment(data_dir: &Path) -> Result<()> {
    if data_dir.join(WIPING_MARKER).exists() {
        finish_interrupted_wipe(data_dir)?;
    }
    if is_wiped(data_dir) {
        Outbox::remove_files(data_dir)?;
        fsutil::shred(&data_dir.join(WIPED_MARKER))?;
    }
    Ok(())
}

/// Device state as last learned from the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    pub state: DeviceState,
    pub version: u64,
    pub last_checkin: Option<u64>,
    /// Applications delivered per UTC day, newest last (figures for IT's console).
    #[serde(default)]
    pub sent_per_day: Vec<DayCount>,
}

impl Default for LocalState {
    fn default() -> Self {
        Self {
            state: DeviceState::Active,
            version: 0,
            last_checkin: None,
            sent_per_day: Vec::new(),
        }
    }
}

impl LocalState {
    /// Counts one delivered application on the day of `now`, keeping
    /// [`MAX_REPORT_DAYS`] days.
    fn count_sent(&mut self, now: u64) {
        let day = now / 86_400;
        match self.sent_per_day.last_mut() {
            Some(d) if d.day == day => d.count = d.count.saturating_add(1),
            _ => self.sent_per_day.push(DayCount { day, count: 1 }),
        }
        let excess = self.sent_per_day.len().saturating_sub(MAX_REPORT_DAYS);
        self.sent_per_day.drain(..excess);
    }
}

/// A report goes to the relay at most this often (and at the first check-in).
pub const REPORT_EVERY_SECS: u64 = 300;

/// Is it time to ask for a new certificate? In the last third of its validity.
pub fn renewal_due(not_before: i64, not_after: i64, now: u64) -> bool {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let lifetime = not_after.saturating_sub(not_before).max(0);
    not_after.saturating_sub(now) <= lifetime / 3
}

/// What happened to one submitted application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The relay's receipt verified; the outbox entry is gone.
    Delivered {
        envelope_id: EnvelopeId,
        received_at: u64,
    },
    /// Kept in the outbox; it will be sent automatically.
    Queued {
        envelope_id: EnvelopeId,
        reason: String,
    },
}

/// Result of one pass over the outbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    pub delivered: Vec<EnvelopeId>,
    pub pending: usize,
    pub refused: Vec<(EnvelopeId, String)>,
    pub expired: Vec<EnvelopeId>,
    pub corrupt: Vec<EnvelopeId>,
    pub last_error: Option<String>,
}

/// Status for `shinsei-agent status` and the UI's status bar.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub device_id: String,
    pub state: DeviceState,
    pub outbox: usize,
    pub last_checkin: Option<u64>,
    pub offline_secs: u64,
    pub lease: String,
    pub relay: String,
    pub profile: String,
    /// An enrollment ticket is installed: the fingerprint of the tablet's own key,
    /// which IT compares before approving it.
    pub awaiting_approval: Option<String>,
}

/// With an enrollment ticket installed: the request (CSR PEM) for the tablet's own key
/// and its fingerprint, the key made on first use and kept across restarts. `None`
/// for a tablet with its own certificate.
fn own_key_for(en: &Enrollment, data_dir: &Path) -> Result<Option<(String, String)>> {
    if !en.ticket {
        return Ok(None);
    }
    let (csr, fp) =
        enroll::own_key_request(data_dir).map_err(|e| AgentError::Enroll(e.to_string()))?;
    // Warn: the tablet cannot be used until IT acts (the text is grepped for by IT in
    // the journal, and by the boot test).
    tracing::warn!(
        "enrollment ticket: waiting for IT to approve this tablet's own key, fingerprint {fp}"
    );
    Ok(Some((csr, fp)))
}

/// The agent of one data directory.
pub struct Agent {
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    en: Enrollment,
    signer: SigningKey,
    outbox: Outbox,
    audit: AuditLog,
    client: RelayClient,
    lease_file: LeaseFile,
    lease: Lease,
    mono: Instant,
    local: LocalState,
    /// The relay's signed key schedule (public keys), refreshed at check-in.
    relay_keys: Option<RelayKeySchedule>,
    /// The relay address override the client was built with (kept for a rebuild after
    /// a renewal).
    relay_addr: Option<SocketAddr>,
    /// When the last report reached the relay (this run).
    last_report: Option<u64>,
    /// The installed staff list's sequence, once read (this run).
    staff_seq: Option<u64>,
    /// A sequence the relay offered whose list did not verify (not fetched again).
    staff_refused: Option<u64>,
    /// With an enrollment ticket: the request for the tablet's own key (CSR) and its
    /// fingerprint.
    own_key: Option<(String, String)>,
}

/// File of the relay's key schedule (public; verified again whenever it is loaded).
pub const RELAY_KEYS_FILE: &str = "relay-keys.bin";

fn state_path(d: &Path) -> PathBuf {
    d.join("state.json")
}

impl Agent {
    /// Opens the agent. Refuses a wiped or unenrolled tablet.
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        relay_addr: Option<SocketAddr>,
    ) -> Result<Self> {
        if data_dir.join(WIPING_MARKER).exists() {
            finish_interrupted_wipe(data_dir)?;
        }
        if is_wiped(data_dir) {
            // A wipe interrupted before the outbox was closed leaves its files.
            if let Err(e) = Outbox::remove_files(data_dir) {
                tracing::error!("removing the outbox after the wipe: {e}");
            }
            return Err(AgentError::Wiped);
        }
        let en = enroll::load_enrollment(data_dir).map_err(|e| match e {
            enroll::EnrollError::NotEnrolled | enroll::EnrollError::NotStarted => {
                AgentError::NotEnrolled(e.to_string())
            }
            other => AgentError::Enroll(other.to_string()),
        })?;
        let signer = SigningKey::from_pkcs8(&en.device_key_pkcs8)
            .map_err(|e| AgentError::Enroll(e.to_string()))?;
        let own_key = own_key_for(&en, data_dir)?;
        let outbox = Outbox::open(data_dir).map_err(|e| match e {
            AgentError::CorruptOutbox(m) if m.contains("WouldBlock") || m.contains("lock") => {
                AgentError::Internal(
                    "送信待ちデータは別のエージェントが使用中です / the outbox is in use by another agent process".into(),
                )
            }
            other => other,
        })?;
        let audit = AuditLog::open(data_dir)?;
        let client = RelayClient::new(&en, relay_addr)?;
        let now = clock.now();
        let lease_file = LeaseFile::new(data_dir);
        let lease = lease_file.load_or_start(now)?;
        let local = std::fs::read(state_path(data_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let relay_keys = std::fs::read(data_dir.join(RELAY_KEYS_FILE))
            .ok()
            .and_then(|b| RelayKeySchedule::verify(&b, &en.receipt_public_key).ok());
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            clock,
            en,
            signer,
            outbox,
            audit,
            client,
            lease_file,
            lease,
            mono: Instant::now(),
            local,
            relay_keys,
            relay_addr,
            last_report: None,
            staff_seq: None,
            staff_refused: None,
            own_key,
        })
    }

    /// The data directory this agent works in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn enrollment(&self) -> &Enrollment {
        &self.en
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn record(&self, ev: AuditEvent<'_>) {
        if let Err(e) = self.audit.append(self.now(), ev) {
            tracing::error!("audit append failed: {e}");
        }
    }

    fn store_local(&self) -> Result<()> {
        let b = serde_json::to_vec(&self.local).map_err(|e| AgentError::Internal(e.to_string()))?;
        fsutil::write_atomic(&state_path(&self.data_dir), &b, 0o600)
    }

    /// Updates the lease with the time that passed and acts on it.
    pub fn tick_lease(&mut self) -> Result<LeaseVerdict> {
        let delta = self.mono.elapsed().as_secs();
        self.mono = Instant::now();
        self.lease.observe(self.now(), delta);
        self.lease_file.store(&self.lease)?;
        let p = &self.en.policy;
        let v = self.lease.verdict(p.offline_lock_secs, p.offline_wipe_secs);
        if v == LeaseVerdict::Wipe {
            self.record(AuditEvent::Wipe {
                reason: WipeReason::OfflineLease,
            });
            self.wipe_now(WipeReason::OfflineLease.as_str())?;
            return Err(AgentError::Wiped);
        }
        Ok(v)
    }

    /// Fails unless the tablet may be used now (not disabled, lease not expired, its
    /// certificate not ended: an application taken now could never be sent).
    pub fn check_allowed(&mut self) -> Result<()> {
        match self.tick_lease()? {
            LeaseVerdict::Locked => return Err(AgentError::OfflineLocked),
            LeaseVerdict::Wipe => return Err(AgentError::Wiped),
            LeaseVerdict::Ok { .. } => {}
        }
        self.check_certificate()?;
        if let Some((_, fp)) = &self.own_key {
            return Err(AgentError::AwaitingApproval(fp.clone()));
        }
        match self.local.state {
            DeviceState::Active => Ok(()),
            _ => Err(AgentError::Disabled),
        }
    }

    /// Brings the device state up to date before an operator command: acts on the
    /// offline lease (a wipe verdict wipes), then checks in once so that a tablet
    /// re-enabled (or re-connected after an offline lock) by IT learns it, and finally
    /// fails unless the tablet may be used. An unreachable relay is not an error here:
    /// the cached state and the lease decide. A server that is not the ward's relay
    /// ([`AgentError::UntrustedRelay`]) is reported: IT must hear of it.
    pub fn sync_state(&mut self) -> Result<()> {
        self.tick_lease()?;
        match self.checkin(0) {
            Ok(_) | Err(AgentError::RelayUnreachable(_)) => {}
            Err(e) => return Err(e),
        }
        self.check_allowed()
    }

    /// Staff login against the installed, signed staff list.
    pub fn login(&mut self, staff_id: &str, password: &[u8]) -> Result<Session> {
        self.check_allowed()?;
        let now = self.now();
        let list = enroll::load_staff_list(&self.data_dir, now)
            .map_err(|e| AgentError::Login(e.to_string()))?;
        let lockout = Lockout::new(&self.data_dir, self.en.policy.lockout_threshold);
        let r = lockout.login(
            &list,
            staff_id,
            password,
            u64::from(self.en.policy.auto_lock_secs),
            now,
        );
        // Only an ID on the staff list is written; what else was typed may be a
        // password typed into the wrong field.
        let staff = shinsei_protocol::staff::StaffId::parse(staff_id)
            .ok()
            .filter(|id| list.entry(id).is_some())
            .map(|id| id.as_str().to_string())
            .unwrap_or_else(|| crate::audit::UNKNOWN_STAFF.into());
        match &r {
            Ok(_) => self.record(AuditEvent::Login { staff: &staff }),
            Err(AgentError::LockedOut(w)) => self.record(AuditEvent::Lockout {
                staff: &staff,
                secs: *w,
            }),
            Err(e) => self.record(AuditEvent::LoginFailed {
                staff: &staff,
                why: e.kind(),
            }),
        }
        r
    }

    pub fn logout(&mut self, session: &mut Session) {
        session.logout();
        self.record(AuditEvent::Logout {
            staff: session.staff_id(),
        });
    }

    /// Records a scan (the application ID only as a keyed reference).
    pub fn record_scan(&self, session: &Session, application_id: &[u8]) {
        self.record(AuditEvent::Scan {
            staff: session.staff_id(),
            app_ref: self.audit.app_ref(application_id),
        });
    }

    /// A supervisor's approval to set the photo checks aside for the current
    /// application: another staff member than the one logged in types their own ID and
    /// password (checked against the signed staff list, with the same lock-out as a
    /// login); the approval is written to the audit log with the reason, never with
    /// the photo or the application.
    pub fn approve_photo_override(
        &mut self,
        session: &mut Session,
        supervisor: &str,
        password: &[u8],
        reason: OverrideReason,
    ) -> Result<()> {
        session.check(self.now())?;
        self.check_allowed()?;
        if supervisor == session.staff_id() {
            return Err(AgentError::Input(
                "承認はログイン中とは別の職員が行ってください / the approval must come from another staff member"
                    .into(),
            ));
        }
        let now = self.now();
        let list = enroll::load_staff_list(&self.data_dir, now)
            .map_err(|e| AgentError::Login(e.to_string()))?;
        let lockout = Lockout::new(&self.data_dir, self.en.policy.lockout_threshold);
        let mut approver = lockout.login(&list, supervisor, password, 60, now)?;
        approver.logout();
        self.record(AuditEvent::PhotoOverride {
            staff: session.staff_id(),
            supervisor: approver.staff_id(),
            reason,
        });
        Ok(())
    }

    /// Records a photo capture.
    pub fn record_capture(&self, session: &Session) {
        self.record(AuditEvent::Capture {
            staff: session.staff_id(),
        });
    }

    /// Records that the audio guidance was started for an applicant (that it was
    /// used; nothing of what was said or typed).
    pub fn record_guidance(&self, session: &Session) {
        self.record(AuditEvent::Guidance {
            staff: session.staff_id(),
        });
    }

    /// Seals the application, queues it durably, destroys the plaintext, and tries to
    /// deliver it.
    pub fn submit(&mut self, session: &mut Session, app: Application) -> Result<SubmitOutcome> {
        self.submit_with(session, app, false)
    }

    /// Seals, queues and sends one application. Unless `resend`, an application ID
    /// already submitted from this tablet within the outbox's age limit is refused with
    /// [`AgentError::AlreadySubmitted`]: a clerk retrying after a crash or a killed
    /// process never creates a duplicate (the earlier envelope is still queued or was
    /// delivered). `resend` is the clerk's explicit choice (e.g. a retaken photo).
    pub fn submit_with(
        &mut self,
        session: &mut Session,
        app: Application,
        resend: bool,
    ) -> Result<SubmitOutcome> {
        let id = self.queue_application(session, app, resend)?;
        self.deliver(id)
    }

    /// The first half of [`Agent::submit_with`]: seals the application and puts it in
    /// the outbox, durably (the plaintext is dropped when this returns). Sending is
    /// [`Agent::deliver`]; until then the daemon's retries would send it too.
    pub fn queue_application(
        &mut self,
        session: &mut Session,
        app: Application,
        resend: bool,
    ) -> Result<EnvelopeId> {
        session.check(self.now())?;
        self.check_allowed()?;
        if app.profile().as_str() != self.en.policy.profile.as_str() {
            return Err(AgentError::Input(format!(
                "この端末の申請種別は {} です / this tablet is set up for {} applications",
                self.en.policy.profile.as_str(),
                self.en.policy.profile.as_str()
            )));
        }
        let created_at = self.now();
        let app_ref = self.audit.app_ref(app.id().as_bytes());
        let window_start = created_at.saturating_sub(self.en.policy.outbox_max_age_secs);
        self.outbox.prune_submitted(window_start)?;
        if !resend {
            if let Some((at, env)) = self
                .outbox
                .submitted_since(app_ref.as_str().as_bytes(), window_start)?
            {
                let state = if self.outbox.contains(&env)? {
                    "送信待ち / queued"
                } else {
                    "送信済み / delivered"
                };
                return Err(AgentError::AlreadySubmitted(format!(
                    "envelope {env} at {at}, {state}"
                )));
            }
        }
        if self.relay_key_at(created_at).is_none() {
            // No epoch key for now (never checked in, or offline past the schedule):
            // try once to fetch the schedule; otherwise the bundle's bootstrap key.
            self.refresh_relay_keys(true);
        }
        let relay_key = self
            .relay_key_at(created_at)
            .unwrap_or_else(|| self.en.relay_public_key.clone());
        let (id, bytes) = envelope::seal(
            &app,
            &self.en.device_id,
            created_at,
            &relay_key,
            &self.signer,
        )
        .map_err(|e| AgentError::Internal(format!("seal: {e}")))?;
        // The plaintext is no longer needed: every buffer of it zeroizes on drop.
        drop(app);
        self.outbox.put_new(
            &Entry {
                id,
                created_at,
                attempts: 0,
                next_attempt_at: 0,
                last_error: None,
                envelope: bytes,
            },
            app_ref.as_str().as_bytes(),
        )?;
        crash_point("sealed");
        self.record(AuditEvent::Seal {
            staff: session.staff_id(),
            envelope: id,
            app_ref,
        });
        Ok(id)
    }

    /// The second half of [`Agent::submit_with`]: tries to send what is in the outbox
    /// now and says what became of envelope `id`.
    pub fn deliver(&mut self, id: EnvelopeId) -> Result<SubmitOutcome> {
        let report = self.flush_outbox(true)?;
        if report.delivered.contains(&id) {
            let received_at = self.now();
            return Ok(SubmitOutcome::Delivered {
                envelope_id: id,
                received_at,
            });
        }
        if let Some((_, why)) = report.refused.iter().find(|(r, _)| *r == id) {
            return Err(AgentError::RelayRefused(why.clone()));
        }
        Ok(SubmitOutcome::Queued {
            envelope_id: id,
            reason: report.last_error.unwrap_or_else(|| "pending".into()),
        })
    }

    /// The relay's epoch key for envelopes created at `t`, from the verified schedule.
    pub fn relay_key_at(&self, t: u64) -> Option<shinsei_protocol::keys::RelayPublicKey> {
        self.relay_keys.as_ref()?.key_at(t).cloned()
    }

    /// Fetches the relay's key schedule when it is missing, older than one epoch, or
    /// covers less than the offline-lock period plus an epoch ahead (or always, with
    /// `force`). Failures are logged and change nothing: sealing falls back to the
    /// keys already held, then to the bundle's key.
    fn refresh_relay_keys(&mut self, force: bool) {
        let now = self.now();
        let needed = force
            || match &self.relay_keys {
                None => true,
                Some(s) => {
                    now >= s.issued_at.saturating_add(s.epoch_secs)
                        || s.covers_until()
                            < now
                                .saturating_add(self.en.policy.offline_lock_secs)
                                .saturating_add(s.epoch_secs)
                }
            };
        if !needed {
            return;
        }
        match self.client.relay_keys() {
            Ok(Some(bytes)) => {
                match RelayKeySchedule::verify(&bytes, &self.en.receipt_public_key) {
                    Ok(s) => {
                        if let Err(e) = fsutil::write_atomic(
                            &self.data_dir.join(RELAY_KEYS_FILE),
                            &bytes,
                            0o600,
                        ) {
                            tracing::warn!("relay key schedule not saved: {e}");
                        }
                        self.relay_keys = Some(s);
                    }
                    Err(e) => tracing::warn!("relay key schedule refused: {e}"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("relay key schedule not fetched: {e}"),
        }
    }

    /// One check-in with the relay; acts on disable / enable / wipe, installs a renewed
    /// certificate, sends the report.
    pub fn checkin(&mut self, wait_secs: u64) -> Result<Status> {
        // An ended certificate is refused by the relay's TLS layer: say so plainly
        // rather than take that refusal for a revocation.
        self.check_certificate()?;
        let st = match self.client.status(self.local.version, wait_secs) {
            Ok(st) => st,
            Err(e @ AgentError::CertificateRefused(_)) => {
                // Revoked (or wiped) at the relay: lock now rather than work offline
                // until the lease runs out. A later successful check-in (IT issued a
                // new certificate, or a middlebox stopped interfering) unlocks.
                if self.local.state != DeviceState::Revoked {
                    self.record(AuditEvent::StateChanged {
                        from: self.local.state,
                        to: DeviceState::Revoked,
                    });
                    self.local.state = DeviceState::Revoked;
                    self.store_local()?;
                }
                return Err(e);
            }
            Err(e @ AgentError::UntrustedRelay(_)) => {
                // Not the ward's relay: nothing it would say is read, the state and the
                // lease stay as they are (no lock as "revoked": our certificate was not
                // refused, theirs was).
                tracing::warn!("check-in: {e}");
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let now = self.now();
        self.lease.checked_in(now);
        self.lease_file.store(&self.lease)?;
        self.local.last_checkin = Some(now);
        let changed = st.state != self.local.state;
        self.local.version = st.version;
        match st.state {
            s if s.must_wipe() => {
                self.record(AuditEvent::Wipe {
                    reason: WipeReason::Remote,
                });
                self.wipe_now(WipeReason::Remote.as_str())?;
                return Err(AgentError::Wiped);
            }
            s => {
                if changed {
                    self.record(AuditEvent::StateChanged {
                        from: self.local.state,
                        to: s,
                    });
                }
                self.local.state = s;
            }
        }
        self.store_local()?;
        self.refresh_relay_keys(false);
        if st.bundle_ready {
            if let Err(e) = self.install_renewal() {
                tracing::warn!("renewed certificate not installed: {e}");
            }
        }
        // (An enrollment ticket may not read the staff list; the seed's list serves.)
        if let Some(seq) = st.staff_list.filter(|_| self.own_key.is_none()) {
            if let Err(e) = self.update_staff_list(seq) {
                tracing::warn!("staff list {seq} not installed: {e}");
            }
        }
        self.send_report(now);
        Ok(st)
    }

    fn check_certificate(&self) -> Result<()> {
        let not_after = u64::try_from(self.en.cert_not_after).unwrap_or(0);
        if self.now() >= not_after {
            return Err(AgentError::CertificateExpired(not_after));
        }
        Ok(())
    }

    /// Fetches the bundle IT signed, verifies it (device CA under the pinned root, this
    /// device, this key, not older than the installed one) and switches to it.
    fn install_renewal(&mut self) -> Result<()> {
        let Some(bytes) = self.client.bundle()? else {
            return Ok(());
        };
        let now = self.now();
        enroll::install_bundle(&self.data_dir, &bytes, now)
            .map_err(|e| AgentError::Enroll(e.to_string()))?;
        let en = enroll::load_enrollment(&self.data_dir)
            .map_err(|e| AgentError::Enroll(e.to_string()))?;
        self.client = RelayClient::new(&en, self.relay_addr)?;
        // The same key for a renewal; the tablet's own instead of the ticket's.
        self.signer = SigningKey::from_pkcs8(&en.device_key_pkcs8)
            .map_err(|e| AgentError::Enroll(e.to_string()))?;
        let not_after = u64::try_from(en.cert_not_after).unwrap_or(0);
        if en.ticket {
            if self.own_key.is_none() {
                self.own_key = own_key_for(&en, &self.data_dir)?;
            }
        } else if self.own_key.take().is_some() {
            tracing::info!(
                not_after,
                "this tablet's own key is certified: enrollment done"
            );
        }
        self.en = en;
        self.record(AuditEvent::CertificateRenewed { not_after });
        tracing::info!(not_after, "renewed device certificate installed");
        // Tell the relay at once (the next request uses the new certificate).
        self.last_report = None;
        Ok(())
    }

    /// Fetches and installs the relay's staff list when it is newer than the installed
    /// one (verified by `enroll::install_staff_list`: device CA under the pinned root,
    /// not expired, not older). A list that does not verify is never retried until the
    /// relay offers another sequence.
    fn update_staff_list(&mut self, offered: u64) -> Result<()> {
        let installed = match self.staff_seq {
            Some(s) => Some(s),
            None => enroll::installed_staff_sequence(&self.data_dir)
                .map_err(|e| AgentError::Enroll(e.to_string()))?,
        };
        self.staff_seq = installed;
        if installed.is_some_and(|s| s >= offered) || self.staff_refused == Some(offered) {
            return Ok(());
        }
        let Some(bytes) = self.client.staff_list()? else {
            return Ok(());
        };
        match enroll::install_staff_list(&self.data_dir, &bytes, self.now()) {
            Ok(list) => {
                self.staff_seq = Some(list.sequence);
                self.record(AuditEvent::StaffListInstalled {
                    sequence: list.sequence,
                });
                tracing::info!(
                    sequence = list.sequence,
                    "staff list installed from the relay"
                );
                Ok(())
            }
            Err(e) => {
                self.staff_refused = Some(offered);
                Err(AgentError::Enroll(e.to_string()))
            }
        }
    }

    /// The tablet's figures for IT, with a renewal request in the last third of the
    /// certificate's life; at most every [`REPORT_EVERY_SECS`]. Failures only log.
    fn send_report(&mut self, now: u64) {
        // With a ticket the request goes with every check-in (IT approves while the
        // tablet shows its fingerprint; the relay keeps one request per key).
        if self.own_key.is_none()
            && self
                .last_report
                .is_some_and(|t| now < t.saturating_add(REPORT_EVERY_SECS))
        {
            return;
        }
        let renewal_csr = if let Some((csr, _)) = &self.own_key {
            Some(csr.clone())
        } else if renewal_due(self.en.cert_not_before, self.en.cert_not_after, now) {
            match enroll::renewal_csr(&self.data_dir) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("renewal request not made: {e}");
                    None
                }
            }
        } else {
            None
        };
        let p = &self.en.policy;
        let left = p.offline_wipe_secs.saturating_sub(self.lease.elapsed());
        let report = DeviceReport {
            agent_version: env!("CARGO_PKG_VERSION").into(),
            outbox_depth: u32::try_from(self.outbox.len()).unwrap_or(u32::MAX),
            lease_deadline: Some(now.saturating_add(left)),
            sent_per_day: self.local.sent_per_day.clone(),
            renewal_csr,
        };
        match self.client.report(&report) {
            Ok(state) => {
                self.last_report = Some(now);
                tracing::debug!(renewal = state.as_str(), "report sent");
            }
            Err(e) => tracing::warn!("report not sent: {e}"),
        }
    }

    fn backoff_secs(attempts: u32) -> u64 {
        let base = 5u64.saturating_mul(1u64 << attempts.min(8)).min(900);
        let mut j = [0u8; 1];
        let _ = ring::rand::SystemRandom::new().fill(&mut j);
        // Jitter: 50 %–150 % of the base.
        base / 2 + base * u64::from(j[0]) / 255
    }

    /// Sends every due envelope. With `force`, ignores the retry schedule.
    pub fn flush_outbox(&mut self, force: bool) -> Result<FlushReport> {
        let mut report = FlushReport::default();
        let (entries, corrupt) = self.outbox.entries()?;
        report.corrupt = corrupt;
        let now = self.now();
        let max_age = self.en.policy.outbox_max_age_secs;
        let mut due = Vec::new();
        for e in entries {
            if now.saturating_sub(e.created_at) > max_age {
                self.outbox.remove(&e.id)?;
                self.record(AuditEvent::OutboxExpired { envelope: e.id });
                report.expired.push(e.id);
            } else if force || e.next_attempt_at <= now {
                due.push(e);
            } else {
                report.pending += 1;
            }
        }
        if due.is_empty() {
            return Ok(report);
        }
        // Check in before every send: a disabled or wiped tablet sends nothing.
        match self.checkin(0) {
            Ok(_) => {}
            Err(AgentError::RelayUnreachable(m)) => {
                report.last_error = Some(m.clone());
                for mut e in due {
                    e.attempts += 1;
                    e.next_attempt_at = now + Self::backoff_secs(e.attempts);
                    e.last_error = Some("relay unreachable".into());
                    self.outbox.put(&e)?;
                    report.pending += 1;
                }
                return Ok(report);
            }
            Err(e) => return Err(e),
        }
        if self.local.state != DeviceState::Active {
            return Err(AgentError::Disabled);
        }
        for mut e in due {
            match self.client.post_envelope(&e.envelope) {
                Ok(PostOutcome::Receipt(bytes)) => {
                    match Receipt::verify(&bytes, &self.en.receipt_public_key, &e.id, &e.envelope) {
                        Ok(r) => {
                            crash_point("received");
                            self.outbox.remove(&e.id)?;
                            self.record(AuditEvent::Receipt {
                                envelope: e.id,
                                received_at: r.received_at,
                            });
                            self.local.count_sent(now);
                            if let Err(err) = self.store_local() {
                                tracing::warn!("daily count not stored: {err}");
                            }
                            report.delivered.push(e.id);
                        }
                        Err(err) => {
                            e.attempts += 1;
                            e.next_attempt_at = now + Self::backoff_secs(e.attempts);
                            e.last_error = Some(format!("bad receipt: {err}"));
                            report.last_error = e.last_error.clone();
                            self.outbox.put(&e)?;
                            report.pending += 1;
                        }
                    }
                }
                Ok(PostOutcome::Refused {
                    status,
                    code,
                    message,
                }) => {
                    let why = format!("HTTP {status} {code} {message}");
                    self.record(AuditEvent::SendRefused {
                        envelope: e.id,
                        status,
                        code: &code,
                    });
                    // Kept (never silently lost) until it expires; not retried
                    // automatically except after a day, in case the relay was at fault.
                    e.attempts += 1;
                    e.next_attempt_at = now + 86_400;
                    e.last_error = Some(why.clone());
                    self.outbox.put(&e)?;
                    report.refused.push((e.id, why));
                }
                Ok(PostOutcome::Retry(m)) | Err(AgentError::RelayUnreachable(m)) => {
                    e.attempts += 1;
                    e.next_attempt_at = now + Self::backoff_secs(e.attempts);
                    e.last_error = Some(m.clone());
                    report.last_error = Some(m);
                    self.outbox.put(&e)?;
                    report.pending += 1;
                }
                Err(other) => return Err(other),
            }
        }
        self.record(AuditEvent::Send {
            delivered: report.delivered.len(),
            pending: report.pending,
            refused: report.refused.len(),
        });
        Ok(report)
    }

    /// Ships the audit log to the relay in batches within its limits, each batch's head
    /// signed with the device key, pruning what the relay acknowledged after each one
    /// (an interrupted shipment resumes from the relay's acknowledgement). Returns how
    /// many entries the relay took.
    pub fn ship_audit(&self) -> Result<usize> {
        let mut shipped = 0;
        for upload in self
            .audit
            .uploads(self.en.device_id.as_str(), &self.signer)?
        {
            let ack = self.client.ship_audit(&upload)?;
            if let Some(acked) = ack.acked_through {
                shipped += self.audit.prune_through(acked, ack.head_hash.as_deref())?;
            }
        }
        Ok(shipped)
    }

    /// Status for the operator. Reading it also acts on the offline lease: a tablet
    /// past its wipe deadline wipes itself here and reports [`AgentError::Wiped`].
    pub fn status(&mut self) -> Result<StatusReport> {
        let lease = match self.tick_lease()? {
            LeaseVerdict::Ok { remaining_secs } => format!("ok ({remaining_secs} s left)"),
            LeaseVerdict::Locked => "locked (offline too long)".into(),
            LeaseVerdict::Wipe => return Err(AgentError::Wiped),
        };
        Ok(StatusReport {
            device_id: self.en.device_id.to_string(),
            state: self.local.state,
            outbox: self.outbox.len(),
            last_checkin: self.local.last_checkin,
            offline_secs: self.lease.elapsed(),
            lease,
            relay: format!("{}:{}", self.en.relay_host, self.en.relay_port),
            profile: self.en.policy.profile.as_str().into(),
            awaiting_approval: self.own_key.as_ref().map(|(_, fp)| fp.clone()),
        })
    }

    /// Crypto-erase, in an order a crash cannot undo: first the `WIPING` marker (from
    /// then on the next start finishes the wipe, [`Agent::open`]), then the outbox key,
    /// then the operations log is shipped while the device key is still loaded, then
    /// every secret file is shredded (device key and enrollment, staff list, audit key
    /// and log, lease, state; a failure does not stop the others), and only then is the
    /// wipe confirmed to the relay, with the TLS identity still in memory (a relay that
    /// shows `wiped` refuses the certificate, so confirming first would leave keys no
    /// second order could reach). Leaves only the `WIPED` marker.
    pub fn wipe_now(&mut self, reason: &str) -> Result<()> {
        tracing::warn!(reason, "wiping the tablet");
        let d = self.data_dir.clone();
        fsutil::write_atomic(&d.join(WIPING_MARKER), reason.as_bytes(), 0o600)?;
        crash_point("wipe-begun");
        let mut first_error = fsutil::shred(&Outbox::key_path(&d)).err();
        crash_point("wipe-outbox-key");
        // Ship what the audit log holds while the device key still exists.
        let _ = self.audit.flush();
        let _ = self.ship_audit();
        crash_point("wipe-shipped");
        if let Some(e) = shred_secrets(&d) {
            first_error.get_or_insert(e);
        }
        crash_point("wipe-shredded");
        let confirmed = self.client.confirm_wipe().is_ok();
        crash_point("wipe-confirmed");
        fsutil::write_atomic(
            &d.join(WIPED_MARKER),
            format!("wiped: {reason}; relay confirmed: {confirmed}\n").as_bytes(),
            0o600,
        )?;
        fsutil::shred(&d.join(WIPING_MARKER))?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn renewal_is_asked_for_in_the_last_third_of_a_certificates_life() {
        let (start, end) = (1_000 * DAY, 1_030 * DAY);
        let at = |d: i64| u64::try_from(start + d * DAY).unwrap_or(0);
        assert!(!renewal_due(start, end, at(0)));
        assert!(!renewal_due(start, end, at(19)));
        assert!(renewal_due(start, end, at(20)));
        assert!(renewal_due(start, end, at(29)));
        assert!(renewal_due(start, end, at(31)));
        // A malformed validity (end before start) asks at once rather than never.
        assert!(renewal_due(end, start, at(0)));
    }

    #[test]
    fn daily_counts_keep_two_weeks() {
        let mut s = LocalState::default();
        for day in 0..20u64 {
            for _ in 0..=day % 3 {
                s.count_sent(day * 86_400 + 3_600);
            }
        }
        assert_eq!(s.sent_per_day.len(), MAX_REPORT_DAYS);
        assert_eq!(s.sent_per_day.first().map(|d| d.day), Some(6));
        let last = s.sent_per_day.last().copied();
        assert_eq!(last, Some(DayCount { day: 19, count: 2 }));
    }
}
