//! The relay's device and admin APIs as types: paths, the device states, the admin
//! actions, every answer body and the error body. The relay builds its answers from
//! these and the agent and the provisioning tool read them with these, so a state, an
//! action or a field has one spelling.
//!
//! Wire form (JSON): states are `"active"`, `"disabled"`, `"wipe_pending"`, `"wiped"`,
//! `"revoked"`; see `relay/README.md` for every endpoint.

use serde::{Deserialize, Serialize};

/// `POST`: an envelope (body: envelope bytes) → receipt bytes.
pub const PATH_ENVELOPES: &str = "/v1/envelopes";
/// `GET ?since=VERSION&wait=SECS` → [`StatusResponse`].
pub const PATH_STATUS: &str = "/v1/status";
/// `POST` → `{"state":"wiped"}`.
pub const PATH_WIPE_CONFIRM: &str = "/v1/wipe-confirm";
/// `POST` the device's audit entries.
pub const PATH_AUDIT: &str = "/v1/audit";
/// `GET` → the signed relay key schedule ([`crate::relay_keys`]).
pub const PATH_RELAY_KEYS: &str = "/v1/relay-keys";
/// `POST` a [`DeviceReport`] (JSON) → [`ReportAck`]: the tablet's own figures for IT,
/// and its certificate renewal request.
pub const PATH_REPORT: &str = "/v1/report";
/// `GET` → the signed staff list the relay holds (a [`crate::staff::StaffList`]
/// document), `404` when it holds none.
pub const PATH_STAFF_LIST: &str = "/v1/staff-list";
/// Admin listener, `POST` (operator) a signed staff list → [`StaffListView`]; `GET` →
/// [`StaffListView`] of the list held.
pub const PATH_ADMIN_STAFF_LIST: &str = "/admin/v1/staff-list";
/// `GET` → the renewed device bundle IT signed (bytes of a signed
/// [`crate::bundle::DeviceBundle`]), `404` when there is none.
pub const PATH_BUNDLE: &str = "/v1/bundle";

/// Admin listener, `GET` → [`DeviceList`].
pub const PATH_ADMIN_DEVICES: &str = "/admin/v1/devices";
/// Admin listener, `GET ?limit=N` → [`AdminAuditLog`].
pub const PATH_ADMIN_AUDIT: &str = "/admin/v1/audit";
/// Admin listener, `GET` → [`RenewalList`]: every device whose certificate renewal
/// waits for IT's policy signer, or is held.
pub const PATH_ADMIN_RENEWALS: &str = "/admin/v1/renewals";
/// Admin listener, `GET` → Prometheus text.
pub const PATH_METRICS: &str = "/metrics";

/// Admin listener, `POST` (security officer) → [`ActionResult`]: the path that revokes
/// every certificate of administrator `name` ([`admin_revoke_path`]).
pub const PATH_ADMIN_ADMINS: &str = "/admin/v1/admins";

/// The path that revokes administrator `name` (two officers, like a wipe).
pub fn admin_revoke_path(name: &str) -> String {
    format!("{PATH_ADMIN_ADMINS}/{name}/revoke")
}

/// Admin listener, `POST` → [`ActionResult`]: the path of `action` on `device_id`.
/// Optional JSON body [`ActionRequest`]; `200` when the order took effect, `202` when
/// it waits for a second security officer ([`ActionResult::pending`]).
pub fn admin_action_path(device_id: &str, action: AdminAction) -> String {
    format!("{PATH_ADMIN_DEVICES}/{device_id}/{}", action.as_str())
}

/// A device's state at the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// May submit.
    #[default]
    Active,
    /// Locked by IT; may check in and ship its audit log.
    Disabled,
    /// Must wipe itself and confirm.
    WipePending,
    /// Wiped (confirmed); refused at the TLS layer.
    Wiped,
    /// Revoked; refused at the TLS layer.
    Revoked,
}

