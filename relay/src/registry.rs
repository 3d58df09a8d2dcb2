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
    clock::Clock,
    deny::DenyList,
    device::{AuditAlert, AuditHead},
    identity::{CertFingerprint, DeviceIdentity},
    store::{AdminAuditEntry, ChangeSink, DenyEntry, Store, StoreError},
};

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

/// The registry. State changes are read-modify-written atomically by the store (safe
/// with several relay nodes on one database) and stored durably before watchers are
/// told; changes made through other nodes reach the watchers through
/// [`Store::watch_changes`].
pub struct Registry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    deny: Arc<DenyList>,
    watchers: Arc<Watchers>,
}

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
        if let Some(r) = self.store.device(dev)? {
            if r.certs.contains(&id.fingerprint) {
                if r.state.is_denied() {
                    self.deny_cert(dev, &id.fingerprint)?;
                }
                return Ok(r);
            }
        }
        let now = self.clock.now();
        let mut created = false;
        let mut unchanged = None;
        let written = self.store.update_device(dev, &mut |cur| {
            created = cur.is_none();
            unchanged = None;
            let mut r = match cur {
                Some(r) => r,
                None => DeviceRecord::new(dev, now, "relay"),
            };
            if r.certs.contains(&id.fingerprint) {
                unchanged = Some(r);
                return None;
            }
            r.certs.push(id.fingerprint.clone());
            if r.certs.len() > MAX_CERTS {
                r.certs.remove(0);
            }
            Some(r)
        })?;
        let r = written
            .or(unchanged)
            .ok_or_else(|| StoreError::Backend("device update wrote nothing".into()))?;
        if created {
            tracing::info!(device_id = %dev, "device registered on first contact");
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

    /// An admin action; recorded in the admin audit log whether it succeeds or not. An
    /// unknown device is registered first (a tablet can be disabled before it ever
    /// connected).
    pub fn admin_action(
        &self,
        device_id: &DeviceId,
        action: Action,
        admin: &str,
    ) -> Result<DeviceRecord, RegistryError> {
        let r = self.apply(device_id.as_str(), action, &format!("admin:{admin}"), true);
        let outcome = match &r {
            Ok(_) => action.as_str().to_owned(),
            Err(_) => format!("{} (refused)", action.as_str()),
        };
        self.audit(admin, &outcome, Some(device_id.as_str()))?;
        r
    }

    /// Appends an entry to the admin audit log.
    pub fn audit(
        &self,
        admin: &str,
        action: &str,
        device_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store.append_admin_audit(&AdminAuditEntry {
            at: self.clock.now(),
            admin: admin.to_owned(),
            action: action.to_owned(),
            device_id: device_id.map(str::to_owned),
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
        self.audit("relay", "audit_chain_broken", Some(device_id))
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
            device_id: DeviceId::parse(dev).unwrap(),
            fingerprint: CertFingerprint {
                serial_hex: serial.into(),
                spki_sha256_hex: format!("{serial}ff"),
            },
            verifying_key: k.public_key(),
        }
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
        let r = reg.admin_action(&dev, Action::Disable, "alice").unwrap();
        assert_eq!((r.state, r.version), (S::Disabled, 2));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 2);
        // Repeat: no change, no notification, still audited.
        reg.admin_action(&dev, Action::Disable, "alice").unwrap();
        assert!(!rx.has_changed().unwrap());
        reg.admin_action(&dev, Action::Wipe, "alice").unwrap();
        assert!(!deny.is_denied(&id.fingerprint, "TAB-0001"));
        let r = reg.confirm_wipe(&id).unwrap();
        assert_eq!(r.state, S::Wiped);
        assert!(deny.is_denied(&id.fingerprint, "TAB-0001"));
        assert!(reg.admin_action(&dev, Action::Enable, "bob").is_err());
        let audit = store.admin_audit(100).unwrap();
        assert_eq!(audit.len(), 4);
        assert_eq!(audit[3].action, "enable (refused)");
        assert_eq!(audit[3].admin, "bob");
        let hist: Vec<_> = r.history.iter().map(|h| (h.state, h.by.as_str())).collect();
        assert_eq!(
            hist,
            vec![
                (S::Active, "relay"),
                (S::Disabled, "admin:alice"),
                (S::WipePending, "admin:alice"),
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
