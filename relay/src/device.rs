//! The device model, free of I/O: a device's record (state, version, history,
//! certificates seen), the actions IT and devices can take, and the state machine
//! ([`transition`]). The registry (`registry.rs`) applies it through the store; the
//! stores persist [`DeviceRecord`]s. Its own module so that neither depends on the
//! other.

use serde::{Deserialize, Serialize};

use crate::identity::CertFingerprint;

/// Most history entries kept per device.
pub const MAX_HISTORY: usize = 100;
/// Most certificates remembered per device.
pub const MAX_CERTS: usize = 16;

/// A device's state (the wire type, shared with the agent and the provisioning tool).
pub use shinsei_protocol::api::DeviceState;
use shinsei_protocol::api::{
    AdminAction, CertificateView, DeviceReport, DeviceView, HistoryView, PendingOrder, RenewalState,
};

/// What can happen to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Disable,
    Enable,
    Wipe,
    Revoke,
    /// The device reports that it has wiped itself.
    ConfirmWipe,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Wipe => "wipe",
            Action::Revoke => "revoke",
            Action::ConfirmWipe => "wipe_confirm",
        }
    }
}

impl From<AdminAction> for Action {
    fn from(a: AdminAction) -> Self {
        match a {
            AdminAction::Disable => Action::Disable,
            AdminAction::Enable => Action::Enable,
            AdminAction::Wipe => Action::Wipe,
            AdminAction::Revoke => Action::Revoke,
        }
    }
}

/// A refused transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a device that is {from}")]
pub struct TransitionError {
    pub from: &'static str,
    pub action: &'static str,
}

/// The state machine. Repeating an action in its target state is allowed (no change).
pub fn transition(from: DeviceState, action: Action) -> Result<DeviceState, TransitionError> {
    use Action as A;
    use DeviceState as S;
    let to = match (from, action) {
        (S::Active | S::Disabled, A::Disable) => Some(S::Disabled),
        (S::Active | S::Disabled | S::WipePending, A::Enable) => Some(S::Active),
        (S::Active | S::Disabled | S::WipePending, A::Wipe) => Some(S::WipePending),
        (_, A::Revoke) => Some(S::Revoked),
        (S::WipePending | S::Wiped, A::ConfirmWipe) => Some(S::Wiped),
        _ => None,
    };
    to.ok_or(TransitionError {
        from: from.as_str(),
        action: action.as_str(),
    })
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: u64,
    pub state: DeviceState,
    /// `admin:NAME`, `device` or `relay`.
    pub by: String,
}

/// A device as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub device_id: String,
    pub state: DeviceState,
    /// Incremented on every state change (long-poll `since`).
    pub version: u64,
    pub updated_at: u64,
    pub history: Vec<HistoryEntry>,
    /// Certificates the device has connected with.
    #[serde(default)]
    pub certs: Vec<CertFingerprint>,
    /// The last entry of the device's operations log the relay holds: the anchor a
    /// tablet cannot move (see `crate::audit`).
    #[serde(default)]
    pub audit_head: Option<AuditHead>,
    /// Why the device's log was last refused as a gap or a fork (an alert for IT; cleared
    /// by nothing but IT's attention: it stays on the record).
    #[serde(default)]
    pub audit_alert: Option<AuditAlert>,
    /// The last time the device checked in (unix seconds; written at most once a
    /// minute, `crate::registry::SEEN_EVERY_SECS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// When the newest certificate the device has connected with expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires: Option<u64>,
    /// A wipe or revoke waiting for its second security officer (`crate::approval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingOrder>,
    /// The tablet's last report (figures only; its renewal request is kept in
    /// `renewal`, not here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<DeviceReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_at: Option<u64>,
    /// A certificate renewal the tablet asked for (`crate::renewal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Renewal>,
    /// IT stopped this device's renewals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_hold: Option<Hold>,
}

/// A renewal request and, once IT's signer answered, the signed bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    pub requested_at: u64,
    /// The request (PEM), for IT's signer.
    pub csr_pem: String,
    /// The key it is for (SHA-256 of the SPKI, hex): the key the tablet connected with.
    pub spki_sha256_hex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<IssuedBundle>,
}

/// A renewed device bundle waiting for its tablet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedBundle {
    pub at: u64,
    /// The admin (IT's signer) who posted it.
    pub by: String,
    /// The new certificate's end (unix seconds).
    pub not_after: u64,
    /// The signed bundle (base64): public certificates and keys only.
    pub bundle_b64: String,
}

/// IT's stop on a device's renewals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub at: u64,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The last log entry held, with the device's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: u64,
    /// Hex.
    pub hash: String,
    /// The device's ECDSA signature over the head (protocol `audit::SignedHead`), hex.
    pub sig: String,
    /// When the relay stored it.
    pub at: u64,
}

/// A refused upload that did not continue the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAlert {
    pub at: u64,
    /// What was wrong (no entry content).
    pub what: String,
}

impl DeviceRecord {
    pub(crate) fn new(device_id: &str, now: u64, by: &str) -> Self {
        Self {
            device_id: device_id.to_owned(),
            state: DeviceState::Active,
            version: 1,
            updated_at: now,
            history: vec![HistoryEntry {
                at: now,
                state: DeviceState::Active,
                by: by.to_owned(),
            }],
            certs: Vec::new(),
            audit_head: None,
            audit_alert: None,
            last_seen: None,
            cert_expires: None,
            pending: None,
            report: None,
            report_at: None,
            renewal: None,
            renewal_hold: None,
        }
    }

    /// Where this device's renewal stands.
    pub fn renewal_state(&self) -> RenewalState {
        match (&self.renewal_hold, &self.renewal) {
            (Some(_), _) => RenewalState::Held,
            (None, Some(r)) if r.issued.is_some() => RenewalState::Issued,
            (None, Some(_)) => RenewalState::Requested,
            (None, None) => RenewalState::None,
        }
    }

    /// The admin API's view of this record.
    pub fn view(&self) -> DeviceView {
        DeviceView {
            device_id: self.device_id.clone(),
            state: self.state,
            version: self.version,
            updated_at: self.updated_at,
            history: self
                .history
                .iter()
                .map(|h| HistoryView {
                    at: h.at,
                    state: h.state,
                    by: h.by.clone(),
                })
                .collect(),
            certificates: self
                .certs
                .iter()
                .map(|c| CertificateView {
                    serial: c.serial_hex.clone(),
                    spki_sha256: c.spki_sha256_hex.clone(),
                })
                .collect(),
            pending: self.pending.clone(),
            last_seen: self.last_seen,
            cert_expires: self.cert_expires,
            report: self.report.clone(),
            report_at: self.report_at,
            renewal: self.renewal_state(),
        }
    }

    pub(crate) fn set_state(&mut self, to: DeviceState, now: u64, by: &str) -> bool {
        if self.state == to {
            return false;
        }
        self.state = to;
        self.version += 1;
        self.updated_at = now;
        self.history.push(HistoryEntry {
            at: now,
            state: to,
            by: by.to_owned(),
        });
        if self.history.len() > MAX_HISTORY {
            let extra = self.history.len() - MAX_HISTORY;
            self.history.drain(..extra);
        }
        true
    }
}