impl DeviceState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Active => "active",
            DeviceState::Disabled => "disabled",
            DeviceState::WipePending => "wipe_pending",
            DeviceState::Wiped => "wiped",
            DeviceState::Revoked => "revoked",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => DeviceState::Active,
            "disabled" => DeviceState::Disabled,
            "wipe_pending" => DeviceState::WipePending,
            "wiped" => DeviceState::Wiped,
            "revoked" => DeviceState::Revoked,
            _ => return None,
        })
    }

    /// Wiped and revoked devices are refused at the TLS layer.
    pub fn is_denied(self) -> bool {
        matches!(self, DeviceState::Wiped | DeviceState::Revoked)
    }

    /// The device must wipe itself (a wipe was ordered or confirmed).
    pub fn must_wipe(self) -> bool {
        matches!(self, DeviceState::WipePending | DeviceState::Wiped)
    }
}

impl std::fmt::Display for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/status` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub device_id: String,
    pub state: DeviceState,
    /// Increases with every change of the device's record.
    pub version: u64,
    /// The relay's clock (unix seconds).
    pub server_time: u64,
    /// A renewed device bundle waits at [`PATH_BUNDLE`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bundle_ready: bool,
    /// The sequence of the staff list at [`PATH_STAFF_LIST`] (a tablet with an older one
    /// fetches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_list: Option<u64>,
}

/// A staff list as the admin API shows it (never a hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffListView {
    pub sequence: u64,
    pub issued_at: u64,
    pub expires_at: u64,
    /// Accounts on it (enabled and disabled).
    pub accounts: usize,
}

/// Longest agent version string in a [`DeviceReport`].
pub const MAX_AGENT_VERSION_LEN: usize = 32;
/// Most days of counts in a [`DeviceReport`].
pub const MAX_REPORT_DAYS: usize = 14;
/// Longest renewal CSR (PEM) in a [`DeviceReport`].
pub const MAX_CSR_LEN: usize = 2048;

/// What a tablet tells IT about itself at check-in (`POST /v1/report`): figures, never
/// applicant data. The relay keeps the latest one on the device record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    /// The agent's version (at most [`MAX_AGENT_VERSION_LEN`] bytes).
    pub agent_version: String,
    /// Applications waiting in the outbox.
    pub outbox_depth: u32,
    /// When the tablet will lock and wipe itself if it cannot check in (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_deadline: Option<u64>,
    /// Applications delivered per day (UTC day number = unix seconds / 86 400), newest
    /// last, at most [`MAX_REPORT_DAYS`].
    #[serde(default)]
    pub sent_per_day: Vec<DayCount>,
    /// A PKCS#10 request (PEM) for a new certificate for the tablet's current key, when
    /// its certificate nears its end. Signed by that key: possession proven twice, by
    /// the TLS handshake and by the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_csr: Option<String>,
}

impl DeviceReport {
    /// Checks the sizes (the relay refuses a report that fails this).
    pub fn check(&self) -> Result<(), &'static str> {
        if self.agent_version.len() > MAX_AGENT_VERSION_LEN
            || !self
                .agent_version
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err("agent_version");
        }
        if self.sent_per_day.len() > MAX_REPORT_DAYS {
            return Err("sent_per_day");
        }
        if self
            .renewal_csr
            .as_ref()
            .is_some_and(|c| c.len() > MAX_CSR_LEN)
        {
            return Err("renewal_csr");
        }
        Ok(())
    }
}

/// Applications delivered on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayCount {
    /// UTC day number (unix seconds / 86 400).
    pub day: u64,
    pub count: u32,
}

/// Answer to a [`DeviceReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    /// Where the tablet's certificate renewal stands.
    pub renewal: RenewalState,
}

/// Where a device's certificate renewal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RenewalState {
    /// Nothing asked.
    #[default]
    None,
    /// Asked; IT's policy signer has not answered yet.
    Requested,
    /// IT signed a new bundle; it waits at [`PATH_BUNDLE`].
    Issued,
    /// IT stopped renewals for this device.
    Held,
}

impl RenewalState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RenewalState::None => "none",
            RenewalState::Requested => "requested",
            RenewalState::Issued => "issued",
            RenewalState::Held => "held",
        }
    }
}

/// A device's renewal as IT's signer sees it (`GET /admin/v1/renewals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalView {
    pub device_id: String,
    pub device_state: DeviceState,
    pub state: RenewalState,
    /// Unix seconds the tablet asked.
    pub requested_at: u64,
    /// The request (PEM); IT's signer checks it against the key it certified before.
    pub csr_pem: String,
    /// When the certificate the tablet connects with now expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires: Option<u64>,
}

