//! The device registry: the state machine of a device (the "lost tablet" path), its
//! history, the certificates it has used, and the long-poll notifications.
//!
//! ```text
//!   active ⇄ disabled          (disable / enable)
//!   active|disabled → wipe_pending → wiped   (wipe by admin, confirm by device)
//!   wipe_pending → active      (enable: the wipe is called off)
//!   any → revoked              (revoke)
//!   wiped, revoked: final (enable refused)
//! ```
//! A device in `wiped` or `revoked` is put on the deny list (every certificate it has
//! used, and its device ID), so it is refused at the TLS layer from then on.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use shinsei_protocol::device::DeviceId;
use tokio::sync::watch;

use crate::{
    approval::{decide, needs_second_officer, Decision, Order, EMERGENCY_WINDOW_SECS},
    clock::Clock,
    deny::DenyList,
    device::{AuditAlert, AuditHead, Hold, IssuedBundle, Renewal},
    identity::{AdminIdentity, CertFingerprint, DeviceIdentity},
    store::{AdminAuditEntry, ChangeSink, DenyEntry, Store, StoreError},
};
use shinsei_protocol::api::{AdminAction, DeviceReport, PendingOrder, RenewalState};

/// A device's `last_seen` is written at most this often (a check-in every long-poll
/// must not be a write every time).
pub const SEEN_EVERY_SECS: u64 = 60;

/// The same report (without a renewal request) is written again at most this often.
pub const REPORT_WRITE_EVERY_SECS: u64 = 60;

/// How many of the newest admin-audit entries the emergency quota looks at.
const EMERGENCY_SCAN: usize = 10_000;

pub use crate::device::{
    transition, Action, DeviceRecord, DeviceState, HistoryEntry, TransitionError, MAX_CERTS,
    MAX_HISTORY,
};

/// A registry failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of an admin order.
#[derive(Debug)]
pub enum OrderOutcome {
    /// Carried out (`changed`: the state moved). `first`: the officer whose waiting order
    /// this approved; `emergency`: one officer's emergency wipe.
    Done {
        record: DeviceRecord,
        changed: bool,
        first: Option<String>,
        emergency: bool,
    },
    /// Waits for a second security officer.
    Waiting {
        record: DeviceRecord,
        order: PendingOrder,
    },
}

impl OrderOutcome {
    /// The device's record after the order.
    pub fn record(&self) -> &DeviceRecord {
        match self {
            OrderOutcome::Done { record, .. } | OrderOutcome::Waiting { record, .. } => record,
        }
    }
}

/// A refused admin order.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The state machine does not allow it.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The two-person rule or the emergency quota: code and message.
    #[error("{1}")]
    Refused(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OrderError {
    /// The machine-readable code (the API's `error`).
    pub fn code(&self) -> &'static str {
        match self {
            OrderError::Transition(_) => "invalid_transition",
            OrderError::Refused(code, _) => code,
            OrderError::Store(_) => "internal",
        }
    }
}

/// The registry. State changes are read-modify-written atomically by the store (safe
/// with several relay nodes on one database) and stored durably before watchers are
/// told; changes made through other nodes reach the watchers through
/// [`Store::watch_changes`].
pub struct Registry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    deny: Arc<DenyList>,
    watchers: Arc<Watchers>,
    /// When each administrator's read was last written to the audit log (this node).
    reads: Mutex<HashMap<(String, &'static str), u64>>,
}

/// A read (`list_devices`, `read_audit`) is written to the admin audit log at most once
/// per administrator and kind in this many seconds: a console refreshing every second
/// must not bury the orders in reads.
pub const READ_AUDIT_EVERY_SECS: u64 = 60;

/// Long-poll watchers of this node, and the live deny list: the [`ChangeSink`] of
/// the store.
struct Watchers {
    map: Mutex<HashMap<String, watch::Sender<u64>>>,
    deny: Arc<DenyList>,
}

impl Watchers {
    fn bump(&self, device_id: &str, version: u64) {
        let w = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = w.get(device_id) {
            s.send_if_modified(|v| {
                if version > *v {
                    *v = version;
                    true
                } else {
                    false
                }
            });
        }
    }
}

fn deny_set(entries: &[DenyEntry]) -> crate::deny::DenySet {
    let mut set = crate::deny::DenySet::default();
    for e in entries {
        match e.kind.as_str() {
            "serial" => set.serials.insert(e.value.clone()),
            "spki" => set.spkis.insert(e.value.clone()),
            "device" => set.devices.insert(e.value.clone()),
            "admin" => set.admins.insert(e.value.clone()),
            _ => false,
        };
    }
    set
}

impl ChangeSink for Watchers {
    fn device_changed(&self, device_id: &str, version: u64) {
        self.bump(device_id, version);
    }

    fn deny_added(&self, entry: &DenyEntry) {
        self.deny
            .extend_registry(deny_set(std::slice::from_ref(entry)));
    }

    fn resync(&self, versions: &[(String, u64)], deny: &[DenyEntry]) {
        self.deny.extend_registry(deny_set(deny));
        for (d, v) in versions {
            self.bump(d, *v);
        }
    }
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, deny: Arc<DenyList>) -> Self {
        let watchers = Arc::new(Watchers {
            map: Mutex::new(HashMap::new()),
            deny: deny.clone(),
        });
        let sink: Arc<dyn ChangeSink> = watchers.clone();
        store.watch_changes(Arc::downgrade(&sink));
        Self {
            store,
            clock,
            deny,
            watchers,
            reads: Mutex::new(HashMap::new()),
        }
    }

    /// Loads the persistent deny entries into the live deny list (start-up).
    pub fn load_deny_list(&self) -> Result<usize, StoreError> {
        let entries = self.store.deny_entries()?;
        self.deny.extend_registry(deny_set(&entries));
        Ok(entries.len())
    }

    /// A device record, if the device is known.
    pub fn get(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.store.device(device_id)
    }

    /// All devices.
    pub fn list(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.store.devices()
    }

    /// A device has connected with a verified certificate: registers it as `active` on
    /// first contact, remembers the certificate, and (for a wiped or revoked device)
    /// denies the certificate.
    pub fn contact(&self, id: &DeviceIdentity) -> Result<DeviceRecord, StoreError> {
        let dev = id.device_id.as_str();
        let now = self.clock.now();
        let fresh = |r: &DeviceRecord| {
            r.certs.contains(&id.fingerprint)
                && r.last_seen
                    .is_some_and(|t| now < t.saturating_add(SEEN_EVERY_SECS))
                && r.cert_expires.is_some_and(|t| t >= id.not_after)
        };
        if let Some(r) = self.store.device(dev)? {
            if fresh(&r) {
                if r.state.is_denied() {
                    self.deny_cert(dev, &id.fingerprint)?;
                }
                return Ok(r);
            }
        }
        let mut created = false;
        let mut unchanged = None;
        let mut replaced = Vec::new();
        let written = self.store.update_device(dev, &mut |cur| {
            created = cur.is_none();
            unchanged = None;
            replaced.clear();
            let mut r = match cur {
                Some(r) => r,
                None => DeviceRecord::new(dev, now, "relay"),
            };
            if fresh(&r) {
                unchanged = Some(r);
                return None;
            }
            if !r.certs.contains(&id.fingerprint) {
                r.certs.push(id.fingerprint.clone());
                if r.certs.len() > MAX_CERTS {
                    r.certs.remove(0);
                }
            }
            r.last_seen = Some(now);
            r.cert_expires = Some(r.cert_expires.unwrap_or(0).max(id.not_after));
            // The renewed certificate is in use: the renewal is done.
            if r.renewal
                .as_ref()
                .and_then(|n| n.issued.as_ref())
                .is_some_and(|b| id.not_after >= b.not_after)
            {
                tracing::info!(device_id = %dev, "renewed certificate in use");
                r.renewal = None;
                // A certificate for a new key (an enrollment ticket replaced by the
                // tablet's own key): the old key's certificates are done with.
                replaced = r
                    .certs
                    .iter()
                    .filter(|c| c.spki_sha256_hex != id.fingerprint.spki_sha256_hex)
                    .cloned()
                    .collect();
            }
            Some(r)
        })?;
        let r = written
            .or(unchanged)
            .ok_or_else(|| StoreError::Backend("device update wrote nothing".into()))?;
        if created {
            tracing::info!(device_id = %dev, "device registered on first contact");
        }
        for old in &replaced {
            tracing::info!(device_id = %dev, spki = %old.spki_sha256_hex, "replaced key denied");
            self.deny_cert(dev, old)?;
        }
        if r.state.is_denied() {
            self.deny_cert(dev, &id.fingerprint)?;
        }
        Ok(r)
    }

    fn deny_cert(&self, device_id: &str, fp: &CertFingerprint) -> Result<(), StoreError> {
        let now = self.clock.now();
        for (kind, value) in [("serial", &fp.serial_hex), ("spki", &fp.spki_sha256_hex)] {
            self.store.add_deny(&DenyEntry {
                kind: kind.into(),
                value: value.clone(),
                device_id: device_id.to_owned(),
                at: now,
            })?;
        }
        self.deny.deny_cert(fp);
        Ok(())
    }

    fn deny_all(&self, r: &DeviceRecord) -> Result<(), StoreError> {
        for fp in &r.certs {
            self.deny_cert(&r.device_id, fp)?;
        }
        self.store.add_deny(&DenyEntry {
            kind: "device".into(),
            value: r.device_id.clone(),
            device_id: r.device_id.clone(),
            at: self.clock.now(),
        })?;
        self.deny.deny_device(&r.device_id);
        Ok(())
    }

    fn apply(
        &self,
        device_id: &str,
        action: Action,
        by: &str,
        create: bool,
    ) -> Result<DeviceRecord, RegistryError> {
        let now = self.clock.now();
        let mut outcome: Result<bool, TransitionError> = Ok(false);
        let r = self.store.update_device(device_id, &mut |cur| {
            let mut r = match cur {
                Some(r) => r,
                None if create => DeviceRecord::new(device_id, now, by),
                None => {
                    outcome = Err(TransitionError {
                        from: "unknown",
                        action: action.as_str(),
                    });
                    return None;
                }
            };
            match transition(r.state, action) {
                Ok(to) => {
                    outcome = Ok(r.set_state(to, now, by));
                    Some(r)
                }
                Err(e) => {
                    outcome = Err(e);
                    None
                }
            }
        })?;
        let changed = outcome?;
        let r = r.ok_or_else(|| StoreError::Backend("device update wrote nothing".into()))?;
        if r.state.is_denied() {
            self.deny_all(&r)?;
        }
        if changed {
            tracing::info!(device_id = %device_id, state = r.state.as_str(), by, "device state changed");
            self.notify(&r);
        }
        Ok(r)
    }

    /// An admin order for one device, under the two-person rule ([`crate::approval`]);
    /// recorded in the admin audit log whatever becomes of it. The caller has checked the
    /// role. An unknown device is registered first (a tablet can be disabled before it
    /// ever connected). The state-machine check, the decision and the write are one
    /// atomic update of the record, so two nodes cannot both approve or both wait.
    pub fn admin_order(
        &self,
        device_id: &DeviceId,
        who: &AdminIdentity,
        o: &Order<'_>,
    ) -> Result<OrderOutcome, OrderError> {
        let r = self.decide_and_apply(device_id, who, o);
        let (action, detail) = match &r {
            Ok(OrderOutcome::Done {
                first, emergency, ..
            }) => match (first, emergency) {
                (Some(f), _) => (
                    format!("{} approved", o.action),
                    Some(format!("requested by {f}")),
                ),
                (None, true) => (format!("{} EMERGENCY", o.action), None),
                (None, false) => (o.action.as_str().to_owned(), None),
            },
            Ok(OrderOutcome::Waiting { order, .. }) => (
                format!("{} requested", o.action),
                Some(format!(
                    "awaiting a second security officer until {}",
                    order.expires_at
                )),
            ),
            Err(e) => (format!("{} (refused)", o.action), Some(e.code().to_owned())),
        };
        let detail = match (detail, o.reason) {
            (Some(d), Some(why)) => Some(format!("{d}; reason: {why}")),
            (None, Some(why)) => Some(format!("reason: {why}")),
            (d, None) => d,
        };
        if matches!(
            r,
            Ok(OrderOutcome::Done {
                emergency: true,
                ..
            })
        ) {
            tracing::warn!(admin = %who.name, device_id = %device_id, "EMERGENCY wipe by one security officer");
        }
        self.audit(who, &action, Some(device_id.as_str()), detail)?;
        r
    }

    fn decide_and_apply(
        &self,
        device_id: &DeviceId,
        who: &AdminIdentity,
        o: &Order<'_>,
    ) -> Result<OrderOutcome, OrderError> {
        if o.emergency && o.action == AdminAction::Wipe && self.emergency_used(&who.name, o.now)? {
            return Err(OrderError::Refused(
                "emergency_quota",
                format!(
                    "{} has already used the emergency path in the last {} hours",
                    who.name,
                    EMERGENCY_WINDOW_SECS / 3600
                ),
            ));
        }
        let dev = device_id.as_str();
        let by = format!("admin:{}", who.name);
        let action = Action::from(o.action);
        let mut outcome: Result<OrderOutcome, OrderError> =
            Err(OrderError::Refused("internal", "no decision".into()));
        let written = self.store.update_device(dev, &mut |cur| {
            let mut r = cur.unwrap_or_else(|| DeviceRecord::new(dev, o.now, &by));
            let to = match transition(r.state, action) {
                Ok(to) => to,
                Err(e) => {
                    outcome = Err(OrderError::Transition(e));
                    return None;
                }
            };
            match decide(r.pending.as_ref(), o) {
                Decision::Execute { first, emergency } => {
                    let changed = r.set_state(to, o.now, &by);
                    // Carried out, or called off by a re-enable.
                    if needs_second_officer(o.action) || o.action == AdminAction::Enable {
                        r.pending = None;
                    }
                    outcome = Ok(OrderOutcome::Done {
                        record: r.clone(),
                        changed,
                        first,
                        emergency,
                    });
                }
                Decision::Wait(p) => {
                    r.pending = Some(p.clone());
                    outcome = Ok(OrderOutcome::Waiting {
                        record: r.clone(),
                        order: p,
                    });
                }
                Decision::Refuse(code, msg) => {
                    outcome = Err(OrderError::Refused(code, msg));
                    return None;
                }
            }
            Some(r)
        })?;
        let outcome = outcome?;
        if written.is_none() {
            return Err(StoreError::Backend("device update wrote nothing".into()).into());
        }
        if let OrderOutcome::Done {
            record, changed, ..
        } = &outcome
        {
            if record.state.is_denied() {
                self.deny_all(record)?;
            }
            if *changed {
                tracing::info!(device_id = %dev, state = record.state.as_str(), by, "device state changed");
                self.notify(record);
            }
        }
        Ok(outcome)
    }

    /// Has `admin` used the emergency path within [`EMERGENCY_WINDOW_SECS`] of `now`?
    fn emergency_used(&self, admin: &str, now: u64) -> Result<bool, StoreError> {
        let since = now.saturating_sub(EMERGENCY_WINDOW_SECS);
        Ok(self
            .store
            .admin_audit(EMERGENCY_SCAN)?
            .iter()
            .any(|e| e.admin == admin && e.at >= since && e.action.ends_with(" EMERGENCY")))
    }

    /// Revokes every certificate of administrator `name`, at once (see
    /// [`crate::approval`] for why one officer may). Audited; persistent; reaches every
    /// node's deny list.
    pub fn revoke_admin(&self, who: &AdminIdentity, name: &str) -> Result<(), StoreError> {
        let e = DenyEntry {
            kind: "admin".into(),
            value: name.to_owned(),
            device_id: String::new(),
            at: self.clock.now(),
        };
        self.store.add_deny(&e)?;
        self.deny.deny_admin(name);
        tracing::warn!(admin = %who.name, revoked = %name, "administrator revoked");
        self.audit(who, "revoke_admin", None, Some(format!("revoked {name}")))
    }

    /// Audits a read by `who`, unless the same read by the same administrator was
    /// audited less than [`READ_AUDIT_EVERY_SECS`] ago on this node.
    pub fn audit_read(&self, who: &AdminIdentity, what: &'static str) -> Result<(), StoreError> {
        let now = self.clock.now();
        {
            let mut m = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            let last = m.entry((who.name.clone(), what)).or_insert(0);
            if *last != 0 && now < last.saturating_add(READ_AUDIT_EVERY_SECS) {
                return Ok(());
            }
            *last = now;
        }
        self.audit(who, what, None, None)
    }

    /// Appends an entry to the admin audit log: who (name and role), what, on which
    /// device, and why.
    pub fn audit(
        &self,
        who: &AdminIdentity,
        action: &str,
        device_id: Option<&str>,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        self.append_audit(
            &who.name,
            Some(who.role.as_str()),
            action,
            device_id,
            detail,
        )
    }

    fn append_audit(
        &self,
        admin: &str,
        role: Option<&str>,
        action: &str,
        device_id: Option<&str>,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        self.store.append_admin_audit(&AdminAuditEntry {
            at: self.clock.now(),
            admin: admin.to_owned(),
            action: action.to_owned(),
            device_id: device_id.map(str::to_owned),
            role: role.map(str::to_owned),
            detail,
        })
    }

    /// Moves the device's operations-log anchor forward (never back).
    pub fn set_audit_head(&self, device_id: &str, head: AuditHead) -> Result<(), StoreError> {
        self.store.update_device(device_id, &mut |cur| {
            let mut r = cur?;
            if r.audit_head.as_ref().is_some_and(|h| h.seq >= head.seq) {
                return None;
            }
            r.audit_head = Some(head.clone());
            Some(r)
        })?;
        Ok(())
    }

    /// Raises an alert for IT: a device's log upload did not continue the chain the
    /// relay holds. Kept on the device record and in the admin audit log.
    pub fn raise_audit_alert(&self, device_id: &str, what: &str) -> Result<(), StoreError> {
        let at = self.clock.now();
        tracing::warn!(
            device_id,
            what,
            "operations log refused: not the chain the relay holds"
        );
        self.store.update_device(device_id, &mut |cur| {
            let mut r = cur?;
            r.audit_alert = Some(AuditAlert {
                at,
                what: what.to_owned(),
            });
            Some(r)
        })?;
        self.append_audit(
            "relay",
            None,
            "audit_chain_broken",
            Some(device_id),
            Some(what.to_owned()),
        )
    }

    /// A tablet's report: its figures replace the last ones; a renewal request (checked
    /// by the caller, [`crate::renewal::check_request`]) is kept unless IT holds the
    /// device's renewals or a bundle for the same key already waits.
    pub fn report(
        &self,
        id: &DeviceIdentity,
        mut report: DeviceReport,
        request: Option<Renewal>,
    ) -> Result<RenewalState, StoreError> {
        let now = self.clock.now();
        report.renewal_csr = None;
        let mut state = RenewalState::None;
        let mut known = false;
        self.store
            .update_device(id.device_id.as_str(), &mut |cur| {
                let mut r = cur?;
                known = true;
                state = r.renewal_state();
                // A tablet reports every few minutes; the same figures again within a
                // minute (a retry, a loop) are not written again. A flood of differing
                // reports is bounded like any request (admission and byte budget).
                if request.is_none()
                    && r.report.as_ref() == Some(&report)
                    && r.report_at
                        .is_some_and(|t| now < t.saturating_add(REPORT_WRITE_EVERY_SECS))
                {
                    return None;
                }
                r.report = Some(report.clone());
                r.report_at = Some(now);
                if let Some(req) = &request {
                    let same_key_waiting = r.renewal.as_ref().is_some_and(|n| {
                        n.spki_sha256_hex == req.spki_sha256_hex
                            && (n.issued.is_some() || n.csr_pem == req.csr_pem)
                    });
                    if r.renewal_hold.is_none() && !same_key_waiting {
                        r.renewal = Some(req.clone());
                    }
                }
                state = r.renewal_state();
                Some(r)
            })?;
        if !known {
            return Err(StoreError::Backend("report for an unknown device".into()));
        }
        Ok(state)
    }

    /// Stores the bundle IT's signer made for a device's renewal (checked by `check`,
    /// which sees the waiting request), wakes the tablet's long-poll, and audits it.
    pub fn issue_bundle(
        &self,
        who: &AdminIdentity,
        device_id: &DeviceId,
        check: &dyn Fn(&Renewal) -> Result<IssuedBundle, crate::renewal::Refused>,
    ) -> Result<Result<u64, crate::renewal::Refused>, StoreError> {
        let mut outcome: Result<u64, crate::renewal::Refused> =
            Err(("no_renewal", "this device has asked for no renewal".into()));
        let written = self.store.update_device(device_id.as_str(), &mut |cur| {
            let mut r = cur?;
            if r.renewal_hold.is_some() {
                outcome = Err(("renewal_held", "IT holds this device's renewals".into()));
                return None;
            }
            let n = r.renewal.as_mut()?;
            match check(n) {
                Ok(b) => {
                    outcome = Ok(b.not_after);
                    n.issued = Some(b);
                    r.version += 1;
                    Some(r)
                }
                Err(e) => {
                    outcome = Err(e);
                    None
                }
            }
        })?;
        if let Some(r) = &written {
            self.notify(r);
        }
        let detail = match &outcome {
            Ok(t) => format!("certificate until {t}"),
            Err((code, m)) => format!("{code}: {m}"),
        };
        let action = if outcome.is_ok() {
            "renewal issued"
        } else {
            "renewal issued (refused)"
        };
        self.audit(who, action, Some(device_id.as_str()), Some(detail))?;
        Ok(outcome)
    }

    /// Stops (`hold`) or resumes a device's renewals; stopping drops a waiting request
    /// and any bundle not yet fetched. Audited.
    pub fn hold_renewals(
        &self,
        who: &AdminIdentity,
        device_id: &DeviceId,
        hold: bool,
        reason: Option<String>,
    ) -> Result<DeviceRecord, StoreError> {
        let now = self.clock.now();
        let rec = self.store.update_device(device_id.as_str(), &mut |cur| {
            let mut r = cur?;
            if hold {
                r.renewal_hold = Some(Hold {
                    at: now,
                    by: who.name.clone(),
                    reason: reason.clone(),
                });
                r.renewal = None;
            } else {
                r.renewal_hold = None;
            }
            Some(r)
        })?;
        let rec = rec.ok_or_else(|| StoreError::Backend("unknown device".into()))?;
        let action = if hold {
            "renewal hold"
        } else {
            "renewal resume"
        };
        self.audit(who, action, Some(device_id.as_str()), reason)?;
        Ok(rec)
    }

    /// The device confirms its wipe.
    pub fn confirm_wipe(&self, id: &DeviceIdentity) -> Result<DeviceRecord, RegistryError> {
        self.apply(id.device_id.as_str(), Action::ConfirmWipe, "device", false)
    }

    /// A receiver that sees the device's state version change.
    pub fn subscribe(&self, device_id: &str) -> watch::Receiver<u64> {
        let mut w = self.watchers.map.lock().unwrap_or_else(|p| p.into_inner());
        // Drop senders nobody listens to any more.
        if w.len() > 1024 {
            w.retain(|_, s| s.receiver_count() > 0);
        }
        w.entry(device_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    fn notify(&self, r: &DeviceRecord) {
        self.watchers.bump(&r.device_id, r.version);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{clock::ManualClock, store::SledStore};
    use DeviceState as S;

    #[test]
    fn state_machine() {
        assert_eq!(transition(S::Active, Action::Disable), Ok(S::Disabled));
        assert_eq!(transition(S::Disabled, Action::Enable), Ok(S::Active));
        assert_eq!(transition(S::Active, Action::Wipe), Ok(S::WipePending));
        assert_eq!(
            transition(S::WipePending, Action::ConfirmWipe),
            Ok(S::Wiped)
        );
        assert_eq!(transition(S::WipePending, Action::Enable), Ok(S::Active));
        assert!(transition(S::Wiped, Action::Enable).is_err());
        assert!(transition(S::Revoked, Action::Enable).is_err());
        assert!(transition(S::Wiped, Action::Disable).is_err());
        assert!(transition(S::WipePending, Action::Disable).is_err());
        assert!(transition(S::Active, Action::ConfirmWipe).is_err());
        assert_eq!(transition(S::Wiped, Action::Revoke), Ok(S::Revoked));
        assert_eq!(transition(S::Revoked, Action::Revoke), Ok(S::Revoked));
    }

    fn ident(dev: &str, serial: &str) -> DeviceIdentity {
        let (_d, k) = shinsei_protocol::keys::SigningKey::generate().unwrap();
        DeviceIdentity {
            not_after: 2_000_000_000,
            device_id: DeviceId::parse(dev).unwrap(),
            fingerprint: CertFingerprint {
                serial_hex: serial.into(),
                spki_sha256_hex: format!("{serial}ff"),
            },
            verifying_key: k.public_key(),
            ticket: false,
        }
    }

    fn officer(name: &str) -> AdminIdentity {
        AdminIdentity {
            name: name.into(),
            role: shinsei_protocol::x509::AdminRole::SecurityOfficer,
            fingerprint: CertFingerprint {
                serial_hex: "aa".into(),
                spki_sha256_hex: "bb".into(),
            },
        }
    }

    fn order(
        reg: &Registry,
        dev: &DeviceId,
        who: &str,
        action: AdminAction,
        now: u64,
    ) -> Result<OrderOutcome, OrderError> {
        reg.admin_order(
            dev,
            &officer(who),
            &Order {
                action,
                admin: who,
                now,
                reason: None,
                emergency: false,
                approval_secs: 900,
            },
        )
    }

    #[test]
    fn the_same_report_is_not_written_again_within_a_minute() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let clock = ManualClock::new(1000);
        let reg = Registry::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(DenyList::new()),
        );
        let id = ident("TAB-0001", "01");
        reg.contact(&id).unwrap();
        let report = |outbox| DeviceReport {
            agent_version: "0.1.0".into(),
            outbox_depth: outbox,
            ..DeviceReport::default()
        };
        let at = || store.device("TAB-0001").unwrap().unwrap().report_at;
        reg.report(&id, report(1), None).unwrap();
        assert_eq!(at(), Some(1000));
        clock.advance(10);
        reg.report(&id, report(1), None).unwrap();
        assert_eq!(at(), Some(1000), "the same figures again: no write");
        reg.report(&id, report(2), None).unwrap();
        assert_eq!(at(), Some(1010), "new figures: written");
        clock.advance(REPORT_WRITE_EVERY_SECS);
        reg.report(&id, report(2), None).unwrap();
        assert_eq!(
            at(),
            Some(1070),
            "a minute on: written again (the tablet is alive)"
        );
    }

    #[test]
    fn reads_are_audited_at_most_once_a_minute_per_admin() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let clock = ManualClock::new(1000);
        let reg = Registry::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(DenyList::new()),
        );
        for _ in 0..30 {
            reg.audit_read(&officer("alice"), "list_devices").unwrap();
            reg.audit_read(&officer("bob"), "list_devices").unwrap();
            clock.advance(1);
        }
        reg.audit_read(&officer("alice"), "read_audit").unwrap();
        clock.advance(READ_AUDIT_EVERY_SECS);
        reg.audit_read(&officer("alice"), "list_devices").unwrap();
        let seen: Vec<_> = store
            .admin_audit(100)
            .unwrap()
            .into_iter()
            .map(|e| (e.admin, e.action))
            .collect();
        let e = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            seen,
            vec![
                e("alice", "list_devices"),
                e("bob", "list_devices"),
                e("alice", "read_audit"),
                e("alice", "list_devices"),
            ]
        );
    }

    #[test]
    fn registry_flow_history_deny_and_notify() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let clock = ManualClock::new(1000);
        let deny = Arc::new(DenyList::new());
        let reg = Registry::new(store.clone(), Arc::new(clock.clone()), deny.clone());
        let id = ident("TAB-0001", "01");
        let r = reg.contact(&id).unwrap();
        assert_eq!((r.state, r.version), (S::Active, 1));
        let mut rx = reg.subscribe("TAB-0001");
        clock.advance(5);
        let dev = DeviceId::parse("TAB-0001").unwrap();
        let r = order(&reg, &dev, "alice", AdminAction::Disable, 1005).unwrap();
        assert_eq!((r.record().state, r.record().version), (S::Disabled, 2));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 2);
        // Repeat: no change, no notification, still audited.
        order(&reg, &dev, "alice", AdminAction::Disable, 1005).unwrap();
        assert!(!rx.has_changed().unwrap());
        // A wipe waits for a second officer: no change, no notification.
        let w = order(&reg, &dev, "alice", AdminAction::Wipe, 1006).unwrap();
        assert!(matches!(&w, OrderOutcome::Waiting { order, .. } if order.expires_at == 1906));
        assert_eq!(w.record().state, S::Disabled);
        assert!(!rx.has_changed().unwrap());
        let again = order(&reg, &dev, "alice", AdminAction::Wipe, 1007).unwrap_err();
        assert_eq!(again.code(), "awaiting_second_officer");
        let done = order(&reg, &dev, "bob", AdminAction::Wipe, 1008).unwrap();
        assert!(matches!(&done, OrderOutcome::Done { first: Some(f), .. } if f == "alice"));
        assert_eq!(done.record().state, S::WipePending);
        assert!(done.record().pending.is_none());
        assert!(rx.has_changed().unwrap());
        assert!(!deny.is_denied(&id.fingerprint, "TAB-0001"));
        let r = reg.confirm_wipe(&id).unwrap();
        assert_eq!(r.state, S::Wiped);
        assert!(deny.is_denied(&id.fingerprint, "TAB-0001"));
        assert!(order(&reg, &dev, "bob", AdminAction::Enable, 1009).is_err());
        let audit = store.admin_audit(100).unwrap();
        let seen: Vec<_> = audit
            .iter()
            .map(|e| (e.admin.as_str(), e.action.as_str(), e.detail.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("alice", "disable", None),
                ("alice", "disable", None),
                (
                    "alice",
                    "wipe requested",
                    Some("awaiting a second security officer until 1906")
                ),
                ("alice", "wipe (refused)", Some("awaiting_second_officer")),
                ("bob", "wipe approved", Some("requested by alice")),
                ("bob", "enable (refused)", Some("invalid_transition")),
            ]
        );
        assert_eq!(audit[0].role.as_deref(), Some("security-officer"));
        let hist: Vec<_> = r.history.iter().map(|h| (h.state, h.by.as_str())).collect();
        assert_eq!(
            hist,
            vec![
                (S::Active, "relay"),
                (S::Disabled, "admin:alice"),
                (S::WipePending, "admin:bob"),
                (S::Wiped, "device"),
            ]
        );
        // The deny list survives a restart.
        let deny2 = Arc::new(DenyList::new());
        let reg2 = Registry::new(store, Arc::new(clock), deny2.clone());
        reg2.load_deny_list().unwrap();
        assert!(deny2.is_denied(&id.fingerprint, "TAB-0001"));
    }
}