/// `GET /admin/v1/renewals` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalList {
    pub renewals: Vec<RenewalView>,
}

/// Admin listener, `POST` (operator) the signed device bundle for `device_id`'s
/// renewal; the relay checks it names that device and its current key.
pub fn admin_bundle_path(device_id: &str) -> String {
    format!("{PATH_ADMIN_DEVICES}/{device_id}/bundle")
}

/// Admin listener, `POST` [`RenewalHold`] (operator): stop or resume a device's
/// renewals.
pub fn admin_renewal_hold_path(device_id: &str) -> String {
    format!("{PATH_ADMIN_DEVICES}/{device_id}/renewal-hold")
}

/// Body of a renewal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalHold {
    pub hold: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What IT can order for a device (the last path segment of an admin action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// Lock the tablet (it keeps checking in).
    Disable,
    /// Unlock it, or call off a pending wipe.
    Enable,
    /// Order it to wipe itself.
    Wipe,
    /// Refuse its certificates for good.
    Revoke,
}

impl AdminAction {
    /// Every action, in the order IT sees them.
    pub const ALL: [AdminAction; 4] = [
        AdminAction::Disable,
        AdminAction::Enable,
        AdminAction::Wipe,
        AdminAction::Revoke,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Disable => "disable",
            AdminAction::Enable => "enable",
            AdminAction::Wipe => "wipe",
            AdminAction::Revoke => "revoke",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for AdminAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /v1/wipe-confirm` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeConfirmed {
    pub state: DeviceState,
}

/// `POST /v1/audit` answer: the last entry of the device's log the relay holds (its
/// anchor) and that entry's hash (hex); the tablet prunes through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAck {
    pub acked_through: Option<u64>,
    #[serde(default)]
    pub head_hash: Option<String>,
}

/// One change of a device's state, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub at: u64,
    pub state: DeviceState,
    /// `admin:NAME`, `device` or `relay`.
    #[serde(default)]
    pub by: String,
}

/// A certificate a device has connected with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex.
    pub spki_sha256: String,
}

/// A device as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub device_id: String,
    pub state: DeviceState,
    #[serde(default)]
    pub version: u64,
    /// Unix seconds of the last change.
    pub updated_at: u64,
    #[serde(default)]
    pub history: Vec<HistoryView>,
    #[serde(default)]
    pub certificates: Vec<CertificateView>,
    /// A wipe or revoke waiting for its second security officer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingOrder>,
    /// The last check-in (unix seconds; at most a minute old while it checks in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// When the newest certificate it has connected with expires (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires: Option<u64>,
    /// The tablet's last report (figures only), and when it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<DeviceReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_at: Option<u64>,
    /// Where its certificate renewal stands.
    #[serde(default)]
    pub renewal: RenewalState,
}

/// `GET /admin/v1/devices` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// The optional body of an admin action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why (kept in the admin audit log; at most [`MAX_REASON_LEN`] bytes, no applicant
    /// data).
    #[serde(default)]
    pub reason: Option<String>,
    /// A wipe by one security officer, without a second one: for a single lost tablet
    /// that cannot wait. Needs a reason; loudly audited; at most one per officer a day.
    #[serde(default)]
    pub emergency: bool,
}

/// Longest reason accepted in an [`ActionRequest`].
pub const MAX_REASON_LEN: usize = 500;

/// An order that waits for a second security officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub action: AdminAction,
    /// The officer who asked.
    pub requested_by: String,
    /// Unix seconds.
    pub requested_at: u64,
    /// After this (unix seconds) the order is void; it is never carried out late.
    pub expires_at: u64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Answer to an admin action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub device_id: String,
    pub state: DeviceState,
    /// Set when the order waits for a second security officer (status `202`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingOrder>,
}

/// Admin listener, `GET [?limit=N]` → [`DeviceAuditView`]: a device's operations log as
/// the relay holds it.
pub fn admin_device_audit_path(device_id: &str) -> String {
    format!("{PATH_ADMIN_DEVICES}/{device_id}/audit")
}

/// A device's operations log at the relay, with the relay's verdict on its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuditView {
    pub device_id: String,
    /// Oldest first (entries past the retention are gone from the front); the newest
    /// `?limit=N` (default 1000) of them.
    pub entries: Vec<crate::audit::Entry>,
    /// How many entries the relay holds (the chain verdict covers them all).
    #[serde(default)]
    pub total: usize,
    /// Whether the held entries chain to each other and end at the head the device
    /// signed.
    pub chain_ok: bool,
    /// The verdict in words: `intact through N (signed head)`, `empty`, or what is wrong.
    pub chain: String,
    /// The last upload refused as a gap or a fork (for IT's attention), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
}

/// Answer to `POST /admin/v1/admins/NAME/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRevoked {
    /// The administrator whose every certificate is now refused.
    pub revoked: String,
}

/// One entry of the relay's admin audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAuditEntry {
    /// Unix seconds.
    pub at: u64,
    /// The admin certificate's name.
    pub admin: String,
    /// `list_devices`, `read_audit`, an [`AdminAction`], `wipe requested`, `wipe
    /// approved`, `wipe EMERGENCY`, `revoke_admin`, or any of them with ` (refused)`.
    pub action: String,
    #[serde(default)]
    pub device_id: Option<String>,
    /// The certificate's role (absent in entries written before roles existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Why: the refusal's code, the reason given, who asked first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /admin/v1/audit` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAuditLog {
    pub entries: Vec<AdminAuditEntry>,
}

/// Every refusal: `{"error":"code","message":"text"}` (never applicant data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_have_one_spelling() {
        for s in [
            DeviceState::Active,
            DeviceState::Disabled,
            DeviceState::WipePending,
            DeviceState::Wiped,
            DeviceState::Revoked,
        ] {
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(DeviceState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::from_str::<DeviceState>(&json).ok(), Some(s));
        }
        assert!(serde_json::from_str::<DeviceState>("\"lost\"").is_err());
        let st: StatusResponse = serde_json::from_str(
            r#"{"device_id":"TAB-0001","state":"wipe_pending","version":3,"server_time":9}"#,
        )
        .unwrap_or_else(|_| StatusResponse {
            device_id: String::new(),
            state: DeviceState::Active,
            version: 0,
            server_time: 0,
            bundle_ready: false,
            staff_list: None,
        });
        assert_eq!(st.state, DeviceState::WipePending);
        assert!(st.state.must_wipe() && !st.state.is_denied());
    }

    #[test]
    fn the_readmes_device_report_reads_and_keeps_its_bounds() {
        let r: DeviceReport = serde_json::from_str(
            r#"{"agent_version":"0.1.0","outbox_depth":2,"lease_deadline":1800604800,
                "sent_per_day":[{"day":20836,"count":17},{"day":20837,"count":4}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(r.outbox_depth, 2);
        assert_eq!(r.sent_per_day.iter().map(|d| d.count).sum::<u32>(), 21);
        assert_eq!(r.check(), Ok(()));
        let mut long = r.clone();
        long.agent_version = "x".repeat(MAX_AGENT_VERSION_LEN + 1);
        assert_eq!(long.check(), Err("agent_version"));
        let mut ctl = r.clone();
        ctl.agent_version = "0.1\n".into();
        assert_eq!(ctl.check(), Err("agent_version"));
        let mut days = r.clone();
        days.sent_per_day = vec![DayCount { day: 1, count: 1 }; MAX_REPORT_DAYS + 1];
        assert_eq!(days.check(), Err("sent_per_day"));
        let mut csr = r;
        csr.renewal_csr = Some("x".repeat(MAX_CSR_LEN + 1));
        assert_eq!(csr.check(), Err("renewal_csr"));
        // Unknown fields are refused (a field with applicant data cannot slip in).
        assert!(serde_json::from_str::<DeviceReport>(
            r#"{"agent_version":"1","outbox_depth":0,"name":"x"}"#
        )
        .is_err());
    }

    #[test]
    fn actions_have_one_spelling() {
        for a in AdminAction::ALL {
            assert_eq!(AdminAction::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        assert_eq!(AdminAction::parse("wipe_confirm"), None);
        assert_eq!(
            admin_action_path("TAB-0001", AdminAction::Wipe),
            "/admin/v1/devices/TAB-0001/wipe"
        );
    }
}
